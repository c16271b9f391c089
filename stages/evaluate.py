"""Stage evaluate: both models on held-out words -> metrics/evaluate.json and plots/.

- the digit CNN on the digit vocab's test split;
- the transfer SVM on the transfer vocab's test split;
- the transfer curve: SVM accuracy against k examples per word, averaged over draws;
- who is speaking: the speaker SVM on the held-out takes of the digit vocab's speakers, and its curve.
Confusion matrices as CSV (for `dvc plots`) and PNG; everything also logged to MLflow.
The CNN's outputs come from data/features/ (train_cnn computed them): no TensorFlow here.
"""


import mlflow

from speech_mnist import evaluation, speakers, tracking, transfer
from speech_mnist.config import load_params, stage_paths
from speech_mnist.files import write_metrics
from speech_mnist.stamps import load_split


def who_speaks(params: dict, paths) -> tuple[tuple, dict]:
    """((actual, predicted, names), curve) of the speaker SVM on the held-out takes; without a
    speaker model (too few speakers on both sides of the split), no words and the reason as the name."""
    import numpy as np

    try:
        svm, names, _ = speakers.load(paths.speakers)
    except speakers.SpeakersMissing as reason:
        return (np.zeros(0, int), np.zeros(0, int), [str(reason)]), {}
    digits = params["corpus"]["digits"]
    who = speakers.speaker_words(paths.stamps / f"{digits}.npz", paths.features / f"{digits}.npz", params["speakers"])
    curve = transfer.curve(who.x[who.train], who.y[who.train], who.x[who.test], who.y[who.test], params["speakers"])
    return (who.y[who.test], svm.predict(who.x[who.test]), names), \
        {f"k{row.shots}": round(row.accuracy, 4) for row in curve.itertuples()}


def main() -> None:
    params = load_params()
    paths = stage_paths(params)
    corpus, settings = params["corpus"], params["transfer"]
    paths.plots.mkdir(parents=True, exist_ok=True)
    svm = transfer.load_svm(paths.svm)

    probabilities, digits_actual, digits = load_split(paths.features / f"{corpus['digits']}.npz", "test", "probabilities")
    digits_predicted = probabilities.argmax(axis=1)

    transfer_words = paths.features / f"{corpus['transfer']}.npz"
    train_features, y_train, _ = load_split(transfer_words, "train", settings["features"])
    test_features, words_actual, words = load_split(transfer_words, "test", settings["features"])
    words_predicted = svm.predict(test_features)
    curve = transfer.curve(train_features, y_train, test_features, words_actual, settings)

    results = {"cnn": (digits_actual, digits_predicted, digits["vocab"]),
               "svm": (words_actual, words_predicted, words["vocab"])}
    results["speakers"], speakers_curve = who_speaks(params, paths)
    metrics = {name: evaluation.classification_metrics(*r) if len(r[0]) else {"unavailable": r[2][0]}
               for name, r in results.items()}
    metrics["transfer_curve"] = {f"k{row.shots}": round(row.accuracy, 4) for row in curve.itertuples()}
    metrics["speakers_curve"] = speakers_curve
    write_metrics(paths.metrics / "evaluate.json", metrics)
    curve.to_csv(paths.plots / "transfer_curve.csv", index=False, lineterminator="\n")
    evaluation.plot_curve(curve, f"transfer to {corpus['transfer']}", paths.plots / "transfer_curve.png")

    with tracking.stage_run("evaluate", params):
        for name, (actual, predicted, vocab) in results.items():
            if not len(actual):  # no such model: its plots say why
                evaluation.write_unavailable(vocab[0], paths.plots / "confusion", name)
                continue
            tested = {"cnn": f"{corpus['digits']} words", "svm": f"{corpus['transfer']} words",
                      "speakers": f"takes: who speaks ({len(vocab)} speakers)"}[name]
            title = f"{name.upper()} on held-out {tested}: {metrics[name]['accuracy']:.1%}"
            matrix = evaluation.write_confusion(actual, predicted, vocab, title, paths.plots / "confusion", name)
            evaluation.log_results(name, metrics[name], matrix, title)
        mlflow.log_metrics({f"svm_accuracy_{k}": a for k, a in metrics["transfer_curve"].items()})
        mlflow.log_metrics({f"speakers_accuracy_{k}": a for k, a in speakers_curve.items()})
        mlflow.log_artifact(paths.plots / "transfer_curve.png")
    print(f"CNN {metrics['cnn']['accuracy']:.1%} on {len(digits_actual)} held-out {corpus['digits']} words; "
          f"SVM {metrics['svm']['accuracy']:.1%} on {len(words_actual)} held-out {corpus['transfer']} words; "
          + (f"speakers {metrics['speakers']['accuracy']:.1%} of {metrics['speakers']['test_words']} held-out words"
             if "accuracy" in metrics["speakers"] else metrics["speakers"]["unavailable"]))


if __name__ == "__main__":
    main()
