"""DCGAN generator and discriminator at 64, 128 and 256 pixels (16 and 32 for quick runs).

Generator: noise [B, noise_dim] -> dense to 4x4 -> (upsample x2 + conv) blocks -> tanh
image [B, S, S, C]. Discriminator: image [B, S, S, C] -> k4 s2 p1 convs with LeakyReLU(0.2)
down to 4x4 -> a final k4 p0 conv -> one logit [B, 1]. At 256 (as in the high-resolution
report) every block has two convs and reflection padding. C is 3 (RGB) or 1 (greyscale).
"""

import math

import keras
from keras import layers

from kerasgan.nets.layers import (
    MinibatchStdDev, ReflectionPadding2D, activation_layer, apply, conv, kernel_initializer, norm_layer,
)

IMAGE_SIZES = (16, 32, 64, 128, 256)
UPSAMPLING = ("upsample", "transpose")


def num_blocks(image_size):
    if image_size not in IMAGE_SIZES:
        raise ValueError(f"image size must be one of {IMAGE_SIZES}, got {image_size}")
    return int(math.log2(image_size // 4))


def _channels(width, level):
    """Channels at the stage `level` doublings above 4x4: width*8 at 4x4, halving per level."""
    return max(width * 8 // 2**level, 16)


def _conv_same(filters, kernel, reflect, init, spectral_norm=False, strides=1, use_bias=True):
    """A 'same' conv, with mirrored instead of zero padding when `reflect`."""
    if not reflect:
        return [conv(filters, kernel, strides, "same", init, spectral_norm, use_bias)]
    return [ReflectionPadding2D(kernel // 2), conv(filters, kernel, strides, "valid", init, spectral_norm, use_bias)]


def build_generator(image_size=64, noise_dim=100, width=32, upsample="upsample", norm="batch",
                    activation="relu", init="normal", two_convs=None, name="generator", channels=3,
                    full_res_convs=0):
    """noise [B, noise_dim] -> image [B, image_size, image_size, channels] in [-1, 1].

    `width` sets the channel count (width*8 at 4x4; the course uses 32, PyTorch's DCGAN
    example 64). `two_convs` (default: at 256) adds a second conv per block with reflection
    padding. `full_res_convs`: see generator_body.
    """
    noise = keras.Input((noise_dim,), name="noise")
    image = generator_body(noise, image_size, width, upsample, norm, activation, init, two_convs, channels,
                           full_res_convs=full_res_convs)
    return keras.Model(noise, image, name=name)


def generator_body(x, image_size=64, width=32, upsample="upsample", norm="batch", activation="relu",
                   init="normal", two_convs=None, channels=3, normalize=None, full_res_convs=0):
    """The generator's layers on a tensor: [B, features] -> image [B, S, S, channels] in [-1, 1].

    `normalize(x)`, when given, replaces every `norm` layer (a conditional batch norm reads
    labels there, see nets/conditional.py); `norm` then only says whether a norm follows
    each conv (so the conv before it needs no bias).

    `full_res_convs` (N): 0 is DCGAN, whose last upsampling conv draws the image, so each
    output pixel is a linear function of the half-size features and edges come out soft. With
    N >= 1 that conv outputs features instead (norm, activation), N - 1 more 3x3 convs with
    norm and activation follow at full resolution, and a 3x3 conv draws the image from them.
    Sharper edges lifted the shapes DCGAN's clean rate (#13; the figures are by
    SHAPES_DCGAN_DEFAULTS in config.py). Not with `two_convs`, whose blocks already end
    this way.
    """
    if upsample not in UPSAMPLING:
        raise ValueError(f"unknown upsampling {upsample!r}; choose one of {UPSAMPLING}")
    blocks = num_blocks(image_size)
    two_convs = image_size >= 256 if two_convs is None else two_convs
    if full_res_convs and two_convs:
        raise ValueError("full_res_convs is for one-conv blocks; with two_convs every block ends in features")
    if normalize is None:
        normalize = lambda t: apply(t, norm_layer(norm))  # noqa: E731
    x = layers.Dense(4 * 4 * _channels(width, 0), use_bias=False,
                     kernel_initializer=kernel_initializer(init))(x)
    x = layers.Reshape((4, 4, _channels(width, 0)))(x)
    x = apply(normalize(x), activation_layer(activation))
    # A bias right before a norm layer is subtracted away with the mean: skip it.
    normed = norm != "none"
    for level in range(1, blocks + 1):
        last = level == blocks
        draws_image = last and not two_convs and not full_res_convs  # this block's conv outputs the image
        filters = channels if draws_image else _channels(width, level)
        bias = draws_image or not normed
        if upsample == "transpose":
            x = layers.Conv2DTranspose(filters, 4, 2, "same", use_bias=bias,
                                       kernel_initializer=kernel_initializer(init))(x)
        else:
            x = layers.UpSampling2D(2)(x)
            x = apply(x, *_conv_same(filters, 3, two_convs, init, use_bias=bias))
        if draws_image:
            break
        x = apply(normalize(x), activation_layer(activation))
        if two_convs:
            x = apply(x, *_conv_same(channels if last else filters, 3, True, init, use_bias=last or not normed))
            if not last:
                x = apply(normalize(x), activation_layer(activation))
    if full_res_convs:  # the last block ended in full-resolution features: N - 1 more convs, then the image
        for _ in range(full_res_convs - 1):
            x = apply(x, *_conv_same(filters, 3, False, init, use_bias=not normed))
            x = apply(normalize(x), activation_layer(activation))
        x = apply(x, *_conv_same(channels, 3, False, init, use_bias=True))
    return layers.Activation("tanh", dtype="float32", name="image")(x)


def discriminator_block(x, index, blocks, width=32, norm="batch", spectral_norm=False, init="normal",
                        two_convs=False, activation="leaky_relu"):
    """D's block `index` of `blocks`: [B, S, S, C] -> [B, S/2, S/2, filters].

    A k4 s2 conv, then norm (none on the first block, as DCGAN) and the activation; with
    `two_convs` a reflection-padded k3 conv comes first. Exposed so conditional and InfoGAN
    discriminators can join labels or heads between blocks.
    """
    level = blocks - 1 - index  # the stage this block outputs, counted from 4x4
    filters = _channels(width, level)
    if two_convs:
        x = apply(x, *_conv_same(filters, 3, True, init, spectral_norm))
        x = activation_layer(activation)(x)
    normed = norm != "none" and index > 0
    # No bias before a norm layer: the norm's mean subtraction removes it.
    x = conv(filters, 4, 2, "same", init, spectral_norm, use_bias=not normed)(x)
    return apply(x, norm_layer(norm) if normed else None, activation_layer(activation))


def discriminator_logit(x, init="normal", spectral_norm=False):
    """4x4 features [B, 4, 4, C] -> logit [B, 1] through a k4 valid conv."""
    x = conv(1, 4, 1, "valid", init, spectral_norm)(x)
    return layers.Flatten(dtype="float32", name="logit")(x)


def build_discriminator(image_size=64, width=32, norm="batch", spectral_norm=False, init="normal",
                        two_convs=None, activation="leaky_relu", name="discriminator", channels=3,
                        minibatch_std=False):
    """image [B, image_size, image_size, channels] -> logit [B, 1] (no sigmoid).

    k4 s2 p1 convs halve the size down to 4x4 (first conv without norm, as DCGAN); a final k4
    valid conv maps 4x4 to 1x1. `spectral_norm` wraps every conv. `activation` is DCGAN's
    LeakyReLU(0.2) by default; relu and selu are options. `minibatch_std` appends ProGAN's
    minibatch standard deviation map to the 4x4 features before the logit conv.
    """
    blocks = num_blocks(image_size)
    two_convs = image_size >= 256 if two_convs is None else two_convs
    image = keras.Input((image_size, image_size, channels), name="image")
    x = image
    for index in range(blocks):
        x = discriminator_block(x, index, blocks, width, norm, spectral_norm, init, two_convs, activation)
    if minibatch_std:
        x = MinibatchStdDev(name="minibatch_std")(x)
    return keras.Model(image, discriminator_logit(x, init, spectral_norm), name=name)
