"""What every recipe shares: config handling, data arguments, the run directory, the fit loop.

A recipe turns a config into a trained model inside a run directory. Subclasses say how to
load their data, build their trainer and optimizers, render sample grids and export.
"""

import contextlib
import logging
from pathlib import Path

import numpy as np

from kerasgan.errors import InvalidValue, UserError
from kerasgan.progress import log


class Recipe:
    """Base of `GAN` and `CycleGAN`: holds a resolved config, the trainer and the run."""

    config_class = None

    def __init__(self, config=None, **options):
        config = config if config is not None else self.config_class()
        if not isinstance(config, self.config_class):
            raise TypeError(f"{type(self).__name__} takes a {self.config_class.__name__}, got {type(config).__name__}")
        # As given, before defaults: fit settles the defaults that follow the data it is handed.
        self.given_config = config.replace(**options) if options else config
        self.config = self.given_config.resolved()
        self.trainer = None
        self.run = None
        self.strategy = None

    def __repr__(self):
        where = f", run={str(self.run.root)!r}" if self.run is not None else ""
        return f"{type(self).__name__}(model={getattr(self.config, 'model', 'cyclegan')!r}{where})"

    def log(self, message, level=logging.INFO):
        """A line for a person, through the "kerasgan" logger (kerasgan/progress.py)."""
        log.log(level, message)

    def _build(self, build, make_optimizers):
        from kerasgan import scale

        self.trainer, self.strategy = scale.build_trainer(self.config, build, make_optimizers)
        return self.trainer

    def _open_run(self, name, facts, resume):
        """Creates (or, resuming, reopens) the run directory, after checking that the export at
        the end could be written, so a read-only exports/ is not found only after training."""
        from kerasgan.export import check_writable
        from kerasgan.runs import open_run

        if not self.config.no_export:
            check_writable(self.config.exports_dir)
        self.config = self.config.replace(name=name)
        self._run_record = {**self.config.to_dict(), **facts}
        self.run = open_run(self.config.runs_dir, name, self._run_record, resume)
        self._resuming = resume
        return self.run

    def _lr_decay(self, name, schedule, total, decay_start, resume):
        """The knots of the run's learning-rate decay (kerasgan/trainers/schedules.py), None for
        a constant rate. A resumed run continues the decay it recorded, over its new length:
        the rate never jumps back up; a line says what changed."""
        from kerasgan.runs import Run, checkpoint_step
        from kerasgan.trainers.schedules import continued_decay, new_decay

        fresh = new_decay(schedule, total, decay_start)
        run = Run(Path(self.config.runs_dir) / name)
        if not (resume and run.config_path.exists() and run.has_checkpoint()):
            return fresh  # a fresh run, or one that open_run will refuse to resume
        recorded = run.load_config()
        knots = recorded["lr_decay"] if "lr_decay" in recorded else new_decay(
            schedule, recorded.get("steps_total", total), recorded.get("decay_start", decay_start))
        try:
            step = checkpoint_step(run)
        except UserError:
            return fresh  # a damaged checkpoint: restoring it says so, with what to do
        try:
            knots, change = continued_decay(knots, step, total, fresh)
        except ValueError as error:
            raise UserError(f"{run.root}: {error}") from None
        if change:
            self.log(change, logging.WARNING)
        return knots

    @contextlib.contextmanager
    def _setting_up_run(self):
        """Building in the open run: a failure releases the run's lock before it propagates, and
        a new run's directory (made by this call, holding nothing else) is removed again, so
        a mistake found here leaves nothing behind to delete."""
        import shutil

        try:
            yield self.run
        except BaseException:
            self.run.unlock()
            if not self._resuming and not self.run.has_checkpoint():
                shutil.rmtree(self.run.root, ignore_errors=True)
            raise

    def _fit(self, dataset_at, steps, steps_per_epoch, callbacks, resume):
        """Trains in the open run on `dataset_at(step, shard=None)` (the input pipeline positioned
        at a step; `shard` a multi-worker run's share, see scale.distribute_stream); the run's
        lock is released however this ends."""
        from kerasgan import scale
        from kerasgan.runs import record_config
        from kerasgan.training import fit

        def distributed_at(step):
            return scale.distribute_stream(dataset_at, step, self.strategy)

        try:
            return fit(self.trainer, distributed_at, self.run, steps, steps_per_epoch, callbacks, resume,
                       self.config.verbose, on_resumed=lambda: record_config(self.run, self._run_record),
                       max_loss=self.config.max_loss)
        finally:
            self.run.unlock()


def fit_changes(steps, name, runs_dir):
    """The config changes that `fit`'s keyword arguments ask for (a length in steps replaces one
    in epochs)."""
    changes = {k: v for k, v in (("steps", steps), ("name", name), ("runs_dir", runs_dir)) if v is not None}
    if steps is not None:
        changes["epochs"] = None
    return changes


def image_set_from(data, config, with_labels=False):
    """A source (kerasgan/data/sources.py) from what a user hands `fit`.

    `data` may be None (the config's --dataset/--data-dir), a folder path, a zip written by
    `kerasgan prepare`, a dataset name (`shapes`, `grumpifycat` or a TFDS name), a source
    (e.g. an ImageSet), or a `tf.data.Dataset` of images (uint8 in [0, 255] or floats in
    [-1, 1], batched or not; (image, label) pairs carry an integer `label` attribute), which is
    read into memory. Folders and zips are listed, not decoded. Returns (source, config
    updated to name that source).
    """
    from kerasgan.data.sources import Source, load_image_set

    config = config.replace(**source_fields(data))
    if isinstance(data, Source):
        return data, config
    if config.dataset == "tf.data" and data is not None:
        return images_from_dataset(data, config.image_size, with_labels), config
    if config.dataset == "tf.data":
        raise UserError("this run trained on a tf.data.Dataset: pass the data again (fit(data=...)) or a "
                        "folder / dataset name")
    keys = [k.strip() for k in config.label_keys.split(",") if k.strip()]
    data = load_image_set(config.dataset, config.data_dir, config.image_size, config.seed, config.num_images,
                          with_labels, config.labels_csv, keys)
    return data, config


def source_fields(data):
    """The config fields that name what a user hands `fit` (see `image_set_from`); {} for None."""
    from kerasgan.data.source import Source

    if data is None:
        return {}
    if isinstance(data, Source):
        return {"dataset": data.name, "data_dir": None}
    if not isinstance(data, (str, Path)):
        return {"dataset": "tf.data", "data_dir": None}
    folder = Path(data).expanduser()
    is_files = folder.is_dir() or (folder.is_file() and folder.suffix.lower() == ".zip")
    return {"dataset": None, "data_dir": str(folder)} if is_files else {"dataset": str(data)}


def images_from_dataset(dataset, image_size, with_labels=False):
    """Reads a tf.data.Dataset into memory as uint8 images at `image_size` (and its labels)."""
    import tensorflow as tf

    from kerasgan.data.sources import ImageSet

    images, labels = [], []
    for element in dataset.as_numpy_iterator():
        image, label = (element[0], element[1]) if isinstance(element, tuple) else (element, None)
        if isinstance(element, dict):
            image, label = element.get("image"), element.get("label")
        image = np.asarray(image)
        if image.ndim == 3:
            image, label = image[None], None if label is None else np.asarray(label)[None]
        images.append(image)
        if label is not None:
            labels.append(np.asarray(label).reshape(-1))
    if not images:
        raise InvalidValue("the tf.data.Dataset given to fit yielded no images")
    batch = np.concatenate(images)
    if batch.ndim != 4 or batch.shape[-1] not in (1, 3):
        raise InvalidValue(f"fit wants images [H, W, 1 or 3], got elements of shape {batch.shape[1:]}")
    if batch.dtype != np.uint8:  # floats in [-1, 1]
        batch = np.clip(np.round((batch.astype(np.float32) + 1.0) * 127.5), 0, 255).astype(np.uint8)
    if batch.shape[-1] == 1:
        batch = np.repeat(batch, 3, axis=-1)
    if batch.shape[1:3] != (image_size, image_size):
        batch = tf.cast(tf.clip_by_value(tf.round(tf.image.resize(batch, (image_size, image_size), antialias=True)),
                                         0, 255), tf.uint8).numpy()
    image_set = ImageSet("tf.data", batch)
    if with_labels:
        if len(labels) != len(images):
            raise InvalidValue("a conditional model needs (image, label) elements in the tf.data.Dataset")
        ids = np.concatenate(labels).astype(np.int32)
        image_set.labels = {"label": ids}
        image_set.label_names = {"label": [str(i) for i in range(int(ids.max()) + 1)]}
    return image_set
