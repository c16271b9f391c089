"""Benchmark: how long the pipeline and `speech-mnist predict` take, and how much memory they use.

    python bench/speed.py [-S key=value ...] [--record]

In a throw-away copy of the pipeline (default config, or -S overrides), after one warm-up run:
- a full `dvc repro -f`, then each stage alone (wall time and peak RSS of the stage's process);
- predict on 2500 one-word clips (the pipeline's own word files, repeated) in one call: clips per
  second, and the time to the first printed word; and the cost of the speech embedding alone (the
  pretrained stamp), the part of predict no batching or worker makes cheaper;
- predict on one 10-minute recording (the pipeline's recordings joined): times faster than real time.
Run it on an otherwise idle machine: the figures are times.
"""

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from results import record
from speech_mnist.config import load_params
from workspace import make_workspace, measured, repro, stage_command, venv_env

STAGES = ["synthesize", "segment", "stamps", "train_cnn", "train_svm", "evaluate"]


def first_word_and_rate(ws: Path, files: list[Path]) -> tuple[float, float]:
    """Seconds until predict prints its first file's line, and files per second over the whole call."""
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "speech_mnist", "predict", *map(str, files)], cwd=ws,
                               env=venv_env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    first = None
    for line in process.stdout:
        if first is None and line.strip():
            first = time.perf_counter() - started
    process.wait()
    return first or float("nan"), len(files) / (time.perf_counter() - started)


def embedding_cost(words: list[Path], params: dict) -> tuple[float, float]:
    """Milliseconds of CPU per clip, and clips per second, of the speech embedding alone (both
    threads): what predict cannot beat while the stamp is pretrained."""
    from speech_mnist import embedding
    from speech_mnist.audio import read_audio
    from speech_mnist.stamps import embedding_input

    rate, seconds = params["audio"]["sample_rate"], params["stamp"]["seconds"]
    pcm = np.stack([embedding_input(read_audio(p, rate), rate, seconds) for p in words])
    embedding.embed(pcm[:8])  # the models load
    wall, cpu = time.perf_counter(), time.process_time()
    embedding.embed(pcm)
    return (time.process_time() - cpu) / len(pcm) * 1000, len(pcm) / (time.perf_counter() - wall)


def long_recording(ws: Path, seconds: float, path: Path) -> Path:
    rate = load_params(ws / "params.yaml")["audio"]["sample_rate"]
    pieces, total = [], 0
    recordings = sorted((ws / "data/recordings").glob("*.wav"))
    if not recordings:
        raise SystemExit(f"no recordings in {ws / 'data/recordings'}")
    while total < seconds * rate:
        for recording in recordings:
            samples, _ = sf.read(recording, dtype="float32")
            pieces.append(samples)
            total += len(samples)
    sf.write(path, np.concatenate(pieces)[: int(seconds * rate)], rate, subtype="PCM_16")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-S", dest="overrides", action="append", default=[], help="extra Hydra override")
    parser.add_argument("--clips", type=int, default=2500, help="one-word clips for predict (default 2500)")
    parser.add_argument("--record", action="store_true", help="write the figures to docs/results.md")
    args = parser.parse_args()
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        ws = make_workspace(Path(tmp) / "speed", args.overrides, dvc=True)
        repro(ws, args.overrides)  # warm-up: numba's cache, the file system
        full = measured([sys.executable, "-m", "dvc", "repro", "-f"], ws).seconds
        lines.append(f"full dvc repro -f: {full:.1f} s")
        for stage in STAGES:
            run = measured(stage_command(stage), ws)
            lines.append(f"  {stage:<11} {run.seconds:6.1f} s   peak RSS {run.peak_mib:6.0f} MiB")
        words = sorted((ws / "data/words").rglob("*.wav"))
        clips = [words[i % len(words)] for i in range(args.clips)]
        first, rate = first_word_and_rate(ws, clips)
        lines.append(f"predict, {len(clips)} one-word clips in one call: {rate:.0f} clips/s; first word after {first:.1f} s")
        params = load_params(ws / "params.yaml")
        if params["stamp"]["feature"] == "pretrained":
            cpu_ms, alone = embedding_cost(clips[:512], params)
            lines.append(f"speech embedding alone (what predict cannot beat): {cpu_ms:.1f} ms of CPU a clip, "
                         f"{alone:.0f} clips/s on both cores")
        recording = long_recording(ws, 600, Path(tmp) / "ten-minutes.wav")
        seconds = measured([sys.executable, "-m", "speech_mnist", "predict", str(recording)], ws).seconds
        lines.append(f"predict, one 10-minute recording: {seconds:.1f} s, {600 / seconds:.0f}x real time")
    print("\n".join(lines))
    if args.record:
        config = " ".join(args.overrides) or "default config"
        record(f"speed {config}", f"Speed ({config}), 2-core CPU", lines,
               f"full rebuild {full:.0f} s (target ≤ 60 s); predict {rate:.0f} clips/s (target ≥ 200)")


if __name__ == "__main__":
    main()
