#!/usr/bin/env python
"""Train a CycleGAN between two unpaired image domains, or translate a folder with one.

    python train_cyclegan.py                                   # built-in shapes: red <-> blue
    python train_cyclegan.py --x-dir ../shared/data/apple2orange/apple2orange/apple \\
        --y-dir ../shared/data/apple2orange/apple2orange/orange
    python train_cyclegan.py --dataset grumpifycat --data-dir ../shared/data --use_identity_loss
    python train_cyclegan.py --dataset horse2zebra --image-size 256   # TFDS, the paper's setting
    python train_cyclegan.py translate --model exports/NAME_x2y --input photos/ --output out/

Defaults follow the course at 64x64 (batch 16, basic preprocessing, 6 residual blocks) and the
paper at 256x256 (batch 1, load 286 + random crop 256 + flip, 9 residual blocks). The
learning rate stays at --lr for --epochs epochs, then falls linearly to 0 over
--decay-epochs more (paper: 100 + 100; one epoch = max(|X|, |Y|) // batch steps); with
--steps N it decays over the last half (or the last --decay-epochs epochs). Identity loss is
off unless --use_identity_loss (weight 0.5 * lambda_cycle, as the paper) or --lambda-identity.
"""

import kerasgan  # noqa: F401  (sets TensorFlow's environment before it is imported)

import sys
import warnings
from pathlib import Path

from kerasgan import cli, scale
from kerasgan.augment.diffaug import parse_policy
from kerasgan.errors import UserError

LOSSES = ("lsgan", "bce", "hinge")
PAPER_SIZE, PAPER_LOAD_SIZE = 256, 286


def build_parser():
    parser = cli.ArgumentParser(
        description="Train a CycleGAN on two unpaired image domains (default: the built-in red and blue shapes).",
        epilog="Schedule: --lr for --epochs epochs, then linear decay to 0 over --decay-epochs more "
               "(default 100 + 100; an epoch is max(|X|, |Y|) // batch steps). --steps N instead: "
               "decay over the last half. Translate: train_cyclegan.py translate --help.",
    )
    cli.add_data_args(parser, default_size=64, sizes=(64, PAPER_SIZE))
    domains = parser.add_argument_group("domains")
    domains.add_argument("--x-dir", default=None, help="folder of domain X images (with --y-dir)")
    domains.add_argument("--y-dir", default=None, help="folder of domain Y images")
    domains.add_argument("--X", dest="x_rel", default=None,
                         help="domain X folder under --data-dir, course style (e.g. cat/grumpifyAprocessed)")
    domains.add_argument("--Y", dest="y_rel", default=None, help="domain Y folder under --data-dir")
    domains.add_argument("--num-samples", type=cli.positive_int, default=None,
                         help="fixed test images per domain in sample grids (default 8 at 64, 4 at 256)")
    cli.add_run_args(parser, default_batch=None)
    cli.add_optimizer_args(parser)
    scale.add_scale_args(parser)
    model = parser.add_argument_group("model")
    model.add_argument("--loss", default="lsgan", choices=LOSSES, help="adversarial loss (default lsgan)")
    model.add_argument("--lambda-cycle", "--lambda_cycle", type=float, default=10.0,
                       help="weight of the cycle-consistency loss (default 10)")
    model.add_argument("--cycle-loss", "--cycle_loss", default="l1", choices=("l1", "ssim"),
                       help="l1, or ssim: 0.84 * (1 - SSIM) + 0.16 * L1 (Zhao et al.)")
    model.add_argument("--use-identity-loss", "--use_identity_loss", action="store_true",
                       help="add the identity loss with --lambda-identity 0.5")
    model.add_argument("--lambda-identity", "--lambda_identity", type=float, default=None,
                       help="identity-loss weight as a fraction of --lambda-cycle (default 0, or 0.5 "
                            "with --use_identity_loss)")
    model.add_argument("--disc", default="patch", choices=("patch", "dc"),
                       help="PatchGAN (46x46 patches at 64, 70x70 at 256) or the DCGAN discriminator")
    model.add_argument("--g-blocks", "--g_blocks", type=cli.positive_int, default=None,
                       help="residual blocks in each generator (default 6 at 64, 9 at 256)")
    model.add_argument("--g-filters", "--g_conv_dim", type=cli.positive_int, default=64,
                       help="generator width (first conv's channels)")
    model.add_argument("--d-filters", "--d_conv_dim", type=cli.positive_int, default=64,
                       help="discriminator width (first conv's channels)")
    model.add_argument("--norm", default="instance", choices=("instance", "batch", "none"))
    model.add_argument("--spectral-norm", "--spectral_norm", action="store_true",
                       help="spectral normalization on the discriminators' convs")
    model.add_argument("--init", default="normal", choices=("normal", "xavier", "kaiming"))
    model.add_argument("--pool-size", type=int, default=50, help="history of fakes per domain shown to D (0: off)")
    model.add_argument("--decay-epochs", "--n_epochs_decay", type=int, default=None,
                       help="epochs of linear LR decay to 0 after --epochs (default: as many as --epochs)")
    # data_preprocess is chosen by image size in resolve_defaults; CycleGAN steps are slow on
    # a CPU (seconds each), so checkpoints come more often than the DCGAN default.
    parser.set_defaults(data_preprocess=None, checkpoint_every=100)
    return parser


def resolve_defaults(args):
    """Fills the size-dependent defaults (the course's at 64, the paper's at 256); checks values."""
    paper = args.image_size >= PAPER_SIZE
    args.batch_size = args.batch_size or (1 if paper else 16)
    args.data_preprocess = args.data_preprocess or ("deluxe" if paper else "basic")
    args.load_size = PAPER_LOAD_SIZE if paper else None  # None: deluxe's 1.1x
    args.num_samples = args.num_samples or (4 if paper else 8)
    for flag, value in (("--pool-size", args.pool_size), ("--decay-epochs", args.decay_epochs)):
        if value is not None and value < 0:
            raise UserError(f"{flag} must be 0 or more, got {value}")
    if args.lambda_identity is None:
        args.lambda_identity = 0.5 if args.use_identity_loss else 0.0
    try:
        args.diffaug_policy = parse_policy(args.diffaug)
    except ValueError as error:
        raise UserError(str(error)) from None
    return args


def schedule(args, steps_per_epoch):
    """(decay_start, total) in trainer steps: constant LR until decay_start, then linear to 0."""
    if args.steps:
        decay = args.steps // 2 if args.decay_epochs is None else args.decay_epochs * steps_per_epoch
        return max(args.steps - decay, 0), args.steps
    epochs = args.epochs or 100
    decay_epochs = epochs if args.decay_epochs is None else args.decay_epochs
    return epochs * steps_per_epoch, (epochs + decay_epochs) * steps_per_epoch


def build_trainer(args):
    import keras

    from kerasgan.nets.cyclegan import build_discriminator, build_generator
    from kerasgan.trainers.cycle import CycleGANTrainer

    keras.utils.set_random_seed(args.seed)  # the same --seed gives the same initial weights

    def generator(name):
        return build_generator(args.image_size, args.g_filters, args.g_blocks, args.norm, args.init, name)

    def discriminator(name):
        return build_discriminator(args.disc, args.image_size, args.d_filters, args.norm, args.spectral_norm,
                                   args.init, name)

    return CycleGANTrainer(
        generator("g_xy"), generator("g_yx"), discriminator("d_x"), discriminator("d_y"), args.image_size,
        loss=args.loss, lambda_cycle=args.lambda_cycle, lambda_identity=args.lambda_identity,
        cycle_loss=args.cycle_loss, pool_size=args.pool_size, diffaug=args.diffaug_policy, seed=args.seed,
    )


def optimizers(args, decay_start, steps):
    """Adam for both generators and for both discriminators, constant then linear decay."""
    import keras

    from kerasgan.training import LinearDecay

    def adam(lr):
        rate = LinearDecay(lr, decay_start, steps) if decay_start < steps else lr
        return keras.optimizers.Adam(rate, beta_1=args.beta1, beta_2=args.beta2)

    return adam(args.g_lr or args.lr), adam(args.d_lr or args.lr)


def train(argv):
    args = resolve_defaults(build_parser().parse_args(argv))
    from kerasgan.data.domains import load_domains, make_pair_dataset

    # Data first: a missing folder or offline dataset is reported before anything is built.
    pair = load_domains(args.dataset, args.x_dir, args.y_dir, args.data_dir, args.x_rel, args.y_rel,
                        args.image_size, args.seed, args.num_images, args.num_samples)

    import numpy as np
    import tensorflow as tf

    from kerasgan import callbacks as cb
    from kerasgan.export import export_translator
    from kerasgan.runs import open_run, trainer_step
    from kerasgan.trainers.cycle import cycle_grid
    from kerasgan.training import fit

    smaller = min(len(pair.x), len(pair.y))
    if smaller < args.batch_size:
        raise UserError(f"a domain has {smaller} images, fewer than --batch-size {args.batch_size}")
    steps_per_epoch = max(pair.epoch_size // args.batch_size, 1)
    decay_start, steps = schedule(args, steps_per_epoch)
    name = args.name or f"cyclegan_{pair.name}_{args.image_size}"
    config = {**vars(args), "steps_total": steps, "decay_start": decay_start, "dataset_name": pair.name,
              "num_x": len(pair.x), "num_y": len(pair.y)}
    run = open_run(args.runs_dir, name, config, args.resume)
    print(f"run {run.root}: {len(pair.x)} X and {len(pair.y)} Y images, {steps} steps of batch "
          f"{args.batch_size} (LR decays from step {decay_start})")

    trainer, strategy = scale.build_trainer(args, lambda: build_trainer(args),
                                            lambda: optimizers(args, decay_start, steps))

    writer = tf.summary.create_file_writer(str(run.logs))
    x_test, y_test = (images.astype(np.float32) / 127.5 - 1.0 for images in (pair.x_test, pair.y_test))
    callbacks = [
        cb.TensorBoardScalars(writer, args.log_every),
        cb.SampleGrid(cycle_grid(trainer.g_xy, trainer.g_yx, x_test, y_test), run.samples, writer,
                      args.sample_every),
        cb.Checkpoint(run, args.checkpoint_every),
    ]

    def dataset_at(step):
        return scale.distribute(make_pair_dataset(pair, args.image_size, args.batch_size, args.data_preprocess,
                                                  args.seed, step, args.load_size), strategy)

    fit(trainer, dataset_at, run, steps, steps_per_epoch, callbacks, args.resume, args.verbose)
    print(f"samples:     {run.samples}  (rows: X, G(X), F(G(X)), Y, F(Y), G(F(Y)))\n"
          f"tensorboard: tensorboard --logdir {run.logs}\ncheckpoint:  {run.checkpoint_path()}")
    if not args.no_export:
        metadata = {"run": str(run.root), "step": trainer_step(trainer), "config": config}
        for suffix, generator in (("x2y", trainer.g_xy), ("y2x", trainer.g_yx)):
            path = export_translator(generator, args.exports_dir, f"{name}_{suffix}", args.image_size,
                                     {**metadata, "direction": suffix})
            print(f"export {suffix}:  {path}")
    return run


# -- translate ---------------------------------------------------------------------------
def build_translate_parser():
    parser = cli.ArgumentParser(prog="train_cyclegan.py translate",
                                description="Translate a folder of images with an exported CycleGAN generator.")
    parser.add_argument("--model", required=True,
                        help="exports/NAME_x2y (latest version) or exports/NAME_x2y/VERSION")
    parser.add_argument("--input", required=True, help="folder of images (searched recursively)")
    parser.add_argument("--output", required=True, help="folder for the PNG results (same file stems)")
    return parser


def find_saved_model(path):
    """`path` itself if it is a SavedModel, else its highest integer version."""
    path = Path(path).expanduser()
    if (path / "saved_model.pb").is_file():
        return path
    versions = [p for p in path.glob("*") if p.name.isdigit() and (p / "saved_model.pb").is_file()]
    if not versions:
        raise UserError(f"no SavedModel at {path} (expected {path}/saved_model.pb or {path}/<version>/)")
    return max(versions, key=lambda p: int(p.name))


def translate_folder(model_dir, input_dir, output_dir):
    """Runs the export on every image of `input_dir` at its own size; writes PNGs; returns their paths.

    Sizes divisible by 4 go through the network as they are; the export resizes others.
    """
    import tensorflow as tf

    from kerasgan.data.folder import list_images, read_rgb
    from kerasgan.images import save_png

    input_dir, output_dir = Path(input_dir).expanduser(), Path(output_dir).expanduser()
    if not input_dir.is_dir():
        raise UserError(f"--input: no such folder: {input_dir}")
    translate = tf.saved_model.load(str(model_dir)).signatures["serving_default"]
    written, failed = [], []
    for path in list_images(input_dir):
        try:
            image = read_rgb(path)
        except Exception as error:  # Pillow raises many types for truncated or foreign files
            failed.append(f"{path.name}: {error}")
            continue
        result = translate(images=tf.constant(image[None]))["images"][0].numpy()
        target = output_dir / path.relative_to(input_dir).with_suffix(".png")
        written.append(save_png(result, target))
    if failed:
        warnings.warn(f"skipped {len(failed)} unreadable image file(s) (first: {failed[0]})", stacklevel=2)
    return written


def translate(argv):
    args = build_translate_parser().parse_args(argv)
    model_dir = find_saved_model(args.model)
    written = translate_folder(model_dir, args.input, args.output)
    print(f"translated {len(written)} image(s) with {model_dir} into {args.output}")
    return written


def main(argv=None):
    """`translate ...` translates a folder; anything else trains."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["translate"]:
        return translate(argv[1:])
    return train(argv)


if __name__ == "__main__":
    cli.run_main(main)
