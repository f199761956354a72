"""Winograd F(4x4, 3x3) convolution: the matrices, the conv, its gradients, the layer."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasgan.export import export_generator
from kerasgan.nets import cyclegan, winograd
from kerasgan.nets.layers import conv
from kerasgan.nets.winograd import conv_algorithm, winograd_conv3x3


@pytest.fixture(autouse=True, scope="module")
def full_float32():
    # GPUs from Ampere on convolve and multiply in TF32 by default (10-bit mantissas): the
    # comparisons below at float32 round-off need true float32 there. No-op on a CPU.
    was = tf.config.experimental.tensor_float_32_execution_enabled()
    tf.config.experimental.enable_tensor_float_32_execution(False)
    yield
    tf.config.experimental.enable_tensor_float_32_execution(was)


def direct(x, kernel):
    return tf.nn.conv2d(x, kernel, 1, "VALID")


def random(shape, seed, scale=1.0):
    return tf.constant(np.random.default_rng(seed).standard_normal(shape).astype(np.float32) * scale)


def test_matrices_give_1d_correlation():
    # F(4, 3) in one dimension: 4 outputs of a 3-tap correlation from 6 inputs.
    rng = np.random.default_rng(0)
    d, g = rng.standard_normal(6), rng.standard_normal(3)
    got = winograd.A_T.astype(np.float64) @ ((winograd.G @ g) * (winograd.B_T @ d))
    want = [d[i:i + 3] @ g for i in range(4)]
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("shape", [(1, 18, 18, 8), (2, 11, 15, 5), (3, 4, 7, 6)])
def test_conv_matches_direct(shape):
    # Sides that are and are not whole 4x4 blocks, down to a single partial tile.
    x, kernel = random(shape, 1), random((3, 3, shape[-1], 7), 2)
    want = direct(x, kernel)
    got = winograd_conv3x3(x, kernel)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=2e-5 * float(tf.reduce_max(tf.abs(want))))


def test_gradients_match_direct():
    x, kernel = random((2, 14, 10, 16), 3), random((3, 3, 16, 12), 4)
    weights = random((2, 12, 8, 12), 5)  # a loss that weighs every output differently

    def grads(fn):
        with tf.GradientTape() as tape:
            tape.watch([x, kernel])
            loss = tf.reduce_sum(fn(x, kernel) * weights)
        return tape.gradient(loss, [x, kernel])

    for got, want in zip(grads(winograd_conv3x3), grads(direct)):
        np.testing.assert_allclose(got, want, atol=2e-5 * float(tf.reduce_max(tf.abs(want))))


def test_gradient_penalty_gradients_match_direct():
    # WGAN-GP differentiates a gradient norm: Winograd convs in D need second derivatives.
    x, kernel = random((2, 10, 10, 6), 13), random((3, 3, 6, 5), 14)

    def penalty_grad(fn):
        with tf.GradientTape() as outer:
            outer.watch(kernel)
            with tf.GradientTape() as inner:
                inner.watch(x)
                score = tf.reduce_sum(tf.tanh(fn(x, kernel)))
            slopes = tf.norm(tf.reshape(inner.gradient(score, x), (2, -1)), axis=1)
            penalty = tf.reduce_mean((slopes - 1.0) ** 2)
        return outer.gradient(penalty, kernel)

    want = penalty_grad(direct)
    np.testing.assert_allclose(penalty_grad(winograd_conv3x3), want, atol=1e-4 * float(tf.reduce_max(tf.abs(want))))


def test_conv_with_unknown_sizes():
    # Exported translators take images of any size: every side dynamic.
    kernel = random((3, 3, 4, 5), 6)
    traced = tf.function(lambda x: winograd_conv3x3(x, kernel),
                         input_signature=[tf.TensorSpec([None, None, None, 4], tf.float32)])
    x = random((2, 13, 9, 4), 7)
    np.testing.assert_allclose(traced(x), direct(x, kernel), atol=1e-4)


def wide_layer(padding):
    # Wide enough (>= MIN_CHANNELS) and large enough (>= MIN_TILES) to take the Winograd path.
    layer = winograd.Conv2D(winograd.MIN_CHANNELS, 3, padding=padding)
    layer.build((None, 26, 26, winograd.MIN_CHANNELS))
    layer.kernel.assign(random(layer.kernel.shape, 8, 0.05))
    layer.bias.assign(random(layer.bias.shape, 9))
    return layer


@pytest.mark.parametrize("padding", ["same", "valid"])
def test_layer_equals_conv2d_with_the_same_weights(padding):
    layer = wide_layer(padding)
    plain = keras.layers.Conv2D(layer.filters, 3, padding=padding)
    plain.build((None, 26, 26, winograd.MIN_CHANNELS))
    plain.set_weights(layer.get_weights())
    x = random((1, 26, 26, winograd.MIN_CHANNELS), 10)
    want = plain(x)
    with conv_algorithm("winograd"):
        fast = layer(x)
    with conv_algorithm("direct"):
        exact = layer(x)
    np.testing.assert_array_equal(exact, want)
    np.testing.assert_allclose(fast, want, atol=2e-5 * float(tf.reduce_max(tf.abs(want))))
    assert not np.array_equal(fast, want)  # it really took the other path


@pytest.mark.parametrize("gpu", [False, True])
def test_auto_picks_winograd_for_float32_on_cpu_only(monkeypatch, gpu):
    # Both machines' rules, on whichever machine runs the suite.
    monkeypatch.setattr(winograd, "_has_gpu", lambda: gpu)
    with conv_algorithm("auto"):
        assert winograd.winograd_applies(tf.float32) is not gpu
        assert not winograd.winograd_applies(tf.bfloat16)
    with conv_algorithm("winograd"):
        assert winograd.winograd_applies(tf.float32)  # forced, GPU or not
    with conv_algorithm("direct"):
        assert not winograd.winograd_applies(tf.float32)
    with pytest.raises(ValueError, match="choose one of"):
        with conv_algorithm("fast"):
            pass


def test_auto_uses_winograd_in_training_calls_only(monkeypatch):
    # Measured to pay in the train step only: sampling, evaluation and export run direct.
    monkeypatch.setattr(winograd, "_has_gpu", lambda: False)  # the auto rules of a CPU, anywhere
    ran = []
    real = winograd.winograd_conv3x3
    monkeypatch.setattr(winograd, "winograd_conv3x3", lambda x, kernel: ran.append(1) or real(x, kernel))
    channels = winograd.MIN_CHANNELS
    layer = wide_layer("same")
    image = keras.Input((16, 16, channels))
    model = keras.Model(image, conv(channels, 3, spectral_norm=True)(layer(image)))
    x = random((2, 16, 16, channels), 15)
    with conv_algorithm("auto"):
        for inference in (lambda: layer(x), lambda: layer(x, training=False), lambda: model(x),
                          lambda: model(x, training=False), lambda: model.predict(x, verbose=0)):
            inference()
            assert ran == []
        layer(x, training=True)
        assert len(ran) == 1
        model(x, training=True)  # both convs, the spectral-normalized one too
        assert len(ran) == 3
        step = tf.function(lambda x: model(x, training=True))
        step(x)
        assert len(ran) == 5
    with conv_algorithm("winograd"):  # forced: inference calls too
        layer(x, training=False)
        assert len(ran) == 6
    with conv_algorithm("direct"):
        layer(x, training=True)
        assert len(ran) == 6


def test_small_convs_stay_direct():
    layer = winograd.Conv2D(8, 3, padding="same")
    x = random((1, 16, 16, 8), 11)
    layer.build(x.shape)
    with conv_algorithm("winograd"):
        assert not layer._worth_it(x)  # thin: 8 channels
    wide = wide_layer("same")
    assert wide._worth_it(random((1, 8, 8, winograd.MIN_CHANNELS), 12)) is False  # 4 tiles
    assert wide._worth_it(random((2, 16, 16, winograd.MIN_CHANNELS), 12))  # 32 tiles


def test_builders_use_it_for_3x3_stride_1_only():
    assert isinstance(conv(64, 3), winograd.Conv2D)
    assert type(conv(64, 3, strides=2)) is keras.layers.Conv2D
    assert type(conv(64, 4)) is keras.layers.Conv2D
    with pytest.raises(ValueError, match="3x3, stride-1"):
        winograd.Conv2D(8, 3, strides=2)
    generator = cyclegan.build_generator(256, filters=8, blocks=2)
    kinds = [type(layer) for layer in generator.layers]
    assert kinds.count(winograd.Conv2D) == 4  # the residual blocks' convs


def test_weight_files_are_those_of_keras_conv2d(tmp_path):
    # Checkpoints written with Keras' Conv2D (or by kerasgan before this layer) load as they are.
    def model(conv_class):
        image = keras.Input((8, 8, 4))
        return keras.Model(image, conv_class(6, 3, padding="same")(image))

    plain, fast = model(keras.layers.Conv2D), model(winograd.Conv2D)
    plain.save_weights(tmp_path / "plain.weights.h5")
    fast.load_weights(tmp_path / "plain.weights.h5")
    for a, b in zip(plain.get_weights(), fast.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_layer_serializes():
    layer = winograd.Conv2D(4, 3, padding="valid", name="w")
    clone = keras.layers.deserialize(keras.layers.serialize(layer))
    assert type(clone) is winograd.Conv2D
    assert clone.get_config() == layer.get_config()


def test_export_traces_direct_convolutions(tmp_path):
    # The serving graph holds plain Conv2D ops so a GPU server can pick cuDNN's algorithm.
    noise = keras.Input((4,))
    x = keras.layers.Reshape((8, 8, winograd.MIN_CHANNELS))(keras.layers.Dense(64 * winograd.MIN_CHANNELS)(noise))
    image = keras.layers.Conv2D(3, 1, activation="tanh")(conv(winograd.MIN_CHANNELS, 3)(x))
    generator = keras.Model(noise, image)
    with conv_algorithm("winograd"):
        path = export_generator(generator, tmp_path, "g")
    graph = tf.saved_model.load(str(path)).signatures["serving_default"].graph.as_graph_def()
    ops = {node.op for f in graph.library.function for node in f.node_def}
    assert "Conv2D" in ops and "BatchMatMulV2" not in ops
