"""Transfer: a new vocab learned from k examples per word, through the digit CNN's outputs."""

import json
import warnings
import zipfile
from pathlib import Path

import numpy as np

from .errors import ConfigError, ModelUnreadable, first_line
from .files import read_zip, renumber_object_ids, write_zip

# Every type that save_svm writes for an SVM of make_svm's kinds (a test saves each kind and loads
# it back). A model file that names any other type is refused before anything in it is built:
# skops builds objects by calling the types a file names, so a crafted file could run code.
SVM_TYPES = frozenset({
    "builtins.dict", "builtins.list", "builtins.str", "builtins.tuple",
    "numpy.float64", "numpy.ndarray",
    "sklearn.pipeline.Pipeline", "sklearn.preprocessing._data.StandardScaler",
    "sklearn.svm._classes.LinearSVC", "sklearn.svm._classes.SVC",
})


def pick_shots(labels: np.ndarray, shots: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of `shots` random examples of every label (all of them where there are fewer)."""
    picked = [rng.permutation(np.flatnonzero(labels == label))[:shots] for label in np.unique(labels)]
    return np.sort(np.concatenate(picked))


def make_svm(transfer: dict):
    """LinearSVC as in the seed, or SVC with another kernel; optionally on standardised features."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC, LinearSVC

    if transfer["svm"] == "linear":
        svm = LinearSVC(C=transfer["C"], max_iter=20000, random_state=transfer["seed"])
    elif transfer["svm"] in ("rbf", "poly", "sigmoid"):
        svm = SVC(kernel=transfer["svm"], C=transfer["C"], random_state=transfer["seed"])
    else:
        raise ConfigError(f"transfer.svm must be linear, rbf, poly or sigmoid, not {transfer['svm']!r}")
    return make_pipeline(StandardScaler(), svm) if transfer["scale"] else make_pipeline(svm)


def shots_taken(labels: np.ndarray, shots: int) -> int:
    """How many examples pick_shots takes of the label with the fewest: `shots`, or fewer where
    that label's training examples run out. What a log line or a metric should call the shots."""
    counts = np.unique(labels, return_counts=True)[1]
    return int(min(shots, counts.min())) if len(counts) else 0


def fit_shots(features: np.ndarray, labels: np.ndarray, transfer: dict, shots: int, seed: int,
              unknown: np.ndarray | None = None, unknown_label: int | None = None):
    """An SVM fitted on `shots` examples per word drawn with `seed`; with `unknown` (features of
    words outside the vocab, all of them), also on an "unknown" class labelled `unknown_label`."""
    chosen = pick_shots(labels, shots, np.random.default_rng(seed))
    if len(np.unique(labels[chosen])) < 2:
        raise ValueError("the transfer vocab needs training examples of at least two words")
    x, y = features[chosen], labels[chosen]
    if unknown is not None and len(unknown):
        x, y = np.concatenate([x, unknown]), np.concatenate([y, np.full(len(unknown), unknown_label)])
    with warnings.catch_warnings():  # one example per word is what a 1-shot point of the curve means
        warnings.filterwarnings("ignore", message="The number of unique classes is greater than 50%")
        return make_svm(transfer).fit(x, y)


def curve(train_features, train_labels, test_features, test_labels, transfer: dict) -> "pd.DataFrame":
    """The transfer curve: mean and spread of test accuracy at each k in `curve_shots`,
    over `curve_repeats` draws of the k examples per word.

    Each draw is an SVM of its own, fitted in a worker process (workers.streamed, the data sent
    once to each): with a class per speaker and a hundred or more of them, these fits are most of
    evaluate's time. A draw depends only on its seed, so the figures are the same with any
    number of workers (liblinear's random numbers are global to a process: threads would mix them)."""
    import pandas as pd

    from .workers import streamed

    shots, repeats = transfer["curve_shots"], transfer["curve_repeats"]
    draws = [(k, transfer["seed"] + draw) for k in shots for draw in range(repeats)]
    data = (train_features, train_labels, test_features, test_labels, transfer)
    try:
        scores = np.reshape(list(streamed(_draw_accuracy, draws, initializer=_keep_curve_data, initargs=(data,))),
                            (len(shots), repeats))
    finally:
        _keep_curve_data(None)  # without workers, the data was kept in this process
    rows = [{"shots": k, "accuracy": float(np.mean(found)), "accuracy_std": float(np.std(found))}
            for k, found in zip(shots, scores)]
    return pd.DataFrame(rows).round(4)


_curve_data = None  # a curve's (train features, labels, test features, labels, settings) while it is drawn


def _keep_curve_data(data: tuple | None) -> None:
    global _curve_data
    _curve_data = data


def _draw_accuracy(draw: tuple[int, int]) -> float:
    """Test accuracy of the SVM fitted on one draw (k shots, seed) of the curve."""
    train_features, train_labels, test_features, test_labels, transfer = _curve_data
    shots, seed = draw
    return fit_shots(train_features, train_labels, transfer, shots, seed).score(test_features, test_labels)


def save_svm(svm, path: Path) -> None:
    """skops (safe to load, unlike Python object serialisation); the same SVM always gives the same bytes.

    skops names objects and array files by memory address, and zip stamps the time: both are
    replaced by fixed values.
    """
    import skops.io

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    skops.io.dump(svm, path)
    entries = read_zip(path)
    schema, ids = renumber_object_ids(entries.pop("schema.json").decode(), ("__id__", "file"))
    renamed = {f"{ids.get(name.removesuffix('.npy'), name.removesuffix('.npy'))}.npy": data
               for name, data in entries.items()}
    write_zip(path, {**renamed, "schema.json": schema.encode()})


def load_svm(path: Path):
    """The saved transfer SVM, after checking that the file names only the types an SVM holds."""
    import skops.io

    named = named_types(path)
    unexpected = sorted(named - SVM_TYPES)
    if unexpected:
        raise ModelUnreadable(f"{path} is refused: it names types a transfer SVM never holds "
                              f"({', '.join(unexpected)}), so loading it could run code")
    untrusted = skops.io.get_untrusted_types(file=path)  # what skops itself would not build unasked
    if set(untrusted) - SVM_TYPES:
        raise ModelUnreadable(f"{path} is refused: skops does not trust {sorted(set(untrusted) - SVM_TYPES)}")
    return skops.io.load(path, trusted=untrusted)


def named_types(path: Path) -> set[str]:
    """Every `module.class` that a skops file's schema names, at any depth."""
    try:
        schema = json.loads(read_zip(path)["schema.json"])
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as error:
        raise ModelUnreadable(f"{path} cannot be loaded: not a skops model file ({first_line(error)})") from None
    names, todo = set(), [schema]
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            if "__module__" in node and "__class__" in node:
                names.add(f"{node['__module__']}.{node['__class__']}")
            todo += node.values()
        elif isinstance(node, list):
            todo += node
    return names


def margins(svm, features: np.ndarray) -> np.ndarray:
    """Decision values per class (n, classes): how far each word is on each class's side."""
    values = svm.decision_function(features)
    return np.stack([-values, values], axis=1) if values.ndim == 1 else values
