"""Stage segment: data/recordings/ -> one WAV per word in data/words/<vocab>/<word>/.

Also writes data/words/manifest.csv (where each word was found), data/words/rejects.csv
(recordings left out, and why) and metrics/segment.json (counts and, against the true
boundaries where the corpus knows them, boundary error, precision, recall and the share of
written words that carry their true label).
Recordings are split on every core ($SPEECH_MNIST_WORKERS), in order: the same bytes with any count.
"""

import shutil
from functools import partial

import pandas as pd
from tqdm import tqdm

from speech_mnist import words
from speech_mnist.config import load_params, stage_paths
from speech_mnist.errors import run_stage
from speech_mnist.files import write_metrics
from speech_mnist.segment import segmentation_metrics
from speech_mnist.workers import in_order


def main() -> None:
    params = load_params()
    paths = stage_paths(params)
    vocabs, audio, seg = params["corpus"]["vocabs"], params["audio"], params["segment"]
    shutil.rmtree(paths.words, ignore_errors=True)
    recordings = words.list_recordings(paths.recordings)
    clashes = words.stem_clashes(recordings)
    split_and_write = partial(words.segment_recording, clashes=clashes, vocabs=vocabs, audio=audio, seg=seg,
                              out_dir=paths.words)
    found, rows, rejects = {}, [], []
    for outcome in tqdm(in_order(split_and_write, recordings), total=len(recordings), desc="segment",
                        unit="recording", disable=None):
        if outcome.spans is not None:
            found[outcome.recording] = outcome.spans
        rows += outcome.rows
        if outcome.reason:
            rejects.append([outcome.recording, outcome.reason])
    manifest = words.write_table(rows, words.WORD_COLUMNS, paths.words / "manifest.csv")
    words.write_table(rejects, words.REJECT_COLUMNS, paths.words / "rejects.csv")
    truth = pd.read_csv(paths.recordings / "boundaries.csv")
    metrics = segmentation_metrics(found, truth, len(recordings), len(rejects), manifest)
    write_metrics(paths.metrics / "segment.json", metrics)
    print(f"{len(rows)} words from {len(recordings)} recordings; {len(rejects)} rejected, see {paths.words}/rejects.csv")


if __name__ == "__main__":
    run_stage(main)
