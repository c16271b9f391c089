"""Reading, normalising and writing audio. Inputs are only ever read, never changed."""

from pathlib import Path

import numpy as np
import soundfile as sf

from .errors import first_line

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif", ".au")


class BadAudio(ValueError):
    """A file that cannot be used as a recording; the message is the reason shown to the user."""


def read_audio(path: str | Path, sample_rate: int) -> np.ndarray:
    """Mono float32 samples at `sample_rate`, from any format and rate libsndfile reads.

    Raises BadAudio with a one-line reason for empty, corrupt or non-audio files.
    """
    path = Path(path)
    if path.stat().st_size == 0:
        raise BadAudio("empty file (0 bytes)")
    try:
        samples, rate = sf.read(path, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as error:
        raise BadAudio(f"not readable as audio: {first_line(error)}") from None
    if samples.shape[0] == 0:
        raise BadAudio("no samples in file")
    if not np.all(np.isfinite(samples)):
        raise BadAudio("samples contain NaN or infinity")
    mono = samples.mean(axis=1)  # stereo and multichannel: average the channels
    return resample(mono, rate, sample_rate)


def resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    if rate == target:
        return samples.astype(np.float32)
    import librosa

    return librosa.resample(samples, orig_sr=rate, target_sr=target, res_type="soxr_hq").astype(np.float32)


def normalise_level(samples: np.ndarray, peak_dbfs: float) -> np.ndarray:
    """Scale so the loudest sample sits at `peak_dbfs`; silence stays silence."""
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    if peak == 0.0:
        return samples
    return (samples * (10 ** (peak_dbfs / 20) / peak)).astype(np.float32)


def write_wav(path: str | Path, samples: np.ndarray, sample_rate: int) -> None:
    """16-bit PCM WAV; the same samples always give the same bytes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.clip(samples, -1.0, 1.0), sample_rate, subtype="PCM_16", format="WAV")


def is_audio_name(path: Path) -> bool:
    return path.suffix.lower() in AUDIO_SUFFIXES

