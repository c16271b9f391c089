"""Stamps, splits and the npz format."""

import numpy as np
import pandas as pd
import pytest

from conftest import compose
from speech_mnist.corpus import trim_silence
from speech_mnist.espeak import Espeak
from speech_mnist.files import load_npz, save_npz
from speech_mnist import stamps as stamps_module
from speech_mnist.stamps import assign_split, make_stamp, make_stamps, to_stamp

RATE = 8000


@pytest.mark.parametrize("feature", ["fbank", "mel", "mfcc"])
@pytest.mark.parametrize("seconds", [0.05, 0.4, 2.0])
def test_every_word_gives_a_stamp_of_the_configured_size(feature, seconds):
    stamp = compose([f"stamp={feature}", "stamp.bands=20", "stamp.frames=40"])["stamp"]
    rng = np.random.default_rng(0)
    word = rng.standard_normal(int(seconds * RATE)).astype(np.float32)
    result = make_stamp(word, RATE, stamp)
    assert result.shape == (20, 40) and result.dtype == np.float32
    assert abs(result.mean()) < 1e-4 and abs(result.std() - 1) < 1e-3


@pytest.mark.parametrize("seconds", [0.05, 0.4, 2.0, 2.6])  # 2.6: longer than the stamp's 2.0 s
def test_a_pretrained_stamp_is_sixteen_speech_embeddings_of_any_word(seconds):
    stamp = compose(["stamp=pretrained"])["stamp"]
    word = np.random.default_rng(0).standard_normal(int(seconds * RATE)).astype(np.float32)
    result = make_stamp(word, RATE, stamp)
    assert result.shape == (96, 16) and result.dtype == np.float32 and np.isfinite(result).all()
    assert np.array_equal(result, make_stamp(word, RATE, stamp))  # the same bytes every time
    assert np.allclose(result, make_stamp(word * 0.1, RATE, stamp), atol=1e-3)  # level does not matter


@pytest.mark.parametrize("overrides", [["stamp=fbank"], ["stamp=pretrained"], ["stamp.seconds=1.5", "stamp.frames=9"]])  # 1.5 s: corpus=fsdd's
def test_stamps_in_batches_are_the_stamps_of_each_word_alone(overrides, monkeypatch):
    """Batching (and the batch boundary) changes speed, never a stamp: predict and the stamps stage agree."""
    monkeypatch.setattr(stamps_module, "EMBED_BATCH", 3)
    stamp = compose(overrides)["stamp"]
    rng = np.random.default_rng(3)
    words = [rng.standard_normal(int(s * RATE)).astype(np.float32) for s in (0.1, 0.5, 0.3, 1.9, 0.7)]
    batched = make_stamps(words, RATE, stamp)
    assert batched.shape == (5, stamp["bands"], stamp["frames"]) and batched.dtype == np.float32
    assert all(np.array_equal(batched[i], make_stamp(w, RATE, stamp)) for i, w in enumerate(words))
    assert make_stamps([], RATE, stamp).shape == (0, stamp["bands"], stamp["frames"])


@pytest.mark.parametrize(("clips", "samples", "windows"), [
    (1, 16000, 3), (5, 16000, 3), (10, 16000, 3), (33, 16000, 3),  # the last call's batch differs
    (3, 16000 + 1200, 4),   # frames after the last whole window, which openwakeword leaves out
    (2, 12640, 1), (4, 32000, 16), (33, 32000, 16), (3, 24000, 9)])  # 33 of 16 windows: the default stamp's batches
def test_the_embedding_gives_openwakewords_bytes_on_one_thread_and_two(clips, samples, windows):
    """openwakeword runs the model window by window; embedding.embed runs it once over each clip."""
    from openwakeword.utils import AudioFeatures

    from speech_mnist import embedding

    pcm = (np.random.default_rng(clips).standard_normal((clips, samples)) * 3000).astype(np.int16)
    one, two = (AudioFeatures(inference_framework="onnx", ncpu=n).embed_clips(pcm, batch_size=64) for n in (1, 2))
    assert one.shape == (clips, windows, 96) and np.array_equal(one, two)
    assert embedding.embed(pcm).tobytes() == two.tobytes()
    with pytest.raises(ValueError, match="at least 790 ms"):
        embedding.embed(pcm[:, :8000])


def test_pretrained_stamps_match_words_across_voices():
    """The embedding model knows speech: each word said by one eSpeak voice is nearest to the
    same word said by another voice, with no training on either."""
    params = compose(["stamp=pretrained"])
    engine, stamp, vocab = Espeak(), params["stamp"], params["corpus"]["vocabs"]["num"]["words"]

    def stamps(voice):
        return np.stack([make_stamp(trim_silence(engine.say(w, voice, 150, 50)).astype(np.float32) / 32768,
                                    engine.sample_rate, stamp).ravel() for w in vocab])

    a, b = stamps("en-us+m3"), stamps("en+f4")
    a, b = a / np.linalg.norm(a, axis=1, keepdims=True), b / np.linalg.norm(b, axis=1, keepdims=True)
    # eSpeak's audio depends a little on what the process said before (other tests): ask for most
    # words, not all; chance would be one in ten
    assert np.mean((b @ a.T).argmax(axis=1) == np.arange(len(vocab))) >= 0.8


def test_stamp_does_not_depend_on_level():
    stamp = compose()["stamp"]
    rng = np.random.default_rng(1)
    word = (np.sin(np.linspace(0, 400, 3000)) + 0.3 * rng.standard_normal(3000)).astype(np.float32)
    assert np.allclose(make_stamp(word, RATE, stamp), make_stamp(word * 0.1, RATE, stamp), atol=1e-2)


def test_band_normalising_removes_a_fixed_colouring_of_each_band():
    rng = np.random.default_rng(2)
    feature = rng.standard_normal((32, 50))
    colouring = rng.uniform(-3, 3, size=(32, 1))  # a microphone's or a voice's tilt: the same in every frame
    assert np.allclose(to_stamp(feature + colouring, 64, "band"), to_stamp(feature, 64, "band"), atol=1e-5)
    assert not np.allclose(to_stamp(feature + colouring, 64, "stamp"), to_stamp(feature, 64, "stamp"), atol=0.1)
    with pytest.raises(ValueError, match="normalise"):
        to_stamp(feature, 64, "frame")


@pytest.mark.parametrize("frames", [3, 7, 40])
def test_a_stamp_already_of_the_right_width_is_kept_as_it_is_read(frames):
    from speech_mnist.stamps import read_at, stretch_frames

    image = np.random.default_rng(5).standard_normal((96, frames)).astype(np.float32)
    read = read_at(image, np.linspace(0, frames - 1, frames), axis=1)
    assert stretch_frames(image, frames).dtype == read.dtype == np.float64
    assert stretch_frames(image, frames).tobytes() == read.tobytes()

def test_npz_is_byte_identical_and_loads_without_pickle(tmp_path):
    arrays = {"x": np.arange(12, dtype=np.float32).reshape(3, 4), "word": np.array(["cat", "dog", "fox"])}
    save_npz(tmp_path / "a.npz", **arrays)
    save_npz(tmp_path / "b.npz", **arrays)
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    loaded = load_npz(tmp_path / "a.npz")
    assert np.array_equal(loaded["x"], arrays["x"]) and list(loaded["word"]) == ["cat", "dog", "fox"]


def test_npz_entries_are_streamed_with_the_bytes_a_whole_copy_would_give(tmp_path):
    import io
    import tracemalloc
    import zipfile

    x = np.zeros((16384, 96, 12), np.float32)  # 72 MiB, mostly zeros: quick to compress
    x[::7] = np.random.default_rng(0).standard_normal((96, 12))
    names = np.array(["num/zero_0.wav"] * len(x))
    tracemalloc.start()
    save_npz(tmp_path / "streamed.npz", x=x, path=names)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # numpy writes 16 MiB at a time; a bytes copy of the array would be 1x
    assert peak < 0.8 * x.nbytes, f"{peak / x.nbytes:.2f} times the array"
    with zipfile.ZipFile(tmp_path / "copied.npz", "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, array in sorted({"path.npy": names, "x.npy": x}.items()):
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, array, allow_pickle=False)
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type, info.external_attr = zipfile.ZIP_DEFLATED, 0o644 << 16
            archive.writestr(info, buffer.getvalue())
    assert (tmp_path / "streamed.npz").read_bytes() == (tmp_path / "copied.npz").read_bytes()

def test_npz_refuses_object_arrays(tmp_path):
    with pytest.raises(TypeError):
        save_npz(tmp_path / "a.npz", x=np.array([{"a": 1}], dtype=object))


def words_table():
    return pd.DataFrame({"speaker": [s for s in "abcdefgh" for _ in range(6)],
                         "take": [t for _ in range(8) for t in range(6)]})


def test_split_by_speaker_holds_whole_speakers_out_deterministically():
    words = words_table()
    split = {"by": "speaker", "test": None, "test_fraction": 0.25}
    first, second = assign_split(words, split), assign_split(words, split)
    assert first.equals(second)
    test_speakers = set(words.speaker[first == "test"])
    assert len(test_speakers) == 2 and not test_speakers & set(words.speaker[first == "train"])


def test_split_by_listed_takes():
    words = words_table()
    split = assign_split(words, {"by": "take", "test": [0, 1], "test_fraction": None})
    assert set(words["take"][split == "test"]) == {0, 1}
    assert set(words["take"][split == "train"]) == {2, 3, 4, 5}


def test_synthetic_voices_beside_real_speakers_never_test():
    words = words_table()
    voices = set(words.speaker.unique()[:3])
    by_take = assign_split(words, {"by": "take", "test": [0, 1], "test_fraction": None}, train_only=voices)
    assert set(by_take[words.speaker.isin(voices)]) == {"train"}
    assert set(words["take"][by_take == "test"]) == {0, 1}  # the real speakers' takes 0 and 1
    by_speaker = assign_split(words, {"by": "speaker", "test": None, "test_fraction": 0.5}, train_only=voices)
    assert set(words.speaker[by_speaker == "test"]) and not set(words.speaker[by_speaker == "test"]) & voices


def test_split_that_leaves_nothing_to_train_on_is_an_error():
    words = pd.DataFrame({"speaker": ["a", "a"], "take": [0, 1]})
    with pytest.raises(ValueError, match=r"^split.test_fraction: holding out 0.5 of 1 speaker\(s\) would leave none to train on$"):
        assign_split(words, {"by": "speaker", "test": None, "test_fraction": 0.5})
