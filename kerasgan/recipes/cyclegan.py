"""CycleGAN's recipe: config -> two generators, two discriminators, trainer, schedule, run, export.

The learning rate stays constant for `epochs` epochs, then falls linearly to 0 over
`decay_epochs` more (paper: 100 + 100; one epoch = max(|X|, |Y|) // batch steps); with
`steps=N` it decays over the last half (or the last `decay_epochs` epochs).

    cycle = CycleGAN(steps=2000)
    cycle.fit(x="path/to/apples", y="path/to/oranges")
    oranges = cycle.translate(apples_uint8)            # X -> Y; direction="y2x" for F
"""

import numpy as np

from kerasgan.config import CycleGANConfig
from kerasgan.errors import InvalidValue, UserError
from kerasgan.recipes.base import Recipe, fit_changes


def schedule(config, steps_per_epoch):
    """(decay_start, total) in trainer steps: constant LR until decay_start, then linear to 0."""
    if config.steps:
        decay = config.steps // 2 if config.decay_epochs is None else config.decay_epochs * steps_per_epoch
        return max(config.steps - decay, 0), config.steps
    epochs = config.epochs or 100
    decay_epochs = epochs if config.decay_epochs is None else config.decay_epochs
    return epochs * steps_per_epoch, (epochs + decay_epochs) * steps_per_epoch


def build_trainer(config):
    """A CycleGANTrainer around fresh networks (`scale.build_trainer` builds it under
    `seeds.seeded(config.seed)`: the same seed, the same initial weights)."""
    from kerasgan.nets.cyclegan import build_discriminator, build_generator
    from kerasgan.trainers.cycle import CycleGANTrainer

    def generator(name):
        return build_generator(config.image_size, config.g_filters, config.g_blocks, config.norm, config.init, name)

    def discriminator(name):
        return build_discriminator(config.disc, config.image_size, config.d_filters, config.norm,
                                   config.spectral_norm, config.init, name)

    return CycleGANTrainer(
        generator("g_xy"), generator("g_yx"), discriminator("d_x"), discriminator("d_y"), config.image_size,
        loss=config.loss, lambda_cycle=config.lambda_cycle, lambda_identity=config.lambda_identity,
        cycle_loss=config.cycle_loss, pool_size=config.pool_size, diffaug=tuple(config.diffaug_policy),
        seed=config.seed, ema=config.ema,
    )


def build_optimizers(config, decay_start, steps, lr_decay=None):
    """Adam for both generators and for both discriminators, constant until `decay_start`, then
    linear to 0 at `steps` (or along `lr_decay`, a resumed run's knots: trainers/schedules.py)."""
    import keras

    from kerasgan.trainers.schedules import learning_rate, new_decay

    knots = lr_decay or new_decay("linear", steps, decay_start)

    def adam(lr):
        rate = learning_rate(lr, "linear", knots)
        return keras.optimizers.Adam(rate, beta_1=config.beta1, beta_2=config.beta2)

    return adam(config.g_lr or config.lr), adam(config.d_lr or config.lr)


def dataset_name(config):
    """The name a run's domain pair goes by (it names the run), without loading it."""
    from pathlib import Path

    from kerasgan.data.domains import tfds_name

    if config.x_dir and config.y_dir:
        return f"{Path(config.x_dir).name}2{Path(config.y_dir).name}"
    if config.dataset and config.dataset != "shapes" and (config.x_rel or tfds_name(config.dataset) is None):
        return config.dataset.lower()
    if config.x_rel and config.y_rel:
        return f"{Path(config.x_rel).name}2{Path(config.y_rel).name}"
    if config.dataset is None or config.dataset == "shapes":
        return "shapes"
    return tfds_name(config.dataset).split("/")[-1]


class CycleGAN(Recipe):
    """Unpaired image-to-image translation between domains X and Y.

    `CycleGAN(image_size=256, use_identity_loss=True)` or `CycleGAN(CycleGANConfig(...))`: the
    options are the fields of `kerasgan.config.CycleGANConfig` (the flags of
    `train_cyclegan.py`, with underscores).
    """

    config_class = CycleGANConfig

    def build(self, decay_start=0, steps=1, lr_decay=None):
        """Builds and compiles the trainer without training."""
        return self._build(lambda: build_trainer(self.config),
                           lambda: build_optimizers(self.config, decay_start, steps, lr_decay))

    def fit(self, x=None, y=None, *, steps=None, name=None, runs_dir=None, resume=False, callbacks=()):
        """Trains on folders `x` and `y` (or the config's data) in runs_dir/name; exports both
        generators at the end unless `no_export`. Returns the Run."""
        import tensorflow as tf

        from kerasgan import callbacks as cb
        from kerasgan.data.domains import load_domains, make_pair_dataset
        from kerasgan.runs import trainer_step
        from kerasgan.trainers.cycle import cycle_grid

        changes = fit_changes(steps, name, runs_dir)
        if (x is None) != (y is None):
            raise InvalidValue("give both x and y: one folder of images per domain")
        if x is not None:
            changes.update(x_dir=str(x), y_dir=str(y), dataset=None, x_rel=None, y_rel=None)
        config = self.config.replace(**changes).check() if changes else self.config
        self.config = config
        # Data first: a missing folder or offline dataset is reported before anything is built.
        pair = load_domains(config.dataset, config.x_dir, config.y_dir, config.data_dir, config.x_rel,
                            config.y_rel, config.image_size, config.seed, config.num_images, config.num_samples)
        smaller = min(len(pair.x), len(pair.y))
        if smaller < config.batch_size:
            raise InvalidValue(f"a domain has {smaller} images, fewer than --batch-size {config.batch_size}")
        steps_per_epoch = max(pair.epoch_size // config.batch_size, 1)
        decay_start, total = schedule(config, steps_per_epoch)
        name = config.name or config.default_name(dataset_name(config))
        lr_decay = self._lr_decay(name, "linear", total, decay_start, resume)
        facts = {"steps_total": total, "decay_start": decay_start, "dataset_name": pair.name,
                 "num_x": len(pair.x), "num_y": len(pair.y), "lr_decay": lr_decay}
        run = self._open_run(name, facts, resume)
        with self._setting_up_run():
            self.log(f"run {run.root}: {len(pair.x)} X and {len(pair.y)} Y images, {total} steps of batch "
                     f"{config.batch_size} (LR decays from step {decay_start})")
            trainer = self.build(decay_start, total, lr_decay)
            writer = tf.summary.create_file_writer(str(run.logs))
            x_test, y_test = (images.astype(np.float32) / 127.5 - 1.0 for images in (pair.x_test, pair.y_test))
            run_callbacks = [
                cb.TensorBoardScalars(writer, config.log_every),
                cb.SampleGrid(cycle_grid(*trainer.translators, x_test, y_test), run.samples, writer,
                              config.sample_every),
                cb.Checkpoint(run, config.checkpoint_every),
            ]

        def dataset_at(step):
            return make_pair_dataset(pair, config.image_size, config.batch_size, config.data_preprocess,
                                     config.seed, step, config.load_size)

        trained = self._fit(dataset_at, total, steps_per_epoch, [*callbacks, *run_callbacks], resume)
        self.log(f"samples:     {run.samples}  (rows: X, G(X), F(G(X)), Y, F(Y), G(F(Y)))\n"
                 f"tensorboard: tensorboard --logdir {run.logs}\ncheckpoint:  {run.checkpoint_path()}")
        if not config.no_export and trained:
            for path in self.export(metadata={"step": trainer_step(trainer)}):
                self.log(f"export {path.parent.name[-3:]}:  {path}")
        return run

    def translate(self, images, direction="x2y"):
        """uint8 images [N, H, W, 3] through G (x2y) or F (y2x) (their EMA copies with `ema`);
        returns uint8 images."""
        from kerasgan.images import to_uint8

        if self.trainer is None:
            raise UserError("nothing to translate with yet: fit the model or load a run first")
        if direction not in ("x2y", "y2x"):
            raise InvalidValue(f"direction must be x2y or y2x, got {direction!r}")
        generator = self.trainer.translators[0 if direction == "x2y" else 1]
        x = np.asarray(images, np.float32) / 127.5 - 1.0
        return to_uint8(np.asarray(generator(x, training=False)))

    def export(self, exports_dir=None, name=None, metadata=None):
        """Exports G as `exports_dir/<name>_x2y` and F as `<name>_y2x` (next versions; the EMA copies
        with `ema`); returns both paths."""
        from kerasgan.export import export_translator

        if self.trainer is None:
            raise UserError("nothing to export yet: fit the model or load a run first")
        name = name or (self.run.root.name if self.run is not None else self.config.default_name("custom"))
        info = {"run": str(self.run.root) if self.run is not None else None, "config": self.config.to_dict(),
                **(metadata or {})}
        return [export_translator(generator, exports_dir or self.config.exports_dir, f"{name}_{suffix}",
                                  self.config.image_size, {**info, "direction": suffix})
                for suffix, generator in zip(("x2y", "y2x"), self.trainer.translators)]
