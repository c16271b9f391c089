"""record (with a stand-in microphone that plays back a file), inspect and listen."""

import subprocess
import sys
from argparse import Namespace

import numpy as np
import pytest
import soundfile as sf

from conftest import REPO, make_workspace
from speech_mnist.cli import cmd_record
from speech_mnist.files import save_npz
from speech_mnist.record import NoAudioDevice, audio_backend, check_input, next_take

RATE = 8000


class PlaybackMicrophone:
    """sounddevice's device layer, replaced: rec() 'records' a file's samples."""

    def __init__(self, path, inputs=1):
        self.samples, _ = sf.read(path, dtype="float32")
        self.inputs = inputs
        self.calls = []

    def query_devices(self):
        return [{"name": "playback", "max_input_channels": self.inputs}]

    def rec(self, frames, samplerate, channels, dtype):
        self.calls.append((frames, samplerate, channels))
        return np.resize(self.samples, frames).reshape(-1, channels)

    def wait(self):
        pass


@pytest.fixture
def spoken_file(tmp_path):
    from test_bad_input import spoken
    from speech_mnist.audio import resample

    samples, rate = spoken(["cat", "dog", "fox", "bird"])
    path = tmp_path / "source.wav"
    sf.write(path, resample(samples, rate, RATE), RATE)
    return path


def record_args(tmp_path, **overrides):
    return Namespace(**{"project": str(REPO), "params": str(REPO / "params.yaml"), "vocab": "animals", "speaker": "ann", "takes": 2,
                        "seconds": 0.01, "folder": str(tmp_path / "raw"), **overrides})


def test_record_writes_numbered_takes_of_what_the_microphone_heard(tmp_path, spoken_file, capsys):
    microphone = PlaybackMicrophone(spoken_file)
    assert cmd_record(record_args(tmp_path), backend=microphone) == 0
    written = sorted(p.name for p in (tmp_path / "raw").iterdir())
    assert written == ["animals_ann_0.wav", "animals_ann_1.wav"]
    assert microphone.calls == [(int(4 * 0.01 * RATE), RATE, 1)] * 2
    heard, rate = sf.read(tmp_path / "raw" / "animals_ann_1.wav", dtype="float32")
    source, _ = sf.read(spoken_file, dtype="float32")
    assert rate == RATE and np.allclose(heard, source[:len(heard)], atol=1e-4)
    assert "say: cat" in capsys.readouterr().out
    assert next_take(tmp_path / "raw", "animals", "ann") == 2


def test_record_without_a_microphone_says_so(tmp_path, spoken_file, capsys):
    with pytest.raises(NoAudioDevice, match="no audio input device"):
        check_input(PlaybackMicrophone(spoken_file, inputs=0))
    try:
        audio_backend()
        pytest.skip("this machine has a microphone")
    except NoAudioDevice:
        pass
    result = subprocess.run([sys.executable, "-m", "speech_mnist", "record", "--speaker", "ann", "--params",
                             str(REPO / "params.yaml"), "--folder", str(tmp_path / "raw")],
                            capture_output=True, text=True, timeout=60)
    # this machine has no microphone: a clear one-line message, nothing written
    assert result.returncode == 2 and "speech-mnist record:" in result.stderr
    assert not (tmp_path / "raw").exists()


def test_inspect_draws_the_recording_and_lists_its_words(tmp_path, spoken_file):
    out = tmp_path / "view.png"
    result = subprocess.run([sys.executable, "-m", "speech_mnist", "inspect", str(spoken_file), "-o", str(out),
                             "--params", str(REPO / "params.yaml")], capture_output=True, text=True, check=True)
    assert result.stdout.startswith("4 words")
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_listen_rebuilds_audible_words_from_stamps(tmp_path):
    from speech_mnist.config import write_params
    from speech_mnist.stamps import make_stamp
    from test_bad_input import spoken
    from speech_mnist.audio import resample
    from conftest import compose

    samples, rate = spoken(["fox"])
    word = resample(samples, rate, RATE)
    stamp = make_stamp(word, RATE, compose(["preset=fbank"])["stamp"])
    save_npz(tmp_path / "s.npz", x=stamp[None], word=np.array(["fox"]))
    params = write_params(["preset=fbank"], REPO / "conf", tmp_path / "params.yaml")
    out = tmp_path / "fox.wav"
    subprocess.run([sys.executable, "-m", "speech_mnist", "listen", "--stamps", str(tmp_path / "s.npz"), "--word", "fox",
                    "-o", str(out), "--params", str(params)], check=True, capture_output=True)
    audio, rate = sf.read(out)
    assert rate == RATE and len(audio) > 0.5 * RATE and np.std(audio) > 0.01


def test_listen_to_embedding_stamps_rebuilds_each_words_own_spectrogram(tmp_path):
    """An embedding holds no sound: listen reads the word file the stamp came from instead."""
    from speech_mnist.audio import resample, write_wav
    from speech_mnist.config import compose_params, write_params
    from test_bad_input import spoken

    project = make_workspace(tmp_path / "project")
    params = compose_params([], project / "conf")
    samples, rate = spoken(["fox"])
    word_dir = project / params["paths"]["words"] / "animals"
    word_dir.mkdir(parents=True)
    write_wav(word_dir / "fox_0.wav", resample(samples, rate, RATE), RATE)
    embeddings = np.zeros((1, 96, 3), np.float32)
    save_npz(tmp_path / "s.npz", x=embeddings, word=np.array(["fox"]), path=np.array(["animals/fox_0.wav"]))
    out = tmp_path / "fox.wav"
    subprocess.run([sys.executable, "-m", "speech_mnist", "listen", "--stamps", str(tmp_path / "s.npz"),
                    "-o", str(out)], cwd=project, check=True, capture_output=True)
    audio, _ = sf.read(out)
    assert len(audio) > 0.5 * RATE and np.std(audio) > 0.01

    save_npz(tmp_path / "bare.npz", x=embeddings, word=np.array(["fox"]))  # no provenance: nothing to hear
    result = subprocess.run([sys.executable, "-m", "speech_mnist", "listen", "--stamps", str(tmp_path / "bare.npz"),
                             "-o", str(tmp_path / "bare.wav")], cwd=project, capture_output=True, text=True)
    assert result.returncode == 2 and "no sound to rebuild" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "bare.wav").exists()


def test_stamp_to_audio_refuses_embeddings_from_python_too():
    from speech_mnist.views import NoAudio, stamp_to_audio

    with pytest.raises(NoAudio, match="not spectrograms"):
        stamp_to_audio(np.zeros((96, 9), np.float32), RATE, {"feature": "pretrained"}, 0.5)


@pytest.mark.parametrize("what, said", [
    ("folder", "is a folder: name a stamps dataset"),
    ("wav", "is not a stamps dataset: not an .npz archive"),
    ("features", "is not a stamps dataset: it holds no 'x' array"),
])
def test_listen_names_what_is_wrong_with_a_file_that_is_not_a_stamps_dataset(tmp_path, what, said):
    from test_bad_input import spoken

    given = tmp_path / {"folder": "data", "wav": "word.wav", "features": "num.npz"}[what]
    if what == "folder":
        given.mkdir()
    elif what == "wav":
        sf.write(given, *spoken(["fox"]))
    else:  # a features file: the CNN's outputs of each word, no stamps
        save_npz(given, logits=np.zeros((1, 10), np.float32), word=np.array(["fox"]))
    result = subprocess.run([sys.executable, "-m", "speech_mnist", "listen", "--stamps", str(given), "-o",
                             str(tmp_path / "out.wav"), "--params", str(REPO / "params.yaml")], capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.startswith(f"speech-mnist listen: {given} {said}")
    assert result.stderr.count("\n") == 1 and not (tmp_path / "out.wav").exists()


def test_listen_refuses_a_word_length_no_word_has():
    result = subprocess.run([sys.executable, "-m", "speech_mnist", "listen", "--seconds", "1e9"], capture_output=True, text=True)
    assert result.returncode == 2 and "expected at most 10 seconds for a word, got '1e9'" in result.stderr
