"""Who is speaking: the speaker SVM, trained by train_svm, tested by evaluate, used by predict --speaker."""

import json
import sys

import numpy as np
import pytest
import yaml

from conftest import TINY, make_dvc_workspace, run
from speech_mnist import speakers
from speech_mnist.files import load_npz


def test_held_out_takes_test_and_a_speaker_on_one_side_only_is_left_out():
    who = np.array(["ann", "ann", "bob", "bob", "cy"])
    takes = np.array([0, 1, 0, 1, 1])
    train, test = speakers.split_by_take(who, takes, [0])
    assert list(train) == [False, True, False, True, False]  # cy has no held-out take: not a task for them
    assert list(test) == [True, False, True, False, False]


def test_a_voiceprint_ignores_the_level_and_the_quiet_room_around_the_word():
    from speech_mnist.audio import resample
    from speech_mnist.corpus import trim_silence
    from speech_mnist.espeak import Espeak
    from speech_mnist.stamps import VOICEPRINT_BANDS, VOICEPRINT_PARTS, voiceprint

    engine = Espeak()
    word = resample(trim_silence(engine.say("seven", "en-us+m3", 150, 50)).astype(np.float32) / 32768,
                    engine.sample_rate, 8000)
    room = 1e-3 * np.random.default_rng(0).standard_normal(2400).astype(np.float32)  # -60 dB, 0.3 s each side
    alone, quieter = voiceprint(word, 8000), voiceprint(0.25 * word, 8000)
    in_room = voiceprint(np.concatenate([room, word, room]), 8000)
    assert alone.shape == (VOICEPRINT_BANDS * len(VOICEPRINT_PARTS),) and np.allclose(alone, quieter, atol=1e-3)
    assert np.linalg.norm(in_room - alone) < 0.1 * np.linalg.norm(alone)
    other_voice = resample(trim_silence(engine.say("seven", "en+f4", 150, 50)).astype(np.float32) / 32768,
                           engine.sample_rate, 8000)
    assert np.linalg.norm(voiceprint(other_voice, 8000) - alone) > np.linalg.norm(in_room - alone)


def harmonic_voice(pitch_hz: float, seconds: float = 0.5, rate: int = 8000) -> np.ndarray:
    """A steady vowel: the harmonics of `pitch_hz` under two formants (500 and 1500 Hz)."""
    t = np.arange(int(seconds * rate)) / rate
    harmonics = np.arange(1, int(3900 / pitch_hz) + 1) * pitch_hz
    loudness = np.exp(-((harmonics - 500) / 400) ** 2) + 0.5 * np.exp(-((harmonics - 1500) / 500) ** 2)
    phases = np.random.default_rng(0).uniform(0, 2 * np.pi, len(harmonics))
    vowel = (loudness[:, None] * np.sin(2 * np.pi * harmonics[:, None] * t + phases[:, None])).sum(axis=0)
    return (0.5 * np.hanning(len(t)) * vowel / np.abs(vowel).max()).astype(np.float32)


def test_a_voiceprint_tells_a_lower_voice_apart_far_more_than_the_same_voice_swelling():
    from speech_mnist.stamps import voiceprint

    voice = harmonic_voice(125)
    swelling = voice * (0.7 + 0.3 * np.sin(2 * np.pi * 3 * np.arange(len(voice)) / 8000)).astype(np.float32)
    lower = np.linalg.norm(voiceprint(harmonic_voice(110), 8000) - voiceprint(voice, 8000))
    # how loud each band is over the word, not how much it moves: a word's rhythm is not its speaker's
    assert np.linalg.norm(voiceprint(swelling, 8000) - voiceprint(voice, 8000)) < 0.1 * lower


@pytest.mark.parametrize("window_s", [0.064, 0.032])
def test_the_voiceprints_spectrogram_is_librosas_melspectrogram_to_the_bit(window_s):
    """loud_frames skips melspectrogram's per-call filter building; what it computes must not move."""
    import librosa

    from speech_mnist.stamps import VOICEPRINT_BANDS, loud_frames

    word = harmonic_voice(130) + 0.01 * np.random.default_rng(0).standard_normal(4000).astype(np.float32)
    window = round(window_s * 8000)
    mel = librosa.feature.melspectrogram(y=word, sr=8000, n_fft=window, hop_length=window // 8,
                                         n_mels=VOICEPRINT_BANDS, htk=True, power=2.0)
    loud, floor = loud_frames(word, 8000, window_s)
    assert floor == 1e-8 * mel.max() + 1e-30
    loudness = np.log(mel.sum(axis=0) + floor)
    assert np.array_equal(loud, mel[:, loudness >= loudness.max() - np.log(100)])


def test_the_power_average_weighs_a_words_loudest_sound_most():
    """A low vowel, then a high one 10 dB quieter: the log of the mean power leans to the louder
    vowel's spectrum; the mean of the log weighs the two alike. A steady vowel: both agree."""
    from speech_mnist.stamps import average_spectrum, loud_frames

    low, high = harmonic_voice(110), harmonic_voice(220)
    word = np.concatenate([low, 10 ** (-10 / 20) * high])
    louder = average_spectrum(*loud_frames(low, 8000, 0.064))
    distance = {average: np.linalg.norm(average_spectrum(*loud_frames(word, 8000, 0.064), average) - louder)
                for average in ("mean_log", "log_mean_power")}
    assert distance["log_mean_power"] < 0.5 * distance["mean_log"]
    assert np.allclose(average_spectrum(*loud_frames(low, 8000, 0.064), "log_mean_power"), louder, atol=0.5)


def test_speaker_features_are_the_voiceprint_the_stamp_or_one_of_the_cnns_outputs():
    stamps = {"x": np.arange(24, dtype=np.float32).reshape(2, 4, 3), "voice": np.ones((2, 64), np.float32)}
    features = {"conv": np.ones((2, 5), np.float32), "logits": np.zeros((2, 10), np.float32),
                "stamp": stamps["x"].reshape(2, 12)}
    assert speakers.speaker_features("stamp", stamps, features).shape == (2, 12)
    assert speakers.speaker_features("voice", stamps, features).shape == (2, 64)
    assert speakers.speaker_features("conv", stamps, features).shape == (2, 5)
    with pytest.raises(ValueError, match="speakers.features"):
        speakers.speaker_features("voiceprint", stamps, features)


def test_word_voice_takes_out_what_the_word_adds_to_the_voiceprint():
    voice = {"ann": np.array([1.0, 0.0]), "bob": np.array([0.0, 1.0])}
    word = np.array([[5.0, 5.0], [-5.0, 2.0]])  # what "zero" and "one" add to anyone's print
    said = [("ann", 0), ("ann", 1), ("bob", 0), ("bob", 1)]
    prints = np.array([voice[who] + word[w] for who, w in said])
    labels = np.array([w for _, w in said])
    means = speakers.average_prints(prints, labels, words=3)  # a third word nobody said
    assert np.allclose(means[:2], word + 0.5) and np.allclose(means[2], prints.mean(axis=0))
    heard = np.eye(4)[labels]  # the CNN's probabilities: one column a word, then "unknown"
    left = speakers.less_word(prints, heard, means)
    assert np.allclose(left[0], left[1]) and np.allclose(left[2], left[3])  # one print a speaker
    assert not np.allclose(left[0], left[2])
    misheard = speakers.less_word(prints, np.eye(4)[[1, 1, 0, 0]], means)  # the CNN's word, not the label
    assert not np.allclose(misheard[0], misheard[1])
    mostly_unknown = np.array([[0.1, 0.3, 0.0, 0.6]])  # "unknown" is likeliest: its best word is still "one"
    assert np.allclose(speakers.less_word(prints[:1], mostly_unknown, means), prints[0] - means[1])


def test_the_average_stamp_frame_joins_the_print_at_its_share_of_the_voiceprints_spread_in_any_units():
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], 4)
    stamps = {"voice": rng.standard_normal((12, 64)), "x": rng.standard_normal((12, 6, 5, 1))}  # predict's 4 axes
    scale = speakers.stamp_scale(stamps, labels, 0.5)
    prints = speakers.word_prints(stamps, scale)
    assert prints.shape == (12, 64 + 6) and np.array_equal(prints[:, :64], stamps["voice"])
    spread_of = lambda columns: speakers.spread(prints[:, columns], labels)  # noqa: E731
    assert np.isclose(spread_of(slice(64, None)), 0.5 * spread_of(slice(0, 64)))
    louder = {**stamps, "x": 100 * stamps["x"]}  # an embedding's units are not a log-mel band's
    assert np.allclose(speakers.word_prints(louder, speakers.stamp_scale(louder, labels, 0.5)), prints)
    assert speakers.stamp_scale(stamps, labels, 0) == 0 and speakers.word_prints(stamps, 0).shape == (12, 64)
    flat = {**stamps, "x": stamps["x"][..., 0]}  # train_svm's stamps have no channel axis
    assert all(speakers.print_width(s, k) == speakers.word_prints(s, k).shape[1]  # without making the prints
               for s in (stamps, flat) for k in (scale, 0))
    heard = np.eye(3)[labels]
    means = speakers.average_prints(prints, labels, 3)
    assert speakers.speaker_features("word_voice", stamps, {"probabilities": heard}, means, scale).shape == (12, 70)


def test_a_stamp_whose_bands_lose_their_mean_adds_nothing_to_the_print():
    """stamp.normalise band (the fbank, mel and mfcc stamps) leaves every band's average at zero:
    scaled to half the voiceprint's spread, its rounding noise would be half the features."""
    from speech_mnist.stamps import to_stamp

    rng = np.random.default_rng(1)
    labels = np.repeat([0, 1], 5)
    x = np.stack([to_stamp(rng.standard_normal((8, 20)), 12, "band") for _ in labels]).astype(np.float32)
    stamps = {"voice": rng.standard_normal((10, 64)), "x": x}
    assert speakers.stamp_scale(stamps, labels, 0.5) == 0.0
    assert speakers.word_prints(stamps, 0.0).shape == (10, 64)


def speaker_files(folder, takes_said: dict, held_out_shift: float = 0.0) -> tuple:
    """A stamps file and a features file of digit words: `takes_said` is {speaker: takes}, each
    take with the words 0, 1, 2 in it; the words of take 0 moved by `held_out_shift`."""
    from speech_mnist.files import save_npz

    rng = np.random.default_rng(0)
    rows = [(who, take, word) for who, takes in takes_said.items() for take in takes for word in range(3)]
    speaker, take, y = (np.array(column) for column in zip(*rows))
    voice = rng.standard_normal((len(rows), 64)) + 3 * np.searchsorted(sorted(takes_said), speaker)[:, None]
    x = rng.standard_normal((len(rows), 6, 4))
    voice[take == 0] += held_out_shift
    x[take == 0] *= 1 + held_out_shift
    save_npz(folder / "stamps.npz", speaker=speaker, take=take, y=y, vocab=np.array(["zero", "one", "two"]),
             voice=voice.astype(np.float32), x=x.astype(np.float32))
    save_npz(folder / "features.npz", probabilities=np.eye(3, dtype=np.float32)[y])
    return folder / "stamps.npz", folder / "features.npz"


def test_word_means_and_the_stamps_scale_come_from_the_training_takes_only(tmp_path):
    settings = {"features": "word_voice", "stamp_weight": 0.5, "test_takes": [0]}
    said = {"ann": [0, 1, 2], "bob": [0, 1, 2], "cy": [0]}  # cy: a held-out take only, never a task
    first = speakers.speaker_words(*speaker_files(tmp_path, said), settings)
    moved = speakers.speaker_words(*speaker_files(tmp_path, said, held_out_shift=100.0), settings)
    assert first.stamp_scale > 0 and first.names == ["ann", "bob"]
    assert moved.stamp_scale == first.stamp_scale and np.array_equal(moved.word_means, first.word_means)
    assert not np.allclose(moved.x[moved.test], first.x[first.test])  # the held-out words themselves did change


def test_a_speaker_model_with_word_means_reads_back_exactly(tmp_path):
    from sklearn.svm import LinearSVC

    rng = np.random.default_rng(0)
    svm = LinearSVC().fit(rng.standard_normal((6, 3)), [0, 1, 0, 1, 0, 1])
    means = rng.standard_normal((10, 3))
    speakers.save(speakers.SpeakerModel(svm, ["ann", "bob"], "word_voice", means, 0.1 + 0.2), tmp_path)
    back = speakers.load(tmp_path)
    assert back.names == ["ann", "bob"] and back.features == "word_voice" and back.stamp_scale == 0.1 + 0.2
    assert np.array_equal(back.word_means, means) and back.word_means.dtype == np.float64
    speakers.save(speakers.SpeakerModel(svm, ["ann", "bob"], "voice"), tmp_path)
    assert speakers.load(tmp_path).word_means is None


@pytest.mark.parametrize("voiceprint", ["mean and spread of 32 log-mel bands", None])
def test_a_speaker_model_made_from_another_voiceprint_is_refused_not_misread(tmp_path, voiceprint):
    from sklearn.svm import LinearSVC

    svm = LinearSVC().fit(np.random.default_rng(0).standard_normal((6, 3)), [0, 1, 0, 1, 0, 1])
    speakers.save(speakers.SpeakerModel(svm, ["ann", "bob"], "voice"), tmp_path)
    about = json.loads((tmp_path / "speakers.json").read_text())
    about["voiceprint"] = voiceprint  # None: a model from before the layout was written down
    (tmp_path / "speakers.json").write_text(json.dumps({k: v for k, v in about.items() if v is not None}))
    with pytest.raises(speakers.SpeakersMissing, match="another voiceprint.*dvc repro"):
        speakers.load(tmp_path)
    speakers.save(speakers.SpeakerModel(svm, ["ann", "bob"], "stamp"), tmp_path)  # no voiceprint in it
    assert speakers.load(tmp_path).features == "stamp"


@pytest.mark.parametrize("kind", ["word_voice", "stamp"])
def test_a_speaker_model_made_with_another_stamp_is_refused_not_misread(kind):
    """A model whose features held a 6-band stamp, given the words of a 4-band one."""
    from sklearn.svm import LinearSVC

    rng = np.random.default_rng(0)
    labels = np.arange(8) % 2
    def words(bands):
        return ({"voice": rng.standard_normal((8, 64)), "x": rng.standard_normal((8, bands, 3, 1))},
                {"probabilities": np.eye(10)[labels], "stamp": rng.standard_normal((8, bands * 3))})
    made, heard = words(6)
    means, scale = (np.zeros((10, 64 + 6)), 0.5) if kind == "word_voice" else (None, 0.0)
    features = speakers.speaker_features(kind, made, heard, means, scale)
    model = speakers.SpeakerModel(LinearSVC().fit(features, labels), ["ann", "bob"], kind, means, scale)
    assert np.array_equal(speakers.model_features(model, made, heard), features)
    with pytest.raises(speakers.SpeakersMissing, match="other stamp settings.*dvc repro"):
        speakers.model_features(model, *words(4))


@pytest.mark.slow
@pytest.mark.parametrize("features", ["voice", "word_voice"])
def test_the_pipeline_learns_who_speaks_and_predict_says_it(tmp_path, features):
    ws = make_dvc_workspace(tmp_path / "ws", [*TINY, "corpus.vocabs.num.takes=2", "speakers.shots=3",
                                              f"speakers.features={features}"])
    run([sys.executable, "-m", "dvc", "repro"], cwd=ws)
    metrics = json.loads((ws / "metrics/evaluate.json").read_text())
    about = json.loads((ws / "models/speakers/speakers.json").read_text())
    voices = about["speakers"]
    assert about["features"] == features and len(about.get("word_means", [0] * 10)) == 10
    assert ("word_means" in about) == (features == "word_voice") == (about.get("stamp_scale", 0) > 0)
    assert len(voices) == 4 and metrics["speakers"]["test_words"] == 4 * 10  # take 0 of every voice
    assert set(metrics["speakers"]["recall"]) == set(voices) and set(metrics["speakers_curve"]) == {"k1", "k3", "k5", "k10"}
    assert (ws / "plots/confusion/speakers.png").read_bytes()[:4] == b"\x89PNG"
    stamps, outputs = load_npz(ws / "data/stamps/num.npz"), load_npz(ws / "data/features/num.npz")
    assert np.array_equal(outputs["stamp"], stamps["x"].reshape(len(stamps["x"]), -1))  # word for word
    settings = yaml.safe_load((ws / "params.yaml").read_text())["speakers"]
    who = speakers.speaker_words(ws / "data/stamps/num.npz", ws / "data/features/num.npz", settings)
    assert about.get("stamp_scale", 0.0) == who.stamp_scale  # predict scales the stamp as training did
    word = sorted((ws / "data/words/num").rglob("*_0.wav"))[0]  # a held-out take
    result = run([sys.executable, "-m", "speech_mnist", "predict", "--speaker", "--json", str(word)], cwd=ws)
    report = json.loads(result.stdout)[0]
    assert report["speaker"] in voices and all(w["speaker"] in voices for w in report["words"])
    plain = run([sys.executable, "-m", "speech_mnist", "predict", "--json", str(word)], cwd=ws)
    assert "speaker" not in json.loads(plain.stdout)[0]


@pytest.mark.slow
def test_without_two_speakers_on_both_sides_the_pipeline_goes_on_and_says_why(tmp_path):
    ws = make_dvc_workspace(tmp_path / "ws", TINY)  # one take per voice: no take left to learn a voice from
    run([sys.executable, "-m", "dvc", "repro"], cwd=ws)
    metrics = json.loads((ws / "metrics/evaluate.json").read_text())
    assert "at least two must" in metrics["speakers"]["unavailable"] and 0 <= metrics["cnn"]["accuracy"] <= 1
    assert (ws / "plots/confusion/speakers.png").exists()
    word = sorted((ws / "data/words/num").rglob("*.wav"))[0]
    result = run([sys.executable, "-m", "speech_mnist", "predict", "--speaker", str(word)], cwd=ws, check=False)
    assert result.returncode == 2 and "no speaker model" in result.stderr and "Traceback" not in result.stderr
