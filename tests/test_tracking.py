"""MLflow tracking against a real sqlite store."""

import subprocess
import sys

import pytest

from speech_mnist import evaluation, tracking
from speech_mnist.workspace import venv_env


@pytest.fixture
def store(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("DVC_ROOT", str(tmp_path))
    monkeypatch.setenv("DVC_EXP_NAME", "exp-tiny")
    return uri


def test_default_store_is_at_the_repo_root_even_from_a_queued_copy(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("DVC_ROOT", str(tmp_path))
    monkeypatch.chdir(tmp_path.parent)
    assert tracking.tracking_uri() == f"sqlite:///{tmp_path.resolve() / 'mlflow.db'}"


def test_stage_run_logs_config_tags_and_metrics(store):
    import mlflow
    from mlflow.tracking import MlflowClient

    params = {"train": {"epochs": 3, "augment": {"copies": 0}}, "corpus": {"words": ["a", "b"]}}
    with tracking.stage_run("train_cnn", params) as run:
        mlflow.log_metric("accuracy", 0.5, step=0)
    logged = MlflowClient(store).get_run(run.info.run_id)
    assert logged.data.params["train.epochs"] == "3"
    assert logged.data.params["corpus.words"] == '["a", "b"]'
    assert logged.data.tags["dvc_exp_name"] == "exp-tiny"
    assert logged.data.tags["stage"] == "train_cnn"
    assert logged.data.metrics["accuracy"] == 0.5
    experiment = MlflowClient(store).get_experiment(logged.info.experiment_id)
    assert experiment.name == tracking.EXPERIMENT


FRESH_STORE_WORKER = """
import sys
from speech_mnist import tracking
import mlflow
with tracking.stage_run("worker", {"worker": sys.argv[1]}):
    mlflow.log_metric("done", 1)
"""


def test_two_workers_on_a_fresh_store_both_log(store, tmp_path):
    from mlflow.tracking import MlflowClient

    env = venv_env() | {"MLFLOW_TRACKING_URI": store, "DVC_ROOT": str(tmp_path)}
    workers = [subprocess.Popen([sys.executable, "-c", FRESH_STORE_WORKER, str(i)], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    for worker in workers:
        _, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err[-2000:]
    runs = MlflowClient(store).search_runs(
        [MlflowClient(store).get_experiment_by_name(tracking.EXPERIMENT).experiment_id])
    assert sorted(r.data.params["worker"] for r in runs) == ["0", "1"]
    assert all(r.data.metrics["done"] == 1 for r in runs)


def test_flatten_nests_with_dots():
    assert tracking.flatten({"a": {"b": 1, "c": {"d": [1, 2]}}, "e": None}) == {"a.b": 1, "a.c.d": "[1, 2]", "e": None}


def test_log_results_puts_the_confusion_matrix_at_fixed_paths(store, tmp_path):
    from mlflow.tracking import MlflowClient

    actual, predicted, words = [0, 1, 1], [0, 1, 0], ["yes", "no"]
    matrix, figure = evaluation.write_confusion(actual, predicted, words, "t", tmp_path / "plots", "svm")
    metrics = evaluation.classification_metrics(actual, predicted, words)
    with tracking.stage_run("evaluate", {}) as run:
        tracking.log_results("svm", metrics, matrix, figure)
    client = MlflowClient(store)
    logged = client.get_run(run.info.run_id).data.metrics
    assert logged["svm_recall_no"] == 0.5 and logged["svm_accuracy"] == metrics["accuracy"]
    paths = {a.path for a in client.list_artifacts(run.info.run_id, "confusion")}
    assert paths == {"confusion/svm.png", "confusion/svm.json"}
