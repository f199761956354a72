#!/usr/bin/env python
"""Train a CycleGAN: `python train_cyclegan.py --help`. The same as `kerasgan train-cyclegan`
(kerasgan/commands/train_cyclegan.py)."""

from kerasgan.commands.main import script

if __name__ == "__main__":
    script("train_cyclegan", prog="train_cyclegan.py")
