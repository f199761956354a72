"""ProGAN's minibatch standard deviation in the DCGAN and BEGAN discriminators (--minibatch-std)."""

import numpy as np
import pytest
import tensorflow as tf

from kerasgan.config import GANConfig
from kerasgan.errors import UserError
from kerasgan.nets import began, dcgan
from kerasgan.nets.layers import MinibatchStdDev
from kerasgan.recipes import gan as gan_recipe
from kerasgan.trainers.began import BEGANTrainer
from kerasgan.trainers.gan import GANTrainer


def test_the_appended_map_holds_the_batch_spread_averaged_over_features():
    # Two examples of one pixel and two features: [0, 0] and [2, 4]. The per-feature
    # (population) deviations over the batch are 1 and 2, so the map holds their mean, 1.5.
    x = tf.constant([[[[0.0, 0.0]]], [[[2.0, 4.0]]]])
    out = MinibatchStdDev()(x).numpy()
    assert out.shape == (2, 1, 1, 3)
    np.testing.assert_allclose(out[..., :2], x.numpy())
    np.testing.assert_allclose(out[..., 2], 1.5, rtol=1e-6)


def test_a_batch_of_copies_shows_no_spread():
    x = tf.tile(tf.random.normal((1, 4, 4, 3), seed=1), (8, 1, 1, 1))
    spread = MinibatchStdDev()(x).numpy()[..., 3]
    np.testing.assert_allclose(spread, 1e-4, rtol=1e-3)  # sqrt of the 1e-8 that keeps the gradient finite


def test_the_dcgan_discriminator_sees_the_rest_of_the_batch_only_when_asked():
    images = tf.random.uniform((4, 16, 16, 3), -1.0, 1.0, seed=2)
    changed = tf.concat([images[:1], -images[1:]], axis=0)  # the same first image, other company
    for minibatch_std in (False, True):
        d = dcgan.build_discriminator(16, 4, norm="none", minibatch_std=minibatch_std)
        first, again = d(images)[0, 0], d(changed)[0, 0]
        assert (abs(float(first - again)) > 1e-6) == minibatch_std


def test_reals_and_fakes_go_through_a_minibatch_std_critic_apart():
    """Concatenated, the fakes' spread would enter the reals' logits and hide what D should see."""
    d = dcgan.build_discriminator(16, 4, norm="none", minibatch_std=True)
    trainer = GANTrainer(dcgan.build_generator(16, 8, 4), d, loss="bce", seed=0)
    real = tf.random.uniform((4, 16, 16, 3), -1.0, 1.0, seed=3)
    fake = tf.zeros((4, 16, 16, 3))  # no spread at all
    real_logits, fake_logits = trainer.discriminate(real, fake)
    np.testing.assert_allclose(real_logits, d(real), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fake_logits, d(fake), rtol=1e-5, atol=1e-6)
    joint = d(tf.concat([real, fake], axis=0))[:4]
    assert np.abs(joint - real_logits).max() > 1e-6


def test_the_began_autoencoder_sees_the_rest_of_the_batch_only_when_asked():
    images = tf.random.uniform((4, 16, 16, 1), -1.0, 1.0, seed=4)
    changed = tf.concat([images[:1], -images[1:]], axis=0)
    for minibatch_std in (False, True):
        d = began.build_began_discriminator(16, hidden=8, width=4, init="xavier", channels=1,
                                            minibatch_std=minibatch_std)
        first, again = d(images)[0], d(changed)[0]
        assert (float(tf.reduce_max(tf.abs(first - again))) > 1e-6) == minibatch_std


def test_began_reconstructs_reals_and_fakes_apart_when_its_encoder_has_the_spread():
    """L(x) must be the reals' own error: in one joint pass the fakes' spread would enter it."""
    d = began.build_began_discriminator(16, hidden=8, width=4, init="xavier", channels=1,
                                        minibatch_std=True)
    trainer = BEGANTrainer(began.build_began_generator(16, 8, 4, channels=1), d, gamma=1.0)
    real = tf.random.uniform((4, 16, 16, 1), -1.0, 1.0, seed=5)
    fake = tf.zeros((4, 16, 16, 1))
    loss_real, loss_fake = trainer.reconstruction_errors(real, fake)
    np.testing.assert_allclose(loss_real, tf.reduce_mean(tf.abs(d(real) - real)), rtol=1e-5)
    np.testing.assert_allclose(loss_fake, tf.reduce_mean(tf.abs(d(fake) - fake)), rtol=1e-5)
    joint = d(tf.concat([real, fake], axis=0))[:4]
    assert abs(float(tf.reduce_mean(tf.abs(joint - real))) - float(loss_real)) > 1e-6


def test_the_option_builds_the_layer_for_the_dcgan_family_and_began_and_is_refused_elsewhere():
    for model in ("lsgan", "began"):
        config = GANConfig(model=model, image_size=16, width=4, minibatch_std=True).resolved()
        names = [layer.name for layer in gan_recipe.build_trainer(config).discriminator.layers]
        assert "minibatch_std" in names
    for model in ("gan", "infogan", "cdcgan"):
        with pytest.raises(UserError, match="--minibatch-std"):
            GANConfig(model=model, minibatch_std=True).resolved()


@pytest.mark.parametrize("model", ["lsgan", "began"])
def test_the_run_header_says_when_d_sees_the_batch_spread(model):
    config = GANConfig(model=model, image_size=32).resolved()
    assert "minibatch std" not in gan_recipe.describe(config)
    assert "minibatch std in D" in gan_recipe.describe(config.replace(minibatch_std=True))
