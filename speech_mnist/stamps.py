"""Stamps: every word as a fixed-size image (a log spectrogram, or pretrained speech embeddings), and their datasets."""

import functools
import json
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

if TYPE_CHECKING:  # the tables come from callers: predict makes stamps without paying pandas's import
    import pandas as pd

from . import embedding
from .audio import resample
from .errors import ConfigError, ModelMismatch, ModelUnreadable, first_line
from .files import load_npz, save_npz

# The provenance columns stored beside each stamp.
PROVENANCE = ["word", "path", "recording", "speaker", "take", "split"]
# What a features dataset holds for each word instead of a stamp (models.outputs): the CNN's
# probabilities, and every kind of features a transfer (or the speaker model) can read.
LOGITS = "logits"        # the layer whose outputs the transfer SVM reads, as the workshop did
EMBEDDING = "embedding"  # the CNN's penultimate layer
CONV = "conv"            # the last convolution block's maps: what the CNN hears, before it picks a digit
STAMP = "stamp"          # the CNN's input itself, flattened: what the stamp (a pretrained embedding) knows
TRANSFER_FEATURES = (LOGITS, EMBEDDING, CONV, STAMP)
FEATURES = ("probabilities", *TRANSFER_FEATURES)


def stamp_settings(params: dict) -> dict:
    """Every setting that decides how a word becomes a stamp, flat: {"audio.sample_rate": 8000,
    "segment.pad_s": 0.15, "stamp.feature": "pretrained", ...} (the pad is the margin cut around
    each word, and a stamp stretches word and margin alike). Two settings can make stamps of one
    shape (fbank and mel at 32x64), so predict compares these, not only the shape, with what the
    CNN was trained on. Each is a param of train_cnn in dvc.yaml, so that the file is made anew
    whenever one changes."""
    return {"audio.sample_rate": params["audio"]["sample_rate"], "segment.pad_s": params["segment"]["pad_s"],
            **{f"stamp.{key}": value for key, value in params["stamp"].items()}}


def save_stamp_settings(path: Path, params: dict) -> None:
    """The stamp settings beside the CNN (paths.cnn_stamp_settings), for check_stamp_settings."""
    Path(path).write_text(json.dumps(stamp_settings(params), indent=2) + "\n")


def check_stamp_settings(path: Path, params: dict, model: Path) -> None:
    """ModelMismatch, naming each setting that differs, when params.yaml would make stamps another
    way than the CNN (`model`) was trained on: params composed anew and no `dvc repro` since."""
    try:
        trained_on = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:  # ValueError: not JSON, or not text
        raise ModelUnreadable(f"{path} cannot be read ({first_line(error)}): run `dvc repro` to make it anew") from None
    if not isinstance(trained_on, dict):
        raise ModelUnreadable(f"{path} holds no stamp settings: run `dvc repro` to make it anew")
    now = stamp_settings(params)
    changed = [f"{key} {trained_on.get(key, 'unset')} -> {now.get(key, 'unset')}"
               for key in sorted(set(trained_on) | set(now)) if trained_on.get(key) != now.get(key)]
    if changed:
        raise ModelMismatch(f"{model} was trained on other stamps than params.yaml's settings make "
                            f"({', '.join(changed)}): run `dvc repro` to train it anew")


# Words go through the embedding this many at a time: one call per word costs far more than
# the model, and a bounded batch keeps memory flat however many words there are.
EMBED_BATCH = 256


def embedding_input(samples: np.ndarray, sample_rate: int, seconds: float) -> np.ndarray:
    """The word at 16 kHz, centred in `seconds` of silence, as the 16-bit PCM the model reads."""
    audio = resample(samples, sample_rate, embedding.RATE, dtype=None)
    length = int(seconds * embedding.RATE)
    start = max(0, (len(audio) - length) // 2)  # a longer word keeps its middle
    audio = audio[start:start + length]
    before = (length - len(audio)) // 2
    audio = np.pad(audio, (before, length - len(audio) - before))
    peak = np.abs(audio).max()
    return (audio * (0.5 * 32767 / peak if peak > 0 else 0)).astype(np.int16)


def pretrained_features(words: list[np.ndarray], sample_rate: int, seconds: float) -> np.ndarray:
    """(words, 96, windows) speech embeddings of each word centred in `seconds` of silence.

    The embedding model learned from far more speakers than a few-speaker corpus has, so
    voices and accents the CNN never heard are already close to ones it did.
    """
    batches = []
    for first in range(0, len(words), EMBED_BATCH):
        pcm = np.stack([embedding_input(w, sample_rate, seconds) for w in words[first:first + EMBED_BATCH]])
        batches.append(embedding.embed(pcm).transpose(0, 2, 1))
    return np.concatenate(batches)


def features(samples: np.ndarray, sample_rate: int, stamp: dict) -> np.ndarray:
    """(bands, frames) time-frequency features of a word, frames at its natural length."""
    import librosa

    if stamp["feature"] == "pretrained":
        return pretrained_features([samples], sample_rate, stamp["seconds"])[0]
    hop = int(sample_rate * stamp["hop_ms"] / 1000)
    kind = stamp["feature"]
    samples = np.pad(samples, (0, max(0, stamp["n_fft"] - len(samples))))
    if kind == "mfcc":
        return librosa.feature.mfcc(y=samples, sr=sample_rate, n_mfcc=stamp["bands"],
                                    n_fft=stamp["n_fft"], hop_length=hop, n_mels=max(40, stamp["bands"]))
    mel = librosa.feature.melspectrogram(y=samples, sr=sample_rate, n_fft=stamp["n_fft"], hop_length=hop,
                                         n_mels=stamp["bands"], htk=kind == "fbank", power=2.0)
    if kind == "fbank":
        return np.log(mel + 1e-6)  # log filterbank energies, as python_speech_features' logfbank
    if kind == "mel":
        return librosa.power_to_db(mel, ref=np.max, top_db=80.0)
    raise ConfigError(f"unknown stamp.feature {kind!r}: use fbank, mel, mfcc or pretrained")


VOICEPRINT_BANDS = 64


class VoiceprintPart(NamedTuple):
    """One average spectrum of the print: its window, how its frames are averaged, its weight."""
    seconds: float
    average: str  # "mean_log": every loud frame alike | "log_mean_power": the loudest (the vowels) weigh most
    weight: float


# A long window resolves a voice's harmonics, a short one the smoother envelope of its formants.
# For word_voice, the default speaker features, each part beside the first told speakers apart
# better on FSDD validation takes, most at k5 and k10 (bench/accuracy.py --only speakers
# --speaker-test-takes 5,6,7,8,9; figures in conf/speakers/default.yaml).
VOICEPRINT_PARTS = (VoiceprintPart(0.064, "mean_log", 1.0), VoiceprintPart(0.032, "mean_log", 0.5),
                    VoiceprintPart(0.064, "log_mean_power", 0.6))
# What a speaker model learned from: a model made from any other print is refused, not misread
# (change it whenever voiceprint() changes)
VOICEPRINT_SIZE = VOICEPRINT_BANDS * len(VOICEPRINT_PARTS)  # numbers in one print
VOICEPRINT_LAYOUT = (f"average {VOICEPRINT_BANDS}-band log-mel spectra: "
                     + ", ".join(f"{p.seconds * 1000:g} ms {p.average} x{p.weight:g}" for p in VOICEPRINT_PARTS))


def voiceprint(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """(64 x parts,) who speaks rather than what: the word's average spectrum in each of the ways
    VOICEPRINT_PARTS lists, side by side, each times its weight (one spectrogram per window)."""
    frames = {seconds: loud_frames(samples, sample_rate, seconds) for seconds in {p.seconds for p in VOICEPRINT_PARTS}}
    return np.concatenate([part.weight * average_spectrum(*frames[part.seconds], part.average)
                           for part in VOICEPRINT_PARTS]).astype(np.float32)


def loud_frames(samples: np.ndarray, sample_rate: int, window_s: float) -> tuple[np.ndarray, float]:
    """(64, frames) mel power of the word's loud frames, from `window_s` windows, and the floor
    added before taking logs (relative to the word: the same print at any level). Loud: within
    20 dB of the loudest frame, the voice and not the room around the word."""
    import librosa

    window = round(window_s * sample_rate)
    samples = np.pad(samples, (0, max(0, window - len(samples))))
    # librosa.feature.melspectrogram's sum, without its cost: it builds the filters anew on every
    # call and multiplies through einsum on a strided view, 4-6 ms a word where this takes 0.6
    power = np.abs(librosa.stft(samples, n_fft=window, hop_length=window // 8)) ** 2
    mel = mel_filters(sample_rate, window, VOICEPRINT_BANDS) @ power
    floor = 1e-8 * mel.max() + 1e-30
    loudness = np.log(mel.sum(axis=0) + floor)
    return mel[:, loudness >= loudness.max() - np.log(100)], floor


@functools.lru_cache(maxsize=16)
def mel_filters(sample_rate: int, n_fft: int, bands: int) -> np.ndarray:
    """(bands, n_fft // 2 + 1) HTK mel filters, built once for each size."""
    import librosa

    return librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=bands, htk=True)


def average_spectrum(loud: np.ndarray, floor: float, average: str = "mean_log") -> np.ndarray:
    """(bands,) a long-term average spectrum of loud frames (vocal tract and voice, whatever the
    word), with the overall level taken out: each band's mean log ("mean_log"), or the log of its
    mean power ("log_mean_power"). Fine bands tell speakers apart where coarse ones did not, and
    the bands' spread over the word says more of the word than of who says it (FSDD validation
    takes: bench/accuracy.py --only speakers --speaker-test-takes 5,6,7,8,9)."""
    if average == "log_mean_power":
        mean = np.log(loud.mean(axis=1) + floor)
    elif average == "mean_log":
        mean = np.log(loud + floor).mean(axis=1)
    else:
        raise ValueError(f"average must be mean_log or log_mean_power, not {average!r}")
    return mean - mean.mean()  # shape, not level


def read_at(image: np.ndarray, positions: np.ndarray, axis: int) -> np.ndarray:
    """`image` read at fractional `positions` along `axis`, each value between its two neighbours."""
    moved = np.moveaxis(image, axis, -1)
    rows = moved.reshape(-1, moved.shape[-1])
    read = np.stack([np.interp(positions, np.arange(rows.shape[1]), row) for row in rows])
    return np.moveaxis(read.reshape(*moved.shape[:-1], len(positions)), -1, axis)


def stretch_frames(image: np.ndarray, frames: int) -> np.ndarray:
    """(bands, n) -> (bands, frames): the time axis stretched or squeezed evenly (as float64)."""
    if image.shape[1] == frames:  # read at 0, 1, 2, ...: the values themselves, without the reading
        return image.astype(np.float64)
    return read_at(image, np.linspace(0, image.shape[1] - 1, frames), axis=1)


def to_stamp(feature: np.ndarray, frames: int, normalise: str = "stamp") -> np.ndarray:
    """Stretch or squeeze the time axis to `frames` and standardise, so level does not matter.

    normalise "stamp": one mean and scale for the whole stamp, as the workshop. "band": each band's
    own mean over the word is removed first (cepstral mean normalisation): a microphone's or a
    voice's fixed colouring adds the same amount to a band in every frame, and goes with it.
    "none": kept as they are (a pretrained stamp's numbers are already on the model's scale).
    """
    stretched = stretch_frames(feature, frames)
    if normalise == "none":
        return stretched.astype(np.float32)
    if normalise == "band":
        stretched = stretched - stretched.mean(axis=1, keepdims=True)
    elif normalise != "stamp":
        raise ConfigError(f"unknown stamp.normalise {normalise!r}: use stamp, band or none")
    return ((stretched - stretched.mean()) / (stretched.std() + 1e-6)).astype(np.float32)


def make_stamp(samples: np.ndarray, sample_rate: int, stamp: dict) -> np.ndarray:
    return to_stamp(features(samples, sample_rate, stamp), stamp["frames"], stamp["normalise"])


def make_stamps(words: list[np.ndarray], sample_rate: int, stamp: dict) -> np.ndarray:
    """(words, bands, frames) stamps: the same as make_stamp on each word, the embedding in batches."""
    if not len(words):
        return np.zeros((0, stamp["bands"], stamp["frames"]), np.float32)
    if stamp["feature"] == "pretrained":
        found = pretrained_features(words, sample_rate, stamp["seconds"])
    else:
        found = [features(w, sample_rate, stamp) for w in words]
    return np.stack([to_stamp(f, stamp["frames"], stamp["normalise"]) for f in found])


def assign_split(words: "pd.DataFrame", split: dict, train_only: set[str] = frozenset()) -> "pd.Series":
    """'train' or 'test' for each word, by speaker or by take, never at random per word.

    `split.test` lists the held-out speakers or takes; when it is null, a seeded choice of
    `split.test_fraction` of them (at least one) is held out. Words of `train_only` speakers
    (synthetic voices added to real speech) always train: every test figure is on real speech.
    """
    by = split["by"]
    if by not in ("speaker", "take"):
        raise ConfigError(f"split.by must be speaker or take, not {by!r}")  # (the stage names the vocab)
    can_test = ~words["speaker"].astype(str).isin(train_only)
    held_out = split.get("test")
    if held_out is None:
        values = sorted(words.loc[can_test, by].unique())
        count = max(1, int(round(len(values) * split["test_fraction"])))
        if count >= len(values):
            raise ConfigError(f"split.test_fraction: holding out {split['test_fraction']} of {len(values)} {by}(s) "
                              "would leave none to train on")
        rng = np.random.default_rng(split.get("seed", 0))
        held_out = [values[i] for i in sorted(rng.choice(len(values), count, replace=False))]
    held_out = {str(v) for v in held_out}
    return (words[by].astype(str).isin(held_out) & can_test).map({True: "test", False: "train"})


def save_dataset(path: Path, stamps: np.ndarray, words: "pd.DataFrame", vocab_words: list[str],
                 voiceprints: np.ndarray | None = None) -> None:
    """A vocab's stamps with integer labels, the vocab's word list, provenance columns and
    (for who is speaking) each word's voiceprint."""
    labels = words["word"].map({w: i for i, w in enumerate(vocab_words)}).to_numpy(np.int64)
    columns = {c: words[c].to_numpy().astype(str if c != "take" else np.int64) for c in PROVENANCE}
    extra = {} if voiceprints is None else {"voice": voiceprints.astype(np.float32, copy=False)}
    save_npz(path, x=stamps.astype(np.float32, copy=False), y=labels, vocab=np.array(vocab_words), **columns, **extra)


def load_split(path: Path, split: str, array: str = "x") -> tuple[np.ndarray, np.ndarray, dict]:
    """Stamps (n, bands, frames, 1), labels and provenance of one split of a vocab's dataset.

    From a features dataset (data/features/), `array` names what to return instead of stamps:
    probabilities, logits, embedding, conv or stamp (the stamp flattened).
    """
    # only the array asked for: a features dataset's conv maps alone are 600 MB at 100k words
    data = load_npz(path, leave_out=tuple(k for k in (*FEATURES, "x", "voice") if k != array))
    keep = data["split"] == split
    info = {k: v[keep] for k, v in data.items() if k not in (*FEATURES, "x", "y", "vocab", "voice")}
    info["vocab"] = [str(w) for w in data["vocab"]]
    found = data[array][keep]
    return (found[..., None] if array == "x" else found), data["y"][keep], info


def save_features(path: Path, dataset: dict, features: dict[str, np.ndarray]) -> None:
    """A vocab's dataset with the CNN's outputs (FEATURES) in place of its stamps."""
    kept = {k: v for k, v in dataset.items() if k not in ("x", "voice")}
    save_npz(path, **kept, **features)
