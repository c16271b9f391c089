"""The command line from any folder: the project is found by walking up to dvc.yaml (or named with
--project), models and params come from the project, and every mistake is one line with exit 2."""

import re
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import yaml

from conftest import TINY, compose, make_workspace
from speech_mnist.stamps import save_stamp_settings

RATE = 8000
# TensorFlow's own start-up lines (absl, before it is set up), printed whatever the log level
TF_START_UP = re.compile(r"^(WARNING: All log messages before absl|[IWE]\d{4} )")


def run_cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "speech_mnist", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def one_line_error(result, *words):
    lines = [line for line in result.stderr.strip().splitlines() if not TF_START_UP.match(line)]
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert all(w in lines[0] for w in words), lines[0]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A project with real (untrained) model files of the configured shapes, and a recording."""
    from speech_mnist import models, transfer
    from test_bad_input import spoken
    from speech_mnist.audio import resample

    root = make_workspace(tmp_path_factory.mktemp("project") / "ws", TINY)
    params = compose(TINY)
    stamp = params["stamp"]
    models.seed_everything(0)
    cnn = models.build(params["model"], (stamp["bands"], stamp["frames"]), 10)
    models.save_keras(cnn, root / "models/cnn.keras")
    models.save_lite(cnn, root / "models/cnn.tflite")
    save_stamp_settings(root / "models/cnn_stamp_settings.json", params)
    features = models.feature_model(cnn, params["transfer"]["features"]).predict(
        np.random.default_rng(0).normal(size=(8, stamp["bands"], stamp["frames"], 1)), verbose=0)
    svm = transfer.make_svm(params["transfer"]).fit(features, np.arange(8) % 4)
    transfer.save_svm(svm, root / "models/svm.skops")
    samples, rate = spoken(["cat", "dog", "fox"], seed=2)
    sf.write(root / "three.wav", resample(samples, rate, RATE), RATE, subtype="PCM_16")
    (root / "deep" / "er").mkdir(parents=True)
    return root


def test_predict_finds_the_project_from_a_folder_inside_it(project):
    result = run_cli("predict", "../../three.wav", cwd=project / "deep" / "er")
    assert result.returncode == 0, result.stderr
    assert "three.wav: 3 word(s)" in result.stdout


def test_predict_from_outside_names_the_project_or_says_how(project, tmp_path):
    result = run_cli("predict", project / "three.wav", "--project", project, cwd=tmp_path)
    assert result.returncode == 0 and "3 word(s)" in result.stdout, result.stderr
    one_line_error(run_cli("predict", project / "three.wav", cwd=tmp_path), "no dvc.yaml", "--project")


def test_params_given_from_outside_still_take_the_models_of_the_project(project, tmp_path):
    result = run_cli("predict", project / "three.wav", "--project", project, "--params", project / "params.yaml",
                     cwd=tmp_path)
    assert result.returncode == 0 and "3 word(s)" in result.stdout, result.stderr


def test_the_digit_vocab_is_the_cnn_and_an_unknown_vocab_one_line(project):
    digits = run_cli("predict", "three.wav", "--vocab", "num", cwd=project)
    default = run_cli("predict", "three.wav", cwd=project)
    assert digits.returncode == 0 and digits.stdout == default.stdout
    animals = run_cli("predict", "three.wav", "--vocab", "animals", cwd=project)
    assert animals.returncode == 0 and any(w in animals.stdout for w in ("cat", "dog", "fox", "bird"))
    one_line_error(run_cli("predict", "three.wav", "--vocab", "planets", cwd=project), "no model for vocab 'planets'")


def test_a_model_that_exists_but_cannot_load_is_not_called_missing(project, tmp_path):
    broken = make_workspace(tmp_path / "broken", TINY)
    (broken / "models").mkdir()
    (broken / "models/cnn.tflite").write_bytes(b"<html>not really a model</html>")
    save_stamp_settings(broken / "models/cnn_stamp_settings.json", compose(TINY))
    result = run_cli("predict", project / "three.wav", cwd=broken)
    one_line_error(result, "cnn.tflite cannot be loaded")
    assert "not found" not in result.stderr and "no models" not in result.stderr


@pytest.mark.parametrize("command, output, says", [
    (["inspect", "three.wav"], "missing/view.png", "does not exist"),
    (["inspect", "three.wav"], "deep", "is a folder"),
    (["inspect", "three.wav"], "view.jpg", "must end in .png"),
    (["listen"], "missing/out.wav", "does not exist"),
    (["listen"], "deep", "is a folder"),
    (["listen"], "out.mp3", "must end in .wav"),
    # a folder that takes no new file (as a read-only file system would): said before any work
    (["inspect", "three.wav"], "/proc/self/view.png", "cannot write there"),
    (["listen"], "/proc/self/out.wav", "cannot write there"),
])
def test_a_bad_output_path_is_one_line(project, command, output, says):
    one_line_error(run_cli(*command, "-o", output, cwd=project), says)
    assert not (project / output).is_file()


def test_a_default_output_that_cannot_be_written_is_one_line(project):
    """Without -o, inspect writes <recording>.inspect.png and listen listen.wav in the working folder."""
    result = run_cli("inspect", project / "three.wav", "--project", project, cwd="/proc/self")
    one_line_error(result, "three.inspect.png: cannot write there (its folder takes no new file")
    one_line_error(run_cli("listen", "--project", project, cwd="/proc/self"), "listen.wav: cannot write there")


def test_a_params_file_from_before_a_models_path_is_one_line(project, tmp_path):
    """`dvc exp apply` of an older experiment, or --params naming an older params.yaml."""
    params = yaml.safe_load((project / "params.yaml").read_text())
    del params["paths"]["cnn_stamp_settings"]
    (tmp_path / "old.yaml").write_text(yaml.safe_dump(params))
    result = run_cli("predict", "three.wav", "--params", tmp_path / "old.yaml", cwd=project)
    one_line_error(result, "has no paths.cnn_stamp_settings", "recompose it with `speech-mnist params`")


@pytest.mark.parametrize("option, value", [("--count", "-1"), ("--count", "0"), ("--count", "two"),
                                           ("--seconds", "-1"), ("--seconds", "0"), ("--seconds", "nan")])
def test_listen_refuses_counts_and_seconds_that_mean_nothing(project, option, value):
    one_line_error(run_cli("listen", option, value, cwd=project), option)


def test_inspect_and_listen_outside_a_project_are_one_line(tmp_path, project):
    one_line_error(run_cli("inspect", project / "three.wav", cwd=tmp_path), "no dvc.yaml")
    one_line_error(run_cli("listen", cwd=tmp_path), "no dvc.yaml")
    one_line_error(run_cli("listen", cwd=project), "no stamps at", "dvc repro")  # the project has no stamps yet


def test_a_truncated_wav_is_recognised_with_a_warning(project, tmp_path):
    whole = (project / "three.wav").read_bytes()
    (tmp_path / "cut.wav").write_bytes(whole[: len(whole) * 3 // 4])
    result = run_cli("predict", tmp_path / "cut.wav", cwd=project)
    assert result.returncode == 0 and "word(s)" in result.stdout, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "truncated" in warnings[0] and "75%" in warnings[0]


def test_very_quiet_audio_is_recognised_with_a_warning(project, tmp_path):
    samples, rate = sf.read(project / "three.wav", dtype="float32")
    sf.write(tmp_path / "quiet.flac", samples / np.abs(samples).max() * 10 ** (-70 / 20), rate, subtype="PCM_24")
    result = run_cli("predict", tmp_path / "quiet.flac", "--json", cwd=project)
    assert result.returncode == 0 and '"word"' in result.stdout, result.stderr
    assert "warning: very quiet: peak -70 dBFS" in result.stderr
    assert '"very quiet' in result.stdout  # --json carries it too


def test_a_whole_wav_gets_no_warning(project):
    result = run_cli("predict", "three.wav", cwd=project)
    assert result.returncode == 0 and "warning" not in result.stderr


def test_many_files_in_one_call_give_what_each_gives_alone(project, tmp_path):
    """predict batches the words of many files through the model: the same words and scores as
    one file at a time, in the files' order, with an unreadable file in between reported alone."""
    from speech_mnist.config import load_params
    from speech_mnist.recognise import Recogniser

    (tmp_path / "broken.wav").write_bytes(b"RIFF....WAVEjunk")
    sf.write(tmp_path / "silence.wav", np.zeros(RATE), RATE)
    files = [project / "three.wav", tmp_path / "broken.wav", tmp_path / "silence.wav", project / "three.wav"]
    recogniser = Recogniser(load_params(project / "params.yaml"), root=project)
    together = list(recogniser.recognise_all(files))
    alone = [next(recogniser.recognise_all([f], batch_files=1)) for f in files]
    assert [p for p, _ in together] == files
    assert isinstance(together[1][1], Exception) and isinstance(alone[1][1], Exception)
    for (_, a), (_, b) in zip(together, alone):
        if not isinstance(a, Exception):
            assert [(w.word, w.start) for w in a.words] == [(w.word, w.start) for w in b.words]
            assert np.allclose([w.score for w in a.words], [w.score for w in b.words], atol=1e-4)
    assert len(together[0][1].words) == 3 and together[2][1].words == []



@pytest.mark.parametrize("workers", [1, 2])
def test_recordings_cut_by_worker_processes_give_what_one_process_gives(project, tmp_path, monkeypatch, workers):
    """While the models hear one batch, worker processes cut the next: the same words, scores and
    errors, in the files' order, as cutting every file in the main process."""
    from speech_mnist import recognise
    from speech_mnist.config import load_params

    (tmp_path / "broken.wav").write_bytes(b"RIFF....WAVEjunk")
    files = [project / "three.wav", tmp_path / "broken.wav"] * 9  # several batches of 4, and a last short one
    recogniser = recognise.Recogniser(load_params(project / "params.yaml"), root=project)
    pools, streamed = [], recognise.streamed
    monkeypatch.setattr(recognise, "CUT_CHUNK", 3)  # several tasks a batch
    monkeypatch.setattr(recognise, "streamed", lambda *a, **k: pools.append(k["workers"]) or streamed(*a, **k))
    monkeypatch.setattr(recognise, "cutting_workers", lambda files: workers)
    pooled = list(recogniser.recognise_all(files, batch_files=7))
    assert pools == [workers]  # the batches of 7, 7 and 3 after the first file, cut by `workers` processes
    monkeypatch.setattr(recognise, "cutting_workers", lambda files: 0)
    alone = list(recogniser.recognise_all(files, batch_files=7))
    assert [p for p, _ in pooled] == [p for p, _ in alone] == files
    for (_, a), (_, b) in zip(pooled, alone):
        assert str(a) == str(b) if isinstance(a, Exception) else a == b


def test_more_mistakes_are_one_line(project, tmp_path):
    one_line_error(run_cli("record", "--speaker", "bob_smith", cwd=project), "without '_'")
    (tmp_path / "broken.npz").write_bytes(b"PK\x03\x04 broken")
    one_line_error(run_cli("listen", "--stamps", tmp_path / "broken.npz", cwd=project), "not a stamps dataset")
    old = tmp_path / "old.yaml"
    old.write_text((project / "params.yaml").read_text().split("corpus:")[0].replace("paths:", "other:") + "corpus: {}\n")
    one_line_error(run_cli("predict", "three.wav", "--params", old, cwd=project), "recompose it")
    (tmp_path / "bad.yaml").write_text("corpus: [unclosed\n")
    one_line_error(run_cli("predict", "three.wav", "--params", tmp_path / "bad.yaml", cwd=project), "not valid YAML")


def test_params_composes_into_the_project_from_a_folder_inside_it(project):
    before = (project / "params.yaml").read_text()
    (project / "params.yaml").unlink()
    try:
        result = run_cli("params", "train.epochs=2", "corpus.voices.count=4", cwd=project / "deep" / "er")
        assert result.returncode == 0, result.stderr
        assert "epochs: 2" in (project / "params.yaml").read_text()
    finally:
        (project / "params.yaml").write_text(before)
