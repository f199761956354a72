"""The R1 penalty on real images (--r1 GAMMA; Mescheder et al. 2018)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasgan import losses
from kerasgan.config import GANConfig
from kerasgan.errors import UserError
from kerasgan.nets import dcgan
from kerasgan.recipes import gan as gan_recipe
from kerasgan.trainers.gan import GANTrainer


def test_r1_of_a_quadratic_critic_is_the_squared_norm_of_the_image():
    # D(x) = sum(x^2) / 2 has gradient x, so the penalty is |x|^2: 1 + 4 = 5 and 9 + 0 = 9.
    real = tf.constant([[[[1.0], [2.0]]], [[[3.0], [0.0]]]])
    penalty = losses.r1_penalty(lambda x: 0.5 * tf.reduce_sum(tf.square(x), axis=[1, 2, 3])[:, None], real)
    np.testing.assert_allclose(penalty.numpy(), [5.0, 9.0], rtol=1e-6)


def tiny_trainer(r1, loss="bce"):
    keras.utils.set_random_seed(0)
    g = dcgan.build_generator(16, 8, 4)
    d = dcgan.build_discriminator(16, 4, norm="none")
    trainer = GANTrainer(g, d, loss=loss, seed=0, r1=r1)
    trainer.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3), jit_compile=False)
    return trainer


def test_d_loss_adds_half_gamma_times_the_mean_penalty():
    real = tf.random.uniform((4, 16, 16, 3), -1.0, 1.0, seed=1)
    fake = tf.random.uniform((4, 16, 16, 3), -1.0, 1.0, seed=2)
    trainer = tiny_trainer(r1=3.0)
    d = trainer.discriminator
    plain = np.mean(losses.d_loss("bce", d(real), d(fake)))
    penalty = np.mean(losses.r1_penalty(d, real))
    assert penalty > 0
    trainer.d_update(real, None, fake, None)
    np.testing.assert_allclose(trainer.trackers["r1"].result(), penalty, rtol=1e-4)
    np.testing.assert_allclose(trainer.trackers["d_loss"].result(), plain + 1.5 * penalty, rtol=1e-4)


def test_the_penalty_flattens_d_around_the_reals():
    """Its gradient reaches D's weights: D trained with it ends with a far smaller slope at the
    reals than the same D trained without (which sharpens to separate reals from fakes)."""
    real = tf.random.uniform((8, 16, 16, 3), -1.0, 1.0, seed=3)
    fake = tf.random.uniform((8, 16, 16, 3), -1.0, 1.0, seed=4)
    slopes = {}
    for r1 in (0.0, 10.0):
        trainer = tiny_trainer(r1)
        for _ in range(60):
            trainer.d_update(real, None, fake, None)
        slopes[r1] = float(np.mean(losses.r1_penalty(trainer.discriminator, real)))
    assert slopes[10.0] < 0.1 * slopes[0.0], slopes  # measured: 0.053 against 3.26


def test_the_option_reaches_the_trainer_and_is_refused_where_it_does_not_apply():
    config = GANConfig(model="dcgan", loss="bce", image_size=16, width=4, r1=1.0).resolved()
    assert gan_recipe.build_trainer(config).r1 == 1.0
    assert "R1 gamma 1" in gan_recipe.describe(config)
    assert "R1" not in gan_recipe.describe(config.replace(r1=0.0))
    for options in ({"model": "wgan-gp"}, {"model": "dcgan", "loss": "wgan"}, {"model": "began"}):
        with pytest.raises(UserError, match="--r1"):
            GANConfig(r1=1.0, **options).resolved()
    with pytest.raises(UserError, match="--r1 must be 0 or more"):
        GANConfig(r1=-1.0).resolved()
    with pytest.raises(ValueError, match="R1"):
        tiny_trainer(1.0, loss="wgan-gp")
