"""Fully connected generator and discriminator on flattened images (Goodfellow et al., 2014).

Generator: noise [B, noise_dim] -> dense layers of width*8, width*16, width*32 units ->
dense to S*S*C -> tanh image [B, S, S, C]. Discriminator: image [B, S, S, C] -> flatten ->
dense layers of width*16, width*8 units -> one logit [B, 1]. With the default width 32 these
are the usual 256-512-1024 and 512-256 stacks.
"""

import keras
from keras import layers

from kerasgan.nets.layers import activation_layer, apply, kernel_initializer, norm_layer


def generator_units(width):
    return (width * 8, width * 16, width * 32)


def discriminator_units(width):
    return (width * 16, width * 8)


def dense_block(x, units, norm="none", activation="leaky_relu", init="normal"):
    """Dense -> optional norm -> activation, on [B, features].

    "instance" is layer normalization over the units here (see layers.norm_layer).
    """
    x = layers.Dense(units, kernel_initializer=kernel_initializer(init))(x)
    return apply(x, norm_layer(norm, dense=True), activation_layer(activation))


def generator_body(x, image_size, width=32, norm="batch", activation="leaky_relu", init="normal", channels=3):
    """[B, features] -> image [B, image_size, image_size, channels] in [-1, 1].

    The first hidden layer has no batch norm (it would only rescale the noise).
    """
    for i, units in enumerate(generator_units(width)):
        x = dense_block(x, units, norm if i > 0 else "none", activation, init)
    x = layers.Dense(image_size * image_size * channels, kernel_initializer=kernel_initializer(init))(x)
    x = layers.Reshape((image_size, image_size, channels))(x)
    return layers.Activation("tanh", dtype="float32", name="image")(x)


def build_mlp_generator(image_size=32, noise_dim=100, width=32, norm="batch", activation="leaky_relu",
                        init="normal", name="generator", channels=3):
    """noise [B, noise_dim] -> image [B, image_size, image_size, channels] in [-1, 1]."""
    noise = keras.Input((noise_dim,), name="noise")
    return keras.Model(noise, generator_body(noise, image_size, width, norm, activation, init, channels),
                       name=name)


def logit_layer(init="normal"):
    return layers.Dense(1, kernel_initializer=kernel_initializer(init), dtype="float32", name="logit")


def build_mlp_discriminator(image_size=32, width=32, activation="leaky_relu", init="normal",
                            name="discriminator", channels=3):
    """image [B, image_size, image_size, channels] -> logit [B, 1] (no sigmoid, no normalization)."""
    image = keras.Input((image_size, image_size, channels), name="image")
    x = layers.Flatten()(image)
    for units in discriminator_units(width):
        x = dense_block(x, units, "none", activation, init)
    return keras.Model(image, logit_layer(init)(x), name=name)
