"""The FID/KID training callback: metrics.csv, TensorBoard scalars, the best checkpoint, resume."""


import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasgan.commands import train_gan as train_dcgan
from kerasgan.recipes import gan as gan_recipe
from kerasgan.callbacks import Checkpoint
from kerasgan.errors import UserError
from kerasgan.metrics import callback as fid_cb
from kerasgan.metrics import fid as fid_math
from kerasgan.metrics import inception
from kerasgan.runs import Run, checkpoint_info, restore_checkpoint
from kerasgan.training import fit


def read_scalars(log_dir):
    """{tag: [(step, value), ...]} of the TensorBoard scalars written under log_dir."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(log_dir), size_guidance={"tensors": 0})
    events.Reload()
    return {tag: [(e.step, float(tf.make_ndarray(e.tensor_proto))) for e in events.Tensors(tag)]
            for tag in events.Tags()["tensors"]}


class ColourFeatures:
    """A fast stand-in for Inception: per-channel means and standard deviations (6-d)."""

    extractor_id = "colour-stats"
    preprocessing = "uint8"
    batch_size = 8

    def __call__(self, images):
        pixels = inception.to_uint8(images).astype(np.float64) / 255.0
        return np.concatenate([pixels.mean(axis=(1, 2)), pixels.std(axis=(1, 2))], axis=1)


class FakeTrainer(keras.Model):
    """What the callback needs of a trainer: `step`, and weights to save (one variable, set to
    the step when saved, so a test can tell which step a weights file was taken at)."""

    def __init__(self):
        super().__init__()
        self.step = 0
        self.saved_step = self.add_weight(shape=(), initializer="zeros", trainable=False)
        self.built = True

    def save_weights(self, path, **kwargs):
        self.saved_step.assign(self.step)
        super().save_weights(path, **kwargs)


def saved_step(path):
    """The step a FakeTrainer's weights file was saved at."""
    import h5py

    values = []
    with h5py.File(path, "r") as handle:
        handle.visititems(lambda name, item: values.append(item[()]) if isinstance(item, h5py.Dataset) else None)
    return int(values[0])


def random_images(count, seed, size=8):
    return np.random.default_rng(seed).integers(0, 256, (count, size, size, 3), dtype=np.uint8)


def float_images(count, seed):
    return random_images(count, seed).astype(np.float32) / 127.5 - 1.0


@pytest.fixture
def run(tmp_path):
    run = Run(tmp_path / "run")
    run.checkpoints.mkdir(parents=True)
    return run


def make_callback(run, tmp_path, every=10, num_samples=8, writer=None, fids=None):
    """A callback on a fake trainer, scoring random images with colour statistics; with `fids`,
    evaluations return those FIDs in turn instead."""
    callback = fid_cb.FIDCallback(float_images, random_images(16, 0), run, ColourFeatures(), every,
                                  num_samples, batch_size=4, writer=writer,
                                  cache_dir=tmp_path / "cache", verbose=False)
    if fids is not None:
        sequence = iter(fids)
        callback.evaluate = lambda: {"fid": next(sequence), "kid": 0.5, "kid_std": 0.1}
    callback.set_model(FakeTrainer())
    callback.on_train_begin()
    return callback


def evaluate_at(callback, steps):
    for step in steps:
        callback.model.step = step
        callback.on_step(step, {})


def best(run):
    """(step and fid recorded in the best checkpoint, step its weights were taken at)."""
    info = checkpoint_info(run.checkpoint_path("best"))
    return info["step"], info["fid"], saved_step(run.checkpoint_path("best"))


def test_best_checkpoint_is_replaced_only_when_fid_improves_and_survives_resume(run, tmp_path):
    callback = make_callback(run, tmp_path, fids=[50.0, 40.0, 45.0, 40.0, 30.0])
    evaluate_at(callback, [10, 20])
    assert best(run) == (20, 40.0, 20)
    evaluate_at(callback, [30, 40])  # worse, then equal: both keep step 20
    assert best(run) == (20, 40.0, 20)
    evaluate_at(callback, [50])
    assert best(run) == (50, 30.0, 50)

    resumed = make_callback(run, tmp_path, fids=[35.0, 25.0])  # a new process, same run
    assert resumed.best_fid == 30.0
    evaluate_at(resumed, [60])
    assert best(run) == (50, 30.0, 50)
    evaluate_at(resumed, [70])
    assert best(run) == (70, 25.0, 70)

    lines = (run.root / "metrics.csv").read_text().splitlines()
    assert lines[0] == "step,fid,kid,kid_std" and lines.count(lines[0]) == 1
    rows = fid_cb.read_metrics(run.root / "metrics.csv")
    assert [(r["step"], r["fid"]) for r in rows] == [
        (10, 50.0), (20, 40.0), (30, 45.0), (40, 40.0), (50, 30.0), (60, 35.0), (70, 25.0)]


def test_best_from_other_fid_settings_is_not_trusted(run, tmp_path):
    evaluate_at(make_callback(run, tmp_path, num_samples=8, fids=[10.0]), [10])
    with pytest.warns(UserWarning, match="other FID settings"):
        changed = make_callback(run, tmp_path, num_samples=12, fids=[20.0])
    assert changed.best_fid == float("inf")
    evaluate_at(changed, [20])
    assert best(run) == (20, 20.0, 20)


def test_schedule_and_final_evaluation(run, tmp_path):
    callback = make_callback(run, tmp_path, every=2)
    for step in range(1, 6):  # what fit() does: a batch ends, the trainer's step has advanced
        callback.model.step = step
        callback.on_train_batch_end(step - 1)
    callback.on_train_end()  # step 5 was not evaluated yet
    callback.on_train_end()  # ... and is not evaluated twice
    rows = fid_cb.read_metrics(run.root / "metrics.csv")
    assert [r["step"] for r in rows] == [2, 4, 5]
    # The same generator and noise at every evaluation: the same scores.
    assert len({(r["fid"], r["kid"]) for r in rows}) == 1


def test_scores_are_real_fid_and_kid_of_the_samples(run, tmp_path):
    callback = make_callback(run, tmp_path, num_samples=10)
    scores = callback.evaluate()
    # Batches of 4 from seeds 0, 1, 2 (the last cut to 2 images).
    samples = np.concatenate([float_images(4, 0), float_images(4, 1), float_images(2, 2)])
    expected = fid_math.fid_and_kid(ColourFeatures()(samples), callback.real)
    assert scores == pytest.approx(expected)
    assert scores["fid"] > 0 and np.isfinite(list(scores.values())).all()


# -- fid_and_kid, which the callback and kerasgan.evaluate share (lives in metrics/fid.py)


@pytest.mark.filterwarnings("ignore:FID statistics from")
def test_frechet_distance_of_samples_matches_the_covariance_route():
    rng = np.random.default_rng(4)
    for n1, n2, dim in ((300, 200, 16), (12, 20, 64)):  # full rank, then rank-deficient
        x = rng.standard_normal((n1, dim)) * rng.uniform(0.5, 2.0, dim) + 0.3
        y = rng.standard_normal((n2, dim)) + 0.1 * rng.standard_normal(dim)
        expected = fid_math.frechet_distance(*fid_math.statistics(x), *fid_math.statistics(y))
        # Rank-deficient, the eigenvalue route carries sqrt(round-off) from the zero eigenvalues.
        tolerance = 1e-10 if n1 > dim else 1e-6
        assert fid_math.frechet_distance_of_samples(x, y) == pytest.approx(expected, rel=tolerance)
        assert fid_math.frechet_distance_of_samples(x, x) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.filterwarnings("ignore:FID statistics from")
def test_fid_and_kid_takes_the_sample_route_only_below_the_feature_dimension(monkeypatch):
    rng = np.random.default_rng(5)
    real, fake = rng.standard_normal((40, 32)), rng.standard_normal((30, 32)) + 0.2
    mu, sigma = fid_math.statistics(real)
    reference = {"mu": mu, "sigma": sigma, "features": real.astype(np.float32)}
    small = fid_math.fid_and_kid(fake[:20], {**reference, "features": real[:25]})  # 25 < 32
    assert small["fid"] == pytest.approx(fid_math.frechet_distance_of_samples(fake[:20], real[:25]))
    monkeypatch.setattr(fid_math, "frechet_distance_of_samples", None)  # must not be used: 40 > 32
    large = fid_math.fid_and_kid(fake, reference)
    assert large["fid"] == pytest.approx(fid_math.frechet_distance(*fid_math.statistics(fake), mu, sigma))


def test_scores_go_to_tensorboard(run, tmp_path):
    writer = tf.summary.create_file_writer(str(tmp_path / "logs"))
    evaluate_at(make_callback(run, tmp_path, writer=writer, fids=[50.0, 40.0]), [10, 20])
    scalars = read_scalars(tmp_path / "logs")
    assert scalars["fid"] == [(10, 50.0), (20, 40.0)]
    assert [step for step, _ in scalars["kid"]] == [10, 20]
    assert scalars["kid_std"][0][1] == pytest.approx(0.1)


def fid_args(argv):
    return train_dcgan.config_from_flags(argv)


def test_flags():
    args = fid_args([])
    assert (args.fid_every, args.fid_samples, args.fid_weights) == (0, None, "imagenet")
    assert fid_cb.fid_callback_from_config(args, None, random_images(4, 0), None) is None
    with pytest.raises(SystemExit):
        fid_args(["--fid-every", "x"])
    with pytest.raises(UserError, match="--fid-every must be 0 or more"):
        fid_args(["--fid-every=-1"])
    assert fid_cb.default_num_samples(204) == 1000
    assert fid_cb.default_num_samples(5000) == 5000
    assert fid_cb.default_num_samples(70000) == 10000


@pytest.mark.filterwarnings("ignore:FID statistics from")  # 8 samples: rank-deficient, expected
def test_real_training_with_fid_and_resume(tiny_args, tmp_path, monkeypatch):
    """Two steps, then two more after a resume, with the real (randomly initialised) Inception,
    wired as train_dcgan wires it."""
    monkeypatch.setenv("KERASGAN_CACHE", str(tmp_path / "cache"))
    flags = fid_args(["--fid-every", "2", "--fid-samples", "8", "--fid-weights", "random",
                      "--fid-batch-size", "8"])
    extractor = fid_cb.inception_from_flag("random", 8)
    monkeypatch.setattr(fid_cb, "inception_from_flag", lambda weights, batch_size: extractor)
    args = train_dcgan.config_from_flags(tiny_args + ["--image-size", "64"])
    real_images = random_images(8, 1, size=64)
    run = Run(tmp_path / "runs" / "fid")
    for folder in (run.logs, run.checkpoints):
        folder.mkdir(parents=True, exist_ok=True)

    def train(steps, resume):
        from kerasgan.data.pipeline import make_dataset

        trainer = gan_recipe.build_trainer(args)
        trainer.compile(*gan_recipe.build_optimizers(args, steps), jit_compile=False)
        writer = tf.summary.create_file_writer(str(run.logs))
        generate = fid_cb.generator_sampler(trainer.generator, None, args.latent)
        callback = fid_cb.fid_callback_from_config(flags, generate, real_images, run, writer, tag="toy")
        callbacks = [callback, Checkpoint(run, every=100)]  # the latest checkpoint, to resume
        fit(trainer, lambda step: make_dataset(real_images, 64, 4, "basic", 0, step), run, steps, 2,
            callbacks, resume=resume, verbose=0)
        return trainer

    train(2, resume=False)
    trainer = train(4, resume=True)

    rows = fid_cb.read_metrics(run.root / "metrics.csv")
    assert [r["step"] for r in rows] == [2, 4]
    assert all(r["fid"] > 0 and np.isfinite(r["kid"]) for r in rows)
    assert [step for step, _ in read_scalars(run.logs)["fid"]] == [2, 4]
    best_info = checkpoint_info(run.checkpoint_path("best"))
    best_row = min(rows, key=lambda r: r["fid"])
    assert (best_info["step"], best_info["fid"]) == (best_row["step"], pytest.approx(best_row["fid"]))
    assert len(list((tmp_path / "cache" / "fid_stats").glob("toy-*.npz"))) == 1  # computed once
    assert restore_checkpoint(trainer, run, "best") == best_row["step"]  # a full trainer state
