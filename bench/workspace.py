"""Throw-away copies of the pipeline, for benchmarks and tests that run stages on other params.

Harness, not product: benchmarks import it from here, tests through conftest.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from speech_mnist.config import compose_yaml

REPO = Path(__file__).resolve().parents[1]


def venv_env() -> dict:
    """An environment whose `python` and `dvc` are this interpreter's, outside any DVC run."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("DVC_ROOT", None)
    return env


def make_workspace(root: Path, overrides=(), dvc: bool = False) -> Path:
    """A copy of the pipeline's code and config (not its data) with params.yaml composed from
    `overrides`; with dvc=True, also a DVC repository (without git)."""
    root = Path(root)
    for folder in ("stages", "speech_mnist", "conf"):
        shutil.copytree(REPO / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "dvc.yaml", root / "dvc.yaml")
    (root / "data" / "raw").mkdir(parents=True)
    shutil.copy(REPO / "data" / "raw" / "README.md", root / "data" / "raw" / "README.md")  # keeps it in git
    (root / "params.yaml").write_text(compose_yaml(list(overrides), root / "conf"))
    if dvc:
        subprocess.run([sys.executable, "-m", "dvc", "init", "--no-scm", "-q"], cwd=root, env=venv_env(), check=True)
    return root


def refresh_workspace(root: Path) -> Path:
    """An existing workspace with this checkout's code and config, its data and DVC cache kept:
    the next repro reruns only the stages whose code or params changed (for trying one change)."""
    for folder in ("stages", "speech_mnist", "conf"):
        shutil.rmtree(root / folder)
        shutil.copytree(REPO / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "dvc.yaml", root / "dvc.yaml")
    return root


def stage_command(stage: str) -> list[str]:
    """stages/<stage>.py as dvc.yaml runs it: as a module, so it imports the package beside it."""
    return [sys.executable, "-m", f"stages.{stage}"]


def run_stage(workspace: Path, stage: str, quiet: bool = True) -> subprocess.CompletedProcess:
    """Run a stage in the workspace; CalledProcessError (with its output) if it fails."""
    return subprocess.run(stage_command(stage), cwd=workspace, env=venv_env(), check=True,
                          capture_output=quiet, text=True)


def repro(workspace: Path, overrides=()) -> float:
    """Compose the workspace's params.yaml with `overrides` and `dvc repro` it; returns the seconds
    it took. SystemExit with the end of DVC's output when it fails."""
    (workspace / "params.yaml").write_text(compose_yaml(list(overrides), workspace / "conf"))
    started = time.time()
    result = subprocess.run([sys.executable, "-m", "dvc", "repro"], cwd=workspace, env=venv_env(),
                            capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(f"dvc repro failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return time.time() - started


@dataclass
class Measured:
    seconds: float     # wall time
    cpu_seconds: float  # user + system, over the process and the workers it waited for
    peak_mib: float    # the largest resident set of the process or any of its workers
    output: str        # what it printed on standard output


def measured(command: list[str], cwd: Path) -> Measured:
    """Run one process to its end and measure it; SystemExit with its errors if it fails."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, env=venv_env(), stdout=out, stderr=errors)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped by wait4
        if process.returncode:
            errors.seek(0)
            raise SystemExit(f"{' '.join(command)} failed:\n{errors.read().decode()[-2000:]}")
        out.seek(0)
        return Measured(seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out.read().decode())
