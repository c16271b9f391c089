"""Stage train_cnn: the digit vocab's training stamps -> models/cnn.keras, data/features/.

The architecture comes from conf/model/, training from conf/train/. Per-epoch loss and
accuracy (on the training and the held-out split) go to MLflow and to metrics/train_cnn.json.
Then, with the CNN still in memory, what it makes of every word of both vocabs (probabilities,
logits, embedding, conv maps) goes to data/features/: train_svm and evaluate read it there
and never start TensorFlow.
"""
import shutil

import numpy as np

from speech_mnist import models, tracking, train
from speech_mnist.config import load_params, stage_paths
from speech_mnist.files import load_npz, write_metrics
from speech_mnist.stamps import load_split, save_features


def main() -> None:
    params = load_params()
    paths = stage_paths(params)
    digits = params["corpus"]["digits"]
    x_train, y_train, info = load_split(paths.stamps / f"{digits}.npz", "train")
    x_test, y_test, _ = load_split(paths.stamps / f"{digits}.npz", "test")
    models.seed_everything(params["train"]["seed"])
    if params["train"]["augment"]["copies"]:
        x_more, y_more = train.augmented_copies([paths.words / p for p in info["path"]], y_train, params)
        x_train, y_train = np.concatenate([x_train, x_more]), np.concatenate([y_train, y_more])
    print(f"training on {len(x_train)} stamps of {digits!r}, watching {len(x_test)} held out")
    with tracking.stage_run("train_cnn", params):
        model = models.build(params["model"], x_train.shape[1:3], len(info["vocab"]))
        history = train.fit(model, x_train, y_train, x_test, y_test, params["train"], [tracking.epoch_logger()])
    models.save_keras(model, paths.cnn)
    shutil.rmtree(paths.features, ignore_errors=True)
    for vocab in dict.fromkeys([digits, params["corpus"]["transfer"]]):
        dataset = load_npz(paths.stamps / f"{vocab}.npz")
        save_features(paths.features / f"{vocab}.npz", dataset, models.outputs(model, dataset["x"][..., None]))
    last = {k: round(float(v[-1]), 4) for k, v in history.history.items()}
    write_metrics(paths.metrics / "train_cnn.json", {"epochs": params["train"]["epochs"], **last})


if __name__ == "__main__":
    main()
