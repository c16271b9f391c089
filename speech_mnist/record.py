"""Recording your own words: prompts through a vocab, writes <vocab>_<speaker>_<take>.wav."""

import time
from pathlib import Path

import numpy as np

from .audio import write_wav
from .recording import parse_recording_name
from .errors import UserError


class NoAudioDevice(UserError, RuntimeError):
    """No microphone to record from."""


def audio_backend():
    """The sounddevice module, or NoAudioDevice with the reason (no PortAudio, no input device)."""
    try:
        import sounddevice
    except OSError as error:  # sounddevice raises this when PortAudio is missing
        raise NoAudioDevice(f"no audio system: {error}") from None
    check_input(sounddevice)
    return sounddevice


def check_input(backend) -> None:
    try:
        devices = backend.query_devices()
    except Exception as error:  # PortAudio errors are not one class
        raise NoAudioDevice(f"cannot list audio devices: {error}") from None
    if not any(d.get("max_input_channels", 0) > 0 for d in devices):
        raise NoAudioDevice("no audio input device (microphone) found")


def next_take(folder: Path, vocab: str, speaker: str) -> int:
    """One more than the highest take of this vocab and speaker in the folder."""
    takes = []
    for path in folder.glob(f"{vocab}_{speaker}_*.*"):
        try:
            takes.append(parse_recording_name(path).take)
        except ValueError:
            continue
    return max(takes, default=-1) + 1


def record(backend, words: list[str], rate: int, seconds_per_word: float, say=print) -> np.ndarray:
    """Record one continuous take while prompting each word in turn; mono float32 samples."""
    frames = int(len(words) * seconds_per_word * rate)
    recording = backend.rec(frames, samplerate=rate, channels=1, dtype="float32")
    for word in words:
        say(f"  say: {word}")
        time.sleep(seconds_per_word)
    backend.wait()
    return np.asarray(recording, dtype=np.float32).reshape(-1)


def save_take(samples: np.ndarray, folder: Path, vocab: str, speaker: str, rate: int) -> Path:
    if "_" in speaker or not speaker:
        raise ValueError("the speaker name must be non-empty and without '_'")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{vocab}_{speaker}_{next_take(folder, vocab, speaker)}.wav"
    write_wav(path, samples, rate)
    return path
