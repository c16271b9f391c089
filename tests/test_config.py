"""conf/ is the source of truth; params.yaml is what it composes to."""

import pytest
import yaml
from hydra.errors import MissingConfigException

from conftest import REPO, compose


def test_committed_params_match_what_conf_composes_to():
    committed = yaml.safe_load((REPO / "params.yaml").read_text())
    assert committed == compose(), "params.yaml is stale: run `speech-mnist params` and commit it"


def test_group_option_and_value_overrides_compose():
    params = compose(["stamp=mfcc", "segment.min_gap_s=0.3", "corpus=fsdd"])
    assert params["stamp"]["feature"] == "mfcc"
    assert params["segment"]["min_gap_s"] == 0.3
    assert params["corpus"]["kind"] == "clips"
    assert set(params["corpus"]["vocabs"]) == {"num", "commands"}


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
