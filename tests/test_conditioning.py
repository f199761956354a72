"""How conditional models read labels (#17): conditional batch norm in G, projection and AC-GAN
discriminators, their losses, old runs loading as concat, exports of every method, and one
learning test on shapes-dot's small `dot` attribute."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasgan import losses
from kerasgan.commands import generate as generate_command
from kerasgan.config import CONDITIONING_DEFAULTS, GANConfig
from kerasgan.errors import UserError
from kerasgan.nets import conditional
from kerasgan.recipes.gan import GAN
from kerasgan.trainers.conditional import ACGANTrainer, class_cross_entropy

NUM_CLASSES = {"shape": 3, "color": 4, "dot": 4}
SIZE, NOISE, BATCH = 16, 8, 4


def labels(offset=0, batch=BATCH):
    return {a: ((np.arange(batch) + offset) % n).astype(np.int32) for a, n in NUM_CLASSES.items()}


def noise(batch=BATCH, seed=0):
    return np.random.default_rng(seed).normal(size=(batch, NOISE)).astype(np.float32)


def images(batch=BATCH, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, size=(batch, SIZE, SIZE, 3)).astype(np.float32)


def randomize(layer_type, model, seed=0):
    """Random values in every weight of `layer_type` layers (CBN is the identity when new)."""
    rng = np.random.default_rng(seed)
    for layer in model._flatten_layers():
        if isinstance(layer, layer_type):
            for weight in layer.weights:
                weight.assign(rng.normal(1.0, 0.5, size=weight.shape).astype(np.float32))


# -- networks ------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["concat", "cbn"])
def test_generator_shapes_and_labels_change_the_image(method):
    g = conditional.build_conditional_dcgan_generator(NUM_CLASSES, SIZE, NOISE, width=4, conditioning=method)
    assert sorted(t.name for t in g.inputs) == sorted(["noise", *NUM_CLASSES])
    if method == "cbn":
        randomize(conditional.ConditionalAffine, g)
    z = noise()
    for attribute in NUM_CLASSES:
        other = labels()
        other[attribute] = (other[attribute] + 1) % NUM_CLASSES[attribute]
        a = np.asarray(g({"noise": z, **labels()}, training=False))
        b = np.asarray(g({"noise": z, **other}, training=False))
        assert a.shape == (BATCH, SIZE, SIZE, 3)
        assert np.abs(a - b).max() > 1e-3, f"{method}: changing {attribute} left the images the same"


def test_cbn_starts_as_the_identity_and_reads_every_layer():
    """Gain 1 and bias 0 at initialisation: labels change nothing yet; one CBN per norm of G."""
    g = conditional.build_conditional_dcgan_generator(NUM_CLASSES, SIZE, NOISE, width=4, conditioning="cbn")
    cbns = [layer for layer in g._flatten_layers() if isinstance(layer, conditional.ConditionalAffine)]
    assert len(cbns) == 2  # 4x4 and 8x8 (the 16x16 output conv has no norm)
    z = noise()
    a = np.asarray(g({"noise": z, **labels()}, training=False))
    b = np.asarray(g({"noise": z, **labels(1)}, training=False))
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_conditional_affine_against_numpy():
    layer = conditional.ConditionalAffine([3, 2])
    x = np.random.default_rng(1).normal(size=(2, 5, 5, 6)).astype(np.float32)
    y1, y2 = np.array([2, 0], np.int32), np.array([1, 1], np.int32)
    layer([x, y1, y2])
    rng = np.random.default_rng(2)
    values = [rng.normal(size=w.shape).astype(np.float32) for w in layer.weights]
    for weight, value in zip(layer.weights, values):
        weight.assign(value)
    g1, g2, b1, b2 = values  # gains first, then biases, in attribute order
    gain = 1 + (g1[y1] - 1) + (g2[y2] - 1)
    bias = b1[y1] + b2[y2]
    expected = x * gain[:, None, None, :] + bias[:, None, None, :]
    np.testing.assert_allclose(np.asarray(layer([x, y1, y2])), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("build", [conditional.build_conditional_dcgan_discriminator,
                                   conditional.build_conditional_mlp_discriminator])
@pytest.mark.parametrize("method", ["concat", "projection"])
def test_label_reading_discriminators_score_labels(build, method):
    d = build(NUM_CLASSES, SIZE, width=4, conditioning=method)
    x = images()
    for attribute in NUM_CLASSES:
        other = labels()
        other[attribute] = (other[attribute] + 1) % NUM_CLASSES[attribute]
        a = np.asarray(d({"image": x, **labels()}, training=False))
        b = np.asarray(d({"image": x, **other}, training=False))
        assert a.shape == (BATCH, 1)
        assert np.abs(a - b).max() > 1e-5, f"{method}: D's logit ignores {attribute}"


@pytest.mark.parametrize("build", [conditional.build_conditional_dcgan_discriminator,
                                   conditional.build_conditional_mlp_discriminator])
def test_acgan_discriminator_reads_the_image_alone_and_classifies_every_attribute(build):
    d = build(NUM_CLASSES, SIZE, width=4, conditioning="acgan")
    assert [t.name for t in d.inputs] == ["image"]
    out = d({"image": images()}, training=False)
    assert {k: tuple(v.shape) for k, v in out.items()} == {"logit": (BATCH, 1), "shape": (BATCH, 3),
                                                          "color": (BATCH, 4), "dot": (BATCH, 4)}


def test_projection_logit_is_psi_plus_the_label_inner_products():
    """By hand: logit = psi(phi(x)) + sum_a <embed_a(y_a), phi(x)>, phi = D's pooled 4x4 features."""
    d = conditional.build_conditional_dcgan_discriminator({"a": 3, "b": 2}, SIZE, width=4, norm="none",
                                                          conditioning="projection")
    x = images(2, seed=3)
    y = {"a": np.array([2, 0], np.int32), "b": np.array([1, 0], np.int32)}
    projection = d.get_layer("d_projection")
    rng = np.random.default_rng(4)
    for weight in projection.weights:
        weight.assign(rng.normal(size=weight.shape).astype(np.float32))
    pooled = d.get_layer("d_pooled_features").output
    psi = d.get_layer("logit").input[0]
    parts = keras.Model(d.inputs, [pooled, psi])
    phi, psi_value = (np.asarray(t) for t in parts({"image": x, **y}, training=False))
    features = keras.Model(d.inputs, d.get_layer("d_pooled_features").input)({"image": x, **y}, training=False)
    np.testing.assert_allclose(phi, np.asarray(features).mean(axis=(1, 2)), rtol=1e-5, atol=1e-6)
    table_a, table_b = (np.asarray(w) for w in projection.weights)
    expected = psi_value[:, 0] + np.sum(table_a[y["a"]] * phi, 1) + np.sum(table_b[y["b"]] * phi, 1)
    np.testing.assert_allclose(np.asarray(d({"image": x, **y}, training=False))[:, 0], expected, rtol=1e-5, atol=1e-5)


def test_mlp_generator_has_no_cbn():
    with pytest.raises(ValueError, match="concatenation only"):
        conditional.build_conditional_mlp_generator(NUM_CLASSES, SIZE, NOISE, width=4, conditioning="cbn")
    with pytest.raises(UserError, match="cbn needs the DCGAN generator"):
        GANConfig(model="cgan", g_conditioning="cbn").resolved()


# -- AC-GAN losses -------------------------------------------------------------------------
def test_class_cross_entropy_by_hand():
    outputs = {"a": np.array([[2.0, 0.0, 0.0], [0.0, 1.0, 3.0]], np.float32), "b": np.array([[0.5, -0.5]] * 2, np.float32)}
    y = {"a": np.array([0, 1]), "b": np.array([1, 0])}
    ce_a = [-np.log(np.exp(2) / (np.exp(2) + 2)), -np.log(np.e / (1 + np.e + np.exp(3)))]
    ce_b = [-np.log(np.exp(-0.5) / (np.exp(0.5) + np.exp(-0.5))), -np.log(np.exp(0.5) / (np.exp(0.5) + np.exp(-0.5)))]
    got = np.asarray(class_cross_entropy(outputs, y, {"a": 3, "b": 2}))
    np.testing.assert_allclose(got, np.add(ce_a, ce_b), rtol=1e-5)


def numpy_ce(logits, ids):
    logits = np.asarray(logits, np.float64)
    log_softmax = logits - logits.max(1, keepdims=True)
    log_softmax = log_softmax - np.log(np.exp(log_softmax).sum(1, keepdims=True))
    return -log_softmax[np.arange(len(ids)), ids]


@pytest.mark.parametrize("ac_weight", [0.0, 2.5])
def test_acgan_losses_add_the_weighted_cross_entropies(ac_weight):
    """D: bce(real, fake) + w * CE on the real images' labels; G: bce(fake) + w * CE on its labels.
    Computed from D's outputs by hand; the optimizers have learning rate 0, so D stays put."""
    num_classes = {"a": 3, "b": 2}
    g = conditional.build_conditional_dcgan_generator(num_classes, SIZE, NOISE, width=4)
    d = conditional.build_conditional_dcgan_discriminator(num_classes, SIZE, width=4, norm="none", conditioning="acgan")
    trainer = ACGANTrainer(g, d, num_classes, ac_weight, loss="bce", seed=0)
    trainer.compile(keras.optimizers.SGD(0.0), keras.optimizers.SGD(0.0), jit_compile=False)
    real, fake = images(4, seed=5), images(4, seed=6)
    y = {"a": np.array([0, 1, 2, 0], np.int32), "b": np.array([1, 0, 1, 1], np.int32)}
    codes = {"a": np.array([2, 2, 1, 0], np.int32), "b": np.array([0, 0, 1, 1], np.int32)}
    real_out = {k: np.asarray(v) for k, v in d({"image": real}).items()}
    fake_out = {k: np.asarray(v) for k, v in d({"image": fake}).items()}
    ce_real = numpy_ce(real_out["a"], y["a"]) + numpy_ce(real_out["b"], y["b"])
    ce_fake = numpy_ce(fake_out["a"], codes["a"]) + numpy_ce(fake_out["b"], codes["b"])
    d_adv = np.asarray(losses.d_loss("bce", real_out["logit"], fake_out["logit"]))
    g_adv = np.asarray(losses.g_loss("bce", fake_out["logit"]))

    trainer.d_update(tf.constant(real), y, tf.constant(fake), codes)
    np.testing.assert_allclose(float(trainer.trackers["d_loss"].result()), np.mean(d_adv + ac_weight * ce_real),
                               rtol=1e-4)
    np.testing.assert_allclose(float(trainer.trackers["ac_real"].result()), np.mean(ce_real), rtol=1e-4)
    loss = trainer.generator_loss(tf.constant(fake), codes)
    np.testing.assert_allclose(float(loss), np.mean(g_adv + ac_weight * ce_fake), rtol=1e-4)
    np.testing.assert_allclose(float(trainer.trackers["ac_fake"].result()), np.mean(ce_fake), rtol=1e-4)


def test_acgan_refuses_mismatched_negatives():
    with pytest.raises(UserError, match="acgan"):
        GANConfig(model="cdcgan", d_conditioning="acgan", mismatch="on").resolved()
    config = GANConfig(model="cdcgan", d_conditioning="acgan").resolved()
    assert config.mismatch == "off" and not config.uses_mismatch


# -- configs: defaults and old runs --------------------------------------------------------
def test_old_runs_load_as_concat_with_mismatch():
    """A config.json written before #17 has none of the new fields: it must rebuild today's nets."""
    new_fields = {"g_conditioning", "d_conditioning", "mismatch", "ac_weight", "label_accuracy_every",
                  "label_accuracy_samples"}
    for no_mismatch in (False, True):
        saved = {k: v for k, v in GANConfig(model="cdcgan", no_mismatch=no_mismatch).resolved().to_dict().items()
                 if k not in new_fields}
        config = GANConfig.from_dict(json.loads(json.dumps(saved)), strict=False)
        assert (config.g_conditioning, config.d_conditioning) == ("concat", "concat")
        assert config.uses_mismatch is (not no_mismatch)


def test_concat_networks_keep_their_pre_17_layout():
    """Weights files are keyed by layer class and order: concat nets must keep the layout old
    checkpoints were saved with (input, per-attribute embeddings, concatenation, DCGAN body)."""
    config = GANConfig(model="cdcgan", image_size=16, width=4, noise_dim=8, g_conditioning="concat",
                       d_conditioning="concat", channels=3).resolved()
    from kerasgan.recipes.gan import build_networks

    g, d = build_networks(config, {"shape": ["a", "b"], "color": ["x", "y", "z"]})
    assert [type(layer).__name__ for layer in g.layers] == [
        "InputLayer", "InputLayer", "InputLayer", "Embedding", "Embedding", "Concatenate", "Functional"]
    # As the pre-#17 code built it (its checkpoints load and sample the same, checked by hand on
    # a run trained before the change).
    assert [type(layer).__name__ for layer in d.layers] == [
        "InputLayer", "InputLayer", "InputLayer", "Embedding", "Embedding", "Conv2D", "Reshape", "Reshape",
        "LeakyReLU", "UpSampling2D", "UpSampling2D", "Concatenate", "Conv2D", "BatchNormalization", "LeakyReLU",
        "Conv2D", "Flatten"]


def test_defaults_per_model():
    cdcgan = GANConfig(model="cdcgan").resolved()
    assert (cdcgan.g_conditioning, cdcgan.d_conditioning) == tuple(CONDITIONING_DEFAULTS["cdcgan"].values())
    assert cdcgan.mismatch == "on"
    cgan = GANConfig(model="cgan").resolved()
    assert (cgan.g_conditioning, cgan.d_conditioning) == ("concat", "concat")
    assert GANConfig(model="cdcgan", no_mismatch=True).resolved().mismatch == "off"
    assert GANConfig(model="dcgan").resolved().d_conditioning is None


# -- exports -------------------------------------------------------------------------------
@pytest.mark.parametrize("model, g_method, d_method", [
    ("cdcgan", "concat", "concat"), ("cdcgan", "cbn", "projection"), ("cdcgan", "cbn", "acgan"),
    ("cgan", "concat", "projection"), ("cgan", "concat", "acgan"),
])
def test_export_and_generate_by_label_name(tmp_path, model, g_method, d_method):
    gan = GAN(model=model, image_size=16, width=4, noise_dim=8, channels=3, g_conditioning=g_method,
              d_conditioning=d_method, exports_dir=str(tmp_path / "exports"))
    names = {"shape": ["circle", "square", "triangle"], "dot": ["white", "black", "cyan", "magenta"]}
    gan.build(names)
    path = gan.export(name="m")
    signature = tf.saved_model.load(str(path)).signatures["serving_default"]
    assert sorted(signature.structured_input_signature[1]) == ["dot", "noise", "shape"]
    out = tmp_path / "grid.png"
    generate_command.main(["--model", str(tmp_path / "exports" / "m"), "--labels", "shape=triangle,dot=cyan",
                           "--num", "4", "--output", str(out)])
    assert out.stat().st_size > 0


# -- learning: the small attribute ---------------------------------------------------------
QUIET = {"verbose": 0, "no_export": True, "sample_every": 100_000, "checkpoint_every": 100_000}
LEARNING_STEPS = 2200
LEARNING_BATCH = 16
SPREAD_BAR = 0.5  # the judge-feature spread as a share of the real images' (calibrated: see the test)


def dot_run_scores(tmp_path, dot_judge, steps=LEARNING_STEPS, batch_size=LEARNING_BATCH, **methods):
    """(label accuracy {attr}, within-label spread {"pixel", "features"}) of cdcgan trained on
    shapes-dot at 32x32 (G's moving average sampled), 1024 samples; dot_judge is conftest's
    (judge, data) of shapes-dot, whose real_accuracy and real_spread are the bars' units."""
    from kerasgan.metrics.label_accuracy import judge_samples, labelled_sampler

    judge, data = dot_judge
    gan = GAN(model="cdcgan", dataset="shapes-dot", image_size=32, ema=0.999, batch_size=batch_size, steps=steps,
              runs_dir=str(tmp_path / "runs"), **QUIET, **methods)
    gan.fit()
    return judge_samples(labelled_sampler(gan.generator, data.label_names), judge, 1024, seed=1)


def test_default_cdcgan_follows_the_small_dot_and_varies_within_a_label(tmp_path, shapes_dot_judge):
    """The default conditioning (G concat, D projection, mismatch on) draws the dot (2 px radius
    at 32x32, at the shape's centre) in its label's colour, and mode seeking (on by default)
    keeps G's noise in use: the samples of one label set differ as much as real images of one
    label set do (in the judge's features), where without it G draws one image per label set.
    The test trains at width 16 and batch 16 (an eighth of the default width's and batch's work
    per step) so CI has time for it; the default width's figures are on the results page.

    Measured (1024 samples, seed 1; the judge on held-back real images: dot 0.985, colour
    0.995), width 16, batch 16, 2200 steps: dot 0.74, colour 0.96, spread 0.70 of the real
    images' in the judge's features (5.2 min with two trainings beside it). Broken on purpose:
    concat + concat conditioning (g_conditioning=d_conditioning="concat") gave dot 0.35, which
    fails the dot bar (0.55 of the judge's); mode_seeking=0 gave spread 0.28 (dot 0.79), which
    fails the spread bar, set midway. The default width's figures are in docs/results.md.
    """
    judge, _ = shapes_dot_judge
    generated, spread = dot_run_scores(tmp_path, shapes_dot_judge, width=16)
    ratio = spread["features"] / judge.real_spread["features"]
    print("default cdcgan (width 16) on shapes-dot", generated, "judge on real", judge.real_accuracy,
          "spread", spread, "real", judge.real_spread, "ratio", ratio)
    assert generated["dot"] >= 0.55 * judge.real_accuracy["dot"]
    assert generated["color"] >= 0.9 * judge.real_accuracy["color"]
    assert ratio >= SPREAD_BAR


def test_fused_batch_norm_without_scale_and_offset_matches_keras():
    """CBN's plain batch norm (center=False, scale=False) runs the fused kernel with 1 and 0."""
    from kerasgan.nets.layers import BatchNormalization

    x = np.random.default_rng(8).normal(2.0, 3.0, size=(4, 5, 5, 6)).astype(np.float32)
    ours = BatchNormalization(momentum=0.9, epsilon=1e-5, center=False, scale=False)
    theirs = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, center=False, scale=False)
    np.testing.assert_allclose(np.asarray(ours(x, training=True)), np.asarray(theirs(x, training=True)), atol=1e-4)
    np.testing.assert_allclose(np.asarray(ours.moving_variance), np.asarray(theirs.moving_variance), rtol=1e-5)


def test_mode_seeking_pairs_the_fakes_and_penalizes_their_likeness():
    """Fake 2k + 1 gets fake 2k's labels; the term is weight x mean over pairs of
    1 / (mean |difference| + 1e-5), or with a target of max(target / (...) - 1, 0), here by hand
    for two pairs."""
    from kerasgan.trainers.conditional import ConditionalGANTrainer

    g = conditional.build_conditional_dcgan_generator({"shape": 3, "color": 4}, 16, 8, width=4)
    d = conditional.build_conditional_dcgan_discriminator({"shape": 3, "color": 4}, 16, width=4)
    trainer = ConditionalGANTrainer(g, d, {"shape": 3, "color": 4}, mode_seeking=2.0, seed=0)
    codes = trainer.draw_codes(5, {"shape": np.array([0, 1, 2, 0, 1]), "color": np.array([3, 2, 1, 0, 3])})
    assert np.asarray(codes["shape"]).tolist() == [0, 0, 2, 2, 1] and np.asarray(codes["color"]).tolist() == [3, 3, 1, 1, 3]
    fake = np.zeros((4, 2, 2, 1), np.float32)
    fake[1] += 0.5   # pair 1: distance 0.5
    fake[2] += 0.1   # pair 2: distance 0.1 (the pair is images 2 and 3)
    expected = 2.0 * np.mean([1 / (0.5 + 1e-5), 1 / (0.1 + 1e-5)])
    assert float(trainer.mode_seeking_loss(keras.ops.convert_to_tensor(fake))) == pytest.approx(expected, rel=1e-5)
    # With a target (the real pairs' distance, 0.3): pair 1 is past it and costs nothing.
    hinged = ConditionalGANTrainer(g, d, {"shape": 3, "color": 4}, mode_seeking=2.0, mode_seeking_target=0.3, seed=0)
    expected = 2.0 * np.mean([0.0, 0.3 / (0.1 + 1e-5) - 1])
    assert float(hinged.mode_seeking_loss(keras.ops.convert_to_tensor(fake))) == pytest.approx(expected, rel=1e-5)
    off = ConditionalGANTrainer(g, d, {"shape": 3, "color": 4}, seed=0)
    assert off.mode_seeking_loss(fake) == 0.0 and off.draw_codes(5, codes) is codes
