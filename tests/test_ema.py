"""--ema: an exponential moving average of G's weights, kept in the trainer and used to sample."""

import json

import numpy as np
import pytest

from kerasgan.config import CycleGANConfig, GANConfig
from kerasgan.data.shapes_judge import grid_tiles
from kerasgan.errors import UserError
from kerasgan.recipes import load_run, run_config
from kerasgan.recipes import gan as gan_recipe
from kerasgan.recipes.cyclegan import CycleGAN
from kerasgan.recipes.gan import GAN
from kerasgan.runs import Run
from kerasgan.trainers.ema import decay_at

TINY = {"image_size": 32, "num_images": 32, "batch_size": 8, "width": 4, "noise_dim": 8, "verbose": 0, "xla": "off"}


def test_ema_is_off_by_default_and_checked():
    assert GANConfig(data_dir="photos").resolved().ema == 0.0 and CycleGANConfig().resolved().ema == 0.0
    assert GANConfig().resolved().ema == 0.999  # the DCGAN on the built-in shapes (#13)
    assert GANConfig(ema=0.999).resolved().ema == 0.999
    with pytest.raises(UserError, match="--ema must be in"):
        GANConfig(ema=1.0).resolved()
    with pytest.raises(UserError, match="--ema must be in"):
        CycleGANConfig(ema=-0.1).resolved()


def test_a_run_saved_before_ema_existed_loads_without_it(tmp_path):
    # config.json written by an older kerasgan has no "ema": such runs trained without one.
    run = Run(tmp_path / "old")
    run.root.mkdir()
    values = GANConfig().resolved().to_dict()
    del values["ema"]
    run.config_path.write_text(json.dumps(values))
    assert run_config(run).ema == 0.0


def test_the_average_follows_g_after_each_step_and_is_what_samples(tmp_path):
    gan = GAN(ema=0.9, **TINY)
    gan.fit(steps=3, runs_dir=str(tmp_path / "runs"), name="ema")
    trainer = gan.trainer
    samples = gan.sample(4, seed=3)
    assert trainer.ema_generator is not None and not trainer.ema_generator.trainable_weights
    assert gan.generator is trainer.ema_generator  # sample(), FID and export use the average
    live = [w.numpy() for w in trainer.generator.weights]
    average = [w.numpy() for w in trainer.ema_generator.weights]
    assert max(np.abs(a - b).max() for a, b in zip(live, average)) > 0  # an average, not a copy

    # One more step by hand: average <- d * average + (1 - d) * G, d the warmed-up decay.
    batch = np.random.default_rng(0).uniform(-1, 1, (8, 32, 32, 3)).astype("float32")
    trainer.train_on_batch(batch)
    d = float(decay_at(0.9, 4))
    assert d == pytest.approx(min(0.9, 5 / 14))
    for before, slow, fast in zip(average, trainer.ema_generator.weights, trainer.generator.weights):
        np.testing.assert_allclose(slow.numpy(), d * before + (1 - d) * fast.numpy(), rtol=1e-5, atol=1e-6)

    # The checkpoint holds the average: a reloaded run samples the same images.
    loaded = load_run(tmp_path / "runs" / "ema", quiet=True)
    for a, b in zip(loaded.trainer.ema_generator.weights, average):
        np.testing.assert_allclose(a.numpy(), b)
    np.testing.assert_array_equal(loaded.sample(4, seed=3), samples)


def test_export_and_sample_grids_use_the_average(tmp_path):
    config = GANConfig(ema=0.5, **TINY).resolved()
    trainer = gan_recipe.build_trainer(config)
    for weight in trainer.ema_generator.weights:  # an average plainly unlike G: all zeros draws flat grey
        weight.assign(weight * 0.0)
    tiles = grid_tiles(gan_recipe.sample_render(trainer, config)(), 32)
    assert len(tiles) == 64 and tiles.std() < 1
    path = gan_recipe.export_model(trainer, config, tmp_path / "exports", "ema", {})
    from kerasgan.recipes import load_export

    images = load_export(path.parent)(num=2)
    assert images.std() < 1  # the exported generator is the (flat) average, not G


def test_cyclegan_keeps_averages_of_both_generators(tmp_path):
    cycle = CycleGAN(ema=0.9, num_images=8, batch_size=2, g_filters=4, d_filters=4, g_blocks=1, verbose=0,
                     xla="off", num_samples=2)
    cycle.fit(steps=2, runs_dir=str(tmp_path / "runs"), name="cyc")
    trainer = cycle.trainer
    assert trainer.translators == (trainer.ema_g_xy, trainer.ema_g_yx)
    moved = [np.abs(a.numpy() - b.numpy()).max() for a, b in zip(trainer.ema_g_xy.weights, trainer.g_xy.weights)]
    assert max(moved) > 0
    images = np.random.default_rng(0).integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    expected = trainer.ema_g_yx(images.astype("float32") / 127.5 - 1.0, training=False).numpy()
    got = cycle.translate(images, "y2x").astype("float32") / 127.5 - 1.0
    assert np.abs(got - expected).max() <= 1 / 127.5 + 1e-6
