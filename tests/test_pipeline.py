"""The pipeline as users run it: `dvc repro` in a real DVC repository, on a tiny corpus."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import yaml

from conftest import TINY, make_dvc_workspace, run
from speech_mnist.files import load_npz
from speech_mnist.transfer import load_svm
from workspace import make_workspace, stage_command, venv_env

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
    for name in ("confusion/cnn.png", "confusion/svm.png", "transfer_curve.png", "unknown.png"):
        assert (built / "plots" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # without corpus.unknown, nothing to reject: the DET tables are empty, and the figure says why
    assert metrics["unknown"] == {} and pd.read_csv(built / "plots/unknown/cnn.csv").empty


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
    # one point per epoch of the first network, then the average's: the default mixed model is two networks
    assert [m.step for m in history] == [0, 1, 2]
    evaluate = by_stage["evaluate"]
    assert evaluate.data.params["model.kind"] == "mixed"
    assert "cnn_recall_zero" in evaluate.data.metrics
    top_level = {a.path for a in client.list_artifacts(evaluate.info.run_id)}
    assert {"confusion_cnn.png", "confusion_svm.png", "transfer_curve.png"} <= top_level  # what Compare shows
    tables = {a.path for a in client.list_artifacts(evaluate.info.run_id, "confusion")}
    assert tables == {"confusion/cnn.json", "confusion/svm.json"}


def predict(ws, *args, check=False):
    return run([sys.executable, "-m", "speech_mnist", "predict", *args], cwd=ws, check=check)


def test_predict_finds_and_names_the_words_of_a_new_recording(built, tmp_path):
    from test_bad_input import spoken

    samples, rate = spoken(["three", "one", "four"], seed=7)
    sf.write(tmp_path / "new.ogg", np.stack([samples, samples], axis=1), rate, format="OGG", subtype="VORBIS")
    sf.write(tmp_path / "silence.wav", np.zeros(rate * 2), rate)
    result = predict(built, str(tmp_path / "new.ogg"), str(tmp_path / "silence.wav"), "--json", check=True)
    report = {Path(r["file"]).name: r for r in json.loads(result.stdout)}
    words = report["new.ogg"]["words"]
    assert len(words) == 3 and all(0 < w["score"] <= 1 and w["start"] < w["end"] for w in words)
    assert all(w["word"] in ("zero one two three four five six seven eight nine".split()) for w in words)
    assert report["silence.wav"]["words"] == []
    assert "no speech" in predict(built, str(tmp_path / "silence.wav")).stdout
    animals = json.loads(predict(built, "--vocab", "animals", "--json", str(tmp_path / "new.ogg"), check=True).stdout)
    assert {w["word"] for w in animals[0]["words"]} <= {"cat", "dog", "fox", "bird"}


def test_predict_reports_a_broken_file_in_one_line_and_goes_on(built, tmp_path):
    from test_bad_input import spoken

    samples, rate = spoken(["five"], seed=3)
    sf.write(tmp_path / "good.wav", samples, rate)
    (tmp_path / "broken.wav").write_bytes(b"RIFF....WAVEfmt garbage")
    result = predict(built, str(tmp_path / "broken.wav"), str(tmp_path / "good.wav"))
    assert result.returncode == 1
    reasons = [line for line in result.stderr.splitlines() if line.startswith(str(tmp_path / "broken.wav"))]
    assert len(reasons) == 1 and "cannot read" in reasons[0]
    assert "good.wav: 1 word(s)" in result.stdout


def test_predict_into_a_reader_that_stops_early_ends_quietly(built, tmp_path):
    """`speech-mnist predict *.wav | head -n 1`: no BrokenPipeError traceback after the line."""
    from test_bad_input import spoken

    samples, rate = spoken(["five"], seed=3)
    sf.write(tmp_path / "five.wav", samples, rate)
    files = " ".join([str(tmp_path / "five.wav")] * 300)  # predict goes on writing after head has exited
    result = subprocess.run(f"{sys.executable} -m speech_mnist predict {files} | head -n 1", shell=True, cwd=built,
                            capture_output=True, text=True, timeout=300)
    assert result.stdout.startswith(str(tmp_path / "five.wav")) and result.stdout.count("\n") == 1
    assert result.stderr == ""


def test_predict_without_models_names_the_command_to_run(tmp_path):
    ws = make_workspace(tmp_path / "fresh", TINY)
    result = predict(ws, str(tmp_path / "any.wav"))
    assert result.returncode == 2 and "dvc repro" in result.stderr and "dvc pull" in result.stderr


def test_predict_with_models_of_other_stamp_settings_names_the_command_to_run(built, tmp_path):
    """params.yaml composed anew with another stamp, and no `dvc repro` since."""
    from conftest import compose
    from test_bad_input import spoken

    ws = tmp_path / "ws"
    shutil.copytree(built / "models", ws / "models")
    shutil.copy(built / "dvc.yaml", ws)
    params = yaml.safe_load((built / "params.yaml").read_text())
    params["stamp"] = compose(["stamp=fbank"])["stamp"]
    params["model"] = compose(["model=cnn"])["model"]  # a mixed model over a spectrogram is refused before the CNN is read
    (ws / "params.yaml").write_text(yaml.safe_dump(params))
    samples, rate = spoken(["five"], seed=3)
    sf.write(tmp_path / "five.wav", samples, rate)
    for extra in ([], ["--vocab", "animals"]):
        result = predict(ws, *extra, str(tmp_path / "five.wav"))
        assert result.returncode == 2 and result.stdout == "", extra
        assert result.stderr.count("\n") == 1 and "trained on" in result.stderr and "`dvc repro`" in result.stderr


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


def test_every_stage_imports_the_package_beside_it(tmp_path):
    """Queued `dvc exp run`s and benchmarks run stages in a copy of the repo; the venv's editable
    install points at the repo itself. Run as modules, stages import the copy's package, the code
    DVC hashed as their deps, so editing the repo during a sweep cannot leak into it."""
    ws = make_workspace(tmp_path / "ws", TINY)
    stages = yaml.safe_load((ws / "dvc.yaml").read_text())["stages"]
    assert {name: stage["cmd"] for name, stage in stages.items()} == \
        {name: f"python -m stages.{name}" for name in stages}
    (ws / "stages" / "probe.py").write_text("import pathlib, speech_mnist\n"
                                            "print(pathlib.Path(speech_mnist.__file__).resolve())\n")
    result = subprocess.run(stage_command("probe"), cwd=ws, env=venv_env(),
                            capture_output=True, text=True, check=True)
    assert Path(result.stdout.strip()) == (ws / "speech_mnist" / "__init__.py").resolve()


def test_fbank_preset_runs_through_and_rebuilds_byte_identically(tmp_path):
    """preset=fbank swaps the default speech embedding for the workshop's filterbank stamp and
    logits transfer: every stage still runs on it, and a rebuild gives the same bytes."""
    ws = make_dvc_workspace(tmp_path / "ws", [*TINY, "preset=fbank"])
    repro(ws)
    assert load_npz(ws / "data/stamps/num.npz")["x"].shape[1:] == (32, 64)
    assert 0 <= json.loads((ws / "metrics/evaluate.json").read_text())["svm"]["accuracy"] <= 1
    assert load_svm(ws / "models/svm.skops").n_features_in_ == 10  # the ten digit logits, as the workshop
    before = out_hashes(ws)
    repro(ws, "--force")
    assert out_hashes(ws) == before


def test_the_default_mixed_model_trains_each_part_and_predict_hears_their_average(tmp_path):
    """The default model, mixed: one member is two networks (time_conv, and the 2-D net of model=cnn
    on the middle frames), averaged; the features hold both networks' conv maps side by side."""
    ws = make_dvc_workspace(tmp_path / "ws", TINY)
    repro(ws)
    metrics = json.loads((ws / "metrics/train_cnn.json").read_text())
    assert metrics["members"] == 1 and "members_mean_val_accuracy" in metrics  # two networks, averaged
    from mlflow.tracking import MlflowClient

    from speech_mnist.tracking import EXPERIMENT

    client = MlflowClient(f"sqlite:///{ws / 'mlflow.db'}")
    run_id = next(r.info.run_id for r in client.search_runs([client.get_experiment_by_name(EXPERIMENT).experiment_id])
                  if r.data.tags["stage"] == "train_cnn")
    logged = set(client.get_run(run_id).data.metrics)
    assert {"val_accuracy", "member0_cnn_val_accuracy"} <= logged  # the time_conv net plainly, then the 2-D net
    params = yaml.safe_load((ws / "params.yaml").read_text())
    frames = params["stamp"]["frames"]
    conv = load_npz(ws / "data/features/num.npz")["conv"]
    # time_conv: two poolings of 16 frames leave 4 of 96 filters; the 2-D net: (96/8) x (3 frames pooled to 1) x 64
    assert frames == 16 and conv.shape[1] == 4 * 96 + 12 * 1 * 64
    recording = sorted((ws / "data/recordings").glob("num_*.wav"))[0]
    words = json.loads(predict(ws, "--json", str(recording), check=True).stdout)[0]["words"]
    assert len(words) == 10 and all(0 < w["score"] <= 1 for w in words)


def test_an_average_of_networks_runs_through_predicts_and_rebuilds_byte_identically(tmp_path):
    """train.members=2: two networks from seeds 0 and 1, averaged into the one CNN that every later
    stage and `predict` use; its features are both networks' side by side, the first the very
    network that train.members=1 trains."""
    from mlflow.tracking import MlflowClient

    from speech_mnist.tracking import EXPERIMENT

    ws = make_dvc_workspace(tmp_path / "ws", [*TINY, "train.members=2", "model=cnn"])  # one network a member
    repro(ws)
    metrics = json.loads((ws / "metrics/train_cnn.json").read_text())
    # the keys of one network's metrics, so that `dvc metrics diff` and `dvc exp show` line up
    assert metrics["members"] == 2 and {"accuracy", "loss", "val_accuracy", "val_loss",
                                        "members_mean_val_accuracy", "members_mean_val_loss"} <= set(metrics)
    assert 0 < metrics["val_loss"] and 0 <= metrics["val_accuracy"] <= 1
    client = MlflowClient(f"sqlite:///{ws / 'mlflow.db'}")
    run_id = next(r.info.run_id for r in client.search_runs([client.get_experiment_by_name(EXPERIMENT).experiment_id])
                  if r.data.tags["stage"] == "train_cnn")
    assert [m.step for m in client.get_metric_history(run_id, "member1_val_accuracy")] == [0, 1]  # each network's epochs
    history = client.get_metric_history(run_id, "val_accuracy")
    assert [m.step for m in history] == [0, 1, 2] and history[-1].value == metrics["val_accuracy"]  # then the average's
    assert client.get_metric_history(run_id, "val_loss")[-1].value == metrics["val_loss"]
    recording = sorted((ws / "data/recordings").glob("num_*.wav"))[0]
    words = json.loads(predict(ws, "--json", str(recording), check=True).stdout)[0]["words"]
    assert len(words) == 10 and all(0 < w["score"] <= 1 for w in words)
    before = out_hashes(ws)
    repro(ws, "--force")
    assert out_hashes(ws) == before
    two = load_npz(ws / "data/features/num.npz")
    params = yaml.safe_load((ws / "params.yaml").read_text())
    params["train"]["members"] = 1
    (ws / "params.yaml").write_text(yaml.safe_dump(params))
    repro(ws, "train_cnn")
    one = load_npz(ws / "data/features/num.npz")
    one_metrics = json.loads((ws / "metrics/train_cnn.json").read_text())
    assert one_metrics["members"] == 1 and set(one_metrics) == set(metrics) - {"members_mean_val_accuracy", "members_mean_val_loss"}
    width = one["conv"].shape[1]
    assert two["conv"].shape[1] == 2 * width and np.allclose(two["conv"][:, :width], one["conv"], atol=1e-5)
