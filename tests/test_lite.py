"""The CNN as `speech-mnist predict` runs it: its LiteRT file gives Keras's outputs, is the same
bytes whenever the weights are, refuses what is not a model, and needs no TensorFlow."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import compose, whole
from speech_mnist import models
from speech_mnist.errors import ModelMismatch, ModelUnreadable
from speech_mnist.lite import BATCH, LiteCnn
from speech_mnist.recognise import Recogniser
from speech_mnist.stamps import save_stamp_settings

SHAPE = (96, 3)  # the speech-embedding stamp of 1.0 s


@pytest.mark.parametrize("option", ["workshop", "cnn", "time_conv", "cnn_lstm"])
def test_the_lite_file_gives_every_output_of_the_keras_model(tmp_path, option):
    models.seed_everything(0)
    model = models.build(compose([f"model={option}"])["model"], SHAPE, 7)
    stamps = np.random.default_rng(1).standard_normal((BATCH + 44, *SHAPE, 1)).astype(np.float32)
    models.save_lite(model, tmp_path / "cnn.tflite")
    lite = LiteCnn(tmp_path / "cnn.tflite").outputs(stamps)
    keras = {name: whole(array) for name, array in models.outputs(model, stamps).items()}
    assert sorted(lite) == sorted(keras) == ["conv", "embedding", "logits", "probabilities", "stamp"]
    for name in keras:
        assert lite[name].shape == keras[name].shape and lite[name].dtype == np.float32
        assert np.allclose(lite[name], keras[name], atol=1e-4), name
    empty = LiteCnn(tmp_path / "cnn.tflite").outputs(stamps[:0])
    assert {k: v.shape for k, v in empty.items()} == {k: (0, *v.shape[1:]) for k, v in keras.items()}


def test_the_same_weights_give_the_same_lite_bytes(tmp_path):
    for name in ("a", "b"):
        models.seed_everything(0)
        models.save_lite(models.build(compose()["model"], SHAPE, 10), tmp_path / f"{name}.tflite")
    assert (tmp_path / "a.tflite").read_bytes() == (tmp_path / "b.tflite").read_bytes()


def test_a_file_that_is_not_a_lite_model_says_it_cannot_be_loaded(tmp_path):
    models.seed_everything(0)
    models.save_lite(models.build(compose()["model"], SHAPE, 10), tmp_path / "good.tflite")
    good = (tmp_path / "good.tflite").read_bytes()
    for content in (b"", b"<html>404</html>", b"PK\x03\x04 a .keras zip", good[:len(good) // 3]):
        (tmp_path / "cnn.tflite").write_bytes(content)
        with pytest.raises(ModelUnreadable, match="cnn.tflite cannot be loaded"):
            LiteCnn(tmp_path / "cnn.tflite")


def test_stamps_of_another_shape_are_refused_with_both_shapes(tmp_path):
    """params.yaml composed with another stamp, and no `dvc repro` since."""
    models.seed_everything(0)
    models.save_lite(models.build(compose()["model"], SHAPE, 10), tmp_path / "cnn.tflite")
    lite = LiteCnn(tmp_path / "cnn.tflite")
    assert lite.outputs(np.zeros((2, *SHAPE, 1), np.float32))["logits"].shape == (2, 10)
    with pytest.raises(ModelMismatch, match=r"cnn.tflite was trained on 96x3 stamps.* make 32x64: run `dvc repro`"):
        lite.outputs(np.zeros((2, 32, 64, 1), np.float32))


@pytest.mark.parametrize("change, named", [
    (["stamp=mel"], "stamp.feature fbank -> mel"),  # the same 32x64 shape: the shape check cannot tell
    (["stamp.normalise=stamp"], "stamp.normalise band -> stamp"),
    (["audio.sample_rate=16000"], "audio.sample_rate 8000 -> 16000"),
    (["segment.pad_s=0.05"], "segment.pad_s 0.15 -> 0.05"),  # the margin a stamp stretches with its word
])
def test_predict_refuses_stamp_settings_the_cnn_was_not_trained_on(tmp_path, change, named):
    """params.yaml composed with other stamp settings (`speech-mnist params stamp=mel`) and no `dvc repro`."""
    trained = compose(["stamp=fbank", "model=cnn"])
    models.seed_everything(0)
    models.save_lite(models.build(trained["model"], (32, 64), 10), tmp_path / "models" / "cnn.tflite")
    save_stamp_settings(tmp_path / "models" / "cnn_stamp_settings.json", trained)
    assert Recogniser(trained, root=tmp_path).cnn.stamp_shape == (32, 64, 1)
    with pytest.raises(ModelMismatch, match=rf"models/cnn.tflite was trained on other stamps .*\({named}\): "
                                            r"run `dvc repro`"):
        Recogniser(compose(["stamp=fbank", "model=cnn", *change]), root=tmp_path)
    for damaged, says in (("{not json", "cannot be read"), ("null", "holds no stamp settings")):
        (tmp_path / "models" / "cnn_stamp_settings.json").write_text(damaged)
        with pytest.raises(ModelUnreadable, match=f"cnn_stamp_settings.json {says}"):
            Recogniser(trained, root=tmp_path)


def test_recognising_words_imports_no_tensorflow(tmp_path):
    """predict's start-up: neither TensorFlow nor the libraries only the stages need."""
    models.seed_everything(0)
    stamp = compose()["stamp"]  # the default's shape: predict refuses a CNN of other stamps
    models.save_lite(models.build(compose()["model"], (stamp["bands"], stamp["frames"]), 10), tmp_path / "models" / "cnn.tflite")
    save_stamp_settings(tmp_path / "models" / "cnn_stamp_settings.json", compose())
    tone = np.sin(np.arange(8000) / 3) * np.r_[np.zeros(2000), np.hanning(4000), np.zeros(2000)]
    sf.write(tmp_path / "tone.wav", tone.astype(np.float32), 8000)
    script = f"""
import sys
from pathlib import Path
from speech_mnist.recognise import Recogniser
from conftest import compose
root = Path({str(tmp_path)!r})
heard = list(Recogniser(compose(), root=root).recognise_all([root / "tone.wav"] * 3))  # cut by a worker too
assert len(heard) == 3 and all(h.words == heard[0][1].words for _, h in heard), heard
print(sorted(m for m in ("tensorflow", "keras", "openwakeword", "sklearn", "pandas") if m in sys.modules))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                            cwd=Path(__file__).parent)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
