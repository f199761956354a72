"""BEGAN (Berthelot et al., 2017): the discriminator is an autoencoder.

Decoder: h [B, hidden] -> dense to 8x8xwidth -> per stage two 3x3 convs with ELU, then
nearest-neighbour upsampling x2, up to S x S -> a 3x3 conv to 3 channels. The generator is a
decoder with tanh output: noise [B, noise_dim] -> image [B, S, S, 3] in [-1, 1].
Encoder: image -> 3x3 conv -> per stage two 3x3 convs with ELU, then a stride-2 conv adding
`width` channels, down to 8x8 -> dense to h [B, hidden].
Discriminator: image [B, S, S, 3] -> encoder -> decoder -> reconstruction [B, S, S, 3]
(linear output: the L1 reconstruction error is D's whole signal). No normalization, as the paper.
"""

import math

import keras
from keras import layers

from kerasgan.nets.layers import MinibatchStdDev, activation_layer, conv, kernel_initializer

def _stages(image_size):
    """Doublings between 8x8 and image_size (a power of two, at least 8)."""
    stages = math.log2(image_size / 8) if image_size >= 8 else -1
    if stages < 0 or stages != int(stages):
        raise ValueError(f"BEGAN image size must be a power of two >= 8, got {image_size}")
    return int(stages)


def _conv_act(x, filters, activation, init, strides=1):
    return activation_layer(activation)(conv(filters, 3, strides, "same", init)(x))


def decode(h, image_size, width=32, activation="elu", init="normal", channels=3):
    """h [B, hidden] -> features [B, S, S, channels] (no output activation)."""
    x = layers.Dense(8 * 8 * width, kernel_initializer=kernel_initializer(init))(h)
    x = layers.Reshape((8, 8, width))(x)
    stages = _stages(image_size)
    for stage in range(stages + 1):
        x = _conv_act(x, width, activation, init)
        x = _conv_act(x, width, activation, init)
        if stage < stages:
            x = layers.UpSampling2D(2)(x)
    return conv(channels, 3, 1, "same", init)(x)


def encode(image, hidden=64, width=32, activation="elu", init="normal", minibatch_std=False):
    """image [B, S, S, 3] -> h [B, hidden]; `minibatch_std` appends the batch's spread at 8x8."""
    stages = _stages(image.shape[1])
    x = _conv_act(image, width, activation, init)
    for stage in range(stages + 1):
        channels = width * (stage + 1)
        x = _conv_act(x, channels, activation, init)
        x = _conv_act(x, channels, activation, init)
        if stage < stages:
            x = _conv_act(x, channels + width, activation, init, strides=2)
    if minibatch_std:
        x = MinibatchStdDev(name="minibatch_std")(x)
    x = layers.Flatten()(x)
    return layers.Dense(hidden, kernel_initializer=kernel_initializer(init))(x)


def build_began_generator(image_size=64, noise_dim=64, width=32, activation="elu", init="normal",
                          name="generator", channels=3):
    """noise [B, noise_dim] -> image [B, image_size, image_size, channels] in [-1, 1]."""
    noise = keras.Input((noise_dim,), name="noise")
    x = decode(noise, image_size, width, activation, init, channels)
    return keras.Model(noise, layers.Activation("tanh", dtype="float32", name="image")(x), name=name)


def build_began_discriminator(image_size=64, hidden=64, width=32, activation="elu", init="normal",
                              name="discriminator", channels=3, minibatch_std=False):
    """image [B, S, S, C] -> reconstruction [B, S, S, C] through a [B, hidden] bottleneck.

    `minibatch_std` lets the encoder see how varied the batch is: a G that draws a few kinds
    of image gets reconstructions that D can make worse for that alone.
    """
    image = keras.Input((image_size, image_size, channels), name="image")
    h = encode(image, hidden, width, activation, init, minibatch_std)
    x = decode(h, image_size, width, activation, init, channels)
    return keras.Model(image, layers.Activation("linear", dtype="float32", name="reconstruction")(x),
                       name=name)
