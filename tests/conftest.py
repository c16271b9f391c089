"""Shared fixtures: the real config, shrunk; real DVC workspaces in temporary folders."""

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from speech_mnist.config import compose_params

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))  # the workspace harness lives beside the benchmarks
from workspace import make_workspace, stage_command, venv_env  # noqa: E402

SHARED_CORPORA = (REPO / ".." / "shared" / "corpora").resolve()

# Small enough to run every stage in seconds: 4 voices, 1-2 takes, one network of 2 epochs.
TINY = [
    "corpus.voices.count=4",
    "corpus.vocabs.num.takes=1",
    "corpus.vocabs.animals.takes=2",
    "train.epochs=2",
    "train.members=1",
    "train.augment.copies=0",
    "transfer.curve_repeats=2",
    "transfer.curve_shots=[1,2]",
    "transfer.shots=2",
]


def whole(array) -> np.ndarray:
    """An array of models.outputs as it is, a files.Streamed one made whole (its chunks joined)."""
    from speech_mnist.files import Streamed

    if not isinstance(array, Streamed):
        return array
    return np.concatenate([np.zeros((0, *array.shape[1:]), array.dtype), *array.chunks])


def compose(overrides=()) -> dict:
    return compose_params(list(overrides), REPO / "conf")


def run(cmd: list[str], cwd: Path, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, cwd=cwd, env=kwargs.pop("env", venv_env()), capture_output=True, text=True, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, cmd))} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def make_dvc_workspace(root: Path, overrides=()) -> Path:
    return make_workspace(root, overrides, dvc=True)


def run_stage(workspace: Path, stage: str) -> subprocess.CompletedProcess:
    return run(stage_command(stage), cwd=workspace)


@pytest.fixture
def workspace(tmp_path) -> Path:
    return make_workspace(tmp_path / "ws", TINY)


@pytest.fixture
def shared_corpora() -> Path:
    if not (SHARED_CORPORA / "fsdd" / "recordings").is_dir():
        pytest.skip(f"real corpora not found at {SHARED_CORPORA}")
    return SHARED_CORPORA


def dvc(ws, *args, **kwargs):
    return run([sys.executable, "-m", "dvc", *args], cwd=ws, **kwargs)


def git(ws, *args):
    return run(["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid", *args], cwd=ws)


def make_git_dvc_repo(root: Path) -> Path:
    """A git + DVC repository of the tiny pipeline, its code committed first, then its run."""
    from omegaconf import OmegaConf

    ws = make_dvc_workspace(root, TINY)
    shutil.rmtree(ws / ".dvc")
    # `dvc exp run` composes conf/ afresh: the tiny sizes must live in conf/ itself
    with (ws / "conf/config.yaml").open("a") as config:
        config.write(OmegaConf.to_yaml(OmegaConf.from_dotlist(TINY)))
    git(ws, "init", "-q", "-b", "main")
    dvc(ws, "init", "-q")
    dvc(ws, "config", "hydra.enabled", "true")
    (ws / ".gitignore").write_text("mlflow.db\nmlflow.db.lock\nmlartifacts/\n")
    git(ws, "add", "-A")
    git(ws, "commit", "-qm", "code")
    dvc(ws, "repro")
    git(ws, "add", "-A")
    git(ws, "commit", "-qm", "pipeline")
    return ws


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def server(command: list[str], ready_url: str, timeout: float = 90, **popen):
    """Start a server process, wait until `ready_url` answers, stop it and all it started afterwards
    (`mlflow server` leaves its uvicorn worker running when it alone is stopped)."""
    import tempfile

    from speech_mnist.cli import stop_process_group

    with tempfile.TemporaryFile() as errors:  # a file, not a pipe: nobody reads it while the server runs
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors, start_new_session=True, **popen)
        try:
            deadline = time.time() + timeout
            while True:
                try:
                    urllib.request.urlopen(ready_url, timeout=2)
                    break
                except OSError:
                    if process.poll() is not None or time.time() > deadline:
                        errors.seek(0)
                        raise RuntimeError(f"{command[0]} did not start: {errors.read().decode()[-2000:]}")
                    time.sleep(0.5)
            yield process
        finally:
            stop_process_group(process)
