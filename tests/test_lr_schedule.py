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


# -- a longer resumed run continues its decay ------------------------------------------------
def test_decay_knots_hold_then_fall_linearly_or_by_a_cosine():
    from kerasgan.trainers.schedules import Decay, new_decay

    assert new_decay("constant", 1000) is None
    linear = Decay(2.0, new_decay("linear", 1000, 600))
    cosine = Decay(2.0, new_decay("cosine", 1000), "cosine")
    assert [float(linear(s)) for s in (0, 600, 800, 1000, 1200)] == pytest.approx([2, 2, 1, 0, 0])
    assert [float(cosine(s)) for s in (0, 250, 500, 1000)] == pytest.approx([2, 1.7071068, 1, 0], abs=1e-6)


def test_a_decay_under_way_goes_on_from_its_current_rate_to_zero_at_the_new_end():
    from kerasgan.trainers.schedules import Decay, continued_decay, decay_fraction, new_decay

    knots = new_decay("linear", 1000)  # 60% done at step 600: the rate is 0.4 of the initial
    continued, message = continued_decay(knots, 600, 2000, new_decay("linear", 2000))
    assert continued == [[0, 0.0], [600, 0.6], [2000, 1.0]]
    assert "60% of its decay" in message and "600-2000" in message
    rate = Decay(1.0, continued)
    assert [float(rate(s)) for s in (300, 600, 1300, 2000)] == pytest.approx([0.7, 0.4, 0.2, 0.0])
    assert decay_fraction(continued, 1300) == pytest.approx(0.8)


def test_a_decay_not_yet_started_keeps_its_start_and_one_that_ended_is_refused():
    from kerasgan.trainers.schedules import continued_decay, new_decay

    held = new_decay("linear", 1000, 600)
    assert continued_decay(held, 300, 2000, new_decay("linear", 2000, 600))[0] == [[600, 0.0], [2000, 1.0]]
    # CycleGAN's --steps decays over the last half: the new half may start before the resumed step
    assert continued_decay(new_decay("linear", 1000, 500), 800, 3000, new_decay("linear", 3000, 1500))[0] == \
        [[500, 0.0], [800, 0.6], [3000, 1.0]]
    assert continued_decay(held, 300, 1000, held) == (held, None)
    with pytest.raises(ValueError, match="decayed to 0 at step 1000.*start a new run"):
        continued_decay(held, 1000, 2000, new_decay("linear", 2000, 600))


def test_resuming_with_more_steps_continues_the_decay_instead_of_restarting_it(tmp_path):
    """An 8-step decay stopped at step 4 (rate at half) and resumed for 16 steps: the rate goes on
    falling from half to 0 at step 16, where the new length's own decay would be back at 0.69."""
    import json

    import keras

    from kerasgan import GAN
    from kerasgan.runs import trainer_step
    from test_dcgan_training import scalar_curves

    class StopAtStep4(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if trainer_step(self.model) == 4:
                raise KeyboardInterrupt  # as Ctrl-C: the run saves a checkpoint and exits

    options = dict(num_images=32, batch_size=8, width=8, noise_dim=16, runs_dir=str(tmp_path), verbose=0,
                   no_export=True, log_every=1, lr_schedule="linear", lr=1e-3)
    with pytest.raises(SystemExit):
        GAN(steps=8, **options).fit(callbacks=[StopAtStep4()])
    run = GAN(steps=16, **options).fit(resume=True)
    rates = scalar_curves(run.logs, ["lr_g"])["lr_g"]  # logged after step s: the rate of step s + 1
    expected = {5: 0.5e-3 * 11 / 12, 10: 0.25e-3, 16: 0.0}
    assert {s: rates[s] for s in expected} == pytest.approx(expected, abs=1e-9)
    assert json.loads(run.config_path.read_text())["lr_decay"] == [[0, 0.0], [4, 0.5], [16, 1.0]]
