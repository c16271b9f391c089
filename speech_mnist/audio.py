"""Reading, normalising and writing audio. Inputs are only ever read, never changed."""

import struct
from pathlib import Path

import numpy as np
import soundfile as sf

from .errors import first_line

QUIET_DBFS = -60.0  # a peak below this is a microphone turned down or unplugged, not speech
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif", ".au")


class BadAudio(ValueError):
    """A file that cannot be used as a recording; the message is the reason shown to the user."""


def read_audio(path: str | Path, sample_rate: int) -> np.ndarray:
    """Mono float32 samples at `sample_rate`, from any format and rate libsndfile reads.

    Raises BadAudio with a one-line reason for empty, corrupt or non-audio files.
    """
    path = Path(path)
    if path.is_dir():
        raise BadAudio("a folder, not a recording: name its files (e.g. folder/*.wav)")
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


def load(path: str | Path, audio: dict) -> tuple[np.ndarray, list[str]]:
    """A recording as the pipeline hears it: mono at audio["sample_rate"], its peak at
    audio["peak_dbfs"]; and what is odd about it (truncated, very quiet). BadAudio if unusable."""
    raw = read_audio(path, audio["sample_rate"])
    return normalise_level(raw, audio["peak_dbfs"]), warnings_about(Path(path), raw)


def resample(samples: np.ndarray, rate: int, target: int, dtype=np.float32) -> np.ndarray:
    """`samples` at `target` Hz, as `dtype` (None: theirs): what librosa.resample gives with its
    default soxr_hq, called without librosa, whose first call imports scipy.signal (~2 s a process)."""
    import soxr

    dtype = dtype or samples.dtype
    if rate == target:
        return samples.astype(dtype)
    length = int(np.ceil(len(samples) * target / rate))  # librosa's fixed length: padded or cut to it
    found = soxr.resample(samples, rate, target, quality="soxr_hq")[:length]
    return np.pad(found, (0, length - len(found))).astype(dtype)


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


def warnings_about(path: Path, samples: np.ndarray) -> list[str]:
    """What is odd about a recording that can still be used: one line each."""
    warnings = []
    held = wav_data_held(path)
    if held is not None and held < 1:
        warnings.append(f"truncated: the file holds {held:.0%} of the samples its header promises")
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    peak_dbfs = 20 * np.log10(peak) if peak else -np.inf
    if peak_dbfs < QUIET_DBFS:
        warnings.append(f"very quiet: peak {peak_dbfs:.0f} dBFS (below {QUIET_DBFS:.0f}): check the microphone's level")
    return warnings


def wav_data_held(path: Path) -> float | None:
    """For a WAV file, the share of the sample bytes its header promises that the file really holds
    (libsndfile reads a cut-off file without a word); None for other formats or an unknown size."""
    size = Path(path).stat().st_size
    with open(path, "rb") as f:
        if f.read(12)[8:12] != b"WAVE":
            return None
        while len(chunk := f.read(8)) == 8:
            name, length = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if name == b"data":
                return None if length in (0, 0xFFFFFFFF) else min(1.0, (size - f.tell()) / length)
            f.seek(length + (length & 1), 1)  # chunks are padded to an even length
    return None

