"""CycleGAN networks: shapes, the paper's layer sizes, PatchGAN grids and receptive fields."""

import kerasgan  # noqa: F401  (sets TF environment variables first)

import numpy as np
import pytest
import tensorflow as tf
from keras import layers

from kerasgan.nets.cyclegan import (
    build_discriminator,
    build_generator,
    build_patch_discriminator,
    patch_grid,
    patch_layers,
    receptive_field,
)

CONVS = (layers.Conv2D, layers.Conv2DTranspose)


def count_layers(model, kind):
    return sum(isinstance(layer, kind) for layer in model._flatten_layers())


def conv_parameters(model):
    """Parameters of conv layers only (what the PyTorch reference counts with affine-free norms)."""
    return sum(int(np.prod(w.shape)) for layer in model._flatten_layers() if isinstance(layer, CONVS)
               for w in layer.weights)


def random_images(shape, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, shape).astype(np.float32)


# ---------------------------------------------------------------- generators


def test_course_generator_translates_any_size_divisible_by_4():
    generator = build_generator(64, filters=8, blocks=2)
    assert generator.input_shape == (None, None, None, 3)
    assert count_layers(generator, layers.Add) == 2
    for shape in [(2, 64, 64, 3), (1, 32, 48, 3)]:
        out = np.asarray(generator(random_images(shape)))
        assert out.shape == shape
        assert np.abs(out).max() <= 1.0
    assert count_layers(build_generator(64, filters=8), layers.Add) == 6  # default at 64


@pytest.mark.parametrize("blocks", [6, 9])
def test_paper_generator_at_256(blocks):
    generator = build_generator(256, filters=4, blocks=blocks)
    out = generator(random_images((1, 256, 256, 3)))
    assert tuple(out.shape) == (1, 256, 256, 3)
    assert count_layers(generator, layers.Add) == blocks
    convs = [layer for layer in generator._flatten_layers() if isinstance(layer, CONVS)]
    assert [c.kernel_size for c in (convs[0], convs[-1])] == [(7, 7), (7, 7)]  # c7s1-64, c7s1-3
    assert count_layers(generator, layers.Conv2DTranspose) == 2  # u128, u64


def test_paper_generator_sizes_match_the_reference_code():
    # c7s1-64, d128, d256, R256 x blocks, u128, u64, c7s1-3 with biases, as in the PyTorch
    # reference (resnet_9blocks: 11,378,179 parameters; resnet_6blocks: 7,837,699).
    assert conv_parameters(build_generator(256, 64, 9)) == 11_378_179
    assert conv_parameters(build_generator(256, 64, 6)) == 7_837_699
    assert count_layers(build_generator(256, 64), layers.Add) == 9  # default at 256


# ---------------------------------------------------------------- discriminators


@pytest.mark.parametrize("image_size, grid", [(64, 4), (256, 30)])
def test_patch_discriminator_logit_grid(image_size, grid):
    discriminator = build_discriminator("patch", image_size, filters=4)
    logits = discriminator(random_images((1, image_size, image_size, 3)))
    assert tuple(logits.shape) == (1, grid, grid, 1)
    assert patch_grid(image_size) == grid


def test_patch_discriminator_70_sizes_match_the_reference_code():
    # C64-C128-C256-C512 and the logit conv, k4, with biases: 2,764,737 conv parameters.
    assert conv_parameters(build_patch_discriminator(256, 64)) == 2_764_737


@pytest.mark.parametrize("image_size, input_size, expected", [(64, 64, 46), (256, 128, 70)])
def test_patch_receptive_field_matches_the_input_gradient(image_size, input_size, expected):
    stack = patch_layers(image_size, filters=4)
    size, jump, offset = receptive_field(stack)
    assert size == expected
    # Without norm, so that image-wide statistics do not connect every pixel to every cell.
    discriminator = build_patch_discriminator(image_size, filters=4, norm="none")
    cell = patch_grid(input_size, stack) // 2
    first, last = cell * jump + offset, cell * jump + offset + size - 1
    assert 0 <= first and last < input_size  # the field lies inside the image
    image = tf.constant(random_images((1, input_size, input_size, 3)))
    with tf.GradientTape() as tape:
        tape.watch(image)
        logit = discriminator(image)[0, cell, cell, 0]
    sensitive = np.abs(tape.gradient(logit, image).numpy()[0]).sum(axis=-1) > 0  # [H, W]
    rows, cols = np.nonzero(sensitive.any(axis=1))[0], np.nonzero(sensitive.any(axis=0))[0]
    assert (rows.min(), rows.max()) == (first, last)
    assert (cols.min(), cols.max()) == (first, last)


def test_dc_discriminator_gives_one_logit_per_image():
    discriminator = build_discriminator("dc", 64, filters=8)
    assert tuple(discriminator(random_images((2, 64, 64, 3))).shape) == (2, 1)


def test_spectral_norm_wraps_every_discriminator_conv():
    discriminator = build_discriminator("patch", 64, filters=4, spectral_norm=True)
    assert count_layers(discriminator, layers.SpectralNormalization) == len(patch_layers(64)) == 4


def test_unknown_choices_are_rejected():
    with pytest.raises(ValueError, match="discriminator"):
        build_discriminator("wide", 64)
    with pytest.raises(ValueError, match="image size"):
        build_generator(128)


def test_instance_norm_is_per_image_even_in_training():
    # Unlike batch norm, each image's translation ignores the rest of the batch.
    generator = build_generator(64, filters=8, blocks=1)
    images = random_images((2, 32, 32, 3))
    together = np.asarray(generator(images, training=True))
    alone = np.asarray(generator(images[:1], training=True))
    np.testing.assert_allclose(together[:1], alone, atol=1e-5)
