"""Training the digit CNN on stamps, with optional augmentation."""

import functools
from pathlib import Path

import numpy as np

from .audio import read_audio, resample
from .noise import mix_noise, noise_clips, nonspeech, reverberate, room_impulse
from .stamps import EMBED_BATCH, make_stamps, read_at


# --- augmentation ---------------------------------------------------------------------------


def warp_bands(stamp: np.ndarray, factor: float) -> np.ndarray:
    """The stamp with its frequency axis stretched by `factor` (band i reads band i * factor).

    A longer or shorter vocal tract moves every formant by about the same factor: warping
    the bands is a cheap stand-in for another speaker (vocal tract length perturbation).
    """
    source = np.clip(np.arange(stamp.shape[0]) * factor, 0, stamp.shape[0] - 1)
    return read_at(stamp, source, axis=0).astype(stamp.dtype)


def change_speed(samples: np.ndarray, rate: int, factor: float) -> np.ndarray:
    """The word played `factor` times as fast: shorter, higher, every formant moved by `factor`.

    Speed perturbation (as Kaldi's): a cheap stand-in for another speaker's vocal tract and
    tempo, in the audio, so it works for every kind of stamp.
    """
    return resample(samples, int(round(rate * factor)), rate)  # read at rate*factor, heard at rate


def shift_and_mask(stamp: np.ndarray, augment: dict, rng: np.random.Generator) -> np.ndarray:
    """Random time shift, then SpecAugment-style time and frequency masks (to the mean, 0)."""
    out = stamp.copy()
    shift = int(rng.integers(-augment["shift_frames"], augment["shift_frames"] + 1))
    out = np.roll(out, shift, axis=1)
    for _ in range(augment["time_masks"]):
        width = int(rng.integers(0, augment["time_mask_frames"] + 1))
        start = int(rng.integers(0, out.shape[1] - width + 1))
        out[:, start:start + width] = 0.0
    for _ in range(augment["freq_masks"]):
        height = int(rng.integers(0, augment["freq_mask_bands"] + 1))
        start = int(rng.integers(0, out.shape[0] - height + 1))
        out[start:start + height, :] = 0.0
    return out


def augmented_copies(word_paths: list[Path], labels: np.ndarray, params: dict,
                     out: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """`train.augment.copies` noisy, warped, shifted, masked stamps of every training word, and their
    labels. The stamps fill `out` (n words x copies, bands, frames, 1) when it is given: a slice of the
    training set, so that no list of stamps, nor its concatenation, ever holds a second copy of them."""
    augment, rate, stamp = params["train"]["augment"], params["audio"]["sample_rate"], params["stamp"]
    if out is None:
        out = np.empty((len(word_paths) * augment["copies"], stamp["bands"], stamp["frames"], 1), np.float32)
    rng = np.random.default_rng(params["train"]["seed"])
    noises = noise_clips(params["corpus"], rate, params["train"]["seed"])
    made, copy_labels = 0, []
    for first in range(0, len(word_paths), EMBED_BATCH):  # a batch of words at a time: flat memory
        noisy, warps = [], []
        for path, label in zip(word_paths[first:first + EMBED_BATCH], labels[first:first + EMBED_BATCH]):
            samples = read_audio(path, rate)
            for _ in range(augment["copies"]):
                word = change_speed(samples, rate, rng.uniform(1 - augment["speed"], 1 + augment["speed"])) \
                    if augment["speed"] else samples
                if augment["reverb"] and rng.uniform() < augment["reverb"]:
                    word = reverberate(word, room_impulse(rate, rng.uniform(*augment["rt60_s"]), rng))
                noise = noises[int(rng.integers(len(noises)))]
                noisy.append(mix_noise(word, noise, rng.uniform(*augment["noise_snr_db"]), rng))
                warps.append(rng.uniform(1 - augment["warp"], 1 + augment["warp"]))
                copy_labels.append(label)
        for image, warp in zip(make_stamps(noisy, rate, stamp), warps):
            out[made, ..., 0] = shift_and_mask(warp_bands(image, warp), augment, rng)
            made += 1
    if made != len(out):  # rows of an array made with np.empty would be left as they were
        raise ValueError(f"{made} augmented copies for {len(out)} rows")
    return out, np.array(copy_labels, dtype=np.int64)


def unknown_sounds(count: int, params: dict) -> np.ndarray:
    """Stamps of `count` non-speech sounds (noise.nonspeech) in the rooms augmentation uses:
    examples of the "unknown" class."""
    rate, seed = params["audio"]["sample_rate"], params["train"]["seed"]
    rng = np.random.default_rng(seed + 1)  # not the augmentation's draws: adding sounds changes no copy
    rooms = noise_clips(params["corpus"], rate, seed)
    sounds = [nonspeech(rate, rng, rooms[int(rng.integers(len(rooms)))]) for _ in range(count)]
    return class_stamps((sounds[i:i + EMBED_BATCH] for i in range(0, count, EMBED_BATCH)), rate, params["stamp"])


def reversed_words(word_paths: list[Path], count: int, params: dict) -> np.ndarray:
    """Stamps of `count` of the vocab's own training words played backwards: examples of the
    "unknown" class in the very voices, microphones and rooms of the in-vocab words, so that the
    class cannot be told by how it was recorded (corpus.unknown's words are all eSpeak's).
    They go in as they are: no augmented copies."""
    rate = params["audio"]["sample_rate"]
    rng = np.random.default_rng(params["train"]["seed"] + 2)  # its own draws: no copy or sound changes
    chosen = np.sort(rng.choice(len(word_paths), min(count, len(word_paths)), replace=False))
    batches = ([read_audio(word_paths[i], rate)[::-1].copy() for i in chosen[first:first + EMBED_BATCH]]
               for first in range(0, len(chosen), EMBED_BATCH))  # read a batch at a time: flat memory
    return class_stamps(batches, rate, params["stamp"])


def class_stamps(batches, rate: int, stamp: dict) -> np.ndarray:
    """(n, bands, frames, 1) float32 stamps of batches of sounds, as the CNN trains on them; none: an
    empty array of that shape."""
    stamps = [make_stamps([], rate, stamp), *(make_stamps(batch, rate, stamp) for batch in batches)]
    return np.concatenate(stamps)[..., None].astype(np.float32)


# --- fitting ---------------------------------------------------------------------------------


def fit(model, x_train, y_train, x_test, y_test, train: dict, callbacks=()):
    """Train from the given seed; the held-out split is only watched, never used to choose."""
    import keras

    steps = train["epochs"] * int(np.ceil(len(x_train) / train["batch_size"]))
    # cosine decay to zero: the last epochs settle, so the saved model is not a lucky or unlucky step
    rate = keras.optimizers.schedules.CosineDecay(train["learning_rate"], steps) if train["cosine_decay"] \
        else train["learning_rate"]
    model.compile(optimizer=keras.optimizers.Adam(rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    training, held_out = batches(x_train, y_train, train["batch_size"], seed=train["seed"]), \
        batches(x_test, y_test, train["batch_size"])
    history = model.fit(training, validation_data=held_out, epochs=train["epochs"], shuffle=False,
                        verbose=2, callbacks=list(callbacks))  # (batches shuffles the words itself)
    training.forget()  # Keras keeps its datasets after fit: they must not keep the words
    held_out.forget()
    return history


def batch_order(count: int, batch_size: int, rng: np.random.Generator | None) -> list[np.ndarray]:
    """Which words make each batch of one epoch: a new random order from `rng` every epoch, or
    the words in order (None: the held-out words)."""
    order = rng.permutation(count) if rng is not None else np.arange(count)
    return [order[first:first + batch_size] for first in range(0, count, batch_size)]


def batches(x: np.ndarray, y: np.ndarray, batch_size: int, seed: int | None = None):
    """The words as Keras reads them, one batch at a time, in a new order every epoch drawn from
    `seed` (None: in order, every epoch alike). Keras given the arrays themselves copies them
    whole into one tensor before the first step: at 100k words of 2 s stamps, 700 MB more."""
    return batches_class()(x, y, batch_size, seed)


@functools.cache
def batches_class():
    """The class of `batches`, made once Keras is imported (the stages that only augment never do).
    Its methods refer to no words of their own: after training, `forget` lets go of every one."""
    import keras

    class Batches(keras.utils.PyDataset):
        def __init__(self, x, y, batch_size: int, seed: int | None):
            # one worker and no queue: Keras reads the batches in order, and draws a new order (on_epoch_end)
            # only between epochs, so the same seed gives the same batches whatever the timing
            super().__init__()
            if len(x) != len(y):
                raise ValueError(f"{len(x)} stamps and {len(y)} labels")
            self.x, self.y, self.batch_size = x, y, batch_size
            self.rng = None if seed is None else np.random.default_rng(seed)
            self.order = batch_order(len(x), batch_size, self.rng)

        def __len__(self):
            return len(self.order)

        def __getitem__(self, index):
            chosen = self.order[index]
            return self.x[chosen], self.y[chosen]

        def on_epoch_end(self):
            if self.rng is not None:
                self.order = batch_order(len(self.x), self.batch_size, self.rng)

        def forget(self):
            """Let go of the words (Keras holds on to the dataset after training)."""
            self.x = self.y = None

    return Batches


def held_out_scores(probabilities: np.ndarray, labels: np.ndarray) -> dict:
    """Accuracy and cross-entropy (Keras's val_accuracy and val_loss) of class probabilities; as
    in Keras, a probability is clipped at 1e-7, so one word costs at most about 16."""
    of_truth = probabilities[np.arange(len(labels)), labels]
    return {"val_accuracy": round(float(np.mean(probabilities.argmax(axis=1) == labels)), 4),
            "val_loss": round(float(-np.mean(np.log(np.clip(of_truth, 1e-7, 1)))), 4)}
