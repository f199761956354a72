"""How the library reports on long work: messages through `logging`, progress bars through tqdm.

Library code never prints. Its messages go to the "kerasgan" logger: the commands show them
(INFO on stdout, WARNING and above on stderr, see commands/main.py); a program of your own
sees warnings as Python shows them and the rest once it configures logging, e.g.
`logging.basicConfig(level=logging.INFO)`. Work that takes minutes (training, feature
extraction, judges, grids of runs) shows a tqdm bar on stderr unless asked to be quiet.
"""

import logging
import sys

log = logging.getLogger("kerasgan")


def show_on_console():
    """The "kerasgan" logger's messages as plain lines, information on stdout and warnings and
    worse on stderr, written through tqdm so they print above a progress bar instead of
    through it. For the command line (commands/main.py); a program of its own leaves its
    logging to itself."""
    from tqdm.auto import tqdm

    class Console(logging.StreamHandler):
        def emit(self, record):
            try:
                tqdm.write(self.format(record), file=self.stream)
            except Exception:
                self.handleError(record)

    if log.handlers:
        return
    for stream, wanted in ((sys.stdout, lambda record: record.levelno < logging.WARNING),
                           (sys.stderr, lambda record: record.levelno >= logging.WARNING)):
        handler = Console(stream)
        handler.addFilter(wanted)
        log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def information_to_stderr():
    """For a command whose stdout is its result (`kerasgan evaluate`, whose --json a program
    parses): the library's information lines go to stderr with the warnings."""
    for handler in log.handlers:
        if getattr(handler, "stream", None) is sys.stdout:
            handler.setStream(sys.stderr)


def progress_bar(total, description, unit="it", initial=0, enabled=True, **options):
    """A tqdm bar on stderr (redrawn at most twice a second on a terminal, every 30 s into a
    file or pipe, so a log stays short); `enabled=False` makes it silent."""
    from tqdm.auto import tqdm

    interactive = hasattr(sys.stderr, "isatty") and sys.stderr.isatty()
    return tqdm(total=total, initial=initial, desc=description, unit=unit, disable=not enabled, file=sys.stderr,
                dynamic_ncols=True, mininterval=0.5 if interactive else 30.0, **options)


def fit_progress(total, description, enabled=True):
    """A Keras callback that advances a bar once per batch of a `fit` of `total` batches."""
    import keras

    class FitProgress(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.bar = progress_bar(total, description, "step", enabled=enabled)

        def on_train_batch_end(self, batch, logs=None):
            self.bar.update(1)

        def on_train_end(self, logs=None):
            self.bar.close()

    return FitProgress()


def duration(seconds):
    """A duration for people: 45 s, 12 min, 3.5 h."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
