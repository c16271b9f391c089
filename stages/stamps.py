"""Stage stamps: data/words/ -> data/stamps/<vocab>.npz, one fixed-size stamp per word.

Each dataset holds x (words x bands x frames), y (index into vocab), vocab, voice (each
word's voiceprint, for who is speaking), and the provenance columns word, recording, speaker,
take and split (train or test, by speaker or by take as the corpus's vocab says).
Load with np.load(..., allow_pickle=False).
"""

import shutil

import numpy as np
import pandas as pd
from tqdm import tqdm

from speech_mnist.audio import read_audio
from speech_mnist.config import load_params, stage_paths
from speech_mnist.corpus import extra_voice_speakers
from speech_mnist.errors import ConfigError, CorpusMissing, run_stage
from speech_mnist.stamps import EMBED_BATCH, VOICEPRINT_SIZE, assign_split, make_stamps, save_dataset, voiceprint


def stamps_of(paths: list, rate: int, stamp: dict, vocab: str) -> tuple[np.ndarray, np.ndarray]:
    """The stamps and voiceprints of the word files at `paths`, a batch at a time (fast embedding),
    into arrays made once at their full size (flat memory: a list of batches and its concatenation
    would hold every stamp twice)."""
    stamps = np.empty((len(paths), stamp["bands"], stamp["frames"]), np.float32)
    voices = np.empty((len(paths), VOICEPRINT_SIZE), np.float32)
    with tqdm(total=len(paths), desc=f"stamps {vocab}", unit="word", disable=None) as progress:
        for first in range(0, len(paths), EMBED_BATCH):
            words = [read_audio(p, rate) for p in paths[first:first + EMBED_BATCH]]
            stamps[first:first + len(words)] = make_stamps(words, rate, stamp)
            voices[first:first + len(words)] = [voiceprint(w, rate) for w in words]
            progress.update(len(words))
    return stamps, voices


def main() -> None:
    params = load_params()
    paths = stage_paths(params)
    rate, stamp = params["audio"]["sample_rate"], params["stamp"]
    manifest = pd.read_csv(paths.words / "manifest.csv", dtype={"speaker": str})
    shutil.rmtree(paths.stamps, ignore_errors=True)
    for vocab, spec in params["corpus"]["vocabs"].items():
        words = manifest[manifest["vocab"] == vocab].reset_index(drop=True)
        role = {params["corpus"]["digits"]: "digit", params["corpus"]["transfer"]: "transfer"}.get(vocab)
        if words.empty and role:  # nothing for the CNN or the transfer SVM to learn
            raise CorpusMissing(f"no words of the {role} vocab {vocab!r}: no recording of it was found, or every one "
                                f"was rejected (see {paths.words}/rejects.csv)")
        if words.empty:
            print(f"{vocab}: no words, no dataset")
            continue
        try:
            words["split"] = assign_split(words, spec["split"], extra_voice_speakers(params["corpus"], vocab))
        except ConfigError as error:
            raise ConfigError(f"corpus.vocabs.{vocab}.{error}") from None
        stamps, voices = stamps_of([paths.words / p for p in words["path"]], rate, stamp, vocab)
        save_dataset(paths.stamps / f"{vocab}.npz", stamps, words, spec["words"], voices)
        counts = words["split"].value_counts()
        print(f"{vocab}: {len(words)} stamps {stamps.shape[1:]}, train {counts.get('train', 0)}, test {counts.get('test', 0)}")


if __name__ == "__main__":
    run_stage(main)
