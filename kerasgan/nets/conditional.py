"""Conditional generators and discriminators for one or more categorical attributes.

Labels come as one int32 input [B] per attribute, named after it (e.g. `hair`, `eyes`).
Where labels are embedded and concatenated, each attribute has its own small embedding:
about a tenth of the noise size by default, as larger embeddings collapsed modes in the
anime-face report.

Generators, {"noise": [B, noise_dim], attr: [B], ...} -> image [B, S, S, C] in [-1, 1]
(C = `channels`: 3, or 1 for greyscale data), by `conditioning`:

- "concat": the embeddings concatenated with the noise -> an unconditional generator body
  (DCGAN or MLP).
- "cbn" (DCGAN only): conditional batch norm (de Vries et al. 2017; BigGAN, Brock et al.
  2019). The noise alone enters the first layer; every batch norm of the DCGAN body loses
  its own scale and offset and is followed by a per-class gain and bias for each attribute,
  summed over attributes (`ConditionalAffine`). Every layer of G thus hears every label,
  instead of the labels having to survive from the input through all of G's layers.

Discriminators, by `conditioning`:

- "concat": {"image": [B, S, S, C], attr: [B], ...} -> logit [B, 1]. The labels join after
  D's first layer: as spatial maps [B, S/2, S/2, embed_dim] concatenated after the first conv
  (DCGAN), or as vectors concatenated after the first dense layer (MLP).
- "projection" (Miyato & Koyama 2018): same inputs and output; D's own logit psi(phi(x)) plus
  sum over attributes of <embed_attr(y), phi(x)>, with phi(x) D's last features, averaged over
  the 4x4 positions for DCGAN (`LabelProjection`). The labels meet the features that decide.
- "acgan" (Odena et al. 2017): {"image": [B, S, S, C]} -> {"logit": [B, 1], attr: class logits
  [B, classes], ...}; D does not read labels, it classifies every attribute on its shared
  features (the trainer adds the cross-entropies, see trainers/conditional.py).
"""

import itertools

import keras
from keras import layers, ops

from kerasgan.latent import D_CONDITIONING, G_CONDITIONING, RESERVED_NAMES, is_valid_attribute
from kerasgan.nets import dcgan, mlp
from kerasgan.nets.layers import BatchNormalization, conv, kernel_initializer


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
                                      channels=3, conditioning="concat"):
    """The DCGAN generator (nets/dcgan.py) behind label embeddings ("concat"), or with
    conditional batch norm ("cbn", `build_cbn_dcgan_generator`; `embed_dim` unused)."""
    check_conditioning(conditioning, G_CONDITIONING, "generator")
    if conditioning == "cbn":
        return build_cbn_dcgan_generator(num_classes, image_size, noise_dim, width, upsample, norm, activation,
                                         init, channels)
    return build_conditional_generator(
        lambda latent_dim: dcgan.build_generator(image_size, latent_dim, width, upsample, norm, activation, init,
                                                 name="generator_body", channels=channels),
        num_classes, noise_dim, embed_dim,
    )


def build_conditional_mlp_generator(num_classes, image_size=32, noise_dim=100, embed_dim=None, width=32,
                                    norm="batch", activation="leaky_relu", init="normal", channels=3,
                                    conditioning="concat"):
    """The MLP generator (nets/mlp.py) behind label embeddings (concat only)."""
    if conditioning != "concat":
        raise ValueError(f"the MLP generator conditions by concatenation only, not {conditioning!r}")
    return build_conditional_generator(
        lambda latent_dim: mlp.build_mlp_generator(image_size, latent_dim, width, norm, activation, init,
                                                   name="generator_body", channels=channels),
        num_classes, noise_dim, embed_dim,
    )


def check_conditioning(conditioning, choices, side):
    if conditioning not in choices:
        raise ValueError(f"unknown {side} conditioning {conditioning!r}; choose one of {choices}")


@keras.saving.register_keras_serializable(package="kerasgan")
class ConditionalAffine(layers.Layer):
    """[features [B, ..., C], ids_1 [B], ..., ids_n [B]] -> features * gain + bias, per example.

    Each attribute a has a gain table [classes_a, C] (initialised at 1) and a bias table
    [classes_a, C] (at 0); an example's gain is 1 + sum_a (gain_a[y_a] - 1) and its bias
    sum_a bias_a[y_a]: per-class contributions summed over attributes, the identity at
    initialisation whatever the number of attributes. `num_classes`: classes per attribute,
    in the order the ids come.
    """

    def __init__(self, num_classes, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = [int(n) for n in num_classes]

    def build(self, input_shape):
        channels = input_shape[0][-1]
        self.gains = [self.add_weight(shape=(n, channels), initializer="ones", name=f"gain_{i}")
                      for i, n in enumerate(self.num_classes)]
        self.biases = [self.add_weight(shape=(n, channels), initializer="zeros", name=f"bias_{i}")
                       for i, n in enumerate(self.num_classes)]

    def call(self, inputs):
        x, *ids = inputs
        gain, bias = 1.0, 0.0
        for table_gain, table_bias, y in zip(self.gains, self.biases, ids):
            y = ops.cast(y, "int32")
            gain = gain + ops.take(table_gain, y, axis=0) - 1.0
            bias = bias + ops.take(table_bias, y, axis=0)
        # [B, C] -> [B, 1, ..., 1, C] to broadcast over the spatial axes.
        shape = (-1,) + (1,) * (len(x.shape) - 2) + (x.shape[-1],)
        gain, bias = ops.reshape(gain, shape), ops.reshape(bias, shape)
        return x * ops.cast(gain, x.dtype) + ops.cast(bias, x.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes}


def conditional_norm(norm, labels, num_classes):
    """`normalize(x)` for dcgan.generator_body: a norm without scale and offset (batch norm,
    or instance norm) followed by `ConditionalAffine` on the labels."""
    if norm not in ("batch", "instance"):
        raise ValueError(f"conditional batch norm needs norm 'batch' or 'instance', not {norm!r}")
    ids = [labels[name] for name in num_classes]
    counter = itertools.count()

    def normalize(x):
        index = next(counter)
        if norm == "batch":
            plain = BatchNormalization(momentum=0.9, epsilon=1e-5, center=False, scale=False)
        else:
            plain = layers.GroupNormalization(groups=-1, epsilon=1e-5, center=False, scale=False)
        return ConditionalAffine(list(num_classes.values()), name=f"g_cbn_{index}")([plain(x), *ids])

    return normalize


def build_cbn_dcgan_generator(num_classes, image_size=64, noise_dim=100, width=32, upsample="upsample",
                              norm="batch", activation="relu", init="normal", channels=3, name="generator"):
    """{"noise": [B, noise_dim], attr: int [B], ...} -> image [B, S, S, channels]: DCGAN's
    generator whose every norm is a conditional batch norm; the noise alone enters the first
    dense layer (the labels reach that layer's output through its norm)."""
    check_attributes(num_classes)
    noise = keras.Input((noise_dim,), name="noise")
    labels = label_inputs(num_classes)
    image = dcgan.generator_body(noise, image_size, width, upsample, norm, activation, init, channels=channels,
                                 normalize=conditional_norm(norm, labels, num_classes))
    return keras.Model({"noise": noise, **labels}, image, name=name)


def label_maps(labels, num_classes, embed_dim, size):
    """{attr: [B]} -> list of [B, size, size, embed_dim]: each embedding repeated over space."""
    maps = []
    for vector, name in zip(embed_labels(labels, num_classes, embed_dim, "d"), num_classes):
        x = layers.Reshape((1, 1, embed_dim))(vector)
        maps.append(layers.UpSampling2D(size, name=f"d_{name}_map")(x))
    return maps


@keras.saving.register_keras_serializable(package="kerasgan")
class LabelProjection(layers.Layer):
    """[features phi [B, C], ids_1 [B], ..., ids_n [B]] -> sum_a <embed_a(y_a), phi> [B, 1].

    The projection discriminator's label term (Miyato & Koyama 2018): one embedding
    [classes_a, C] per attribute, Glorot-uniform initialised as in the paper's code.
    """

    def __init__(self, num_classes, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = [int(n) for n in num_classes]

    def build(self, input_shape):
        channels = input_shape[0][-1]
        self.embeddings = [self.add_weight(shape=(n, channels), initializer="glorot_uniform", name=f"embed_{i}")
                           for i, n in enumerate(self.num_classes)]

    def call(self, inputs):
        phi, *ids = inputs
        total = 0.0
        for table, y in zip(self.embeddings, ids):
            total = total + ops.sum(ops.take(table, ops.cast(y, "int32"), axis=0) * phi, axis=-1, keepdims=True)
        return ops.cast(total, phi.dtype)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], 1)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes}


def projection_logit(psi, phi, labels, num_classes):
    """psi [B, 1] + the label projection of phi [B, C]: the projection discriminator's logit."""
    term = LabelProjection(list(num_classes.values()), name="d_projection")([phi, *(labels[a] for a in num_classes)])
    return layers.Add(dtype="float32", name="logit")([psi, term])


def class_heads(features, num_classes, init="normal", spectral_norm=False):
    """AC-GAN's heads: {attr: class logits [B, classes]} from D's shared features, a k4 valid
    conv on 4x4 maps (like D's logit) or a dense layer on vectors."""
    if "logit" in num_classes:
        raise ValueError("an attribute named 'logit' clashes with the AC-GAN discriminator's adversarial output")
    heads = {}
    for name, count in num_classes.items():
        if len(features.shape) == 4:
            x = layers.Flatten()(conv(count, 4, 1, "valid", init, spectral_norm)(features))
        else:
            x = layers.Dense(count, kernel_initializer=kernel_initializer(init))(features)
        heads[name] = layers.Activation("linear", dtype="float32", name=f"class_{name}")(x)
    return heads


def build_conditional_dcgan_discriminator(num_classes, image_size=64, embed_dim=10, width=32, norm="batch",
                                          spectral_norm=False, init="normal", activation="leaky_relu",
                                          two_convs=None, name="discriminator", channels=3, conditioning="concat"):
    """{"image": [B, S, S, 3], attr: int [B], ...} -> logit [B, 1] (acgan: see the module doc).

    "concat": DCGAN's discriminator (nets/dcgan.py) with the label maps concatenated to the
    output of its first block, [B, S/2, S/2, channels]. "projection": DCGAN's discriminator,
    its 4x4 features [B, 4, 4, width*8] averaged into phi for the label projection.
    "acgan": DCGAN's discriminator with a class head per attribute on its 4x4 features.
    """
    check_attributes(num_classes)
    check_conditioning(conditioning, D_CONDITIONING, "discriminator")
    if conditioning != "concat":
        return _dcgan_discriminator_reading_features(num_classes, image_size, width, norm, spectral_norm, init,
                                                     activation, two_convs, name, channels, conditioning)
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


def _dcgan_discriminator_reading_features(num_classes, image_size, width, norm, spectral_norm, init, activation,
                                          two_convs, name, channels, conditioning):
    """DCGAN's discriminator whose last 4x4 features meet the labels: "projection" or "acgan"."""
    blocks = dcgan.num_blocks(image_size)
    two_convs = image_size >= 256 if two_convs is None else two_convs
    image = keras.Input((image_size, image_size, channels), name="image")
    x = image
    for index in range(blocks):
        x = dcgan.discriminator_block(x, index, blocks, width, norm, spectral_norm, init, two_convs, activation)
    if conditioning == "acgan":
        outputs = {"logit": dcgan.discriminator_logit(x, init, spectral_norm),
                   **class_heads(x, num_classes, init, spectral_norm)}
        return keras.Model({"image": image}, outputs, name=name)
    labels = label_inputs(num_classes)
    psi = conv(1, 4, 1, "valid", init, spectral_norm)(x)
    psi = layers.Flatten(dtype="float32")(psi)
    phi = layers.GlobalAveragePooling2D(name="d_pooled_features")(x)
    return keras.Model({"image": image, **labels}, projection_logit(psi, phi, labels, num_classes), name=name)


def build_conditional_mlp_discriminator(num_classes, image_size=32, embed_dim=10, width=32,
                                        activation="leaky_relu", init="normal", name="discriminator", channels=3,
                                        conditioning="concat"):
    """{"image": [B, S, S, 3], attr: int [B], ...} -> logit [B, 1]: labels concatenated after the
    first layer ("concat"), or projected on the last hidden layer ("projection"); "acgan": a
    class head per attribute on the last hidden layer, no label inputs."""
    check_attributes(num_classes)
    check_conditioning(conditioning, D_CONDITIONING, "discriminator")
    image = keras.Input((image_size, image_size, channels), name="image")
    if conditioning != "concat":
        x = layers.Flatten()(image)
        for units in mlp.discriminator_units(width):
            x = mlp.dense_block(x, units, "none", activation, init)
        if conditioning == "acgan":
            outputs = {"logit": mlp.logit_layer(init)(x), **class_heads(x, num_classes, init)}
            return keras.Model({"image": image}, outputs, name=name)
        labels = label_inputs(num_classes)
        psi = layers.Dense(1, kernel_initializer=kernel_initializer(init), dtype="float32")(x)
        return keras.Model({"image": image, **labels}, projection_logit(psi, x, labels, num_classes), name=name)
    labels = label_inputs(num_classes)
    first, *rest = mlp.discriminator_units(width)
    x = mlp.dense_block(layers.Flatten()(image), first, "none", activation, init)
    x = layers.Concatenate(name="features_and_labels")([x, *embed_labels(labels, num_classes, embed_dim, "d")])
    for units in rest:
        x = mlp.dense_block(x, units, "none", activation, init)
    return keras.Model({"image": image, **labels}, mlp.logit_layer(init)(x), name=name)
