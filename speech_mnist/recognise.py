"""Recognising words in new recordings with the models the pipeline produced."""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .audio import normalise_level, read_audio, warnings_about
from .errors import UserError
from .segment import cut, find_words
from .stamps import make_stamp

CNN = Path("models/cnn.keras")
SVM = Path("models/svm.skops")


class ModelsMissing(UserError, FileNotFoundError):
    """The pipeline has not produced the models yet."""


class UnknownVocab(UserError, ValueError):
    """No model of the project knows this vocab."""


@dataclass
class Recognised:
    start: float
    end: float
    word: str
    score: float  # CNN: probability; SVM: decision margin


@dataclass
class Heard:
    """What one recording says, and what is odd about it (truncated, very quiet)."""
    words: list[Recognised]
    warnings: list[str] = field(default_factory=list)


def check_models(paths: list[Path]) -> None:
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise ModelsMissing(f"no {', '.join(missing)} yet: run `dvc repro` to train, or `dvc pull` to fetch them")


class Recogniser:
    """The digit CNN, or for the transfer vocab, the transfer SVM over the CNN's features.

    Model paths are the project's (`root`), never the working directory's.
    """

    def __init__(self, params: dict, vocab: str | None = None, root: Path = Path(".")):
        from . import models, transfer

        corpus = params["corpus"]
        if vocab not in (None, corpus["digits"], corpus["transfer"]):
            raise UnknownVocab(f"no model for vocab {vocab!r}: the CNN knows {corpus['digits']!r}, "
                               f"the transfer SVM {corpus['transfer']!r}")
        self.params = params
        self.transfer = vocab is not None and vocab == corpus["transfer"]
        check_models([root / CNN] + ([root / SVM] if self.transfer else []))
        cnn = models.load_keras(root / CNN)
        if self.transfer:
            self.words = corpus["vocabs"][vocab]["words"]
            self.extractor = models.feature_model(cnn, params["transfer"]["features"])
            self.svm = transfer.load_svm(root / SVM)
        else:
            self.words, self.cnn = corpus["vocabs"][corpus["digits"]]["words"], cnn

    def recognise(self, path: Path) -> Heard:
        """Each word of a recording with its start, end, word and score; no words when there is no speech."""
        from . import transfer

        rate = self.params["audio"]["sample_rate"]
        raw = read_audio(path, rate)
        warnings = warnings_about(path, raw)
        samples = normalise_level(raw, self.params["audio"]["peak_dbfs"])
        spans = find_words(samples, rate, self.params["segment"])
        if not spans:
            return Heard([], warnings)
        pad = self.params["segment"]["pad_s"]
        stamps = np.stack([make_stamp(cut(samples, rate, s, pad), rate, self.params["stamp"]) for s in spans])[..., None]
        if self.transfer:
            scores = transfer.margins(self.svm, transfer.featurise(self.extractor, stamps))
        else:
            scores = self.cnn.predict(stamps, verbose=0)
        best = scores.argmax(axis=1)
        words = [Recognised(s[0], s[1], self.words[b], round(float(row[b]), 4)) for s, b, row in zip(spans, best, scores)]
        return Heard(words, warnings)
