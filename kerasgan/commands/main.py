"""The `kerasgan` command: one entry point, a subcommand per tool.

    kerasgan train ...            train_dcgan.py: the GAN family
    kerasgan train-cyclegan ...   train_cyclegan.py
    kerasgan train-diffusion ...  train_diffusion.py
    kerasgan generate ...         images from an exported generator
    kerasgan translate ...        a folder through an exported CycleGAN generator
    kerasgan evaluate ...         FID / KID
    kerasgan export ...           re-export a run's checkpoint
    kerasgan client ...           ask a running TF Serving for images
"""

import contextlib
import importlib
import os
import sys
import warnings

# Only the standard library here: everything heavy (TensorFlow) is imported inside
# `run_command`, after the log filter is in place and where Ctrl-C is one line.

SUBCOMMANDS = {
    "train": ("kerasgan.commands.train_gan", "train a model of the GAN family (train_dcgan.py)"),
    "train-cyclegan": ("kerasgan.commands.train_cyclegan", "train a CycleGAN (train_cyclegan.py)"),
    "train-diffusion": ("kerasgan.commands.train_diffusion", "train a denoising diffusion model (train_diffusion.py)"),
    "generate": ("kerasgan.commands.generate", "images from an exported generator"),
    "translate": ("kerasgan.commands.translate", "translate a folder with an exported CycleGAN generator"),
    "evaluate": ("kerasgan.commands.evaluate", "FID and KID of a generator, folders or translators"),
    "export": ("kerasgan.commands.export", "re-export a run's generator(s) from a checkpoint"),
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
        sys.stderr.write(f"error: unknown command {name!r}\n{usage()}")
        raise SystemExit(2)
    module = importlib.import_module(SUBCOMMANDS[name][0])
    return module.main(rest, prog=f"kerasgan {name}")


def run_command(command, argv=None):
    """Runs `command(argv)` as a command line does: TensorFlow's C++ log lines filtered out of
    stderr (unless KERASGAN_VERBOSE_TF=1), a UserError as one line starting `error:` (exit
    status 2, or 3 for a diverged training), Ctrl-C as one line (130)."""
    verbose = os.environ.get("KERASGAN_VERBOSE_TF") == "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0" if verbose else "3")  # before TensorFlow loads
    from kerasgan.commands.tf_logs import filtered_stderr

    with contextlib.nullcontext() if verbose else filtered_stderr():
        from kerasgan.progress import show_on_console

        show_on_console()
        try:
            return run_main(command, argv)
        except KeyboardInterrupt:
            print("\ninterrupted", file=sys.stderr)
            raise SystemExit(130) from None


def run_main(command, argv=None):
    """Runs `command(argv)`, turning a UserError into one line on stderr and exit status 2
    (or the error's own `exit_code`: 3 for NonFiniteLoss, a diverged training run), and
    Python warnings into one line each."""
    from kerasgan.errors import UserError

    warnings.formatwarning = lambda message, *args, **kwargs: f"warning: {message}\n"
    try:
        return command(argv)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(getattr(error, "exit_code", 2)) from None


def entry_point():
    """The console script `kerasgan`."""
    run_command(main)


def script(module_name, prog=None):
    """A top-level script or `python -m` alias running one command (kerasgan/commands/<module_name>.py)."""
    def command(argv=None):
        module = importlib.import_module(f"kerasgan.commands.{module_name}")
        return module.main(argv, prog=prog) if prog else module.main(argv)

    return run_command(command)
