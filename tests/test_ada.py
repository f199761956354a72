"""Adaptive augmentation (--ada): p's update against the formula, augmentation with
probability p, the config, and exact resume with p in the checkpoint."""

import keras
import numpy as np
import pytest

from kerasgan.augment.ada import AdaptiveAugment, next_p
from kerasgan.augment.diffaug import diff_augment
from kerasgan.commands import train_gan
from kerasgan.config import GANConfig
from kerasgan.errors import InvalidValue
from kerasgan.recipes import gan as gan_recipe
from kerasgan.runs import checkpoint_step


def test_next_p_follows_the_formula_and_stays_in_0_1():
    # p + sign(r_t - target) * images / (kimg * 1000)
    cases = [((0.5, 0.9, 0.6, 32, 20.0), 0.5 + 32 / 20000),
             ((0.5, 0.1, 0.6, 32, 20.0), 0.5 - 32 / 20000),
             ((0.5, 0.6, 0.6, 32, 20.0), 0.5),  # r_t on target: no move
             ((0.3, -1.0, 0.6, 64, 0.5), 0.3 - 64 / 500),
             ((0.999, 1.0, 0.6, 64, 20.0), 1.0),  # clipped above
             ((0.001, -0.2, 0.6, 64, 20.0), 0.0)]  # and below
    for args, expected in cases:
        assert float(next_p(*args)) == pytest.approx(expected, abs=1e-7), args


def test_p_moves_every_interval_by_the_intervals_mean_sign():
    """Intervals of 4 steps of 2 images, r_t and p worked out by hand."""
    ada = AdaptiveAugment(target=0.6, interval=4, kimg=0.08)  # 80 images move p by 1, an interval's 8 by 0.1
    # An image's logits (D's 5x5 maps, say): its sign is that of their mean.
    pos, neg, zero = [2.0, -1.0], [-3.0, 1.0], [1.0, -1.0]
    intervals = [  # (4 steps of [image, image], r_t, p after the interval)
        ([[pos, pos], [pos, pos], [neg, pos], [pos, pos]], 6 / 8, 0.1),
        ([[neg, pos], [neg, neg], [pos, pos], [zero, neg]], -1 / 8, 0.0),
        ([[neg, pos], [neg, neg], [pos, pos], [zero, neg]], -1 / 8, 0.0),  # 0.0 - 0.1, clipped
        ([[pos, pos]] * 4, 1.0, 0.1),
        ([[pos, pos]] * 4, 1.0, 0.2),
        ([[pos, zero]] * 4, 4 / 8, 0.1),
    ]
    step = 0
    for logits, r_t, p in intervals:
        before = float(ada.p)
        for batch in logits:
            step += 1
            mean_sign = float(ada.observe(np.array(batch, np.float32)))
            assert mean_sign == pytest.approx(np.mean(np.sign(np.mean(batch, axis=1))))
            if step % 4 == 0:
                assert float(ada.sign_sum) / float(ada.seen) == pytest.approx(r_t)
            ada.adjust(step)
            if step % 4:  # mid-interval: p unchanged, the sums growing
                assert float(ada.p) == before and float(ada.seen) == 2 * (step % 4)
        assert float(ada.sign_sum) == float(ada.seen) == 0.0
        assert float(ada.p) == pytest.approx(p, abs=1e-6), (step, r_t)


def test_each_policy_applies_to_each_image_with_probability_p():
    images = np.random.default_rng(0).uniform(-1, 1, (400, 16, 16, 3)).astype(np.float32)

    def augmented(policy, p, seed=3):
        return np.asarray(diff_augment(images, policy, keras.random.SeedGenerator(seed), probability=p))

    assert np.array_equal(augmented(("translation", "cutout"), 0.0), images)
    # p = 1: every image transformed, as DiffAugment without ADA (its own draws are the same).
    full = np.asarray(diff_augment(images, ("color",), keras.random.SeedGenerator(3)))
    np.testing.assert_allclose(augmented(("color",), 1.0), full, atol=1e-6)
    changed = np.abs(augmented(("color",), 0.3) - images).max(axis=(1, 2, 3)) > 1e-6
    assert 0.2 < changed.mean() < 0.4  # 400 images: 0.3 +- 0.07 at 3 sigma


def test_config():
    on = GANConfig(model="dcgan", data_dir="images", ada=True).resolved()
    assert on.diffaug_policy == ("color", "translation", "cutout") and (on.ada_target, on.ada_interval) == (0.6, 4)
    assert GANConfig(ada=True, diffaug="translation").resolved().diffaug_policy == ("translation",)
    for bad, match in [({"model": "began"}, "began"), ({"diffaug": "none"}, "--diffaug"),
                       ({"ada_target": 1.0}, "--ada-target"), ({"ada_kimg": 0.0}, "--ada-kimg")]:
        with pytest.raises(InvalidValue, match=match):
            GANConfig(ada=True, **bad).resolved()


@pytest.mark.parametrize("model", ["dcgan", "cdcgan", "infogan"])
def test_every_kind_of_gan_trainer_steers_p(model):
    """GANTrainer, the conditional trainer and InfoGAN's (D's logits in a dict) all feed ADA:
    p after each step is the formula applied to that step's logged r_t."""
    from kerasgan.data.pipeline import make_dataset
    from kerasgan.data.shapes import ATTRIBUTES, make_shapes

    config = train_gan.config_from_flags(["--model", model, "--image-size", "16", "--width", "4", "--noise-dim", "16",
                                          "--ada", "--ada-interval", "1", "--ada-kimg", "0.1", "--ada-target", "-0.9"])
    label_names = {k: list(v) for k, v in ATTRIBUTES.items()}
    trainer = gan_recipe.build_trainer(config, label_names)
    trainer.compile(*gan_recipe.build_optimizers(config, 4), jit_compile=False)
    images, labels = make_shapes(32, 16, seed=1)
    steps = []
    record = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs=None: steps.append(dict(logs)))
    trainer.fit(make_dataset(images, 16, 8, labels=labels if model == "cdcgan" else None), steps_per_epoch=4,
                epochs=1, verbose=0, callbacks=[record])
    p = 0.0
    for step in steps:
        p = min(max(p + np.sign(float(step["ada_r"]) + 0.9) * 0.08, 0.0), 1.0)
        assert float(step["ada_p"]) == pytest.approx(p, abs=1e-6)
    assert len(steps) == 4 and float(trainer.ada.p) == pytest.approx(p, abs=1e-6) and p > 0


def test_resume_with_ada_is_exact_and_p_is_checkpointed_and_logged(tmp_path):
    """FastGAN with ADA moving p at every step: 3 steps, killed, resumed to 6 = 6 straight steps,
    bit for bit (G, D, the decoders, G's average, the noise layers' seeds, p and its sums)."""
    common = ["--model", "fastgan", "--image-size", "32", "--width", "4", "--noise-dim", "16", "--num-images", "32",
              "--ada", "--ada-interval", "1", "--ada-kimg", "0.1", "--ada-target", "-0.5", "--log-every", "1",
              "--no-export", "--runs-dir", str(tmp_path / "runs"), "--verbose", "0", "--sample-every", "100"]
    straight = train_gan.main(common + ["--steps", "6", "--name", "straight"])
    train_gan.main(common + ["--steps", "3", "--name", "split"])
    resumed = train_gan.main(common + ["--steps", "6", "--name", "split", "--resume"])
    assert checkpoint_step(straight) == checkpoint_step(resumed) == 6

    def state(run):
        config = train_gan.config_from_flags(common)
        trainer = gan_recipe.build_trainer(config)
        trainer.compile(*gan_recipe.build_optimizers(config, 6))
        trainer.load_weights(run.checkpoint_path())
        return trainer, [np.asarray(w) for w in trainer.weights]

    (trainer, a), (_, b) = state(straight), state(resumed)
    names = [w.path for w in trainer.weights]
    assert any("seed_generator_state" in n for n in names) and any(n.endswith("/p") for n in names)
    for name, x, y in zip(names, a, b):
        assert np.array_equal(x, y), name
    # Interval 1: p moved after every step by the step's own r_t (logged as ada_r), 8 images / 100.
    from test_dcgan_training import scalar_curves

    curves = scalar_curves(straight.logs, ["ada_p", "ada_r"])
    p = 0.0
    for step in range(1, 7):
        p = min(max(p + np.sign(curves["ada_r"][step] + 0.5) * 0.08, 0.0), 1.0)
        assert curves["ada_p"][step] == pytest.approx(p, abs=1e-6), step
    assert float(trainer.ada.p) == pytest.approx(p, abs=1e-6) and p > 0.0
