"""Building continuous recordings: eSpeak voices, isolated clips, a user's folder."""

import subprocess
import sys

import numpy as np
import pandas as pd
import soundfile as sf

from conftest import compose, make_workspace, run_stage
from speech_mnist.recording import parse_recording_name
from speech_mnist.corpus import (assemble, espeak_voices, extra_voice_speakers, find_clip_takes,
                                 trim_clip)

SYNTHETIC = compose()["corpus"]

SAY_EVERY_VARIANT = """
import hashlib, sys, yaml
from speech_mnist.espeak import Espeak
voices = yaml.safe_load(sys.stdin)
engine, digest = Espeak(), hashlib.sha256()
for variant in voices["variants"]:
    for language in voices["languages"][:2]:
        digest.update(engine.say("seven", f"{language}+{variant}", 150, 50).tobytes())
print(digest.hexdigest())
"""


def test_configured_voices_say_the_same_bytes_in_two_fresh_processes():
    import yaml

    def say():
        return subprocess.run([sys.executable, "-c", SAY_EVERY_VARIANT], input=yaml.safe_dump(SYNTHETIC["voices"]),
                              capture_output=True, text=True, check=True).stdout

    assert say() == say()


def test_at_least_30_distinct_voices_by_default():
    voices = espeak_voices(SYNTHETIC["voices"])
    assert len(voices) >= 30
    assert len({v["speaker"] for v in voices}) == len(voices)
    assert all("_" not in v["speaker"] for v in voices)  # the name separator


def test_assemble_puts_each_word_where_its_boundaries_say():
    rng = np.random.default_rng(0)
    words = [np.full(800, 0.5, np.float32), np.full(1600, -0.5, np.float32)]
    recording, bounds = assemble(words, 8000, rng, np.zeros(100, np.float32), (0.3, 0.5), (30, 30), 0)
    for word, (start, end) in zip(words, bounds):
        assert round((end - start) * 8000) == len(word)
        inside = recording[round(start * 8000):round(end * 8000)]
        assert np.allclose(np.abs(inside), np.abs(inside[0])) and abs(inside[0]) > 0.1
    assert np.all(recording[:round(bounds[0][0] * 8000)] == 0)


def test_trim_clip_cuts_loud_room_hum_around_the_word():
    # A clip like the commands corpus's: 0.5 s of strong mains hum, a 0.3 s word, 0.5 s of hum.
    rate = 8000
    t = np.arange(int(1.3 * rate)) / rate
    hum = 0.3 * np.sin(2 * np.pi * 60 * t)
    word = (t >= 0.5) & (t < 0.8)
    clip = (hum + word * 0.5 * np.sin(2 * np.pi * 900 * t)).astype(np.float32)
    trimmed = trim_clip(clip, rate, top_db=20)
    assert 0.3 <= len(trimmed) / rate <= 0.36  # the word and a 20 ms margin each side
    start = np.flatnonzero(np.all(np.lib.stride_tricks.sliding_window_view(clip, len(trimmed)) == trimmed, axis=1))
    assert abs(start[0] / rate - 0.48) < 0.01  # (whole-band level keeps it all: the hum is 4 dB below the word)


def test_clip_templates_group_complete_takes(tmp_path):
    for speaker in ("ann", "bob"):
        for take in range(3):
            for index in range(3):
                if speaker == "bob" and take == 2 and index == 1:
                    continue  # an incomplete take is left out
                sf.write(tmp_path / f"{index}_{speaker}_{take}.wav", np.zeros(80), 8000)
    takes = find_clip_takes(tmp_path, {"clips": "{index}_{speaker}_{take}.wav", "words": ["a", "b", "c"]})
    assert sorted(takes) == [("ann", 0), ("ann", 1), ("ann", 2), ("bob", 0), ("bob", 1)]
    assert [p.name for p in takes[("bob", 1)]] == ["0_bob_1.wav", "1_bob_1.wav", "2_bob_1.wav"]


def test_word_folders_rank_their_files_into_takes(tmp_path):
    for word, count in (("left", 3), ("right", 2)):
        (tmp_path / word).mkdir()
        for i in range(count):
            sf.write(tmp_path / word / f"clip{i}.wav", np.zeros(80), 8000)
    spec = {"clips": "{word}/{file}.wav", "words": ["left", "right"], "speaker": "felix"}
    takes = find_clip_takes(tmp_path, spec)
    assert sorted(takes) == [("felix", 0), ("felix", 1)]


def test_real_corpora_give_every_take_of_every_speaker(shared_corpora):
    fsdd = compose(["corpus=fsdd"])["corpus"]["vocabs"]
    assert len(find_clip_takes(shared_corpora, fsdd["num"])) == 5 * 50
    assert len(find_clip_takes(shared_corpora, fsdd["commands"])) >= 111


def test_recording_names_parse_or_say_why():
    assert parse_recording_name("num_alice_3.wav").take == 3
    for bad in ("num_alice.wav", "num_al_ice_3.wav", "num_alice_x.wav"):
        try:
            parse_recording_name(bad)
        except ValueError as error:
            assert "<vocab>_<speaker>_<take>" in str(error)
        else:
            raise AssertionError(f"{bad} parsed")


def test_a_clips_corpus_without_a_noise_folder_gets_room_tone(tmp_path, shared_corpora):
    overrides = ["corpus=fsdd", f"corpus.root={shared_corpora}", "corpus.espeak_takes=0", "corpus.noise=null",
                 "corpus.vocabs.num.clips='fsdd/recordings/{index}_{speaker}_1.wav'"]
    ws = make_workspace(tmp_path / "ws", overrides)
    result = run_stage(ws, "synthesize")
    assert result.returncode == 0, result.stderr[-2000:]
    boundaries = pd.read_csv(ws / "data/recordings/boundaries.csv")
    num = boundaries[boundaries["vocab"] == "num"]
    assert num["recording"].nunique() == 5
    first = num.iloc[0]
    samples, rate = sf.read(ws / "data/recordings" / first["recording"], dtype="float32")
    before_the_first_word = samples[:int(first["start"] * rate)]
    assert len(before_the_first_word) > 0.25 * rate and np.sqrt(np.mean(before_the_first_word ** 2)) > 1e-4  # room tone, not silence


def test_clips_stage_builds_recordings_with_true_boundaries(tmp_path, shared_corpora):
    overrides = ["corpus=fsdd", f"corpus.root={shared_corpora}", "corpus.espeak_takes=1", "corpus.voices.count=2", "preset=unknown",
                 "corpus.vocabs.num.clips='fsdd/recordings/{index}_{speaker}_1.wav'",
                 "corpus.vocabs.other.words=[hello,water,music,window]"]  # few: every voice's recording cuts right
    ws = make_workspace(tmp_path / "ws", overrides)
    (ws / "conf").rename(ws / "conf-unused")  # the stage must read params.yaml only
    run_stage(ws, "synthesize")
    boundaries = pd.read_csv(ws / "data/recordings/boundaries.csv")
    num = boundaries[boundaries["vocab"] == "num"]
    voices = extra_voice_speakers(compose(overrides)["corpus"], "num")
    assert len(voices) == 2
    assert extra_voice_speakers(compose(overrides)["corpus"], "other") == set()  # the voices are all it has
    assert set(num["speaker"]) == {"george", "jackson", "nicolas", "theo", "yweweler"} | voices
    assert num["recording"].nunique() == 5 + 2  # take 1 of each real speaker, take 0 of each voice
    # the voices say the digits and the words of the vocab without clips (corpus.unknown's), never commands
    assert set(boundaries.loc[boundaries["speaker"].isin(voices), "vocab"]) == {"num", "other"}
    assert set(boundaries.loc[boundaries["vocab"] == "other", "speaker"]) == voices
    for _, words in num.groupby("recording"):
        assert list(words["word"]) == compose()["corpus"]["vocabs"]["num"]["words"]
        gaps = words["start"].to_numpy()[1:] - words["end"].to_numpy()[:-1]
        assert np.all((gaps >= 0.299) & (gaps <= 1.001))
    # the stamps: the voices' digits only train; the other words, said by the voices alone, keep a test split
    run_stage(ws, "segment")
    run_stage(ws, "stamps")
    with np.load(ws / "data/stamps/num.npz") as num_stamps, np.load(ws / "data/stamps/other.npz") as other:
        assert set(num_stamps["speaker"][num_stamps["split"] == "test"]).isdisjoint(voices)
        assert set(other["split"]) == {"train", "test"}
