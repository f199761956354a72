"""GAN learning-rate schedules: the rate each optimizer sees at a given step, and bad flags refused."""

import pytest

from kerasgan.config import GANConfig
from kerasgan.errors import UserError
from kerasgan.recipes.gan import build_optimizers


def rate_at(optimizer, iteration):
    optimizer.iterations.assign(iteration)
    return float(optimizer.learning_rate)


def test_a_held_linear_decay_reaches_zero_at_the_last_step_for_both_nets():
    config = GANConfig(model="wgan-gp", image_size=32, steps=1000, lr_schedule="linear",
                       lr_decay_start=600, g_lr=3e-4).resolved()
    g_opt, d_opt = build_optimizers(config, config.steps)
    # G steps once per step; D (n_critic 5) five times, so its schedule runs on 5x the iterations.
    for step, fraction in ((0, 1.0), (600, 1.0), (800, 0.5), (900, 0.25), (1000, 0.0)):
        assert rate_at(g_opt, step) == pytest.approx(3e-4 * fraction, rel=1e-6, abs=1e-12)
        assert rate_at(d_opt, 5 * step) == pytest.approx(1e-4 * fraction, rel=1e-6, abs=1e-12)


def test_without_a_start_the_decay_spans_the_run():
    config = GANConfig(model="dcgan", image_size=32, steps=1000, lr_schedule="linear", lr=2e-4).resolved()
    g_opt, _ = build_optimizers(config, config.steps)
    assert [rate_at(g_opt, s) for s in (0, 250, 1000)] == pytest.approx([2e-4, 1.5e-4, 0.0])


@pytest.mark.parametrize("options, message", [
    ({"lr_decay_start": 500}, "add --lr-schedule linear"),
    ({"lr_decay_start": 500, "lr_schedule": "cosine"}, "add --lr-schedule linear"),
    ({"lr_decay_start": 1000, "lr_schedule": "linear"}, r"in \[0, --steps\) = \[0, 1000\)"),
    ({"lr_decay_start": -1, "lr_schedule": "linear"}, "got -1"),
])
def test_a_decay_start_that_cannot_apply_is_refused(options, message):
    with pytest.raises(UserError, match=message):
        GANConfig(model="dcgan", steps=1000, **options).resolved()


def test_a_start_past_a_run_counted_in_epochs_is_refused_before_training(tmp_path):
    from kerasgan import GAN

    gan = GAN(image_size=32, epochs=1, lr_schedule="linear", lr_decay_start=100000, no_export=True)
    with pytest.raises(UserError, match=r"--lr-decay-start 100000 is not before the run's last step \(\d+\)"):
        gan.fit("shapes", runs_dir=str(tmp_path))
    assert not any(tmp_path.iterdir())  # no run directory left behind
