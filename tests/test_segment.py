"""Segmentation on signals whose word positions are known exactly."""

import numpy as np
import pandas as pd
import pytest

from conftest import compose
from speech_mnist.corpus import assemble
from speech_mnist.noise import room_tone
from speech_mnist import segment
from speech_mnist.segment import labelled_right, locate_words, match_words, score

RATE = 8000
PARAMS = compose()["segment"]


def vowel(seconds: float, pitch: float, rng) -> np.ndarray:
    """A voiced, word-like burst: harmonics under a smooth envelope."""
    t = np.arange(int(seconds * RATE)) / RATE
    tone = sum(np.sin(2 * np.pi * pitch * k * t) / k for k in range(1, 6))
    return (tone * np.hanning(len(t)) * 0.3 + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


def recording(n_words: int, seed: int, level_db=6.0, snr=(25, 35)):
    rng = np.random.default_rng(seed)
    words = [vowel(rng.uniform(0.25, 0.6), rng.uniform(100, 250), rng) for _ in range(n_words)]
    noise = room_tone(RATE * 5, RATE, rng)
    return assemble(words, RATE, rng, noise, (0.3, 1.0), snr, level_db)


@pytest.mark.parametrize("seed", range(5))
def test_finds_each_word_near_its_true_position(seed):
    samples, truth = recording(10, seed)
    found = locate_words(samples, RATE, PARAMS, expected=10).spans
    assert len(found) == 10
    for (start, end), (true_start, true_end) in zip(found, truth):
        assert abs(start - true_start) < 0.1 and abs(end - true_end) < 0.1


def test_word_counts_at_all_levels_at_once_are_those_found_level_by_level():
    """The level search counts words at every threshold in one pass; it must count exactly as
    _spans_above does at each level: bursts dropped, pauses bridged, short spans left out."""
    levels = np.arange(PARAMS["min_db"], PARAMS["max_db"] + 1e-9, PARAMS["step_db"])
    hop_s = PARAMS["hop_ms"] / 1000
    rng = np.random.default_rng(0)
    energies = []
    for seed in range(20):
        samples, _ = recording(int(rng.integers(1, 12)), seed, snr=(5, 40))
        energy = segment.band_energy_db(samples, RATE, PARAMS)
        energies.append((energy, segment.noise_floor(energy, PARAMS)))
    for _ in range(20):  # ragged energies: clicks, gaps at the bridging limit, nothing above at all
        energy = np.cumsum(rng.normal(0, 4, int(rng.integers(5, 600))))
        energies.append((energy, np.full(len(energy), np.percentile(energy, rng.uniform(0, 100)))))
    for energy, floor in energies:
        one_by_one = [len(segment._spans_above(energy, floor + level, hop_s, PARAMS)) for level in levels]
        assert segment._word_counts(energy, floor, levels, hop_s, PARAMS).tolist() == one_by_one

def test_without_the_expected_count_words_still_separate():
    samples, truth = recording(6, seed=11, level_db=3)
    assert len(locate_words(samples, RATE, PARAMS).spans) == 6


def test_a_word_ends_after_its_final_release_not_at_its_closure():
    # "eight": a vowel, 40 ms of closure, then a 30 ms t burst: too short to be a word by itself
    rng = np.random.default_rng(3)
    release = 0.03 * rng.standard_normal(int(0.03 * RATE)).astype(np.float32)
    eight = np.concatenate([vowel(0.3, 150, rng), np.zeros(int(0.04 * RATE), np.float32), release])
    words = [vowel(0.3, 180, rng), eight, vowel(0.3, 120, rng)]
    samples, truth = assemble(words, RATE, rng, room_tone(RATE * 5, RATE, rng), (0.4, 0.6), (35, 35), 0)
    found = locate_words(samples, RATE, PARAMS, expected=3).spans
    assert abs(found[1][1] - truth[1][1]) < 0.03
    assert locate_words(samples, RATE, {**PARAMS, "closure_s": 0.0}, expected=3).spans[1][1] < truth[1][1] - 0.05


def test_quiet_word_among_loud_ones_is_found():
    samples, truth = recording(5, seed=3, level_db=0)
    start, end = (int(t * RATE) for t in truth[2])
    samples[start:end] *= 10 ** (-15 / 20)  # 15 dB quieter than its neighbours
    assert len(locate_words(samples, RATE, PARAMS, expected=5).spans) == 5


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_one_word_far_louder_than_the_rest_is_not_taken_for_the_only_word(seed):
    # five words spread from 12 to 34 dB over the room, a sixth at 55: above the fifth word, only
    # the loud one stays at every level up to max_db, a run that is long only because it reaches so
    # high; the recording's six words must still be found (with max_db 50 it was one word)
    samples, truth = recording(6, seed=seed, level_db=0, snr=(55, 55))
    for (start, end), quieter_db in zip(truth[:5], [43, 37, 31, 26, 21]):
        samples[int(start * RATE):int(end * RATE)] *= 10 ** (-quieter_db / 20)
    assert len(locate_words(samples, RATE, PARAMS).spans) == 6


def test_a_count_only_a_narrow_band_of_thresholds_gives_is_reported_as_unsteady():
    # a word 25 dB under its neighbours, barely over the room tone: whether it counts depends
    # on the threshold to within a dB or two, so the count of five is a guess
    samples, truth = recording(5, seed=3, level_db=0)
    clean = locate_words(samples, RATE, PARAMS, expected=5)
    start, end = (int(t * RATE) for t in truth[2])
    samples[start:end] *= 10 ** (-25 / 20)
    faint = locate_words(samples, RATE, PARAMS, expected=5)
    assert len(clean.spans) == len(faint.spans) == 5
    assert clean.steady_db >= 10
    assert faint.steady_db < PARAMS["min_steady_db"]


@pytest.mark.parametrize("samples", [np.zeros(RATE * 3, np.float32), np.zeros(0, np.float32)])
def test_silence_has_no_words(samples):
    assert locate_words(samples, RATE, PARAMS).spans == []


def test_steady_noise_has_no_words():
    noise = room_tone(RATE * 3, RATE, np.random.default_rng(0)) * 0.1
    assert locate_words(noise, RATE, PARAMS).spans == []


def test_score_counts_matches_misses_and_boundary_error():
    truth = [(0.0, 1.0), (2.0, 3.0), (4.0, 5.0)]
    found = [(0.01, 1.02), (2.0, 3.0)]  # the third word missed
    assert match_words(found, truth) == [(0, 0), (1, 1)]
    metrics = score([(found, truth), (truth, truth)])
    assert metrics["right_count_rate"] == 0.5
    assert metrics["word_recall"] == round(5 / 6, 4)
    assert metrics["word_precision"] == 1.0
    assert 0 < metrics["boundary_error_ms_p95"] <= 20


def test_labelled_right_counts_words_that_carry_their_neighbours_name():
    truth = pd.DataFrame({"recording": "r.wav", "word": ["cat", "dog", "fox", "bird"],
                          "start": [0.5, 1.5, 2.5, 3.5], "end": [1.0, 2.0, 3.0, 4.0]})
    # a noise burst at 0.1 s taken for "cat": each later label names the previous word; "bird" is lost
    shifted = pd.DataFrame({"recording": "r.wav", "word": ["cat", "dog", "fox", "bird"],
                            "start": [0.1, 0.5, 1.5, 2.5], "end": [0.3, 1.0, 2.0, 3.0]})
    assert labelled_right(truth, truth) == 1.0
    assert labelled_right(shifted, truth) == 0.0
    assert labelled_right(pd.concat([truth[:2], shifted[2:]]), truth) == 0.5


@pytest.mark.parametrize("length", [50, 256, 1001, 12345])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_power_spectrogram_is_librosas_to_the_byte(length, dtype):
    import librosa

    samples = np.random.default_rng(length).standard_normal(length).astype(dtype)
    expected = np.abs(librosa.stft(samples, n_fft=256, hop_length=80, center=True)) ** 2
    assert segment.power_spectrogram(samples, 256, 80).tobytes() == expected.tobytes()
