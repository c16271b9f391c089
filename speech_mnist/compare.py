"""Two evaluate runs compared: where run B's confusion matrices differ from run A's, as one figure."""

import json
from pathlib import Path

import numpy as np
import pandas as pd

from . import tracking
from .errors import UserError
from .evaluation import CONFUSION_TABLE, save_figure


def compare_runs(first: str, second: str, output: Path, root: Path) -> tuple[str, str]:
    """Write run `second` minus run `first` (ids or labels) to `output`; returns the two runs' labels."""
    from mlflow.tracking import MlflowClient

    uri = tracking.tracking_uri(root)
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).exists():
        raise UserError(f"no MLflow store at {uri.removeprefix('sqlite:///')}: run `dvc repro` first")
    tracking.prepare_store(uri)  # also points a moved repository's runs at its own artifacts
    client = MlflowClient(uri)
    runs = [find_evaluate_run(client, reference) for reference in (first, second)]
    labels = tuple(run.info.run_name.removeprefix("evaluate ") for run in runs)
    plot_difference(*(confusion_matrices(client, run) for run in runs), labels, output)
    return labels


def find_evaluate_run(client, reference: str):
    """An evaluate run by its id, or by its label (DVC experiment name or short commit): the
    newest run of that label."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_run(reference)
    except MlflowException:
        pass
    experiment = client.get_experiment_by_name(tracking.EXPERIMENT)
    if experiment is None:
        raise UserError(f"no runs in {client.tracking_uri}: run `dvc repro` first")
    runs = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time DESC"],
                              filter_string=f"tags.stage = 'evaluate' and attributes.run_name = 'evaluate {reference}'")
    if not runs:
        raise UserError(f"no evaluate run {reference!r}: give a run id, a DVC experiment name or a short commit")
    return runs[0]


def confusion_matrices(client, run) -> dict[str, pd.DataFrame]:
    """The confusion matrices a run logged, by model: counts, actual x predicted."""
    import tempfile

    from mlflow.exceptions import MlflowException

    matrices = {}
    with tempfile.TemporaryDirectory() as folder:
        for model in ("cnn", "svm"):
            try:
                path = client.download_artifacts(run.info.run_id, CONFUSION_TABLE.format(model=model), folder)
            except (MlflowException, OSError):
                raise UserError(f"run {run.info.run_name!r} logged no {CONFUSION_TABLE.format(model=model)}") from None
            table = json.loads(Path(path).read_text())  # MLflow's table format: columns and rows
            matrices[model] = pd.DataFrame(table["data"], columns=table["columns"]).set_index("actual")
    return matrices


def plot_difference(before: dict[str, pd.DataFrame], after: dict[str, pd.DataFrame], names: tuple[str, str],
                    path: Path) -> None:
    """One heat map per model of `after` minus `before` (counts of test words): blue where run B
    puts more words than run A, red where fewer. On the diagonal blue is better, off it red is."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = [m for m in before if m in after]
    size = 1.2 + 0.5 * max(len(before[m]) for m in models)
    fig, axes = plt.subplots(1, len(models), figsize=((size + 1.5) * len(models), size + 0.6), squeeze=False)
    for ax, model in zip(axes[0], models):
        a, b = before[model], after[model]
        if list(a.index) != list(b.index):
            raise UserError(f"{model}: the two runs tested different words ({list(a.index)} vs {list(b.index)})")
        change = b.to_numpy() - a.to_numpy()
        limit = max(1, np.abs(change).max())
        image = ax.imshow(change, cmap="RdBu", vmin=-limit, vmax=limit)
        ax.set_xticks(range(len(b)), b.columns, rotation=45, ha="right")
        ax.set_yticks(range(len(b)), b.index)
        ax.set_xlabel("predicted")
        ax.set_ylabel("actual")
        right = np.trace(b.to_numpy()) - np.trace(a.to_numpy())
        ax.set_title(f"{model.upper()}: {names[1]} minus {names[0]}\n{right:+d} words right")
        for (i, j), count in np.ndenumerate(change):
            if count:
                ax.text(j, i, f"{count:+d}", ha="center", va="center", fontsize=8)
        fig.colorbar(image, ax=ax, shrink=0.7)
    fig.tight_layout()
    save_figure(fig, path)


