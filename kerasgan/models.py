"""The GAN family behind `train_dcgan.py --model`: per model, its networks, trainer, defaults,
sample grid and export.

| model   | networks                          | update rule                                      |
|---------|-----------------------------------|--------------------------------------------------|
| dcgan   | DCGAN                             | GANTrainer, least squares (the course default)   |
| gan     | MLP on flattened images           | GANTrainer, BCE                                  |
| cgan    | MLP + label embeddings            | ConditionalGANTrainer, BCE                       |
| cdcgan  | DCGAN + label embeddings / maps   | ConditionalGANTrainer, BCE                       |
| wgan    | DCGAN                             | GANTrainer, critic clipped to [-c, c]            |
| wgan-gp | DCGAN, no norm in the critic      | GANTrainer, gradient penalty                     |
| lsgan   | DCGAN                             | GANTrainer, least squares with a/b/c targets     |
| infogan | DCGAN + Q head                    | InfoGANTrainer                                   |
| began   | decoder G, autoencoder D          | BEGANTrainer                                     |

Flags whose best value depends on the model are parsed as None and filled here: first the
model's defaults, then the papers' settings for its loss (WGAN: RMSprop 5e-5, n_critic 5;
WGAN-GP: Adam 1e-4 with betas (0, 0.9), n_critic 5, no normalization in the critic). A flag
given on the command line always wins.
"""

import numpy as np

from kerasgan.errors import UserError

MODELS = ("dcgan", "gan", "cgan", "cdcgan", "wgan", "wgan-gp", "lsgan", "infogan", "began")
CONDITIONAL = ("cgan", "cdcgan")

BASE_DEFAULTS = {"loss": "lsgan", "optimizer": "adam", "lr": 2e-4, "beta1": 0.5, "beta2": 0.999,
                 "n_critic": 1, "latent": "normal", "noise_dim": 100, "image_size": 64, "init": "normal"}
MODEL_DEFAULTS = {
    "dcgan": {},
    "gan": {"loss": "bce", "image_size": 32},
    "cgan": {"loss": "bce", "image_size": 32},
    "cdcgan": {"loss": "bce"},
    "wgan": {"loss": "wgan"},
    "wgan-gp": {"loss": "wgan-gp"},
    "lsgan": {"loss": "lsgan"},
    "infogan": {"loss": "bce", "noise_dim": 62},
    # No normalization in BEGAN's nets: N(0, 0.02) would shrink the signal through its deep stacks.
    "began": {"lr": 1e-4, "latent": "uniform", "noise_dim": 64, "init": "xavier"},
}
LOSS_DEFAULTS = {
    "wgan": {"optimizer": "rmsprop", "lr": 5e-5, "n_critic": 5},
    "wgan-gp": {"optimizer": "adam", "lr": 1e-4, "beta1": 0.0, "beta2": 0.9, "n_critic": 5, "d_norm": "none"},
}


def resolve_defaults(args):
    """Fills each flag left at None with the model's default, then its loss's; returns args."""
    defaults = {**BASE_DEFAULTS, **MODEL_DEFAULTS[args.model]}
    defaults.update(LOSS_DEFAULTS.get(args.loss or defaults["loss"], {}))
    defaults.setdefault("d_norm", args.norm)
    defaults["info_categorical"] = "" if args.info_supervised else "10"
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def describe(args):
    """One line with the settings that differ between models."""
    if args.optimizer == "rmsprop":
        optimizer = f"rmsprop lr {args.lr:g}"
    else:
        optimizer = f"adam lr {args.lr:g} (beta1 {args.beta1:g}, beta2 {args.beta2:g})"
    if args.model == "began":
        return f"model began: {optimizer}, gamma {args.began_gamma:g}, lambda_k {args.began_lambda_k:g}"
    extra = {"wgan": f", clip {args.clip_value:g}", "wgan-gp": f", gp weight {args.gp_weight:g}"}.get(args.loss, "")
    return f"model {args.model}: loss {args.loss}{extra}, {optimizer}, n_critic {args.n_critic}"


def needs_labels(args):
    return args.model in CONDITIONAL or (args.model == "infogan" and bool(args.info_supervised))


def select_labels(data, attributes=None):
    """(labels, label_names) of the chosen attributes (default: all the dataset has)."""
    if not data.labels:
        raise UserError(f"dataset {data.name} has no labels: use --dataset shapes, a folder with one "
                        "subfolder per class, --labels-csv FILE, or a TFDS dataset with labels")
    names = [a.strip() for a in attributes.split(",") if a.strip()] if attributes else list(data.labels)
    unknown = [a for a in names if a not in data.labels]
    if unknown:
        raise UserError(f"no attribute {unknown[0]!r} in {data.name}; it has: {', '.join(data.labels)}")
    return {a: data.labels[a] for a in names}, {a: list(data.label_names[a]) for a in names}


def info_codes(args, label_names):
    """InfoGAN's categorical codes {name: categories}: the supervised attribute first."""
    codes = {}
    if args.info_supervised:
        codes[args.info_supervised] = len(label_names[args.info_supervised])
    sizes = [int(s) for s in args.info_categorical.split(",") if s.strip()]
    if any(size < 2 for size in sizes):
        raise UserError(f"--info-categorical sizes must be at least 2, got {args.info_categorical}")
    codes.update({f"code{i + 1}": size for i, size in enumerate(sizes)})
    return codes


def code_names(codes, label_names):
    """Class names per categorical code: the attribute's for a supervised code, else 0..k-1."""
    return {name: label_names.get(name, [str(i) for i in range(count)]) for name, count in codes.items()}


# -- networks ------------------------------------------------------------------------------
def build_networks(args, label_names=None):
    """(generator, discriminator) for `args.model`; `label_names` for labelled models."""
    from kerasgan.nets import began, conditional, dcgan, infogan, mlp

    size, width, init = args.image_size, args.width, args.init
    g_act, d_act = args.activation, args.activation or "leaky_relu"
    num_classes = {a: len(n) for a, n in (label_names or {}).items()}
    embed_dim = args.embed_dim or conditional.default_embed_dim(args.noise_dim)
    if args.model == "gan":
        return (mlp.build_mlp_generator(size, args.noise_dim, width, args.norm, g_act or "leaky_relu", init),
                mlp.build_mlp_discriminator(size, width, d_act, init))
    if args.model == "cgan":
        return (conditional.build_conditional_mlp_generator(num_classes, size, args.noise_dim, embed_dim, width,
                                                            args.norm, g_act or "leaky_relu", init),
                conditional.build_conditional_mlp_discriminator(num_classes, size, embed_dim, width, d_act, init))
    if args.model == "cdcgan":
        return (conditional.build_conditional_dcgan_generator(num_classes, size, args.noise_dim, embed_dim, width,
                                                              args.g_upsample, args.norm, g_act or "relu", init),
                conditional.build_conditional_dcgan_discriminator(num_classes, size, embed_dim, width, args.d_norm,
                                                                  args.spectral_norm, init, d_act))
    if args.model == "infogan":
        codes = info_codes(args, label_names or {})
        return (infogan.build_infogan_generator(codes, args.info_continuous, size, args.noise_dim, width,
                                                args.g_upsample, args.norm, g_act or "relu", init),
                infogan.build_infogan_discriminator(codes, args.info_continuous, size, width, args.d_norm,
                                                    args.spectral_norm, init, d_act))
    if args.model == "began":
        return (began.build_began_generator(size, args.noise_dim, width, g_act or "elu", init),
                began.build_began_discriminator(size, args.began_hidden, width, args.activation or "elu", init))
    return (dcgan.build_generator(size, args.noise_dim, width, args.g_upsample, args.norm, g_act or "relu", init),
            dcgan.build_discriminator(size, width, args.d_norm, args.spectral_norm, init, activation=d_act))


def build_trainer(args, label_names=None):
    """The trainer for `args.model`, around fresh networks."""
    from kerasgan.trainers.began import BEGANTrainer
    from kerasgan.trainers.conditional import ConditionalGANTrainer
    from kerasgan.trainers.gan import GANTrainer
    from kerasgan.trainers.infogan import InfoGANTrainer

    generator, discriminator = build_networks(args, label_names)
    common = {"diffaug": args.diffaug_policy, "latent": args.latent, "seed": args.seed}
    if args.model == "began":
        return BEGANTrainer(generator, discriminator, args.began_gamma, args.began_lambda_k, **common)
    adversarial = {"loss": args.loss, "n_critic": args.n_critic, "gp_weight": args.gp_weight,
                   "clip_value": args.clip_value, "label_smoothing": args.label_smoothing,
                   "noisy_labels": args.noisy_labels, "lsgan_targets": args.lsgan_targets, **common}
    if args.model in CONDITIONAL:
        num_classes = {a: len(n) for a, n in label_names.items()}
        return ConditionalGANTrainer(generator, discriminator, num_classes, not args.no_mismatch, **adversarial)
    if args.model == "infogan":
        return InfoGANTrainer(generator, discriminator, info_codes(args, label_names or {}), args.info_continuous,
                              args.info_weight, args.info_continuous_weight, args.info_continuous_loss,
                              args.info_supervised or None, **adversarial)
    return GANTrainer(generator, discriminator, **adversarial)


def build_optimizers(args, steps):
    """(G, D) optimizers: Adam or RMSprop, separate rates, the chosen schedule."""
    import keras

    from kerasgan.training import learning_rate

    def make(lr, updates_per_step=1):
        rate = learning_rate(lr, args.lr_schedule, steps, 0, updates_per_step)
        if args.optimizer == "rmsprop":
            return keras.optimizers.RMSprop(rate)
        return keras.optimizers.Adam(rate, beta_1=args.beta1, beta_2=args.beta2)

    d_updates = 1 if args.model == "began" else args.n_critic
    return make(args.g_lr or args.lr), make(args.d_lr or args.lr, d_updates)


# -- samples and export --------------------------------------------------------------------
def fixed_noise(args, count):
    """Noise for sample grids, from the training prior, the same for every grid of a run."""
    rng = np.random.default_rng(args.seed)
    shape = (count, args.noise_dim)
    noise = rng.uniform(-1.0, 1.0, shape) if args.latent == "uniform" else rng.standard_normal(shape)
    return noise.astype(np.float32)


def sample_render(trainer, args, label_names=None):
    """A render function for the sample grid callback.

    Conditional: one row per label combination (up to 16), 8 noise vectors as columns.
    InfoGAN: rows are the categories of the first code, columns sweep each continuous code
    from -2 to 2. Others: 8x8 images from fixed noise.
    """
    from kerasgan import callbacks as cb
    from kerasgan.trainers.conditional import label_grid, label_rows
    from kerasgan.trainers.infogan import traversal_grid

    if args.model in CONDITIONAL:
        rows = label_rows({a: len(n) for a, n in label_names.items()})
        return label_grid(trainer.generator, fixed_noise(args, 8), rows)
    if args.model == "infogan":
        return traversal_grid(trainer.generator, fixed_noise(args, 8), trainer.categorical, trainer.continuous)
    return cb.generator_grid(trainer.generator, fixed_noise(args, 64), 8)


def export_model(trainer, args, name, metadata, label_names=None):
    """Exports the generator; conditional and InfoGAN generators take their labels by name."""
    from kerasgan.export import export_conditional_generator, export_generator

    if args.model in CONDITIONAL:
        return export_conditional_generator(trainer.generator, args.exports_dir, name, label_names, metadata,
                                            latent=args.latent)
    if args.model == "infogan":
        names = code_names(trainer.categorical, label_names or {})
        return export_conditional_generator(trainer.generator, args.exports_dir, name, names, metadata,
                                            latent=args.latent)
    return export_generator(trainer.generator, args.exports_dir, name, metadata, latent=args.latent)
