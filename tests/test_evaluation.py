"""Held-out metrics and confusion matrices, on labels small enough to count by hand."""

import numpy as np
import pandas as pd

from speech_mnist import evaluation

WORDS = ["cat", "dog", "fox"]
ACTUAL = np.array([0, 0, 1, 1, 2, 2])
PREDICTED = np.array([0, 1, 1, 1, 2, 0])


def test_metrics_count_each_word():
    metrics = evaluation.classification_metrics(ACTUAL, PREDICTED, WORDS)
    assert metrics["accuracy"] == round(4 / 6, 4)
    assert metrics["recall"] == {"cat": 0.5, "dog": 1.0, "fox": 0.5}
    assert metrics["precision"] == {"cat": 0.5, "dog": round(2 / 3, 4), "fox": 1.0}


def test_write_confusion_writes_the_table_and_a_reproducible_heat_map(tmp_path):
    matrix = evaluation.write_confusion(ACTUAL, PREDICTED, WORDS, "test", tmp_path / "a", "svm")
    assert (tmp_path / "a/svm.png").read_bytes()[:4] == b"\x89PNG"
    assert matrix.loc["cat", "dog"] == 1 and matrix.loc["fox", "cat"] == 1 and matrix.to_numpy().sum() == 6
    table = pd.read_csv(tmp_path / "a/svm.csv")
    assert list(table.columns) == ["actual", "predicted"]
    assert table.iloc[1].tolist() == ["cat", "dog"]
    evaluation.write_confusion(ACTUAL, PREDICTED, WORDS, "test", tmp_path / "b", "svm")
    assert (tmp_path / "a/svm.png").read_bytes() == (tmp_path / "b/svm.png").read_bytes()


def png_size(path) -> tuple[int, int]:
    header = path.read_bytes()[16:24]  # the IHDR chunk: width and height, big-endian
    return int.from_bytes(header[:4], "big"), int.from_bytes(header[4:], "big")


def test_a_confusion_figure_of_many_classes_stays_screen_sized(tmp_path):
    """Who is speaking, among 180 voices: half an inch a class once drew a 9000-pixel square (3 GB, a minute)."""
    names = [f"voice{i}" for i in range(180)]
    actual = np.arange(900) % 180
    evaluation.write_confusion(actual, (actual + (actual % 7 == 0)) % 180, names, "speakers", tmp_path, "speakers")
    width, height = png_size(tmp_path / "speakers.png")
    assert height <= evaluation.MAX_FIGURE_INCHES * 100 and width <= (evaluation.MAX_FIGURE_INCHES + 1) * 100
    evaluation.write_confusion(ACTUAL, PREDICTED, WORDS, "test", tmp_path, "three")
    assert png_size(tmp_path / "three.png")[1] < 400  # a few words: half an inch a word, as before
