"""Recognising words in new recordings with the models the pipeline produced."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .audio import normalise_level, read_audio
from .segment import cut, find_words
from .stamps import make_stamp

CNN = Path("models/cnn.keras")
SVM = Path("models/svm.skops")


class ModelsMissing(FileNotFoundError):
    """The pipeline has not produced the models yet."""


@dataclass
class Recognised:
    start: float
    end: float
    word: str
    score: float  # CNN: probability; SVM: decision margin


def check_models(paths: list[Path]) -> None:
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise ModelsMissing(f"no {', '.join(missing)} yet: run `dvc repro` to train, or `dvc pull` to fetch them")


class Recogniser:
    """The digit CNN, or with `vocab`, the transfer SVM over the CNN's features."""

    def __init__(self, params: dict, vocab: str | None = None, root: Path = Path(".")):
        from . import models, transfer

        self.params, self.vocab = params, vocab
        check_models([root / CNN] + ([root / SVM] if vocab else []))
        cnn = models.load_keras(root / CNN)
        corpus = params["corpus"]
        if vocab is None:
            self.words, self.cnn = corpus["vocabs"][corpus["digits"]]["words"], cnn
        elif vocab == corpus["transfer"]:
            self.words = corpus["vocabs"][vocab]["words"]
            self.extractor = models.feature_model(cnn, params["transfer"]["features"])
            self.svm = transfer.load_svm(root / SVM)
        else:
            raise ValueError(f"no model for vocab {vocab!r}: the transfer SVM knows {corpus['transfer']!r}")

    def recognise(self, path: Path) -> list[Recognised]:
        """Each word of a recording with its start, end, word and score; [] when there is no speech."""
        from . import transfer

        rate = self.params["audio"]["sample_rate"]
        samples = normalise_level(read_audio(path, rate), self.params["audio"]["peak_dbfs"])
        spans = find_words(samples, rate, self.params["segment"])
        if not spans:
            return []
        pad = self.params["segment"]["pad_s"]
        stamps = np.stack([make_stamp(cut(samples, rate, s, pad), rate, self.params["stamp"]) for s in spans])[..., None]
        if self.vocab is None:
            scores = self.cnn.predict(stamps, verbose=0)
        else:
            scores = transfer.margins(self.svm, transfer.featurise(self.extractor, stamps))
        best = scores.argmax(axis=1)
        return [Recognised(s[0], s[1], self.words[b], round(float(row[b]), 4)) for s, b, row in zip(spans, best, scores)]

