#!/usr/bin/env python
"""Train a GAN: `python train_dcgan.py --help`. The same as `kerasgan train` (kerasgan/commands/train_gan.py)."""

from kerasgan.commands.main import script

if __name__ == "__main__":
    script("train_gan", prog="train_dcgan.py")
