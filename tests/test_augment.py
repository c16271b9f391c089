"""Augmentation: noise at the asked SNR, shifts and masks."""

import numpy as np
import pytest

from conftest import compose
from speech_mnist.noise import mix_noise
from speech_mnist.train import shift_and_mask, warp_bands

AUGMENT = compose()["train"]["augment"]


@pytest.mark.parametrize("snr", [0, 10, 30])
def test_noise_is_mixed_at_the_requested_snr(snr):
    rng = np.random.default_rng(0)
    clean = np.sin(np.linspace(0, 500, 8000)).astype(np.float32)
    noise = rng.standard_normal(3000).astype(np.float32)
    noisy = mix_noise(clean, noise, snr, rng)
    measured = 10 * np.log10(np.mean(clean**2) / np.mean((noisy - clean) ** 2))
    assert abs(measured - snr) < 0.5


def test_masks_zero_whole_rows_and_columns_and_leave_the_input_alone():
    stamp = np.ones((32, 64), np.float32)
    settings = dict(AUGMENT, shift_frames=0, time_masks=1, time_mask_frames=6, freq_masks=1, freq_mask_bands=4)
    rng = np.random.default_rng(5)
    out = shift_and_mask(stamp, settings, rng)
    assert np.all(stamp == 1)
    zero_cols = np.flatnonzero((out == 0).all(axis=0))
    zero_rows = np.flatnonzero((out == 0).all(axis=1))
    assert len(zero_cols) <= 6 and len(zero_rows) <= 4
    assert (out == 0).sum() == len(zero_cols) * 32 + len(zero_rows) * 64 - len(zero_cols) * len(zero_rows)


def test_shift_moves_the_stamp_in_time():
    stamp = np.zeros((4, 64), np.float32)
    stamp[:, 10] = 1
    settings = dict(AUGMENT, shift_frames=5, time_masks=0, freq_masks=0)
    positions = {int(np.argmax(shift_and_mask(stamp, settings, np.random.default_rng(s))[0])) for s in range(20)}
    assert len(positions) > 3 and all(5 <= p <= 15 for p in positions)


def test_warp_moves_a_formant_by_the_factor_and_keeps_the_shape():
    stamp = np.zeros((32, 64), np.float32)
    stamp[20, :] = 1.0  # one formant at band 20
    assert np.array_equal(warp_bands(stamp, 1.0), stamp)
    lower = warp_bands(stamp, 1.25)  # band i reads band 1.25 i: the formant moves down to band 16
    assert lower.shape == stamp.shape and int(np.argmax(lower[:, 0])) == 16
    assert int(np.argmax(warp_bands(stamp, 0.8)[:, 0])) == 25


def test_augmented_copies_are_new_labelled_and_reproducible(tmp_path):
    from speech_mnist.audio import read_audio, write_wav
    from speech_mnist.stamps import make_stamp
    from speech_mnist.train import augmented_copies

    params = compose(["train.augment.copies=2"])
    rate, rng = params["audio"]["sample_rate"], np.random.default_rng(1)
    paths = []
    for k, pitch in enumerate([150, 300, 450]):
        t = np.arange(int(0.4 * rate)) / rate
        write_wav(tmp_path / f"w{k}.wav", (0.3 * np.sin(2 * np.pi * pitch * t) * np.hanning(len(t))
                                           + 0.01 * rng.standard_normal(len(t))).astype(np.float32), rate)
        paths.append(tmp_path / f"w{k}.wav")
    x, y = augmented_copies(paths, np.array([0, 1, 2]), params)
    assert x.shape == (6, params["stamp"]["bands"], params["stamp"]["frames"], 1)
    assert sorted(y) == [0, 0, 1, 1, 2, 2]
    original = make_stamp(read_audio(paths[0], rate), rate, params["stamp"])
    first_two = x[y == 0][..., 0]
    assert not np.allclose(first_two[0], original) and not np.allclose(first_two[0], first_two[1])
    again, _ = augmented_copies(paths, np.array([0, 1, 2]), params)
    assert np.array_equal(x, again)


def test_a_faster_copy_is_shorter_and_higher():
    from speech_mnist.train import change_speed

    rate = 8000
    tone = np.sin(2 * np.pi * 500 * np.arange(rate) / rate).astype(np.float32)
    faster = change_speed(tone, rate, 1.25)
    assert abs(len(faster) - rate / 1.25) <= 2
    spectrum = np.abs(np.fft.rfft(faster))
    assert abs(np.argmax(spectrum) * rate / len(faster) - 625) < 5  # 500 Hz * 1.25


def test_training_batches_hold_every_word_once_an_epoch_in_a_new_seeded_order():
    from speech_mnist.train import batch_order, batches

    x, y = np.arange(10, dtype=np.float32)[:, None] * np.ones((10, 3), np.float32), np.arange(10)
    train = batches(x, y, 4, seed=7)
    epochs = []
    for _ in range(3):
        words = [train[i] for i in range(len(train))]
        assert [len(batch_y) for _, batch_y in words] == [4, 4, 2]
        assert all(np.array_equal(batch_x[:, 0], batch_y) for batch_x, batch_y in words)  # a word keeps its label
        epochs.append(np.concatenate([batch_y for _, batch_y in words]))
        train.on_epoch_end()
    assert all(sorted(order) == list(range(10)) for order in epochs)
    assert not np.array_equal(epochs[0], epochs[1]) and not np.array_equal(epochs[1], epochs[2])
    again = batches(x, y, 4, seed=7)
    assert np.array_equal(np.concatenate([again[i][1] for i in range(len(again))]), epochs[0])
    held_out = batches(x, y, 4)  # no seed: in order, every epoch alike
    held_out.on_epoch_end()
    assert np.array_equal(np.concatenate([held_out[i][1] for i in range(len(held_out))]), y)
    assert [list(b) for b in batch_order(5, 2, None)] == [[0, 1], [2, 3], [4]]


def test_augmented_copies_fill_the_slice_they_are_given(tmp_path):
    """train_cnn makes its training set once at full size and the copies fill their part of it:
    the same stamps as copies made on their own, and the words before them untouched."""
    from speech_mnist.audio import write_wav
    from speech_mnist.train import augmented_copies

    params = compose(["train.augment.copies=2"])
    rate, rng = params["audio"]["sample_rate"], np.random.default_rng(2)
    paths = []
    for k in range(2):
        write_wav(tmp_path / f"w{k}.wav", (0.2 * rng.standard_normal(int(0.3 * rate))).astype(np.float32), rate)
        paths.append(tmp_path / f"w{k}.wav")
    alone, labels = augmented_copies(paths, np.array([3, 4]), params)
    training_set = np.full((1 + len(alone), *alone.shape[1:]), 5.0, np.float32)
    filled, same_labels = augmented_copies(paths, np.array([3, 4]), params, out=training_set[1:])
    assert np.array_equal(training_set[1:], alone) and np.array_equal(same_labels, labels)
    assert np.all(training_set[0] == 5.0) and np.shares_memory(filled, training_set)
