"""MLflow tracking: one run per training or evaluation stage, in one store for the whole repo.

The store is a sqlite database at the repository root (found from DVC_ROOT, so queued
experiments, which run in a temporary copy, log to the same place); MLFLOW_TRACKING_URI
overrides it. Artifacts go beside it in mlartifacts/, and follow it when the repository moves.
A stage logs through a StageRun, whose helper process does the MLflow work while the stage works.
"""

import fcntl
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from .config import repo_root
from .errors import first_line

if TYPE_CHECKING:
    import pandas as pd

EXPERIMENT = "speech-mnist"
ARTIFACTS = "mlartifacts"


def tracking_uri(root: Path | None = None) -> str:
    """MLFLOW_TRACKING_URI, or the store at the root of the repository (`root`, or the one running)."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{(root or repo_root()) / 'mlflow.db'}"


def prepare_store(uri: str) -> None:
    """Create or upgrade the store once, under a file lock.

    Two processes creating a fresh sqlite store at the same moment both fail half-way through
    the schema migration; with the lock the second one waits and finds the store ready.
    """
    from mlflow.tracking import MlflowClient

    if not uri.startswith("sqlite:///"):
        MlflowClient(uri).search_experiments(max_results=1)
        return
    database = Path(uri.removeprefix("sqlite:///"))
    database.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{database}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        MlflowClient(uri).search_experiments(max_results=1)
        relocate_artifacts(database)


def relocate_artifacts(database: Path) -> int:
    """Point the store's artifact locations at the mlartifacts/ folder beside it; returns how many
    rows changed.

    MLflow records them as absolute file:// URIs. In a copied or moved repository they would name
    the old folder: its UI would show, and new runs would write, the old place.
    """
    here = (database.parent / ARTIFACTS).resolve().as_uri()
    changed = 0
    with sqlite3.connect(database) as db:
        for table, key, column in (("experiments", "experiment_id", "artifact_location"),
                                   ("runs", "run_uuid", "artifact_uri")):
            for row_id, location in db.execute(f"SELECT {key}, {column} FROM {table}").fetchall():
                moved = _under_other_artifacts(location, here)
                if moved:
                    db.execute(f"UPDATE {table} SET {column} = ? WHERE {key} = ?", (moved, row_id))
                    changed += 1
    return changed


def _under_other_artifacts(location: str | None, here: str) -> str | None:
    """`location` rewritten under `here` if it lies in another folder's mlartifacts/, else None."""
    marker = f"/{ARTIFACTS}"
    if not location or not location.startswith("file://") or marker not in location:
        return None
    old = location[: location.rindex(marker) + len(marker)]
    return None if old == here else here + location[len(old):]


def experiment_id(uri: str) -> str:
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    found = client.get_experiment_by_name(EXPERIMENT)
    if found:
        return found.experiment_id
    try:
        experiment = client.create_experiment(EXPERIMENT, artifact_location=artifact_root(uri).as_uri())
    except MlflowException:  # another worker created it first
        return client.get_experiment_by_name(EXPERIMENT).experiment_id
    client.set_experiment_tag(experiment, f"mlflow.sharedViewState.{EXPERIMENT}", json.dumps(RUNS_TABLE_VIEW))
    return experiment


def artifact_root(uri: str) -> Path:
    """mlartifacts/ beside a sqlite store; for another store, at the repository root."""
    if uri.startswith("sqlite:///"):
        return Path(uri.removeprefix("sqlite:///")).parent / ARTIFACTS
    return repo_root() / ARTIFACTS


# The runs table as the UI link of `speech-mnist ui` opens it (MLflow's shared view state,
# an experiment tag the UI reads for ?viewStateShareKey=<experiment>): the columns to compare.
RUNS_TABLE_VIEW = {
    "selectedColumns": ["tags.`dvc_exp_name`", "tags.`stage`", "metrics.`cnn_accuracy`", "metrics.`svm_accuracy`",
                        "metrics.`svm_accuracy_k1`", "metrics.`svm_accuracy_k5`", "metrics.`val_accuracy`"],
    "orderByKey": "attributes.start_time",
    "orderByAsc": False,
}


def ui_link(base: str, experiment: str) -> str:
    """The runs table of the experiment in "Model training" mode (MLflow 3 opens GenAI traces)."""
    return f"{base}/#/experiments/{experiment}/runs?workflowType=machine_learning&viewStateShareKey={EXPERIMENT}"


def run_tags(stage: str) -> dict:
    """Link the run to its code and its DVC experiment."""
    tags = {"stage": stage, "dvc_exp_name": os.environ.get("DVC_EXP_NAME", "")}
    commit = os.environ.get("DVC_EXP_BASELINE_REV") or _git(["rev-parse", "HEAD"])
    if commit:
        tags["git_commit"] = commit
        tags["mlflow.source.git.commit"] = commit
    tags["mlflow.source.name"] = sys.argv[0]  # the stage's script (the helper would name itself)
    return tags


def run_label() -> str:
    """What tells this run apart: its DVC experiment's name, or for a plain `dvc repro` the short
    commit, with +dirty when the code or config differs from it (not the pipeline's own outputs)."""
    if os.environ.get("DVC_EXP_NAME"):
        return os.environ["DVC_EXP_NAME"]
    commit = _git(["rev-parse", "--short", "HEAD"])
    if not commit:
        return "no commit"
    changed = _git(["status", "--porcelain", "--untracked-files=no", "--", ".", *PIPELINE_WRITES])
    return f"{commit}+dirty" if changed else commit


# Files git tracks that `dvc repro` itself rewrites: they do not make a run's code dirty.
PIPELINE_WRITES = [":(exclude)dvc.lock", ":(exclude)metrics", ":(exclude)plots"]


def flatten(params: dict, prefix: str = "") -> dict:
    """{"a": {"b": 1}} -> {"a.b": 1}: MLflow params are flat."""
    flat = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = json.dumps(value) if isinstance(value, list) else value
    return flat


class TrackingFailed(RuntimeError):
    """The helper process could not log a stage's run (its one-line reason is printed above)."""


class StageRun:
    """An MLflow run for one stage, logged by a helper process (`python -m speech_mnist.tracking`):
    use it as a `with` block around the stage's work.

    Importing MLflow and opening its store take about 3.5 s of one core. In the helper they
    happen on the other core while the stage works, and the stage never imports MLflow at all.
    Each call is queued to the helper as one JSON line, in order, with the time it was made;
    leaving the block waits until all of them are logged, and marks the run FAILED if the block
    raised. A helper that has failed fails the stage at the next call, or at the end.
    """

    def __init__(self, stage: str, params: dict):
        self.stage, self.name, self.run_id = stage, f"{stage} {run_label()}", None
        start = _line("start", uri=tracking_uri(), name=self.name, tags=run_tags(stage), params=params)
        # its own session: a Ctrl-C meant for the stage reaches the stage, which ends the run
        self._helper = subprocess.Popen([sys.executable, "-m", "speech_mnist.tracking"], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True, start_new_session=True)
        self.scratch = Path(tempfile.mkdtemp(prefix="speech-mnist-run-"))  # logged files, as they were then
        self._write(start)

    def log_metrics(self, metrics: dict, step: int | None = None) -> None:
        self._send("metrics", metrics=metrics, step=step)

    def log_artifact(self, path: Path) -> None:
        """Log a file as it is now (a copy waits for the helper)."""
        copy = self.scratch / str(len(list(self.scratch.iterdir()))) / Path(path).name
        copy.parent.mkdir()
        shutil.copyfile(path, copy)
        self._send("artifact", path=str(copy))

    def log_table(self, table: "pd.DataFrame", name: str) -> None:
        self._send("table", data=table.to_dict(orient="list"), name=name)

    def log_dict(self, data: dict, name: str) -> None:
        self._send("dict", data=data, name=name)

    def __enter__(self) -> "StageRun":
        return self

    def __exit__(self, error_type, error, traceback) -> None:
        try:
            self._write(_line("end", status="FAILED" if error_type else "FINISHED"))
            self._close()
            if self._helper.returncode:
                raise self._failure()
        except TrackingFailed:
            if error_type is None:  # otherwise the stage's own error is the one to see
                raise

    def _send(self, call: str, **fields) -> None:
        if self._helper.stdin.closed:
            raise TrackingFailed(f"the {self.stage} run has ended: nothing more can be logged to it")
        self._write(_line(call, **fields))

    def _write(self, line: str) -> None:
        try:
            self._helper.stdin.write(line)
            self._helper.stdin.flush()  # epochs show up in the MLflow UI as they end
        except BrokenPipeError:  # the helper has stopped: its reason is on stderr
            self._close()
            raise self._failure() from None

    def _close(self) -> None:
        """Let the helper finish, and collect the run's id; once."""
        if self._helper.returncode is not None:
            return
        try:
            self._helper.stdin.close()
        except BrokenPipeError:
            pass
        self.run_id = self._helper.stdout.read().strip() or None
        self._helper.wait()
        shutil.rmtree(self.scratch, ignore_errors=True)

    def _failure(self) -> TrackingFailed:
        return TrackingFailed(f"MLflow did not log the {self.stage} run to {tracking_uri()} (the reason is above)")


def _line(call: str, **fields) -> str:
    """One call for the helper, stamped with the time it was made (ms, as MLflow counts)."""
    return json.dumps({"call": call, "time": int(time.time() * 1000), **fields}, default=_plain) + "\n"


def _plain(value):
    """numpy scalars and arrays as JSON numbers and lists; anything else is a mistake to say now."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot log a {type(value).__name__} to MLflow: {value!r}")


def log_stage_run(lines) -> str | None:
    """The helper's side of a StageRun: start the run the first line describes, make every later
    line's call, end the run with the status of the last; returns the run's id (None without a
    first line). Without an "end" line, the stage was killed."""
    import mlflow

    start = next(lines, None)
    if start is None:
        return None
    start = json.loads(start)
    uri = start["uri"]
    prepare_store(uri)
    mlflow.set_tracking_uri(uri)
    run = mlflow.start_run(experiment_id=experiment_id(uri), run_name=start["name"], tags=start["tags"])
    status = "KILLED"
    try:
        mlflow.log_params(flatten(start["params"]))
        mlflow.log_dict(start["params"], "params.json")
        for line in lines:
            call = json.loads(line)
            if call["call"] == "end":
                status = call["status"]
                break
            _log_call(mlflow, call)
    except Exception:
        status = "FAILED"
        raise
    finally:
        mlflow.end_run(status)
    return run.info.run_id


def _log_call(mlflow, call: dict) -> None:
    if call["call"] == "metrics":
        mlflow.log_metrics(call["metrics"], step=call["step"], timestamp=call["time"])
    elif call["call"] == "artifact":
        mlflow.log_artifact(call["path"])
    elif call["call"] == "table":
        mlflow.log_table(call["data"], call["name"])
    elif call["call"] == "dict":
        mlflow.log_dict(call["data"], call["name"])
    else:
        raise ValueError(f"unknown tracking call {call['call']!r}")


def wait_until_ready(url: str, process, seconds: float) -> bool:
    """Poll a server's health URL until it answers, the process ends, or time runs out."""
    import urllib.request

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return True
        except OSError:
            time.sleep(0.2)
    return False


def epoch_logger(run: StageRun, prefix: str = ""):
    """A Keras callback that logs every epoch's metrics to the stage's run, each name after `prefix`
    (the second and later networks of an average: member<i>_)."""
    import keras

    class EpochLogger(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            run.log_metrics({prefix + k: float(v) for k, v in (logs or {}).items()}, step=epoch)

    return EpochLogger()


def _git(args: list[str]) -> str:
    try:
        return subprocess.run(["git", *args], cwd=repo_root(), capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


if __name__ == "__main__":  # the helper process of a StageRun: its calls come on stdin
    # stdout is for the run's id alone: what MLflow prints there (links to the run) goes to stderr
    answer = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    try:
        run_id = log_stage_run(iter(sys.stdin))
    except Exception as error:  # a store that cannot be opened or written: the reason, not MLflow's traceback
        sys.exit(f"MLflow: {first_line(error)}")
    try:
        print(run_id or "", file=answer, flush=True)
    except BrokenPipeError:  # the stage was killed: nobody is waiting for the id
        pass
