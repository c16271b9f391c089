"""Stage evaluate: both models on held-out words -> metrics/evaluate.json and plots/.

- the digit CNN on the digit vocab's test split;
- the transfer SVM on the transfer vocab's test split;
- the transfer curve: SVM accuracy against k examples per word, averaged over draws;
- who is speaking: the speaker SVM on the held-out takes of the digit vocab's speakers, and its curve;
- unknown words: how many in-vocab test words each model rejects and how many words of
  corpus.unknown (and for the SVM, digits) it accepts, at the reject.* thresholds and as a DET curve.
Confusion matrices as CSV (for `dvc plots`) and PNG; everything also logged to MLflow.
The CNN's outputs come from data/features/ (train_cnn computed them): no TensorFlow here.
"""

import numpy as np

from speech_mnist import evaluation, speakers, tracking, transfer
from speech_mnist.config import load_params, stage_paths
from speech_mnist.errors import run_stage
from speech_mnist.files import write_metrics
from speech_mnist.stamps import load_split
from speech_mnist.unknown import best_words, det_table, rejection_metrics


def who_speaks(params: dict, paths) -> tuple[tuple | None, dict, str | None]:
    """(actual, predicted, names) of the speaker SVM on the held-out takes, its curve, and None;
    or None, {} and the reason there is no speaker model (too few speakers on both sides)."""
    try:
        model = speakers.load(paths.speakers)
    except speakers.SpeakersMissing as reason:
        return None, {}, str(reason)
    digits = params["corpus"]["digits"]
    who = speakers.speaker_words(paths.stamps / f"{digits}.npz", paths.features / f"{digits}.npz", params["speakers"])
    curve = transfer.curve(who.x[who.train], who.y[who.train], who.x[who.test], who.y[who.test], params["speakers"])
    return (who.y[who.test], model.svm.predict(who.x[who.test]), model.names), \
        {f"k{row.shots}": round(row.accuracy, 4) for row in curve.itertuples()}, None


def unknown_words(params: dict, paths, svm, cnn_in: np.ndarray, svm_in: np.ndarray,
                  vocab_sizes: tuple[int, int]) -> tuple[dict, dict]:
    """Each model's rejection metrics and DET table: the best in-vocab scores of its test words
    (`cnn_in`: digits, `svm_in`: the transfer vocab's, whose sizes are `vocab_sizes`) against those
    of the test words of corpus.unknown (and, for the SVM, the digits'). Empty without an
    "unknown" vocab with test words."""
    corpus, kind = params["corpus"], params["transfer"]["features"]
    other = paths.features / f"{corpus.get('unknown')}.npz"
    other_probabilities = load_split(other, "test", "probabilities")[0] if other.exists() else np.zeros(0)
    if not other_probabilities.size:
        return {}, {}
    digit_words, transfer_words = vocab_sizes
    cnn_out = best_words(other_probabilities, digit_words)[1]
    digits = paths.features / f"{corpus['digits']}.npz"
    not_words = np.concatenate([load_split(digits, "test", kind)[0], load_split(other, "test", kind)[0]])
    svm_out = best_words(transfer.margins(svm, not_words), transfer_words)[1]
    scores = {"cnn": (cnn_in, cnn_out), "svm": (svm_in, svm_out)}
    metrics = {name: rejection_metrics(*pair, params["reject"][name]) for name, pair in scores.items()}
    return metrics, {name: det_table(*pair) for name, pair in scores.items()}


def write_det(det: dict, metrics: dict, plots) -> None:
    """plots/unknown/<model>.csv (for `dvc plots`) and plots/unknown.png; without test words of
    another vocab, empty tables and a figure that says so."""
    (plots / "unknown").mkdir(exist_ok=True)
    for name in ("cnn", "svm"):
        det.get(name, det_table([], [])).to_csv(plots / "unknown" / f"{name}.csv", index=False, lineterminator="\n")
    if det:
        evaluation.plot_det(det, {n: (m["false_rejects"], m["false_accepts"]) for n, m in metrics.items()}, plots / "unknown.png")
    else:
        evaluation.plot_message("no test words outside the vocab (corpus.unknown): no rejection measured",
                                plots / "unknown.png")


def main() -> None:
    params = load_params()
    with tracking.StageRun("evaluate", params) as run:  # MLflow loads in a helper process meanwhile
        evaluate(params, stage_paths(params), run)


def evaluate(params: dict, paths, run: tracking.StageRun) -> None:
    corpus, settings = params["corpus"], params["transfer"]
    paths.plots.mkdir(parents=True, exist_ok=True)
    svm = transfer.load_svm(paths.svm)

    probabilities, digits_actual, digits = load_split(paths.features / f"{corpus['digits']}.npz", "test", "probabilities")
    digits_predicted, digits_best = best_words(probabilities, len(digits["vocab"]))  # closed set: "unknown" aside

    transfer_words = paths.features / f"{corpus['transfer']}.npz"
    train_features, y_train, _ = load_split(transfer_words, "train", settings["features"])
    test_features, words_actual, words = load_split(transfer_words, "test", settings["features"])
    words_predicted, words_best = best_words(transfer.margins(svm, test_features), len(words["vocab"]))
    curve = transfer.curve(train_features, y_train, test_features, words_actual, settings)

    results = {"cnn": (digits_actual, digits_predicted, digits["vocab"]),
               "svm": (words_actual, words_predicted, words["vocab"])}
    speaker_result, speakers_curve, no_speakers = who_speaks(params, paths)
    if speaker_result:
        results["speakers"] = speaker_result
    metrics = {name: evaluation.classification_metrics(*r) for name, r in results.items()}
    if no_speakers:  # the metrics say why, and so do the plots where its confusion matrix would be
        metrics["speakers"] = {"unavailable": no_speakers}
        evaluation.write_unavailable(no_speakers, paths.plots / "confusion", "speakers")
    metrics["transfer_curve"] = {f"k{row.shots}": round(row.accuracy, 4) for row in curve.itertuples()}
    metrics["speakers_curve"] = speakers_curve
    metrics["unknown"], det = unknown_words(params, paths, svm, digits_best, words_best,
                                            (len(digits["vocab"]), len(words["vocab"])))
    write_det(det, metrics["unknown"], paths.plots)
    write_metrics(paths.metrics / "evaluate.json", metrics)
    curve.to_csv(paths.plots / "transfer_curve.csv", index=False, lineterminator="\n")
    evaluation.plot_curve(curve, f"transfer to {corpus['transfer']}", paths.plots / "transfer_curve.png")

    for name, (actual, predicted, vocab) in results.items():
        tested = {"cnn": f"{corpus['digits']} words", "svm": f"{corpus['transfer']} words",
                  "speakers": f"takes: who speaks ({len(vocab)} speakers)"}[name]
        title = f"{name.upper()} on held-out {tested}: {metrics[name]['accuracy']:.1%}"
        matrix = evaluation.write_confusion(actual, predicted, vocab, title, paths.plots / "confusion", name)
        evaluation.log_results(run, name, metrics[name], matrix, title)
    run.log_metrics({f"svm_accuracy_{k}": a for k, a in metrics["transfer_curve"].items()})
    run.log_metrics({f"speakers_accuracy_{k}": a for k, a in speakers_curve.items()})
    run.log_artifact(paths.plots / "transfer_curve.png")
    if det:
        run.log_artifact(paths.plots / "unknown.png")
        run.log_metrics({f"unknown_{name}_{k}": v for name, m in metrics["unknown"].items()
                         for k, v in m.items() if k.startswith(("false", "equal"))})
    print(f"CNN {metrics['cnn']['accuracy']:.1%} on {len(digits_actual)} held-out {corpus['digits']} words; "
          f"SVM {metrics['svm']['accuracy']:.1%} on {len(words_actual)} held-out {corpus['transfer']} words; "
          + (f"speakers {metrics['speakers']['accuracy']:.1%} of {metrics['speakers']['test_words']} held-out words"
             if "accuracy" in metrics["speakers"] else metrics["speakers"]["unavailable"]))


if __name__ == "__main__":
    run_stage(main)
