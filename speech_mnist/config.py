"""Where parameters come from: conf/ (Hydra) is composed into params.yaml, which stages read."""

import math
import os
from pathlib import Path
from types import SimpleNamespace

import yaml

from .errors import ConfigError, UserError, first_line

PARAMS_FILE = "params.yaml"
PROJECT_MARKER = "dvc.yaml"
REQUIRED_GROUPS = ("paths", "corpus", "audio", "segment", "stamp")


class ProjectNotFound(UserError):
    """Not inside a speech-mnist project, and none was named."""


class ParamsMissing(UserError, FileNotFoundError):
    """params.yaml has not been composed yet."""


def find_project(start: str | os.PathLike | None = None) -> Path:
    """The project folder: the nearest folder at or above `start` (default: here) holding dvc.yaml."""
    start = Path(start or os.getcwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / PROJECT_MARKER).is_file():
            return folder
    raise ProjectNotFound(f"no {PROJECT_MARKER} in {start} or any folder above it: "
                          "run inside the speech-mnist project, or name it with --project DIR")


def repo_root() -> Path:
    """The real repository, even inside a queued experiment's temporary copy (DVC sets DVC_ROOT)."""
    return Path(os.environ.get("DVC_ROOT") or os.getcwd()).resolve()


def resolve_path(path: str | os.PathLike) -> Path:
    """A config path: absolute as given, relative ones from the repository root.

    Corpus sources such as ../shared/corpora sit outside the repo, so a path relative to the
    working directory would break in a queued experiment, which runs in .dvc/tmp/exps/....
    """
    path = Path(os.path.expanduser(path))
    return path if path.is_absolute() else (repo_root() / path).resolve()


def load_params(path: str | os.PathLike = PARAMS_FILE) -> dict:
    """The composed parameters of the current run (what `dvc exp run -S …` wrote)."""
    path = Path(path)
    if not path.exists():
        raise ParamsMissing(f"{path} not found: run `speech-mnist params` (or `dvc exp run`) to compose it from conf/")
    try:
        params = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError) as error:  # a folder, an audio file, no permission
        raise ParamsMissing(f"{path} cannot be read as params ({first_line(error)}): name a params.yaml "
                            "that `speech-mnist params` wrote") from None
    except yaml.YAMLError as error:
        raise ParamsMissing(f"{path} is not valid YAML ({str(error).splitlines()[0]}): "
                            "recompose it with `speech-mnist params`") from None
    missing = [group for group in REQUIRED_GROUPS if group not in (params if isinstance(params, dict) else {})]
    if missing:
        raise ParamsMissing(f"{path} has no {', '.join(missing)}: it was composed from an older conf/; "
                            "recompose it with `speech-mnist params`")
    check_params(params)
    return params


def whole_at_least_one(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def finite_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def whole_numbers(value) -> bool:
    return isinstance(value, list) and len(value) > 0 and all(map(whole_at_least_one, value))


# The numbers no stage can work with outside these bounds, checked whenever params.yaml is read
# or written: `dvc exp run -S train.epochs=0` then stops at once and names it, not deep in Keras.
NUMBER_BOUNDS = {
    "audio.sample_rate": ("a whole number of samples a second, 1 or more", whole_at_least_one),
    "segment.frame_ms": ("a number of milliseconds above 0", lambda v: finite_number(v) and v > 0),
    "segment.hop_ms": ("a number of milliseconds above 0", lambda v: finite_number(v) and v > 0),
    "segment.pad_s": ("a number of seconds, 0 or more", lambda v: finite_number(v) and v >= 0),
    "segment.band_hz": ("[low, high] in Hz, 0 <= low < high",  # (high is cut at half the sample rate)
                        lambda v: isinstance(v, list) and len(v) == 2 and all(map(finite_number, v)) and 0 <= v[0] < v[1]),
    "stamp.bands": ("a whole number, 1 or more", whole_at_least_one),
    "stamp.frames": ("a whole number, 1 or more", whole_at_least_one),
    "train.members": ("a whole number of networks, 1 or more", whole_at_least_one),
    "train.epochs": ("a whole number, 1 or more", whole_at_least_one),
    "train.batch_size": ("a whole number, 1 or more", whole_at_least_one),
    "transfer.shots": ("a whole number of words, 1 or more", whole_at_least_one),
    "transfer.curve_shots": ("a non-empty list of whole numbers, 1 or more", whole_numbers),
    "transfer.curve_repeats": ("a whole number of draws, 1 or more", whole_at_least_one),
    "speakers.shots": ("a whole number of words, 1 or more", whole_at_least_one),
    "speakers.curve_shots": ("a non-empty list of whole numbers, 1 or more", whole_numbers),
    "speakers.curve_repeats": ("a whole number of draws, 1 or more", whole_at_least_one),
    "reject.cnn": ("a probability, 0 or more (above 1: every word unknown)", lambda v: finite_number(v) and v >= 0),
    "reject.svm": ("a number (an SVM margin)", finite_number),
}


# What each stamp feature is computed with (its conf/stamp/ group has them; a feature set alone does not)
STAMP_KEYS = {**{feature: ("n_fft", "hop_ms") for feature in ("fbank", "mel", "mfcc")}, "pretrained": ("seconds",)}


def check_params(params: dict) -> None:
    """ConfigError naming a group that is not a mapping, the first parameter outside NUMBER_BOUNDS
    (one that is not there at all is left to the code that reads it), a stamp feature without what
    it is computed with, a mixed model over another stamp than the speech embedding's, a vocab the
    corpus names but does not have, or takes that are not 1 or more."""
    for group in REQUIRED_GROUPS:
        if not isinstance(params[group], dict):
            raise ConfigError(f"{group} must be a group of settings, not {params[group]!r}")
    for key, (what, fits) in NUMBER_BOUNDS.items():
        group, _, name = key.partition(".")
        settings = params.get(group)
        if isinstance(settings, dict) and name in settings and not fits(settings[name]):
            raise ConfigError(f"{key} must be {what}, not {settings[name]!r}")
    stamp = params["stamp"]
    needs = STAMP_KEYS.get(stamp.get("feature"), ())
    if any(key not in stamp for key in needs):
        raise ConfigError(f"stamp.feature={stamp['feature']} needs stamp.{' and stamp.'.join(needs)}: choose its whole "
                          f"group, stamp={stamp['feature']}, not only the feature")
    model = params.get("model")
    if isinstance(model, dict) and model.get("kind") == "mixed" and stamp.get("feature") != "pretrained":
        # its 2-D network reads the middle windows of a 2.0 s embedding: of a spectrogram, a sliver of frames
        raise ConfigError(f"model=mixed reads the speech-embedding stamp (stamp=pretrained), not stamp.feature="
                          f"{stamp.get('feature')}: add -S model=cnn (or choose preset=fbank)")
    corpus = params["corpus"]
    vocabs = corpus.get("vocabs") if isinstance(corpus.get("vocabs"), dict) else {}
    for role in ("digits", "transfer", "unknown"):
        if role in corpus and corpus[role] not in vocabs and not (role == "unknown" and corpus[role] is None):
            raise ConfigError(f"corpus.{role} must be one of corpus.vocabs ({', '.join(vocabs)})"
                              f"{' or null' if role == 'unknown' else ''}, not {corpus[role]!r}")
    for vocab, spec in vocabs.items():
        if isinstance(spec, dict) and "takes" in spec and not whole_at_least_one(spec["takes"]):
            raise ConfigError(f"corpus.vocabs.{vocab}.takes must be a whole number, 1 or more, not {spec['takes']!r}")


def project_file(params: dict, name: str, root: Path) -> Path:
    """root / params["paths"][name]; ParamsMissing when params.yaml predates that path (`dvc exp apply`
    of an older experiment, --params naming an older file)."""
    if name not in params["paths"]:
        raise ParamsMissing(f"params.yaml has no paths.{name}: it was composed from an older conf/; "
                            "recompose it with `speech-mnist params`")
    return Path(root) / params["paths"][name]


def stage_paths(params: dict) -> SimpleNamespace:
    """params["paths"] (conf/paths/) as Paths: e.g. stage_paths(params).words / "manifest.csv"."""
    return SimpleNamespace(**{name: Path(path) for name, path in params["paths"].items()})


def compose_yaml(overrides: list[str] = (), conf_dir: str | os.PathLike = "conf") -> str:
    """conf/config.yaml composed with Hydra overrides, as the text DVC's Hydra integration writes."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    with initialize_config_dir(config_dir=str(Path(conf_dir).resolve()), version_base=None):
        cfg = compose(config_name="config", overrides=list(overrides))
    OmegaConf.resolve(cfg)
    return OmegaConf.to_yaml(cfg)


def compose_params(overrides: list[str] = (), conf_dir: str | os.PathLike = "conf") -> dict:
    """conf/config.yaml composed with Hydra overrides, as the dict a stage reads from params.yaml."""
    import yaml

    return yaml.safe_load(compose_yaml(overrides, conf_dir))


def write_params(overrides: list[str] = (), conf_dir="conf", path=PARAMS_FILE) -> Path:
    """params.yaml composed from conf/ with `overrides`; ConfigError, and nothing written, for
    parameters no stage can work with (check_params)."""
    path, text = Path(path), compose_yaml(overrides, conf_dir)
    check_params(yaml.safe_load(text))
    path.write_text(text, encoding="utf-8")
    return path
