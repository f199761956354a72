import numpy as np
import pytest
import tensorflow as tf

from kerasgan import losses


def logits(*values):
    return tf.constant(np.array(values, np.float32).reshape(-1, 1))


def test_lsgan_matches_hand_computed_values():
    real, fake = logits(1.0, 0.0), logits(0.0, 1.0)
    # 0.5 (D(x) - 1)^2 + 0.5 D(G(z))^2 per example: [0 + 0, 0.5 + 0.5]
    np.testing.assert_allclose(losses.lsgan_d(real, fake), [0.0, 1.0])
    np.testing.assert_allclose(losses.lsgan_g(logits(0.0, 3.0)), [0.5, 2.0])
    # a/b/c targets: fake pushed to -1, real to 1, G aims at 0.
    np.testing.assert_allclose(losses.lsgan_d(logits(1.0), logits(-1.0), 1.0, -1.0), [0.0])
    np.testing.assert_allclose(losses.lsgan_g(logits(2.0), target=0.0), [2.0])


def test_bce_is_minus_log_sigmoid():
    real, fake = logits(2.0), logits(-1.0)
    sigmoid = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    expected = -np.log(sigmoid(2.0)) - np.log(1 - sigmoid(-1.0))
    np.testing.assert_allclose(losses.bce_d(real, fake), [expected], rtol=1e-6)
    np.testing.assert_allclose(losses.bce_g(fake), [-np.log(sigmoid(-1.0))], rtol=1e-6)
    # One-sided smoothing: target 0.9 for real.
    smoothed = -(0.9 * np.log(sigmoid(2.0)) + 0.1 * np.log(1 - sigmoid(2.0))) - np.log(1 - sigmoid(-1.0))
    np.testing.assert_allclose(losses.bce_d(real, fake, real_target=0.9), [smoothed], rtol=1e-6)


def test_hinge_and_wasserstein():
    real, fake = logits(0.5, 2.0), logits(-2.0, 0.0)
    np.testing.assert_allclose(losses.hinge_d(real, fake), [0.5 + 0.0, 0.0 + 1.0])
    np.testing.assert_allclose(losses.hinge_g(fake), [2.0, 0.0])
    np.testing.assert_allclose(losses.wasserstein_d(real, fake), [-2.5, -2.0])
    np.testing.assert_allclose(losses.wasserstein_g(fake), [2.0, 0.0])


def test_patch_logits_are_averaged_per_example():
    patch = tf.constant(np.stack([np.ones((2, 2, 1)), np.zeros((2, 2, 1))]), tf.float32)
    np.testing.assert_allclose(losses.lsgan_g(patch), [0.0, 0.5])


def test_gradient_penalty_of_a_linear_critic():
    # D(x) = sum(w * x) has gradient w everywhere, so the penalty is (||w|| - 1)^2.
    w = tf.constant(np.full((1, 2, 2, 1), 0.25, np.float32))
    critic = lambda x: tf.reduce_sum(w * x, axis=[1, 2, 3])  # noqa: E731
    real = tf.random.normal((3, 2, 2, 1))
    fake = tf.random.normal((3, 2, 2, 1))
    alpha = tf.random.uniform((3, 1, 1, 1))
    np.testing.assert_allclose(losses.gradient_penalty(critic, real, fake, alpha), [0.25] * 3, rtol=1e-5)


def test_cycle_losses():
    a = tf.zeros((2, 16, 16, 3))
    b = tf.fill((2, 16, 16, 3), 0.5)
    np.testing.assert_allclose(losses.cycle_loss(a, b, "l1"), [0.5, 0.5])
    np.testing.assert_allclose(losses.cycle_loss(a, a, "ssim"), [0.0, 0.0], atol=1e-6)
    # Constant images: SSIM reduces to its luminance term (2 mu1 mu2 + C1) / (mu1^2 + mu2^2 + C1)
    # with mu on [0, 1] (0.5 and 0.75) and C1 = 0.01^2.
    c1 = 0.01**2
    ssim = (2 * 0.5 * 0.75 + c1) / (0.5**2 + 0.75**2 + c1)
    expected = 0.84 * (1 - ssim) + 0.16 * 0.25
    # TF computes variances as E[x^2] - E[x]^2 in float32, hence the looser tolerance.
    np.testing.assert_allclose(losses.cycle_loss(a, b, "ssim"), [expected] * 2, rtol=5e-3)


def test_unknown_loss_is_rejected():
    with pytest.raises(ValueError, match="unknown loss"):
        losses.d_loss("nope", logits(0.0), logits(0.0))
