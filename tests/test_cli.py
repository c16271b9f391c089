"""The speech-mnist command line."""

import subprocess
import sys

import pytest
import yaml

from conftest import REPO, compose


@pytest.mark.parametrize("command", [[], ["params"], ["ui"], ["predict"], ["inspect"], ["listen"], ["record"]])
def test_every_command_has_help(command):
    result = subprocess.run([sys.executable, "-m", "speech_mnist", *command, "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "usage: speech-mnist" in result.stdout


def test_params_composes_conf_with_overrides(tmp_path):
    out = tmp_path / "params.yaml"
    subprocess.run([sys.executable, "-m", "speech_mnist", "params", "stamp=mfcc", "model=cnn", "train.epochs=3",
                    "--conf", str(REPO / "conf"), "--output", str(out)], check=True, capture_output=True)
    written = yaml.safe_load(out.read_text())
    assert written == compose(["stamp=mfcc", "model=cnn", "train.epochs=3"])
    assert written["stamp"]["feature"] == "mfcc" and written["train"]["epochs"] == 3


def test_params_rejects_an_unknown_option(tmp_path):
    result = subprocess.run([sys.executable, "-m", "speech_mnist", "params", "model=huge", "--conf", str(REPO / "conf"),
                             "--output", str(tmp_path / "p.yaml")], capture_output=True, text=True)
    assert result.returncode != 0 and "model/huge" in result.stderr
    assert not (tmp_path / "p.yaml").exists()


@pytest.mark.parametrize("override, said", [
    ("train.epoch=5", "Could not override 'train.epoch'. To append to your config use +train.epoch=5"),
    ("train.epochs=0", "train.epochs must be a whole number, 1 or more, not 0"),
    ("model=huge", "In 'config': Could not find 'model/huge'; available options in 'model': cnn, cnn_lstm, folder, fsdd, mixed, synthetic, time_conv, workshop"),
])
def test_params_names_a_mistyped_key_or_an_impossible_number_in_one_line_and_writes_nothing(tmp_path, override, said):
    result = subprocess.run([sys.executable, "-m", "speech_mnist", "params", override, "--conf", str(REPO / "conf"),
                             "--output", str(tmp_path / "p.yaml")], capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr == f"speech-mnist params: {said}\n"
    assert not (tmp_path / "p.yaml").exists()


def test_stdout_is_open_until_its_pipe_has_no_reader(monkeypatch):
    import os

    from speech_mnist.cli import stdout_is_open

    read, write = os.pipe()
    with os.fdopen(write, "w") as pipe:
        monkeypatch.setattr(sys, "stdout", pipe)
        assert stdout_is_open()
        os.close(read)
        assert not stdout_is_open()
