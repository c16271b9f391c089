"""Resampling: librosa's soxr_hq result, without importing librosa."""

import subprocess
import sys

import librosa
import numpy as np
import pytest

from conftest import REPO
from speech_mnist.audio import resample


@pytest.mark.parametrize("rate,target", [(8000, 16000), (16000, 8000), (44100, 8000), (8000, 8000)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("length", [1, 999, 8001])
def test_resample_gives_librosas_bytes(rate, target, dtype, length):
    samples = np.random.default_rng(length).standard_normal(length).astype(dtype)
    expected = librosa.resample(samples, orig_sr=rate, target_sr=target, res_type="soxr_hq")
    kept = resample(samples, rate, target, dtype=None)
    assert kept.dtype == dtype and kept.tobytes() == expected.tobytes()
    assert resample(samples, rate, target).tobytes() == expected.astype(np.float32).tobytes()


def test_finding_words_and_their_embedding_input_need_no_librosa():
    """librosa's first call imports scipy.signal, about 2 s: the segment stage, train_cnn's
    augmentation and predict paid it for nothing, for a resampler and a spectrogram."""
    code = ("import sys, numpy as np\n"
            "from speech_mnist.config import compose_params\n"
            "from speech_mnist.segment import locate_words\n"
            "from speech_mnist.stamps import embedding_input\n"
            "word = np.sin(np.arange(4000) * 0.3).astype(np.float32) * 0.5\n"
            "recording = np.concatenate([np.zeros(4000, np.float32), word, np.zeros(4000, np.float32)])\n"
            "assert len(locate_words(recording, 8000, compose_params()['segment']).spans) == 1\n"
            "pcm = embedding_input(word, 8000, 1.0)\n"
            "assert pcm.shape == (16000,) and pcm.dtype == np.int16\n"
            "print(sorted(m for m in sys.modules if m.startswith('librosa')))")
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip() == "[]"


def test_a_folder_given_as_a_recording_is_named_as_a_folder(tmp_path):
    from speech_mnist.audio import BadAudio, read_audio

    with pytest.raises(BadAudio, match=r"^a folder, not a recording: name its files"):
        read_audio(tmp_path, 8000)
