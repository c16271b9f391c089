"""The pipeline as users run it: `dvc repro` in a real DVC repository, on a tiny corpus."""

import json
import sys

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import TINY, make_dvc_workspace, run
from speech_mnist.files import load_npz

pytestmark = pytest.mark.slow


def repro(ws, *args):
    return run([sys.executable, "-m", "dvc", "repro", *args], cwd=ws)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    ws = make_dvc_workspace(tmp_path_factory.mktemp("pipeline") / "ws", TINY)
    repro(ws)
    return ws


def out_hashes(ws) -> dict:
    lock = yaml.safe_load((ws / "dvc.lock").read_text())
    return {s: [o["md5"] for o in stage.get("outs", [])] for s, stage in lock["stages"].items()}


def test_repro_builds_stamp_datasets_for_both_vocabs(built):
    params = yaml.safe_load((built / "params.yaml").read_text())
    for vocab, spec in params["corpus"]["vocabs"].items():
        data = load_npz(built / "data/stamps" / f"{vocab}.npz")
        count = params["corpus"]["voices"]["count"] * spec["takes"] * len(spec["words"])
        assert data["x"].shape == (count, params["stamp"]["bands"], params["stamp"]["frames"])
        assert list(data["vocab"]) == spec["words"]
        assert [spec["words"][i] for i in data["y"]] == list(data["word"])
        test_speakers, train_speakers = (set(data["speaker"][data["split"] == s]) for s in ("test", "train"))
        assert test_speakers and train_speakers and not test_speakers & train_speakers


def test_segment_metrics_are_reported(built):
    metrics = json.loads((built / "metrics/segment.json").read_text())
    assert metrics["right_count_rate"] == 1.0
    assert metrics["truth_num"]["word_recall"] >= 0.9  # a tiny corpus: 40 words


def test_models_metrics_and_plots_are_written(built):
    metrics = json.loads((built / "metrics/evaluate.json").read_text())
    assert 0 <= metrics["cnn"]["accuracy"] <= 1 and set(metrics["svm"]["recall"]) == {"cat", "dog", "fox", "bird"}
    assert set(metrics["transfer_curve"]) == {"k1", "k2"}
    confusion = pd.read_csv(built / "plots/confusion/cnn.csv")
    stamps = load_npz(built / "data/stamps/num.npz")
    assert len(confusion) == (stamps["split"] == "test").sum()
    assert list(confusion.columns) == ["actual", "predicted"]
    for name in ("confusion/cnn.png", "confusion/svm.png", "transfer_curve.png"):
        assert (built / "plots" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_dvc_reads_the_metrics_and_plots(built):
    shown = run([sys.executable, "-m", "dvc", "metrics", "show", "--json"], cwd=built).stdout
    assert "cnn.accuracy" in shown or '"accuracy"' in shown
    run([sys.executable, "-m", "dvc", "plots", "show", "-o", "plots_html"], cwd=built)
    assert (built / "plots_html" / "index.html").exists()


def test_mlflow_holds_one_run_per_training_or_evaluation_stage(built):
    from mlflow.tracking import MlflowClient

    from speech_mnist.tracking import EXPERIMENT

    client = MlflowClient(f"sqlite:///{built / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name(EXPERIMENT).experiment_id])
    assert sorted(r.data.tags["stage"] for r in runs) == ["evaluate", "train_cnn", "train_svm"]
    by_stage = {r.data.tags["stage"]: r for r in runs}
    history = client.get_metric_history(by_stage["train_cnn"].info.run_id, "val_accuracy")
    assert [m.step for m in history] == [0, 1]  # one point per epoch
    evaluate = by_stage["evaluate"]
    assert evaluate.data.params["model.kind"] == "cnn"
    assert "cnn_recall_zero" in evaluate.data.metrics
    artifacts = {a.path for a in client.list_artifacts(evaluate.info.run_id, "confusion")}
    assert {"confusion/cnn.png", "confusion/svm.png", "confusion/cnn.json", "confusion/svm.json"} <= artifacts


def test_second_repro_does_nothing(built):
    out = repro(built).stdout
    assert "Running stage" not in out and "up to date" in out


def test_rebuild_from_scratch_is_byte_identical(built):
    before = out_hashes(built)
    repro(built, "--force")
    assert out_hashes(built) == before


def test_changed_segment_param_reruns_segment_but_not_synthesize(built):
    params = yaml.safe_load((built / "params.yaml").read_text())
    params["segment"]["pad_s"] = 0.08
    (built / "params.yaml").write_text(yaml.safe_dump(params))
    out = repro(built).stdout
    assert "Running stage 'segment'" in out and "Running stage 'synthesize'" not in out
    words = load_npz(built / "data/stamps/num.npz")
    assert np.isfinite(words["x"]).all()
