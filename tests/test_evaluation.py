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
