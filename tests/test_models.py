"""Models from config, their features for transfer, and byte-reproducible saving."""

import numpy as np
import pytest

from conftest import compose, whole
from speech_mnist import models
from speech_mnist.files import StoredArray, load_npz, save_npz

SHAPE = (32, 64)


def stamps(n=40, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 4
    x = rng.standard_normal((n, *SHAPE, 1)).astype(np.float32) + y[:, None, None, None]
    return x, y


@pytest.mark.parametrize("option", ["workshop", "cnn", "time_conv", "cnn_lstm"])
def test_every_model_option_maps_stamps_to_class_probabilities(option):
    model = models.build(compose([f"model={option}"])["model"], SHAPE, 7)
    probabilities = model.predict(stamps(3)[0], verbose=0)
    assert probabilities.shape == (3, 7)
    assert np.allclose(probabilities.sum(axis=1), 1, atol=1e-5)


def test_seed_model_is_the_seed_notebooks_net():
    model = models.build(compose(["model=workshop"])["model"], SHAPE, 10)
    convs = [l for l in model.layers if l.__class__.__name__ == "Conv2D"]
    assert [(c.filters, c.kernel_size) for c in convs] == [(16, (5, 5)), (16, (5, 5))]
    assert model.get_layer(models.EMBEDDING).units == 32


def test_time_conv_convolves_along_time_with_every_band_of_a_frame_as_its_channels():
    model = models.build(compose(["model=time_conv"])["model"], SHAPE, 10)
    convs = [layer for layer in model.layers if "Conv" in layer.__class__.__name__]
    assert [layer.__class__.__name__ for layer in convs] == ["Conv1D", "Conv1D"]
    assert convs[0].kernel.shape == (3, SHAPE[0], 96)  # 3 frames, all 32 bands, 96 filters
    # two poolings halve the 64 frames twice; the conv features keep the 16 frames left
    assert models.feature_model(model, "conv").output.shape[1:] == (16 * 96,)


def test_a_mixed_models_parts_read_the_stamp_their_own_way():
    """model=mixed (the default): each member is a time_conv network over the whole stamp and
    model=cnn's 2-D network over only its middle 3 frames (a shorter context than the stamp holds)."""
    parts = models.parts(compose()["model"])
    assert [part["kind"] for part in parts] == ["time_conv", "cnn"]
    assert models.parts(compose(["model=cnn"])["model"]) == [compose(["model=cnn"])["model"]]
    long_view, middle = (models.build(part, SHAPE, 4) for part in parts)
    x = stamps(3)[0]
    edges = x.copy()
    edges[:, :, :30] += 5  # every frame but the middle ones: 30, 31, 32 of 64
    edges[:, :, 33:] -= 5
    assert np.array_equal(middle.predict(x, verbose=0), middle.predict(edges, verbose=0))
    assert not np.allclose(long_view.predict(x, verbose=0), long_view.predict(edges, verbose=0))
    whole = models.build(compose()["model"], SHAPE, 4)  # untrained: the average of its parts, as train_cnn makes it
    net = {name: models.feature_model(part, "conv").output.shape[1] for name, part in zip("ab", (long_view, middle))}
    assert whole.output["conv"].shape[1] == net["a"] + net["b"] and whole.output["probabilities"].shape[1] == 4


# three 2x2 poolings leave (32/8) x (64/8) cells of 64 channels
@pytest.mark.parametrize("features, width", [("logits", 4), ("embedding", 64), ("conv", 4 * 8 * 64),
                                             ("stamp", SHAPE[0] * SHAPE[1])])
def test_feature_model_cuts_at_logits_embedding_or_conv_or_keeps_only_the_stamp(features, width):
    model = models.build(compose(["model=cnn"])["model"], SHAPE, 4)
    x = stamps(2)[0]
    found = models.feature_model(model, features).predict(x, verbose=0)
    assert found.shape == (2, width)
    if features == "stamp":  # the input itself, in the order numpy flattens it
        assert np.array_equal(found, x.reshape(2, -1).astype(np.float32))
    with pytest.raises(ValueError):
        models.feature_model(model, "pixels")


def test_a_features_file_holds_every_output_of_the_network():
    from speech_mnist.stamps import FEATURES

    assert sorted(models.outputs(models.build(compose()["model"], SHAPE, 4), stamps(2)[0])) == sorted(FEATURES)


def every_output(model, x) -> dict:
    """models.outputs with the streamed conv maps made whole."""
    return {name: whole(array) for name, array in models.outputs(model, x).items()}


def test_outputs_in_chunks_are_the_bytes_of_one_call_and_the_conv_maps_are_never_whole(tmp_path):
    from speech_mnist.files import Streamed
    from speech_mnist.stamps import CONV

    model = models.build(compose(["model=cnn"])["model"], (16, 8), 4)  # small stamps: quick
    x = np.random.default_rng(0).standard_normal((1000, 16, 8, 1)).astype(np.float32)
    one_call = {name: whole(array) for name, array in models.outputs(model, x, chunk=len(x)).items()}
    chunked = models.outputs(model, x, chunk=256)
    assert isinstance(chunked[CONV], Streamed) and chunked[CONV].shape == one_call[CONV].shape
    assert [len(maps) for maps in chunked[CONV].chunks] == [256, 256, 256, 232]  # made a chunk at a time
    save_npz(tmp_path / "features.npz", **models.outputs(model, x, chunk=256))
    saved = load_npz(tmp_path / "features.npz")
    assert sorted(saved) == sorted(one_call) and all(saved[k].tobytes() == one_call[k].tobytes() for k in one_call)
    save_npz(tmp_path / "stamps.npz", x=x[..., 0])  # as the stamps stage stores them: no channel axis
    save_npz(tmp_path / "from_file.npz", **models.outputs(model, StoredArray(tmp_path / "stamps.npz", "x"), chunk=256))
    assert (tmp_path / "from_file.npz").read_bytes() == (tmp_path / "features.npz").read_bytes()


def trained(params):
    from speech_mnist.train import fit

    models.seed_everything(3)
    model = models.build(params["model"], SHAPE, 4)
    x, y = stamps()
    fit(model, x, y, x[:8], y[:8], dict(params["train"], epochs=2, batch_size=8))
    return model


def test_same_seed_same_bytes_and_the_file_loads_back(tmp_path):
    params = compose(["model=cnn"])  # one network: train_cnn fits each part of a mixed model alone
    first, second = trained(params), trained(params)
    models.save_keras(first, tmp_path / "a.keras")
    models.save_keras(second, tmp_path / "b.keras")
    assert (tmp_path / "a.keras").read_bytes() == (tmp_path / "b.keras").read_bytes()
    loaded = models.load_keras(tmp_path / "a.keras")
    x = stamps(4, seed=9)[0]
    assert np.allclose(loaded.predict(x, verbose=0), first.predict(x, verbose=0), atol=1e-6)


def test_another_seed_gives_other_weights(tmp_path):
    params = compose(["model=cnn"])  # one network: train_cnn fits each part of a mixed model alone
    models.save_keras(trained(params), tmp_path / "a.keras")
    params["train"]["seed"] = 1
    models.seed_everything(1)
    other = models.build(params["model"], SHAPE, 4)
    models.save_keras(other, tmp_path / "b.keras")
    assert (tmp_path / "a.keras").read_bytes() != (tmp_path / "b.keras").read_bytes()


def members(count: int, classes: int = 4, params: dict | None = None) -> list:
    """`count` untrained networks from seeds 0, 1, ..., as train_cnn builds an average's members."""
    networks = []
    for seed in range(count):
        models.seed_everything(seed)
        networks.append(models.build(params or compose(["model=cnn"])["model"], SHAPE, classes))
    return networks


def test_an_average_of_networks_averages_their_probabilities_and_keeps_each_ones_features():
    networks = members(2)
    average = models.average(networks)
    x = stamps(5, seed=4)[0]
    alone = [every_output(net, x) for net in networks]
    together = every_output(average, x)
    assert sorted(together) == ["conv", "embedding", "logits", "probabilities", "stamp"]
    assert np.array_equal(together["stamp"], x.reshape(len(x), -1).astype(np.float32))  # one stamp, however many members
    assert np.allclose(together["probabilities"], (alone[0]["probabilities"] + alone[1]["probabilities"]) / 2, atol=1e-6)
    assert np.allclose(together["logits"], (alone[0]["logits"] + alone[1]["logits"]) / 2, atol=1e-5)
    for kind in ("embedding", "conv"):  # side by side: a transfer SVM reads what every member heard
        assert np.allclose(together[kind], np.hstack([alone[0][kind], alone[1][kind]]), atol=1e-5)
        assert models.feature_model(average, kind).predict(x, verbose=0).shape == together[kind].shape
    assert not np.allclose(alone[0]["probabilities"], alone[1]["probabilities"])  # the seeds made two networks
    assert models.average(networks[:1]) is networks[0]  # one network: the very same, so its files are too


@pytest.mark.parametrize("model", ["cnn", "time_conv", "cnn_lstm"])
def test_an_average_of_networks_saves_loads_back_safely_and_runs_without_tensorflow(tmp_path, model):
    from speech_mnist.lite import LiteCnn

    params = compose([f"model={model}"])["model"]
    for name in ("a", "b"):  # as a rebuild makes it anew: the same bytes
        average = models.average(members(2, params=params))
        models.save_keras(average, tmp_path / f"{name}.keras")
        models.save_lite(average, tmp_path / f"{name}.tflite")
    for suffix in (".keras", ".tflite"):
        assert (tmp_path / f"a{suffix}").read_bytes() == (tmp_path / f"b{suffix}").read_bytes()
    loaded = models.load_keras(tmp_path / "a.keras")  # safe_mode: averaging and joining are Keras's own layers
    x = stamps(6, seed=2)[0]
    expected = every_output(average, x)
    assert all(np.array_equal(every_output(loaded, x)[k], expected[k]) for k in expected)
    lite = LiteCnn(tmp_path / "a.tflite").outputs(x)
    assert all(np.allclose(lite[k], expected[k], atol=1e-4) for k in expected)


@pytest.mark.parametrize("count", ["0", "-1", "2.5", "true"])
def test_train_cnn_stops_in_one_line_at_a_number_of_members_that_is_not_one_or_more_networks(tmp_path, count):
    from conftest import TINY, make_workspace, run, stage_command

    result = run(stage_command("train_cnn"), make_workspace(tmp_path / "ws", [*TINY, f"train.members={count}"]), check=False)
    assert result.returncode == 2 and result.stderr.startswith(
        "stage train_cnn: train.members must be a whole number of networks, 1 or more, not ") and result.stderr.count("\n") == 1
    with pytest.raises(ValueError, match="at least one network"):
        models.average([])


def test_a_cnn_without_conv_blocks_is_refused_with_the_reason():
    """Every CNN's features include its last conv block's maps: without one, say so before training."""
    with pytest.raises(ValueError, match="model.blocks must hold at least one conv block"):
        models.build(compose(["model=cnn", "model.blocks=[]"])["model"], SHAPE, 4)


def test_after_training_nothing_holds_the_training_words():
    """Keras keeps a fitted model's datasets: if they kept the words, every member of the CNN would
    hold its own training set until the stage ends (train_cnn's memory at 100k words)."""
    import gc
    import weakref

    from speech_mnist.train import fit

    params = compose(["model=cnn"])
    models.seed_everything(3)
    model = models.build(params["model"], SHAPE, 4)
    x, y = stamps()
    x_test = x[:8].copy()
    words, held_out = weakref.ref(x), weakref.ref(x_test)
    fit(model, x, y, x_test, y[:8], dict(params["train"], epochs=1, batch_size=8))
    del x, y, x_test
    gc.collect()
    assert words() is None and held_out() is None and model.predict(stamps(2)[0], verbose=0).shape == (2, 4)
