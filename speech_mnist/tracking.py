"""MLflow tracking: one run per training or evaluation stage, in one store for the whole repo.

The store is a sqlite database at the repository root (found from DVC_ROOT, so queued
experiments, which run in a temporary copy, log to the same place); MLFLOW_TRACKING_URI
overrides it. Artifacts go beside it in mlartifacts/.
"""

import fcntl
import json
import os
import subprocess
from contextlib import contextmanager
from pathlib import Path

from .config import repo_root

EXPERIMENT = "speech-mnist"
# Fixed artifact paths, so the UI compares runs artifact by artifact: confusion/<model>.png (the
# figure, logged from plots/confusion/<model>.png) and this table.
CONFUSION_TABLE = "confusion/{model}.json"


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


def experiment_id(uri: str) -> str:
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    found = client.get_experiment_by_name(EXPERIMENT)
    if found:
        return found.experiment_id
    try:
        return client.create_experiment(EXPERIMENT, artifact_location=(repo_root() / "mlartifacts").as_uri())
    except MlflowException:  # another worker created it first
        return client.get_experiment_by_name(EXPERIMENT).experiment_id


def run_tags(stage: str) -> dict:
    """Link the run to its code and its DVC experiment."""
    tags = {"stage": stage, "dvc_exp_name": os.environ.get("DVC_EXP_NAME", "")}
    commit = os.environ.get("DVC_EXP_BASELINE_REV") or _git_head()
    if commit:
        tags["git_commit"] = commit
        tags["mlflow.source.git.commit"] = commit
    return tags


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


@contextmanager
def stage_run(stage: str, params: dict):
    """An MLflow run for a stage, with the composed config as params and the linking tags."""
    import mlflow

    uri = tracking_uri()
    prepare_store(uri)
    mlflow.set_tracking_uri(uri)
    name = f"{stage} {os.environ.get('DVC_EXP_NAME', '')}".strip()
    with mlflow.start_run(experiment_id=experiment_id(uri), run_name=name, tags=run_tags(stage)) as run:
        mlflow.log_params(flatten(params))
        mlflow.log_dict(params, "params.json")
        yield run


def log_results(model: str, metrics: dict, matrix, figure: Path) -> None:
    """A model's held-out results in the active run: accuracy, recall per word, and its confusion
    matrix as a figure and a table at fixed artifact paths."""
    import mlflow

    mlflow.log_metric(f"{model}_accuracy", metrics["accuracy"])
    mlflow.log_metrics({f"{model}_recall_{word}": recall for word, recall in metrics["recall"].items()})
    mlflow.log_artifact(figure, "confusion")  # -> confusion/<model>.png
    mlflow.log_table(matrix.reset_index(), CONFUSION_TABLE.format(model=model))


def epoch_logger():
    """A Keras callback that logs every epoch's metrics to the active MLflow run."""
    import keras
    import mlflow

    class EpochLogger(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            mlflow.log_metrics({k: float(v) for k, v in (logs or {}).items()}, step=epoch)

    return EpochLogger()


def _git_head() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo_root(), capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""
