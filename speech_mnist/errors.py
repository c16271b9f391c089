"""One-line reasons: what a user is shown when a file or an argument cannot be used."""


def first_line(error: BaseException) -> str:
    """The first line of an exception's message (its type's name when it has none)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


class UserError(Exception):
    """Something the user can put right; the command line shows the message as one line, no traceback."""


class ModelUnreadable(UserError, ValueError):
    """A model file that exists but cannot, or must not, be loaded; the message says why."""


class ModelMismatch(UserError, ValueError):
    """A model made with other settings than params.yaml's (params composed anew, no `dvc repro`
    since): it would misread today's input, so it is refused with what differs."""
