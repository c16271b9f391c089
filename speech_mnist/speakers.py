"""Who is speaking: speaker identification as a second transfer task, from k words per speaker."""

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import UserError
from .files import load_npz
from .stamps import FEATURES

class SpeakersMissing(UserError, ValueError):
    """The corpus has too few speakers with words on both sides of the split."""


STAMP = "stamp"  # the word's own stamp, flattened, rather than anything the digit CNN made of it
VOICE = "voice"  # the word's voiceprint (stamps.voiceprint): its long-term average spectrum


def speaker_features(kind: str, stamps: dict, features: dict) -> np.ndarray:
    """(words, n) features of each word of a vocab: its voiceprint, its stamp, or one of the CNN's outputs."""
    if kind == VOICE:
        return stamps["voice"].astype(np.float64)
    if kind == STAMP:
        return stamps["x"].reshape(len(stamps["x"]), -1).astype(np.float64)
    if kind not in FEATURES:
        raise ValueError(f"speakers.features must be {VOICE}, {STAMP} or one of {', '.join(FEATURES)}, not {kind!r}")
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


def speaker_words(stamps_path: Path, features_path: Path, settings: dict) -> SpeakerWords:
    """Who says each word of the digit vocab, split by take; SpeakersMissing if fewer than two
    speakers have words on both sides."""
    stamps, features = load_npz(stamps_path), load_npz(features_path)
    train, test = split_by_take(stamps["speaker"], stamps["take"], settings["test_takes"])
    names = sorted(set(stamps["speaker"][train]))
    if len(names) < 2:
        raise SpeakersMissing(f"speakers: {len(names)} speaker(s) have words in both the held-out takes "
                              f"(speakers.test_takes={settings['test_takes']}) and the others: at least two must")
    y = np.array([names.index(s) if s in names else -1 for s in stamps["speaker"]])
    return SpeakerWords(speaker_features(settings["features"], stamps, features), y, [str(n) for n in names], train, test)


def save(svm, names: list[str], features: str, folder: Path) -> None:
    """<folder>/svm.skops and <folder>/speakers.json (the speakers' names, in the SVM's class order)."""
    from .transfer import save_svm

    save_svm(svm, folder / "svm.skops")
    (folder / "speakers.json").write_text(json.dumps({"speakers": names, "features": features}, indent=2) + "\n")


def save_unavailable(reason: str, folder: Path) -> None:
    """No speaker model, and why: the rest of the pipeline goes on without one."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "speakers.json").write_text(json.dumps({"speakers": [], "unavailable": reason}, indent=2) + "\n")


def load(folder: Path) -> tuple[object, list[str], str]:
    """The speaker SVM, the speakers' names and the kind of features it reads."""
    from .transfer import load_svm

    about = json.loads((folder / "speakers.json").read_text())
    if "unavailable" in about:
        raise SpeakersMissing(f"no speaker model: {about['unavailable']}")
    return load_svm(folder / "svm.skops"), about["speakers"], about["features"]
