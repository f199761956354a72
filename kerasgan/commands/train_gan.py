"""`train_dcgan.py` / `kerasgan train`: train a model of the GAN family; `generate` from an export.

    python train_dcgan.py                                   # DCGAN on the built-in shapes, 32x32
    python train_dcgan.py --data-dir path/to/images --data_preprocess deluxe --use_diffaug
    python train_dcgan.py --model cdcgan --steps 3000       # conditioned on shape and colour
    python train_dcgan.py generate --model exports/cdcgan_shapes_64 --labels shape=circle,color=red
"""

import argparse
import sys

from kerasgan.commands import train
from kerasgan.config import GANConfig, models_help

def build_parser(prog=None):
    return train.build_parser(GANConfig, prog=prog,
                              description="Train a GAN on images (default: a DCGAN on the built-in shapes).",
                              epilog=models_help() + "\n\nImages from an export: kerasgan generate --help",
                              formatter_class=argparse.RawDescriptionHelpFormatter)


def config_from_flags(argv):
    """The resolved GANConfig these flags describe (no --resume)."""
    return train.config_from_flags(GANConfig, build_parser(), argv)


def main(argv=None, prog=None):
    """Trains as the flags say and returns the Run; `generate ...` runs that command instead."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["generate"]:
        from kerasgan.commands import generate

        return generate.main(argv[1:], prog=f"{prog or 'kerasgan train'} generate")
    from kerasgan.recipes.gan import GAN, dataset_name

    return train.train(GAN, dataset_name, build_parser(prog), argv)
