#!/usr/bin/env python
"""Train a DCGAN: flags -> config -> networks -> trainer -> fit -> SavedModel export.

    python train_dcgan.py                                   # built-in shapes, 64x64
    python train_dcgan.py --data-dir ../shared/data/grumpifyCat/cat/grumpifyBprocessed \\
        --data_preprocess deluxe --use_diffaug color,translation,cutout
"""

import kerasgan  # noqa: F401  (sets TensorFlow's environment before it is imported)

import numpy as np

from kerasgan import cli
from kerasgan.augment.diffaug import parse_policy
from kerasgan.errors import UserError

LOSSES = ("lsgan", "bce", "hinge", "wgan", "wgan-gp")


def build_parser():
    parser = cli.ArgumentParser(description="Train a DCGAN on images (default: the built-in shapes).")
    cli.add_data_args(parser)
    cli.add_run_args(parser)
    cli.add_optimizer_args(parser)
    model = parser.add_argument_group("model")
    model.add_argument("--loss", default="lsgan", choices=LOSSES, help="adversarial loss (default lsgan)")
    model.add_argument("--noise-dim", "--noise_size", type=cli.positive_int, default=100)
    model.add_argument("--width", "--conv_dim", type=cli.positive_int, default=32,
                       help="base channel count: G starts at width*8 channels, D ends there")
    model.add_argument("--g-upsample", default="upsample", choices=("upsample", "transpose"))
    model.add_argument("--norm", default="batch", choices=("batch", "instance", "none"))
    model.add_argument("--spectral-norm", action="store_true", help="spectral normalization on D's convs")
    model.add_argument("--init", default="normal", choices=("normal", "xavier", "kaiming"))
    model.add_argument("--latent", default="normal", choices=("normal", "uniform"))
    model.add_argument("--n-critic", "--d_train_iters", type=cli.positive_int, default=1,
                       help="D updates per G update")
    model.add_argument("--gp-weight", type=float, default=10.0, help="WGAN-GP lambda")
    model.add_argument("--clip-value", type=float, default=0.01, help="WGAN weight clipping bound c")
    model.add_argument("--label-smoothing", type=float, default=0.0,
                       help="one-sided: real target 1 - s (lsgan, bce)")
    model.add_argument("--noisy-labels", action="store_true",
                       help="real targets ~ U(0.7, 1.2), fake ~ U(0, 0.3) (lsgan, bce)")
    model.add_argument("--lr-schedule", default="constant", choices=("constant", "linear", "cosine"))
    model.add_argument("--interpolate", action="store_true", help="write a latent interpolation GIF at the end")
    return parser


def build_trainer(args):
    from kerasgan.nets.dcgan import build_discriminator, build_generator
    from kerasgan.trainers.gan import GANTrainer

    generator = build_generator(args.image_size, args.noise_dim, args.width, args.g_upsample, args.norm,
                                init=args.init)
    discriminator = build_discriminator(args.image_size, args.width, args.norm, args.spectral_norm, args.init)
    return GANTrainer(generator, discriminator, loss=args.loss, n_critic=args.n_critic,
                      gp_weight=args.gp_weight, clip_value=args.clip_value, diffaug=args.diffaug_policy,
                      label_smoothing=args.label_smoothing, noisy_labels=args.noisy_labels,
                      latent=args.latent, seed=args.seed)


def optimizers(args, steps):
    """Adam for G and D (separate learning rates), each with the chosen LR schedule."""
    import keras

    from kerasgan.training import learning_rate

    def adam(lr, updates_per_step=1):
        return keras.optimizers.Adam(learning_rate(lr, args.lr_schedule, steps, 0, updates_per_step),
                                     beta_1=args.beta1, beta_2=args.beta2)

    return adam(args.g_lr or args.lr), adam(args.d_lr or args.lr, args.n_critic)


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        args.diffaug_policy = parse_policy(args.diffaug)
    except ValueError as error:
        raise UserError(str(error)) from None

    import tensorflow as tf

    from kerasgan import callbacks as cb
    from kerasgan.data.pipeline import make_dataset
    from kerasgan.data.sources import load_image_set
    from kerasgan.export import export_generator
    from kerasgan.runs import open_run
    from kerasgan.training import check_xla, fit, total_steps

    import keras

    keras.utils.set_random_seed(args.seed)  # same --seed, same initial weights
    data = load_image_set(args.dataset, args.data_dir, args.image_size, args.seed, args.num_images)
    if len(data.images) < args.batch_size:
        raise UserError(f"{len(data.images)} images is fewer than --batch-size {args.batch_size}")
    steps_per_epoch = len(data.images) // args.batch_size
    steps = total_steps(args.steps, args.epochs, len(data.images), args.batch_size)
    name = args.name or f"dcgan_{data.name}_{args.image_size}"
    config = {**vars(args), "steps_total": steps, "num_images": len(data.images), "dataset_name": data.name}
    run = open_run(args.runs_dir, name, config, args.resume)
    print(f"run {run.root}: {len(data.images)} images, {steps} steps of batch {args.batch_size}")

    trainer = build_trainer(args)
    trainer.compile(*optimizers(args, steps), jit_compile=not args.no_xla)
    check_xla(trainer, not args.no_xla)

    writer = tf.summary.create_file_writer(str(run.logs))
    fixed_noise = np.random.default_rng(args.seed).standard_normal((64, args.noise_dim)).astype(np.float32)
    callbacks = [
        cb.TensorBoardScalars(writer, args.log_every),
        cb.SampleGrid(cb.generator_grid(trainer.generator, fixed_noise, 8), run.samples, writer,
                      args.sample_every),
        cb.Checkpoint(run, args.checkpoint_every),
    ]

    def dataset_at(step):
        return make_dataset(data.images, args.image_size, args.batch_size, args.data_preprocess,
                            args.seed, step)

    fit(trainer, dataset_at, run, steps, steps_per_epoch, callbacks, args.resume, args.verbose)
    print(f"samples:     {run.samples}\ntensorboard: tensorboard --logdir {run.logs}\n"
          f"checkpoint:  {run.checkpoint_path()}")
    if args.interpolate:
        gif = cb.interpolation_gif(trainer.generator, run.root / "interpolation.gif", args.noise_dim, seed=args.seed)
        print(f"interpolation: {gif}")
    if not args.no_export:
        path = export_generator(trainer.generator, args.exports_dir, name,
                                {"run": str(run.root), "step": int(trainer.step), "config": config})
        print(f"export:      {path}")
    return run


if __name__ == "__main__":
    cli.run_main(main)
