"""Stage train_svm: the transfer vocab, learned from k examples per word -> models/svm.skops.

What the digit CNN made of each word of the transfer vocab (data/features/, from train_cnn): its
logits, or its embedding, or its last conv block (transfer.features), are the features of a
scikit-learn SVM fitted on `transfer.shots` training examples per word.
"""


import mlflow

from speech_mnist import tracking, transfer
from speech_mnist.config import load_params, stage_paths
from speech_mnist.files import write_metrics
from speech_mnist.stamps import load_split


def main() -> None:
    params = load_params()
    paths = stage_paths(params)
    settings, vocab = params["transfer"], params["corpus"]["transfer"]
    features, y, info = load_split(paths.features / f"{vocab}.npz", "train", settings["features"])
    with tracking.stage_run("train_svm", params):
        svm = transfer.fit_shots(features, y, settings, settings["shots"], settings["seed"])
        train_accuracy = float(svm.score(features, y))  # on all training words, not just the k shots
        mlflow.log_metric("train_accuracy", train_accuracy)
    transfer.save_svm(svm, paths.svm)
    write_metrics(paths.metrics / "train_svm.json",
                  {"shots": settings["shots"], "words": info["vocab"], "train_accuracy": round(train_accuracy, 4)})
    print(f"{vocab}: SVM on {settings['shots']} shots per word, {train_accuracy:.1%} on all {len(y)} training words")


if __name__ == "__main__":
    main()
