"""One-line reasons: what a user is shown when a file or an argument cannot be used."""

import sys
from pathlib import Path


def first_line(error: BaseException) -> str:
    """The first line of an exception's message (its type's name when it has none)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


class UserError(Exception):
    """Something the user can put right; the command line shows the message as one line, no traceback."""


class ConfigError(UserError, ValueError):
    """A parameter that cannot work (params.yaml, conf/, `dvc exp run -S`); the message names it."""


class CorpusMissing(UserError, FileNotFoundError):
    """A corpus, or its noise, is not where the parameters say (corpus.root, corpus.path, corpus.noise),
    or it holds no usable words of a vocab the pipeline needs."""


class ModelUnreadable(UserError, ValueError):
    """A model file that exists but cannot, or must not, be loaded; the message says why."""


class ModelMismatch(UserError, ValueError):
    """A model whose input differs from what params.yaml's settings make (params composed anew, no
    `dvc repro` since): it would misread today's input, so it is refused with what differs: the
    CNN's stamp settings (saved beside it) and shape, the speaker model's feature widths."""


def run_stage(main) -> None:
    """A stage's entry point: a user's mistake (a parameter that cannot work, a missing corpus)
    ends the stage with its reason in one line and exit code 2, as the CLI's commands do, not
    with a traceback; anything else is a bug, and shows one."""
    try:
        main()
    except UserError as error:
        stage = Path(sys.argv[0]).stem  # python -m stages.synthesize: .../stages/synthesize.py
        print(f"stage {stage}: {first_line(error)}", file=sys.stderr)
        sys.exit(2)
