"""Who is speaking: speaker identification as a second transfer task, from k words per speaker."""

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ConfigError, UserError
from .files import load_npz
from .stamps import FEATURES, VOICEPRINT_LAYOUT
from .unknown import best_words

class SpeakersMissing(UserError, ValueError):
    """No speaker model to use: too few speakers with words on both sides of the split, or a model
    made from another voiceprint or stamp than today's."""


VOICE = "voice"  # the word's voiceprint (stamps.voiceprint): its long-term average spectrum
# The voiceprint less the average voiceprint of the word the CNN heard: what is said shapes a
# short word's spectrum as much as who says it, and taking the word's share out leaves more voice.
# With speakers.stamp_weight, the word's average stamp frame joins the print (less its word's too).
WORD_VOICE = "word_voice"
FROM_VOICEPRINTS = (VOICE, WORD_VOICE)  # the features made from stamps.voiceprint


def average_prints(prints: np.ndarray, labels: np.ndarray, words: int) -> np.ndarray:
    """(words, n): each word's average voiceprint over everyone who said it; a word that nobody
    said gets the average of every print, so that taking it out still takes out the level."""
    means = np.tile(prints.mean(axis=0), (words, 1))
    for word in np.unique(labels):
        means[word] = prints[labels == word].mean(axis=0)
    return means


def average_frame(stamps: np.ndarray) -> np.ndarray:
    """(words, bands): each stamp's mean over its frames, whatever trailing channel axis it has."""
    stamps = np.asarray(stamps)  # summed in float64 as they are: no float64 copy of every stamp
    return stamps.reshape(len(stamps), stamps.shape[1], -1).mean(axis=2, dtype=np.float64)


def spread(prints: np.ndarray, labels: np.ndarray) -> float:
    """How far prints lie from their word's average print: the root mean square distance."""
    means = average_prints(prints, labels, int(labels.max()) + 1)
    return float(np.sqrt(((prints - means[labels]) ** 2).sum(axis=1).mean()))


def stamp_scale(stamps: dict, labels: np.ndarray, weight: float) -> float:
    """What the average stamp frame is multiplied by beside the voiceprint: `weight` times the
    voiceprint's spread over its own, so that the stamp's units (an embedding, log energies) do
    not matter. 0 where the average frame holds nothing: a stamp whose bands each lose their mean
    over the word (stamp.normalise band) averages to zero, and scaled up it would be rounding noise."""
    frames_spread = spread(average_frame(stamps["x"]), labels)
    stamp_level = max(float(np.max(stamps["x"])), -float(np.min(stamps["x"])))  # no copy of every stamp
    if not weight or frames_spread <= 1e-6 * stamp_level:
        return 0.0
    return weight * spread(np.asarray(stamps["voice"], np.float64), labels) / frames_spread


def word_prints(stamps: dict, scale: float) -> np.ndarray:
    """(words, n) each word's voiceprint and, with a `scale`, its average stamp frame times it:
    the stamp's features were made to tell words apart, and what is left of them once the word's
    average is taken out says something of the voice that the spectrum's average does not."""
    prints = np.asarray(stamps["voice"], np.float64)
    return np.hstack([prints, scale * average_frame(stamps["x"])]) if scale else prints


def print_width(stamps: dict, scale: float) -> int:
    """The width of word_prints(stamps, scale), without making them."""
    return stamps["voice"].shape[1] + (stamps["x"].shape[1] if scale else 0)


def less_word(prints: np.ndarray, probabilities: np.ndarray, means: np.ndarray) -> np.ndarray:
    """Each voiceprint less the average print of the word the CNN finds most likely (among its
    in-vocab words: an "unknown" column is never a word with an average)."""
    heard_word, _ = best_words(probabilities, len(means))
    return np.asarray(prints, np.float64) - means[heard_word]


def speaker_features(kind: str, stamps: dict, features: dict, means: np.ndarray | None = None,
                     scale: float = 0.0) -> np.ndarray:
    """(words, n) features of each word of a vocab: its voiceprint (for word_voice: with its
    average stamp frame times `scale`, less its word's average, `means`), its stamp, or one of
    the CNN's outputs."""
    if kind == VOICE:
        return stamps["voice"].astype(np.float64)
    if kind == WORD_VOICE:
        return less_word(word_prints(stamps, scale), features["probabilities"], means)
    if kind not in FEATURES:  # the CNN's outputs, or its input: the stamp, flattened
        raise ConfigError(f"speakers.features must be {VOICE}, {WORD_VOICE} or one of "
                         f"{', '.join(FEATURES)}, not {kind!r}")
    return features[kind].astype(np.float64)


def split_by_take(speakers: np.ndarray, takes: np.ndarray, test_takes: list) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks (train, test): words of `test_takes` test, the rest train; only speakers
    with words on both sides count (an unknown speaker cannot be recognised)."""
    test = np.isin(takes.astype(str), [str(t) for t in test_takes])
    both = set(speakers[test]) & set(speakers[~test])
    known = np.isin(speakers, sorted(both))
    return ~test & known, test & known


@dataclass
class SpeakerWords:
    """The digit vocab's words as a speaker task: features, speaker index, and the two sides."""
    x: np.ndarray
    y: np.ndarray          # index into names; -1 for a speaker on one side only
    names: list[str]
    train: np.ndarray      # boolean masks
    test: np.ndarray
    word_means: np.ndarray | None = None  # word_voice: each digit's average print
    stamp_scale: float = 0.0               # word_voice: what the average stamp frame is multiplied by


def speaker_words(stamps_path: Path, features_path: Path, settings: dict) -> SpeakerWords:
    """Who says each word of the digit vocab, split by take; SpeakersMissing if fewer than two
    speakers have words on both sides."""
    kind = settings["features"]
    # only the arrays these features are made of: every kind of every word is gigabytes at 100k words
    stamps = load_npz(stamps_path, leave_out=() if kind == WORD_VOICE else ("x",))
    needed = "probabilities" if kind == WORD_VOICE else kind
    features = load_npz(features_path, leave_out=tuple(k for k in FEATURES if k != needed))
    train, test = split_by_take(stamps["speaker"], stamps["take"], settings["test_takes"])
    names = sorted(set(stamps["speaker"][train]))
    if len(names) < 2:
        raise SpeakersMissing(f"speakers: {len(names)} speaker(s) have words in both the held-out takes "
                              f"(speakers.test_takes={settings['test_takes']}) and the others: at least two must")
    y = np.array([names.index(s) if s in names else -1 for s in stamps["speaker"]])
    means, scale = None, 0.0
    if kind == WORD_VOICE:  # from the training side's words only, whoever says them
        known = {key: stamps[key][train] for key in ("voice", "x")}
        scale = stamp_scale(known, stamps["y"][train], settings["stamp_weight"])
        means = average_prints(word_prints(known, scale), stamps["y"][train], len(stamps["vocab"]))
    x = speaker_features(kind, stamps, features, means, scale)
    return SpeakerWords(x, y, [str(n) for n in names], train, test, means, scale)


@dataclass
class SpeakerModel:
    """What `predict --speaker` needs: the SVM, the speakers' names in its class order, the kind of
    features it reads, and (word_voice) each word's average print and the stamp's scale in it."""
    svm: object
    names: list[str]
    features: str
    word_means: np.ndarray | None = None
    stamp_scale: float = 0.0


def model_features(model: SpeakerModel, stamps: dict, heard: dict) -> np.ndarray:
    """(words, n) the features `model` reads for these words (their voiceprints and stamps, and the
    CNN's outputs); SpeakersMissing when they are not the width it learned from: a model made with
    other stamp settings than today's would misread them."""
    another_stamp = SpeakersMissing("the speaker model was made with other stamp settings than "
                                    "params.yaml's: `dvc repro` makes it anew")
    if model.word_means is not None and print_width(stamps, model.stamp_scale) != model.word_means.shape[1]:
        raise another_stamp  # its words' average prints hold another stamp's frame
    features = speaker_features(model.features, stamps, heard, model.word_means, model.stamp_scale)
    if features.shape[1] != model.svm.n_features_in_:
        raise another_stamp
    return features


def save(model: SpeakerModel, folder: Path) -> None:
    """<folder>/svm.skops and <folder>/speakers.json (the speakers' names, in the SVM's class order,
    and the words' average voiceprints if the features need them)."""
    from .transfer import save_svm

    save_svm(model.svm, folder / "svm.skops")
    about = {"speakers": model.names, "features": model.features}
    if model.features in FROM_VOICEPRINTS:
        about["voiceprint"] = VOICEPRINT_LAYOUT
    if model.word_means is not None:
        about["word_means"] = model.word_means.tolist()  # JSON floats read back exactly
        about["stamp_scale"] = model.stamp_scale
    (folder / "speakers.json").write_text(json.dumps(about, indent=2) + "\n")


def save_unavailable(reason: str, folder: Path) -> None:
    """No speaker model, and why: the rest of the pipeline goes on without one."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "speakers.json").write_text(json.dumps({"speakers": [], "unavailable": reason}, indent=2) + "\n")


def load(folder: Path) -> SpeakerModel:
    """The speaker model that save wrote; SpeakersMissing if train_svm could not make one, or made
    it from voiceprints unlike today's (its SVM would read them and name the wrong speakers)."""
    from .transfer import load_svm

    about = json.loads((folder / "speakers.json").read_text())
    if "unavailable" in about:
        raise SpeakersMissing(f"no speaker model: {about['unavailable']}")
    if about["features"] in FROM_VOICEPRINTS and about.get("voiceprint") != VOICEPRINT_LAYOUT:
        raise SpeakersMissing(f"{folder} was made from another voiceprint ({about.get('voiceprint', 'an older one')}, "
                              f"not the {VOICEPRINT_LAYOUT}): `dvc repro` makes it anew")
    means = np.array(about["word_means"]) if "word_means" in about else None
    return SpeakerModel(load_svm(folder / "svm.skops"), about["speakers"], about["features"], means,
                        float(about.get("stamp_scale", 0.0)))
