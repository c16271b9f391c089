"""Stage train_cnn: the digit vocab's training stamps -> models/cnn.keras (and .tflite), data/features/.

The architecture comes from conf/model/, training from conf/train/. Per-epoch loss and
accuracy (on the training and the held-out split) go to MLflow; the last epoch's to
metrics/train_cnn.json (with several networks: the average's own held-out figures, see trained_cnn).
With train.members > 1, several networks are trained, each from its own seed, and averaged
into one CNN (models.average); a mixed model (conf/model/mixed.yaml) trains one of each of its
parts per member. With an "unknown" class (speech_mnist/unknown.py), the CNN also
learns the words of corpus.unknown, non-speech sounds and digit words played backwards as its
last class.
Then, with the CNN still in memory, what it makes of every word of every vocab (probabilities,
logits, embedding, conv maps, and its input, the stamp) goes to data/features/: train_svm and evaluate read it there
and never start TensorFlow.
"""
import shutil

import numpy as np

from speech_mnist import models, tracking, train
from speech_mnist.config import load_params, stage_paths
from speech_mnist.errors import run_stage
from speech_mnist.files import load_npz, write_metrics
from speech_mnist.stamps import load_split, save_features, save_stamp_settings
from speech_mnist.unknown import has_unknown_class


def unknown_class(params: dict, paths, digit_files: list, empty: np.ndarray) -> tuple[np.ndarray, list]:
    """The "unknown" class's training stamps: corpus.unknown's training words (first: their files,
    returned too, get augmented copies), train.unknown_sounds non-speech sounds, and
    train.unknown_reversed of the digit vocab's training words played backwards."""
    other = paths.stamps / f"{params['corpus'].get('unknown')}.npz"
    x_other, _, info = load_split(other, "train") if other.exists() else (empty, None, {"path": []})
    sounds = train.unknown_sounds(params["train"]["unknown_sounds"], params)
    backwards = train.reversed_words(digit_files, params["train"]["unknown_reversed"], params)
    print(f"unknown: {len(x_other)} other words, {len(sounds)} non-speech sounds, "
          f"{len(backwards)} digit words played backwards")
    return np.concatenate([x_other, sounds, backwards]), [paths.words / p for p in info["path"]]


def trained_cnn(params: dict, paths, run: tracking.StageRun):
    """The CNN: for each of train.members, its training set (made from its own seed: train.seed,
    +1, ...) and a network trained on it (one per part of a mixed model: models.parts), averaged
    into one (models.average); and its metrics, with the same keys whatever the count: accuracy
    and loss of training's last epoch (the networks' mean: each trains alone), and val_accuracy and
    val_loss of the CNN itself on the held-out words."""
    count = params["train"]["members"]  # 1 or more: config.check_params
    digits = paths.stamps / f"{params['corpus']['digits']}.npz"
    split = {side: load_split(digits, side) for side in ("train", "test")}  # read once for every member
    parts = models.parts(params["model"])
    networks, last = [], []
    for member in range(count):
        seeded = {**params, "train": {**params["train"], "seed": params["train"]["seed"] + member}}
        data = training_set(seeded, paths, split)  # once for every part: the same seed makes the same copies
        for number, part in enumerate(parts):
            logged_as = network_name(member, number, part, len(parts))
            network, history = trained_network({**seeded, "model": part}, data, tracking.epoch_logger(run, logged_as))
            networks.append(network)
            last.append({k: round(float(v[-1]), 4) for k, v in history.history.items()})
        del data
    if len(networks) == 1:
        return networks[0], {"members": 1, **last[0]}
    model = models.average(networks)
    x_test, y_test, _ = split["test"]
    probabilities = model.predict(x_test[..., None], batch_size=256, verbose=0)["probabilities"]
    held_out = train.held_out_scores(probabilities, y_test)
    # after the networks' epochs: the run's last val_accuracy and val_loss (the runs table's columns) are the average's
    run.log_metrics(held_out, step=params["train"]["epochs"])
    mean = {k: round(float(np.mean([m[k] for m in last])), 4) for k in last[0]}
    return model, {"members": count, **mean, **held_out, **{f"members_mean_{k}": mean[k] for k in held_out}}


def network_name(member: int, number: int, part: dict, part_count: int) -> str:
    """How a network's epochs are named in MLflow: the first network's plainly (so the runs table's
    columns are one network's), the others' as member<i>_ (and the part's kind, for a mixed model)."""
    if member == 0 and number == 0:
        return ""
    return f"member{member}_" + (f"{part['kind']}_" if part_count > 1 else "")


def training_set(params: dict, paths, split: dict) -> tuple:
    """The digit vocab's training stamps (`split`: load_split's train and test), with the "unknown"
    class's when the CNN has one, and their augmented copies: (x_train, y_train, x_test, y_test,
    classes). train.seed draws the copies.

    The stamps live only in here and in trained_cnn: gone before the features of every word are
    computed. x_train is made once at its full size and filled: a concatenation would hold it twice."""
    (x_digits, y_digits, info), (x_test, y_test, _) = split["train"], split["test"]
    files = [paths.words / p for p in info["path"]]
    classes = len(info["vocab"])
    originals, labels = [x_digits], [y_digits]
    if has_unknown_class(params):  # the last class: other words, sounds that are not words, words backwards
        unknown, unknown_files = unknown_class(params, paths, files, x_digits[:0])
        originals.append(unknown)
        labels.append(np.full(len(unknown), classes))
        files, classes = files + unknown_files, classes + 1  # the other words' files follow the digits'
    count = sum(map(len, originals))
    copies = params["train"]["augment"]["copies"] * len(files)
    x_train = np.empty((count + copies, *x_digits.shape[1:]), np.float32)
    np.concatenate(originals, out=x_train[:count])
    y_train = np.concatenate(labels)
    if copies:
        _, y_more = train.augmented_copies(files, y_train[:len(files)], params, out=x_train[count:])
        y_train = np.concatenate([y_train, y_more])
    return x_train, y_train, x_test, y_test, classes


def trained_network(params: dict, data: tuple, epoch_logger):
    """One network fitted on a training set (training_set), and its history; train.seed draws its
    weights and its batches."""
    x_train, y_train, x_test, y_test, classes = data
    models.seed_everything(params["train"]["seed"])
    print(f"training on {len(x_train)} stamps of {params['corpus']['digits']!r}, watching {len(x_test)} held out")
    model = models.build(params["model"], x_train.shape[1:3], classes)
    history = train.fit(model, x_train, y_train, x_test, y_test, params["train"], [epoch_logger])
    return model, history


def write_features(model, stamps_path, features_path) -> None:
    """What the CNN makes of every word of a vocab (its dataset is freed before the next one's is read)."""
    dataset = load_npz(stamps_path, leave_out=("voice",))  # the voiceprints are not the CNN's: 77 MB at 100k words
    save_features(features_path, dataset, models.outputs(model, dataset["x"][..., None]))


def main() -> None:
    params = load_params()
    paths = stage_paths(params)
    with tracking.StageRun("train_cnn", params) as run:  # MLflow loads in a helper process meanwhile
        model, metrics = trained_cnn(params, paths, run)
        models.save_keras(model, paths.cnn)
        models.save_lite(model, paths.cnn_lite)  # what `speech-mnist predict` runs, without TensorFlow
        save_stamp_settings(paths.cnn_stamp_settings, params)  # predict refuses a params.yaml that makes other stamps
        shutil.rmtree(paths.features, ignore_errors=True)
        corpus = params["corpus"]
        for vocab in dict.fromkeys([corpus["digits"], corpus["transfer"], corpus.get("unknown")]):
            if vocab and (paths.stamps / f"{vocab}.npz").exists():
                write_features(model, paths.stamps / f"{vocab}.npz", paths.features / f"{vocab}.npz")
    write_metrics(paths.metrics / "train_cnn.json", {"epochs": params["train"]["epochs"], **metrics})


if __name__ == "__main__":
    run_stage(main)
