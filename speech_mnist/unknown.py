"""Saying "unknown": words outside the vocab and sounds that are not words.

Two parts, as keyword spotters have them:
- an extra class, the models' last: the CNN learns it from the training words of corpus.unknown
  (other words, said by the same voices), from non-speech sounds (train.unknown_sounds) and from
  training words of the digit vocab played backwards (train.unknown_reversed); the
  transfer SVM from what the CNN makes of those other words. It takes score away from every word;
- a threshold on the best in-vocab score (conf/reject/): below it, the word is "unknown".
The threshold is a setting, chosen on validation speakers (bench/unknown.py), not on the words a
figure is published for; evaluate draws the whole trade-off (a DET curve) for every threshold.
"""

import numpy as np

UNKNOWN = "unknown"
# The operating point the issue asks for: false accepts at no more than this share of false rejects.
FALSE_REJECT_BUDGET = 0.02


def has_unknown_class(params: dict) -> bool:
    """Whether the CNN is trained with an "unknown" class (as its last output)."""
    return bool(params["corpus"].get("unknown") or params["train"].get("unknown_sounds"))


def best_words(scores: np.ndarray, words: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's best in-vocab word (index) and its score, whatever the "unknown" column says."""
    in_vocab = scores[:, :words]
    return in_vocab.argmax(axis=1), in_vocab.max(axis=1)


def accepted(best_scores: np.ndarray, reject: dict, model: str) -> np.ndarray:
    """True for every word whose best score clears the threshold of `model` (cnn or svm)."""
    if not reject.get("enabled", False):
        return np.ones(len(best_scores), dtype=bool)
    return np.asarray(best_scores) >= reject[model]


def det_table(in_vocab: np.ndarray, out_of_vocab: np.ndarray) -> "pd.DataFrame":
    """The detection error trade-off: for each threshold, the share of in-vocab words rejected and
    of out-of-vocab words accepted (a word is accepted when its best score is >= the threshold)."""
    import pandas as pd  # here, not at the top: predict imports this module and never draws the table
    from sklearn.metrics import det_curve

    if not len(in_vocab) or not len(out_of_vocab):
        return pd.DataFrame(columns=["threshold", "false_accepts", "false_rejects"])
    truth = np.r_[np.ones(len(in_vocab)), np.zeros(len(out_of_vocab))]
    false_accepts, false_rejects, thresholds = det_curve(truth, np.r_[in_vocab, out_of_vocab])
    return pd.DataFrame({"threshold": thresholds, "false_accepts": false_accepts,
                         "false_rejects": false_rejects}).round(6)


def budget_threshold(in_vocab: np.ndarray) -> float:
    """The highest threshold that rejects no more than FALSE_REJECT_BUDGET of the in-vocab words'
    best scores."""
    return float(np.sort(in_vocab)[int(np.floor(FALSE_REJECT_BUDGET * len(in_vocab)))])


def rejection_metrics(in_vocab: np.ndarray, out_of_vocab: np.ndarray, threshold: float) -> dict:
    """False rejects and accepts at `threshold`, and the trade-off's two summary points: the false
    accepts at FALSE_REJECT_BUDGET false rejects, and the equal error rate."""
    in_vocab, out_of_vocab = np.asarray(in_vocab), np.asarray(out_of_vocab)
    at_budget = budget_threshold(in_vocab)
    table = det_table(in_vocab, out_of_vocab)
    crossing = (table.false_accepts - table.false_rejects).abs().idxmin()
    return {
        "threshold": threshold,
        "false_rejects": round(float(np.mean(in_vocab < threshold)), 4),
        "false_accepts": round(float(np.mean(out_of_vocab >= threshold)), 4),
        "threshold_at_2pc_false_rejects": round(float(at_budget), 6),  # where a reject.* setting comes from
        "false_accepts_at_2pc_false_rejects": round(float(np.mean(out_of_vocab >= at_budget)), 4),
        "equal_error_rate": round(float(table.loc[crossing, ["false_accepts", "false_rejects"]].mean()), 4),
        "in_vocab_words": int(len(in_vocab)),
        "out_of_vocab_words": int(len(out_of_vocab)),
    }
