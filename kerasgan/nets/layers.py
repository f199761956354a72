"""Small building blocks shared by every network builder."""

import keras
import tensorflow as tf
from keras import layers, ops

from kerasgan.nets import winograd
from kerasgan.replicas import replica_mean

NORMS = ("batch", "instance", "none")
INITS = ("normal", "xavier", "kaiming")
ACTIVATIONS = ("relu", "leaky_relu", "selu", "elu")


def kernel_initializer(init="normal"):
    """DCGAN's N(0, 0.02) by default; Xavier (Glorot) and Kaiming (He) as options."""
    if init == "normal":
        return keras.initializers.RandomNormal(0.0, 0.02)
    if init == "xavier":
        return keras.initializers.GlorotNormal()
    if init == "kaiming":
        return keras.initializers.HeNormal()
    raise ValueError(f"unknown init {init!r}; choose one of {INITS}")


def norm_layer(kind, dense=False):
    """Batch norm, instance norm or nothing (returns None for "none").

    Instance norm is GroupNormalization with one group per channel: tensorflow-addons'
    InstanceNormalization is end-of-life. epsilon=1e-5 matches PyTorch's InstanceNorm2d and
    BatchNorm2d; momentum=0.9 is PyTorch's momentum=0.1 written the Keras way.

    `dense=True` is for features [B, units] (after a Dense layer). Instance norm normalises
    each sample's channel over its pixels; a unit has a single value per sample, so that
    would make every unit a constant (its beta) and the network ignore its input. On dense
    features "instance" is therefore layer normalization over the units, the usual per-sample
    norm for them (one mean and variance per sample, a scale and shift per unit).
    """
    if kind == "instance" and dense:
        return layers.LayerNormalization(epsilon=1e-5)
    if kind == "batch":
        return BatchNormalization(
            momentum=0.9, epsilon=1e-5, gamma_initializer=keras.initializers.RandomNormal(1.0, 0.02)
        )
    if kind == "instance":
        return layers.GroupNormalization(groups=-1, epsilon=1e-5)
    if kind == "none":
        return None
    raise ValueError(f"unknown norm {kind!r}; choose one of {NORMS}")


@keras.saving.register_keras_serializable(package="kerasgan")
class BatchNormalization(layers.BatchNormalization):
    """Keras' batch norm, training on images through TensorFlow's fused kernel.

    Keras normalizes in separate ops (mean, variance, scale, shift, each with its own
    backward pass); FusedBatchNormV3 does the forward in one kernel and the backward in
    another, which made the DCGAN-64 step about 7% faster on a CPU. Same weights, outputs
    and moving statistics (the kernel returns the unbiased variance; the moving average
    keeps Keras' biased one), and the same class name, under which Keras files the weights.
    Inference, masks, renorm, synchronized statistics and other layouts run Keras' own code.
    """

    def call(self, inputs, training=None, mask=None):
        fused = (training and self.trainable and mask is None and len(inputs.shape) == 4
                 and self.axis in (-1, 3) and not self.renorm
                 and not self.synchronized)  # synchronized: Keras' all-reduced statistics (tf.distribute)
        if not fused:
            return super().call(inputs, training=training, mask=mask)
        x = ops.cast(inputs, "float32")  # as Keras: half-precision statistics overflow
        empty = tf.constant([], tf.float32)
        # Without its own scale/offset (a conditional batch norm's, nets/conditional.py): 1 and 0.
        channels = tf.shape(x)[-1:]
        scale = ops.cast(self.gamma, "float32") if self.scale else tf.ones(channels, tf.float32)
        offset = ops.cast(self.beta, "float32") if self.center else tf.zeros(channels, tf.float32)
        y, mean, unbiased_variance, *_ = tf.raw_ops.FusedBatchNormV3(
            x=x, scale=scale, offset=offset, mean=empty,
            variance=empty, epsilon=self.epsilon, exponential_avg_factor=1.0, data_format="NHWC",
            is_training=True)
        count = tf.cast(tf.reduce_prod(tf.shape(x)[:3]), tf.float32)
        variance = unbiased_variance * (count - 1.0) / count
        self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
        return ops.cast(y, self.compute_dtype)


def activation_layer(kind, leaky_slope=0.2):
    if kind == "relu":
        return layers.ReLU()
    if kind == "leaky_relu":
        return layers.LeakyReLU(negative_slope=leaky_slope)
    if kind == "selu":
        return layers.Activation("selu")
    if kind == "elu":
        return layers.ELU()
    raise ValueError(f"unknown activation {kind!r}; choose one of {ACTIVATIONS}")


@keras.saving.register_keras_serializable(package="kerasgan")
class ReflectionPadding2D(layers.Layer):
    """Pads height and width by mirroring, as CycleGAN and high-resolution DCGANs do."""

    def __init__(self, padding=1, **kwargs):
        super().__init__(**kwargs)
        self.padding = padding

    def call(self, x):
        p = self.padding
        return ops.pad(x, [[0, 0], [p, p], [p, p], [0, 0]], mode="reflect")

    def compute_output_shape(self, shape):
        p = 2 * self.padding
        grow = lambda d: None if d is None else d + p  # noqa: E731
        return (shape[0], grow(shape[1]), grow(shape[2]), shape[3])

    def get_config(self):
        return {**super().get_config(), "padding": self.padding}


@keras.saving.register_keras_serializable(package="kerasgan")
class MinibatchStdDev(layers.Layer):
    """ProGAN's minibatch standard deviation (Karras et al., 2018): features [B, H, W, C] ->
    [B, H, W, C + 1], the extra map holding the batch's standard deviation of each feature,
    averaged over features and positions.

    A generator that draws the same few images for every noise makes that number small where
    real batches make it large: D can then see a lack of variety that no single image shows.
    It couples the examples of a batch, so reals and fakes must go through D separately.
    Under a tf.distribute strategy the statistics are the global batch's (means all-reduced
    over the replicas, which hold equal shares), so N replicas compute what one device does.
    """

    def call(self, x):
        # Statistics in float32: a float16 variance of large activations can overflow.
        features = ops.cast(x, "float32")
        mean = replica_mean(ops.mean(features, axis=0))
        variance = replica_mean(ops.mean(ops.square(features - mean), axis=0))
        spread = ops.mean(ops.sqrt(variance + 1e-8))
        spread_map = ops.ones_like(features[..., :1]) * spread
        return ops.concatenate([x, ops.cast(spread_map, x.dtype)], axis=-1)

    def compute_output_shape(self, shape):
        return (*shape[:-1], shape[-1] + 1)


def conv(filters, kernel_size, strides=1, padding="same", init="normal", spectral_norm=False, use_bias=True):
    """A Conv2D, optionally wrapped in SpectralNormalization (one power iteration per call).

    3x3 stride-1 convs are winograd.Conv2D: the same layer, computed faster on a CPU.
    """
    conv_class = winograd.Conv2D if kernel_size in (3, (3, 3)) and strides in (1, (1, 1)) else layers.Conv2D
    layer = conv_class(
        filters, kernel_size, strides=strides, padding=padding, use_bias=use_bias,
        kernel_initializer=kernel_initializer(init),
    )
    return layers.SpectralNormalization(layer) if spectral_norm else layer


def apply(x, *layer_list):
    """Applies layers in order, skipping None (so `norm_layer("none")` needs no special case)."""
    for layer in layer_list:
        if layer is not None:
            x = layer(x)
    return x
