"""conf/ is the source of truth; params.yaml is what it composes to."""

import re

import pytest
import yaml
from hydra.errors import MissingConfigException

from conftest import REPO, TINY, compose


def test_committed_params_match_what_conf_composes_to():
    committed = yaml.safe_load((REPO / "params.yaml").read_text())
    assert committed == compose(), "params.yaml is stale: run `speech-mnist params` and commit it"


def test_group_option_and_value_overrides_compose():
    params = compose(["stamp=mfcc", "segment.min_gap_s=0.3", "corpus=fsdd"])
    assert params["stamp"]["feature"] == "mfcc"
    assert params["segment"]["min_gap_s"] == 0.3
    assert params["corpus"]["kind"] == "clips"
    assert set(params["corpus"]["vocabs"]) == {"num", "commands"}


def leaves(tree: dict, prefix: str = "") -> dict:
    """{"train.augment.reverb": 0.5, ...}: every value of a nested dict, by its dotted key."""
    found = {}
    for key, value in tree.items():
        found |= leaves(value, f"{prefix}{key}.") if isinstance(value, dict) else {f"{prefix}{key}": value}
    return found


TUNINGS = sorted((REPO / "conf" / "tuning").glob("*.yaml")) + sorted((REPO / "conf" / "tuning" / "preset").glob("*.yaml"))


@pytest.mark.parametrize("tuning", TUNINGS, ids=lambda p: p.relative_to(REPO / "conf" / "tuning").with_suffix("").as_posix())
def test_a_tuning_comes_with_its_choices_and_overrides_still_win(tuning):
    """conf/tuning/<corpus>_<stamp>.yaml comes with that corpus and stamp; conf/tuning/preset/
    <corpus>_<stamp>_<preset>.yaml with those and that preset. Each changes only its own keys."""
    group = "tuning/preset" if tuning.parent.name == "preset" else "tuning"
    chosen = [f"{name}={option}" for name, option in zip(["corpus", "stamp", "preset"], tuning.stem.split("_"))]
    tuned, untuned = leaves(compose(chosen)), leaves(compose([*chosen, f"~{group}"]))
    wanted = leaves(yaml.safe_load(tuning.read_text()))
    assert {key: tuned[key] for key in wanted} == wanted
    assert {key for key in tuned if tuned[key] != untuned.get(key)} <= set(wanted)
    key = next(key for key, value in wanted.items() if isinstance(value, float))
    assert leaves(compose([*chosen, f"{key}=0.25"]))[key] == 0.25, "a -S value must beat the tuning"


@pytest.mark.parametrize("others", [["corpus=fsdd"], ["corpus=fsdd", "preset=fbank"], ["preset=unknown"],
                                    ["corpus=fsdd", "stamp=mfcc", "preset=unknown"], ["corpus=folder", "preset=unknown"]])
def test_other_choices_get_none_of_a_presets_tuning(others):
    assert compose(others) == compose([*others, "~tuning/preset"])


def test_rejection_on_fsdd_has_its_own_cnn_threshold():
    """The preset's threshold suits the synthetic default's CNN; trained on FSDD, the CNN scores
    everything higher (conf/tuning/preset/fsdd_pretrained_unknown.yaml)."""
    threshold = lambda overrides: compose([*overrides, "preset=unknown"])["reject"]["cnn"]  # noqa: E731
    assert threshold(["corpus=fsdd"]) > threshold([])


def test_rejection_on_fsdd_learns_from_many_more_other_words():
    """corpus=fsdd's CNN learns "unknown" from far more other words than the preset's (fewer let more
    commands through); the synthetic corpus keeps the preset's: more made its CNN take people's digits
    for unknown (conf/tuning/preset/fsdd_pretrained_unknown.yaml)."""
    words = lambda overrides: compose([*overrides, "preset=unknown"])["corpus"]["vocabs"]["other"]["words"]  # noqa: E731
    assert set(words([])) < set(words(["corpus=fsdd"]))
    assert len(set(words(["corpus=fsdd"]))) == len(words(["corpus=fsdd"])) > 5 * len(words([]))


@pytest.mark.parametrize("other", ["preset=fbank", "stamp=mfcc"])
def test_another_stamp_gets_none_of_the_corpus_tuning(other):
    assert compose(["corpus=fsdd", other]) == compose(["corpus=fsdd", other, "~tuning"])
    assert compose(["corpus=fsdd"]) != compose(["corpus=fsdd", "~tuning"])


def test_unknown_group_option_is_an_error():
    with pytest.raises(MissingConfigException):
        compose(["stamp=huge"])


@pytest.mark.parametrize("corpus", ["synthetic", "fsdd", "folder"])
def test_every_corpus_names_its_digit_and_transfer_vocabs(corpus):
    params = compose([f"corpus={corpus}"])["corpus"]
    assert params["digits"] in params["vocabs"] and params["transfer"] in params["vocabs"]
    assert params["digits"] != params["transfer"]
    for spec in params["vocabs"].values():
        assert spec["split"]["by"] in ("speaker", "take")


@pytest.mark.parametrize("corpus, features", [("synthetic", "stamp"), ("fsdd", "conv"), ("folder", "conv")])
def test_each_corpus_has_its_transfer_features_and_a_chosen_transfer_wins(corpus, features):
    """A CNN of eSpeak's voices knows new words less than the pretrained stamp; one of real speech
    more (conf/transfer/<corpus>.yaml). Whatever the corpus, transfer=... and presets still choose."""
    assert compose([f"corpus={corpus}"])["transfer"]["features"] == features
    assert compose([f"corpus={corpus}", "transfer=logits"])["transfer"] == compose(["transfer=logits"])["transfer"]
    assert compose([f"corpus={corpus}", "preset=fbank"])["transfer"]["features"] == "logits"


def test_the_cnn_is_an_average_of_networks_and_more_of_them_for_real_speech():
    """Every corpus averages networks (people the CNN never heard); corpus=fsdd's tuning more of them
    (unseen speakers, unknown words), and the tests' tiny config one, to stay fast."""
    default = compose()["train"]["members"]
    assert default > 1 and compose(["corpus=fsdd", "~tuning"])["train"]["members"] == default
    assert compose(["corpus=fsdd"])["train"]["members"] > default
    assert compose(TINY)["train"]["members"] == 1


def test_an_unknown_class_is_trained_without_the_tunings_louder_noise():
    """corpus=fsdd trains on louder room noise (robust in noisy rooms), but with an "unknown" class
    that noise lets other words pass as digits: preset=unknown keeps the default's."""
    noise = lambda overrides: compose(overrides)["train"]["augment"]["noise_snr_db"]  # noqa: E731
    assert noise(["corpus=fsdd"])[0] < noise([])[0]
    assert noise(["corpus=fsdd", "preset=unknown"]) == noise([]) == noise(["preset=unknown"])


def write_params(folder, params):
    (folder / "params.yaml").write_text(yaml.safe_dump(params))
    return folder / "params.yaml"


@pytest.mark.parametrize("corpus", ["synthetic", "fsdd", "folder"])
@pytest.mark.parametrize("choice", ["", "preset=fbank", "preset=unknown", "stamp=mel,model=cnn", "stamp=mfcc,model=cnn",
                                    "model=workshop", "model=cnn_lstm", "transfer=logits", "preset=time_conv"])
def test_every_choice_composes_to_params_that_pass_the_check(tmp_path, corpus, choice):
    from speech_mnist.config import load_params

    params = compose([f"corpus={corpus}", *(choice.split(",") if choice else [])])
    assert load_params(write_params(tmp_path, params)) == params


def test_params_of_the_wrong_shape_are_named_not_a_traceback(tmp_path):
    from speech_mnist.config import load_params
    from speech_mnist.errors import ConfigError, UserError

    assert issubclass(ConfigError, UserError)  # shown in one line by the CLI and the stages
    for group, value in (("audio", "8000"), ("corpus", {**compose()["corpus"], "vocabs": None})):
        params = {**compose(), group: value}
        with pytest.raises(ConfigError):
            load_params(write_params(tmp_path, params))


@pytest.mark.parametrize("key, value", [
    ("train.epochs", 0), ("train.epochs", "ten"), ("train.epochs", None), ("train.batch_size", 0),
    ("train.members", 2.5), ("stamp.frames", 0), ("stamp.bands", -3), ("segment.pad_s", -1),
    ("segment.hop_ms", 0), ("segment.frame_ms", 0), ("segment.band_hz", 150), ("segment.band_hz", [3000, 100]),
    ("audio.sample_rate", 0), ("transfer.shots", 0), ("speakers.curve_shots", [0]), ("speakers.curve_shots", []),
    ("transfer.curve_repeats", 0), ("speakers.curve_repeats", -1), ("reject.cnn", -0.1),
    ("reject.cnn", "abc"), ("corpus.transfer", "foo"), ("corpus.digits", None), ("corpus.unknown", "others"),
])
def test_a_number_no_stage_can_work_with_is_named_when_params_are_read(tmp_path, key, value):
    """`dvc exp run -S train.epochs=0` writes params.yaml without composing it: every stage and
    predict read it through load_params, which names the parameter before anything runs."""
    from speech_mnist.config import load_params
    from speech_mnist.errors import ConfigError

    params = compose()
    group, name = key.split(".")
    params[group][name] = value
    with pytest.raises(ConfigError, match=rf"^{re.escape(key)} must be .*, not {re.escape(repr(value))}$"):
        load_params(write_params(tmp_path, params))


def test_a_vocab_with_no_takes_is_named(tmp_path):
    from speech_mnist.config import load_params
    from speech_mnist.errors import ConfigError

    params = compose()
    params["corpus"]["vocabs"]["num"]["takes"] = 0
    with pytest.raises(ConfigError, match="corpus.vocabs.num.takes must be a whole number, 1 or more, not 0"):
        load_params(write_params(tmp_path, params))


@pytest.mark.parametrize("make", [lambda p: p.mkdir(), lambda p: p.write_bytes(b"RIFF\xff\xfe\x00\x81 not text")],
                         ids=["a folder", "an audio file"])
def test_params_that_are_not_a_params_file_are_refused_in_one_line(tmp_path, make):
    from speech_mnist.config import ParamsMissing, load_params

    make(tmp_path / "x")
    with pytest.raises(ParamsMissing, match=r"x cannot be read as params \(.+\): name a params.yaml"):
        load_params(tmp_path / "x")


def test_a_spectrogram_feature_chosen_without_its_group_is_named(tmp_path):
    """stamp.feature=fbank on the default (pretrained) stamp: no n_fft, no hop_ms to compute it with;
    and the other way round, no seconds of audio to embed."""
    from speech_mnist.config import load_params
    from speech_mnist.errors import ConfigError

    params = compose()
    params["stamp"]["feature"] = "fbank"
    with pytest.raises(ConfigError, match=r"stamp.feature=fbank needs stamp.n_fft and stamp.hop_ms: .* stamp=fbank"):
        load_params(write_params(tmp_path, params))
    params = compose(["stamp=fbank"])
    params["stamp"]["feature"] = "pretrained"
    with pytest.raises(ConfigError, match=r"stamp.feature=pretrained needs stamp.seconds: .* stamp=pretrained"):
        load_params(write_params(tmp_path, params))



@pytest.mark.parametrize("stamp", ["fbank", "mel", "mfcc"])
def test_the_mixed_model_over_a_spectrogram_stamp_is_refused_with_the_fix(stamp):
    from speech_mnist.config import check_params
    from speech_mnist.errors import ConfigError

    with pytest.raises(ConfigError, match=f"model=mixed reads the speech-embedding stamp .* stamp.feature={stamp}: "
                                          "add -S model=cnn"):
        check_params(compose([f"stamp={stamp}"]))
    check_params(compose([f"stamp={stamp}", "model=cnn"]))
