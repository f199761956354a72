"""WGAN's critic updates each draw a fresh real batch (Arjovsky et al., Algorithm 1; Gulrajani
et al., Algorithm 1): one step takes n_critic batches and deals one to each critic update."""


import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasgan.runs import checkpoint_step
from kerasgan.commands import train_gan as train_dcgan
from kerasgan.recipes import load_run
from kerasgan.data import pipeline
from kerasgan.nets import conditional, dcgan, infogan
from kerasgan.trainers.began import BEGANTrainer
from kerasgan.trainers.conditional import ConditionalGANTrainer
from kerasgan.trainers.gan import GANTrainer
from kerasgan.trainers.infogan import InfoGANTrainer

SIZE = 16
B = 2


def numbered_images(count):
    """Images whose every pixel holds the image's number (scaled into [-1, 1])."""
    values = np.arange(count, dtype=np.float32) / 100.0
    return tf.constant(np.broadcast_to(values[:, None, None, None], (count, SIZE, SIZE, 3)).copy())


def image_numbers(images):
    return [int(round(v * 100)) for v in np.asarray(images)[:, 0, 0, 0]]


def record_d_updates(trainer):
    seen = []
    original = trainer.d_update

    def spy(real, labels, fake, codes):
        seen.append((image_numbers(real), None if labels is None else {k: np.asarray(v).tolist()
                                                                          for k, v in labels.items()}))
        return original(real, labels, fake, codes)

    trainer.d_update = spy
    return seen


def compiled(trainer):
    trainer.compile(keras.optimizers.Adam(1e-3, 0.5), keras.optimizers.Adam(1e-3, 0.5), jit_compile=False)
    return trainer


def gan(**kwargs):
    return compiled(GANTrainer(dcgan.build_generator(SIZE, 8, 4), dcgan.build_discriminator(SIZE, 4, norm="none"),
                               seed=0, **kwargs))


@pytest.mark.parametrize("loss", ["wgan", "wgan-gp"])
def test_each_critic_update_sees_its_own_real_slice(loss):
    trainer = gan(loss=loss, n_critic=3)
    assert trainer.real_batches_per_step == 3
    seen = record_d_updates(trainer)
    trainer.train_step(numbered_images(3 * B))
    # Three updates, on rows 0,3 / 1,4 / 2,5: every real image once, no slice repeated.
    assert [numbers for numbers, _ in seen] == [[0, 3], [1, 4], [2, 5]]


def test_a_step_equals_three_hand_run_critic_updates_on_the_three_slices():
    def pair():
        keras.utils.set_random_seed(5)
        return gan(loss="wgan-gp", n_critic=3)

    real = tf.random.stateless_uniform((3 * B, SIZE, SIZE, 3), (1, 2), -1.0, 1.0)
    stepped, by_hand = pair(), pair()
    stepped.train_step(real)
    by_hand.d_step(real[0::3])
    by_hand.d_step(real[1::3])
    by_hand.fused_step(real[2::3])
    for got, want in zip(stepped.weights, by_hand.weights):
        np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-6)


def test_one_critic_update_uses_the_whole_batch_and_began_takes_one_batch():
    trainer = gan(loss="lsgan", n_critic=1)
    assert trainer.real_batches_per_step == 1
    seen = record_d_updates(trainer)
    trainer.train_step(numbered_images(B))
    assert [numbers for numbers, _ in seen] == [[0, 1]]
    began = BEGANTrainer(dcgan.build_generator(SIZE, 8, 4), dcgan.build_discriminator(SIZE, 4), seed=0)
    assert began.real_batches_per_step == 1


def test_critic_slices_are_equal_and_interleaved():
    from kerasgan.trainers.gan import critic_slices

    rows = tf.range(7)
    assert [s.numpy().tolist() for s in critic_slices(rows, 3)] == [[0, 3], [1, 4], [2, 5]]
    labels = {"shape": tf.range(6) * 10}
    assert [s["shape"].numpy().tolist() for s in critic_slices(labels, 2)] == [[0, 20, 40], [10, 30, 50]]


def test_conditional_critic_updates_get_their_slices_labels():
    num_classes = {"shape": 3, "color": 2}
    trainer = compiled(ConditionalGANTrainer(
        conditional.build_conditional_dcgan_generator(num_classes, SIZE, 8, width=4),
        conditional.build_conditional_dcgan_discriminator(num_classes, SIZE, width=4, norm="none"),
        num_classes, loss="wgan-gp", n_critic=2, seed=0))
    seen = record_d_updates(trainer)
    labels = {"shape": tf.constant([0, 1, 2, 0]), "color": tf.constant([1, 0, 1, 0])}
    trainer.train_step((numbered_images(2 * B), labels))
    assert seen == [([0, 2], {"shape": [0, 2], "color": [1, 1]}),
                    ([1, 3], {"shape": [1, 0], "color": [0, 0]})]


def test_supervised_infogan_critic_updates_get_their_slices_labels():
    categorical = {"shape": 3}
    generator = infogan.build_infogan_generator(categorical, 1, SIZE, 8, width=4)
    discriminator = infogan.build_infogan_discriminator(categorical, 1, SIZE, width=4, norm="none")
    trainer = compiled(InfoGANTrainer(generator, discriminator, categorical, continuous=1, supervised="shape",
                                      loss="wgan-gp", n_critic=2, seed=0))
    seen = record_d_updates(trainer)
    trainer.train_step((numbered_images(2 * B), {"shape": tf.constant([0, 1, 2, 1])}))
    assert seen == [([0, 2], {"shape": [0, 2]}), ([1, 3], {"shape": [1, 1]})]


def test_the_recipe_reads_n_critic_batches_per_step_and_resumes_exactly(tiny_args, monkeypatch):
    sizes = []
    original = pipeline.make_dataset

    def spy(images, image_size, batch_size, *args, **kwargs):
        sizes.append(batch_size)
        return original(images, image_size, batch_size, *args, **kwargs)

    monkeypatch.setattr(pipeline, "make_dataset", spy)
    common = tiny_args + ["--model", "wgan-gp", "--n-critic", "2", "--batch-size", "4", "--image-size", "16",
                          "--no-export", "--diffaug", "translation"]
    straight = train_dcgan.main(common + ["--steps", "4", "--name", "straight"])
    assert sizes == [8]  # 2 critic updates x batch 4
    train_dcgan.main(common + ["--steps", "2", "--name", "split"])
    resumed = train_dcgan.main(common + ["--steps", "4", "--name", "split", "--resume"])
    assert checkpoint_step(resumed) == 4

    def weights(run):
        return [w.numpy() for w in load_run(run.root, quiet=True).trainer.weights]

    for x, y in zip(weights(straight), weights(resumed)):
        np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-5)
