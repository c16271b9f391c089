"""Benchmark: accuracy of the whole pipeline on real speech, and on the synthetic default.

    python bench/accuracy.py [--corpora ../shared/corpora] [--only takes,speakers,loso,synthetic]
                             [--speakers george,theo] [-S key=value ...] [--record] [--transfer-validation]

Each figure is a real `dvc repro` of this pipeline in a throw-away DVC repository:
- takes: FSDD digits, train on takes 5-49 of the 5 speakers, test on takes 0-4; and transfer to
  front/back/left/right/stop from 5 examples per word (commands corpus, held-out takes), through
  the logits (`transfer=logits`) and through the last conv block (`transfer=conv`);
- speakers: who is speaking among the 5 FSDD speakers, from k = 1, 3, 5, 10 words of each (other
  takes), tested on their takes 0-4 (--speaker-test-takes: 5,6,7,8,9 to choose settings on),
  through each kind of features (`speakers.features`);
- loso: FSDD leave-one-speaker-out, train on 4 speakers and test on the 5th, every fold
  (or only the folds of --speakers; the mean is then over those folds);
- synthetic: the default corpus, digits on held-out voices and animals at 5 shots, for three draws
  of the voices (corpus.voices.seed 0, 1, 2; one draw when -S sets it) and their mean.
-S passes extra Hydra overrides (e.g. -S model=workshop -S train.epochs=20) to every run; --record
writes the lines to docs/results.md.

--transfer-validation: for takes and synthetic, instead of the held-out words' figures, the transfer
SVM on its training words alone (5 shots drawn from them, the rest tested, 40 draws): the figure
to choose transfer settings on; takes tries every transfer option (logits, conv, stamp).
"""

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from results import record
import workspace
from speech_mnist.config import load_params
from speech_mnist.stamps import load_split
from speech_mnist.transfer import make_svm, pick_shots
from workspace import REPO, make_workspace

SPEAKERS = ["george", "jackson", "nicolas", "theo", "yweweler"]
VOICE_DRAWS = (0, 1, 2)  # corpus.voices.seed: which 32 eSpeak voices, and so which 8 are held out
TRANSFERS = ("logits", "conv", "stamp")  # conf/transfer/'s kinds of features, each with its C and scaling
VALIDATION_DRAWS = 40


def repro(ws: Path, overrides: list[str]) -> dict:
    """`dvc repro` the workspace with `overrides`; the evaluate metrics, and the seconds it took."""
    seconds = workspace.repro(ws, overrides)
    return json.loads((ws / "metrics/evaluate.json").read_text()) | {"seconds": round(seconds)}


def override_keys(overrides: list[str]) -> set[str]:
    """The keys (or groups) that Hydra overrides set, however spelled (`+`, `++`, `~`)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    return {o.key_or_group for o in OverridesParser.create().parse_overrides(overrides)}


def transfer_validation(ws: Path) -> tuple[str, float]:
    """The transfer SVM on its training words alone: `transfer.shots` per word drawn from them and
    the rest tested, VALIDATION_DRAWS times; the held-out words stay unseen. Returns the kind of
    features and the mean accuracy."""
    params = load_params(ws / "params.yaml")
    settings = params["transfer"]
    x, y, _ = load_split(ws / params["paths"]["features"] / f"{params['corpus']['transfer']}.npz", "train",
                         settings["features"])
    scores = []
    for draw in range(VALIDATION_DRAWS):
        chosen = pick_shots(y, settings["shots"], np.random.default_rng(draw))
        rest = np.setdiff1d(np.arange(len(y)), chosen)
        scores.append(make_svm(settings).fit(x[chosen], y[chosen]).score(x[rest], y[rest]))
    return settings["features"], float(np.mean(scores))


def validation_line(name: str, features: str, accuracy: float) -> str:
    return (f"{name + f', transfer={features}':<44} validation {accuracy:7.2%}   "
            f"({VALIDATION_DRAWS} draws of the shots per word from the training words, the rest tested)")


def line(name: str, metrics: dict) -> str:
    return (f"{name:<34} CNN {metrics['cnn']['accuracy']:7.2%} ({metrics['cnn']['test_words']} words)   "
            f"SVM 5-shot {metrics['svm']['accuracy']:7.2%} ({metrics['svm']['test_words']} words)   "
            f"[{metrics['seconds']} s]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpora", type=Path, default=REPO.parent / "shared" / "corpora")
    parser.add_argument("--only", default="takes,speakers,loso,synthetic",
                        help="comma-separated: takes, speakers, loso, synthetic")
    parser.add_argument("--speakers", default=",".join(SPEAKERS), help="comma-separated folds of loso to run")
    parser.add_argument("--speaker-test-takes", default="0,1,2,3,4", help="the takes who-is-speaking is tested on")
    parser.add_argument("-S", dest="overrides", action="append", default=[], help="extra Hydra override")
    parser.add_argument("--record", action="store_true", help="write the lines to docs/results.md")
    parser.add_argument("--transfer-validation", action="store_true",
                        help="takes, synthetic: the transfer on its training words only, to choose settings on")
    args = parser.parse_args()
    if args.record and args.transfer_validation:
        parser.error("--record publishes the held-out words' figures: leave out --transfer-validation")
    parts = args.only.split(",")
    speakers = args.speakers.split(",")
    if unknown := sorted(set(speakers) - set(SPEAKERS)):
        parser.error(f"--speakers: not FSDD speakers: {', '.join(unknown)} (they are {', '.join(SPEAKERS)})")
    real = ["corpus=fsdd", f"corpus.root={args.corpora.resolve()}", *args.overrides]
    lines, headlines = [], []

    def say(text: str) -> None:
        print(text, flush=True)
        lines.append(text)

    with tempfile.TemporaryDirectory() as tmp:
        if {"takes", "speakers", "loso"} & set(parts):
            ws = make_workspace(Path(tmp) / "fsdd", real, dvc=True)
        if "takes" in parts and args.transfer_validation:
            for kind in TRANSFERS:  # only train_svm and evaluate re-run
                repro(ws, [*real, f"transfer={kind}"])
                say(validation_line("FSDD commands", *transfer_validation(ws)))
        elif "takes" in parts:
            # the transfer both ways, whatever the config chose: only train_svm and evaluate re-run
            logits = repro(ws, [*real, "transfer=logits"])
            say(line("FSDD takes 0-4, transfer=logits", logits))
            conv = repro(ws, [*real, "transfer=conv"])
            say(line("  the same, transfer=conv", conv))
            headlines.append(f"takes 0-4 {logits['cnn']['accuracy']:.1%}, commands 5-shot "
                             f"{logits['svm']['accuracy']:.1%} (logits) / {conv['svm']['accuracy']:.1%} (conv)")
        if "speakers" in parts:
            best = None
            for kind in ("voice", "word_voice", "stamp", "embedding", "conv", "logits"):  # only train_svm and evaluate re-run
                found = repro(ws, [*real, f"speakers.test_takes=[{args.speaker_test_takes}]", f"speakers.features={kind}"])
                curve = "  ".join(f"{k} {a:.1%}" for k, a in found["speakers_curve"].items())
                say(f"{f'FSDD speakers, features={kind}':<34} {curve}   ({found['speakers']['test_words']} words of "
                    f"takes {args.speaker_test_takes})")
                if best is None or found["speakers_curve"]["k10"] > best[1]:
                    best = (kind, found["speakers_curve"]["k10"])
            headlines.append(f"who is speaking from 10 words each {best[1]:.1%} ({best[0]} features)")
        if "loso" in parts:
            folds = []
            for speaker in speakers:
                fold = [*real, "corpus.vocabs.num.split.by=speaker", f"corpus.vocabs.num.split.test=[{speaker}]"]
                folds.append(repro(ws, fold))
                say(line(f"FSDD leave out {speaker}", folds[-1]))
            mean = sum(f["cnn"]["accuracy"] for f in folds) / len(folds)
            say(f"{f'FSDD leave-one-speaker-out, mean of {len(folds)}':<34} CNN {mean:7.2%}")
            headlines.append(f"leave-one-speaker-out {mean:.1%} (lowest fold {min(f['cnn']['accuracy'] for f in folds):.1%})")
        if "synthetic" in parts:
            # eight voices are held out of 32, and 96 animal words: one draw of voices is a noisy
            # figure, so the pipeline is rebuilt for each draw and the mean is the headline
            seed_given = "corpus.voices.seed" in override_keys(args.overrides)
            draws = {"": args.overrides} if seed_given else \
                {f", seed {d}": [*args.overrides, f"corpus.voices.seed={d}"] for d in VOICE_DRAWS}
            found, validations = [], []
            for which, overrides in draws.items():
                ws = make_workspace(Path(tmp) / f"synthetic{len(found)}", overrides, dvc=True)
                found.append(repro(ws, overrides))
                if args.transfer_validation:
                    features, accuracy = transfer_validation(ws)
                    validations.append(accuracy)
                    say(validation_line(f"synthetic animals{which}", features, accuracy))
                else:
                    say(line(f"synthetic held-out voices{which}", found[-1]))
            if args.transfer_validation:
                say(f"{f'synthetic animals, mean of {len(validations)} draws':<44} validation {np.mean(validations):7.2%}")
            else:
                cnn, svm = (sum(f[m]["accuracy"] for f in found) / len(found) for m in ("cnn", "svm"))
                if not seed_given:
                    say(f"{f'synthetic, mean of {len(found)} draws':<34} CNN {cnn:7.2%}{'':<15}SVM 5-shot {svm:7.2%}")
                headlines.append(f"synthetic held-out voices {cnn:.1%}, animals 5-shot {svm:.1%}"
                                 + ("" if seed_given else f" (mean of {len(found)} draws of voices)"))
    if args.record:
        config = " ".join(args.overrides) or "default config"
        record(f"accuracy {args.only} {config}", f"Accuracy ({args.only}; {config})", lines, "; ".join(headlines))


if __name__ == "__main__":
    main()
