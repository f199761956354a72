"""The exceptions the command-line tools turn into a single readable line.

Every problem a user can fix is a `UserError`; the Python API raises the standard kinds too,
so `except ValueError` or `except FileNotFoundError` catch what a program expects them to.
"""


class UserError(Exception):
    """A problem the user can fix (bad flag, missing folder, offline download, ...)."""


class InvalidValue(UserError, ValueError):
    """An option or input value no run can use (a negative rate, an image size not offered)."""


class MissingPath(UserError, FileNotFoundError):
    """A folder or file the user named does not exist."""


class NonFiniteLoss(UserError):
    """Training diverged: a loss or weight became NaN or infinite at `step`.

    A UserError, so it prints as one line; the command-line tools exit with status 3 for it
    (`exit_code`), apart from 2 for bad input, so a script can tell divergence from a typo.
    """

    exit_code = 3

    def __init__(self, message, step=None):
        super().__init__(message)
        self.step = step
