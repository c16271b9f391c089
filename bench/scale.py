"""Benchmark: how the pipeline's cost grows with the corpus, stage by stage.

    python bench/scale.py [--sizes 1000,10000,100000] [-S key=value ...] [--record]

The default synthetic corpus is grown to about each size in words: more eSpeak voices (up to
every language x variant pair), then more takes. Each stage runs once, in a throw-away copy of
the pipeline, with one training epoch (train.epochs=1). For each stage: wall time, time per word,
cores used (CPU time / wall time) and peak RSS of its largest process. Then, against the smallest
size: the per-word time of synthesize, segment and stamps (linear: within 1.10x) and the largest
peak RSS (target: 2 GiB). Run it on an otherwise idle machine: the figures are times.
"""

import argparse
import math
import re
import sys
import tempfile
from pathlib import Path

from results import record
from speech_mnist.config import compose_params
from workspace import REPO, make_workspace, measured, stage_command

STAGES = ["synthesize", "segment", "stamps", "train_cnn", "train_svm", "evaluate"]
PER_FILE = ["synthesize", "segment", "stamps"]  # the stages that must grow linearly
LINEAR_WITHIN = 1.10
RSS_LIMIT_MIB = 2048


def corpus_size(target: int, vocab_words: int, max_voices: int, takes: int = 3) -> tuple[int, int]:
    """(voices, takes) whose words (voices x takes x vocab_words) come closest above `target`:
    the default's 3 takes with more voices, then more takes once every voice is used."""
    voices = min(max_voices, max(2, math.ceil(target / (vocab_words * takes))))
    return voices, max(takes, math.ceil(target / (vocab_words * voices)))


def epoch_seconds(output: str) -> float:
    """One epoch's seconds from Keras' verbose=2 line: "23/23 - 1s - 25ms/step - ..."."""
    found = re.search(r"^(\d+)/\1 - \S+ - (\d+(?:\.\d+)?)(m?s)/step", output, re.M)
    if not found:
        return float("nan")
    per_step = float(found[2]) / (1000 if found[3] == "ms" else 1)
    return int(found[1]) * per_step


def run_size(root: Path, target: int, overrides: list[str]) -> tuple[int, dict, str]:
    """Every stage at about `target` words: (words, {stage: Measured}, the epoch's line)."""
    base = compose_params(overrides, REPO / "conf")
    corpus = base["corpus"]
    vocab_words = sum(len(spec["words"]) for spec in corpus["vocabs"].values())
    pairs = len(corpus["voices"]["languages"]) * len(corpus["voices"]["variants"])
    voices, takes = corpus_size(target, vocab_words, pairs)
    size = [f"corpus.voices.count={voices}", *(f"corpus.vocabs.{v}.takes={takes}" for v in corpus["vocabs"]),
            "train.epochs=1"]
    ws = make_workspace(root / f"words-{target}", [*size, *overrides])
    runs = {}
    for stage in STAGES:
        print(f"{target} words: {stage} ...", file=sys.stderr, flush=True)
        runs[stage] = measured(stage_command(stage), ws)
    words = sum(1 for line in (ws / "data/words/manifest.csv").read_text().splitlines()[1:] if line)
    stamps = re.search(r"training on (\d+) stamps", runs["train_cnn"].output)
    epoch = f"one epoch of {stamps[1] if stamps else '?'} stamps: {epoch_seconds(runs['train_cnn'].output):.1f} s"
    return words, runs, epoch


def table(words: int, runs: dict, epoch: str) -> list[str]:
    lines = [f"{words} words ({epoch})"]
    for stage, run in runs.items():
        lines.append(f"  {stage:<11} {run.seconds:7.1f} s  {1e6 * run.seconds / words:7.0f} us/word  "
                     f"{run.cpu_seconds / run.seconds:4.1f} cores  peak RSS {run.peak_mib:6.0f} MiB")
    return lines


def verdict(sizes: list[tuple[int, dict]]) -> tuple[list[str], str]:
    """Per-word time of the per-file stages at the largest size against the smallest, and the
    largest peak RSS at the largest size."""
    (small, first), (large, last) = sizes[0], sizes[-1]
    ratios = {stage: (last[stage].seconds / large) / (first[stage].seconds / small) for stage in PER_FILE}
    heaviest = max(last, key=lambda stage: last[stage].peak_mib)
    linear = ", ".join(f"{stage} {ratio:.2f}x" for stage, ratio in ratios.items())
    lines = [f"time per word at {large} words / at {small} words: {linear} (target <= {LINEAR_WITHIN:.2f}x)",
             f"largest peak RSS at {large} words: {heaviest} {last[heaviest].peak_mib:.0f} MiB "
             f"(target <= {RSS_LIMIT_MIB} MiB)"]
    headline = (f"{large} words: per word vs {small}: {linear} (target ≤ {LINEAR_WITHIN:.2f}x); "
                f"peak RSS {last[heaviest].peak_mib:.0f} MiB in {heaviest} (target ≤ {RSS_LIMIT_MIB})")
    return lines, headline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,100000", help="corpus sizes in words, smallest first")
    parser.add_argument("-S", dest="overrides", action="append", default=[], help="extra Hydra override")
    parser.add_argument("--record", action="store_true", help="write the figures to docs/results.md")
    args = parser.parse_args()
    try:
        targets = sorted(int(size) for size in args.sizes.split(","))
    except ValueError:
        raise SystemExit(f"--sizes {args.sizes!r}: give word counts separated by commas, e.g. 1000,10000") from None
    lines, sizes = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for target in targets:
            words, runs, epoch = run_size(Path(tmp), target, args.overrides)
            sizes.append((words, runs))
            lines += table(words, runs, epoch)
            print("\n".join(table(words, runs, epoch)), flush=True)
    summary, headline = verdict(sizes)
    lines += summary
    print("\n".join(summary))
    if args.record:
        config = " ".join(args.overrides) or "default config"
        record(f"scale {config}", f"Scale ({config}), 2-core CPU", lines, headline)


if __name__ == "__main__":
    main()
