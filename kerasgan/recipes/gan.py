"""The GAN family's recipe: config -> networks, trainer, optimizers, data, run, samples, export.

| model   | networks                          | update rule                                      |
|---------|-----------------------------------|--------------------------------------------------|
| dcgan   | DCGAN                             | GANTrainer, least squares (the course default)   |
| gan     | MLP on flattened images           | GANTrainer, BCE                                  |
| cgan    | MLP + label embeddings            | ConditionalGANTrainer, BCE                       |
| cdcgan  | DCGAN + label embeddings, projection D | ConditionalGANTrainer (ACGANTrainer: acgan), BCE |
| wgan    | DCGAN                             | GANTrainer, critic clipped to [-c, c]            |
| wgan-gp | DCGAN, no norm in the critic      | GANTrainer, gradient penalty                     |
| lsgan   | DCGAN                             | GANTrainer, least squares with a/b/c targets     |
| infogan | DCGAN + Q head                    | InfoGANTrainer                                   |
| began   | decoder G, autoencoder D          | BEGANTrainer                                     |
| fastgan | SLE G, two-branch D + decoders    | FastGANTrainer, hinge + D's reconstructions      |

Any model but began can add adaptive augmentation (`ada=True`, augment/ada.py).

Each model's defaults live in kerasgan/config.py (`GANConfig.resolved()`). `GAN` is the Python
API and what `train_dcgan.py` runs:

    gan = GAN(model="dcgan", steps=300)
    gan.fit("path/to/images")
    gan.sample(16); gan.export()
"""

from kerasgan.config import CONDITIONAL, GANConfig
from kerasgan.errors import InvalidValue, UserError
from kerasgan.latent import fixed_noise
from kerasgan.recipes.base import Recipe, fit_changes, image_set_from, source_fields


def describe(config):
    """One line with the settings that differ between models."""
    lr = f"lr {config.lr:g}"
    if config.g_lr or config.d_lr:
        lr = f"lr G {config.g_lr or config.lr:g} D {config.d_lr or config.lr:g}"
    if config.optimizer == "rmsprop":
        optimizer = f"rmsprop {lr}"
    else:
        optimizer = f"adam {lr} (beta1 {config.beta1:g}, beta2 {config.beta2:g})"
    spread = ", minibatch std in D" if config.minibatch_std else ""
    if config.model == "began":
        return (f"model began: {optimizer}, gamma {config.began_gamma:g}, lambda_k {config.began_lambda_k:g}"
                f"{spread}")
    extra = {"wgan": f", clip {config.clip_value:g}",
             "wgan-gp": f", gp weight {config.gp_weight:g} (norm to {config.gp_center:g})"}.get(config.loss, "")
    extra += f", R1 gamma {config.r1:g}" if config.r1 else ""
    extra += spread
    if config.ada:
        extra += f", ADA on {config.diffaug} (target {config.ada_target:g}, p +-1 per {config.ada_kimg:g}k images)"
    labels = ""
    if config.conditional:
        ac = f" (weight {config.ac_weight:g})" if config.d_conditioning == "acgan" else ""
        labels = (f", labels: G {config.g_conditioning}, D {config.d_conditioning}{ac}, mismatch "
                  f"{'on' if config.uses_mismatch else 'off'}")
    return f"model {config.model}: loss {config.loss}{extra}, {optimizer}, n_critic {config.n_critic}{labels}"


def select_labels(data, attributes=None):
    """(labels, label_names) of the chosen attributes (default: all the dataset has)."""
    if not data.labels:
        raise InvalidValue(f"dataset {data.name} has no labels: use --dataset shapes, a folder with one "
                        "subfolder per class, --labels-csv FILE, or a TFDS dataset with labels")
    names = [a.strip() for a in attributes.split(",") if a.strip()] if attributes else list(data.labels)
    unknown = [a for a in names if a not in data.labels]
    if unknown:
        raise InvalidValue(f"no attribute {unknown[0]!r} in {data.name}; it has: {', '.join(data.labels)}")
    return {a: data.labels[a] for a in names}, {a: list(data.label_names[a]) for a in names}


def info_codes(config, label_names):
    """InfoGAN's categorical codes {name: categories}: the supervised attribute first."""
    codes = {}
    if config.info_supervised:
        codes[config.info_supervised] = len(label_names[config.info_supervised])
    sizes = [int(s) for s in config.info_categorical.split(",") if s.strip()]
    if any(size < 2 for size in sizes):
        raise InvalidValue(f"--info-categorical sizes must be at least 2, got {config.info_categorical}")
    codes.update({f"code{i + 1}": size for i, size in enumerate(sizes)})
    return codes


def code_names(codes, label_names):
    """Class names per categorical code: the attribute's for a supervised code, else 0..k-1."""
    return {name: label_names.get(name, [str(i) for i in range(count)]) for name, count in codes.items()}


# -- networks ------------------------------------------------------------------------------
def build_networks(config, label_names=None):
    """(generator, discriminator) for `config.model`; `label_names` for labelled models."""
    from kerasgan.nets import began, conditional, dcgan, fastgan, infogan, mlp

    size, width, init = config.image_size, config.width, config.init
    g_act, d_act = config.activation, config.activation or "leaky_relu"
    num_classes = {a: len(n) for a, n in (label_names or {}).items()}
    embed_dim = config.embed_dim or conditional.default_embed_dim(config.noise_dim)
    c = {"channels": config.channels or 3}  # resolved from the data in GAN.fit
    if config.model == "gan":
        return (mlp.build_mlp_generator(size, config.noise_dim, width, config.norm, g_act or "leaky_relu", init, **c),
                mlp.build_mlp_discriminator(size, width, d_act, init, **c))
    g_cond = {"conditioning": config.g_conditioning or "concat"}
    d_cond = {"conditioning": config.d_conditioning or "concat"}
    if config.model == "cgan":
        return (conditional.build_conditional_mlp_generator(num_classes, size, config.noise_dim, embed_dim, width,
                                                            config.norm, g_act or "leaky_relu", init, **c, **g_cond),
                conditional.build_conditional_mlp_discriminator(num_classes, size, embed_dim, width, d_act, init, **c,
                                                                **d_cond))
    if config.model == "cdcgan":
        return (conditional.build_conditional_dcgan_generator(num_classes, size, config.noise_dim, embed_dim, width,
                                                              config.g_upsample, config.norm, g_act or "relu", init,
                                                              **c, **g_cond),
                conditional.build_conditional_dcgan_discriminator(num_classes, size, embed_dim, width, config.d_norm,
                                                                  config.spectral_norm, init, d_act, **c, **d_cond))
    if config.model == "infogan":
        codes = info_codes(config, label_names or {})
        return (infogan.build_infogan_generator(codes, config.info_continuous, size, config.noise_dim, width,
                                                config.g_upsample, config.norm, g_act or "relu", init, **c),
                infogan.build_infogan_discriminator(codes, config.info_continuous, size, width, config.d_norm,
                                                    config.spectral_norm, init, d_act, **c))
    if config.model == "fastgan":
        return (fastgan.build_fastgan_generator(size, config.noise_dim, width, init, **c),
                fastgan.build_fastgan_discriminator(size, width, init, **c))
    if config.model == "began":
        return (began.build_began_generator(size, config.noise_dim, width, g_act or "elu", init, **c),
                began.build_began_discriminator(size, config.began_hidden, width, config.activation or "elu", init,
                                                minibatch_std=config.minibatch_std, **c))
    return (dcgan.build_generator(size, config.noise_dim, width, config.g_upsample, config.norm, g_act or "relu", init,
                                  full_res_convs=config.g_full_res_convs, **c),
            dcgan.build_discriminator(size, width, config.d_norm, config.spectral_norm, init, activation=d_act,
                                      minibatch_std=config.minibatch_std, **c))


def build_trainer(config, label_names=None, mode_seeking_target=None):
    """The trainer for `config.model`, around fresh networks; `mode_seeking_target`: the real
    images' distance within a label set (`real_pair_distance`), where mode seeking stops pushing."""
    from kerasgan.augment.ada import AdaptiveAugment
    from kerasgan.nets.fastgan import build_fastgan_decoders
    from kerasgan.trainers.began import BEGANTrainer
    from kerasgan.trainers.conditional import ACGANTrainer, ConditionalGANTrainer
    from kerasgan.trainers.fastgan import FastGANTrainer
    from kerasgan.trainers.gan import GANTrainer
    from kerasgan.trainers.infogan import InfoGANTrainer

    generator, discriminator = build_networks(config, label_names)
    common = {"diffaug": tuple(config.diffaug_policy), "latent": config.latent, "seed": config.seed,
              "ema": config.ema or 0.0}
    if config.model == "began":
        return BEGANTrainer(generator, discriminator, config.began_gamma, config.began_lambda_k, **common)
    if config.ada:
        common["ada"] = AdaptiveAugment(config.ada_target, config.ada_interval, config.ada_kimg)
    if config.model == "fastgan":
        decoders = build_fastgan_decoders(config.image_size, config.width, config.init, channels=config.channels or 3)
        return FastGANTrainer(generator, discriminator, decoders, loss=config.loss,
                              label_smoothing=config.label_smoothing, noisy_labels=config.noisy_labels, **common)
    adversarial = {"loss": config.loss, "n_critic": config.n_critic, "gp_weight": config.gp_weight,
                   "gp_center": config.gp_center, "clip_value": config.clip_value,
                   "label_smoothing": config.label_smoothing,
                   "noisy_labels": config.noisy_labels, "lsgan_targets": config.lsgan_targets, "r1": config.r1,
                   **common}
    if config.model in CONDITIONAL:
        num_classes = {a: len(n) for a, n in label_names.items()}
        seeking = {"mode_seeking": config.mode_seeking or 0.0, "mode_seeking_target": mode_seeking_target}
        if config.d_conditioning == "acgan":
            return ACGANTrainer(generator, discriminator, num_classes, config.ac_weight, **seeking, **adversarial)
        return ConditionalGANTrainer(generator, discriminator, num_classes, config.uses_mismatch, **seeking,
                                     **adversarial)
    if config.model == "infogan":
        return InfoGANTrainer(generator, discriminator, info_codes(config, label_names or {}), config.info_continuous,
                              config.info_weight, config.info_continuous_weight, config.info_continuous_loss,
                              config.info_supervised or None, **adversarial)
    return GANTrainer(generator, discriminator, **adversarial)


def build_optimizers(config, steps, lr_decay=None):
    """(G, D) optimizers: Adam or RMSprop, separate rates, the chosen schedule over `steps`
    (or along `lr_decay`, the knots of a resumed run's decay: trainers/schedules.py)."""
    import keras

    from kerasgan.trainers.schedules import learning_rate, new_decay

    knots = lr_decay or new_decay(config.lr_schedule, steps, config.lr_decay_start)

    def make(lr, updates_per_step=1):
        rate = learning_rate(lr, config.lr_schedule, knots, updates_per_step)
        if config.optimizer == "rmsprop":
            return keras.optimizers.RMSprop(rate)
        return keras.optimizers.Adam(rate, beta_1=config.beta1, beta_2=config.beta2)

    d_updates = 1 if config.model == "began" else config.n_critic
    return make(config.g_lr or config.lr), make(config.d_lr or config.lr, d_updates)


# -- samples and export --------------------------------------------------------------------
def sample_render(trainer, config, label_names=None):
    """A render function for the sample grid callback.

    Conditional: one row per label combination (up to 16), 8 noise vectors as columns.
    InfoGAN: rows are the categories of the first code, columns sweep each continuous code
    from -2 to 2. Others: 8x8 images from fixed noise. With --ema the averaged generator draws.
    """
    from kerasgan import callbacks as cb
    from kerasgan.trainers.conditional import label_grid, label_rows
    from kerasgan.trainers.infogan import traversal_grid

    if config.model in CONDITIONAL:
        rows = label_rows({a: len(n) for a, n in label_names.items()})
        return label_grid(trainer.sampling_generator, fixed_noise(config.noise_dim, 8, config.latent, config.seed), rows)
    if config.model == "infogan":
        noise = fixed_noise(config.noise_dim, 8, config.latent, config.seed)
        return traversal_grid(trainer.sampling_generator, noise, trainer.categorical, trainer.continuous)
    return cb.generator_grid(trainer.sampling_generator, fixed_noise(config.noise_dim, 64, config.latent, config.seed), 8)


def export_model(trainer, config, exports_dir, name, metadata, label_names=None):
    """Exports the generator (the EMA one with --ema); conditional and InfoGAN generators take
    their labels by name."""
    from kerasgan.export import export_conditional_generator, export_generator

    generator = trainer.sampling_generator
    if config.model in CONDITIONAL:
        return export_conditional_generator(generator, exports_dir, name, label_names, metadata,
                                            latent=config.latent)
    if config.model == "infogan":
        names = code_names(trainer.categorical, label_names or {})
        return export_conditional_generator(generator, exports_dir, name, names, metadata,
                                            latent=config.latent)
    return export_generator(generator, exports_dir, name, metadata, latent=config.latent)


def dataset_name(config):
    """The name a run's data goes by (it names the run: dcgan_<this>_64), without loading it."""
    from pathlib import Path

    from kerasgan.data.sources import COURSE_FOLDERS

    if config.dataset is None:
        if not config.data_dir:
            return "shapes"
        path = Path(config.data_dir).expanduser()
        return path.stem if path.suffix.lower() == ".zip" else path.name  # a prepared zip: faces128
    if config.dataset.lower() in COURSE_FOLDERS:
        return config.dataset.lower()
    return config.dataset.removeprefix("tfds:").replace("/", "_")


class GAN(Recipe):
    """A model of the GAN family, trained in a run directory and exported for serving.

    `GAN(model="wgan-gp", image_size=32)` or `GAN(GANConfig(...))`: the options are the fields
    of `kerasgan.config.GANConfig` (the flags of `train_dcgan.py`, with underscores).
    """

    config_class = GANConfig

    def __init__(self, config=None, **options):
        super().__init__(config, **options)
        self.label_names = None

    @property
    def generator(self):
        """The generator that samples and is exported: G's moving average with `ema`, else G
        (the trained net itself is `self.trainer.generator`)."""
        return None if self.trainer is None else self.trainer.sampling_generator

    def build(self, label_names=None, steps=1, lr_decay=None, mode_seeking_target=None):
        """Builds and compiles the trainer (networks, optimizers) without training."""
        self.label_names = label_names
        return self._build(lambda: build_trainer(self.config, label_names, mode_seeking_target),
                           lambda: build_optimizers(self.config, steps, lr_decay))

    def fit(self, data=None, *, steps=None, name=None, runs_dir=None, resume=False, callbacks=()):
        """Trains on `data` in runs_dir/name; exports at the end unless `no_export`. Returns the Run.

        `data`: None (the config's dataset), a folder, a dataset name or a tf.data.Dataset
        (see `recipes.base.image_set_from`). `resume=True` continues the run's last
        checkpoint; extra Keras `callbacks` run before the run's own (samples, TensorBoard,
        checkpoints, FID) at every step, so what they write for a step is on disk before that
        step's checkpoint: a kill between the two never leaves a checkpoint ahead of their record.
        """
        import tensorflow as tf

        from kerasgan import callbacks as cb
        from kerasgan.data.cache import cached
        from kerasgan.data.pipeline import make_dataset
        from kerasgan.data.sources import source_with_channels
        from kerasgan.metrics.callback import fid_callback_from_config, generator_sampler
        from kerasgan.runs import trainer_step
        from kerasgan.training import total_steps

        changes = fit_changes(steps, name, runs_dir)
        source = source_fields(data)
        if source and not resume:
            # Some defaults follow the data (the DCGAN's on the built-in shapes): settle them for this data.
            config = self.given_config.replace(**changes, **source).resolved()
        else:
            config = self.config.replace(**changes).check() if changes else self.config
        data, config = image_set_from(data, config, config.needs_labels)
        # A run from before --channels (none in its config.json) was trained on 3 channels.
        data, channels = source_with_channels(data, config.channels or (3 if resume else None))
        self.config = config = config.replace(channels=channels)
        data, where = cached(data, config.cache)
        labels, label_names = None, None
        if config.needs_labels:
            attributes = config.info_supervised if config.model == "infogan" else config.attributes
            labels, label_names = select_labels(data, attributes)
        # WGAN critics draw a fresh real batch for each of their n_critic updates.
        per_step = config.batch_size * (1 if config.model == "began" else config.n_critic)
        if len(data) < per_step:
            raise InvalidValue(f"{len(data)} images is fewer than the {per_step} a step reads (--batch-size "
                            f"{config.batch_size} x --n-critic {config.n_critic}): lower them or add images")
        steps_per_epoch = len(data) // per_step
        total = total_steps(config.steps, config.epochs, len(data), per_step)
        if config.lr_decay_start >= total:
            raise InvalidValue(f"--lr-decay-start {config.lr_decay_start} is not before the run's last step ({total}): "
                            f"lower it or train longer")
        name = config.name or config.default_name(dataset_name(config))
        lr_decay = self._lr_decay(name, config.lr_schedule, total, config.lr_decay_start, resume)
        seeking_target = None
        if labels and config.mode_seeking:
            from kerasgan.metrics.label_accuracy import real_pair_distance

            seeking_target = real_pair_distance(data, labels, seed=config.seed)
        facts = {"steps_total": total, "images": len(data), "dataset_name": data.name,
                 "label_names": label_names, "lr_decay": lr_decay, "mode_seeking_target": seeking_target}
        run = self._open_run(name, facts, resume)
        with self._setting_up_run():
            self.log(f"run {run.root}: {len(data)} images, {total} steps of batch {config.batch_size}")
            self.log(f"data: {where}")
            self.log(describe(config))
            if seeking_target is not None:
                self.log(f"mode seeking {config.mode_seeking:g}: pairs pushed apart up to {seeking_target:.3f}, the real "
                         "images' mean pixel distance within a label set")
            trainer = self.build(label_names, total, lr_decay, seeking_target)
            writer = tf.summary.create_file_writer(str(run.logs))
            run_callbacks = [
                cb.TensorBoardScalars(writer, config.log_every),
                cb.SampleGrid(sample_render(trainer, config, label_names), run.samples, writer, config.sample_every),
                cb.Checkpoint(run, config.checkpoint_every),
            ]
            names = code_names(trainer.categorical, label_names or {}) if config.model == "infogan" else label_names
            sampler = generator_sampler(trainer.sampling_generator, names, config.latent)
            fid = fid_callback_from_config(config, sampler, data, run, writer, tag=data.name)
            if fid is not None:
                run_callbacks.append(fid)
            if config.label_accuracy_every:
                from kerasgan.metrics.label_accuracy import LabelAccuracyCallback

                run_callbacks.append(LabelAccuracyCallback(
                    data, labels, label_names, config.label_accuracy_every, writer,
                    config.label_accuracy_samples, config.latent, config.seed, verbose=config.verbose > 0))

        def dataset_at(step, shard=None):
            return make_dataset(data, config.image_size, per_step, config.data_preprocess, config.seed, step,
                                labels=labels, shard=shard)

        trained = self._fit(dataset_at, total, steps_per_epoch, [*callbacks, *run_callbacks], resume)
        self.log(f"samples:     {run.samples}\ntensorboard: tensorboard --logdir {run.logs}\n"
                 f"checkpoint:  {run.checkpoint_path()}")
        if config.interpolate:
            gif = cb.interpolation_gif(trainer.sampling_generator, run.root / "interpolation.gif", config.noise_dim,
                                       seed=config.seed, latent=config.latent)
            self.log(f"interpolation: {gif}")
        if not config.no_export and trained:
            scores = fid.last_scores or {} if fid is not None else {}
            path = self.export(metadata={"step": trainer_step(trainer), **scores})
            self.log(f"export:      {path}")
        return run

    def sample(self, num=16, labels=None, seed=0):
        """uint8 images [num, H, W, 3] from the generator (greyscale models repeat their channel); `labels` {attribute: class name or id}."""
        import numpy as np

        from kerasgan.images import to_rgb, to_uint8
        from kerasgan.metrics.callback import draw_inputs, generator_specs

        if self.trainer is None:
            raise UserError("nothing to sample yet: fit the model or load a run first")
        names = self.input_label_names()
        chosen = {}
        for attribute, value in (labels or {}).items():
            if attribute not in names:
                raise InvalidValue(f"unknown attribute {attribute!r}; this model has: {', '.join(names) or 'none'}")
            chosen[attribute] = names[attribute].index(value) if isinstance(value, str) else int(value)
        specs = generator_specs(self.generator)
        inputs = draw_inputs(specs, num, names, self.config.latent, seed, labels=chosen)
        feed = inputs["noise"] if len(specs) == 1 else inputs
        return to_rgb(to_uint8(np.asarray(self.generator(feed, training=False))))

    def input_label_names(self):
        """{integer input: class names}: the attributes, or InfoGAN's categorical codes."""
        if self.config.model == "infogan":
            return code_names(self.trainer.categorical, self.label_names or {})
        return dict(self.label_names or {})

    def export(self, exports_dir=None, name=None, metadata=None):
        """Exports the generator as the next version of exports_dir/name; returns its path."""
        if self.trainer is None:
            raise UserError("nothing to export yet: fit the model or load a run first")
        name = name or (self.run.root.name if self.run is not None else self.config.default_name("custom"))
        info = {"run": str(self.run.root) if self.run is not None else None, "config": self.config.to_dict(),
                **(metadata or {})}
        return export_model(self.trainer, self.config, exports_dir or self.config.exports_dir, name, info,
                            self.label_names)

