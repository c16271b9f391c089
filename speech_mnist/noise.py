"""The room: background noise (real clips, synthetic room tone) mixed under speech, and reverberation.

The corpus builders put noise under whole recordings; augmentation puts noise and echo on
single training words; bench/robustness.py on test words.
"""

from pathlib import Path

import numpy as np

from .audio import is_audio_name, read_audio
from .config import resolve_path
from .errors import CorpusMissing


def load_noise(folder: Path, rate: int) -> list[np.ndarray]:
    """The background clips of a folder, at `rate`, without the digital silence padding their ends.

    Left in, a stretch of exact zeros would be quieter than any room, and the noise before it
    would stand out like a word.
    """
    paths = sorted(p for p in folder.iterdir() if is_audio_name(p)) if folder.is_dir() else []
    clips = [strip_zeros(read_audio(p, rate)) for p in paths]
    clips = [clip for clip in clips if clip.size]
    if not clips:
        raise CorpusMissing(f"no noise clips in {folder} (corpus.noise)")
    return clips


def strip_zeros(samples: np.ndarray) -> np.ndarray:
    nonzero = np.flatnonzero(samples)
    return samples[nonzero[0]:nonzero[-1] + 1] if nonzero.size else samples[:0]


def room_tone(length: int, rate: int, rng: np.random.Generator) -> np.ndarray:
    """Synthetic background: pink-ish noise plus a faint mains hum, for a corpus without room noise."""
    white = rng.standard_normal(length)
    pink = np.cumsum(white) * 0.02 + white  # a random walk adds low-frequency weight
    pink -= np.convolve(pink, np.ones(401) / 401, mode="same")  # but no drift
    hum = 0.3 * np.sin(2 * np.pi * 50 * np.arange(length) / rate)
    return (pink / np.std(pink) + hum).astype(np.float32)


def noise_clips(corpus: dict, rate: int, seed: int) -> list[np.ndarray]:
    """Room noise for a corpus's recordings and for augmentation: the corpus's noise folder, or
    else 5 s of synthetic room tone."""
    if corpus.get("noise"):
        return load_noise(resolve_path(corpus["noise"]), rate)
    return [room_tone(rate * 5, rate, np.random.default_rng(seed))]


def fit_noise(noise: np.ndarray, length: int, rng: np.random.Generator) -> np.ndarray:
    """A stretch of `noise` of the given length, from a random offset, looped if too short."""
    return loop_noise(noise, length, int(rng.integers(0, len(noise))))


def loop_noise(noise: np.ndarray, length: int, offset: int) -> np.ndarray:
    """A stretch of `noise` of the given length from `offset`, looped if too short.

    Each loop is faded in and out over 10 ms so that the seams do not click.
    """
    reps = int(np.ceil((offset + length) / len(noise)))
    fade = min(len(noise) // 2, 80)
    if fade:
        ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
        noise = noise.copy()
        noise[:fade] *= ramp
        noise[-fade:] *= ramp[::-1]
    return np.tile(noise, reps)[offset:offset + length].astype(np.float32)


def mix_noise(samples: np.ndarray, noise: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """`samples` with a random stretch of `noise` at the given signal-to-noise ratio."""
    offset = int(rng.integers(0, len(noise)))
    stretch = np.resize(np.roll(noise, -offset), len(samples))
    scale = np.sqrt(np.mean(samples**2) / (np.mean(stretch**2) + 1e-12) / 10 ** (snr_db / 10))
    return (samples + scale * stretch).astype(np.float32)


def room_impulse(rate: int, rt60_s: float, rng: np.random.Generator, direct_to_reverb_db: float = 0.0) -> np.ndarray:
    """A simulated room's impulse response: the direct sound, then a tail of echoes that dies
    away by 60 dB in `rt60_s` (exponentially decaying noise, the statistical model of a room)."""
    t = np.arange(int(rt60_s * rate)) / rate
    tail = rng.standard_normal(len(t)) * np.exp(-np.log(1000) * t / rt60_s)
    tail *= 10 ** (-direct_to_reverb_db / 20) / (np.linalg.norm(tail) + 1e-12)
    tail[0] += 1.0
    return tail


def reverberate(samples: np.ndarray, impulse: np.ndarray) -> np.ndarray:
    """`samples` as heard in the room of `impulse`, at the same length and loudness (RMS)."""
    from scipy.signal import fftconvolve

    wet = fftconvolve(samples, impulse)[:len(samples)]
    scale = np.sqrt(np.mean(samples**2) / (np.mean(wet**2) + 1e-12))
    return (wet * scale).astype(np.float32)


# --- sounds that are not words -----------------------------------------------------------------


def nonspeech(rate: int, rng: np.random.Generator, room: np.ndarray) -> np.ndarray:
    """One short sound that is not speech, in a stretch of `room` noise: what the segmenter also
    cuts out of real recordings (a knock, a cough, a beep, dishes, a fan starting), for the
    "unknown" class. Each kind is a crude model of many real sounds; together they tell the CNN
    that a sound being loud is not a reason to be a word."""
    seconds = rng.uniform(0.15, 0.9)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    kind = rng.integers(4)
    if kind == 0:  # a burst of coloured noise: knocks, doors, breath, coughs
        sound = _coloured_noise(n, rng.uniform(-2.0, 1.0), rng)
    elif kind == 1:  # a tone with harmonics, maybe gliding: beeps, whistles, hums, a cat
        f0 = rng.uniform(80, 1200) * np.exp(rng.uniform(-0.5, 0.5) * t / seconds)
        phase = 2 * np.pi * np.cumsum(f0) / rate
        sound = sum(rng.uniform(0, 1) / k * np.sin(k * phase) for k in range(1, 6))
    elif kind == 2:  # clicks: keys, dishes, footsteps
        sound = np.zeros(n)
        clicks = rng.integers(0, n, size=int(rng.integers(2, 12)))
        sound[clicks] = rng.uniform(-1, 1, size=len(clicks))
        sound = np.convolve(sound, _coloured_noise(int(0.01 * rate), 0.0, rng) * np.hanning(int(0.01 * rate)),
                            mode="same")
    else:  # the room itself, louder: a fan, traffic, a tap running
        sound = fit_noise(room, n, rng).astype(np.float64)
    attack, decay = rng.uniform(0.002, 0.1), rng.uniform(0.05, seconds)
    envelope = np.minimum(1.0, t / attack) * np.exp(-np.maximum(0.0, t - attack) / decay * rng.uniform(0, 3))
    sound = sound * envelope
    sound /= np.abs(sound).max() + 1e-12
    pad = int(0.15 * rate)  # room noise around it, as the segmenter cuts a word with its padding
    heard = np.concatenate([np.zeros(pad), sound, np.zeros(pad)])
    background = fit_noise(room, len(heard), rng)
    scale = np.sqrt(np.mean(sound**2) / (np.mean(background**2) + 1e-12) / 10 ** (rng.uniform(10, 35) / 10))
    heard = heard + scale * background
    return (0.5 * heard / np.abs(heard).max()).astype(np.float32)


def _coloured_noise(n: int, slope: float, rng: np.random.Generator) -> np.ndarray:
    """Noise whose power falls (slope < 0) or rises with frequency: f ** slope."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.maximum(np.arange(len(spectrum)), 1.0)
    return np.fft.irfft(spectrum * freqs ** (slope / 2), n)
