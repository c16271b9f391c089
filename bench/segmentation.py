"""Benchmark: how well the segment stage splits recordings into words, on the synthetic corpus
and on continuous recordings built from real speech (FSDD and the commands corpus).

    python bench/segmentation.py [--corpora ../shared/corpora] [--record]

Prints, per corpus and vocab, the share of recordings split into the right number of words,
boundary error, word precision/recall, and the share of the words the stage keeps whose label
is the word they overlap most; and the workshop notebook's method on the same
recordings, for comparison. --record writes the table to docs/results.md.
"""

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from results import record
from speech_mnist.audio import load
from speech_mnist.config import load_params
from speech_mnist.segment import score
from workspace import REPO, make_workspace, run_stage


def seed_method(samples: np.ndarray, rate: int) -> list[tuple[float, float]]:
    """The workshop notebook's split: smoothed log-energy above min + 25% of its range."""
    hop = rate // 100
    frames = np.lib.stride_tricks.sliding_window_view(samples, hop * 2)[::hop]
    energy = np.log(np.mean(frames**2, axis=1) + 1e-10)
    energy = np.convolve(energy, np.ones(5) / 5, mode="same")
    above = np.concatenate([[False], energy > energy.min() + 0.25 * np.ptp(energy), [False]])
    edges = np.flatnonzero(np.diff(above.astype(np.int8)))
    return [(a / 100, b / 100) for a, b in zip(edges[::2], edges[1::2])]


def bench(corpus: str, corpora: Path, workdir: Path) -> dict:
    # real speech only: without the eSpeak voices that corpus=fsdd adds to its digits
    ws = make_workspace(workdir / corpus, [f"corpus={corpus}", f"corpus.root={corpora}", "corpus.espeak_takes=0"]
                        if corpus != "synthetic" else ["corpus=synthetic"])
    audio = load_params(ws / "params.yaml")["audio"]
    run_stage(ws, "synthesize")
    run_stage(ws, "segment")
    ours = json.loads((ws / "metrics/segment.json").read_text())
    truth = pd.read_csv(ws / "data/recordings/boundaries.csv")
    result = {}
    for vocab, table in truth.groupby("vocab"):
        pairs = [(seed_method(load(ws / "data/recordings" / rec, audio)[0], audio["sample_rate"]),
                  list(zip(g["start"], g["end"]))) for rec, g in table.groupby("recording")]
        result[vocab] = {"ours": ours[f"truth_{vocab}"], "seed": score(pairs)}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpora", type=Path, default=REPO.parent / "shared" / "corpora",
                        help="folder with fsdd/ and commands/ (default: ../shared/corpora)")
    parser.add_argument("--record", action="store_true", help="write the table to docs/results.md")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for corpus in ("synthetic", "fsdd"):
            for vocab, methods in bench(corpus, args.corpora.resolve(), Path(tmp)).items():
                for method, m in methods.items():
                    rows.append({"corpus": corpus, "vocab": vocab, "method": method, "recordings": m["recordings_scored"],
                                 "right count": f"{m['right_count_rate']:.1%}",
                                 "boundary ms (median / p95)": f"{m['boundary_error_ms_median']} / {m['boundary_error_ms_p95']}",
                                 "precision": m["word_precision"], "recall": m["word_recall"],
                                 "labels right": m.get("words_labelled_right", "")})
    table = pd.DataFrame(rows)
    print(table.to_string(index=False))
    if args.record:
        fsdd = table[(table["corpus"] == "fsdd") & (table["vocab"] == "num") & (table["method"] == "ours")].iloc[0]
        record("segmentation", "Segmentation of continuous recordings into words", table.to_string(index=False).splitlines(),
               f"FSDD-built recordings: {fsdd['right count']} split into the right number of words")


if __name__ == "__main__":
    main()
