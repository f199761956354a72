"""Conditional generators and discriminators for one or more categorical attributes.

Labels come as one int32 input [B] per attribute, named after it (e.g. `hair`, `eyes`).
Each attribute has its own small embedding: about a tenth of the noise size by default, as
larger embeddings collapsed modes in the anime-face report.

- G: {"noise": [B, noise_dim], attr: [B], ...} -> the embeddings concatenated with the noise
  -> an unconditional generator body (DCGAN or MLP) -> image [B, S, S, C] in [-1, 1]
  (C = `channels`: 3, or 1 for greyscale data).
- D: {"image": [B, S, S, 3], attr: [B], ...} -> logit [B, 1]. The labels join after D's first
  layer: as spatial maps [B, S/2, S/2, embed_dim] concatenated after the first conv (DCGAN),
  or as vectors concatenated after the first dense layer (MLP).
"""

import keras
from keras import layers

from kerasgan.latent import RESERVED_NAMES, is_valid_attribute
from kerasgan.nets import dcgan, mlp


def default_embed_dim(noise_dim):
    return max(noise_dim // 10, 2)


def check_attributes(num_classes):
    """`num_classes` is {attribute: number of classes}; names must work as input names."""
    if not num_classes:
        raise ValueError("a conditional model needs at least one attribute")
    for name, count in num_classes.items():
        if not is_valid_attribute(name):
            raise ValueError(f"attribute name {name!r} must be letters, digits and _ (not starting "
                             f"with a digit) and not one of {RESERVED_NAMES}")
        if count < 1:
            raise ValueError(f"attribute {name!r} needs at least one class, got {count}")


def label_inputs(num_classes):
    """{attribute: int32 Input [B]} in the order of `num_classes`."""
    return {name: keras.Input((), dtype="int32", name=name) for name in num_classes}


def embed_labels(labels, num_classes, embed_dim, prefix):
    """One Embedding(classes, embed_dim) per attribute: {attr: [B]} -> list of [B, embed_dim].

    Initialised N(0, 1), on the noise's scale (PyTorch's nn.Embedding default). Keras' default
    U(-0.05, 0.05) made the labels 20x quieter than the noise beside them: on MNIST the cGAN's D
    scored real images with right and wrong labels alike (d_real = d_mismatch) and G ignored
    its label for thousands of steps (10% of digits matched at 2000 steps; see #18).
    """
    return [
        layers.Embedding(count, embed_dim, embeddings_initializer=keras.initializers.RandomNormal(0.0, 1.0),
                         name=f"{prefix}_{name}_embedding")(labels[name])
        for name, count in num_classes.items()
    ]


def build_conditional_generator(build_body, num_classes, noise_dim=100, embed_dim=None, name="generator"):
    """{"noise": [B, noise_dim], attr: int [B], ...} -> image [B, S, S, 3].

    `build_body(latent_dim)` returns the unconditional generator ([B, latent_dim] -> image)
    that receives the noise and the label embeddings concatenated.
    """
    check_attributes(num_classes)
    embed_dim = embed_dim or default_embed_dim(noise_dim)
    noise = keras.Input((noise_dim,), name="noise")
    labels = label_inputs(num_classes)
    latent = layers.Concatenate(name="noise_and_labels")(
        [noise, *embed_labels(labels, num_classes, embed_dim, "g")]
    )
    body = build_body(noise_dim + embed_dim * len(num_classes))
    return keras.Model({"noise": noise, **labels}, body(latent), name=name)


def build_conditional_dcgan_generator(num_classes, image_size=64, noise_dim=100, embed_dim=None, width=32,
                                      upsample="upsample", norm="batch", activation="relu", init="normal",
                                      channels=3):
    """The DCGAN generator (nets/dcgan.py) behind label embeddings."""
    return build_conditional_generator(
        lambda latent_dim: dcgan.build_generator(image_size, latent_dim, width, upsample, norm, activation, init,
                                                 name="generator_body", channels=channels),
        num_classes, noise_dim, embed_dim,
    )


def build_conditional_mlp_generator(num_classes, image_size=32, noise_dim=100, embed_dim=None, width=32,
                                    norm="batch", activation="leaky_relu", init="normal", channels=3):
    """The MLP generator (nets/mlp.py) behind label embeddings."""
    return build_conditional_generator(
        lambda latent_dim: mlp.build_mlp_generator(image_size, latent_dim, width, norm, activation, init,
                                                   name="generator_body", channels=channels),
        num_classes, noise_dim, embed_dim,
    )


def label_maps(labels, num_classes, embed_dim, size):
    """{attr: [B]} -> list of [B, size, size, embed_dim]: each embedding repeated over space."""
    maps = []
    for vector, name in zip(embed_labels(labels, num_classes, embed_dim, "d"), num_classes):
        x = layers.Reshape((1, 1, embed_dim))(vector)
        maps.append(layers.UpSampling2D(size, name=f"d_{name}_map")(x))
    return maps


def build_conditional_dcgan_discriminator(num_classes, image_size=64, embed_dim=10, width=32, norm="batch",
                                          spectral_norm=False, init="normal", activation="leaky_relu",
                                          two_convs=None, name="discriminator", channels=3):
    """{"image": [B, S, S, 3], attr: int [B], ...} -> logit [B, 1].

    DCGAN's discriminator (nets/dcgan.py) with the label maps concatenated to the output of
    its first block, [B, S/2, S/2, channels].
    """
    check_attributes(num_classes)
    blocks = dcgan.num_blocks(image_size)
    two_convs = image_size >= 256 if two_convs is None else two_convs
    image = keras.Input((image_size, image_size, channels), name="image")
    labels = label_inputs(num_classes)
    options = dict(width=width, norm=norm, spectral_norm=spectral_norm, init=init, two_convs=two_convs,
                   activation=activation)
    x = dcgan.discriminator_block(image, 0, blocks, **options)
    x = layers.Concatenate(name="features_and_labels")(
        [x, *label_maps(labels, num_classes, embed_dim, image_size // 2)]
    )
    for index in range(1, blocks):
        x = dcgan.discriminator_block(x, index, blocks, **options)
    logit = dcgan.discriminator_logit(x, init, spectral_norm)
    return keras.Model({"image": image, **labels}, logit, name=name)


def build_conditional_mlp_discriminator(num_classes, image_size=32, embed_dim=10, width=32,
                                        activation="leaky_relu", init="normal", name="discriminator", channels=3):
    """{"image": [B, S, S, 3], attr: int [B], ...} -> logit [B, 1], labels after the first layer."""
    check_attributes(num_classes)
    image = keras.Input((image_size, image_size, channels), name="image")
    labels = label_inputs(num_classes)
    first, *rest = mlp.discriminator_units(width)
    x = mlp.dense_block(layers.Flatten()(image), first, "none", activation, init)
    x = layers.Concatenate(name="features_and_labels")([x, *embed_labels(labels, num_classes, embed_dim, "d")])
    for units in rest:
        x = mlp.dense_block(x, units, "none", activation, init)
    return keras.Model({"image": image, **labels}, mlp.logit_layer(init)(x), name=name)
