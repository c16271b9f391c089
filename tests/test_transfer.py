"""The transfer SVM: k-shot selection, fitting, saving without pickle."""

import numpy as np
import pytest

from conftest import compose
from speech_mnist import transfer

SETTINGS = compose()["transfer"]


def clusters(per_word=20, words=4, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(words), per_word)
    centres = rng.normal(0, 5, (words, 10))
    return centres[labels] + rng.normal(0, 1, (len(labels), 10)), labels


def test_pick_shots_takes_k_of_every_word_reproducibly():
    _, labels = clusters()
    first = transfer.pick_shots(labels, 3, np.random.default_rng(1))
    assert np.array_equal(first, transfer.pick_shots(labels, 3, np.random.default_rng(1)))
    assert np.bincount(labels[first]).tolist() == [3, 3, 3, 3]
    other = transfer.pick_shots(labels, 3, np.random.default_rng(2))
    assert not np.array_equal(first, other)


def test_the_shots_taken_are_what_pick_shots_takes_of_the_rarest_word():
    labels = np.array([0] * 7 + [1] * 3 + [2] * 9)
    for shots in (1, 3, 5, 100):
        picked = transfer.pick_shots(labels, shots, np.random.default_rng(0))
        assert transfer.shots_taken(labels, shots) == np.bincount(labels[picked]).min() == min(shots, 3)
    assert transfer.shots_taken(labels[:0], 5) == 0


@pytest.mark.parametrize("kind", ["linear", "rbf"])
def test_svm_separates_clear_clusters_from_five_shots(kind):
    features, labels = clusters()
    svm = transfer.fit_shots(features, labels, dict(SETTINGS, svm=kind), 5, seed=0)
    test_features, test_labels = clusters(seed=0)
    assert svm.score(test_features, test_labels) > 0.9
    assert transfer.margins(svm, test_features).shape == (len(test_labels), 4)


def test_unknown_svm_kind_is_an_error():
    with pytest.raises(ValueError, match="transfer.svm"):
        transfer.make_svm(dict(SETTINGS, svm="forest"))


def test_saved_svm_is_byte_identical_and_predicts_the_same(tmp_path):
    features, labels = clusters()
    svm = transfer.fit_shots(features, labels, SETTINGS, 5, seed=0)
    transfer.save_svm(svm, tmp_path / "a.skops")
    transfer.save_svm(transfer.fit_shots(features, labels, SETTINGS, 5, seed=0), tmp_path / "b.skops")
    assert (tmp_path / "a.skops").read_bytes() == (tmp_path / "b.skops").read_bytes()
    loaded = transfer.load_svm(tmp_path / "a.skops")
    assert np.array_equal(loaded.predict(features), svm.predict(features))


def test_transfer_curve_rises_with_k_on_overlapping_words():
    # overlapping clusters: one example per word is a guess, ten are a fair estimate of each centre
    rng = np.random.default_rng(4)
    labels = np.repeat(np.arange(4), 60)
    centres = rng.normal(0, 1.5, (4, 10))
    features = centres[labels] + rng.normal(0, 1.5, (len(labels), 10))
    train, test = np.arange(len(labels)) % 2 == 0, np.arange(len(labels)) % 2 == 1
    settings = dict(SETTINGS, curve_shots=[1, 10], curve_repeats=8)
    curve = transfer.curve(features[train], labels[train], features[test], labels[test], settings)
    assert curve["shots"].tolist() == [1, 10]
    assert curve["accuracy"].iloc[1] > curve["accuracy"].iloc[0] + 0.1
    assert (curve["accuracy_std"] >= 0).all()
    assert curve.equals(transfer.curve(features[train], labels[train], features[test], labels[test], settings))


def test_the_curve_is_the_same_whatever_the_workers(monkeypatch):
    """Each draw is fitted in a worker process: its figure must depend on its seed alone."""
    from speech_mnist.workers import WORKERS_VARIABLE

    features, labels = clusters()
    features = features + np.random.default_rng(5).normal(0, 4, features.shape)  # overlapping: draws differ
    train, test = np.arange(len(labels)) % 2 == 0, np.arange(len(labels)) % 2 == 1
    settings = dict(SETTINGS, curve_shots=[1, 2, 5], curve_repeats=5)
    curves = []
    for workers in ("1", "2", "3"):
        monkeypatch.setenv(WORKERS_VARIABLE, workers)
        curves.append(transfer.curve(features[train], labels[train], features[test], labels[test], settings))
    assert curves[0]["accuracy_std"].gt(0).any()
    assert curves[0].equals(curves[1]) and curves[0].equals(curves[2])
    for row in curves[0].itertuples():  # each point: its own draws, fitted here one by one
        alone = [transfer.fit_shots(features[train], labels[train], settings, row.shots, settings["seed"] + draw)
                 .score(features[test], labels[test]) for draw in range(settings["curve_repeats"])]
        assert row.accuracy == round(float(np.mean(alone)), 4)
