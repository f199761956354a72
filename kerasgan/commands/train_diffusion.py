"""`train_diffusion.py` / `kerasgan train-diffusion`: train a denoising diffusion model.

    python train_diffusion.py                                   # the built-in shapes, 64x64, CPU-sized U-Net
    python train_diffusion.py --data-dir path/to/images --steps 20000 --preset gpu
    python train_diffusion.py generate --model exports/diffusion_shapes_64 --num 16

The same data, run directories, resume rule, TensorBoard scalars, sample grids, FID/KID and
export layout as train_dcgan.py (kerasgan/commands/train.py). Samples come from DDIM with the
EMA weights; `--sample-steps` sets the step count of grids and of the export's default.
"""

import sys

from kerasgan.commands import train
from kerasgan.config import DiffusionConfig


def build_parser(prog=None):
    return train.build_parser(
        DiffusionConfig, prog=prog,
        description="Train a denoising diffusion model on images (default: the built-in shapes at 64x64).",
        epilog="Training: DDPM's noise-prediction loss with a linear or cosine schedule; sampling: DDIM "
               "with the EMA weights, any step count from 1 to --timesteps. From an export: %(prog)s "
               "generate --help")


def config_from_flags(argv):
    """The resolved DiffusionConfig these flags describe (no --resume): what scripts and benchmarks build."""
    given, _ = train.parse(build_parser(), argv)
    return DiffusionConfig.from_dict(given).resolved()


def main(argv=None, prog=None):
    """Trains as the flags say; returns the Run. `generate ...` makes images from an export."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["generate"]:
        from kerasgan.commands import generate

        return generate.main(argv[1:], prog=f"{prog or 'kerasgan train-diffusion'} generate")
    from kerasgan.recipes.diffusion import Diffusion, dataset_name

    given, resume = train.parse(build_parser(prog), argv)
    config = train.config_for(DiffusionConfig, given, resume, dataset_name)
    return Diffusion(config).fit(resume=resume)
