"""The GAN family trains: every model a few steps, and each update rule's own promise."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from kerasgan.commands import train_gan as train_dcgan
from kerasgan import losses
from kerasgan.config import CONDITIONAL, MODELS
from kerasgan.recipes import gan as gan_recipe
from kerasgan.data.pipeline import make_dataset
from kerasgan.data.shapes import ATTRIBUTES, make_shapes
from kerasgan.errors import UserError
from kerasgan.nets import began, conditional, dcgan, infogan
from kerasgan.trainers.began import BEGANTrainer
from kerasgan.trainers.conditional import ConditionalGANTrainer, label_rows
from kerasgan.trainers.gan import GANTrainer
from kerasgan.trainers.infogan import InfoGANTrainer

SIZE = 16
LABEL_NAMES = {k: list(v) for k, v in ATTRIBUTES.items()}
NUM_CLASSES = {k: len(v) for k, v in LABEL_NAMES.items()}


def parse(*flags):
    """train_dcgan's flags for a tiny model, with the model defaults filled in."""
    args = train_dcgan.config_from_flags(
        ["--image-size", str(SIZE), "--width", "4", "--noise-dim", "16", *flags])
    return args


def adam():
    return keras.optimizers.Adam(2e-4, 0.5)


@pytest.fixture(scope="module")
def shapes():
    return make_shapes(32, SIZE, seed=1)


@pytest.mark.parametrize("model", MODELS)
def test_every_model_trains_a_few_steps_with_finite_losses(model, shapes):
    images, labels = shapes
    # FastGAN starts at 32 px and updates D once per G update.
    args = parse("--model", model, *(["--image-size", "32"] if model == "fastgan" else ["--n-critic", "2"]))
    trainer = gan_recipe.build_trainer(args, LABEL_NAMES)
    trainer.compile(*gan_recipe.build_optimizers(args, 3), jit_compile=False)
    data = make_dataset(images, args.image_size, 8, labels=labels if model in CONDITIONAL else None)
    logs = trainer.fit(data, steps_per_epoch=3, epochs=1, verbose=0).history
    assert int(trainer.step) == 3
    assert logs and all(np.isfinite(values).all() for values in logs.values())


def test_model_defaults_apply_only_to_flags_not_given():
    wgan = parse("--model", "wgan")
    assert (wgan.loss, wgan.optimizer, wgan.lr, wgan.n_critic, wgan.clip_value) == ("wgan", "rmsprop", 5e-5, 5, 0.01)
    gp = parse("--model", "wgan-gp")
    assert (gp.optimizer, gp.lr, gp.beta1, gp.beta2, gp.n_critic, gp.gp_weight) == ("adam", 1e-4, 0.0, 0.9, 5, 10.0)
    assert gp.d_norm == "none" and gp.norm == "batch"
    mine = parse("--model", "wgan-gp", "--lr", "1e-3", "--n-critic", "2", "--beta1", "0.5", "--d-norm", "batch",
                 "--gp-weight", "1")
    assert (mine.lr, mine.n_critic, mine.beta1, mine.beta2, mine.d_norm, mine.gp_weight) == (1e-3, 2, 0.5, 0.9, "batch", 1.0)
    # A loss's paper settings follow the loss, whichever model asks for it.
    assert parse("--model", "dcgan", "--loss", "wgan").optimizer == "rmsprop"
    assert parse("--model", "wgan", "--loss", "lsgan").optimizer == "adam"
    assert (parse("--dataset", "mnist").model, parse("--dataset", "mnist").loss, parse().lr) == ("dcgan", "lsgan", 2e-4)
    began_args = parse("--model", "began")
    assert (began_args.latent, began_args.lr, began_args.init) == ("uniform", 1e-4, "xavier")
    assert parse("--model", "gan", "--image-size", "64").image_size == 64


def test_the_dcgan_on_shapes_takes_its_measured_defaults_and_other_data_the_generic_ones():
    def flags(*given):
        return train_dcgan.config_from_flags(list(given))

    def settings(config):
        return (config.image_size, config.loss, config.batch_size, config.ema, config.lr, config.g_lr,
                config.diffaug_policy, config.width)

    shapes = (32, "bce", 32, 0.999, 2e-4, 1e-3, (), 16)
    generic = (64, "lsgan", 16, 0.0, 2e-4, None, (), 32)
    assert settings(flags()) == settings(flags("--dataset", "shapes")) == shapes
    assert settings(flags("--data-dir", "path/to/images")) == settings(flags("--dataset", "shapes-dot")) == generic
    assert settings(flags("--dataset", "mnist")) == generic
    assert flags("--model", "cdcgan").batch_size == 16  # only the DCGAN has a shapes setting
    # Flags given win; --lr sets both rates, as on every other dataset.
    mine = flags("--lr", "1e-4", "--diffaug", "translation", "--loss", "hinge", "--image-size", "64", "--ema", "0",
                 "--width", "24")
    assert settings(mine) == (64, "hinge", 32, 0.0, 1e-4, None, ("translation",), 24)
    assert flags("--g-lr", "5e-4").g_lr == 5e-4


def test_a_gan_built_before_its_data_takes_the_defaults_of_the_data_fit_is_handed(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for index in range(16):
        Image.fromarray(np.full((20, 20, 3), index * 15, np.uint8)).save(folder / f"{index}.png")
    gan = gan_recipe.GAN(steps=1, width=4, noise_dim=8, verbose=0, no_export=True, runs_dir=str(tmp_path / "runs"))
    assert (gan.config.image_size, gan.config.loss) == (32, "bce")  # no data named yet: shapes
    run = gan.fit(str(folder))
    config = json.loads((run.root / "config.json").read_text())
    assert run.root.name == "dcgan_photos_64" and (config["loss"], config["batch_size"]) == ("lsgan", 16)
    assert (config["ema"], config["g_lr"], config["diffaug"]) == (0.0, None, "")


def test_wgan_gp_critic_has_no_batch_norm_and_wgan_optimizer_is_rmsprop():
    args = parse("--model", "wgan-gp")
    _, critic = gan_recipe.build_networks(args)
    assert not any(isinstance(l, keras.layers.BatchNormalization) for l in critic.layers)
    g_opt, d_opt = gan_recipe.build_optimizers(parse("--model", "wgan"), 10)
    assert isinstance(d_opt, keras.optimizers.RMSprop) and float(d_opt.learning_rate) == pytest.approx(5e-5)


# -- WGAN-GP -------------------------------------------------------------------------------
def linear_critic(size=SIZE, seed=0):
    """D(x) = <w, x> + b: its gradient is w for every input, so the penalty is (|w| - 1)^2."""
    image = keras.Input((size, size, 3))
    dense = keras.layers.Dense(1)
    critic = keras.Model(image, dense(keras.layers.Flatten()(image)))
    w = np.random.default_rng(seed).normal(0, 0.05, (size * size * 3, 1)).astype(np.float32)
    dense.set_weights([w, np.array([0.3], np.float32)])
    return critic, float(np.linalg.norm(w))


@pytest.mark.parametrize("center", [1.0, 0.0])
def test_gradient_penalty_on_a_linear_critic_equals_the_closed_form(center):
    critic, norm = linear_critic()  # |w| = 1.39: the two centres give 0.15 and 1.92
    rng = np.random.default_rng(1)
    real, fake = (tf.constant(rng.uniform(-1, 1, (4, SIZE, SIZE, 3)), tf.float32) for _ in range(2))
    alpha = tf.constant(rng.uniform(size=(4, 1, 1, 1)), tf.float32)
    penalty = losses.gradient_penalty(critic, real, fake, alpha, center).numpy()
    np.testing.assert_allclose(penalty, (norm - center) ** 2, rtol=1e-5)


def test_gradient_penalty_matches_finite_differences_on_a_nonlinear_critic():
    rng = np.random.default_rng(2)
    w1 = rng.normal(0, 0.5, (12, 5))
    w2 = rng.normal(0, 0.5, (5, 1))

    def critic64(x):  # numpy float64: the reference
        return np.tanh(x.reshape(len(x), -1) @ w1) @ w2

    def critic(x):
        flat = tf.reshape(x, (tf.shape(x)[0], -1))
        return tf.tanh(flat @ tf.constant(w1, tf.float32)) @ tf.constant(w2, tf.float32)

    real, fake = rng.uniform(-1, 1, (2, 3, 2, 2, 3))
    alpha = rng.uniform(size=(3, 1, 1, 1))
    mixed = real + alpha * (fake - real)
    eps = 1e-6
    grads = np.zeros_like(mixed)
    for index in np.ndindex(mixed.shape[1:]):
        step = np.zeros_like(mixed)
        step[(slice(None), *index)] = eps
        grads[(slice(None), *index)] = ((critic64(mixed + step) - critic64(mixed - step)) / (2 * eps))[:, 0]
    expected = (np.sqrt((grads.reshape(3, -1) ** 2).sum(axis=1)) - 1.0) ** 2
    as32 = lambda a: tf.constant(a, tf.float32)  # noqa: E731
    penalty = losses.gradient_penalty(critic, as32(real), as32(fake), as32(alpha)).numpy()
    np.testing.assert_allclose(penalty, expected, rtol=1e-4)


@pytest.mark.parametrize("flags, center", [((), 1.0), (("--gp-center", "0"), 0.0)])
def test_wgan_gp_trainer_applies_the_penalty_to_its_critic(flags, center):
    critic, norm = linear_critic()
    config = parse("--model", "wgan-gp", *flags)
    trainer = GANTrainer(dcgan.build_generator(SIZE, 8, 4), critic, loss="wgan-gp", gp_weight=config.gp_weight,
                         gp_center=config.gp_center, seed=0)
    trainer.compile(adam(), adam(), jit_compile=False)
    trainer.d_step(tf.constant(make_shapes(4, SIZE)[0] / 127.5 - 1.0, tf.float32))
    assert float(trainer.trackers["gp"].result()) == pytest.approx((norm - center) ** 2, rel=1e-5)


def test_the_gradient_penalty_centre_is_a_slope_the_recipe_passes_on():
    assert gan_recipe.build_trainer(parse("--model", "wgan-gp", "--gp-center", "0")).gp_center == 0.0
    with pytest.raises(UserError, match="--gp-center must be 0 or more, got -1.0"):
        parse("--model", "wgan-gp", "--gp-center", "-1")


# -- WGAN weight clipping ------------------------------------------------------------------
def test_after_a_wgan_step_every_critic_weight_lies_in_the_clip_box(shapes):
    args = parse("--model", "wgan", "--init", "kaiming", "--n-critic", "2")
    trainer = gan_recipe.build_trainer(args)
    before = max(np.abs(w.numpy()).max() for w in trainer.discriminator.trainable_weights)
    assert before > 0.01  # kaiming init and batch norm's gamma start far outside [-c, c]
    trainer.compile(*gan_recipe.build_optimizers(args, 1), jit_compile=False)
    trainer.fit(make_dataset(shapes[0], SIZE, 8), steps_per_epoch=1, epochs=1, verbose=0)
    for weight in trainer.discriminator.trainable_weights:
        assert np.abs(weight.numpy()).max() <= 0.01 + 1e-7, weight.path


# -- LSGAN targets -------------------------------------------------------------------------
@pytest.mark.parametrize("targets, d_loss, g_loss", [
    ((0.0, 1.0, 1.0), 0.5 * 0.5**2 + 0.5 * 0.5**2, 0.5 * 0.5**2),
    ((-1.0, 1.0, 0.0), 0.5 * 0.5**2 + 0.5 * 1.5**2, 0.5 * 0.5**2),
])
def test_lsgan_uses_its_a_b_c_targets(targets, d_loss, g_loss):
    """A frozen D that always answers 0.5 makes both losses known in closed form."""
    image = keras.Input((SIZE, SIZE, 3))
    dense = keras.layers.Dense(1)
    frozen = keras.Model(image, dense(keras.layers.Flatten()(image)))
    dense.set_weights([np.zeros((SIZE * SIZE * 3, 1), np.float32), np.array([0.5], np.float32)])
    trainer = GANTrainer(dcgan.build_generator(SIZE, 8, 4), frozen, loss="lsgan", lsgan_targets=targets, seed=0)
    trainer.compile(adam(), keras.optimizers.SGD(0.0), jit_compile=False)
    logs = trainer.train_step(tf.zeros((4, SIZE, SIZE, 3)))
    assert float(logs["d_loss"]) == pytest.approx(d_loss)
    assert float(logs["g_loss"]) == pytest.approx(g_loss)


# -- conditional ---------------------------------------------------------------------------
def tiny_conditional(loss="lsgan", norm="batch"):
    g = conditional.build_conditional_dcgan_generator(NUM_CLASSES, SIZE, 16, width=4)
    d = conditional.build_conditional_dcgan_discriminator(NUM_CLASSES, SIZE, 2, width=4, norm=norm)
    trainer = ConditionalGANTrainer(g, d, NUM_CLASSES, loss=loss, seed=0)
    trainer.compile(adam(), adam(), jit_compile=False)
    return trainer


def test_mismatched_labels_change_one_attribute_to_each_other_class():
    trainer = tiny_conditional()
    labels = {"shape": tf.constant(np.repeat([0, 1, 2], 800), tf.int32),
              "color": tf.constant(np.tile([0, 1, 2, 3], 600), tf.int32)}
    wrong = {k: v.numpy() for k, v in trainer.mismatched(labels).items()}
    changed = {name: wrong[name] != labels[name].numpy() for name in NUM_CLASSES}
    # Exactly one attribute differs in every pair, so D must check each of them.
    assert (changed["shape"] ^ changed["color"]).all()
    assert 0.4 < changed["shape"].mean() < 0.6
    for name, count in NUM_CLASSES.items():
        true = labels[name].numpy()
        assert ((wrong[name] >= 0) & (wrong[name] < count)).all()
        for cls in range(count):
            assert set(wrong[name][changed[name] & (true == cls)]) == set(range(count)) - {cls}


@pytest.mark.parametrize("norm", ["batch", "none"])  # separate D passes, one joint pass
def test_the_conditional_d_batch_holds_real_images_with_mismatched_labels(norm, shapes):
    trainer = tiny_conditional(norm=norm)
    seen = []
    original = trainer.discriminate_groups

    def record(images, labels):
        seen.append(([x.numpy() for x in images], [{k: v.numpy() for k, v in l.items()} for l in labels]))
        return original(images, labels)

    trainer.discriminate_groups = record
    images, labels = shapes
    real = tf.constant(images[:8] / 127.5 - 1.0, tf.float32)
    batch_labels = {k: tf.constant(v[:8]) for k, v in labels.items()}
    trainer.d_step(real, batch_labels)
    (group_images, group_labels), = seen
    assert len(group_images) == 3  # real, fake, real again
    np.testing.assert_array_equal(group_images[2], real.numpy())
    for name in NUM_CLASSES:
        np.testing.assert_array_equal(group_labels[0][name], labels[name][:8])
        np.testing.assert_array_equal(group_labels[1][name], labels[name][:8])
    differs = [group_labels[2][name] != labels[name][:8] for name in NUM_CLASSES]
    assert np.logical_or(*differs).all()  # every real image is paired with a wrong label
    assert np.isfinite(float(trainer.trackers["d_mismatch"].result()))


def test_label_rows_list_every_combination_or_an_even_subset():
    rows = label_rows(NUM_CLASSES)
    assert list(zip(rows["shape"], rows["color"])) == [(s, c) for s in range(3) for c in range(4)]
    many = label_rows({"hair": 12, "eyes": 10}, max_rows=16)
    assert len(many["hair"]) == 16 and (many["hair"][0], many["eyes"][0]) == (0, 0)
    assert (many["hair"][-1], many["eyes"][-1]) == (11, 9)


# -- BEGAN ---------------------------------------------------------------------------------
def tiny_began(lambda_k=0.01, gamma=0.5):
    g = began.build_began_generator(SIZE, 8, 4)
    d = began.build_began_discriminator(SIZE, 8, 4)
    trainer = BEGANTrainer(g, d, gamma=gamma, lambda_k=lambda_k, latent="uniform", seed=0)
    trainer.compile(adam(), adam(), jit_compile=False)
    return trainer


def test_began_k_follows_its_update_rule_and_stays_in_0_1(shapes):
    trainer = tiny_began(lambda_k=0.01)
    real = tf.constant(shapes[0][:8] / 127.5 - 1.0, tf.float32)
    for k_before, lambda_k in [(0.2, 0.01), (0.9995, 50.0), (0.0005, -50.0)]:
        trainer.k.assign(k_before)
        trainer.lambda_k = lambda_k
        logs = {k: float(v) for k, v in trainer.train_step(real).items()}
        expected = np.clip(k_before + lambda_k * (0.5 * logs["loss_real"] - logs["loss_fake"]), 0.0, 1.0)
        assert float(trainer.k) == pytest.approx(expected, abs=1e-6)
        assert 0.0 <= float(trainer.k) <= 1.0
        assert logs["m_global"] == pytest.approx(logs["loss_real"] + abs(0.5 * logs["loss_real"] - logs["loss_fake"]))
    assert float(trainer.k) in (0.0, 1.0)  # the extreme lambda_k runs hit the clip


def test_began_k_is_saved_in_checkpoints(tmp_path, shapes):
    trainer = tiny_began()
    trainer.k.assign(0.37)
    trainer.save_weights(tmp_path / "t.weights.h5")
    restored = tiny_began()
    restored.load_weights(tmp_path / "t.weights.h5")
    assert float(restored.k) == pytest.approx(0.37)


# -- InfoGAN -------------------------------------------------------------------------------
def test_infogan_mutual_information_loss_falls_and_q_reads_the_code(shapes):
    codes = {"code1": 4}
    keras.utils.set_random_seed(0)
    g = infogan.build_infogan_generator(codes, 1, SIZE, noise_dim=8, width=8)
    d = infogan.build_infogan_discriminator(codes, 1, SIZE, width=8)
    trainer = InfoGANTrainer(g, d, codes, continuous=1, loss="bce", seed=0)
    trainer.compile(keras.optimizers.Adam(1e-3, 0.5), adam())
    history = trainer.fit(make_dataset(shapes[0], SIZE, 16), steps_per_epoch=15, epochs=5, verbose=0).history
    info = history["info_loss"]
    assert info[-1] < 0.5 * info[0], info
    # Q recovers the category G was given, on fresh samples, far above chance (1/4).
    code = np.tile(np.arange(4, dtype=np.int32), 16)
    inputs = {"noise": np.random.default_rng(3).standard_normal((64, 8)).astype(np.float32), "code1": code,
              "continuous": np.random.default_rng(4).uniform(-1, 1, (64, 1)).astype(np.float32)}
    predicted = np.argmax(d(g(inputs, training=False), training=False)["code1"], axis=-1)
    assert (predicted == code).mean() > 0.6


def test_supervised_infogan_learns_the_code_from_real_labels(shapes):
    images, labels = shapes
    args = parse("--model", "infogan", "--info-supervised", "color", "--info-continuous", "1")
    trainer = gan_recipe.build_trainer(args, {"color": LABEL_NAMES["color"]})
    assert trainer.categorical == {"color": 4}
    trainer.compile(*gan_recipe.build_optimizers(args, 2), jit_compile=False)
    logs = trainer.fit(make_dataset(images, SIZE, 8, labels={"color": labels["color"]}),
                       steps_per_epoch=2, epochs=1, verbose=0).history
    assert np.isfinite(logs["d_loss"]).all()
    with pytest.raises(ValueError, match="images, {attribute: labels}"):
        trainer.unpack(tf.zeros((2, SIZE, SIZE, 3)))


# -- through the command line --------------------------------------------------------------
def cli_flags(tmp_path, *extra):
    return ["--image-size", str(SIZE), "--width", "4", "--noise-dim", "16", "--num-images", "32",
            "--batch-size", "8", "--steps", "2", "--runs-dir", str(tmp_path / "runs"),
            "--exports-dir", str(tmp_path / "exports"), "--verbose", "0", *extra]


def test_cdcgan_trains_exports_and_generates_by_label_name(tmp_path):
    run = train_dcgan.main(cli_flags(tmp_path, "--model", "cdcgan"))
    assert run.root.name == "cdcgan_shapes_16"
    grid = np.asarray(Image.open(sorted(run.samples.glob("*.png"))[-1]))
    assert grid.shape[0] == 12 * (SIZE + 2) + 2  # one row per (shape, colour) combination
    export = tmp_path / "exports" / "cdcgan_shapes_16" / "1"
    meta = json.loads((export / "assets.extra" / "kerasgan.json").read_text())
    assert meta["kind"] == "conditional_generator" and meta["label_names"] == LABEL_NAMES
    signature = tf.saved_model.load(str(export)).signatures["serving_default"]
    assert sorted(signature.structured_input_signature[1]) == ["color", "noise", "shape"]

    out = tmp_path / "red_circles.png"
    train_dcgan.main(["generate", "--model", str(tmp_path / "exports" / "cdcgan_shapes_16"),
                      "--labels", "shape=circle,color=red", "--num", "4", "--columns", "4", "--output", str(out)])
    assert np.asarray(Image.open(out)).shape == (SIZE + 4, 4 * (SIZE + 2) + 2, 3)
    with pytest.raises(UserError, match="unknown color 'purple'; choose one of: red, green, blue, yellow"):
        train_dcgan.main(["generate", "--model", str(export), "--labels", "color=purple", "--output", str(out),
                          "--overwrite"])
    with pytest.raises(UserError, match="unknown attribute 'hair'"):
        train_dcgan.main(["generate", "--model", str(export), "--labels", "hair=red", "--output", str(out),
                          "--overwrite"])


def test_conditional_models_refuse_unlabelled_data_and_unknown_attributes(tmp_path):
    folder = tmp_path / "plain"
    folder.mkdir()
    for i in range(8):
        Image.fromarray(np.full((8, 8, 3), i * 30, np.uint8)).save(folder / f"{i}.png")
    with pytest.raises(UserError, match="outside any class subfolder"):
        train_dcgan.main(cli_flags(tmp_path, "--model", "cgan", "--data-dir", str(folder)))
    with pytest.raises(UserError, match="no attribute 'hair' in shapes; it has: shape, color"):
        train_dcgan.main(cli_flags(tmp_path, "--model", "cdcgan", "--attributes", "hair"))
