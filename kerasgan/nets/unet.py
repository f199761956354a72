"""The denoising U-Net of the diffusion recipe: (noisy image, timestep) -> noise (or v) estimate.

    inputs   images float32 [B, S, S, 3] (x_t), timesteps float32 [B] (0 .. T-1)
    output   float32 [B, S, S, 3]

S is 16, 32, 64 or 128: the encoder halves the resolution down to 8x8 (one level per
halving plus the full-resolution one: 2 levels at 16 px, 4 at 64, 5 at 128), the decoder
mirrors it with skip connections from every encoder block. Each block is a residual block
(group norm, swish, 3x3 conv, plus the projected time embedding, group norm, swish, 3x3
conv), with self-attention after it at the resolutions <= `attention_resolution`. The time
embedding is the Transformer's sinusoidal encoding of t through a two-layer MLP.

Presets (`PRESETS`): `cpu` is small enough to train on a laptop CPU (base width 32, one
block per level, attention at 8x8 only); `gpu` is a DDPM-like network (base width 64, two
blocks per level, attention at 16x16 and 8x8).
"""

import math

import keras
from keras import layers, ops

PRESETS = {
    # width: channels at full resolution; multipliers per level (cut to the level count).
    "cpu": {"width": 32, "multipliers": (1, 2, 3, 4, 4), "blocks": 1, "attention_resolution": 8},
    "gpu": {"width": 64, "multipliers": (1, 2, 2, 4, 4), "blocks": 2, "attention_resolution": 16},
}
SIZES = (16, 32, 64, 128)
LOWEST_RESOLUTION = 8
GROUPS = 8


class SinusoidalEmbedding(layers.Layer):
    """t [B] -> [B, dim]: sin and cos of t at `dim / 2` frequencies from 1 to 1/10000.

    Computed in float32 whatever the dtype policy: in float16, sin(999 * w) loses the
    timestep's last digits.
    """

    def __init__(self, dim, **kwargs):
        super().__init__(dtype="float32", **kwargs)
        self.dim = dim

    def call(self, t):
        half = self.dim // 2
        frequencies = ops.exp(-math.log(10000.0) * ops.arange(half, dtype="float32") / half)
        angles = ops.cast(t, "float32")[:, None] * frequencies[None, :]
        return ops.concatenate([ops.sin(angles), ops.cos(angles)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.dim)

    def get_config(self):
        return {**super().get_config(), "dim": self.dim}


def _norm(name):
    return layers.GroupNormalization(GROUPS, epsilon=1e-5, name=name)


def residual_block(x, embedding, channels, name):
    """GN, swish, conv, + time, GN, swish, conv; a 1x1 conv on the skip when channels change."""
    skip = x if x.shape[-1] == channels else layers.Conv2D(channels, 1, name=f"{name}_skip")(x)
    h = layers.Activation("swish")(_norm(f"{name}_norm1")(x))
    h = layers.Conv2D(channels, 3, padding="same", name=f"{name}_conv1")(h)
    shift = layers.Dense(channels, name=f"{name}_time")(layers.Activation("swish")(embedding))
    h = layers.Add()([h, layers.Reshape((1, 1, channels))(shift)])
    h = layers.Activation("swish")(_norm(f"{name}_norm2")(h))
    h = layers.Conv2D(channels, 3, padding="same", name=f"{name}_conv2")(h)
    return layers.Add()([skip, h])


def attention_block(x, name, heads=4):
    """Self-attention over the H*W positions, pre-normalized, residual."""
    size, channels = x.shape[1], x.shape[-1]
    h = layers.Reshape((size * size, channels))(_norm(f"{name}_norm")(x))
    h = layers.MultiHeadAttention(heads, channels // heads, name=f"{name}_attention")(h, h)
    return layers.Add()([x, layers.Reshape((size, size, channels))(h)])


def level_widths(image_size, width, multipliers):
    """Channels per resolution level, full resolution first (down to 8x8)."""
    levels = int(math.log2(image_size // LOWEST_RESOLUTION)) + 1
    return [width * m for m in multipliers[:levels]]


def build_unet(image_size=64, preset="cpu", width=None, name="unet"):
    """The denoiser for `image_size` px images ([B, S, S, 3], [B] -> [B, S, S, 3]).

    `width` overrides the preset's base width (a multiple of 8, for the group norm).
    """
    if image_size not in SIZES:
        raise ValueError(f"the U-Net takes {', '.join(map(str, SIZES))} px images, not {image_size}")
    settings = PRESETS[preset]
    width = width or settings["width"]
    if width % GROUPS:
        raise ValueError(f"the U-Net width must be a multiple of {GROUPS}, got {width}")
    widths = level_widths(image_size, width, settings["multipliers"])
    blocks, attend = settings["blocks"], settings["attention_resolution"]

    images = keras.Input((image_size, image_size, 3), name="images")
    timesteps = keras.Input((), name="timesteps")
    embedding = SinusoidalEmbedding(width, name="time_sinusoidal")(timesteps)
    embedding = layers.Dense(4 * width, activation="swish", name="time_dense1")(embedding)
    embedding = layers.Dense(4 * width, name="time_dense2")(embedding)

    x = layers.Conv2D(width, 3, padding="same", name="stem")(images)
    skips = [x]
    resolution = image_size
    for level, channels in enumerate(widths):
        for block in range(blocks):
            x = residual_block(x, embedding, channels, f"down{level}_{block}")
            if resolution <= attend:
                x = attention_block(x, f"down{level}_{block}_attn")
            skips.append(x)
        if level < len(widths) - 1:
            x = layers.Conv2D(channels, 3, strides=2, padding="same", name=f"down{level}_downsample")(x)
            resolution //= 2
            skips.append(x)

    x = residual_block(x, embedding, widths[-1], "middle_0")
    x = attention_block(x, "middle_attn")
    x = residual_block(x, embedding, widths[-1], "middle_1")

    for level in reversed(range(len(widths))):
        for block in range(blocks + 1):
            x = layers.Concatenate()([x, skips.pop()])
            x = residual_block(x, embedding, widths[level], f"up{level}_{block}")
            if resolution <= attend:
                x = attention_block(x, f"up{level}_{block}_attn")
        if level > 0:
            x = layers.UpSampling2D(2, interpolation="nearest")(x)
            x = layers.Conv2D(widths[level], 3, padding="same", name=f"up{level}_upsample")(x)
            resolution *= 2

    x = layers.Activation("swish")(_norm("out_norm")(x))
    # Zero-initialized: the untrained net predicts 0, the loss starts at the target's variance.
    outputs = layers.Conv2D(3, 3, padding="same", kernel_initializer="zeros", dtype="float32", name="out")(x)
    return keras.Model([images, timesteps], outputs, name=name)
