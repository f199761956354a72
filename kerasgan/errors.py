"""The one exception type the command-line tools turn into a single readable line."""


class UserError(Exception):
    """A problem the user can fix (bad flag, missing folder, offline download, ...)."""


class NonFiniteLoss(UserError):
    """Training diverged: a loss or weight became NaN or infinite at `step`.

    A UserError, so it prints as one line; the command-line tools exit with status 3 for it
    (`exit_code`), apart from 2 for bad input, so a script can tell divergence from a typo.
    """

    exit_code = 3

    def __init__(self, message, step=None):
        super().__init__(message)
        self.step = step
