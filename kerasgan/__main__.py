"""`python -m kerasgan COMMAND ...`: the `kerasgan` command without installing it."""

from kerasgan.commands.main import entry_point

entry_point()
