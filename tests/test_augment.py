"""Augmentation: noise at the asked SNR, shifts and masks."""

import numpy as np
import pytest

from conftest import compose
from speech_mnist.train import mix_noise, shift_and_mask

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
