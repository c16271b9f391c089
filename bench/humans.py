"""Benchmark: the models that plain `dvc repro` builds offline (no real speech in training),
on the 2500 FSDD digit clips of five human speakers, each through `speech-mnist predict`.

    python bench/humans.py [--corpora ../shared/corpora] [-S key=value ...] [--record]
                           [--validation] [--workspace DIR]

A clip is right when predict finds exactly one word in it and names the right digit; also
printed: the share whose most likely word is right whatever the count. -S trains another
config (e.g. -S preset=fbank); --record writes the figures to docs/results.md.

--validation runs only the clips of the validation speakers (george, jackson): settings are
chosen on them, and nicolas, theo and yweweler stay unseen until a setting is published.
--workspace keeps the pipeline in DIR, so the next run reruns only the stages a change touches.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from results import record
from workspace import REPO, make_workspace, refresh_workspace, repro, venv_env

DIGITS = "zero one two three four five six seven eight nine".split()
VALIDATION = ("george", "jackson")


def predict(ws: Path, clips: list[Path]) -> tuple[list[dict], float]:
    started = time.time()
    result = subprocess.run([sys.executable, "-m", "speech_mnist", "predict", "--json", *map(str, clips)], cwd=ws,
                            env=venv_env(), capture_output=True, text=True)
    if result.returncode not in (0, 1):
        raise SystemExit(f"predict failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout), time.time() - started


def score(report: list[dict]) -> pd.DataFrame:
    rows = []
    for clip in report:
        digit, speaker, _ = Path(clip["file"]).stem.split("_")
        words = clip.get("words", [])
        best = max(words, key=lambda w: w["score"])["word"] if words else None
        rows.append({"speaker": speaker, "right": len(words) == 1 and words[0]["word"] == DIGITS[int(digit)],
                     "best_right": best == DIGITS[int(digit)], "one_word": len(words) == 1})
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpora", type=Path, default=REPO.parent / "shared" / "corpora")
    parser.add_argument("-S", dest="overrides", action="append", default=[], help="extra Hydra override")
    parser.add_argument("--record", action="store_true", help="write the figures to docs/results.md")
    parser.add_argument("--validation", action="store_true", help=f"only the speakers {', '.join(VALIDATION)}")
    parser.add_argument("--workspace", type=Path, help="keep (and reuse) the pipeline in this folder")
    args = parser.parse_args()
    if args.record and args.validation:
        parser.error("--record publishes all five speakers: leave out --validation")
    clips = sorted((args.corpora.resolve() / "fsdd" / "recordings").glob("*.wav"))
    if args.validation:
        clips = [c for c in clips if c.stem.split("_")[1] in VALIDATION]
    if not clips:
        parser.error(f"no FSDD clips in {args.corpora / 'fsdd' / 'recordings'}")
    with tempfile.TemporaryDirectory() as tmp:
        if args.workspace and (args.workspace / "dvc.yaml").exists():  # an earlier run's pipeline
            ws = refresh_workspace(args.workspace)
        else:
            ws = make_workspace(args.workspace or Path(tmp) / "offline", args.overrides, dvc=True)
        built = repro(ws, args.overrides)
        report, seconds = predict(ws, clips)
    if unread := [clip["file"] for clip in report if "error" in clip]:
        raise SystemExit(f"predict could not read {len(unread)} clips, e.g. {unread[0]}")
    table = score(report)
    by_speaker = table.groupby("speaker")[["right", "best_right", "one_word"]].mean()
    lines = [f"{'speaker':<10} {'right':>7} {'best word':>10} {'one word':>9}"]
    lines += [f"{s:<10} {r.right:7.1%} {r.best_right:10.1%} {r.one_word:9.1%}" for s, r in by_speaker.iterrows()]
    lines += [f"{'all':<10} {table.right.mean():7.1%} {table.best_right.mean():10.1%} {table.one_word.mean():9.1%}"
              f"   ({len(table)} clips)",
              f"trained offline in {built:.0f} s (dvc repro); predict: {len(clips) / seconds:.0f} clips/s in one call"]
    print("\n".join(lines))
    if args.record:
        config = " ".join(args.overrides) or "the default config"
        record(f"humans {config}", f"Offline model ({config}) on the 2500 FSDD clips of 5 human speakers", lines,
               f"{table.right.mean():.1%} of the clips recognised (target ≥ 95%)")


if __name__ == "__main__":
    main()
