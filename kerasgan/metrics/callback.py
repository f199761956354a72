"""FID and KID during training: a step callback and generator samplers.

Every `--fid-every` steps the callback generates `--fid-samples` images with fixed noise,
scores them against the real images' cached Inception statistics, logs `fid`, `kid` and
`kid_std` to TensorBoard and to <run>/metrics.csv, and keeps the best-by-FID trainer
checkpoint as checkpoints/best.weights.h5 beside the latest one.
"""

import csv
import time
import types
import warnings

import numpy as np
import tensorflow as tf

from kerasgan.callbacks import StepCallback
from kerasgan.errors import UserError
from kerasgan.latent import signature_inputs
from kerasgan.metrics.fid import fid_and_kid
from kerasgan.metrics.inception import InceptionFeatures
from kerasgan.metrics.stats_cache import real_statistics
from kerasgan.progress import log, progress_bar
from kerasgan.runs import BEST, checkpoint_info, save_checkpoint

METRICS_FILE = "metrics.csv"
METRICS_COLUMNS = ("step", "fid", "kid", "kid_std")
# Without --fid-samples: as many samples as real images, but at least 1000 (fewer makes FID
# strongly biased) and at most 10000 (each evaluation embeds them all; ~15 images/s on CPU).
MIN_DEFAULT_SAMPLES = 1000
MAX_DEFAULT_SAMPLES = 10000


def inception_from_flag(weights, batch_size=50, progress=False):
    """An `InceptionFeatures` for a --fid-weights value ("random" means weights=None)."""
    return InceptionFeatures(weights=None if weights == "random" else weights,
                             batch_size=batch_size, progress=progress)


def default_num_samples(num_real):
    """Generated images per evaluation when --fid-samples is not given."""
    return int(min(max(num_real, MIN_DEFAULT_SAMPLES), MAX_DEFAULT_SAMPLES))


# -- generated images -------------------------------------------------------------------


def draw_inputs(specs, batch_size, label_names=None, latent="normal", seed=0, labels=None):
    """Arrays for a generator's inputs ({name: tf.TensorSpec}), drawn as `kerasgan.generate`
    draws them for an export, but in name order: a Keras generator and its SavedModel list
    their inputs in different orders, and one random stream must fill both alike."""
    signature = types.SimpleNamespace(structured_input_signature=((), dict(sorted(specs.items()))))
    return signature_inputs(signature, batch_size, labels or {}, label_names or {}, latent, seed)


def generator_sampler(generator, label_names=None, latent="normal"):
    """A `generate_fn(batch_size, seed)` for FIDCallback: G's images in [-1, 1] for seeded inputs.

    Noise comes from the training prior; a conditional generator's labels and InfoGAN's codes
    are drawn uniformly at random (class-balanced samples). `kerasgan.evaluate` draws an
    export's inputs the same way, so a checkpoint and its export score the same. The noise
    comes from NumPy, not the trainer's SeedGenerator: turning FID on does not change the
    training run, and every evaluation scores the same latent points.

    Args:
        generator: a Keras generator taking `noise` (and, if conditional, named inputs).
        label_names: {input name: [class names]} of its integer inputs (conditional models:
            the attributes; InfoGAN: its categorical codes).
        latent: the noise prior, "normal" or "uniform".
    """
    specs = generator_specs(generator)
    single_input = len(specs) == 1

    def generate(batch_size, seed):
        inputs = draw_inputs(specs, batch_size, label_names, latent, seed)
        return generator(inputs["noise"] if single_input else inputs, training=False)

    return generate


def generator_specs(generator):
    """{input name: tf.TensorSpec} of a Keras generator's inputs."""
    return {t.name: tf.TensorSpec(t.shape, t.dtype, name=t.name) for t in generator.inputs}


def generated_features(generate_fn, extractor, num_samples, batch_size, seed=0, progress=None):
    """Features [num_samples, ...] (Inception's, or whatever `extractor` gives per image) of
    `generate_fn(count, seed + batch index)` images, with a progress bar when `progress` (default:
    when the extractor shows progress)."""
    parts = []
    progress = getattr(extractor, "progress", False) if progress is None else progress
    bar = progress_bar(num_samples, "generated images", "img", enabled=progress)
    for index, start in enumerate(range(0, num_samples, batch_size)):
        count = min(batch_size, num_samples - start)
        images = np.asarray(generate_fn(count, seed + index))
        if len(images) != count:
            raise ValueError(f"generate_fn returned {len(images)} images; asked for {count}")
        parts.append(extractor(images))
        bar.update(count)
    bar.close()
    return np.concatenate(parts)


# -- metrics.csv --------------------------------------------------------------------------


def append_metrics_row(path, row):
    """Appends a row to the CSV, writing the header first if the file is new or empty."""
    new = not path.exists() or path.stat().st_size == 0
    with open(path, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=METRICS_COLUMNS)
        if new:
            writer.writeheader()
        writer.writerow({name: row[name] for name in METRICS_COLUMNS})


def read_metrics(path):
    """The rows of a metrics.csv as dicts: step an int, the scores floats."""
    with open(path, newline="") as f:
        return [
            {"step": int(row["step"]), **{k: float(row[k]) for k in METRICS_COLUMNS[1:]}}
            for row in csv.DictReader(f)
        ]


# -- the callback -------------------------------------------------------------------------


class FIDCallback(StepCallback):
    """Scores the generator with FID and KID every `every` steps and at the end of training.

    Args:
        generate_fn: `generate_fn(batch_size, seed)` -> float images [batch, H, W, 3] in
            [-1, 1] (or uint8); see `generator_sampler`. Seeds are `seed + batch index`, the
            same at every evaluation.
        real_images: uint8 [N, H, W, 3], the training images. Their statistics are computed
            once, when training starts, and cached by content (`real_statistics`).
        run: the `Run`; rows go to run.root/metrics.csv, the best checkpoint to
            run.checkpoints/best.weights.h5 (its scores inside: `runs.checkpoint_info`).
        extractor: an `InceptionFeatures` (or any callable with `extractor_id` and
            `preprocessing`, as `real_statistics` needs).
        every: steps between evaluations.
        num_samples: generated images per evaluation.
        batch_size: images per `generate_fn` call.
        writer: a `tf.summary` writer for the `fid`, `kid` and `kid_std` scalars, or None.
        keep_best: save the trainer as the "best" checkpoint whenever FID improves.
        cache_dir, tag: where and under which name the real statistics are cached.
        seed: the base noise seed.
        kid_subset_size: KID subset size (capped at the smaller sample count).
    """

    def __init__(self, generate_fn, real_images, run, extractor, every, num_samples,
                 batch_size=50, writer=None, keep_best=True, cache_dir=None, tag="", seed=0,
                 kid_subset_size=1000, verbose=True):
        super().__init__(every)
        self.generate_fn = generate_fn
        self.real_images = real_images
        self.run = run
        self.extractor = extractor
        self.num_samples = int(num_samples)
        self.batch_size = int(batch_size)
        self.writer = writer
        self.keep_best = keep_best
        self.cache_dir = cache_dir
        self.tag = tag
        self.seed = seed
        self.kid_subset_size = kid_subset_size
        self.verbose = verbose
        self.real = None
        self.best_fid = float("inf")
        self.last_step = None
        self.last_scores = None

    @property
    def metrics_path(self):
        return self.run.root / METRICS_FILE

    @property
    def setup(self):
        """What makes two FIDs comparable: the real statistics (images and extractor), the
        sample count and the noise."""
        return {"real_statistics": self.real["key"], "samples": self.num_samples, "seed": self.seed}

    def on_train_begin(self, logs=None):
        self.real = real_statistics(self.real_images, self.extractor, self.cache_dir, self.tag)
        self.best_fid = self.stored_best_fid()
        if self.verbose:
            source = "loaded from" if self.real["cached"] else "computed, cached in"
            log.info(f"FID reference: {len(self.real_images)} real images ({source} {self.real['path']}); "
                     f"{self.num_samples} samples every {self.every} steps")

    def stored_best_fid(self):
        """The best FID so far, from the best checkpoint's own facts, so it survives a resume.

        The checkpoint is the source, not metrics.csv: its facts always describe the weights
        on disk, while a lower FID in metrics.csv without its checkpoint would stop the best
        one from ever being saved.
        """
        if not self.run.has_checkpoint(BEST):
            return float("inf")
        info = checkpoint_info(self.run.checkpoint_path(BEST))
        if info.get("fid_setup") != self.setup:
            warnings.warn(
                f"{self.run.checkpoint_path(BEST)} was scored with other FID settings "
                f"(real images, weights, --fid-samples or seed); its FID {info.get('fid')} is not "
                "comparable, so the next evaluation replaces it",
                stacklevel=2,
            )
            return float("inf")
        return float(info["fid"])

    def evaluate(self):
        """{"fid", "kid", "kid_std"} of freshly generated images against the real set."""
        features = generated_features(self.generate_fn, self.extractor, self.num_samples,
                                      self.batch_size, self.seed)
        return fid_and_kid(features, self.real, kid_subset_size=self.kid_subset_size)

    def on_step(self, step, logs):
        start = time.perf_counter()
        scores = self.evaluate()
        improved = scores["fid"] < self.best_fid
        self.record(step, scores)
        if improved:
            self.best_fid = scores["fid"]
            if self.keep_best:
                save_checkpoint(self.model, self.run, tag=BEST, **scores, fid_setup=self.setup)
        self.last_step = step
        self.last_scores = scores
        if self.verbose:
            log.info(f"step {step}: FID {scores['fid']:.3f}  KID {scores['kid']:.5f} "
                     f"+- {scores['kid_std']:.5f}{'  (best)' if improved else ''}  "
                     f"[{self.num_samples} samples, {time.perf_counter() - start:.0f} s]")

    def record(self, step, scores):
        append_metrics_row(self.metrics_path, {"step": step, **scores})
        if self.writer is not None:
            with self.writer.as_default(step=step):
                for name, value in scores.items():
                    tf.summary.scalar(name, value)
            self.writer.flush()

    def on_end(self, step):
        if step != self.last_step:
            self.on_step(step, {})


def fid_callback_from_config(config, generate_fn, real_images, run, writer=None, tag=""):
    """The FIDCallback the training flags ask for, or None with --fid-every 0.

    Builds the Inception network now, so missing weights fail before training starts.
    """
    if not config.fid_every:
        return None
    if len(real_images) < 2:
        raise UserError(f"FID needs at least 2 real images; the data has {len(real_images)}")
    extractor = inception_from_flag(config.fid_weights, config.fid_batch_size)
    num_samples = config.fid_samples or default_num_samples(len(real_images))
    if num_samples < 2:
        raise UserError(f"--fid-samples must be at least 2 for a covariance; got {num_samples}")
    return FIDCallback(generate_fn, real_images, run, extractor, config.fid_every, num_samples,
                       config.fid_batch_size, writer, tag=tag, seed=config.seed)
