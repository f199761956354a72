"""InceptionV3 pool features (2048-d) for FID and KID.

The pipeline from a batch of images to features is:

1. quantise to uint8, exactly as a saved PNG sample would be: float images in [-1, 1] become
   round((x + 1) * 127.5) clipped to [0, 255]; uint8 images are used as they are;
2. resize to 299x299 with an antialiased bilinear filter (`tf.image.resize(..., antialias=True)`).
   The resize matters: clean-fid (Parmar et al., 2022) showed that aliased or differently
   rounded resizes move FID by several points, so scores are only comparable between runs
   that use the same preprocessing, and the cache key of real statistics records it;
3. `keras.applications.inception_v3.preprocess_input` (scales [0, 255] to [-1, 1]);
4. InceptionV3 without its classifier, global average pooled, in inference mode.
"""

import kerasgan  # noqa: F401  (sets TF environment variables before TensorFlow is imported)

import hashlib
import os
import urllib.request
import warnings

import keras
import numpy as np
import tensorflow as tf

from kerasgan.errors import MissingPath, UserError
from kerasgan.progress import progress_bar

INCEPTION_SIZE = 299
FEATURE_DIM = 2048

# The no-top ImageNet weights Keras downloads for InceptionV3, and their md5 as Keras checks it.
WEIGHTS_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
WEIGHTS_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/" + WEIGHTS_FILE
)
WEIGHTS_MD5 = "bcbd6486424b2319ff4ef7d526e38f63"


def check_image_shape(images):
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise UserError(
            f"FID expects images shaped [N, H, W, 3] (or 1 channel); got shape {images.shape}"
        )


def to_uint8(images):
    """Images as uint8 NHWC with 3 channels: floats in [-1, 1] are quantised, gray is repeated."""
    images = np.asarray(images)
    check_image_shape(images)
    if images.dtype != np.uint8:
        if not np.issubdtype(images.dtype, np.floating):
            raise UserError(f"FID expects uint8 or float images in [-1, 1]; got {images.dtype}")
        low, high = (float(images.min()), float(images.max())) if images.size else (0.0, 0.0)
        # A little overshoot is normal for generator outputs (it is clipped, as saving would),
        # but floats in 0..255 are a bug. Images in [0, 1] cannot be told apart and pass.
        if low < -1.5 or high > 1.5:
            raise UserError(
                f"float images must be in [-1, 1] (got {low:.3g}..{high:.3g}); "
                "pass uint8 for 0..255"
            )
        images = np.clip(np.round((images.astype(np.float32) + 1.0) * 127.5), 0, 255)
        images = images.astype(np.uint8)
    if images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)
    return images


def keras_models_dir():
    """Where Keras keeps downloaded application weights ($KERAS_HOME/models or ~/.keras/models)."""
    keras_home = os.environ.get("KERAS_HOME")
    if not keras_home:
        # Same fallback as Keras: /tmp/.keras when the home directory is read-only.
        home = os.path.expanduser("~")
        keras_home = os.path.join(home if os.access(home, os.W_OK) else "/tmp", ".keras")
    return os.path.join(keras_home, "models")


def _file_md5(path):
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _first_line(error):
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _missing_weights_error(models_dir, reason):
    return UserError(
        f"InceptionV3 weights for FID are missing ({reason}): "
        f"put {WEIGHTS_FILE} from {WEIGHTS_URL} in {models_dir}/ or pass --fid-weights PATH"
    )


def imagenet_weights_path(allow_download=True):
    """The local path of the ImageNet no-top weights, downloading them through Keras if needed.

    Offline with no cached copy this raises `UserError` at once (one quick HEAD request)
    instead of letting the download stall.
    """
    models_dir = keras_models_dir()
    cached = os.path.join(models_dir, WEIGHTS_FILE)
    if os.path.exists(cached):
        if _file_md5(cached) == WEIGHTS_MD5:
            return cached
        problem = "the cached copy is corrupt"  # Keras would download it again, if it can
    else:
        problem = "no cached copy"
    if not allow_download:
        raise _missing_weights_error(models_dir, f"{problem}, downloads disabled")
    try:
        urllib.request.urlopen(urllib.request.Request(WEIGHTS_URL, method="HEAD"), timeout=10)
    except Exception as error:  # URLError, timeout, proxy errors: all mean "offline" here
        reason = f"{problem}, offline? {_first_line(error)}"
        raise _missing_weights_error(models_dir, reason) from None
    try:
        return keras.utils.get_file(
            WEIGHTS_FILE,
            WEIGHTS_URL,
            cache_dir=os.path.dirname(models_dir),
            cache_subdir="models",
            file_hash=WEIGHTS_MD5,
        )
    except Exception as error:  # Keras raises a bare Exception naming the URL on fetch failure
        raise _missing_weights_error(models_dir, f"{problem}, {_first_line(error)}") from None


def _randomise_kernels(model, seed):
    """Give every kernel a He-normal value from a seeded NumPy generator.

    Keras draws default initial values from the global Python RNG, so two random models
    differ; this makes `weights=None` deterministic without touching global seeds, and the
    He scale keeps activations O(1) through the 94 conv layers (Glorot init shrinks the
    pooled features to ~1e-4, which would make tolerance checks meaningless).
    Batch-norm variables keep their deterministic defaults (mean 0, variance 1, beta 0).
    """
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        if variable.path.endswith("kernel"):
            shape = tuple(variable.shape)
            fan_in = int(np.prod(shape[:-1]))
            value = rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)
            variable.assign(value.astype(np.float32))


def _build_inception(weights_path=None, seed=0):
    model = keras.applications.InceptionV3(
        include_top=False,
        weights=None,
        input_shape=(INCEPTION_SIZE, INCEPTION_SIZE, 3),
        pooling="avg",
    )
    if weights_path is None:
        _randomise_kernels(model, seed)
    else:
        try:
            model.load_weights(weights_path)
        except Exception as error:
            raise UserError(
                f"could not load InceptionV3 no-top weights from {weights_path}: "
                f"{_first_line(error)}"
            ) from None
    return model


class InceptionFeatures:
    """Maps images to 2048-d InceptionV3 pool features, in batches.

    Args:
        weights: "imagenet" (Keras downloads and caches the no-top weights in
            ~/.keras/models/), the path of a local copy of a weights file, or None for a
            randomly initialised network (deterministic given `seed`; for tests and
            benchmarks only: its scores are not comparable with published FIDs).
        batch_size: images per forward pass. The last batch is zero-padded to this size so
            the network runs at one shape; results do not depend on it.
        jit_compile: compile the network with XLA. None picks XLA on a GPU and plain graph
            mode on CPU, where oneDNN graph mode measured 1.1-2x faster than XLA
            (benchmarks/bench_fid.py, 2 cores).
            If XLA fails to compile the network it falls back to graph mode with a warning.
        seed: seed of the random initialisation when `weights=None`.
        allow_download: with `weights="imagenet"`, whether a missing file may be downloaded.
        progress: show a progress bar when a call covers several batches (kerasgan evaluate
            does; during training the FID callback reports each evaluation in one line).

    Calling the object on images uint8 [N, H, W, 3] or float in [-1, 1] returns float32
    features [N, 2048]. See the module docstring for the exact preprocessing.
    """

    preprocessing = "uint8-resize299-bilinear-antialias-inception_preprocess"

    def __init__(
        self, weights="imagenet", batch_size=50, jit_compile=None, seed=0, allow_download=True, progress=False
    ):
        if batch_size < 1:
            raise UserError(f"FID batch size must be at least 1; got {batch_size}")
        self.batch_size = int(batch_size)
        self.progress = progress
        self.extractor_id, weights_path = self._resolve_weights(weights, seed, allow_download)
        self.model = _build_inception(weights_path, seed)
        if jit_compile is None:
            jit_compile = bool(tf.config.list_physical_devices("GPU"))
        self.jit_compile = bool(jit_compile)
        self._forward = self._make_forward(self.jit_compile)

    @staticmethod
    def _resolve_weights(weights, seed, allow_download):
        if weights is None:
            return f"inception_v3-random-seed{seed}", None
        if weights == "imagenet":
            return "inception_v3-imagenet", imagenet_weights_path(allow_download)
        path = os.path.expanduser(str(weights))
        if not os.path.isfile(path):
            raise MissingPath(f"FID weights file not found: {path} (expected {WEIGHTS_FILE})")
        digest = _file_md5(path)
        # A local copy of the official file scores exactly like "imagenet", so share its cache.
        if digest == WEIGHTS_MD5:
            return "inception_v3-imagenet", path
        return f"inception_v3-md5-{digest[:16]}", path

    def _make_forward(self, jit_compile):
        model = self.model

        def forward(pixels):
            return model(pixels, training=False)

        return tf.function(forward, jit_compile=jit_compile)

    @staticmethod
    @tf.function
    def _preprocess(images_uint8):
        # ScaleAndTranslate (the antialiased resize) has no XLA kernel, so it stays outside
        # the compiled network.
        pixels = tf.cast(images_uint8, tf.float32)
        if pixels.shape[1] != INCEPTION_SIZE or pixels.shape[2] != INCEPTION_SIZE:
            pixels = tf.image.resize(
                pixels, (INCEPTION_SIZE, INCEPTION_SIZE), method="bilinear", antialias=True
            )
        return keras.applications.inception_v3.preprocess_input(pixels)

    def _run(self, pixels):
        try:
            return self._forward(pixels)
        except Exception as error:
            if not self.jit_compile:
                raise
            warnings.warn(f"XLA could not compile InceptionV3, using graph mode: {error}")
            self.jit_compile = False
            self._forward = self._make_forward(False)
            return self._forward(pixels)

    def __call__(self, images):
        images = np.asarray(images)
        check_image_shape(images)
        features = np.zeros((len(images), FEATURE_DIM), np.float32)
        bar = progress_bar(len(images), "Inception features", "img", enabled=self.progress and len(images) > self.batch_size)
        for start in range(0, len(images), self.batch_size):
            batch = to_uint8(images[start : start + self.batch_size])
            count = len(batch)
            if count < self.batch_size:
                padding = np.zeros((self.batch_size - count,) + batch.shape[1:], np.uint8)
                batch = np.concatenate([batch, padding])
            output = self._run(self._preprocess(tf.constant(batch)))
            features[start : start + count] = np.asarray(output)[:count]
            bar.update(count)
        bar.close()
        return features
