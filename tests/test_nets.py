import numpy as np
import pytest
import tensorflow as tf
from keras import layers

from kerasgan.nets import dcgan
from kerasgan.nets.layers import ReflectionPadding2D, norm_layer


@pytest.mark.parametrize("size", [64, 128, 256])
@pytest.mark.parametrize("upsample", ["upsample", "transpose"])
def test_generator_output_shape(size, upsample):
    generator = dcgan.build_generator(size, noise_dim=10, width=8, upsample=upsample)
    assert generator.input_shape == (None, 10)
    assert generator.output_shape == (None, size, size, 3)


def test_generator_images_lie_in_tanh_range():
    generator = dcgan.build_generator(64, noise_dim=10, width=8)
    images = generator(tf.random.normal((2, 10)) * 10, training=False).numpy()
    assert images.shape == (2, 64, 64, 3)
    assert images.min() >= -1 and images.max() <= 1


@pytest.mark.parametrize("size", [64, 128, 256])
def test_discriminator_halves_down_to_4x4_then_one_logit(size):
    discriminator = dcgan.build_discriminator(size, width=8)
    strided = [l for l in discriminator.layers if isinstance(l, layers.Conv2D) and l.strides == (2, 2)]
    sizes = [l.output.shape[1] for l in strided]
    # k4 s2 p1: out = (in + 2 - 4) / 2 + 1 = in / 2, so every strided conv halves the size.
    assert sizes == [size // 2 ** (i + 1) for i in range(len(strided))]
    assert sizes[-1] == 4
    assert all(l.kernel_size == (4, 4) for l in strided)
    assert discriminator.output_shape == (None, 1)


def test_discriminator_uses_leaky_relu_and_spectral_norm_when_asked():
    plain = dcgan.build_discriminator(64, width=8)
    assert all(abs(l.negative_slope - 0.2) < 1e-7 for l in plain.layers if isinstance(l, layers.LeakyReLU))
    normalized = dcgan.build_discriminator(64, width=8, spectral_norm=True, norm="none")
    wrapped = [l for l in normalized.layers if isinstance(l, layers.SpectralNormalization)]
    assert len(wrapped) == 5  # four strided convs and the final one


def test_instance_norm_normalizes_each_image_and_channel():
    x = tf.random.normal((2, 8, 8, 4)) * 3 + 5
    y = norm_layer("instance")(x).numpy()
    np.testing.assert_allclose(y.mean(axis=(1, 2)), 0, atol=1e-4)
    np.testing.assert_allclose(y.std(axis=(1, 2)), 1, atol=1e-3)


def test_instance_norm_on_dense_features_normalizes_over_the_units():
    # A dense feature vector has no pixels to average over: per sample, over its units.
    x = tf.random.normal((3, 16)) * 3 + 5
    y = norm_layer("instance", dense=True)(x).numpy()
    np.testing.assert_allclose(y.mean(axis=1), 0, atol=1e-4)
    np.testing.assert_allclose(y.std(axis=1), 1, atol=1e-3)
    assert np.abs(y[0] - y[1]).max() > 0.1  # not every sample the same constant


def test_reflection_padding_mirrors_edges():
    x = tf.reshape(tf.range(9, dtype=tf.float32), (1, 3, 3, 1))
    y = ReflectionPadding2D(1)(x).numpy()[0, ..., 0]
    assert y.shape == (5, 5)
    np.testing.assert_array_equal(y[0, 1:4], [3, 4, 5])  # row above mirrors row 1
    np.testing.assert_array_equal(y[1:4, 0], [1, 4, 7])


def test_unknown_options_are_rejected():
    with pytest.raises(ValueError, match="image size"):
        dcgan.build_generator(96)
    with pytest.raises(ValueError, match="unknown norm"):
        dcgan.build_discriminator(64, norm="layer")
