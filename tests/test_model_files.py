"""Model files arrive by `dvc pull` from shared remotes: loading one never runs code, a file that
cannot be loaded says so, and every model saved is read back as the same model."""

import json
import zipfile

import numpy as np
import pytest

from speech_mnist import models, transfer
from speech_mnist.errors import ModelUnreadable
from speech_mnist.files import read_zip, write_zip


def fitted_svm(kind: str, scale: bool, classes: int = 3):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(30, 6)), np.arange(30) % classes
    return transfer.make_svm({"svm": kind, "C": 1.0, "seed": 0, "scale": scale}).fit(x, y), x


def code_running_svm(tmp_path, marker):
    """A skops file whose root calls numpy's test helper `runstring`, which executes a string."""
    path = tmp_path / "svm.skops"
    transfer.save_svm(fitted_svm("linear", True)[0], path)
    code = {"__class__": "str", "__module__": "builtins", "__loader__": "JsonNode",
            "content": json.dumps(f"open({str(marker)!r}, 'w').write('ran')"), "is_json": True}
    namespace = {"__class__": "dict", "__module__": "builtins", "__loader__": "DictNode", "content": {},
                 "key_types": {"__class__": "list", "__module__": "builtins", "__loader__": "ListNode", "content": []}}
    schema = {"__class__": "runstring", "__module__": "numpy.testing._private.utils",
              "__loader__": "ConstructorFromReduceNode",
              "content": {"__class__": "tuple", "__module__": "builtins", "__loader__": "TupleNode",
                          "content": [code, namespace]},
              "protocol": 2, "_skops_version": "0.16.0"}
    write_zip(path, {"schema.json": json.dumps(schema).encode()})
    return path


def test_a_crafted_svm_file_is_refused_and_runs_nothing(tmp_path):
    import skops.io

    marker = tmp_path / "marker"
    path = code_running_svm(tmp_path, marker)
    with pytest.raises(ModelUnreadable, match="numpy.testing._private.utils.runstring"):
        transfer.load_svm(path)
    assert not marker.exists()
    # the file is really dangerous: a loader that trusts every numpy type runs it
    skops.io.load(path, trusted=skops.io.get_untrusted_types(file=path))
    assert marker.read_text() == "ran"


def test_a_keras_file_with_a_lambda_layer_is_refused_and_runs_nothing(tmp_path):
    import keras

    marker = tmp_path / "marker"
    inputs = keras.Input(shape=(4,))
    writes_marker = eval(f"lambda x: x if open({str(marker)!r}, 'w').write('ran') else x")  # no closure: saved whole
    outputs = keras.layers.Lambda(writes_marker)(inputs)
    path = tmp_path / "cnn.keras"
    keras.Model(inputs, outputs).save(path)
    marker.unlink()  # building the model above ran the lambda once
    with pytest.raises(ModelUnreadable, match="cannot be loaded.*(Lambda|safe_mode)"):
        models.load_keras(path)
    assert not marker.exists()
    keras.models.load_model(path, safe_mode=False)  # the file is really dangerous without safe_mode
    assert marker.read_text() == "ran"


@pytest.mark.parametrize("content", [b"", b"not a zip at all", b"PK\x03\x04broken"])
def test_a_damaged_model_file_says_it_cannot_be_loaded(tmp_path, content):
    for name, load in (("cnn.keras", models.load_keras), ("svm.skops", transfer.load_svm)):
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ModelUnreadable, match="cannot be loaded"):
            load(tmp_path / name)


@pytest.mark.parametrize("kind", ["linear", "rbf", "poly", "sigmoid"])
@pytest.mark.parametrize("scale", [True, False])
@pytest.mark.parametrize("classes", [2, 5])
def test_every_svm_kind_loads_back_as_the_same_model(tmp_path, kind, scale, classes):
    svm, x = fitted_svm(kind, scale, classes)
    transfer.save_svm(svm, tmp_path / "svm.skops")
    loaded = transfer.load_svm(tmp_path / "svm.skops")
    assert np.array_equal(loaded.decision_function(x), svm.decision_function(x))


def test_the_svm_file_names_no_memory_address(tmp_path):
    transfer.save_svm(fitted_svm("linear", True)[0], tmp_path / "svm.skops")
    schema = read_zip(tmp_path / "svm.skops")["schema.json"].decode()
    assert max(int(n) for n in __import__("re").findall(r'"__id__": (\d+)', schema)) < 1000
    assert zipfile.ZipFile(tmp_path / "svm.skops").infolist()[0].date_time == (1980, 1, 1, 0, 0, 0)


@pytest.mark.parametrize("model", ["cnn", "time_conv", "workshop", "cnn_lstm"])
def test_every_saved_cnn_loads_back_as_the_same_model(tmp_path, model):
    from conftest import compose

    params = compose([f"model={model}"])
    models.seed_everything(0)
    cnn = models.build(params["model"], (32, 64), 10)
    x = np.random.default_rng(0).normal(size=(6, 32, 64, 1)).astype(np.float32)
    models.save_keras(cnn, tmp_path / "cnn.keras")
    loaded = models.load_keras(tmp_path / "cnn.keras")
    assert np.array_equal(loaded.predict(x, verbose=0), cnn.predict(x, verbose=0))


def test_the_rewrites_fail_loudly_when_the_format_moves():
    from speech_mnist.files import FormatChanged, renumber_object_ids

    assert renumber_object_ids('{"__id__": 140338054376496}', ("__id__",))[0] == '{"__id__": 1}'
    with pytest.raises(FormatChanged, match="__id__"):
        renumber_object_ids('{"object_id": 140338054376496}', ("__id__",))


def test_a_streamed_array_is_saved_as_the_bytes_of_the_whole_array(tmp_path):
    from speech_mnist.files import Streamed, load_npz, save_npz

    array = np.arange(7 * 3 * 2, dtype=np.float32).reshape(7, 3, 2)
    save_npz(tmp_path / "whole.npz", a=array, b=np.arange(3))
    chunks = Streamed(np.float32, array.shape, (array[i:i + 3] for i in range(0, 7, 3)))
    save_npz(tmp_path / "streamed.npz", a=chunks, b=np.arange(3))
    assert (tmp_path / "streamed.npz").read_bytes() == (tmp_path / "whole.npz").read_bytes()
    assert np.array_equal(load_npz(tmp_path / "streamed.npz")["a"], array)
    with pytest.raises(ValueError, match="the chunks made 6 rows of an array of 7"):
        save_npz(tmp_path / "short.npz", a=Streamed(np.float32, array.shape, iter([array[:6]])))


def test_a_stored_array_is_read_in_chunks_of_rows_as_saved(tmp_path):
    from speech_mnist.files import StoredArray, save_npz

    array = np.random.default_rng(0).standard_normal((10, 4, 3)).astype(np.float32)
    save_npz(tmp_path / "a.npz", x=array, y=np.arange(10))
    stored = StoredArray(tmp_path / "a.npz", "x")
    assert stored.shape == (10, 4, 3) and stored.dtype == np.float32 and len(stored) == 10
    chunks = list(stored.chunks(4))
    assert [len(c) for c in chunks] == [4, 4, 2] and np.array_equal(np.concatenate(chunks), array)
