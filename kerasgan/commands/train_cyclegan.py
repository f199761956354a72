"""`train_cyclegan.py` / `kerasgan train-cyclegan`: train a CycleGAN; `translate` a folder.

    python train_cyclegan.py                                   # built-in shapes: red <-> blue
    python train_cyclegan.py --x-dir path/to/apples --y-dir path/to/oranges
    python train_cyclegan.py --dataset apple2orange --image-size 256   # TFDS, the paper's setting
    python train_cyclegan.py translate --model exports/NAME_x2y --input photos/ --output out/

Defaults follow the course at 64x64 (batch 16, basic preprocessing, 6 residual blocks) and the
paper at 256x256 (batch 1, load 286 + random crop 256 + flip, 9 residual blocks). Identity
loss is off unless --use_identity_loss (weight 0.5 * lambda_cycle, as the paper) or
--lambda-identity.
"""

import sys

from kerasgan.commands import train
from kerasgan.config import CycleGANConfig


def build_parser(prog=None):
    return train.build_parser(
        CycleGANConfig, prog=prog,
        description="Train a CycleGAN on two unpaired image domains (default: the built-in red and blue shapes).",
        epilog="Schedule: --lr for --epochs epochs, then linear decay to 0 over --decay-epochs more "
               "(default 100 + 100; an epoch is max(|X|, |Y|) // batch steps). --steps N instead: "
               "decay over the last half. Translate: train_cyclegan.py translate --help.")


def config_from_flags(argv):
    """The resolved CycleGANConfig these flags describe (no --resume)."""
    return train.config_from_flags(CycleGANConfig, build_parser(), argv)


def main(argv=None, prog=None):
    """Trains as the flags say and returns the Run; `translate ...` runs that command instead."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["translate"]:
        from kerasgan.commands import translate

        return translate.main(argv[1:], prog=f"{prog or 'kerasgan train-cyclegan'} translate")
    from kerasgan.recipes.cyclegan import CycleGAN, dataset_name

    return train.train(CycleGAN, dataset_name, build_parser(prog), argv)
