"""Continuous recordings for the pipeline: synthesised with eSpeak, joined from isolated clips,
or taken as they are from a folder.

Every recording is named `<vocab>_<speaker>_<take>.<ext>` and says the words of its vocab in
order. Where the words' true positions are known, they go into a boundaries table.
"""

import glob
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from .audio import read_audio, write_wav
from .config import resolve_path
from .errors import ConfigError, CorpusMissing
from .noise import loop_noise, noise_clips, room_tone
from .recording import RecordingName
from .workers import streamed

# Notes a user keeps beside recordings in a folder corpus: never taken for recordings.
NOTE_SUFFIXES = (".md", ".txt", ".rst", ".pdf", ".html", ".csv")
BOUNDARY_COLUMNS = ["recording", "vocab", "speaker", "take", "word", "start", "end"]
# Clip trimming measures energy where speech is louder than room hum and hiss, in 4 ms frames.
TRIM_ENERGY = {"band_hz": (300, 3800), "hop_ms": 4, "frame_ms": 16}


# --- assembling a recording from single words ------------------------------------------------


@dataclass(frozen=True)
class Layout:
    """The random choices that join single words into a recording, all drawn before any audio is
    mixed: the stage draws them in order in one process, and workers mix and write the audio."""

    gaps_s: np.ndarray   # the silence before each word, and after the last
    gains: np.ndarray    # each word's level
    snr_db: float        # speech to background noise
    noise_offset: int    # where in the noise the background starts


def draw_layout(words: int, rng: np.random.Generator, noise_length: int, silence_s: tuple[float, float],
                snr_db: tuple[float, float], level_db: float) -> Layout:
    gaps = rng.uniform(*silence_s, size=words + 1)
    gains = 10 ** (rng.uniform(-level_db, level_db, size=words) / 20)
    return Layout(gaps, gains, float(rng.uniform(*snr_db)), int(rng.integers(0, noise_length)))


def mix(words: list[np.ndarray], sample_rate: int, layout: Layout, noise: np.ndarray):
    """Single-word clips joined as `layout` says: silences, level changes and background noise.

    Returns the float32 recording and each word's (start, end) in seconds.
    """
    pieces, bounds, cursor = [], [], 0
    for gap, gain, word in zip(layout.gaps_s, layout.gains, words):
        silence = np.zeros(int(round(gap * sample_rate)), dtype=np.float32)
        pieces += [silence, word * gain]
        start = cursor + len(silence)
        cursor = start + len(word)
        bounds.append((start / sample_rate, cursor / sample_rate))
    pieces.append(np.zeros(int(round(layout.gaps_s[-1] * sample_rate)), dtype=np.float32))
    speech = np.concatenate(pieces)
    background = loop_noise(noise, len(speech), layout.noise_offset)
    speech_power = np.mean(np.concatenate([w * g for w, g in zip(words, layout.gains)]) ** 2)
    noise_power = np.mean(background**2) or 1.0
    background *= np.sqrt(speech_power / noise_power / 10 ** (layout.snr_db / 10))
    recording = speech + background
    return (recording / max(1.0, np.max(np.abs(recording)) / 0.99)).astype(np.float32), bounds


def assemble(words: list[np.ndarray], sample_rate: int, rng: np.random.Generator, noise: np.ndarray,
             silence_s: tuple[float, float], snr_db: tuple[float, float], level_db: float):
    """Join single-word clips with random silences, level changes and background noise (mix, with
    a layout drawn from `rng`). Returns the float32 recording and each word's (start, end) in seconds."""
    return mix(words, sample_rate, draw_layout(len(words), rng, len(noise), silence_s, snr_db, level_db), noise)


def trim_clip(samples: np.ndarray, sample_rate: int, top_db: float) -> np.ndarray:
    """A clip without its lead-in and tail: the stretch whose speech-band energy is within `top_db`
    of its loudest frame, with 20 ms to spare on each side.

    Clips recorded with a second of room noise around the word would otherwise make that noise
    part of the "true" word, and of its stamp. Whole-band level does not separate them: the
    room's low hum is within 30 dB of many words' peaks, their speech band is not.
    """
    from .segment import band_energy_db

    energy = band_energy_db(samples, sample_rate, TRIM_ENERGY)
    hop = int(sample_rate * TRIM_ENERGY["hop_ms"] / 1000)  # as band_energy_db frames it
    loud = np.flatnonzero(energy >= energy.max() - top_db)
    margin = int(0.02 * sample_rate)
    return samples[max(0, loud[0] * hop - margin):min(len(samples), (loud[-1] + 1) * hop + margin)]


def trim_silence(samples: np.ndarray, threshold: float = 0.02) -> np.ndarray:
    """Cut the leading and trailing near-silence that eSpeak puts around a word."""
    loud = np.flatnonzero(np.abs(samples) > threshold * np.max(np.abs(samples)))
    return samples[loud[0]:loud[-1] + 1] if loud.size else samples


# --- the three kinds of corpus ---------------------------------------------------------------


def espeak_voices(voices: dict) -> list[dict]:
    """`count` distinct voices: language x variant pairs, each with its own rate and pitch."""
    rng = np.random.default_rng(voices["seed"])
    pairs = [(lang, variant) for variant in voices["variants"] for lang in voices["languages"]]
    if voices["count"] > len(pairs):
        raise ConfigError(f"corpus.voices.count={voices['count']} but only {len(pairs)} language x variant pairs")
    chosen = [pairs[i] for i in sorted(rng.choice(len(pairs), voices["count"], replace=False))]
    return [
        {
            "speaker": f"{lang.replace('-', '')}-{variant}",
            "espeak": f"{lang}+{variant}",
            "rate": int(rng.integers(*voices["rate"], endpoint=True)),
            "pitch": int(rng.integers(*voices["pitch"], endpoint=True)),
        }
        for lang, variant in chosen
    ]


def synthesize_espeak(corpus: dict, out_dir: Path, progress=None) -> pd.DataFrame:
    """Speak every vocab with every voice. eSpeak's output depends on the order of its calls, so
    every word is said here, in a fixed order, and every random choice drawn here too; worker
    processes mix and write the recordings meanwhile. Byte-reproducible with any worker count."""
    from .espeak import Espeak

    engine = Espeak()
    rng = np.random.default_rng(corpus["seed"])
    voices = espeak_voices(corpus["voices"])
    noise = room_tone(engine.sample_rate * 10, engine.sample_rate, rng)

    def planned():
        for vocab, spec in corpus["vocabs"].items():
            for voice in voices:
                for take in range(spec["takes"]):
                    # each take is said a little faster or slower, higher or lower
                    rate = voice["rate"] + int(rng.integers(-15, 16))
                    pitch = voice["pitch"] + int(rng.integers(-8, 9))
                    words = [_int16_to_float(trim_silence(engine.say(w, voice["espeak"], rate, pitch)))
                             for w in spec["words"]]
                    yield Planned(RecordingName(vocab, voice["speaker"], take), spec["words"], words,
                                  draw_layout(len(words), rng, len(noise), **_layout_ranges(corpus)), 0)

    return write_recordings(planned(), engine.sample_rate, [noise], out_dir, progress)


def synthesize_extra_voices(corpus: dict, out_dir: Path, progress=None) -> pd.DataFrame:
    """Every eSpeak voice says the digit vocab `corpus.espeak_takes` times, beside a real corpus."""
    digits = corpus["digits"]
    spec = {**corpus["vocabs"][digits], "takes": corpus["espeak_takes"]}
    return synthesize_espeak({**corpus, "vocabs": {digits: spec}}, out_dir, progress)


def adds_voices(corpus: dict) -> bool:
    """A real corpus with `espeak_takes`: eSpeak voices say its digits too (an espeak corpus is all voices)."""
    return corpus["kind"] != "espeak" and bool(corpus.get("espeak_takes"))


def extra_voice_speakers(corpus: dict, vocab: str) -> set[str]:
    """The speakers of `vocab` whose words only ever train, never test: the voices
    synthesize_extra_voices adds to a real corpus's digits. A vocab without clips (corpus.unknown's
    other words) is said by those voices alone: they are its test speakers too."""
    if not adds_voices(corpus) or vocab != corpus["digits"]:  # the only vocab synthesize_extra_voices adds them to
        return set()
    return {voice["speaker"] for voice in espeak_voices(corpus["voices"])}


def synthesize_clips(corpus: dict, out_dir: Path, progress=None) -> pd.DataFrame:
    """Join take k of each speaker's isolated clips, in vocab order, into one recording.

    A vocab without `clips` (words no real speaker of the corpus says, such as corpus.unknown's)
    is said by every eSpeak voice, `takes` times.
    """
    rng = np.random.default_rng(corpus["seed"])
    written, spoken = [], []
    for vocab, spec in corpus["vocabs"].items():
        if "clips" not in spec:
            spoken.append(synthesize_espeak({**corpus, "vocabs": {vocab: spec}}, out_dir, progress))
            continue
        root = resolve_path(corpus["root"])
        if not root.is_dir():
            raise CorpusMissing(f"corpus.root {root} is not a folder: it holds the real corpora (README.md, "
                                f"Corpora); name yours with -S corpus.root=DIR")
        takes = find_clip_takes(root, spec)
        rate = spec["sample_rate"]
        noises = noise_clips(corpus, rate, corpus["seed"] + 1)  # corpus.noise, or room tone (not rng's draws)

        def planned():
            for (speaker, take), paths in sorted(takes.items()):
                words = [trim_clip(read_audio(p, rate), rate, spec["trim_db"]) for p in paths]
                noise = int(rng.integers(len(noises)))  # one room per recording
                layout = draw_layout(len(words), rng, len(noises[noise]), **_layout_ranges(corpus))
                yield Planned(RecordingName(vocab, speaker, take), spec["words"], words, layout, noise)

        written.append(write_recordings(planned(), rate, noises, out_dir, progress))
    return pd.concat([*written, *spoken], ignore_index=True)


def copy_folder(corpus: dict, out_dir: Path) -> pd.DataFrame:
    """A user's own continuous recordings, copied byte for byte; their boundaries are unknown.

    Notes kept beside them (README.md, *.txt, tables) are left out; any other file is copied, so that the
    segment stage reports it as a reject with its reason instead of losing it silently.
    """
    source = resolve_path(corpus["path"])
    if not source.is_dir():
        raise CorpusMissing(f"corpus.path {source} is not a folder of recordings")
    for path in sorted(source.iterdir()):
        if path.is_file() and not path.name.startswith(".") and path.suffix.lower() not in NOTE_SUFFIXES:
            shutil.copyfile(path, out_dir / path.name)
    return pd.DataFrame(columns=BOUNDARY_COLUMNS)


@dataclass(frozen=True)
class Planned:
    """A recording with its words said and its layout drawn: all that is left is to mix and write it."""

    name: RecordingName
    word_names: list[str]
    words: list[np.ndarray]
    layout: Layout
    noise: int  # which of the corpus's background noises


def write_recordings(recordings: Iterable[Planned], rate: int, noises: list[np.ndarray], out_dir: Path,
                     progress=None) -> pd.DataFrame:
    """Mix and write each planned recording, in worker processes, as they come; their boundaries."""
    rows = []
    write = partial(_write_planned, rate=rate, out_dir=out_dir)
    for found in streamed(write, recordings, initializer=_keep_noises, initargs=(noises,)):
        rows += found
        if progress is not None:
            progress.update()
    return pd.DataFrame(rows, columns=BOUNDARY_COLUMNS)


def _layout_ranges(corpus: dict) -> dict:
    return {k: corpus[k] for k in ("silence_s", "snr_db", "level_db")}


_noises: list[np.ndarray] = []  # the corpus's background noises, sent once to each worker


def _keep_noises(noises: list[np.ndarray]) -> None:
    global _noises
    _noises = noises


def _write_planned(planned: Planned, rate: int, out_dir: Path) -> list[list]:
    recording, bounds = mix(planned.words, rate, planned.layout, _noises[planned.noise])
    write_wav(out_dir / f"{planned.name.stem}.wav", recording, rate)
    name = planned.name
    return [[f"{name.stem}.wav", name.vocab, name.speaker, name.take, word, round(start, 4), round(end, 4)]
            for word, (start, end) in zip(planned.word_names, bounds)]


def _int16_to_float(samples: np.ndarray) -> np.ndarray:
    return samples.astype(np.float32) / 32768.0


def find_clip_takes(root: Path, spec: dict) -> dict[tuple[str, int], list[Path]]:
    """Map (speaker, take) -> one clip per vocab word, in order, for complete takes only.

    `spec["clips"]` is a path template under `root` with the fields {index} (word position),
    {word}, {speaker}, {take} and {file}. Without {speaker}, `spec["speaker"]` names the one
    speaker; without {take}, a clip's take is its rank among that word's sorted files.
    """
    template = spec["clips"]
    pattern = glob.escape(str(root)) + "/" + re.sub(r"\{\w+\}", "*", template)
    regex = re.compile(re.escape(str(root)) + "/" + _template_regex(template) + "$")
    found: dict[tuple[str, int], dict[int, Path]] = {}
    rank: dict[tuple[str, int], int] = {}
    for path in sorted(Path(p) for p in glob.glob(pattern)):
        match = regex.match(str(path))
        if not match:
            continue
        fields = match.groupdict()
        index = int(fields["index"]) if "index" in fields else _word_index(spec["words"], fields.get("word"))
        if index is None or index >= len(spec["words"]):
            continue
        speaker = fields.get("speaker") or spec["speaker"]
        if "take" in fields:
            take = int(fields["take"])
        else:
            take = rank.setdefault((speaker, index), 0)
            rank[(speaker, index)] += 1
        found.setdefault((speaker, take), {})[index] = path
    complete = len(spec["words"])
    return {key: [clips[i] for i in range(complete)] for key, clips in found.items() if len(clips) == complete}


def _template_regex(template: str) -> str:
    field = {"index": r"(?P<index>\d+)", "take": r"(?P<take>\d+)", "speaker": r"(?P<speaker>[^/_]+)",
             "word": r"(?P<word>[^/]+)", "file": r"(?P<file>[^/]+)"}
    parts = re.split(r"(\{\w+\})", template)
    return "".join(field[p[1:-1]] if p.startswith("{") else re.escape(p) for p in parts)


def _word_index(words: list[str], word: str | None) -> int | None:
    return words.index(word) if word in words else None
