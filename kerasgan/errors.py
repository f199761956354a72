"""The one exception type the command-line tools turn into a single readable line."""


class UserError(Exception):
    """A problem the user can fix (bad flag, missing folder, offline download, ...)."""
