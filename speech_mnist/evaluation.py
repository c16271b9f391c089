"""Held-out metrics, confusion matrices, the transfer curve and the unknown words' DET curve."""

from pathlib import Path

import numpy as np
import pandas as pd

# A run's confusion artifacts, at fixed paths so the MLflow UI compares runs artifact by artifact.
# The figure stays at the top level: MLflow's Compare view shows only top-level artifacts.
CONFUSION_FIGURE = "confusion_{model}.png"
CONFUSION_TABLE = "confusion/{model}.json"
MAX_FIGURE_INCHES = 14   # a confusion heat map's height, whatever the number of classes
COUNTED_CLASSES = 40     # up to this many classes, each cell shows its count


def classification_metrics(actual: np.ndarray, predicted: np.ndarray, words: list[str]) -> dict:
    """Accuracy and per-word precision and recall."""
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support

    labels = list(range(len(words)))
    precision, recall, _, support = precision_recall_fscore_support(actual, predicted, labels=labels, zero_division=0)
    return {
        "accuracy": round(float(accuracy_score(actual, predicted)), 4),
        "test_words": int(len(actual)),
        "precision": {w: round(float(p), 4) for w, p in zip(words, precision)},
        "recall": {w: round(float(r), 4) for w, r in zip(words, recall)},
    }


def confusion_table(actual: np.ndarray, predicted: np.ndarray, words: list[str]) -> pd.DataFrame:
    """One row per test word, actual and predicted: what `dvc plots` confusion templates read."""
    names = np.array(words)
    return pd.DataFrame({"actual": names[actual], "predicted": names[predicted]})


def confusion_matrix(actual: np.ndarray, predicted: np.ndarray, words: list[str]) -> pd.DataFrame:
    from sklearn.metrics import confusion_matrix as counts

    matrix = counts(actual, predicted, labels=list(range(len(words))))
    return pd.DataFrame(matrix, index=pd.Index(words, name="actual"), columns=pd.Index(words, name="predicted"))


def write_confusion(actual: np.ndarray, predicted: np.ndarray, words: list[str], title: str, folder: Path,
                    name: str) -> pd.DataFrame:
    """<folder>/<name>.csv (one row per test word, for `dvc plots`) and <name>.png (the heat map);
    returns the matrix."""
    folder.mkdir(parents=True, exist_ok=True)
    confusion_table(actual, predicted, words).to_csv(folder / f"{name}.csv", index=False, lineterminator="\n")
    matrix = confusion_matrix(actual, predicted, words)
    plot_confusion(matrix, title, folder / f"{name}.png")
    return matrix


def write_unavailable(reason: str, folder: Path, name: str) -> None:
    """Where a model's confusion matrix would be: a table with no rows, and a figure saying why."""
    folder.mkdir(parents=True, exist_ok=True)
    confusion_table(np.zeros(0, int), np.zeros(0, int), []).to_csv(folder / f"{name}.csv", index=False,
                                                                  lineterminator="\n")
    plot_message(reason, folder / f"{name}.png")


def plot_message(reason: str, path: Path) -> None:
    """A figure that only says why there is no figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 1.5))
    ax.axis("off")
    ax.text(0.5, 0.5, reason, ha="center", va="center", wrap=True, fontsize=9)
    save_figure(fig, path)


def log_results(run, model: str, metrics: dict, matrix, title: str) -> None:
    """A model's held-out results in the stage's run: accuracy, recall per word, and its confusion
    matrix as a table and as a figure whose title names the run (so side by side, each says whose)."""
    run.log_metrics({f"{model}_accuracy": metrics["accuracy"],
                     **{f"{model}_recall_{word}": recall for word, recall in metrics["recall"].items()}})
    import tempfile

    run.log_table(matrix.reset_index(), CONFUSION_TABLE.format(model=model))
    with tempfile.TemporaryDirectory() as folder:  # the run keeps its own copy
        figure = Path(folder) / CONFUSION_FIGURE.format(model=model)
        plot_confusion(matrix, f"{title}\nrun: {run.name}", figure)
        run.log_artifact(figure)


def plot_confusion(matrix: pd.DataFrame, title: str, path: Path) -> None:
    """A heat map with counts in the cells, like the workshop's."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    classes = len(matrix)
    # half an inch a class, up to a screen's worth: 180 speakers once made a 9000-pixel image (3 GB)
    size = min(1.2 + 0.5 * classes, MAX_FIGURE_INCHES)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    image = ax.imshow(matrix.to_numpy(), cmap="Blues")
    labels = {"fontsize": min(10.0, 300 / max(classes, 1))}  # many classes: smaller names, all still there
    ax.set_xticks(range(classes), matrix.columns, rotation=45 if classes <= COUNTED_CLASSES else 90, ha="right", **labels)
    ax.set_yticks(range(classes), matrix.index, **labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    ax.set_title(title)
    if classes > COUNTED_CLASSES:  # cells too small to read a number: the colour bar gives the counts
        fig.colorbar(image, ax=ax, shrink=0.8, label="words")
    else:
        peak = matrix.to_numpy().max() or 1
        for (i, j), count in np.ndenumerate(matrix.to_numpy()):
            if count:
                ax.text(j, i, str(count), ha="center", va="center", color="white" if count > peak / 2 else "black")
    fig.tight_layout()
    save_figure(fig, path)


def plot_curve(curve: pd.DataFrame, title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.errorbar(curve["shots"], curve["accuracy"], yerr=curve["accuracy_std"], marker="o", capsize=3)
    ax.set_xscale("log")
    ax.set_xticks(curve["shots"], [str(k) for k in curve["shots"]])
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("examples per word (k)")
    ax.set_ylabel("held-out accuracy")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    save_figure(fig, path)


def plot_det(tables: dict[str, pd.DataFrame], thresholds: dict[str, tuple[float, float]], path) -> None:
    """Each model's DET curve (log-log), with its configured operating point marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .unknown import FALSE_REJECT_BUDGET

    fig, ax = plt.subplots(figsize=(5, 4.5))
    floor = 1e-3  # a share of 0 has no logarithm: drawn at the floor
    for name, table in tables.items():
        line, = ax.plot(table.false_rejects.clip(floor), table.false_accepts.clip(floor), label=name)
        false_rejects, false_accepts = thresholds[name]
        ax.plot(max(false_rejects, floor), max(false_accepts, floor), "o", color=line.get_color())
    ax.axvline(FALSE_REJECT_BUDGET, color="grey", linestyle=":", linewidth=1)
    ax.set(xscale="log", yscale="log", xlim=(floor, 1), ylim=(floor, 1), xlabel="false rejects (in-vocab words)",
           ylabel="false accepts (other words)", title="unknown words: error trade-off (dot: reject.* setting)")
    ax.legend(loc="upper right")
    ax.grid(True, which="both", alpha=0.3)
    save_figure(fig, path)


def save_figure(fig, path: Path) -> None:
    """PNG without a timestamp or version in its metadata: the same figure, the same bytes."""
    import matplotlib.pyplot as plt

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)
