"""The command-line tools: argument parsing, the flow a person sees, one-line errors.

Importing this package mutes TensorFlow's import-time log noise for the whole process (the
oneDNN notice, missing-CUDA lines), which is right for a command line and would surprise a
user's own program: that is why it lives here and not in `kerasgan/__init__.py`.
`KERASGAN_VERBOSE_TF=1` shows everything.
"""

import os

_VERBOSE = os.environ.get("KERASGAN_VERBOSE_TF") == "1"
# TensorFlow's C++ log lines look like failures even when harmless (graph mode on CPU logs
# "remapper failed" for CycleGAN's step, which trains fine regardless); errors that matter
# also raise Python exceptions.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0" if _VERBOSE else "3")


def _import_tensorflow_quietly():
    """Imports TensorFlow and finds its devices with C-level stderr muted.

    TF's C++ runtime prints INFO/ERROR lines before its log level applies; on a CPU machine
    they look like failures and bury our one-line errors. Python exceptions still surface:
    they are printed after stderr is restored.
    """
    import kerasgan  # noqa: F401  (its environment defaults must precede TensorFlow)

    try:
        saved = os.dup(2)
    except OSError:  # no usable fd 2 (embedded interpreters): import as usual
        import tensorflow  # noqa: F401
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import tensorflow as tf

        tf.config.list_physical_devices()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


if not _VERBOSE:
    _import_tensorflow_quietly()
