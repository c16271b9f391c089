"""Benchmark: does the digit model say "unknown" for words outside its vocab and for noises?

    python bench/unknown.py [--corpora ../shared/corpora] [--only offline,fsdd] [--validation]
                            [-S key=value ...] [--record]

Every clip goes through `speech-mnist predict`, the code a user runs. In-vocab: FSDD digit clips.
Out of vocab: the commands corpus' words (front, back, left, right, stop: never trained on) and its
room-noise clips. A clip's score is the best in-vocab score of the words predict finds in it (none
found: rejected at every threshold); a clip is accepted when that score reaches the threshold.
Printed: false rejects of digits, false accepts of commands words and of noise clips, at the
configured reject.cnn and at the threshold that rejects 2% of the digits (the DET operating point).

- offline: the model plain `dvc repro` builds (no real speech in training), on all 2500 digit clips;
- fsdd: corpus=fsdd, leave one speaker out; each fold's held-out speaker is the in-vocab side. It
  also prints what evaluate measured for the transfer SVM (in: held-out commands words; out: the
  held-out speaker's digits and eSpeak's other words), then the folds' mean at the 2% point and at
  the configured reject.cnn (what a user of corpus=fsdd gets).
The noise clips are split in two halves: one is corpus.noise (augmentation and the "unknown"
sounds), only the other is tested. --validation: only the digits of george and jackson and the
even half of the commands words, for choosing reject.* (nicolas, theo, yweweler stay unseen).
"""

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import yaml

from humans import VALIDATION, predict
from results import record
from robustness import split_noise
from speech_mnist.unknown import budget_threshold
from workspace import REPO, make_workspace, repro

SPEAKERS = ["george", "jackson", "nicolas", "theo", "yweweler"]


def clip_scores(report: list[dict]) -> np.ndarray:
    """Each clip's best in-vocab score over the words found in it; -inf where none was found."""
    return np.array([max((w["score"] for w in clip.get("words", [])), default=-np.inf) for clip in report])


def rates(digits: np.ndarray, words: np.ndarray, noises: np.ndarray, threshold: float) -> str:
    return (f"false rejects {np.mean(digits < threshold):6.1%}  false accepts: words {np.mean(words >= threshold):6.1%}"
            f"  noise {np.mean(noises >= threshold):6.1%}")


def measure(ws: Path, digits: list[Path], words: list[Path], noises: list[Path], label: str, say) -> dict:
    """The three clip sets through predict, at the configured and at the 2%-false-reject threshold."""
    report, _ = predict(ws, [*digits, *words, *noises])
    scores = clip_scores(report)
    d, w, n = np.split(scores, [len(digits), len(digits) + len(words)])
    threshold = yaml.safe_load((ws / "params.yaml").read_text())["reject"]["cnn"]
    budget = budget_threshold(d)
    say(f"{label:<26} at reject.cnn={threshold:<5} {rates(d, w, n, threshold)}")
    say(f"{'':<26} at {budget:.4g} (2% rejects) {rates(d, w, n, budget)}")
    return {"false_accepts_at_2pc": float(np.mean(w >= budget)), "noise_at_2pc": float(np.mean(n >= budget)),
            "false_rejects": float(np.mean(d < threshold)), "false_accepts": float(np.mean(w >= threshold)),
            "noise": float(np.mean(n >= threshold)), "threshold": threshold}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpora", type=Path, default=REPO.parent / "shared" / "corpora")
    parser.add_argument("--only", default="offline,fsdd", help="comma-separated: offline, fsdd")
    parser.add_argument("--validation", action="store_true", help="choose settings: validation speakers and clips")
    parser.add_argument("-S", dest="overrides", action="append", default=[], help="extra Hydra override")
    parser.add_argument("--record", action="store_true", help="write the figures to docs/results.md")
    args = parser.parse_args()
    if args.record and args.validation:
        parser.error("--record publishes every speaker: leave out --validation")
    corpora, parts = args.corpora.resolve(), args.only.split(",")
    digits = sorted((corpora / "fsdd" / "recordings").glob("*.wav"))
    words = sorted(p for p in (corpora / "commands").glob("*/*.wav") if p.parent.name != "none")
    if not digits or not words:
        parser.error(f"no FSDD or commands clips under {corpora}")
    speakers = list(VALIDATION) if args.validation else SPEAKERS
    digits = [d for d in digits if d.stem.split("_")[1] in speakers]
    words = words[0::2] if args.validation else words  # the odd half stays unseen until published
    lines, headlines = [], []

    def say(text: str) -> None:
        print(text, flush=True)
        lines.append(text)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        split_noise(corpora / "commands" / "none", tmp / "noise_train", tmp / "noise_test")
        noises = sorted((tmp / "noise_test").iterdir())
        say(f"{len(digits)} digit clips ({', '.join(speakers)}), {len(words)} commands words, {len(noises)} noise clips")
        if "offline" in parts:
            ws = make_workspace(tmp / "offline", args.overrides, dvc=True)
            repro(ws, args.overrides)
            found = measure(ws, digits, words, noises, "offline default", say)
            headlines.append(f"offline: {found['false_accepts_at_2pc']:.1%} of other words accepted at 2% digits "
                             f"rejected, noise {found['noise_at_2pc']:.1%}")
        if "fsdd" in parts:
            real = ["corpus=fsdd", f"corpus.root={corpora}", f"corpus.noise={tmp / 'noise_train'}", *args.overrides]
            ws = make_workspace(tmp / "fsdd", real, dvc=True)
            folds = []
            for speaker in speakers:
                fold = [*real, "corpus.vocabs.num.split.by=speaker", f"corpus.vocabs.num.split.test=[{speaker}]"]
                repro(ws, fold)
                held_out = [d for d in digits if d.stem.split("_")[1] == speaker]
                folds.append(measure(ws, held_out, words, noises, f"fsdd, leave out {speaker}", say))
                svm = json.loads((ws / "metrics" / "evaluate.json").read_text())["unknown"]["svm"]
                say(f"{'':<26} SVM (evaluate): false rejects {svm['false_rejects']:.1%}, false accepts "
                    f"{svm['false_accepts']:.1%}; {svm['false_accepts_at_2pc_false_rejects']:.1%} at 2% rejects")
                folds[-1]["svm_at_2pc"] = svm["false_accepts_at_2pc_false_rejects"]
            mean = {k: float(np.mean([f[k] for f in folds])) for k in folds[0]}
            say(f"{'fsdd, mean of ' + str(len(folds)) + ' folds':<26} at 2% rejects: words {mean['false_accepts_at_2pc']:.1%}"
                f", noise {mean['noise_at_2pc']:.1%}; SVM {mean['svm_at_2pc']:.1%}")
            threshold = folds[0]["threshold"]  # every fold composes the same reject.cnn
            worst = max(f["false_rejects"] for f in folds)
            say(f"{'':<26} at reject.cnn={threshold}: false rejects {mean['false_rejects']:.1%} (at most {worst:.1%}), "
                f"false accepts: words {mean['false_accepts']:.1%}, noise {mean['noise']:.1%}")
            headlines.append(f"corpus=fsdd leave-one-speaker-out: {mean['false_accepts_at_2pc']:.1%} of other words and "
                             f"{mean['noise_at_2pc']:.1%} of noise accepted at 2% digits rejected (targets ≤ 5%, ≤ 1%); "
                             f"at its reject.cnn ({threshold}): {mean['false_rejects']:.1%} of digits rejected (at most "
                             f"{worst:.1%} in a fold), {mean['false_accepts']:.1%} of other words and {mean['noise']:.1%} "
                             f"of noise accepted")
    if args.record:
        config = " ".join(args.overrides) or "default config"
        record(f"unknown {args.only} {config}", f"Unknown words and noise ({args.only}; {config})", lines,
               "; ".join(headlines))


if __name__ == "__main__":
    main()
