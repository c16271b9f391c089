"""MLflow tracking against a real sqlite store."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from speech_mnist import evaluation, tracking
from workspace import venv_env


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
    from mlflow.tracking import MlflowClient

    params = {"train": {"epochs": 3, "augment": {"copies": 0}}, "corpus": {"words": ["a", "b"]}}
    with tracking.StageRun("train_cnn", params) as run:
        for epoch, accuracy in enumerate([0.5, 0.25, 0.75]):
            run.log_metrics({"accuracy": np.float32(accuracy)}, step=epoch)
    client = MlflowClient(store)
    logged = client.get_run(run.run_id)
    assert logged.info.status == "FINISHED"
    assert logged.data.params["train.epochs"] == "3"
    assert logged.data.params["corpus.words"] == '["a", "b"]'
    assert logged.data.tags["dvc_exp_name"] == "exp-tiny"
    assert logged.data.tags["stage"] == "train_cnn"
    assert [(m.step, m.value) for m in client.get_metric_history(run.run_id, "accuracy")] == \
        [(0, 0.5), (1, 0.25), (2, 0.75)]
    experiment = client.get_experiment(logged.info.experiment_id)
    assert experiment.name == tracking.EXPERIMENT


STAGE_WITHOUT_MLFLOW = """
import sys
from speech_mnist import tracking
with tracking.StageRun("evaluate", {}) as run:
    run.log_metrics({"done": 1})
print(run.run_id, "mlflow" in sys.modules)
"""


def test_a_stage_never_imports_mlflow_its_helper_logs_the_run(store):
    """MLflow's import and store take 3.5 s of a core: the helper process spends them while the stage works."""
    from mlflow.tracking import MlflowClient

    done = subprocess.run([sys.executable, "-c", STAGE_WITHOUT_MLFLOW], env=venv_env() | dict(os.environ),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    run_id, imported = done.stdout.split()
    assert imported == "False"
    assert MlflowClient(store).get_run(run_id).data.metrics["done"] == 1


def test_a_stage_that_fails_leaves_a_failed_run(store):
    from mlflow.tracking import MlflowClient

    with pytest.raises(KeyError):
        with tracking.StageRun("evaluate", {}) as run:
            run.log_metrics({"before": 1})
            raise KeyError("the stage broke")
    logged = MlflowClient(store).get_run(run.run_id)
    assert logged.info.status == "FAILED" and logged.data.metrics["before"] == 1


def test_a_store_that_cannot_be_opened_fails_the_stage_in_one_line(tmp_path, monkeypatch, capfd):
    (tmp_path / "a-file").write_text("not a folder")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'a-file' / 'mlflow.db'}")
    monkeypatch.setenv("DVC_ROOT", str(tmp_path))
    with pytest.raises(tracking.TrackingFailed, match="MLflow did not log the evaluate run"):
        with tracking.StageRun("evaluate", {}) as run:
            run.log_metrics({"lost": 1})
    errors = capfd.readouterr().err
    reasons = [line for line in errors.splitlines() if line.startswith("MLflow:")]
    assert len(reasons) == 1 and "a-file" in reasons[0] and "Traceback" not in errors


FRESH_STORE_WORKER = """
import sys
from speech_mnist import tracking
with tracking.StageRun("worker", {"worker": sys.argv[1]}) as run:
    run.log_metrics({"done": 1})
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


KILLED_STAGE = """
import os, signal
from speech_mnist import tracking
run = tracking.StageRun("train_cnn", {})
run.log_metrics({"epoch_loss": 1.0}, step=0)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_killed_stage_leaves_a_killed_run_and_no_helper(store):
    import time

    from mlflow.tracking import MlflowClient

    killed = subprocess.run([sys.executable, "-c", KILLED_STAGE], env=venv_env() | dict(os.environ), timeout=120)
    assert killed.returncode == -9
    tracking.prepare_store(store)  # whoever comes first creates the fresh store under its lock; the other waits
    client, deadline, runs = MlflowClient(store), time.monotonic() + 90, []
    while time.monotonic() < deadline and not (runs and runs[0].info.status == "KILLED"):
        time.sleep(1)
        experiment = client.get_experiment_by_name(tracking.EXPERIMENT)
        runs = client.search_runs([experiment.experiment_id]) if experiment else []
    assert [r.info.status for r in runs] == ["KILLED"]
    assert runs[0].data.metrics["epoch_loss"] == 1.0


def test_an_artifact_is_logged_as_it_was_when_logged(store, tmp_path):
    from mlflow.tracking import MlflowClient

    figure = tmp_path / "curve.png"
    figure.write_bytes(b"first")
    with tracking.StageRun("evaluate", {}) as run:
        run.log_artifact(figure)
        figure.write_bytes(b"second")  # the stage writes it again before the helper gets to it
    logged = MlflowClient(store).download_artifacts(run.run_id, "curve.png", str(tmp_path / "down"))
    assert Path(logged).read_bytes() == b"first"
    assert MlflowClient(store).get_run(run.run_id).data.tags["mlflow.source.name"] == sys.argv[0]


def test_a_call_the_helper_cannot_log_fails_the_stage(store):
    import pandas as pd

    with pytest.raises(tracking.TrackingFailed, match="did not log the evaluate run"):
        with tracking.StageRun("evaluate", {}) as run:
            run.log_table(pd.DataFrame({"a": [1]}), "table.txt")  # MLflow takes only .json tables
    with pytest.raises(tracking.TrackingFailed, match="has ended"):
        run.log_metrics({"late": 1})


def test_flatten_nests_with_dots():
    assert tracking.flatten({"a": {"b": 1, "c": {"d": [1, 2]}}, "e": None}) == {"a.b": 1, "a.c.d": "[1, 2]", "e": None}


def test_log_results_puts_the_confusion_figure_at_the_top_and_names_the_run(store, tmp_path):
    from mlflow.tracking import MlflowClient

    actual, predicted, words = [0, 1, 1], [0, 1, 0], ["yes", "no"]
    matrix = evaluation.confusion_matrix(actual, predicted, words)
    metrics = evaluation.classification_metrics(actual, predicted, words)
    with tracking.StageRun("evaluate", {}) as run:
        evaluation.log_results(run, "svm", metrics, matrix, "SVM")
        scratch = run.scratch
    client = MlflowClient(store)
    logged = client.get_run(run.run_id)
    assert logged.data.metrics["svm_recall_no"] == 0.5 and logged.data.metrics["svm_accuracy"] == metrics["accuracy"]
    assert logged.info.run_name == "evaluate exp-tiny"
    assert {a.path for a in client.list_artifacts(run.run_id)} == {"confusion_svm.png", "confusion", "params.json"}
    assert {a.path for a in client.list_artifacts(run.run_id, "confusion")} == {"confusion/svm.json"}
    table = json.loads(open(client.download_artifacts(run.run_id, "confusion/svm.json", str(tmp_path))).read())
    assert table["columns"] == ["actual", "yes", "no"] and table["data"] == [["yes", 1, 0], ["no", 1, 1]]
    assert not scratch.exists()  # the copies kept for the helper are gone


def git(cwd, *args):
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args], cwd=cwd, check=True,
                   capture_output=True)


def test_a_plain_repro_run_is_labelled_by_its_commit_and_dirty_code(tmp_path, monkeypatch):
    monkeypatch.delenv("DVC_EXP_NAME", raising=False)
    monkeypatch.setenv("DVC_ROOT", str(tmp_path))
    git(tmp_path, "init", "-q")
    for name in ("code.py", "dvc.lock", "metrics/evaluate.json"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("1\n")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "one")
    short = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=tmp_path, capture_output=True,
                           text=True).stdout.strip()
    assert tracking.run_label() == short
    (tmp_path / "dvc.lock").write_text("2\n")  # the pipeline rewrites these as it runs
    (tmp_path / "metrics/evaluate.json").write_text("2\n")
    assert tracking.run_label() == short
    (tmp_path / "code.py").write_text("2\n")
    assert tracking.run_label() == f"{short}+dirty"
    monkeypatch.setenv("DVC_EXP_NAME", "bushy-pipe")
    assert tracking.run_label() == "bushy-pipe"


def test_a_moved_store_points_its_artifacts_at_its_new_place(tmp_path, monkeypatch):
    import shutil

    from mlflow.tracking import MlflowClient

    old, new = tmp_path / "old", tmp_path / "new"
    monkeypatch.setenv("DVC_ROOT", str(old))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with tracking.StageRun("evaluate", {}) as run:
        run.log_dict({"a": 1}, "a.json")
    shutil.move(old, new)
    uri = f"sqlite:///{new / 'mlflow.db'}"
    assert tracking.relocate_artifacts(new / "mlflow.db") == 2  # the experiment and its run
    assert tracking.relocate_artifacts(new / "mlflow.db") == 0  # and nothing the second time
    client = MlflowClient(uri)
    assert client.get_run(run.run_id).info.artifact_uri.startswith((new / "mlartifacts").as_uri())
    assert json.loads(open(client.download_artifacts(run.run_id, "a.json", str(tmp_path))).read()) == {"a": 1}
