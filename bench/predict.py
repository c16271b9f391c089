"""Benchmark: `speech-mnist predict` end to end on real continuous speech the models never saw.

    python bench/predict.py [--corpora ../shared/corpora] [--workspace DIR] [--offline] [-S key=value ...]
                            [--validation] [--record]

Runs the pipeline on the FSDD-built corpus (train on takes 5-49), then recognises the held-out
continuous recordings (takes 0-4 of every speaker, joined with pauses and room noise) exactly as
`predict` does: its own segmentation, with no knowledge of how many words a recording says.
A true word counts as right when the detected word that overlaps it most carries its label.
--offline: the models plain `dvc repro` builds offline (no real speech in training) recognise
every FSDD-built recording (all 50 takes of the five speakers: none was ever heard).
-S: another config for the models and for predict's cutting (e.g. -S segment.max_db=50).
--validation: only the recordings of the validation speakers (george, jackson), for choosing
settings; nicolas, theo and yweweler stay unseen until a setting is published.
"""

import argparse
import tempfile
from pathlib import Path

import pandas as pd

from humans import VALIDATION
from results import record
from speech_mnist.config import load_params
from speech_mnist.recognise import Recogniser
from speech_mnist.segment import overlap
from workspace import REPO, make_workspace, repro, run_stage


def score_recording(found, truth: pd.DataFrame) -> tuple[int, int]:
    """(right, total) for one recording's true words."""
    right, used = 0, set()
    for row in truth.itertuples():
        best = max(range(len(found)), key=lambda i: overlap((found[i].start, found[i].end), (row.start, row.end)),
                   default=None)
        if best is None or best in used or overlap((found[best].start, found[best].end), (row.start, row.end)) == 0:
            continue
        used.add(best)
        right += found[best].word == row.word
    return right, len(truth)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpora", type=Path, default=REPO.parent / "shared" / "corpora")
    parser.add_argument("--workspace", type=Path, help="reuse a workspace where this pipeline already ran on fsdd")
    parser.add_argument("--offline", action="store_true", help="the offline default's models, on every FSDD recording")
    parser.add_argument("-S", dest="overrides", action="append", default=[], help="extra Hydra override")
    parser.add_argument("--validation", action="store_true", help=f"only the speakers {', '.join(VALIDATION)}")
    parser.add_argument("--record", action="store_true", help="write the figures to docs/results.md")
    args = parser.parse_args()
    if args.overrides and args.workspace:
        parser.error("-S makes other models than the workspace's: leave out --workspace")
    if args.validation and args.record:
        parser.error("--record publishes all five speakers: leave out --validation")
    fsdd = ["corpus=fsdd", f"corpus.root={args.corpora.resolve()}"]
    config = " ".join(args.overrides)  # a section of its own in docs/results.md for each config
    with tempfile.TemporaryDirectory() as tmp:
        if args.offline:  # models from the offline default; recordings from the FSDD corpus builder
            models_ws = make_workspace(Path(tmp) / "offline", args.overrides, dvc=True)
            repro(models_ws, args.overrides)
            corpus_ws = make_workspace(Path(tmp) / "fsdd", fsdd)
            run_stage(corpus_ws, "synthesize")
        else:
            models_ws = corpus_ws = args.workspace or make_workspace(Path(tmp) / "fsdd", fsdd + args.overrides, dvc=True)
            if args.workspace is None:
                repro(models_ws, fsdd + args.overrides)
        corpus = load_params(corpus_ws / "params.yaml")
        recordings_folder, digits = corpus_ws / corpus["paths"]["recordings"], corpus["corpus"]["digits"]
        truth = pd.read_csv(recordings_folder / "boundaries.csv")
        truth = truth[truth["vocab"] == digits]
        if not args.offline:
            held_out = [str(t) for t in corpus["corpus"]["vocabs"][digits]["split"]["test"]]
            truth = truth[truth["take"].astype(str).isin(held_out)]
        if args.validation:
            truth = truth[truth["speaker"].isin(VALIDATION)]
        by_recording = dict(tuple(truth.groupby("recording")))
        recogniser = Recogniser(load_params(models_ws / "params.yaml"), root=models_ws)
        by_speaker, exact_count = {}, 0  # speaker: [right, total]
        for path, heard in recogniser.recognise_all(recordings_folder / name for name in by_recording):
            found, words = heard.words, by_recording[path.name]
            r, t = score_recording(found, words)
            tally = by_speaker.setdefault(words["speaker"].iloc[0], [0, 0])
            tally[0], tally[1] = tally[0] + r, tally[1] + t
            exact_count += len(found) == len(words)
        print("  ".join(f"{speaker} {r / t:.2%}" for speaker, (r, t) in sorted(by_speaker.items())))
        right, total = (sum(column) for column in zip(*by_speaker.values()))
        recordings = truth["recording"].nunique()
        which = "FSDD recordings, offline models" if args.offline else "held-out FSDD recordings"
        summary = (f"predict on {recordings} {which} ({total} words): {right / total:.2%} of words "
                   f"right; {exact_count}/{recordings} recordings split into the right number of words")
        print(summary)
        if args.record:
            named = f" ({config})" if config else ""
            if args.offline:
                name, title = "predict offline", f"`speech-mnist predict`, offline models ({config or 'the default config'}), on continuous FSDD recordings"
                headline = f"{right / total:.1%} of the words (target ≥ 95%)"
            else:
                name, title = "predict", f"`speech-mnist predict` end to end on held-out continuous FSDD recordings{named}"
                headline = f"{right / total:.1%} of the words of unseen takes"
            record(f"{name} {config}".strip(), title, [summary], headline)


if __name__ == "__main__":
    main()
