"""What every kerasgan command shares: one-line errors, common flags, the run wrapper.

Flags are spelled with dashes; the course scripts' spellings (`--batch_size`, ...) are
accepted as aliases so users' muscle memory keeps working.
"""

import argparse
import difflib
import sys
import warnings

from kerasgan.errors import UserError


class ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line errors (and a "did you mean" for misspelt flags)."""

    def error(self, message):
        if message.startswith("unrecognized arguments"):
            flags = [s for a in self._actions for s in a.option_strings]
            unknown = message.split(":", 1)[1].split()
            close = difflib.get_close_matches(unknown[0], flags, n=1, cutoff=0.75) if unknown else []
            if close:
                message += f" (did you mean {close[0]}?)"
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _one_line_warning(message, category, filename, lineno, line=None):
    return f"warning: {message}\n"


def run_main(main, argv=None):
    """Runs `main(argv)`, turning a UserError into one line on stderr and exit status 2
    (or the error's own `exit_code`: 3 for NonFiniteLoss, a diverged training run)."""
    warnings.formatwarning = _one_line_warning
    try:
        return main(argv)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(getattr(error, "exit_code", 2)) from None


def positive_int(text):
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def add_data_args(parser, default_size=64, sizes=(64, 128, 256)):
    group = parser.add_argument_group("data")
    group.add_argument("--dataset", default=None,
                       help="shapes (built in, default), grumpifycat (course layout under --data-dir), "
                            "or a TensorFlow Datasets name")
    group.add_argument("--data-dir", "--data_dir", default=None,
                       help="a folder of images; the data root for grumpifycat; the TFDS data_dir")
    group.add_argument("--image-size", "--image_size", type=int, default=default_size, choices=sizes)
    group.add_argument("--data-preprocess", "--data_preprocess", default="basic", choices=("basic", "deluxe"),
                       help="basic: resize only; deluxe: 1.1x bicubic resize, random crop, random flip")
    group.add_argument("--num-images", type=positive_int, default=None,
                       help="images to generate (shapes) or to read at most (TFDS)")
    group.add_argument("--diffaug", "--use_diffaug", nargs="?", const="color,translation,cutout", default="",
                       help="DiffAugment policies applied to real and fake images, e.g. color,translation,cutout "
                            "(bare flag: all three)")
    return group


def add_run_args(parser, default_batch=16, default_sample_every=200):
    group = parser.add_argument_group("run")
    group.add_argument("--name", default=None, help="run name (default: derived from model and data)")
    group.add_argument("--runs-dir", default="runs")
    group.add_argument("--exports-dir", default="exports")
    group.add_argument("--resume", action="store_true", help="continue the named run from its last checkpoint")
    group.add_argument("--seed", type=int, default=0)
    length = group.add_mutually_exclusive_group()
    length.add_argument("--steps", type=positive_int, default=None, help="training steps (G updates)")
    length.add_argument("--epochs", "--num_epochs", type=positive_int, default=None,
                        help="passes over the data (default: 100)")
    group.add_argument("--batch-size", "--batch_size", type=positive_int, default=default_batch)
    group.add_argument("--sample-every", "--sample_every", type=positive_int, default=default_sample_every)
    group.add_argument("--checkpoint-every", "--checkpoint_every", type=positive_int, default=500)
    group.add_argument("--log-every", type=positive_int, default=10, help="TensorBoard scalar interval")
    group.add_argument("--xla", default="auto", choices=("auto", "on", "off"),
                       help="compile the train step with XLA; auto: on GPUs only (on CPUs TensorFlow's "
                            "oneDNN graph kernels were faster, see README Benchmarks)")
    group.add_argument("--no-xla", dest="xla", action="store_const", const="off", help="same as --xla off")
    group.add_argument("--no-export", action="store_true", help="skip the SavedModel export at the end")
    group.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2), help="Keras progress output")
    return group


def add_optimizer_args(parser, lr=2e-4, beta1=0.5, beta2=0.999):
    group = parser.add_argument_group("optimization")
    group.add_argument("--lr", type=float, default=lr, help="learning rate of both nets")
    group.add_argument("--g-lr", type=float, default=None, help="generator learning rate (default: --lr)")
    group.add_argument("--d-lr", type=float, default=None, help="discriminator learning rate (default: --lr)")
    group.add_argument("--beta1", type=float, default=beta1)
    group.add_argument("--beta2", type=float, default=beta2)
    return group
