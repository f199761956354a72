"""InfoGAN (Chen et al., 2016): latent codes fed to G, and a Q head on D's trunk that reads
them back.

`categorical` is {code name: number of categories} (e.g. {"digit": 10}); `continuous` the
number of continuous codes.

- G: {"noise": [B, noise_dim], code: int [B] per categorical code, "continuous": [B, n]}
  -> one-hot codes and continuous codes concatenated with the noise -> the DCGAN generator
  (nets/dcgan.py) -> image [B, S, S, 3] in [-1, 1].
- D: image [B, S, S, 3] -> DCGAN's downsampling trunk -> 4x4 features shared by
  D's head: "logit" [B, 1], and
  Q's head (dense, norm, LeakyReLU): code -> category logits [B, classes] per categorical
  code, "continuous_mean" and "continuous_logvar" [B, n] (a Gaussian per continuous code).
  On Q's dense features `norm="instance"` is layer norm over the units (layers.norm_layer).
"""

import keras
from keras import layers

from kerasgan.nets import dcgan
from kerasgan.nets.conditional import check_attributes
from kerasgan.nets.layers import activation_layer, apply, kernel_initializer, norm_layer

D_OUTPUTS = ("logit", "continuous_mean", "continuous_logvar")


def check_codes(categorical, continuous):
    check_attributes(categorical)
    clashes = set(categorical) & set(D_OUTPUTS)
    if clashes:
        raise ValueError(f"code names {sorted(clashes)} clash with D's outputs {D_OUTPUTS}")
    if continuous < 0:
        raise ValueError(f"continuous codes must be >= 0, got {continuous}")


def code_inputs(categorical, continuous):
    """{code: int32 Input [B]} plus "continuous": float Input [B, n] when n > 0."""
    inputs = {name: keras.Input((), dtype="int32", name=name) for name in categorical}
    if continuous:
        inputs["continuous"] = keras.Input((continuous,), name="continuous")
    return inputs


def build_infogan_generator(categorical, continuous=2, image_size=64, noise_dim=62, width=32,
                            upsample="upsample", norm="batch", activation="relu", init="normal",
                            name="generator", channels=3):
    """{"noise": [B, noise_dim], code: int [B], "continuous": [B, n]} -> image [B, S, S, channels]."""
    check_codes(categorical, continuous)
    noise = keras.Input((noise_dim,), name="noise")
    codes = code_inputs(categorical, continuous)
    parts = [noise] + [
        layers.CategoryEncoding(count, output_mode="one_hot", name=f"{name}_one_hot")(codes[name])
        for name, count in categorical.items()
    ]
    if continuous:
        parts.append(codes["continuous"])
    latent_dim = noise_dim + sum(categorical.values()) + continuous
    body = dcgan.build_generator(image_size, latent_dim, width, upsample, norm, activation, init,
                                 name="generator_body", channels=channels)
    image = body(layers.Concatenate(name="noise_and_codes")(parts))
    return keras.Model({"noise": noise, **codes}, image, name=name)


def q_head(features, categorical, continuous, units=128, norm="batch", init="normal"):
    """Shared 4x4 features -> {code: logits [B, classes], "continuous_mean"/"_logvar": [B, n]}."""
    x = layers.Flatten()(features)
    x = layers.Dense(units, kernel_initializer=kernel_initializer(init), name="q_dense")(x)
    # Dense features: "instance" is layer normalization over the units (see norm_layer).
    x = apply(x, norm_layer(norm, dense=True), activation_layer("leaky_relu"))

    def dense(size, name):
        return layers.Dense(size, kernel_initializer=kernel_initializer(init), dtype="float32", name=name)(x)

    outputs = {name: dense(count, name) for name, count in categorical.items()}
    if continuous:
        outputs["continuous_mean"] = dense(continuous, "continuous_mean")
        outputs["continuous_logvar"] = dense(continuous, "continuous_logvar")
    return outputs


def build_infogan_discriminator(categorical, continuous=2, image_size=64, width=32, norm="batch",
                                spectral_norm=False, init="normal", activation="leaky_relu", q_units=128,
                                name="discriminator", channels=3):
    """image [B, S, S, channels] -> {"logit": [B, 1], code: [B, classes], "continuous_mean": [B, n],
    "continuous_logvar": [B, n]}."""
    check_codes(categorical, continuous)
    blocks = dcgan.num_blocks(image_size)
    image = keras.Input((image_size, image_size, channels), name="image")
    x = image
    for index in range(blocks):
        x = dcgan.discriminator_block(x, index, blocks, width, norm, spectral_norm, init,
                                      two_convs=image_size >= 256, activation=activation)
    outputs = {"logit": dcgan.discriminator_logit(x, init, spectral_norm),
               **q_head(x, categorical, continuous, q_units, norm, init)}
    return keras.Model(image, outputs, name=name)
