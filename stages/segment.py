"""Stage segment: data/recordings/ -> one WAV per word in data/words/<vocab>/<word>/.

Also writes data/words/manifest.csv (where each word was found), data/words/rejects.csv
(recordings left out, and why) and metrics/segment.json (counts and, against the true
boundaries where the corpus knows them, boundary error, precision, recall and the share of
written words that carry their true label).
"""

import shutil
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from speech_mnist import words
from speech_mnist.config import load_params
from speech_mnist.files import write_metrics
from speech_mnist.segment import segmentation_metrics

RECORDINGS = Path("data/recordings")
OUT = Path("data/words")
METRICS = Path("metrics/segment.json")


def main() -> None:
    params = load_params()
    vocabs, audio, seg = params["corpus"]["vocabs"], params["audio"], params["segment"]
    shutil.rmtree(OUT, ignore_errors=True)
    recordings = words.list_recordings(RECORDINGS)
    clashes = words.stem_clashes(recordings)
    found, rows, rejects = {}, [], []
    for path in tqdm(recordings, desc="segment", unit="recording", disable=None):
        try:
            words.check_unique(path, clashes)
            segmented = words.split_recording(path, vocabs, audio, seg)
            found[path.name] = segmented.spans
            words.check_count(segmented)
            words.check_steady(segmented, seg["min_steady_db"])
        except words.Rejected as reason:
            rejects.append([path.name, str(reason)])
            continue
        rows += words.write_words(segmented, OUT, audio["sample_rate"], seg["pad_s"])
    manifest = words.write_table(rows, words.WORD_COLUMNS, OUT / "manifest.csv")
    words.write_table(rejects, words.REJECT_COLUMNS, OUT / "rejects.csv")
    truth = pd.read_csv(RECORDINGS / "boundaries.csv")
    metrics = segmentation_metrics(found, truth, len(recordings), len(rejects), manifest)
    write_metrics(METRICS, metrics)
    print(f"{len(rows)} words from {len(recordings)} recordings; {len(rejects)} rejected, see {OUT}/rejects.csv")


if __name__ == "__main__":
    main()
