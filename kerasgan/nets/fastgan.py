"""FastGAN's generator, discriminator and D's decoders (Liu et al., ICLR 2021), at 32 to 512 pixels.

Built after the paper and its official code, with every conv spectrally normalized (in G as
well as D, as that code does), batch norm, and N(0, 0.02) weights. `width` scales every
layer's channels; the paper's networks are width 64.

Generator: noise [B, noise_dim] -> image [B, S, S, C] in [-1, 1].
    noise -> (spectral-normed dense, the paper's 4x4 transposed conv on a 1x1 input) -> 4x4,
    batch norm, GLU; then one up block per doubling: nearest upsampling, 3x3 conv, batch
    norm, GLU. At 8, 32, 128 and 512 the block has a second conv, and noise is injected
    after each conv. Skip-layer excitation (SLE) gates the channels of the 64, 128, 256 and
    512 features with the 4, 8, 16 and 32 features. A 3x3 conv and tanh draw the image.

Discriminator: image [B, S, S, C] -> {"logit": [B, 50], "features_8": [B, 8, 8, 8w],
"features_16": [B, 16, 16, 4w]} (w = width).
    The big branch: a stem (a 3x3 conv; at 512 a stride-2 4x4 conv down to 256), then
    residual down blocks (a 4x4 stride-2 conv and a 3x3 conv, averaged with a 2x2 average
    pool and 1x1 conv) to 8x8, with SLE from the 8-times-larger features where they exist
    (256 -> 32, 128 -> 16, 64 -> 8); a 1x1 conv and a 4x4 valid conv give 5x5 logits. The
    small branch sees the image average-pooled to S/2 (at least 16, at most 128): a stride-2
    conv and down blocks to 8x8, a 4x4 valid conv, 5x5 logits. The 25 + 25 logits are one
    output; a loss averages them as it does a PatchGAN's. The official code feeds the small
    branch G's own second, 128-pixel output for fakes; here G draws one image and D pools
    it, so G stays a plain noise -> image model (export, FID, sampling unchanged).

Decoders (D's self-supervision): {"features_8": [B, 8, 8, 8w], "part_features": [B, 8, 8, 4w]}
-> {"image": [B, R, R, C], "part": [B, P, P, C]} with R = min(S, 128), P = min(S / 2, 128).
    Up blocks from 8x8, a 3x3 conv and tanh: the whole real image from D's 8x8 features,
    and one quarter of it from the same quarter of D's 16x16 features (trainers/fastgan.py
    picks the quarter and scores the reconstructions).
"""

import keras
from keras import layers, ops

from kerasgan.nets.layers import apply, conv, kernel_initializer, norm_layer
from kerasgan.replicas import draw_for_replica

IMAGE_SIZES = (32, 64, 128, 256, 512)
# Channels per resolution as multiples of `width` (the official code's tables at ngf = ndf = 64).
G_CHANNELS = {4: 16, 8: 8, 16: 4, 32: 2, 64: 2, 128: 1, 256: 0.5, 512: 0.25}
D_CHANNELS = {4: 16, 8: 8, 16: 4, 32: 2, 64: 1, 128: 0.5, 256: 0.25}  # the big branch; 4: the logit head
SMALL_CHANNELS = {8: 4, 16: 2, 32: 1, 64: 0.5}  # the small branch
# G's up blocks with two convs and noise injection, and G's SLE: target resolution -> source.
NOISY_BLOCKS = (8, 32, 128, 512)
G_EXCITATION = {64: 4, 128: 8, 256: 16, 512: 32}
MIN_CHANNELS = 4


def _check_size(image_size):
    if image_size not in IMAGE_SIZES:
        raise ValueError(f"FastGAN image size must be one of {IMAGE_SIZES}, got {image_size}")


def channels_at(table, resolution, width):
    return max(int(table[resolution] * width), MIN_CHANNELS)


def reconstruction_sizes(image_size):
    """(R, P): the sides of the decoders' whole-image and quarter reconstructions."""
    return min(image_size, 128), min(image_size // 2, 128)


@keras.saving.register_keras_serializable(package="kerasgan")
class GLU(layers.Layer):
    """Gated linear unit over channels: [B, H, W, 2C] -> a * sigmoid(b), [B, H, W, C]."""

    def call(self, x):
        a, b = ops.split(x, 2, axis=-1)
        return a * ops.sigmoid(b)

    def compute_output_shape(self, shape):
        return (*shape[:-1], shape[-1] // 2)


@keras.saving.register_keras_serializable(package="kerasgan")
class NoiseInjection(layers.Layer):
    """x + s * noise, one noise value per pixel shared by the channels, s learnt from 0.

    In training calls the noise is drawn afresh for every image (from the layer's own seed
    generator, whose state is one of the layer's weights, so checkpoints hold it and a resumed
    run draws what an uninterrupted one does). In inference calls (samples, FID, the export)
    a fixed noise map drawn when the layer was built is used, StyleGAN2's "const" noise, so the
    same latent vector always gives the same image.
    """

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self._track_variable(self.seed_generator.state)

    def build(self, shape):
        self.strength = self.add_weight(shape=(), initializer="zeros", name="strength")
        self.fixed_noise = self.add_weight(shape=(1, shape[1], shape[2], 1), trainable=False, name="fixed_noise",
                                           initializer=keras.initializers.RandomNormal(seed=self.seed))

    def call(self, x, training=False):
        if training:
            height, width = x.shape[1], x.shape[2]
            noise = draw_for_replica(lambda n: keras.random.normal((n, height, width, 1), seed=self.seed_generator),
                                     ops.shape(x)[0])
        else:
            noise = self.fixed_noise
        return x + ops.cast(self.strength * noise, x.dtype)

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


def _sn_conv(filters, kernel, init, strides=1, padding="same"):
    """A bias-free spectrally normalized conv (a batch norm or the image follows every one)."""
    return conv(filters, kernel, strides, padding, init, spectral_norm=True, use_bias=False)


def skip_layer_excitation(source, target, init="normal"):
    """SLE: `target`'s channels scaled by gates in (0, 1) computed from `source`, a feature
    map of another resolution: pooled to 4x4, a 4x4 valid conv, swish, a 1x1 conv, sigmoid.
    [B, h, w, c] and [B, H, W, C] -> [B, H, W, C]."""
    side, channels = source.shape[1], target.shape[-1]
    pooled = layers.AveragePooling2D(side // 4)(source) if side > 4 else source
    gates = apply(pooled, _sn_conv(channels, 4, init, padding="valid"), layers.Activation("silu"),
                   _sn_conv(channels, 1, init), layers.Activation("sigmoid"))
    return layers.Multiply(name=f"excitation_{side}_to_{target.shape[1]}")([target, gates])


def up_block(x, channels, init="normal", noisy=False):
    """[B, H, W, c] -> [B, 2H, 2W, channels]: nearest upsampling, then conv, batch norm and GLU
    (twice, with noise injected after each conv, when `noisy`)."""
    x = layers.UpSampling2D(2)(x)
    for _ in range(2 if noisy else 1):
        x = _sn_conv(2 * channels, 3, init)(x)
        if noisy:
            x = NoiseInjection()(x)
        x = apply(x, norm_layer("batch"), GLU())
    return x


def build_fastgan_generator(image_size=256, noise_dim=256, width=16, init="normal", channels=3, name="generator"):
    """noise [B, noise_dim] -> image [B, image_size, image_size, channels] in [-1, 1]."""
    _check_size(image_size)
    noise = keras.Input((noise_dim,), name="noise")
    start = channels_at(G_CHANNELS, 4, width)
    dense = layers.Dense(4 * 4 * 2 * start, use_bias=False, kernel_initializer=kernel_initializer(init))
    x = apply(noise, layers.SpectralNormalization(dense), layers.Reshape((4, 4, 2 * start)), norm_layer("batch"),
               GLU())
    features = {4: x}
    resolution = 4
    while resolution < image_size:
        resolution *= 2
        x = up_block(x, channels_at(G_CHANNELS, resolution, width), init, noisy=resolution in NOISY_BLOCKS)
        if resolution in G_EXCITATION:
            x = skip_layer_excitation(features[G_EXCITATION[resolution]], x, init)
        features[resolution] = x
    x = _sn_conv(channels, 3, init)(x)
    return keras.Model(noise, layers.Activation("tanh", dtype="float32", name="image")(x), name=name)


def _leaky():
    return layers.LeakyReLU(negative_slope=0.2)


def down_block(x, channels, init="normal"):
    """[B, H, W, c] -> [B, H/2, W/2, channels]: a 4x4 stride-2 conv, batch norm, LeakyReLU(0.2)."""
    return apply(x, _sn_conv(channels, 4, init, strides=2), norm_layer("batch"), _leaky())


def residual_down_block(x, channels, init="normal"):
    """The mean of a down block followed by a 3x3 conv (batch norm, LeakyReLU) and a shortcut
    (2x2 average pool, 1x1 conv, batch norm, LeakyReLU): [B, H, W, c] -> [B, H/2, W/2, channels]."""
    main = down_block(x, channels, init)
    main = apply(main, _sn_conv(channels, 3, init), norm_layer("batch"), _leaky())
    shortcut = apply(x, layers.AveragePooling2D(2), _sn_conv(channels, 1, init), norm_layer("batch"), _leaky())
    return layers.Average()([main, shortcut])


def _logits(x, init, name):
    """[B, 8, 8, c] -> [B, 25]: a 4x4 valid conv gives a 5x5 map of logits."""
    x = conv(1, 4, 1, "valid", init, spectral_norm=True, use_bias=False)(x)
    return layers.Flatten(dtype="float32", name=name)(x)


def build_fastgan_discriminator(image_size=256, width=16, init="normal", channels=3, name="discriminator"):
    """image [B, S, S, C] -> {"logit": [B, 50], "features_8": [B, 8, 8, 8w], "features_16": [B, 16, 16, 4w]}."""
    _check_size(image_size)
    image = keras.Input((image_size, image_size, channels), name="image")
    # The big branch: a stem at (at most) 256, then halving to 8x8.
    if image_size == 512:
        resolution, x = 256, apply(image, _sn_conv(channels_at(D_CHANNELS, 256, width), 4, init, strides=2), _leaky())
    else:
        resolution, x = image_size, apply(image, _sn_conv(channels_at(D_CHANNELS, image_size, width), 3, init), _leaky())
    features = {resolution: x}
    while resolution > 8:
        resolution //= 2
        x = residual_down_block(x, channels_at(D_CHANNELS, resolution, width), init)
        if 8 * resolution in features:
            x = skip_layer_excitation(features[8 * resolution], x, init)
        features[resolution] = x
    head = apply(x, _sn_conv(channels_at(D_CHANNELS, 4, width), 1, init), norm_layer("batch"), _leaky())
    big = _logits(head, init, "big_logits")
    # The small branch, on the image average-pooled to S/2 (16 to 128 pixels).
    small_size = min(max(image_size // 2, 16), 128)
    y = layers.AveragePooling2D(image_size // small_size, name="small_input")(image) if small_size < image_size else image
    resolution = small_size // 2
    y = apply(y, _sn_conv(channels_at(SMALL_CHANNELS, resolution, width), 4, init, strides=2), _leaky())
    while resolution > 8:
        resolution //= 2
        y = down_block(y, channels_at(SMALL_CHANNELS, resolution, width), init)
    small = _logits(y, init, "small_logits")
    logit = layers.Concatenate(dtype="float32", name="logit")([big, small])
    return keras.Model(image, {"logit": logit, "features_8": features[8], "features_16": features[16]}, name=name)


def _decoder(x, size, width, init, channels):
    """[B, 8, 8, c] -> [B, size, size, channels] in [-1, 1]: plain up blocks, a 3x3 conv, tanh.
    Channels as G's at half the width (the official decoders' at width 64)."""
    resolution = 8
    while resolution < size:
        resolution *= 2
        x = up_block(x, channels_at(G_CHANNELS, resolution, width / 2), init)
    return apply(x, _sn_conv(channels, 3, init), layers.Activation("tanh", dtype="float32"))


def build_fastgan_decoders(image_size=256, width=16, init="normal", channels=3, name="decoders"):
    """{"features_8": [B, 8, 8, 8w], "part_features": [B, 8, 8, 4w]} ->
    {"image": [B, R, R, C], "part": [B, P, P, C]}, (R, P) = reconstruction_sizes(image_size)."""
    _check_size(image_size)
    whole, part = reconstruction_sizes(image_size)
    features_8 = keras.Input((8, 8, channels_at(D_CHANNELS, 8, width)), name="features_8")
    part_features = keras.Input((8, 8, channels_at(D_CHANNELS, 16, width)), name="part_features")
    outputs = {"image": _decoder(features_8, whole, width, init, channels),
               "part": _decoder(part_features, part, width, init, channels)}
    return keras.Model({"features_8": features_8, "part_features": part_features}, outputs, name=name)
