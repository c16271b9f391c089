"""Saying "unknown": the rejection measures, the non-speech sounds, and preset=unknown end to end."""

import json
import sys

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import yaml

from conftest import TINY, compose, make_dvc_workspace, run
from speech_mnist.files import load_npz
from speech_mnist.noise import nonspeech, room_tone
from speech_mnist.transfer import load_svm
from speech_mnist.unknown import accepted, best_words, det_table, has_unknown_class, rejection_metrics


def test_rejection_metrics_count_rejects_and_accepts_at_the_threshold():
    in_vocab = 0.45 + np.arange(100) / 200     # 0.45 ... 0.945: five of them below 0.4725
    out_of_vocab = np.arange(50) / 100          # 0 ... 0.49: two of them at 0.4725 or above
    found = rejection_metrics(in_vocab, out_of_vocab, 0.4725)
    assert found["false_rejects"] == 0.05 and found["false_accepts"] == 0.04
    # 2% of in-vocab rejected: the threshold is the third lowest in-vocab score, 0.46
    assert found["false_accepts_at_2pc_false_rejects"] == 0.08  # 0.46, 0.47, 0.48, 0.49
    assert 0 < found["equal_error_rate"] < 0.1
    table = det_table(in_vocab, out_of_vocab)
    assert table.false_accepts.is_monotonic_decreasing and table.false_rejects.is_monotonic_increasing
    assert det_table([], []).empty


def test_best_word_ignores_the_unknown_column_and_rejection_can_be_off():
    scores = np.array([[0.1, 0.2, 0.7], [0.6, 0.3, 0.1]])  # two words, then "unknown"
    best, score = best_words(scores, 2)
    assert best.tolist() == [1, 0] and score.tolist() == [0.2, 0.6]
    assert accepted(score, {"enabled": True, "cnn": 0.5}, "cnn").tolist() == [False, True]
    assert accepted(score, {"enabled": False, "cnn": 0.5}, "cnn").all()
    assert accepted(score, {}, "cnn").all()  # params from before rejection existed


@pytest.mark.parametrize("corpus", ["synthetic", "fsdd"])
def test_no_word_learned_as_unknown_sounds_like_or_holds_a_vocab_word(corpus):
    """A word of corpus.unknown with the phonemes of a word of the num, commands or animals vocab
    would teach the CNN to call that word unknown, and one that holds them ("someone") would take
    score from it; in every language the voices speak. Two-letter words ("tu") are too short to look
    for inside others. Near misses ("tree" for "three") are allowed: they differ in a phoneme."""
    from speech_mnist.espeak import Espeak

    engine = Espeak()
    assert engine.phonemes("won") == engine.phonemes("one") != engine.phonemes("when")  # the check can see
    vocabs = {**compose(["corpus=synthetic"])["corpus"]["vocabs"], **compose(["corpus=fsdd"])["corpus"]["vocabs"]}
    params = compose([f"corpus={corpus}", "preset=unknown"])["corpus"]
    alike = []
    for language in params["voices"]["languages"]:
        sounds = {word: engine.phonemes(word, language) for vocab in vocabs.values() for word in vocab["words"]}
        for other in params["vocabs"]["other"]["words"]:
            sound = engine.phonemes(other, language)
            alike += [(language, other, word) for word, its in sounds.items()
                      if sound == its or (len(its) > 2 and its in sound)]
    assert not alike


def test_nonspeech_sounds_are_reproducible_varied_and_not_silent():
    room = room_tone(8000 * 5, 8000, np.random.default_rng(0))
    first = [nonspeech(8000, np.random.default_rng(3), room) for _ in range(2)]
    assert np.array_equal(*first)
    rng = np.random.default_rng(1)
    sounds = [nonspeech(8000, rng, room) for _ in range(20)]
    assert len({len(s) for s in sounds}) > 10
    assert all(s.dtype == np.float32 and 0.4 < np.abs(s).max() <= 0.5 for s in sounds)


def test_reversed_words_join_an_unknown_class_but_never_make_one():
    assert not has_unknown_class(compose(["train.unknown_reversed=150"]))
    assert has_unknown_class(compose(["train.unknown_reversed=150", "preset=unknown"]))
    assert compose(["corpus=fsdd", "preset=unknown"])["train"]["unknown_reversed"] > 0  # the tuning's choice


def test_reversed_words_are_the_stamps_of_training_words_reversed_stampswards(tmp_path):
    import soundfile as sf

    from speech_mnist.stamps import make_stamps
    from speech_mnist.train import reversed_words

    params = compose(["preset=fbank"])  # a spectrogram stamp: quick, and the sweeps show in it
    rate = params["audio"]["sample_rate"]
    t = np.arange(rate // 2) / rate
    paths = []
    for i, start_hz in enumerate([200, 400, 800]):  # rising sweeps: backwards, each one falls
        paths.append(tmp_path / f"{i}.wav")
        sf.write(paths[-1], (0.5 * np.sin(2 * np.pi * (start_hz + 1000 * t) * t)).astype(np.float32), rate)
    backwards = reversed_words(paths, 2, params)
    assert backwards.shape == (2, *make_stamps([np.zeros(rate // 2, np.float32)], rate, params["stamp"]).shape[1:], 1)
    forwards = make_stamps([sf.read(p, dtype="float32")[0] for p in paths], rate, params["stamp"])
    reversed_stamps = make_stamps([sf.read(p, dtype="float32")[0][::-1].copy() for p in paths], rate, params["stamp"])
    matches = [[np.allclose(b[..., 0], p, atol=1e-4) for p in reversed_stamps] for b in backwards]
    assert [sum(m) for m in matches] == [1, 1] and matches[0] != matches[1]  # two different words, each backwards
    assert not any(np.allclose(b[..., 0], f, atol=1e-4) for b in backwards for f in forwards)
    assert np.array_equal(reversed_words(paths, 2, params), backwards)  # the same words every time
    assert len(reversed_words(paths, 10, params)) == 3  # never more than there are
    assert reversed_words(paths, 0, params).shape == (0, *backwards.shape[1:])  # none: no stamps, the right shape


@pytest.mark.slow
def test_preset_unknown_learns_an_unknown_class_and_predict_says_unknown(tmp_path):
    from test_bad_input import spoken

    ws = make_dvc_workspace(tmp_path / "ws", [*TINY, "preset=unknown", "train.unknown_sounds=20", "train.unknown_reversed=10"])
    built = run([sys.executable, "-m", "dvc", "repro"], cwd=ws, check=True)
    assert "20 non-speech sounds, 10 digit words played backwards" in built.stdout
    digits = json.loads((ws / "metrics/evaluate.json").read_text())
    for model in ("cnn", "svm"):
        found = digits["unknown"][model]
        assert found["in_vocab_words"] > 0 and found["out_of_vocab_words"] > 0
        assert 0 <= found["false_accepts"] <= 1 and 0 <= found["false_rejects"] <= 1
        assert not pd.read_csv(ws / "plots/unknown" / f"{model}.csv").empty
    assert (ws / "plots/unknown.png").stat().st_size > 1000
    assert load_npz(ws / "data/features/num.npz")["probabilities"].shape[1] == 11  # ten digits and "unknown"
    assert (ws / "data/features/other.npz").exists()
    assert load_svm(ws / "models/svm.skops").classes_.tolist() == [0, 1, 2, 3, 4]  # four animals and "unknown"

    samples, rate = spoken(["three", "one"], seed=5)
    sf.write(tmp_path / "two.wav", samples, rate)
    params = yaml.safe_load((ws / "params.yaml").read_text())
    for enabled, threshold in ((True, 1.01), (False, 1.01)):  # nothing reaches 1.01: everything unknown, if on
        params["reject"].update(enabled=enabled, cnn=threshold)
        (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
        result = run([sys.executable, "-m", "speech_mnist", "predict", "--json", "--params", str(tmp_path / "params.yaml"),
                      "--project", str(ws), str(tmp_path / "two.wav")], cwd=ws, check=True)
        words = json.loads(result.stdout)[0]["words"]
        assert len(words) == 2
        if enabled:
            assert all(w["word"] == "unknown" and w["guess"] in params["corpus"]["vocabs"]["num"]["words"]
                       for w in words)
        else:
            assert all(w["word"] != "unknown" and "guess" not in w for w in words)
