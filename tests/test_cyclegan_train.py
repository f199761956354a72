"""CycleGAN training: loss values, the history pool, a few real steps, resume, export, CLI."""

import kerasgan  # noqa: F401  (sets TF environment variables first)

import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from kerasgan.commands import train_cyclegan
from kerasgan.recipes import cyclegan as cyclegan_recipe
from kerasgan import callbacks as cb
from kerasgan.data import domains
from kerasgan.data import tfds as tfds_source
from kerasgan.data.domains import load_domains, make_pair_dataset
from kerasgan.errors import UserError
from kerasgan.runs import open_run
from kerasgan.trainers.cycle import CycleGANTrainer, ImagePool
from kerasgan.training import fit

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
APPLES = SHARED_DATA / "apple2orange" / "apple2orange" / "apple"
ORANGES = SHARED_DATA / "apple2orange" / "apple2orange" / "orange"
# Tiny networks: every test here builds and trains in seconds on two CPU cores.
TINY = ["--g-filters", "4", "--d-filters", "4", "--g-blocks", "1", "--batch-size", "2", "--verbose", "0"]


def require_folder(path):
    if path.is_dir():
        return
    reason = f"shared data folder {path} not found (it sits beside the repository in CI)"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def tiny_args(*extra):
    return train_cyclegan.config_from_flags([*TINY, *extra])


# ---------------------------------------------------------------- loss values


def scaling_model(factor, name):
    image = keras.Input((None, None, 3))
    return keras.Model(image, keras.layers.Rescaling(factor)(image), name=name)


def channel_mean_model(name):
    """A stand-in discriminator: one logit per pixel, the mean of its channels."""
    image = keras.Input((None, None, 3))
    return keras.Model(image, keras.layers.Lambda(lambda t: keras.ops.mean(t, -1, keepdims=True))(image), name=name)


def stand_in_trainer(**kwargs):
    """G(x) = x / 2, F(y) = -y, D(image) = channel mean: every loss term is easy to work out."""
    return CycleGANTrainer(scaling_model(0.5, "g"), scaling_model(-1.0, "f"), channel_mean_model("dx"),
                           channel_mean_model("dy"), image_size=16, **kwargs)


def constant_images(value):
    return tf.fill((1, 16, 16, 3), value)


def test_generator_loss_terms_match_hand_computed_values():
    trainer = stand_in_trainer(lambda_cycle=10.0, lambda_identity=0.5)
    terms, fake_x, fake_y = trainer.generator_losses(constant_images(0.4), constant_images(-0.2))
    # G(x) = 0.2, F(y) = 0.2, F(G(x)) = -0.2, G(F(y)) = 0.1, G(y) = -0.1, F(x) = -0.4.
    assert float(fake_y[0, 0, 0, 0]) == pytest.approx(0.2)
    assert float(fake_x[0, 0, 0, 0]) == pytest.approx(0.2)
    # Adversarial (least squares, the paper's full MSE): (0.2 - 1)^2 for each D.
    assert float(terms["adversarial"][0]) == pytest.approx(0.64 + 0.64, abs=1e-6)
    assert float(terms["cycle"][0]) == pytest.approx(0.6 + 0.3, abs=1e-6)  # |0.4 + 0.2| + |-0.2 - 0.1|
    assert float(terms["identity"][0]) == pytest.approx(0.1 + 0.8, abs=1e-6)  # |-0.2 + 0.1| + |0.4 + 0.4|
    # 1.28 + 10 * 0.9 + (10 * 0.5) * 0.9
    assert float(terms["g_loss"][0]) == pytest.approx(14.78, abs=1e-5)


def test_identity_loss_is_off_by_default():
    terms, _, _ = stand_in_trainer().generator_losses(constant_images(0.4), constant_images(-0.2))
    assert "identity" not in terms
    assert float(terms["g_loss"][0]) == pytest.approx(1.28 + 9.0, abs=1e-5)


def ssim_of_constants(a, b, c1=0.01**2):
    """SSIM of two constant images with values a, b in [0, 1]: only the luminance term is left."""
    return (2 * a * b + c1) / (a * a + b * b + c1)


def test_ssim_cycle_loss_matches_hand_computed_values():
    trainer = stand_in_trainer(cycle_loss="ssim")
    terms, _, _ = trainer.generator_losses(constant_images(0.4), constant_images(-0.2))
    # On [0, 1]: x = 0.7 vs F(G(x)) = 0.4; y = 0.4 vs G(F(y)) = 0.55. Mix 0.84 SSIM + 0.16 L1.
    expected = (0.84 * (1 - ssim_of_constants(0.7, 0.4)) + 0.16 * 0.3
                + 0.84 * (1 - ssim_of_constants(0.4, 0.55)) + 0.16 * 0.15)
    # tf.image.ssim's float32 variance of a constant image is off by ~1e-7, against C2 = 9e-4.
    assert float(terms["cycle"][0]) == pytest.approx(expected, abs=1e-3)


def test_discriminator_losses_match_hand_computed_values():
    trainer = stand_in_trainer()
    terms = trainer.discriminator_losses(constant_images(0.4), constant_images(-0.2),
                                         constant_images(0.2), constant_images(0.2))
    # 0.5 * (D(real) - 1)^2 + 0.5 * D(fake)^2
    assert float(terms["d_x_loss"][0]) == pytest.approx(0.5 * 0.36 + 0.5 * 0.04, abs=1e-6)
    assert float(terms["d_y_loss"][0]) == pytest.approx(0.5 * 1.44 + 0.5 * 0.04, abs=1e-6)


def test_hinge_generator_loss_is_unscaled():
    terms, _, _ = stand_in_trainer(loss="hinge").generator_losses(constant_images(0.4), constant_images(-0.2))
    assert float(terms["adversarial"][0]) == pytest.approx(-0.4, abs=1e-6)  # -D(G(x)) - D(F(y))


# ---------------------------------------------------------------- the history pool


def numbered(first, count):
    """Images [count, 1, 1, 1] holding the numbers first, first+1, ... (an id per image)."""
    return np.arange(first, first + count, dtype=np.float32).reshape(count, 1, 1, 1)


def test_pool_fills_first_returning_every_new_image():
    pool = ImagePool(5, (1, 1, 1))
    seed = keras.random.SeedGenerator(0)
    for first in (1, 3):
        np.testing.assert_array_equal(pool.query(numbered(first, 2), seed), numbered(first, 2))
    assert int(pool.count) == 4
    np.testing.assert_array_equal(np.asarray(pool.images).ravel(), [1, 2, 3, 4, 0])


def test_full_pool_returns_a_past_image_half_the_time_and_loses_none():
    pool = ImagePool(10, (1, 1, 1))
    seed = keras.random.SeedGenerator(42)
    query = tf.function(lambda images: pool.query(images, seed), jit_compile=True)
    batch, calls = 4, 250
    outputs = np.concatenate([np.asarray(query(numbered(1 + batch * i, batch))).ravel() for i in range(calls)])
    inputs = np.arange(1, 1 + batch * calls)
    after_full = slice(10, None)
    from_history = outputs[after_full] != inputs[after_full]
    assert np.all(outputs[:10] == inputs[:10])  # filling
    # Binomial(990, 0.5): sd 0.016, so 0.45..0.55 is a ~3 sd band.
    assert 0.45 < from_history.mean() < 0.55
    assert np.all(outputs[after_full][from_history] < inputs[after_full][from_history])  # only the past
    # Nothing is lost or duplicated: every image is returned at once or kept for later; the
    # first ten (stored while filling) were returned at once *and* kept.
    kept = np.asarray(pool.images).ravel()
    np.testing.assert_array_equal(np.sort(np.concatenate([outputs, kept])),
                                  np.sort(np.concatenate([inputs, inputs[:10]])))


def test_zero_size_pool_passes_images_through():
    pool = ImagePool(0, (1, 1, 1))
    np.testing.assert_array_equal(pool.query(numbered(1, 3), keras.random.SeedGenerator(0)), numbered(1, 3))


# ---------------------------------------------------------------- training


def test_a_few_xla_steps_on_shapes():
    args = tiny_args("--pool-size", "3", "--use_identity_loss", "--cycle-loss", "ssim", "--use_diffaug")
    trainer = cyclegan_recipe.build_trainer(args)
    trainer.compile(*cyclegan_recipe.build_optimizers(args, 1, 3), jit_compile=True)
    assert trainer.jit_compile
    pair = load_domains(None, image_size=64, num_images=8, num_test=2)
    history = trainer.fit(make_pair_dataset(pair, 64, 2), steps_per_epoch=3, epochs=1, shuffle=False, verbose=0)
    assert trainer.jit_compile  # Keras did not silently drop XLA
    assert int(trainer.step) == 3 and int(trainer.d_optimizer.iterations) == 3
    assert set(history.history) == {"g_loss", "adversarial", "cycle", "identity", "d_x_loss", "d_y_loss"}
    assert all(np.isfinite(v).all() for v in history.history.values())
    assert int(trainer.pool_x.count) == int(trainer.pool_y.count) == 3
    assert float(trainer.g_optimizer.learning_rate) == pytest.approx(0.0)  # decayed over steps 1..3


def test_a_few_steps_on_real_apples_and_oranges(tmp_path):
    require_folder(APPLES)
    require_folder(ORANGES)
    run = train_cyclegan.main([*TINY, "--x-dir", str(APPLES), "--y-dir", str(ORANGES), "--steps", "2",
                               "--sample-every", "2", "--num-samples", "3", "--no-export", "--no-xla",
                               "--runs-dir", str(tmp_path / "runs")])
    assert run.root.name == "cyclegan_apple2orange_64"
    config = run.load_config()
    assert (config["num_x"], config["num_y"]) == (995, 1019)
    grid = np.asarray(Image.open(run.samples / "step_0000002.png"))
    assert grid.shape == (6 * 66 + 2, 3 * 66 + 2, 3)  # rows X, G(X), F(G(X)), Y, F(Y), G(F(Y))


def train_until(run_dir, stop, total=6, resume=False):
    """Tiny trainer on shapes, LR decaying over steps 3..6, trained (or resumed) up to `stop`."""
    from kerasgan.seeds import seeded

    args = tiny_args("--pool-size", "3")
    with seeded(args.seed):  # as scale.build_trainer builds it: the same initial weights every time
        trainer = cyclegan_recipe.build_trainer(args)
    trainer.compile(*cyclegan_recipe.build_optimizers(args, total // 2, total), jit_compile=False)
    pair = load_domains(None, image_size=64, num_images=8, num_test=1)
    run = open_run(run_dir, "resume", {}, resume)
    fit(trainer, lambda step: make_pair_dataset(pair, 64, 2, "deluxe", start_step=step), run, stop,
        steps_per_epoch=4, callbacks=[cb.Checkpoint(run, every=100)], resume=resume, verbose=0)
    return trainer


def test_resume_gives_the_same_weights_pools_and_schedule(tmp_path):
    straight = train_until(tmp_path / "a", 6)
    train_until(tmp_path / "b", 3)
    resumed = train_until(tmp_path / "b", 6, resume=True)
    assert int(resumed.step) == 6
    assert int(resumed.pool_x.count) == 3 and np.abs(np.asarray(resumed.pool_x.images)).max() > 0
    for name in ("weights", "non_trainable_weights"):
        assert len(getattr(straight, name)) == len(getattr(resumed, name))
    pairs = [*zip(straight.weights, resumed.weights),
             *zip(straight.g_optimizer.variables, resumed.g_optimizer.variables),
             *zip(straight.d_optimizer.variables, resumed.d_optimizer.variables)]
    for a, b in pairs:
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5, err_msg=a.path)
    assert any(v.path.endswith("pool_x/images") for v in resumed.non_trainable_weights)
    # The random stream (pool draws, DiffAugment) continues rather than restarting.
    np.testing.assert_array_equal(straight.seed_generator.state, resumed.seed_generator.state)


# ---------------------------------------------------------------- export and translate


@pytest.fixture(scope="module")
def shapes_run(tmp_path_factory):
    """A 2-step run on shapes through the CLI (XLA is tested above), exported; and its trainer."""
    root = tmp_path_factory.mktemp("cyclegan")
    argv = [*TINY, "--steps", "2", "--num-images", "8", "--no-xla", "--runs-dir", str(root / "runs"),
            "--exports-dir", str(root / "exports")]
    run = train_cyclegan.main(argv)
    args = tiny_args(*argv)
    trainer = cyclegan_recipe.build_trainer(args)
    trainer.compile(*cyclegan_recipe.build_optimizers(args, 1, 2))
    trainer.load_weights(run.checkpoint_path())  # the weights the export was made from
    return root / "exports", trainer


def test_a_longer_resume_of_a_run_whose_rate_reached_zero_is_one_line(shapes_run):
    """Its 2 steps decayed the rate to 0; restarting the decay would jump back to full rate."""
    runs = shapes_run[0].parent / "runs"
    with pytest.raises(UserError, match="decayed to 0 at step 2, so more steps would train nothing"):
        train_cyclegan.main([*TINY, "--steps", "4", "--num-images", "8", "--no-xla", "--runs-dir", str(runs),
                             "--resume"])


FRESH_PROCESS = """
import sys
import numpy as np
import tensorflow as tf
images = np.load(sys.argv[1])
for i, path in enumerate(sys.argv[2:]):
    translate = tf.saved_model.load(path).signatures["serving_default"]
    out = translate(images=tf.constant(images))["images"].numpy()
    assert out.dtype == np.uint8 and out.shape == images.shape, (out.dtype, out.shape)
    np.save(sys.argv[1].replace(".npy", f"_{i}.npy"), out)
    odd = translate(images=tf.zeros((1, 30, 50, 3), tf.uint8))["images"]  # not divisible by 4
    assert odd.shape == (1, 30, 50, 3), odd.shape
assert not any(name.startswith("kerasgan") for name in sys.modules)
"""


def test_exports_reload_in_a_fresh_process(shapes_run, tmp_path):
    exports, trainer = shapes_run
    names = ["cyclegan_shapes_64_x2y", "cyclegan_shapes_64_y2x"]
    assert all((exports / name / "1" / "saved_model.pb").is_file() for name in names)
    images = np.random.default_rng(0).integers(0, 256, (3, 48, 32, 3), dtype=np.uint8)
    np.save(tmp_path / "in.npy", images)
    subprocess.run([sys.executable, "-c", FRESH_PROCESS, str(tmp_path / "in.npy"),
                    *(str(exports / name / "1") for name in names)], check=True, cwd=tmp_path, timeout=300)
    x = images.astype(np.float32) / 127.5 - 1.0
    for i, generator in enumerate((trainer.g_xy, trainer.g_yx)):
        expected = np.round((np.asarray(generator(x)) + 1.0) * 127.5)
        got = np.load(tmp_path / f"in_{i}.npy").astype(np.float32)
        assert np.abs(got - expected).max() <= 1.0


def test_translate_a_folder_keeps_names_and_sizes(shapes_run, tmp_path):
    exports, _ = shapes_run
    source = tmp_path / "photos"
    (source / "more").mkdir(parents=True)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(source / "a.jpg")
    Image.fromarray(rng.integers(0, 256, (52, 68, 3), dtype=np.uint8)).save(source / "b.png")
    Image.fromarray(rng.integers(0, 256, (30, 50, 4), dtype=np.uint8)).save(source / "more" / "c.png")
    written = train_cyclegan.main(["translate", "--model", str(exports / "cyclegan_shapes_64_y2x"),
                                   "--input", str(source), "--output", str(tmp_path / "out")])
    sizes = {p.relative_to(tmp_path / "out").as_posix(): Image.open(p).size for p in written}
    assert sizes == {"a.png": (64, 64), "b.png": (68, 52), "more/c.png": (50, 30)}


def test_translate_names_a_missing_model(tmp_path):
    with pytest.raises(UserError, match="no exported model"):
        train_cyclegan.main(["translate", "--model", str(tmp_path), "--input", str(tmp_path),
                             "--output", str(tmp_path / "out")])


# ---------------------------------------------------------------- data and CLI errors


def test_offline_tfds_names_the_folder_alternative(tmp_path, monkeypatch):
    monkeypatch.setattr(tfds_source, "_online", lambda timeout=5.0: False)
    with pytest.raises(UserError, match="--x-dir X_FOLDER --y-dir Y_FOLDER"):
        load_domains("apple2orange", data_dir=str(tmp_path))


def test_tfds_pairs_come_from_the_cycle_gan_splits(monkeypatch):
    calls = []

    def fake_load_tfds(name, split, image_size, data_dir=None, max_images=None, local_hint=None):
        calls.append((name, split, max_images))
        return np.zeros((max_images or 10, image_size, image_size, 3), np.uint8), {}

    monkeypatch.setattr(domains, "load_tfds", fake_load_tfds)
    pair = load_domains("horse2zebra", image_size=32, num_images=6, num_test=2)
    assert pair.name == "horse2zebra" and pair.x.shape == (6, 32, 32, 3) and pair.y_test.shape == (2, 32, 32, 3)
    assert calls == [("cycle_gan/horse2zebra", "trainA", 6), ("cycle_gan/horse2zebra", "trainB", 6),
                     ("cycle_gan/horse2zebra", "testA", 2), ("cycle_gan/horse2zebra", "testB", 2)]


def test_course_layout_under_the_data_root():
    require_folder(SHARED_DATA / "grumpifyCat" / "cat" / "grumpifyAprocessed")
    pair = load_domains("grumpifycat", data_dir=str(SHARED_DATA), num_test=3)
    assert (len(pair.x), len(pair.y)) == (75, 204)  # Russian Blue (X) and Grumpy (Y) cats
    np.testing.assert_array_equal(pair.x_test, pair.x[:3])  # the first images of each folder
    with pytest.raises(UserError, match="needs --data-dir"):
        load_domains("grumpifycat")


def test_unknown_dataset_lists_the_choices():
    with pytest.raises(UserError, match="horse2zebra"):
        load_domains("zebra2horse")


def test_missing_x_dir_is_one_line_and_exit_code_2(tmp_path):
    result = subprocess.run(
        [sys.executable, str(REPO / "train_cyclegan.py"), "--x-dir", str(tmp_path / "missing"),
         "--y-dir", str(tmp_path), "--runs-dir", str(tmp_path / "runs")],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"error: --x-dir: no such folder: {tmp_path / 'missing'}"]
    assert not (tmp_path / "runs").exists()


def test_schedule_is_epochs_then_decay_epochs():
    assert cyclegan_recipe.schedule(tiny_args(), 10) == (1000, 2000)  # paper: 100 + 100 epochs
    assert cyclegan_recipe.schedule(tiny_args("--epochs", "3", "--decay-epochs", "2"), 10) == (30, 50)
    assert cyclegan_recipe.schedule(tiny_args("--steps", "80"), 10) == (40, 80)
    assert cyclegan_recipe.schedule(tiny_args("--steps", "80", "--decay-epochs", "0"), 10) == (80, 80)


def defaults(*argv):
    return train_cyclegan.config_from_flags(argv)


def test_size_dependent_defaults():
    course, paper = defaults(), defaults("--image-size", "256")
    assert (course.batch_size, course.data_preprocess, course.load_size) == (16, "basic", None)
    assert (paper.batch_size, paper.data_preprocess, paper.load_size) == (1, "deluxe", 286)
    assert course.lambda_identity == 0.0
    assert defaults("--use_identity_loss").lambda_identity == 0.5
    assert defaults("--lambda_identity", "0.1").lambda_identity == 0.1
