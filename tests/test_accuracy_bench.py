"""bench/accuracy.py's reading of -S overrides."""

import accuracy  # bench/, on the path through conftest


def test_a_chosen_draw_of_voices_is_seen_however_the_override_is_spelled():
    """-S corpus.voices.seed=N runs that one draw instead of the three: `+` and `++` spell it too."""
    for spelled in ("corpus.voices.seed=5", "++corpus.voices.seed=5", "+corpus.voices.seed=5"):
        assert "corpus.voices.seed" in accuracy.override_keys(["transfer=logits", spelled])
    assert "corpus.voices.seed" not in accuracy.override_keys(["corpus.seed=5", "corpus.voices.count=16"])


def test_transfer_validation_learns_and_tests_on_training_words_only(tmp_path):
    """--transfer-validation chooses settings: the held-out words must not move its figure."""
    import numpy as np
    import yaml

    from conftest import compose
    from speech_mnist.files import save_npz

    params = compose()
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    features = tmp_path / params["paths"]["features"]
    features.mkdir(parents=True)
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), 20)
    split = np.where(np.arange(80) % 4 == 0, "test", "train")
    x = np.eye(4)[y] * 5 + rng.standard_normal((80, 4))

    def figure(test_words: np.ndarray) -> float:
        stamp = np.where((split == "test")[:, None], test_words, x)
        save_npz(features / f"{params['corpus']['transfer']}.npz", y=y, split=split, vocab=np.array(list("abcd")),
                 **{params["transfer"]["features"]: stamp.astype(np.float32)})
        return accuracy.transfer_validation(tmp_path)[1]

    clean = figure(x)
    assert clean > 0.9 and figure(rng.standard_normal((80, 4)) * 100) == clean
