"""Shared fixtures: the real config, shrunk; real DVC workspaces in temporary folders."""

import subprocess
from pathlib import Path

import pytest
import yaml

from speech_mnist.config import compose_yaml
from speech_mnist.workspace import make_workspace, stage_command, venv_env

REPO = Path(__file__).resolve().parents[1]
SHARED_CORPORA = (REPO / ".." / "shared" / "corpora").resolve()

# Small enough to run every stage in seconds: 4 voices, 1-2 takes, 2 epochs.
TINY = [
    "corpus.voices.count=4",
    "corpus.vocabs.num.takes=1",
    "corpus.vocabs.animals.takes=2",
    "train.epochs=2",
    "train.augment.copies=0",
    "transfer.curve_repeats=2",
    "transfer.curve_shots=[1,2]",
    "transfer.shots=2",
]


def compose(overrides=()) -> dict:
    return yaml.safe_load(compose_yaml(list(overrides), REPO / "conf"))


def run(cmd: list[str], cwd: Path, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, cwd=cwd, env=kwargs.pop("env", venv_env()), capture_output=True, text=True, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
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
