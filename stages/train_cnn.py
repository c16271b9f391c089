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
from speech_mnist.files import StoredArray, load_npz, write_metrics
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
    and loss of training's last epoch (the mean of every network, members x parts: each trains
    alone, and so do members_mean_val_*), and val_accuracy and val_loss of the CNN itself on the held-out words."""
    count = params["train"]["members"]  # 1 or more: config.check_params
    parts = models.parts(params["model"])
    networks, last = [], []
    for member, (seeded, data) in enumerate(training_sets(params, paths, count)):
        for number, part in enumerate(parts):  # one training set for every part: the same seed makes the same copies
            logged_as = network_name(member, number, part, len(parts))
            network, history = trained_network({**seeded, "model": part}, data, tracking.epoch_logger(run, logged_as))
            networks.append(network)
            last.append({k: round(float(v[-1]), 4) for k, v in history.history.items()})
    _, _, x_test, y_test, _ = data
    del data  # the training words: gone before the features of every word are computed
    if len(networks) == 1:
        return networks[0], {"members": 1, **last[0]}
    model = models.average(networks)
    held_out = train.held_out_scores(models.probabilities(model, x_test), y_test)
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


def training_sets(params: dict, paths, count: int):
    """For each of `count` members, its params (train.seed + the member's number) and its training
    set: (x_train, y_train, x_test, y_test, classes). x_train holds the digit vocab's training
    stamps, then the "unknown" class's when the CNN has one, then their augmented copies, all
    drawn from the member's seed but the digits'.

    Every member's set is the same array, filled anew (the digits' stamps stay): at 100k words of
    2 s stamps, each more copy of it is 660 MB. So a member's set is gone once the next is asked
    for: train on each as it comes (list(training_sets(...)) would hold the last one, `count` times)."""
    digits = paths.stamps / f"{params['corpus']['digits']}.npz"
    x_digits, y_digits, info = load_split(digits, "train")
    x_test, y_test, _ = load_split(digits, "test")
    digit_files = [paths.words / p for p in info["path"]]
    known, classes = len(x_digits), len(info["vocab"])
    with_unknown = has_unknown_class(params)  # the last class: other words, sounds that are not words, words backwards
    x_train = None
    for member in range(count):
        seeded = {**params, "train": {**params["train"], "seed": params["train"]["seed"] + member}}
        unknown, files = x_test[:0], digit_files
        if with_unknown:  # as many stamps for every member: only the draws differ
            unknown, unknown_files = unknown_class(seeded, paths, digit_files, x_test[:0])
            files = digit_files + unknown_files  # the other words' files follow the digits'
        originals = known + len(unknown)
        if x_train is None:
            copies = params["train"]["augment"]["copies"] * len(files)
            x_train = np.empty((originals + copies, *x_digits.shape[1:]), np.float32)
            x_train[:known] = x_digits
            del x_digits
        x_train[known:originals] = unknown
        y_train = np.concatenate([y_digits, np.full(len(unknown), classes)])
        if originals < len(x_train):
            _, y_copies = train.augmented_copies(files, y_train[:len(files)], seeded, out=x_train[originals:])
            y_train = np.concatenate([y_train, y_copies])
        yield seeded, (x_train, y_train, x_test, y_test, classes + 1 if with_unknown else classes)


def trained_network(params: dict, data: tuple, epoch_logger):
    """One network fitted on a training set (training_sets), and its history; train.seed draws its
    weights and its batches."""
    x_train, y_train, x_test, y_test, classes = data
    models.seed_everything(params["train"]["seed"])
    print(f"training on {len(x_train)} stamps of {params['corpus']['digits']!r}, watching {len(x_test)} held out")
    model = models.build(params["model"], x_train.shape[1:3], classes)
    history = train.fit(model, x_train, y_train, x_test, y_test, params["train"], [epoch_logger])
    return model, history


def write_features(model, stamps_path, features_path) -> None:
    """What the CNN makes of every word of a vocab. The stamps are read from their file a chunk at
    a time, never whole (at 100k words of 2 s stamps: 440 MB), nor are the largest outputs."""
    dataset = load_npz(stamps_path, leave_out=("x", "voice"))  # the voiceprints are not the CNN's
    save_features(features_path, dataset, models.outputs(model, StoredArray(stamps_path, "x")))


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
