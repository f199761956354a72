"""The `kerasgan` command: one entry point, a subcommand per tool.

    kerasgan train ...            train_dcgan.py: the GAN family
    kerasgan train-cyclegan ...   train_cyclegan.py
    kerasgan train-diffusion ...  train_diffusion.py
    kerasgan generate ...         images from an exported generator
    kerasgan translate ...        a folder through an exported CycleGAN generator
    kerasgan evaluate ...         FID / KID
    kerasgan export ...           re-export a run's checkpoint
    kerasgan prepare ...          a folder as one zip of images at the training size
    kerasgan client ...           ask a running TF Serving for images
"""

import importlib
import sys

from kerasgan.commands import common as cli

SUBCOMMANDS = {
    "train": ("kerasgan.commands.train_gan", "train a model of the GAN family (train_dcgan.py)"),
    "train-cyclegan": ("kerasgan.commands.train_cyclegan", "train a CycleGAN (train_cyclegan.py)"),
    "train-diffusion": ("kerasgan.commands.train_diffusion", "train a denoising diffusion model (train_diffusion.py)"),
    "generate": ("kerasgan.commands.generate", "images from an exported generator"),
    "translate": ("kerasgan.commands.translate", "translate a folder with an exported CycleGAN generator"),
    "evaluate": ("kerasgan.commands.evaluate", "FID and KID of a generator, folders or translators"),
    "export": ("kerasgan.commands.export", "re-export a run's generator(s) from a checkpoint"),
    "prepare": ("kerasgan.commands.prepare", "write a folder as one zip of images at the training size"),
    "client": ("kerasgan.commands.client", "ask a running TF Serving for images"),
    "experiment": ("kerasgan.commands.experiment", "run a grid of configurations from a TOML plan; tables, sheet"),
}


def usage():
    width = max(map(len, SUBCOMMANDS))
    lines = [f"  {name:<{width}}  {text}" for name, (_, text) in SUBCOMMANDS.items()]
    return "usage: kerasgan COMMAND [options]   (kerasgan COMMAND --help for its options)\n\ncommands:\n" + \
        "\n".join(lines) + "\n"


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage(), end="")
        return None
    name, rest = argv[0], argv[1:]
    if name not in SUBCOMMANDS:
        sys.stderr.write(f"kerasgan: error: unknown command {name!r}\n{usage()}")
        raise SystemExit(2)
    module = importlib.import_module(SUBCOMMANDS[name][0])
    if name.startswith("train"):
        return module.main(rest, prog=f"kerasgan {name}")
    return module.main(rest)


def entry_point():
    """The console script `kerasgan`."""
    cli.run_main(main)


def script(module_name, prog=None):
    """A console script or top-level script running one command with one-line errors."""
    module = importlib.import_module(f"kerasgan.commands.{module_name}")
    if prog is None:
        return cli.run_main(module.main)
    return cli.run_main(lambda argv=None: module.main(argv, prog=prog))
