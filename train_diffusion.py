#!/usr/bin/env python
"""Train a diffusion model: `python train_diffusion.py --help`. The same as `kerasgan train-diffusion`
(kerasgan/commands/train_diffusion.py)."""

from kerasgan.commands.main import script

if __name__ == "__main__":
    script("train_diffusion", prog="train_diffusion.py")
