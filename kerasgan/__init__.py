"""kerasgan: generative adversarial networks in Keras 3 on TensorFlow."""

import os

# oneDNN is off by default in the TF 2.21 CPU wheel and roughly doubles conv and matmul speed
# on CPU; it only takes effect if set before TensorFlow is first imported.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
_VERBOSE = os.environ.get("KERASGAN_VERBOSE_TF") == "1"
# TensorFlow's C++ log lines look like failures even when harmless (graph mode on CPU logs
# "remapper failed" for CycleGAN's step, which trains fine regardless); errors that matter
# also raise Python exceptions. KERASGAN_VERBOSE_TF=1 shows them all.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0" if _VERBOSE else "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def _import_tensorflow_quietly():
    """Imports TensorFlow and finds its devices with C-level stderr muted.

    TF's C++ runtime prints INFO/ERROR lines (oneDNN notice, missing CUDA drivers) before its
    log level applies; on a CPU machine they look like failures and bury our one-line errors.
    Python exceptions still surface: they are printed after stderr is restored.
    """
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

__version__ = "0.1.0"
