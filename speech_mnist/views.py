"""Seeing and hearing what the pipeline sees: the segmentation view and stamps turned back into sound."""

from pathlib import Path

import numpy as np

from .evaluation import save_figure
from .segment import band_energy_db, cut, noise_floor
from .stamps import make_stamp, stretch_frames


def plot_segmentation(samples: np.ndarray, rate: int, spans: list, params: dict, path: Path, title: str) -> None:
    """Waveform, spectrogram and band energy with the detected words, and each word's stamp below."""
    import librosa
    import librosa.display
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    seg, stamp = params["segment"], params["stamp"]
    columns = max(1, len(spans))
    fig = plt.figure(figsize=(max(10, 1.4 * columns), 8))
    grid = fig.add_gridspec(4, columns, height_ratios=[1, 1.4, 1, 1.1])
    wave, spec, energy_ax = (fig.add_subplot(grid[i, :]) for i in range(3))
    times = np.arange(len(samples)) / rate
    wave.plot(times, samples, linewidth=0.4)
    wave.set_xlim(0, times[-1] if len(times) else 1)
    wave.set_title(title)
    power = librosa.power_to_db(np.abs(librosa.stft(samples, n_fft=256, hop_length=64)) ** 2, ref=np.max)
    librosa.display.specshow(power, sr=rate, hop_length=64, x_axis="time", y_axis="hz", ax=spec)
    energy = band_energy_db(samples, rate, seg)
    frames = np.arange(len(energy)) * seg["hop_ms"] / 1000
    energy_ax.plot(frames, energy, linewidth=0.8, label="speech-band energy (dB)")
    energy_ax.plot(frames, noise_floor(energy, seg), linewidth=0.8, label="noise floor")
    energy_ax.set_xlim(wave.get_xlim())
    energy_ax.legend(loc="upper right", fontsize=7)
    for i, (start, end) in enumerate(spans):
        for ax in (wave, spec, energy_ax):
            ax.axvspan(start, end, color="tab:orange", alpha=0.2)
        wave.text((start + end) / 2, wave.get_ylim()[1] * 0.85, str(i + 1), ha="center", fontsize=8)
        stamp_ax = fig.add_subplot(grid[3, i])
        stamp_ax.imshow(make_stamp(cut(samples, rate, (start, end), seg["pad_s"]), rate, stamp), origin="lower",
                        aspect="auto")
        stamp_ax.set_title(f"{i + 1}: {start:.2f}-{end:.2f}s", fontsize=7)
        stamp_ax.axis("off")
    fig.tight_layout()
    save_figure(fig, path)


class NoAudio(ValueError):
    """The stamp holds no spectrogram to rebuild audio from."""


def stamp_to_audio(stamp_image: np.ndarray, rate: int, stamp: dict, seconds: float, range_db: float = 60.0):
    """Griffin-Lim audio from a stamp (bands x frames), stretched back to `seconds`.

    A stamp is standardised, so its loudness is lost: it is read as log power spanning about
    `range_db` dB. MFCC stamps are inverted through librosa's mfcc_to_audio.
    """
    import librosa

    if stamp["feature"] == "pretrained":
        raise NoAudio("pretrained stamps are speech embeddings, not spectrograms: there is no audio to rebuild from them")

    hop = int(rate * stamp["hop_ms"] / 1000)
    frames = max(2, int(round(seconds * rate / hop)))
    stretched = stretch_frames(stamp_image, frames)
    if stamp["feature"] == "mfcc":
        return librosa.feature.inverse.mfcc_to_audio(stretched, n_mels=max(40, stamp["bands"]), sr=rate,
                                                     n_fft=stamp["n_fft"], hop_length=hop)
    scaled = (stretched - stretched.max()) / (np.ptp(stretched) or 1.0) * range_db  # dB below the peak
    magnitude = librosa.feature.inverse.mel_to_stft(librosa.db_to_power(scaled), sr=rate, n_fft=stamp["n_fft"],
                                                     htk=stamp["feature"] == "fbank")
    return librosa.griffinlim(magnitude, n_iter=64, hop_length=hop, n_fft=stamp["n_fft"], random_state=0)
