"""Keras models over stamps, built from conf/model/, and saving them byte-reproducibly."""

import json
import os
import tempfile
from pathlib import Path

import numpy as np

from .errors import ConfigError, ModelUnreadable, first_line
from .files import FormatChanged, StoredArray, Streamed, read_zip, renumber_object_ids, write_zip
from .stamps import CONV, EMBEDDING, LOGITS, STAMP, TRANSFER_FEATURES

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep stage logs readable


def build(model: dict, input_shape: tuple[int, int], classes: int):
    """A compiled-ready Keras model: stamp (bands, frames) -> class probabilities. A mixed model:
    the average of its parts (train_cnn trains each part alone, and averages them itself)."""
    import keras
    from keras import layers

    if model["kind"] == "mixed":
        return average([build(part, input_shape, classes) for part in parts(model)])
    if model["kind"] not in ("cnn", "cnn_lstm", "time_conv"):
        raise ConfigError(f"unknown model.kind {model['kind']!r}: use cnn, cnn_lstm or time_conv "
                          "(or mixed, whose parts are networks of those kinds)")
    if not model["blocks"]:  # every CNN's features include its last conv block's maps (models.outputs)
        raise ConfigError("model.blocks must hold at least one conv block, e.g. [[16]]: the conv "
                         "features that transfer=conv and train_cnn's features read are its maps")
    inputs = keras.Input(shape=(*input_shape, 1), name="stamp")
    x = _centre_frames(inputs, model.get("centre_frames"))
    x = _time_conv_blocks(model, x) if model["kind"] == "time_conv" else _conv_blocks(model, x)
    x = layers.Dense(model["dense"], activation="relu", name=EMBEDDING)(x)
    x = layers.Dropout(model["dropout"])(x)
    logits = layers.Dense(classes, name=LOGITS)(x)
    outputs = layers.Activation("softmax", name="probabilities")(logits)
    return keras.Model(inputs, outputs, name=model["kind"])


def parts(model: dict) -> list[dict]:
    """The networks of one member of the CNN (train.members): each part of a mixed model
    (conf/model/mixed.yaml), in order, or the one network the model describes."""
    return list(model["parts"].values()) if model["kind"] == "mixed" else [model]


def _centre_frames(stamp, frames: int | None):
    """Only the stamp's `frames` middle frames (all of them when None): a network of a mixed model
    can read a shorter context than its stamp holds. An odd difference leaves the extra frame at the end."""
    from keras import layers

    total = stamp.shape[2]
    if not frames or frames == total:
        return stamp
    if frames > total:
        raise ConfigError(f"model.centre_frames is {frames}, but the stamp has {total} frames (stamp.frames)")
    start = (total - frames) // 2
    return layers.Cropping2D(((0, 0), (start, total - frames - start)))(stamp)


def _conv_blocks(model: dict, inputs):
    """2-D convolutions over the stamp as an image (bands x frames), then flattened, pooled or
    read along time by an LSTM (cnn_lstm)."""
    from keras import layers

    x = inputs
    if model["kind"] == "cnn_lstm":
        x = layers.Permute((2, 1, 3))(x)  # (frames, bands, 1): time first, for the LSTM
    x = _blocks(model, x, layers.Conv2D, layers.MaxPooling2D)
    if model["kind"] == "cnn_lstm":
        x = layers.Reshape((x.shape[1], x.shape[2] * x.shape[3]))(x)
        return layers.LSTM(model["lstm"])(x)
    return layers.GlobalAveragePooling2D()(x) if model["global_pool"] else layers.Flatten()(x)


def _time_conv_blocks(model: dict, inputs):
    """1-D convolutions along time, a stamp's column (all its bands) the channels of one frame,
    then the largest of each filter over time (global_pool) or every frame left (flattened).

    The head Lin et al. (ICASSP 2020) put on the speech embedding: the embedding's 96 numbers
    are features of one window, not neighbouring bands of a spectrum, so their order means
    nothing a 2-D kernel could slide along; along time a filter follows how the word unfolds."""
    from keras import layers

    bands, frames = inputs.shape[1], inputs.shape[2]
    x = layers.Permute((2, 1, 3))(inputs)  # (frames, bands, 1)
    x = layers.Reshape((frames, bands))(x)
    x = _blocks(model, x, layers.Conv1D, layers.MaxPooling1D)
    return layers.GlobalMaxPooling1D()(x) if model["global_pool"] else layers.Flatten()(x)


def _blocks(model: dict, x, conv, pool):
    """model.blocks: in each, a convolution of every number of filters listed (with batch norm when
    model.batch_norm, then ReLU), then a pooling that halves each axis; the last pooling's output is
    the conv features (CONV). `conv` and `pool` are Keras's 2-D or 1-D layers."""
    from keras import layers

    for block, filters in enumerate(model["blocks"], start=1):
        for f in filters:
            x = conv(f, model["kernel"], padding="same", use_bias=not model["batch_norm"])(x)
            if model["batch_norm"]:
                x = layers.BatchNormalization()(x)
            x = layers.Activation("relu")(x)
        # "same": a narrow stamp (the embedding's few windows) keeps a column after every pooling
        x = pool(2, padding="same", name=CONV if block == len(model["blocks"]) else None)(x)
    return x


def feature_model(model, features: str):
    """The same network cut at its logits, its embedding layer or its last convolution block, or
    only its input (the stamp).

    The logits and the embedding are shaped by the ten digits; the convolution maps keep more
    of the sound, which a new vocab needs; a pretrained stamp keeps what the embedding learnt
    from far more speech than the digits (bench/accuracy.py measures them; docs/results.md).
    """
    import keras
    from keras import layers

    if features not in TRANSFER_FEATURES:
        raise ConfigError(f"transfer.features must be {', '.join(TRANSFER_FEATURES)}, not {features!r}")
    if isinstance(model.output, dict):  # an average of networks (average) has every output already
        return keras.Model(model.inputs, model.output[features])
    if features == STAMP:
        return keras.Model(model.inputs, layers.Flatten(name=f"{STAMP}_features")(model.inputs[0]))
    output = model.get_layer(features).output
    if features == CONV:  # named: a loaded model's own Flatten may already be "flatten"
        output = layers.Flatten(name=f"{CONV}_features")(output)
    return keras.Model(model.inputs, output)


def heads(model, name: str | None = None):
    """The network with every output, by name: its probabilities and each kind of transfer feature
    (an average of networks has them all already)."""
    import keras

    if isinstance(model.output, dict):
        return keras.Model(model.inputs, model.output, name=name)  # a fresh one, as below
    return keras.Model(model.inputs, {"probabilities": model.output,
                                      **{kind: feature_model(model, kind).output for kind in TRANSFER_FEATURES}},
                       name=name)


def average(networks: list):
    """One network from several trained alike from different seeds (a deep ensemble): their
    probabilities and logits averaged, their embeddings and conv maps side by side, and the one
    stamp they all read. Where the members disagree, the average is unsure: an unseen speaker's
    digits are heard more often right, and words outside the vocab more often rejected
    (conf/tuning/fsdd_pretrained.yaml).
    One network is returned as it is."""
    import keras
    from keras import layers

    if not networks:
        raise ValueError("an average needs at least one network")
    if len(networks) == 1:
        return networks[0]
    stamp = keras.Input(shape=networks[0].input_shape[1:], name="stamp")
    members = [heads(net, name=f"member{i}")(stamp) for i, net in enumerate(networks)]
    joined = {"probabilities": layers.Average(name="probabilities"), LOGITS: layers.Average(name=LOGITS),
              EMBEDDING: layers.Concatenate(name=EMBEDDING), CONV: layers.Concatenate(name=CONV),
              STAMP: lambda stamps: stamps[0]}  # every member's input is the same stamp
    return keras.Model(stamp, {out: join([m[out] for m in members]) for out, join in joined.items()}, name="average")


def probabilities(model, stamps: np.ndarray) -> np.ndarray:
    """(stamps, classes) the network's class probabilities alone: an average's other outputs (conv
    maps, the stamp itself) would cost gigabytes at 100k words."""
    import keras

    if isinstance(model.output, dict):
        model = keras.Model(model.inputs, model.output["probabilities"])
    return model.predict(stamps, batch_size=256, verbose=0)


# Stamps go through the network this many at a time when their outputs are kept: the outputs
# fill arrays made once, instead of a list of batches and then its concatenation (twice the memory).
OUTPUT_CHUNK = 8192  # a multiple of the batch, so every batch is the one a single call would make


def outputs(model, stamps: "np.ndarray | StoredArray", chunk: int = OUTPUT_CHUNK) -> dict:
    """What the network makes of each stamp: its probabilities and each kind of transfer feature
    (logits, embedding, conv maps flattened, the stamp itself flattened). The conv maps, the largest
    (600 MB at 100k words), are files.Streamed: made a chunk at a time as save_npz writes them,
    by a second pass of the stamps through the convolutions alone. Stamps stored in a file
    (files.StoredArray) are read a chunk at a time too, and so is their flattened copy."""
    import keras

    net = heads(model)
    shape = net.input_shape[1:]

    def stamp_chunks():  # each chunk shaped as the network reads it: a stamps file has no channel axis
        parts = stamps.chunks(chunk) if isinstance(stamps, StoredArray) else \
            (stamps[first:first + chunk] for first in range(0, len(stamps), chunk))
        return (np.reshape(part, (len(part), *shape)) for part in parts)

    held = {name: tensor for name, tensor in net.output.items() if name not in (STAMP, CONV)}
    found = {name: np.zeros((len(stamps), *tensor.shape[1:]), np.float32) for name, tensor in held.items()}
    without_conv, first = keras.Model(net.inputs, held), 0
    for part in stamp_chunks():
        for name, made in without_conv.predict(part, batch_size=256, verbose=0).items():
            found[name][first:first + len(made)] = made
        first += len(part)
    conv = keras.Model(net.inputs, net.output[CONV])
    conv_maps = Streamed(np.float32, (len(stamps), *conv.output.shape[1:]),
                         (conv.predict(part, batch_size=256, verbose=0) for part in stamp_chunks()))
    if isinstance(stamps, StoredArray):
        flat = Streamed(np.float32, (len(stamps), int(np.prod(shape))),
                        (part.reshape(len(part), -1) for part in stamp_chunks()))
    else:  # the stamp head gives the input back: a view of it holds no second copy of every stamp in memory
        flat = np.asarray(stamps, np.float32).reshape(len(stamps), -1)
    return {**found, CONV: conv_maps, STAMP: flat}


# Stamps per call of the LiteRT file: a fixed batch, because LiteRT cannot take an LSTM
# (model=cnn_lstm) whose batch size is unknown; lite.py pads the last batch.
LITE_BATCH = 256


def save_lite(model, path: Path) -> None:
    """The network with every output (heads) as a LiteRT flatbuffer: `speech-mnist predict` runs it
    without TensorFlow (speech_mnist/lite.py). A flatbuffer holds operators and weights, never code."""
    import keras
    import tensorflow as tf

    net = heads(model)
    stamps = keras.Input(batch_shape=(LITE_BATCH, *net.input_shape[1:]), name="stamp")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(tf.lite.TFLiteConverter.from_keras_model(keras.Model(stamps, net(stamps))).convert())


def seed_everything(seed: int) -> None:
    """Same seed, same data: bit-identical weights, on CPU, across processes."""
    import keras
    import tensorflow as tf

    keras.backend.clear_session()  # also restarts layer names (conv2d, conv2d_1, ...)
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def save_keras(model, path: Path) -> None:
    """A .keras file that is byte-identical whenever the weights are.

    Keras stamps the save time into metadata.json and the zip entries, and numbers shared
    objects in config.json by their memory address; the time is removed, the numbers renumbered.
    """
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "model.keras"
        model.save(raw)
        entries = read_zip(raw)
    metadata = json.loads(entries["metadata.json"])
    if "date_saved" not in metadata:
        raise FormatChanged("Keras no longer writes metadata.json's date_saved: check save_keras")
    del metadata["date_saved"]
    entries["metadata.json"] = json.dumps(metadata, sort_keys=True).encode()
    config, _ = renumber_object_ids(entries["config.json"].decode(), ("shared_object_id",))
    entries["config.json"] = config.encode()
    write_zip(path, entries)



def load_keras(path: Path):
    """The saved CNN. safe_mode refuses a file whose layers would run Python code (a Lambda layer):
    models arrive by `dvc pull` from shared remotes, and loading one must never execute anything."""
    import zipfile

    import keras

    if not zipfile.is_zipfile(path):  # Keras would call it "File not found"
        raise ModelUnreadable(f"{path} cannot be loaded: it is not a .keras archive (damaged, or not fully fetched?)")
    try:
        return keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as error:  # Keras raises many kinds (ValueError, OSError, zip and JSON errors)
        raise ModelUnreadable(f"{path} cannot be loaded: {first_line(error)}") from error
