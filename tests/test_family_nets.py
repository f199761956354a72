"""Shapes and wiring of the GAN family's networks (tiny sizes, no training)."""

import keras
import numpy as np
import pytest
from keras import layers

from kerasgan.nets import began, conditional, dcgan, infogan, mlp

NUM_CLASSES = {"shape": 3, "color": 4}


def labels_for(batch, num_classes=NUM_CLASSES, seed=0):
    rng = np.random.default_rng(seed)
    return {name: rng.integers(0, count, batch).astype(np.int32) for name, count in num_classes.items()}


def test_dcgan_discriminator_is_unchanged_by_the_block_refactor():
    # Parameter counts measured on the builder before it was split into blocks, less the
    # biases of the convs followed by a norm layer (dropped since: the norm cancels them).
    assert dcgan.build_discriminator(64).count_params() == 696033 - (64 + 128 + 256)
    assert dcgan.build_discriminator(256).count_params() == 1802353 - (16 + 32 + 64 + 128 + 256)
    assert dcgan.build_discriminator(64, norm="instance", spectral_norm=True).count_params() == 695618 - (64 + 128 + 256)
    # Without norm layers the biases stay and the 4 batch-norm weights per channel go.
    assert dcgan.build_discriminator(64, norm="none").count_params() == 696033 - 4 * (64 + 128 + 256)


@pytest.mark.parametrize("size", [16, 32])
def test_dcgan_small_sizes_for_quick_runs(size):
    g = dcgan.build_generator(size, noise_dim=8, width=4)
    d = dcgan.build_discriminator(size, width=4)
    assert g.output.shape == (None, size, size, 3)
    assert d(g(np.zeros((2, 8), np.float32))).shape == (2, 1)


@pytest.mark.parametrize("activation, kind", [("relu", layers.ReLU), ("selu", layers.Activation),
                                              ("elu", layers.ELU)])
def test_discriminator_activation_option(activation, kind):
    d = dcgan.build_discriminator(16, width=4, activation=activation)
    assert not any(isinstance(l, layers.LeakyReLU) for l in d.layers)
    assert any(isinstance(l, kind) for l in d.layers)


def test_mlp_generator_and_discriminator_shapes():
    g = mlp.build_mlp_generator(16, noise_dim=8, width=4)
    d = mlp.build_mlp_discriminator(16, width=4)
    images = g(np.random.default_rng(0).standard_normal((3, 8)).astype(np.float32))
    assert images.shape == (3, 16, 16, 3)
    assert np.abs(images.numpy()).max() <= 1.0
    assert d(images).shape == (3, 1)
    assert [l.units for l in g.layers if isinstance(l, layers.Dense)] == [32, 64, 128, 16 * 16 * 3]
    assert [l.units for l in d.layers if isinstance(l, layers.Dense)] == [64, 32, 1]


@pytest.mark.parametrize("norm", ["batch", "instance", "none"])
def test_mlp_generators_use_their_noise_with_every_norm(norm):
    # Instance norm on [B, units] once normalised every unit over a single value: each
    # became its beta, and G drew one image whatever the noise.
    rng = np.random.default_rng(0)
    noise = rng.standard_normal((2, 8)).astype(np.float32)
    g = mlp.build_mlp_generator(8, noise_dim=8, width=4, norm=norm)
    images = g(noise, training=True).numpy()
    assert np.abs(images[0] - images[1]).max() > 1e-6  # small (N(0, 0.02) weights), not 0
    cg = conditional.build_conditional_mlp_generator(NUM_CLASSES, 8, noise_dim=8, width=4, norm=norm)
    same_labels = {name: np.zeros(2, np.int32) for name in NUM_CLASSES}
    images = cg({"noise": noise, **same_labels}, training=True).numpy()
    assert np.abs(images[0] - images[1]).max() > 1e-6  # small (N(0, 0.02) weights), not 0


@pytest.mark.parametrize("kind", ["dcgan", "mlp"])
def test_conditional_nets_take_labels_by_name_and_use_them(kind):
    if kind == "dcgan":
        g = conditional.build_conditional_dcgan_generator(NUM_CLASSES, 16, noise_dim=20, width=4)
        d = conditional.build_conditional_dcgan_discriminator(NUM_CLASSES, 16, embed_dim=2, width=4, norm="none")
    else:
        g = conditional.build_conditional_mlp_generator(NUM_CLASSES, 16, noise_dim=20, width=4)
        d = conditional.build_conditional_mlp_discriminator(NUM_CLASSES, 16, embed_dim=2, width=4)
    assert set(g.input) == {"noise", "shape", "color"} and set(d.input) == {"image", "shape", "color"}
    noise = np.random.default_rng(0).standard_normal((4, 20)).astype(np.float32)
    labels = labels_for(4)
    other = {"shape": (labels["shape"] + 1) % 3, "color": labels["color"]}
    images = g({"noise": noise, **labels}).numpy()
    assert images.shape == (4, 16, 16, 3)
    # Changing one attribute changes both the image and D's verdict.
    assert not np.allclose(images, g({"noise": noise, **other}))
    logits = d({"image": images, **labels})
    assert logits.shape == (4, 1)
    assert not np.allclose(logits, d({"image": images, **other}))


def test_conditional_embeddings_are_a_tenth_of_the_noise():
    g = conditional.build_conditional_dcgan_generator(NUM_CLASSES, 16, noise_dim=100, width=4)
    embeddings = [l for l in g.layers if isinstance(l, layers.Embedding)]
    assert [(e.input_dim, e.output_dim) for e in embeddings] == [(3, 10), (4, 10)]
    body = g.get_layer("generator_body")
    assert body.input_shape == (None, 120)


def test_conditional_d_gets_label_maps_after_its_first_conv():
    d = conditional.build_conditional_dcgan_discriminator(NUM_CLASSES, 32, embed_dim=3, width=4)
    joined = d.get_layer("features_and_labels")
    first_conv = next(l for l in d.layers if isinstance(l, layers.Conv2D))
    # [B, 16, 16, conv channels + 2 attributes * 3]
    assert joined.output.shape == (None, 16, 16, first_conv.filters + 6)
    assert d.get_layer("d_color_map").output.shape == (None, 16, 16, 3)


def test_bad_attribute_names_are_refused():
    with pytest.raises(ValueError, match="attribute name"):
        conditional.build_conditional_dcgan_generator({"hair colour": 2}, 16, noise_dim=8, width=4)
    with pytest.raises(ValueError, match="attribute name"):
        conditional.build_conditional_dcgan_generator({"noise": 2}, 16, noise_dim=8, width=4)


def test_infogan_generator_and_q_head_share_the_trunk():
    codes = {"code1": 5}
    g = infogan.build_infogan_generator(codes, 2, 16, noise_dim=8, width=4)
    d = infogan.build_infogan_discriminator(codes, 2, 16, width=4)
    assert set(g.input) == {"noise", "code1", "continuous"}
    assert g.get_layer("generator_body").input_shape == (None, 8 + 5 + 2)
    images = g({"noise": np.zeros((3, 8), np.float32), "code1": np.array([0, 1, 4], np.int32),
                "continuous": np.zeros((3, 2), np.float32)})
    outputs = d(images)
    assert {k: tuple(v.shape) for k, v in outputs.items()} == {
        "logit": (3, 1), "code1": (3, 5), "continuous_mean": (3, 2), "continuous_logvar": (3, 2)}
    # Every trunk conv feeds both heads: D has one set of convs, not two.
    convs = [l for l in d.layers if isinstance(l, layers.Conv2D)]
    assert len(convs) == dcgan.num_blocks(16) + 1  # the blocks and D's final logit conv


@pytest.mark.parametrize("norm", ["batch", "instance"])
def test_infogan_q_head_reads_its_input_with_every_norm(norm):
    # The Q head's dense layer once had instance norm over single values: constant codes.
    d = infogan.build_infogan_discriminator({"code1": 5}, 2, 16, width=4, norm=norm)
    images = np.random.default_rng(1).uniform(-1, 1, (2, 16, 16, 3)).astype(np.float32)
    outputs = d(images, training=True)
    for name in ("code1", "continuous_mean", "continuous_logvar"):
        values = outputs[name].numpy()
        assert np.abs(values[0] - values[1]).max() > 1e-4, name


def test_began_autoencoder_reconstructs_at_full_size():
    g = began.build_began_generator(32, noise_dim=8, width=4)
    d = began.build_began_discriminator(32, hidden=6, width=4)
    images = g(np.zeros((2, 8), np.float32))
    assert images.shape == (2, 32, 32, 3)
    assert d(images).shape == (2, 32, 32, 3)
    bottleneck = [l for l in d.layers if isinstance(l, layers.Dense)][0]
    assert bottleneck.units == 6
    with pytest.raises(ValueError, match="power of two"):
        began.build_began_generator(48)


def test_unknown_activation_is_rejected():
    with pytest.raises(ValueError, match="activation"):
        mlp.build_mlp_discriminator(16, width=4, activation="tanh")


def test_builders_are_deterministic_in_shape():
    for build in (lambda: mlp.build_mlp_generator(16, 8, 4), lambda: began.build_began_discriminator(16, 4, 4)):
        a, b = build(), build()
        assert [w.shape for w in a.weights] == [w.shape for w in b.weights]
    keras.backend.clear_session()
