"""Benchmark: the digit model of `corpus=fsdd` (default config) on held-out takes in a noisy,
echoing room, each clip through `speech-mnist predict`.

    python bench/robustness.py [--corpora ../shared/corpora] [-S key=value ...] [--record] [--validation]

Takes 0-4 of the five FSDD speakers (250 clips, never trained on) are each put in a simulated
room (reverberation, RT60 drawn from 0.3-0.8 s) and mixed with real room noise (the commands
corpus' noise clips) at 20, 10 and 5 dB SNR against the word. The noise clips are split in two:
one half is the pipeline's `corpus.noise` (recordings and augmentation), the other half is only
ever used here. A clip is right when predict finds exactly one word and it is the right digit;
also printed: the share whose most likely word is right (misheard or not) and the share cut into
exactly one word (cut right or not).

--validation chooses settings without looking at the published figure: takes 5-9 are held out
instead of 0-4 (the pipeline trains on the rest), and the noise half that the pipeline may use is
split again, one quarter for the pipeline, one for the room.
"""

import argparse
import tempfile
from pathlib import Path

import numpy as np

from humans import predict, score
from results import record
from speech_mnist.audio import is_audio_name, read_audio, write_wav
from speech_mnist.noise import fit_noise, load_noise, reverberate, room_impulse
from workspace import REPO, make_workspace, repro

RATE = 8000
RT60_S = (0.3, 0.8)
PUBLISHED_TAKES, VALIDATION_TAKES = range(0, 5), range(5, 10)
CONDITIONS = [("clean", None, None), ("room echo only", RT60_S, None),
              ("echo + noise 20 dB", RT60_S, 20), ("echo + noise 10 dB", RT60_S, 10), ("echo + noise 5 dB", RT60_S, 5)]


def split_noise(folder: Path, train: Path, test: Path) -> None:
    """Every other noise clip (sorted by name) to `train`, the rest to `test`, as symlinks."""
    for folder_out in (train, test):
        folder_out.mkdir(parents=True)
    for i, clip in enumerate(sorted(p for p in folder.iterdir() if is_audio_name(p))):
        ((train if i % 2 == 0 else test) / clip.name).symlink_to(clip.resolve())


def in_the_room(word: np.ndarray, noise: np.ndarray | None, snr_db: float | None, rt60_s, rng) -> np.ndarray:
    """The word with a quarter second of room around it, echoing and under noise at `snr_db`
    (against the word's own level, not the pauses')."""
    padded = np.pad(word, int(0.25 * RATE))
    if rt60_s:
        padded = reverberate(padded, room_impulse(RATE, rng.uniform(*rt60_s), rng))
    if snr_db is not None:
        stretch = fit_noise(noise, len(padded), rng)
        scale = np.sqrt(np.mean(word**2) / (np.mean(stretch**2) + 1e-12) / 10 ** (snr_db / 10))
        padded = padded + scale * stretch
    return (padded / max(1.0, np.abs(padded).max())).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpora", type=Path, default=REPO.parent / "shared" / "corpora")
    parser.add_argument("-S", dest="overrides", action="append", default=[], help="extra Hydra override")
    parser.add_argument("--record", action="store_true", help="write the figures to docs/results.md")
    parser.add_argument("--validation", action="store_true", help="takes 5-9 and a quarter of the noise: for choosing settings")
    args = parser.parse_args()
    if args.record and args.validation:
        parser.error("--record publishes takes 0-4: leave out --validation")
    corpora = args.corpora.resolve()
    takes = VALIDATION_TAKES if args.validation else PUBLISHED_TAKES
    clips = sorted(p for p in (corpora / "fsdd" / "recordings").glob("*.wav") if int(p.stem.split("_")[2]) in takes)
    if not clips:
        parser.error(f"no FSDD clips in {corpora / 'fsdd' / 'recordings'}")
    lines = [f"{'condition':<22} {'right':>7} {'best word':>10} {'one word':>9}   "
             f"({len(clips)} clips: takes {takes[0]}-{takes[-1]} of 5 speakers)"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        split_noise(corpora / "commands" / "none", tmp / "noise_train", tmp / "noise_test")
        pipeline_noise, room_noise, held_out = tmp / "noise_train", tmp / "noise_test", []
        if args.validation:  # the published room noise stays unheard: the pipeline's half is split again
            pipeline_noise, room_noise = tmp / "noise_train_quarter", tmp / "noise_validation"
            split_noise(tmp / "noise_train", pipeline_noise, room_noise)
            held_out = [f"corpus.vocabs.num.split.test=[{','.join(map(str, takes))}]"]
        overrides = ["corpus=fsdd", f"corpus.root={corpora}", f"corpus.noise={pipeline_noise}", *held_out, *args.overrides]
        ws = make_workspace(tmp / "fsdd", overrides, dvc=True)
        built = repro(ws, overrides)
        noises = load_noise(room_noise, RATE)
        words = [read_audio(c, RATE) for c in clips]
        figures = {}
        for name, rt60_s, snr_db in CONDITIONS:
            rng = np.random.default_rng(0)  # every condition puts each clip in the same rooms
            folder = tmp / name.replace(" ", "_")
            folder.mkdir()
            for clip, word in zip(clips, words):
                noise = noises[int(rng.integers(len(noises)))]
                write_wav(folder / clip.name, in_the_room(word, noise, snr_db, rt60_s, rng), RATE)
            report, _ = predict(ws, sorted(folder.glob("*.wav")))
            scores = score(report)  # wrong because misheard (best word) or because cut wrong (one word)
            figures[name] = scores.right.mean()
            lines.append(f"{name:<22} {figures[name]:7.1%} {scores.best_right.mean():10.1%} {scores.one_word.mean():9.1%}")
            print(lines[-1], flush=True)
    lines.append(f"trained in {built:.0f} s (dvc repro, corpus=fsdd{' ' + ' '.join(args.overrides) if args.overrides else ''})")
    print(lines[-1])
    if args.record:
        config = " ".join(args.overrides) or "default config"
        record(f"robustness {config}", f"Held-out FSDD takes in a noisy, echoing room (corpus=fsdd, {config})",
               lines, f"echo + noise 10 dB {figures['echo + noise 10 dB']:.1%} (target ≥ 95%), "
                      f"clean {figures['clean']:.1%}")


if __name__ == "__main__":
    main()
