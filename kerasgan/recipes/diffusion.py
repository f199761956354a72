"""The diffusion recipe: config -> U-Net, DiffusionTrainer, optimizer, data, run, samples, export.

A denoising diffusion model trained on the same data, run directories, callbacks and export
layout as the GANs, so the two can be compared on one footing (docs/diffusion.md, "GAN or diffusion?"):

    model = Diffusion(image_size=32, steps=2000)
    model.fit("path/to/images")
    model.sample(16, steps=50)         # DDIM with the EMA weights; the step count is free
    model.export()                     # TF Serving: serving_default(noise), generate(batch_size, seed, steps)

The options are the fields of `kerasgan.config.DiffusionConfig` (the flags of
`train_diffusion.py`). The update rule, schedules and samplers are in
kerasgan/trainers/diffusion.py, the network in kerasgan/nets/unet.py.
"""

import numpy as np

from kerasgan.config import DiffusionConfig
from kerasgan.errors import InvalidValue, UserError
from kerasgan.recipes.base import Recipe, fit_changes, image_set_from
from kerasgan.recipes.gan import dataset_name  # noqa: F401  (the same run names as the GANs': diffusion_<data>_<size>)

SAMPLE_GRID = 16  # images per sample grid: each costs sample_steps network calls


def describe(config):
    from kerasgan.nets.unet import PRESETS

    width = config.width or PRESETS[config.preset]["width"]
    return (f"model diffusion: U-Net {config.preset} (width {width}), T {config.timesteps}, {config.schedule} "
            f"schedule, predicts {config.prediction}, adam lr {config.learning_rate():g}, EMA {config.ema:g}, "
            f"samples with {config.sample_steps} DDIM steps")


def build_networks(config):
    """(network, EMA network): two U-Nets of the same shape; the trainer copies the first into the second."""
    from kerasgan.nets.unet import build_unet

    return (build_unet(config.image_size, config.preset, config.width, name="unet"),
            build_unet(config.image_size, config.preset, config.width, name="ema_unet"))


def build_trainer(config):
    from kerasgan.trainers.diffusion import DiffusionTrainer

    network, ema_network = build_networks(config)
    return DiffusionTrainer(network, ema_network, config.schedule, config.timesteps, config.prediction,
                            config.ema, config.seed)


def build_optimizers(config, steps, lr_decay=None):
    """A one-tuple: the denoiser's Adam (scale.build_trainer compiles with what this returns);
    its rate decays over `steps` (or along `lr_decay`, a resumed run's knots)."""
    import keras

    from kerasgan.trainers.schedules import learning_rate, new_decay

    rate = learning_rate(config.learning_rate(), config.lr_schedule, lr_decay or new_decay(config.lr_schedule, steps))
    return (keras.optimizers.Adam(rate, beta_1=config.beta1, beta_2=config.beta2),)


def start_noise(num, image_size, seed=0):
    """x_T for `num` images: N(0, 1) from NumPy's generator seeded with `seed`, drawn exactly
    as `kerasgan generate` draws an export's `noise` input, so a run and its export agree."""
    from kerasgan.latent import draw_noise

    return draw_noise(np.random.default_rng(seed), (num, image_size, image_size, 3))


def sampler(trainer, steps):
    """A `generate_fn(batch_size, seed)` for FIDCallback: DDIM images in [-1, 1] in `steps` steps."""
    size = trainer.network.input[0].shape[1]
    return lambda batch_size, seed: trainer.sample(start_noise(batch_size, size, seed), steps)


def sample_render(trainer, config):
    """A render function for the sample grid callback: 4x4 images from fixed noise."""
    from kerasgan.images import make_grid, to_uint8

    noise = start_noise(SAMPLE_GRID, config.image_size, config.seed)
    return lambda: make_grid(to_uint8(np.asarray(trainer.sample(noise, config.sample_steps))), 4)


class Diffusion(Recipe):
    """A denoising diffusion model trained in a run directory and exported for serving.

    `Diffusion(image_size=32, steps=2000)` or `Diffusion(DiffusionConfig(...))`.
    """

    config_class = DiffusionConfig

    @property
    def network(self):
        """The EMA network, the one that samples and is exported."""
        return None if self.trainer is None else self.trainer.ema_network

    def build(self, steps=1, lr_decay=None):
        """Builds and compiles the trainer (networks, optimizer) without training."""
        return self._build(lambda: build_trainer(self.config), lambda: build_optimizers(self.config, steps, lr_decay))

    def fit(self, data=None, *, steps=None, name=None, runs_dir=None, resume=False, callbacks=()):
        """Trains on `data` in runs_dir/name; exports at the end unless `no_export`. Returns the Run.

        `data` as for `GAN.fit`: None (the config's dataset), a folder, a dataset name or a
        tf.data.Dataset of images.
        """
        import tensorflow as tf

        from kerasgan import callbacks as cb
        from kerasgan.data.cache import cached
        from kerasgan.data.pipeline import make_dataset
        from kerasgan.metrics.callback import fid_callback_from_config
        from kerasgan.runs import trainer_step
        from kerasgan.training import total_steps

        changes = fit_changes(steps, name, runs_dir)
        config = self.config.replace(**changes).check() if changes else self.config
        data, config = image_set_from(data, config)
        data, where = cached(data, config.cache)
        self.config = config
        if len(data) < config.batch_size:
            raise InvalidValue(f"{len(data)} images is fewer than --batch-size {config.batch_size}: lower it "
                            "or add images")
        steps_per_epoch = len(data) // config.batch_size
        total = total_steps(config.steps, config.epochs, len(data), config.batch_size)
        name = config.name or config.default_name(dataset_name(config))
        lr_decay = self._lr_decay(name, config.lr_schedule, total, 0, resume)
        facts = {"steps_total": total, "images": len(data), "dataset_name": data.name, "lr_decay": lr_decay}
        run = self._open_run(name, facts, resume)
        with self._setting_up_run():
            self.log(f"run {run.root}: {len(data)} images, {total} steps of batch {config.batch_size}")
            self.log(f"data: {where}")
            self.log(describe(config))
            trainer = self.build(total, lr_decay)
            writer = tf.summary.create_file_writer(str(run.logs))
            run_callbacks = [
                cb.TensorBoardScalars(writer, config.log_every),
                cb.SampleGrid(sample_render(trainer, config), run.samples, writer, config.sample_every),
                cb.Checkpoint(run, config.checkpoint_every),
            ]
            fid = fid_callback_from_config(config, sampler(trainer, config.fid_steps), data, run, writer,
                                           tag=data.name)
            if fid is not None:
                run_callbacks.append(fid)

        def dataset_at(step, shard=None):
            return make_dataset(data, config.image_size, config.batch_size, config.data_preprocess,
                                config.seed, step, shard=shard)

        trained = self._fit(dataset_at, total, steps_per_epoch, [*callbacks, *run_callbacks], resume)
        self.log(f"samples:     {run.samples}\ntensorboard: tensorboard --logdir {run.logs}\n"
                 f"checkpoint:  {run.checkpoint_path()}")
        if not config.no_export and trained:
            scores = fid.last_scores or {} if fid is not None else {}
            path = self.export(metadata={"step": trainer_step(trainer), **scores})
            self.log(f"export:      {path}")
        return run

    def sample(self, num=16, seed=0, steps=None, eta=0.0):
        """uint8 images [num, H, W, 3]: DDIM from seeded noise with the EMA weights.

        `steps` (default `sample_steps`) may be anything from 1 to the trained timesteps;
        eta 0 is deterministic, eta 1 with steps = timesteps is DDPM's sampler.
        """
        from kerasgan.images import to_uint8

        if self.trainer is None:
            raise UserError("nothing to sample yet: fit the model or load a run first")
        steps = steps or self.config.sample_steps
        if not 1 <= steps <= self.config.timesteps:
            raise InvalidValue(f"steps must be in 1 .. {self.config.timesteps} (the trained timesteps), got {steps}")
        noise = start_noise(num, self.config.image_size, seed)
        return to_uint8(np.asarray(self.trainer.sample(noise, steps, eta, seed)))

    def export(self, exports_dir=None, name=None, metadata=None):
        """Exports the EMA network's DDIM sampler as the next version of exports_dir/name."""
        from kerasgan.export import export_diffusion_sampler

        if self.trainer is None:
            raise UserError("nothing to export yet: fit the model or load a run first")
        name = name or (self.run.root.name if self.run is not None else self.config.default_name("custom"))
        info = {"run": str(self.run.root) if self.run is not None else None, "config": self.config.to_dict(),
                **(metadata or {})}
        return export_diffusion_sampler(self.trainer.ema_network, exports_dir or self.config.exports_dir, name,
                                        self.trainer.alpha_bar_numpy, self.config.prediction,
                                        self.config.sample_steps, info)
