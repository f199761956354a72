#!/usr/bin/env python
"""Train a GAN: flags -> config -> networks -> trainer -> fit -> SavedModel export.

    python train_dcgan.py                                   # DCGAN on the built-in shapes, 64x64
    python train_dcgan.py --data-dir ../shared/data/grumpifyCat/cat/grumpifyBprocessed \\
        --data_preprocess deluxe --use_diffaug color,translation,cutout
    python train_dcgan.py --model cdcgan --steps 3000       # conditioned on shape and colour
    python train_dcgan.py generate --model exports/cdcgan_shapes_64 --labels shape=circle,color=red

`--model` picks one of the GAN family (kerasgan/models.py); each fills the flags you do not
give with its paper's defaults.
"""

import argparse
import sys

import kerasgan  # noqa: F401  (sets TensorFlow's environment before it is imported)

from kerasgan import cli, models, scale
from kerasgan.augment.diffaug import parse_policy
from kerasgan.errors import UserError
from kerasgan.metrics.callback import add_fid_args

LOSSES = ("lsgan", "bce", "hinge", "wgan", "wgan-gp")
MODEL_HELP = """\
models: dcgan (default; least squares), gan (MLP, BCE, 32px), cgan (conditional MLP, BCE,
32px), cdcgan (conditional DCGAN, BCE), wgan (clipping; RMSprop 5e-5, n_critic 5), wgan-gp
(Adam 1e-4, betas 0/0.9, n_critic 5, no norm in the critic), lsgan (a/b/c targets), infogan
(BCE, noise 62, categorical and continuous codes), began (Adam 1e-4, uniform noise 64, Xavier
init). Flags you give override these defaults. From an export: %(prog)s generate --help"""


class ModelArgumentParser(cli.ArgumentParser):
    """Parses, then fills the flags left unset with the chosen model's defaults."""

    def parse_args(self, args=None, namespace=None):
        return models.resolve_defaults(super().parse_args(args, namespace))


def build_parser():
    parser = ModelArgumentParser(description="Train a GAN on images (default: a DCGAN on the built-in shapes).",
                                 epilog=MODEL_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_data_args(parser, default_size=None, sizes=(16, 32, 64, 128, 256))
    cli.add_run_args(parser)
    cli.add_optimizer_args(parser, lr=None, beta1=None, beta2=None)
    parser.add_argument("--optimizer", default=None, choices=("adam", "rmsprop"),
                        help="default adam; rmsprop for wgan")
    scale.add_scale_args(parser)
    add_fid_args(parser)
    model = parser.add_argument_group("model")
    model.add_argument("--model", default="dcgan", choices=models.MODELS, help="the GAN variant (see below)")
    model.add_argument("--loss", default=None, choices=LOSSES, help="adversarial loss (default: the model's)")
    model.add_argument("--noise-dim", "--noise_size", type=cli.positive_int, default=None,
                       help="default 100 (infogan 62, began 64)")
    model.add_argument("--width", "--conv_dim", type=cli.positive_int, default=32,
                       help="base channel count: G starts at width*8 channels, D ends there "
                            "(MLP: hidden layers of width*8..width*32 units)")
    model.add_argument("--g-upsample", default="upsample", choices=("upsample", "transpose"))
    model.add_argument("--norm", default="batch", choices=("batch", "instance", "none"))
    model.add_argument("--d-norm", default=None, choices=("batch", "instance", "none"),
                       help="D's normalization (default: --norm; none for wgan-gp)")
    model.add_argument("--spectral-norm", action="store_true", help="spectral normalization on D's convs")
    model.add_argument("--init", default=None, choices=("normal", "xavier", "kaiming"),
                       help="weight init: DCGAN's N(0, 0.02) (default), Xavier (began's default) or Kaiming")
    model.add_argument("--activation", default=None, choices=("relu", "leaky_relu", "selu", "elu"),
                       help="for G and D (default: G relu, D leaky_relu; MLP leaky_relu; began elu)")
    model.add_argument("--latent", default=None, choices=("normal", "uniform"),
                       help="noise prior: normal, or uniform(-1, 1) (default for began)")
    model.add_argument("--n-critic", "--d_train_iters", type=cli.positive_int, default=None,
                       help="D updates per G update (default 1; 5 for wgan and wgan-gp)")
    model.add_argument("--gp-weight", type=float, default=10.0, help="WGAN-GP lambda")
    model.add_argument("--clip-value", type=float, default=0.01, help="WGAN weight clipping bound c")
    model.add_argument("--lsgan-targets", type=float, nargs=3, default=(0.0, 1.0, 1.0), metavar=("A", "B", "C"),
                       help="least squares targets: D pushes fake to a and real to b, G pushes fake to c "
                            "(default 0 1 1; the Pearson chi^2 choice is -1 1 0)")
    model.add_argument("--label-smoothing", type=float, default=0.0,
                       help="one-sided: real target 1 - s (lsgan, bce)")
    model.add_argument("--noisy-labels", action="store_true",
                       help="real targets ~ U(0.7, 1.2), fake ~ U(0, 0.3) (lsgan, bce)")
    model.add_argument("--lr-schedule", default="constant", choices=("constant", "linear", "cosine"))
    model.add_argument("--interpolate", action="store_true",
                       help="write a latent interpolation GIF at the end (unconditional models)")

    labels = parser.add_argument_group("labels (cgan, cdcgan, infogan --info-supervised)")
    labels.add_argument("--labels-csv", default=None,
                        help="CSV labelling the images of --data-dir: first column the file name, then one "
                             "column per attribute (class names) or one-hot columns headed attribute:class")
    labels.add_argument("--label-keys", default="label",
                        help="TFDS features to condition on, comma-separated (default: label)")
    labels.add_argument("--attributes", default=None,
                        help="condition on these attributes only, comma-separated (default: all)")
    labels.add_argument("--embed-dim", type=cli.positive_int, default=None,
                        help="embedding size per attribute (default: noise-dim / 10)")
    labels.add_argument("--no-mismatch", action="store_true",
                        help="do not show D real images with wrong labels as fakes")

    info = parser.add_argument_group("infogan")
    info.add_argument("--info-categorical", default=None,
                      help="sizes of the unsupervised categorical codes, comma-separated "
                           "(default 10; none with --info-supervised)")
    info.add_argument("--info-continuous", type=int, default=2, help="number of continuous codes")
    info.add_argument("--info-weight", type=float, default=1.0, help="lambda of the mutual information loss")
    info.add_argument("--info-continuous-weight", type=float, default=0.1,
                      help="weight of the continuous codes' term inside it")
    info.add_argument("--info-continuous-loss", default="gaussian", choices=("gaussian", "mse"),
                      help="Gaussian negative log-likelihood (Q predicts mean and variance) or MSE")
    info.add_argument("--info-supervised", default=None, metavar="ATTRIBUTE",
                      help="a label attribute that becomes a categorical code Q also learns from real labels")

    began = parser.add_argument_group("began")
    began.add_argument("--began-gamma", type=float, default=0.5, help="diversity ratio gamma")
    began.add_argument("--began-lambda-k", type=float, default=1e-3, help="learning rate of k_t")
    began.add_argument("--began-hidden", type=cli.positive_int, default=64, help="autoencoder bottleneck size")
    return parser


def build_trainer(args, label_names=None):
    return models.build_trainer(args, label_names)


def optimizers(args, steps):
    """Adam (or RMSprop) for G and D, separate learning rates, the chosen LR schedule."""
    return models.build_optimizers(args, steps)


def check_resumed_model(run, args):
    previous = run.load_config().get("model", "dcgan")
    if previous != args.model:
        raise UserError(f"{run.root} holds a {previous} run: resume it with --model {previous}")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["generate"]:
        from kerasgan import generate

        return generate.main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        args.diffaug_policy = parse_policy(args.diffaug)
    except ValueError as error:
        raise UserError(str(error)) from None
    if args.interpolate and args.model in (*models.CONDITIONAL, "infogan"):
        raise UserError(f"--interpolate walks the noise of unconditional models, not {args.model}")

    import tensorflow as tf

    from kerasgan import callbacks as cb
    from kerasgan.data.pipeline import make_dataset
    from kerasgan.data.sources import load_image_set
    from kerasgan.metrics.callback import fid_callback_from_args, generator_sampler
    from kerasgan.runs import open_run, trainer_step
    from kerasgan.training import fit, total_steps

    import keras

    keras.utils.set_random_seed(args.seed)  # same --seed, same initial weights
    with_labels = models.needs_labels(args)
    data = load_image_set(args.dataset, args.data_dir, args.image_size, args.seed, args.num_images,
                          with_labels, args.labels_csv, [k.strip() for k in args.label_keys.split(",") if k.strip()])
    labels, label_names = None, None
    if with_labels:
        attributes = args.info_supervised if args.model == "infogan" else args.attributes
        labels, label_names = models.select_labels(data, attributes)
    if len(data.images) < args.batch_size:
        raise UserError(f"{len(data.images)} images is fewer than --batch-size {args.batch_size}")
    steps_per_epoch = len(data.images) // args.batch_size
    steps = total_steps(args.steps, args.epochs, len(data.images), args.batch_size)
    name = args.name or f"{args.model}_{data.name}_{args.image_size}"
    config = {**vars(args), "steps_total": steps, "num_images": len(data.images), "dataset_name": data.name,
              "label_names": label_names}
    run = open_run(args.runs_dir, name, config, args.resume)
    if args.resume:
        check_resumed_model(run, args)
    print(f"run {run.root}: {len(data.images)} images, {steps} steps of batch {args.batch_size}")
    print(models.describe(args))

    trainer, strategy = scale.build_trainer(args, lambda: build_trainer(args, label_names),
                                            lambda: optimizers(args, steps))

    writer = tf.summary.create_file_writer(str(run.logs))
    callbacks = [
        cb.TensorBoardScalars(writer, args.log_every),
        cb.SampleGrid(models.sample_render(trainer, args, label_names), run.samples, writer, args.sample_every),
        cb.Checkpoint(run, args.checkpoint_every),
    ]
    names = models.code_names(trainer.categorical, label_names or {}) if args.model == "infogan" else label_names
    fid = fid_callback_from_args(args, generator_sampler(trainer.generator, names, args.latent),
                                 data.images, run, writer, tag=data.name)
    if fid is not None:
        callbacks.append(fid)

    def dataset_at(step):
        return scale.distribute(make_dataset(data.images, args.image_size, args.batch_size * trainer.real_batches_per_step, args.data_preprocess,
                                             args.seed, step, labels=labels), strategy)

    trained = fit(trainer, dataset_at, run, steps, steps_per_epoch, callbacks, args.resume, args.verbose)
    print(f"samples:     {run.samples}\ntensorboard: tensorboard --logdir {run.logs}\n"
          f"checkpoint:  {run.checkpoint_path()}")
    if args.interpolate:
        gif = cb.interpolation_gif(trainer.generator, run.root / "interpolation.gif", args.noise_dim, seed=args.seed)
        print(f"interpolation: {gif}")
    if not args.no_export and trained:
        metadata = {"run": str(run.root), "step": trainer_step(trainer), "config": config,
                    **(fid.last_scores or {} if fid is not None else {})}
        path = models.export_model(trainer, args, name, metadata, label_names)
        print(f"export:      {path}")
    return run


if __name__ == "__main__":
    cli.run_main(main)
