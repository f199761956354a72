"""Adversarial, gradient-penalty, cycle, identity and SSIM losses as small pure functions.

Every adversarial loss takes D's raw outputs (logits, shape [B, ...]) and returns a
per-example loss of shape [B]; the trainer sums and divides by the *global* batch size, so
the same code is right on one device and under `tf.distribute` strategies. Targets may be
floats or per-example tensors (label smoothing, noisy labels).
"""

import tensorflow as tf
from keras import ops

ADVERSARIAL_LOSSES = ("lsgan", "bce", "hinge", "wgan", "wgan-gp")
CYCLE_LOSSES = ("l1", "ssim")


def per_example_mean(x):
    """Mean over every axis but the batch axis: [B, ...] -> [B]."""
    return ops.mean(ops.reshape(x, (ops.shape(x)[0], -1)), axis=1)


# Least squares (Mao et al.): D pushes real to b and fake to a; G pushes fake to c.
def lsgan_d(real_logits, fake_logits, real_target=1.0, fake_target=0.0):
    return 0.5 * per_example_mean(ops.square(real_logits - real_target)) + 0.5 * per_example_mean(
        ops.square(fake_logits - fake_target)
    )


def lsgan_g(fake_logits, target=1.0):
    return 0.5 * per_example_mean(ops.square(fake_logits - target))


# Non-saturating binary cross-entropy (Goodfellow et al.), on logits for stability.
def _bce(logits, target):
    target = ops.broadcast_to(ops.cast(target, logits.dtype), ops.shape(logits))
    return per_example_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=target, logits=logits))


def bce_d(real_logits, fake_logits, real_target=1.0, fake_target=0.0):
    return _bce(real_logits, real_target) + _bce(fake_logits, fake_target)


def bce_g(fake_logits, target=1.0):
    return _bce(fake_logits, target)


# Hinge (Lim & Ye; SAGAN).
def hinge_d(real_logits, fake_logits):
    return per_example_mean(ops.relu(1.0 - real_logits)) + per_example_mean(ops.relu(1.0 + fake_logits))


def hinge_g(fake_logits):
    return -per_example_mean(fake_logits)


# Wasserstein (Arjovsky et al.): the critic maximises E[D(real)] - E[D(fake)].
def wasserstein_d(real_logits, fake_logits):
    return per_example_mean(fake_logits) - per_example_mean(real_logits)


def wasserstein_g(fake_logits):
    return -per_example_mean(fake_logits)


def squared_input_gradient(critic, images):
    """||d critic(x) / dx||^2 per example [B]: the slope both gradient penalties measure.

    Recorded on any enclosing tape, so a loss built from it trains the critic's weights.
    """
    with tf.GradientTape() as tape:
        tape.watch(images)
        scores = critic(images)
    grads = tape.gradient(scores, images)
    return ops.sum(ops.square(ops.reshape(grads, (ops.shape(grads)[0], -1))), axis=1)


def gradient_penalty(critic, real, fake, alpha, center=1.0):
    """WGAN-GP (Gulrajani et al.): (||grad D(x_hat)||_2 - center)^2 per example.

    x_hat = real + alpha * (fake - real), alpha [B, 1, 1, 1] in [0, 1]. `critic` maps images
    to logits (call it with training=True from a train step). center 1 holds D near
    1-Lipschitz; center 0 (Thanh-Tung et al. 2019) pulls D's slope toward 0 between the
    real and fake images, which keeps D from growing sharp around the training images.
    """
    norms = ops.sqrt(squared_input_gradient(critic, real + alpha * (fake - real)) + 1e-12)
    return ops.square(norms - center)


def r1_penalty(critic, real):
    """R1 (Mescheder et al. 2018): ||grad D(x)||^2 per example, at the real images.

    Penalizing D's slope on the data alone keeps D from sharpening around the reals G has
    not reached yet, which makes the non-saturating and least squares games converge
    instead of circling. The caller weighs it by gamma / 2.
    """
    return squared_input_gradient(critic, real)


def d_loss(kind, real_logits, fake_logits, real_target=1.0, fake_target=0.0):
    """Discriminator loss per example for one of ADVERSARIAL_LOSSES (targets: lsgan, bce)."""
    if kind == "lsgan":
        return lsgan_d(real_logits, fake_logits, real_target, fake_target)
    if kind == "bce":
        return bce_d(real_logits, fake_logits, real_target, fake_target)
    if kind == "hinge":
        return hinge_d(real_logits, fake_logits)
    if kind in ("wgan", "wgan-gp"):
        return wasserstein_d(real_logits, fake_logits)
    raise ValueError(f"unknown loss {kind!r}; choose one of {ADVERSARIAL_LOSSES}")


def g_loss(kind, fake_logits, target=1.0):
    """Generator loss per example for one of ADVERSARIAL_LOSSES."""
    if kind == "lsgan":
        return lsgan_g(fake_logits, target)
    if kind == "bce":
        return bce_g(fake_logits, target)
    if kind == "hinge":
        return hinge_g(fake_logits)
    if kind in ("wgan", "wgan-gp"):
        return wasserstein_g(fake_logits)
    raise ValueError(f"unknown loss {kind!r}; choose one of {ADVERSARIAL_LOSSES}")


# Image-to-image losses (CycleGAN).
def l1(a, b):
    """Mean absolute error per example."""
    return per_example_mean(ops.abs(a - b))


def ssim_loss(a, b):
    """1 - SSIM per example, for images in [-1, 1] (SSIM computed on [0, 1], 11x11 Gaussian)."""
    ssim = tf.image.ssim((a + 1.0) / 2.0, (b + 1.0) / 2.0, max_val=1.0)
    return 1.0 - ssim


def ssim_l1(real, reconstructed, ssim_weight=0.84):
    """alpha * (1 - SSIM) + (1 - alpha) * L1 per example, alpha = 0.84 (Zhao et al., 2017).

    Both terms are measured on [0, 1] images, as in that paper (hence L1 / 2).
    """
    return ssim_weight * ssim_loss(real, reconstructed) + (1 - ssim_weight) * 0.5 * l1(real, reconstructed)


def cycle_loss(real, reconstructed, kind="l1", ssim_weight=0.84):
    """L1, or the mix alpha*(1-SSIM) + (1-alpha)*L1 with alpha=0.84 (`ssim_l1`)."""
    if kind == "l1":
        return l1(real, reconstructed)
    if kind == "ssim":
        return ssim_l1(real, reconstructed, ssim_weight)
    raise ValueError(f"unknown cycle loss {kind!r}; choose one of {CYCLE_LOSSES}")
