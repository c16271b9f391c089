"""Recognising words in new recordings with the models the pipeline produced."""

import math
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

from .audio import load
from .config import project_file
from .errors import UserError
from .segment import cut, locate_words
from .stamps import check_stamp_settings, make_stamps
from .unknown import UNKNOWN, accepted, best_words
from .workers import streamed, worker_count

class ModelsMissing(UserError, FileNotFoundError):
    """The pipeline has not produced the models yet."""


class UnknownVocab(UserError, ValueError):
    """No model of the project knows this vocab."""


@dataclass
class Recognised:
    start: float
    end: float
    word: str   # a word of the vocab, or "unknown" when its best word's score is below reject.*
    score: float  # the best word's: CNN: probability; SVM: decision margin
    speaker: str | None = None  # who says it, with the speaker model (predict --speaker)
    guess: str | None = None    # for an unknown word: the vocab's word it is most like


@dataclass
class Heard:
    """What one recording says, and what is odd about it (truncated, very quiet)."""
    words: list[Recognised]
    warnings: list[str] = field(default_factory=list)

    @property
    def speaker(self) -> str | None:
        """Who says most of the words (the first of them on a tie); None without a speaker model."""
        said = [w.speaker for w in self.words if w.speaker]
        return max(said, key=said.count) if said else None


def cut_recording(path: Path, params: dict):
    """A recording's word spans, each word's samples (with the segmenter's padding) and its
    warnings; or the BadAudio or OSError that says why it cannot be read."""
    from .audio import BadAudio

    rate = params["audio"]["sample_rate"]
    try:
        samples, warnings = load(path, params["audio"])
    except (BadAudio, OSError) as error:
        return error
    spans = locate_words(samples, rate, params["segment"]).spans
    return spans, [cut(samples, rate, s, params["segment"]["pad_s"]) for s in spans], warnings


def cut_recordings(paths: list[Path], params: dict) -> list:
    return [cut_recording(path, params) for path in paths]


CUT_CHUNK = 16  # recordings per task of a cutting worker: few enough to share out, enough to be worth sending


def cut_chunks(paths: list[Path]) -> list[list[Path]]:
    """The tasks of cutting these recordings."""
    return [paths[i:i + CUT_CHUNK] for i in range(0, len(paths), CUT_CHUNK)]


def cutting_workers(files: int) -> int:
    """Processes that cut recordings beside the main one, which runs the models meanwhile: one
    fewer than the workers allowed (workers.worker_count); none for a single file."""
    return 0 if files < 2 else worker_count() - 1


def check_models(paths: list[Path]) -> None:
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise ModelsMissing(f"no {', '.join(missing)} yet: run `dvc repro` to train, or `dvc pull` to fetch them")


class Recogniser:
    """The digit CNN, or for the transfer vocab, the transfer SVM over the CNN's features.

    Model paths are the project's (`root`), never the working directory's.
    """

    def __init__(self, params: dict, vocab: str | None = None, root: Path = Path("."), speakers: bool = False):
        from . import transfer
        from .lite import LiteCnn

        corpus = params["corpus"]
        if vocab not in (None, corpus["digits"], corpus["transfer"]):
            raise UnknownVocab(f"no model for vocab {vocab!r}: the CNN knows {corpus['digits']!r}, "
                               f"the transfer SVM {corpus['transfer']!r}")
        self.params = params
        self.reject = params.get("reject", {})  # params.yaml from before rejection: every word is accepted
        self.transfer = vocab is not None and vocab == corpus["transfer"]
        cnn_path, svm_path, stamp_path, speakers_path = (
            project_file(params, name, root) for name in ("cnn_lite", "svm", "cnn_stamp_settings", "speakers"))
        check_models([cnn_path, stamp_path] + ([svm_path] if self.transfer else []) + ([speakers_path] if speakers else []))
        check_stamp_settings(stamp_path, params, cnn_path)
        self.cnn = LiteCnn(cnn_path)  # the CNN without TensorFlow: predict answers in a second, not five
        self.speaker_model = None
        if speakers:
            from . import speakers as speaker_id

            self.speaker_model = speaker_id.load(speakers_path)
        if self.transfer:
            self.words = corpus["vocabs"][vocab]["words"]
            self.svm = transfer.load_svm(svm_path)
        else:
            self.words = corpus["vocabs"][corpus["digits"]]["words"]

    def recognise(self, path: Path) -> Heard:
        """Each word of a recording with its start, end, word and score; no words when there is no speech."""
        heard = next(self.recognise_all([path]))[1]
        if isinstance(heard, Exception):
            raise heard
        return heard

    def recognise_all(self, paths, batch_files: int = 256):
        """(path, Heard) for each file in order, or (path, BadAudio/OSError) for one that cannot be read.

        The words of up to `batch_files` files go through the model in one call: one call per
        file would cost far more than the model itself. The first file goes alone, so that the
        first answer comes as soon as it can. While a batch's words go through the models, worker
        processes already cut the next batch's recordings into words.
        """
        paths = list(paths)  # as given: the caller prints them
        if not paths:
            return
        yield paths[0], self.hear([cut_recording(paths[0], self.params)])[0]
        batches = [paths[i:i + batch_files] for i in range(1, len(paths), batch_files)]
        tasks = [cut_chunks(batch) for batch in batches]
        cut_up = streamed(partial(cut_recordings, params=self.params), [t for batch in tasks for t in batch],
                          workers=cutting_workers(len(paths)), ahead=2 * math.ceil(batch_files / CUT_CHUNK),
                          start="forkserver")  # up to two batches' tasks wait
        for batch, its_tasks in zip(batches, tasks):  # while its words are heard, the next batch is cut
            found = [one for _ in its_tasks for one in next(cut_up)]
            yield from zip(batch, self.hear(found))

    def hear(self, cut_up: list) -> list:
        """A Heard for each cut-up recording (an exception stays as it is), the words of all at once."""
        cuts = [word for c in cut_up if not isinstance(c, Exception) for word in c[1]]
        stamps = self.stamps(cuts) if cuts else None
        heard = self.cnn.outputs(stamps) if cuts else None
        scores = self.score(heard) if cuts else np.zeros((0, len(self.words)))
        best, best_scores = best_words(scores, len(self.words))
        sure = iter(zip(best, best_scores, accepted(best_scores, self.reject, "svm" if self.transfer else "cnn")))
        speakers = iter(self.who(cuts, stamps, heard) if cuts else [])
        return [found if isinstance(found, Exception) else
                Heard([self.word(span, *next(sure), next(speakers)) for span in found[0]], found[2])
                for found in cut_up]

    def word(self, span, best: int, score: float, accept: bool, speaker: str | None) -> Recognised:
        word = self.words[int(best)]
        return Recognised(span[0], span[1], word if accept else UNKNOWN, round(float(score), 4), speaker,
                          None if accept else word)

    def stamps(self, words: list[np.ndarray]) -> np.ndarray:
        """(n, bands, frames, 1): the model's input for these words."""
        return make_stamps(words, self.params["audio"]["sample_rate"], self.params["stamp"])[..., None]

    def who(self, words: list[np.ndarray], stamps: np.ndarray, heard: dict) -> list[str | None]:
        """Each word's speaker by the speaker model, from the features it reads; None for every
        word without one."""
        from .speakers import FROM_VOICEPRINTS, model_features
        from .stamps import voiceprint

        model = self.speaker_model
        if model is None:
            return [None] * len(stamps)
        rate = self.params["audio"]["sample_rate"]
        prints = np.array([voiceprint(w, rate) for w in words]) if model.features in FROM_VOICEPRINTS else None
        features = model_features(model, {"voice": prints, "x": stamps}, heard)
        return [model.names[int(i)] for i in model.svm.predict(features)]

    def score(self, heard: dict) -> np.ndarray:
        """(words, classes) scores from the CNN's outputs: its probabilities, or the transfer SVM's
        margins over its features; the vocab's words first, then "unknown" when the model has that class."""
        from . import transfer

        if self.transfer:
            features = heard[self.params["transfer"]["features"]]
            return transfer.margins(self.svm, np.asarray(features, np.float64))
        return heard["probabilities"]
