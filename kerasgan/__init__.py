"""kerasgan: generative adversarial networks in Keras 3 on TensorFlow."""

import os

# oneDNN is off by default in the TF 2.21 CPU wheel and roughly doubles conv and matmul speed
# on CPU; it only takes effect if set before TensorFlow is first imported.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

__version__ = "0.1.0"
