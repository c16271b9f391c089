"""Per-file stages on one core and on two: the same bytes."""

import hashlib
import os
import subprocess

import pytest

from conftest import TINY, make_workspace, stage_command, venv_env
from speech_mnist.errors import UserError
from speech_mnist.workers import WORKERS_VARIABLE, in_order, streamed, worker_count


def folder_digest(folder) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.md5(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def run_with_workers(ws, stage: str, workers: int) -> None:
    subprocess.run(stage_command(stage), cwd=ws, env={**venv_env(), WORKERS_VARIABLE: str(workers)},
                   check=True, capture_output=True)


def test_segment_writes_the_same_bytes_with_one_worker_and_with_two(tmp_path):
    ws = make_workspace(tmp_path / "ws", TINY)
    run_with_workers(ws, "synthesize", 1)
    outputs = []
    for workers in (1, 2):
        run_with_workers(ws, "segment", workers)
        outputs.append((folder_digest(ws / "data" / "words"), (ws / "metrics" / "segment.json").read_bytes()))
    assert len(outputs[0][0]) > 20  # the words, the manifest and the rejects report
    assert outputs[0] == outputs[1]


def test_synthesize_writes_the_same_bytes_with_one_worker_and_with_two(tmp_path):
    """eSpeak says every word in the main process, in order; workers only mix and write."""
    ws = make_workspace(tmp_path / "ws", TINY)
    outputs = []
    for workers in (1, 2):
        run_with_workers(ws, "synthesize", workers)
        outputs.append(folder_digest(ws / "data" / "recordings"))
    assert len(outputs[0]) > 5  # the recordings and boundaries.csv
    assert outputs[0] == outputs[1]

def square(n: int) -> int:
    return n * n


def test_work_comes_back_in_the_order_it_was_given():
    assert list(in_order(square, range(50), workers=2)) == [n * n for n in range(50)]
    assert list(in_order(square, [], workers=2)) == []


def test_streamed_work_comes_back_in_order_and_takes_items_only_as_it_needs_them():
    taken = []

    def items():
        for n in range(40):
            taken.append(n)
            yield n

    results = streamed(square, items(), workers=2, ahead=2)
    first = next(results)
    assert first == 0 and len(taken) <= 2 * 2 + 1  # not every item made before the first result
    assert [first, *results] == [n * n for n in range(40)]
    assert list(streamed(square, [], workers=2)) == list(streamed(square, [], workers=1)) == []

def pid_of(item) -> int:
    return os.getpid()


def test_streamed_work_with_one_worker_is_done_in_another_process_and_with_none_in_this_one():
    pids = set(streamed(pid_of, range(6), workers=1, start="forkserver"))
    assert len(pids) == 1 and os.getpid() not in pids
    assert set(streamed(pid_of, range(3), workers=0)) == {os.getpid()}


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_a_wrong_worker_count_is_one_clear_error(value, monkeypatch):
    monkeypatch.setenv(WORKERS_VARIABLE, value)
    with pytest.raises(UserError, match=WORKERS_VARIABLE):
        worker_count()


def test_workers_default_to_every_core(monkeypatch):
    monkeypatch.delenv(WORKERS_VARIABLE, raising=False)
    assert worker_count() >= 1
    monkeypatch.setenv(WORKERS_VARIABLE, "3")
    assert worker_count() == 3
