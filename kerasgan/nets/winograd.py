"""Winograd's F(4x4, 3x3): 3x3 stride-1 convolutions with 4x fewer multiplications.

Lavin & Gray, 2016, "Fast Algorithms for Convolutional Neural Networks". The input is cut
into 6x6 tiles that overlap by 2; each tile d, with the kernel g, gives a 4x4 block of
output as A^T [(G g G^T) * (B^T d B)] A, so the channel sum becomes 36 independent matrix
products [tiles, C] x [C, K]: 36 multiplications per 4x4 block and channel pair instead of
16 x 9 = 144 (the transforms cost per channel, not per channel pair). cuDNN picks this
algorithm by itself; TensorFlow's CPU convolutions (oneDNN) do not, and CycleGAN's residual
blocks spend most of a training step in 3x3 convolutions at 64x64 with 256 channels.

Everything here is plain TensorFlow (reshapes, splits and batched matmuls), so the
gradients come from autodiff and are themselves Winograd-shaped: the whole
forward-and-backward pass of a residual-block conv runs about 2.2x faster on a CPU. Results
equal the direct convolution up to float32 round-off (about 2e-5 of the output's range).

`winograd.Conv2D` is Keras' Conv2D with the same weights and config that uses it when
`winograd_applies()`. With the algorithm "auto" (the default): in training calls
(`training=True`, as every train step calls its networks) in float32 on a machine without a
GPU; inference calls (sampling, evaluation, export) run the direct convolution, as the
speed-up was only measured for a training step's forward and backward passes. "direct"
never uses Winograd and "winograd" uses it in every call, inference included; set them
with `conv_algorithm` or the `KERASGAN_CONV_ALGORITHM` environment variable.
"""

import contextlib
import os

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

ALGORITHMS = ("auto", "direct", "winograd")

# The F(4x4, 3x3) matrices (Lavin & Gray, section 4.2), for correlation as in CNNs.
B_T = np.array([[4, 0, -5, 0, 1, 0],
                [0, -4, -4, 1, 1, 0],
                [0, 4, -4, -1, 1, 0],
                [0, -2, -1, 2, 1, 0],
                [0, 2, -1, -2, 1, 0],
                [0, 4, 0, -5, 0, 1]], np.float32)
G = np.array([[1 / 4, 0, 0],
              [-1 / 6, -1 / 6, -1 / 6],
              [-1 / 6, 1 / 6, -1 / 6],
              [1 / 24, 1 / 12, 1 / 6],
              [1 / 24, -1 / 12, 1 / 6],
              [0, 0, 1]], np.float32)
A_T = np.array([[1, 1, 1, 1, 1, 0],
                [0, 1, -1, 2, -2, 0],
                [0, 1, 1, 4, 4, 0],
                [0, 1, -1, 8, -8, 1]], np.float32)
TILE, OUT = 6, 4  # input tile side, output block side
# Below this many channels, or this many output tiles in the batch, the matrix products are
# too thin or too short to pay for the transforms: DCGAN-256's 16- to 64-channel convs and
# CycleGAN-64's 16x16 residual blocks at batch 1 (measured slower) stay direct.
MIN_CHANNELS = 128
MIN_TILES = 32

_algorithm = os.environ.get("KERASGAN_CONV_ALGORITHM", "auto")


@contextlib.contextmanager
def conv_algorithm(name):
    """Within the block, winograd.Conv2D layers traced run `name` (auto, direct, winograd)."""
    global _algorithm
    if name not in ALGORITHMS:
        raise ValueError(f"unknown conv algorithm {name!r}; choose one of {ALGORITHMS}")
    previous, _algorithm = _algorithm, name
    try:
        yield
    finally:
        _algorithm = previous


def _has_gpu():
    """Whether TensorFlow sees a GPU (a function, so tests can try both answers)."""
    return bool(tf.config.list_logical_devices("GPU"))


def winograd_applies(dtype, training=True):
    """True where Winograd is the faster choice: float32 training calls without a GPU (cuDNN
    has its own), unless the algorithm is forced ("direct": never, "winograd": always)."""
    if _algorithm not in ALGORITHMS:
        raise ValueError(f"KERASGAN_CONV_ALGORITHM={_algorithm!r}; choose one of {ALGORITHMS}")
    if _algorithm != "auto":
        return _algorithm == "winograd"
    return bool(training) and tf.as_dtype(dtype) == tf.float32 and not _has_gpu()


def _side(x, axis):
    """A static side where known, else the dynamic one (exported models take any size)."""
    return x.shape[axis] if x.shape[axis] is not None else tf.shape(x)[axis]


def _with_next_two(blocks, axis, count):
    """[..., count + 1, 4, ...] -> [..., count, 6, ...]: each 4-block and 2 rows of the next.

    Built from splits and a concat, whose gradients are a concat and splits: strided slices
    would be simpler to write, but their gradient is a slow scatter on the CPU.
    """
    first, _ = tf.split(blocks, [count, 1], axis=axis)
    _, following = tf.split(blocks, [1, count], axis=axis)
    overlap, _ = tf.split(following, [2, 2], axis=axis + 1)
    return tf.concat([first, overlap], axis=axis + 1)


def input_transform(x, tiles_h, tiles_w):
    """x [N, 4 th + 4, 4 tw + 4, C] -> B^T d B for every 6x6 tile d: [N, th, 6, tw, 6, C]."""
    channels = x.shape[-1]
    b_t = tf.constant(B_T, x.dtype)
    blocks = tf.reshape(x, (-1, tiles_h + 1, OUT, _side(x, 2) * channels))
    rows = tf.matmul(b_t, _with_next_two(blocks, 1, tiles_h))  # B^T along the rows
    blocks = tf.reshape(rows, (-1, tiles_h, TILE, tiles_w + 1, OUT, channels))
    return tf.matmul(b_t, _with_next_two(blocks, 3, tiles_w))  # and along the columns


def kernel_transform(kernel):
    """kernel [3, 3, C, K] -> G g G^T per channel pair, as 36 matrices [36, C, K]."""
    channels, filters = kernel.shape[2], kernel.shape[3]
    g = tf.constant(G, kernel.dtype)
    rows = tf.reshape(tf.matmul(g, tf.reshape(kernel, (3, -1))), (TILE, 3, channels * filters))
    return tf.reshape(tf.matmul(g, rows), (TILE * TILE, channels, filters))


def output_transform(products, batch, tiles_h, tiles_w):
    """products [36, N th tw, K] -> A^T M A per tile, laid out as the image [N, 4 th, 4 tw, K]."""
    filters = products.shape[-1]
    a_t = tf.constant(A_T, products.dtype)
    rows = tf.matmul(a_t, tf.reshape(products, (TILE, -1)))  # A^T along the tile rows
    rows = tf.reshape(rows, (OUT, TILE, batch, tiles_h, tiles_w, filters))
    rows = tf.transpose(rows, (2, 3, 0, 4, 1, 5))  # [N, th, 4, tw, 6, K]
    blocks = tf.matmul(a_t, rows)  # and along the columns: [N, th, 4, tw, 4, K]
    return tf.reshape(blocks, (batch, OUT * tiles_h, OUT * tiles_w, filters))


def winograd_conv3x3(x, kernel):
    """A 'valid' 3x3 stride-1 convolution: x [N, H + 2, W + 2, C], kernel [3, 3, C, K] -> [N, H, W, K]."""
    channels = kernel.shape[2]
    batch, height, width = _side(x, 0), _side(x, 1) - 2, _side(x, 2) - 2
    tiles_h, tiles_w = (height + OUT - 1) // OUT, (width + OUT - 1) // OUT
    # Zeros at the end: whole tiles, plus the 4-row block the last tile's overlap reads from.
    x = tf.pad(x, [[0, 0], [0, OUT * tiles_h + 2 - height], [0, OUT * tiles_w + 2 - width], [0, 0]])
    tiles = input_transform(x, tiles_h, tiles_w)
    tiles = tf.reshape(tf.transpose(tiles, (2, 4, 0, 1, 3, 5)), (TILE * TILE, -1, channels))
    products = tf.matmul(tiles, kernel_transform(kernel))  # [36, N th tw, K]
    y = output_transform(products, batch, tiles_h, tiles_w)
    exact = all(isinstance(side, int) and side % OUT == 0 for side in (height, width))
    return y if exact else tf.slice(y, [0, 0, 0, 0], tf.stack([-1, height, width, -1]))


@keras.saving.register_keras_serializable(package="kerasgan")
class Conv2D(layers.Conv2D):
    """A 3x3 stride-1 Conv2D computed with F(4x4, 3x3) where `winograd_applies()`.

    Same weights, config and (to round-off) outputs as `keras.layers.Conv2D`; elsewhere (an
    inference call, a GPU, bfloat16, `conv_algorithm("direct")`) it is exactly that layer. It keeps the name
    because Keras files a layer's weights under its class name: checkpoints written with
    Keras' Conv2D load into it and back.
    """

    def __init__(self, filters, kernel_size=3, **kwargs):
        super().__init__(filters, kernel_size, **kwargs)
        fits = (self.kernel_size == (3, 3) and self.strides == (1, 1) and self.dilation_rate == (1, 1)
                and self.groups == 1 and self.data_format == "channels_last")
        if not fits:
            raise ValueError("winograd.Conv2D computes 3x3, stride-1, undilated, channels-last convs only")

    def call(self, inputs, training=None):
        """Keras' Conv2D.call, choosing the algorithm per call: Keras passes `training` down
        from `model(x, training=True)` (and through SpectralNormalization's inner call)."""
        training = isinstance(training, (bool, np.bool_)) and bool(training)  # None: inference
        if self._worth_it(inputs) and winograd_applies(inputs.dtype, training):
            padded = tf.pad(inputs, [[0, 0], [1, 1], [1, 1], [0, 0]]) if self.padding == "same" else inputs
            outputs = winograd_conv3x3(padded, self.kernel)
        else:
            outputs = self.convolution_op(inputs, self.kernel)
        if self.use_bias:
            outputs = ops.add(outputs, ops.reshape(self.bias, (1, 1, 1, self.filters)))
        return self.activation(outputs) if self.activation is not None else outputs

    def _worth_it(self, inputs):
        if min(inputs.shape[-1], self.filters) < MIN_CHANNELS:
            return False
        batch, height, width = inputs.shape[:3]
        if None in (batch, height, width):
            return True  # any size may come; training steps always have static shapes
        trim = 2 if self.padding == "valid" else 0
        return batch * -(-(height - trim) // OUT) * -(-(width - trim) // OUT) >= MIN_TILES
