"""kerasgan's batch norm (TensorFlow's fused kernel in training) against Keras' own."""

import keras
import numpy as np
import tensorflow as tf

from kerasgan.nets.layers import BatchNormalization, norm_layer


def pair(channels=5):
    """(Keras' layer, kerasgan's) with the same non-trivial weights and moving statistics."""
    rng = np.random.default_rng(0)
    weights = [rng.uniform(0.5, 1.5, channels), rng.normal(size=channels), rng.normal(size=channels),
               rng.uniform(0.5, 2.0, channels)]
    layers = []
    for cls in (keras.layers.BatchNormalization, BatchNormalization):
        layer = cls(momentum=0.9, epsilon=1e-5)
        layer.build((None, 6, 7, channels))
        layer.set_weights([w.astype(np.float32) for w in weights])
        layers.append(layer)
    return layers


def images(shape=(4, 6, 7, 5), seed=1):
    return tf.constant(np.random.default_rng(seed).normal(2.0, 3.0, shape).astype(np.float32))


def test_training_matches_keras_outputs_gradients_and_moving_statistics():
    keras_bn, fused_bn = pair()
    x = images()
    results = []
    for layer in (keras_bn, fused_bn):
        with tf.GradientTape() as tape:
            tape.watch(x)
            # Weigh every output differently so the gradients are not trivially zero.
            loss = tf.reduce_sum(layer(x, training=True) * tf.range(x.shape[-1], dtype=tf.float32) * x)
        results.append([layer(x, training=True), *tape.gradient(loss, [x, layer.gamma, layer.beta])])
    for want, got in zip(*results):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    # Two training calls each: the moving averages moved the same way (Keras' biased variance).
    for want, got in zip(keras_bn.get_weights(), fused_bn.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-5)
    assert not np.allclose(fused_bn.moving_variance, pair()[1].moving_variance)


def test_hand_computed_normalisation():
    bn = BatchNormalization(epsilon=0.0, momentum=0.5)
    x = tf.reshape(tf.constant([1.0, 3.0, 5.0, 7.0]), (4, 1, 1, 1))  # mean 4, biased variance 5
    y = bn(x, training=True)
    np.testing.assert_allclose(tf.reshape(y, [-1]), np.array([-3.0, -1.0, 1.0, 3.0]) / np.sqrt(5.0), rtol=1e-6)
    np.testing.assert_allclose(bn.moving_mean, [0.5 * 0.0 + 0.5 * 4.0])
    np.testing.assert_allclose(bn.moving_variance, [0.5 * 1.0 + 0.5 * 5.0], rtol=1e-6)


def test_inference_and_bfloat16_follow_keras():
    keras_bn, fused_bn = pair()
    x = images(seed=2)
    np.testing.assert_array_equal(fused_bn(x, training=False), keras_bn(x, training=False))
    half = BatchNormalization(dtype="mixed_bfloat16")
    out = half(tf.cast(x, tf.bfloat16), training=True)
    assert out.dtype == tf.bfloat16
    assert np.isfinite(tf.cast(out, tf.float32)).all()


def test_norm_layer_builds_it_and_weight_files_match_keras(tmp_path):
    assert type(norm_layer("batch")) is BatchNormalization
    keras_bn, fused_bn = pair()
    keras_model = keras.Sequential([keras.Input((6, 7, 5)), keras_bn])
    fused_model = keras.Sequential([keras.Input((6, 7, 5)), BatchNormalization()])
    keras_model.save_weights(tmp_path / "keras.weights.h5")
    fused_model.load_weights(tmp_path / "keras.weights.h5")
    for want, got in zip(keras_bn.get_weights(), fused_model.get_weights()):
        np.testing.assert_array_equal(got, want)


def test_unknown_batch_and_sides():
    # A step traced without a static batch (no drop_remainder) still counts pixels right.
    keras_bn, fused_bn = pair()
    spec = [tf.TensorSpec([None, None, None, 5], tf.float32)]
    traced = tf.function(lambda x: fused_bn(x, training=True), input_signature=spec)
    x = images(seed=3)
    np.testing.assert_allclose(traced(x), keras_bn(x, training=True), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(fused_bn.moving_variance, keras_bn.moving_variance, rtol=1e-5)
