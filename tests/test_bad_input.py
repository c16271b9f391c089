"""The segment stage on a folder of good, odd and broken recordings: every file is either cut
into words or listed in the rejects report with its reason, and no input is changed."""

import hashlib

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from conftest import make_workspace, run_stage
from speech_mnist.audio import resample
from speech_mnist.corpus import assemble, trim_silence
from speech_mnist.noise import room_tone
from speech_mnist.espeak import Espeak

ANIMALS = ["cat", "dog", "fox", "bird"]


def spoken(words: list[str], seed: int = 0, faint_db: float = 0.0) -> tuple[np.ndarray, int]:
    """A continuous recording of `words` by eSpeak at 22050 Hz, with pauses and room tone;
    the last word `faint_db` quieter than the others."""
    engine = Espeak()
    rng = np.random.default_rng(seed)
    clips = [trim_silence(engine.say(w, "en-us+m3", 150, 50)).astype(np.float32) / 32768 for w in words]
    clips[-1] *= 10 ** (-faint_db / 20)
    samples, _ = assemble(clips, engine.sample_rate, rng, room_tone(engine.sample_rate * 3, engine.sample_rate, rng),
                          (0.4, 0.8), (30, 35), 3)
    return samples, engine.sample_rate


GOOD = {  # name -> how to write it
    "animals_wav_0.wav": dict(subtype="PCM_16"),
    "animals_stereo_0.wav": dict(stereo=True, subtype="PCM_16"),
    "animals_cd_0.wav": dict(rate=44100, subtype="PCM_16"),
    "animals_dat_0.wav": dict(rate=48000, subtype="PCM_24"),
    "animals_flac_0.flac": dict(format="FLAC", subtype="PCM_16"),
    "animals_ogg_0.ogg": dict(format="OGG", subtype="VORBIS"),
    "animals_mp3_0.mp3": dict(format="MP3", subtype="MPEG_LAYER_III"),
}

BAD = {  # name -> the words its rejects reason must contain
    "animals_corrupt_0.wav": "not readable as audio",
    "animals_empty_0.wav": "empty file",
    "animals_text_0.wav": "not readable as audio",
    "animals_silent_0.wav": "no speech",
    "animals_short_0.wav": "found 3 words",
    "animals_faint_0.wav": "unsure where the words are",
    "animals_bad-name.wav": "name is not",
    "planets_x_0.wav": "unknown vocab",
    "animals_x_0.dat": "not an audio file name",
    "animals_twin_0.wav": "same name but for the suffix",
    "animals_twin_0.ogg": "same name but for the suffix",
}
NOTES = ["README.md", "notes.txt"]  # kept beside recordings: neither recordings nor rejects


def write_inputs(raw):
    samples, rate = spoken(ANIMALS)
    for name, how in GOOD.items():
        target = how.get("rate", rate)
        audio = resample(samples, rate, target)
        if how.get("stereo"):
            audio = np.stack([audio, audio * 0.5], axis=1)
        sf.write(raw / name, audio, target, format=how.get("format", "WAV"), subtype=how["subtype"])
    good = (raw / "animals_wav_0.wav").read_bytes()
    (raw / "animals_corrupt_0.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk" + good[60:1000])
    (raw / "animals_empty_0.wav").write_bytes(b"")
    (raw / "animals_text_0.wav").write_text("this is not audio\n" * 50)
    sf.write(raw / "animals_silent_0.wav", np.zeros(rate * 3), rate)
    short, _ = spoken(ANIMALS[:3], seed=1)
    sf.write(raw / "animals_short_0.wav", short, rate)
    faint, _ = spoken(ANIMALS, faint_db=38)  # "bird" barely over the room tone
    sf.write(raw / "animals_faint_0.wav", faint, rate)
    sf.write(raw / "animals_bad-name.wav", samples, rate)
    sf.write(raw / "planets_x_0.wav", samples, rate)
    (raw / "animals_x_0.dat").write_text("not a recording")
    sf.write(raw / "animals_twin_0.wav", samples, rate)
    sf.write(raw / "animals_twin_0.ogg", samples, rate, format="OGG", subtype="VORBIS")
    for name in NOTES:
        (raw / name).write_text("# my recordings\n")


@pytest.fixture(scope="module")
def segmented(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad_input")
    raw = root / "raw"
    raw.mkdir()
    write_inputs(raw)
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in raw.iterdir()}
    ws = make_workspace(root / "ws", ["corpus=folder", f"corpus.path={raw}"])
    run_stage(ws, "synthesize")
    segment = run_stage(ws, "segment")
    after = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in raw.iterdir()}
    return {
        "ws": ws, "before": before, "after": after, "log": segment.stdout,
        "manifest": pd.read_csv(ws / "data/words/manifest.csv"),
        "rejects": pd.read_csv(ws / "data/words/rejects.csv").set_index("recording")["reason"],
    }


@pytest.mark.parametrize("name", sorted(GOOD))
def test_odd_but_valid_audio_is_cut_into_its_words(segmented, name):
    words = segmented["manifest"][segmented["manifest"]["recording"] == name]
    assert list(words["word"]) == ANIMALS
    for path in words["path"]:
        info = sf.info(segmented["ws"] / "data/words" / path)
        assert info.samplerate == 8000 and info.channels == 1


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_input_is_rejected_with_its_reason(segmented, name):
    assert name in segmented["rejects"].index, f"{name} neither segmented nor rejected"
    assert BAD[name] in segmented["rejects"][name]
    assert name not in set(segmented["manifest"]["recording"])


def test_every_input_is_accounted_for_and_unchanged(segmented):
    assert segmented["before"] == segmented["after"]
    accounted = set(segmented["manifest"]["recording"]) | set(segmented["rejects"].index)
    assert accounted == set(segmented["before"]) - set(NOTES)


def test_every_manifest_row_is_a_word_file_of_its_own(segmented):
    paths = segmented["manifest"]["path"]
    assert paths.is_unique
    assert all((segmented["ws"] / "data/words" / p).is_file() for p in paths)
    written = {str(p.relative_to(segmented["ws"] / "data/words")) for p in (segmented["ws"] / "data/words").rglob("*.wav")}
    assert written == set(paths)


def test_metrics_count_the_rejects(segmented):
    import json

    metrics = json.loads((segmented["ws"] / "metrics/segment.json").read_text())
    assert metrics["recordings"] == len(GOOD) + len(BAD)
    assert metrics["rejected"] == len(BAD)


def test_a_stage_given_a_parameter_it_cannot_use_stops_in_one_line(tmp_path):
    """`dvc exp run -S train.epochs=0`: the first stage to run names the parameter, no traceback."""
    from conftest import TINY, run, stage_command

    ws = make_workspace(tmp_path / "ws", [*TINY, "train.epochs=0"])
    result = run(stage_command("synthesize"), ws, check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == "stage synthesize: train.epochs must be a whole number, 1 or more, not 0"
    assert not (ws / "data" / "recordings").exists()  # stopped before it wrote anything


def test_a_real_corpus_that_is_not_where_the_parameters_say_is_named_in_one_line(tmp_path):
    """A clone away from ../shared: corpus.root, not the noise folder under it, is what is missing."""
    from conftest import run, stage_command

    ws = make_workspace(tmp_path / "ws", ["corpus=fsdd", f"corpus.root={tmp_path / 'nowhere'}"])
    result = run(stage_command("synthesize"), ws, check=False)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"stage synthesize: corpus.root {tmp_path / 'nowhere'} is not a folder")


def test_a_folder_corpus_with_no_usable_recording_says_so_at_the_stamps_stage(tmp_path):
    """Only a text file and a broken wav: segment rejects them with reasons, and stamps names the
    empty digit vocab and where the reasons are, instead of DVC's "output does not exist"."""
    from conftest import run, stage_command

    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "notes.md").write_text("my recordings\n")
    (raw / "num_me_0.wav").write_bytes(b"RIFF....WAVEfmt garbage")
    ws = make_workspace(tmp_path / "ws", ["corpus=folder", f"corpus.path={raw}"])
    for stage in ("synthesize", "segment"):
        run_stage(ws, stage)
    result = run(stage_command("stamps"), ws, check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1] == ("stage stamps: no words of the digit vocab 'num': no recording of it was "
                                              "found, or every one was rejected (see data/words/rejects.csv)")


def test_a_split_that_leaves_nothing_to_train_on_names_its_vocab(tmp_path):
    from conftest import TINY, run, stage_command

    ws = make_workspace(tmp_path / "ws", [*TINY, "corpus.vocabs.num.split.test_fraction=1.0"])
    for stage in ("synthesize", "segment"):
        run_stage(ws, stage)
    result = run(stage_command("stamps"), ws, check=False)
    assert result.returncode == 2 and result.stderr.splitlines()[-1] == (
        "stage stamps: corpus.vocabs.num.split.test_fraction: holding out 1.0 of 4 speaker(s) would leave none to train on")
