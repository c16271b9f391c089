"""From recordings to word files: the work of the segment stage, one recording at a time."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .audio import AUDIO_SUFFIXES, BadAudio, is_audio_name, load, write_wav
from .recording import parse_recording_name
from .segment import cut, locate_words

WORD_COLUMNS = ["path", "recording", "vocab", "word", "speaker", "take", "start", "end"]
REJECT_COLUMNS = ["recording", "reason"]


class Rejected(Exception):
    """A recording left out of the words, with the reason for the rejects report."""


@dataclass
class Segmented:
    recording: str
    vocab: str
    speaker: str
    take: int
    words: list[str]
    spans: list[tuple[float, float]]
    steady_db: float
    samples: np.ndarray


def list_recordings(folder: Path) -> list[Path]:
    """Every file of the folder that should be a recording (the boundaries table is not)."""
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".") and p.suffix != ".csv")


def stem_clashes(recordings: list[Path]) -> dict[str, str]:
    """Recordings named alike but for the suffix (num_alice_0.wav, num_alice_0.ogg), with the reason
    to reject each: their words would overwrite each other, and which one was meant is unknown."""
    by_stem: dict[str, list[str]] = {}
    for path in recordings:
        by_stem.setdefault(path.stem, []).append(path.name)
    return {name: f"another file has the same name but for the suffix ({', '.join(names)}): rename one"
            for names in by_stem.values() if len(names) > 1 for name in names}


def check_unique(path: Path, clashes: dict[str, str]) -> None:
    if path.name in clashes:
        raise Rejected(clashes[path.name])


def load_recording(path: Path, audio: dict) -> np.ndarray:
    """Mono samples at the pipeline's rate, level-normalised; Rejected if unreadable."""
    try:
        return load(path, audio)[0]
    except BadAudio as error:
        raise Rejected(str(error)) from None


def split_recording(path: Path, vocabs: dict, audio: dict, params: dict) -> Segmented:
    """Cut one recording of a known vocab into its words; Rejected says why it can't be."""
    if not is_audio_name(path):
        raise Rejected(f"not an audio file name (expected {' '.join(AUDIO_SUFFIXES)}): {path.suffix or 'no suffix'}")
    try:
        name = parse_recording_name(path)
    except ValueError as error:
        raise Rejected(str(error)) from None
    if name.vocab not in vocabs:
        raise Rejected(f"unknown vocab {name.vocab!r} (known: {', '.join(vocabs)})")
    words = vocabs[name.vocab]["words"]
    samples = load_recording(path, audio)
    expected = len(words) if params["use_vocab_count"] else None
    found = locate_words(samples, audio["sample_rate"], params, expected)
    result = Segmented(path.name, name.vocab, name.speaker, name.take, words, found.spans, found.steady_db, samples)
    if not found.spans:
        raise Rejected("no speech found (silent or only noise)")
    return result


def check_count(segmented: Segmented) -> None:
    if len(segmented.spans) != len(segmented.words):
        raise Rejected(f"found {len(segmented.spans)} words, vocab {segmented.vocab!r} has {len(segmented.words)}")


def check_steady(segmented: Segmented, min_steady_db: float) -> None:
    """Reject a count that only a narrow band of thresholds gives.

    Such a count is usually right by accident: a noise burst taken for a word while a quiet
    word was missed, so every word after it would carry its neighbour's label.
    """
    if segmented.steady_db < min_steady_db:
        raise Rejected(f"unsure where the words are: the count of {len(segmented.spans)} holds over only "
                       f"{segmented.steady_db:g} dB of threshold (segment.min_steady_db: {min_steady_db:g})")


def write_words(segmented: Segmented, out_dir: Path, sample_rate: int, pad_s: float) -> list[list]:
    """One WAV per word at <out_dir>/<vocab>/<word>/<recording stem>.wav; returns manifest rows."""
    rows = []
    stem = Path(segmented.recording).stem
    for word, span in zip(segmented.words, segmented.spans):
        relative = Path(segmented.vocab) / word / f"{stem}.wav"
        write_wav(out_dir / relative, cut(segmented.samples, sample_rate, span, pad_s), sample_rate)
        rows.append([str(relative), segmented.recording, segmented.vocab, word, segmented.speaker,
                     segmented.take, span[0], span[1]])
    return rows


@dataclass
class Outcome:
    """What one recording gave: its spans (None when it could not be split), its words'
    manifest rows, or the reason it was left out."""
    recording: str
    spans: list[tuple[float, float]] | None
    rows: list[list]
    reason: str | None = None


def segment_recording(path: Path, clashes: dict[str, str], vocabs: dict, audio: dict, seg: dict,
                      out_dir: Path) -> Outcome:
    """Split one recording and write its word files: the segment stage's work for one file."""
    spans = None
    try:
        check_unique(path, clashes)
        segmented = split_recording(path, vocabs, audio, seg)
        spans = segmented.spans
        check_count(segmented)
        check_steady(segmented, seg["min_steady_db"])
    except Rejected as reason:
        return Outcome(path.name, spans, [], str(reason))
    return Outcome(path.name, spans, write_words(segmented, out_dir, audio["sample_rate"], seg["pad_s"]))


def write_table(rows: list[list], columns: list[str], path: Path) -> pd.DataFrame:
    table = pd.DataFrame(rows, columns=columns)
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, index=False, lineterminator="\n")
    return table
