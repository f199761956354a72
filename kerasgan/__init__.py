"""kerasgan: generative adversarial networks in Keras 3 on TensorFlow.

The Python API, in the Keras idiom (see docs/getting-started.md, "From Python", and docs/api.md):

    import kerasgan
    gan = kerasgan.GAN(model="dcgan", image_size=32, steps=300)
    gan.fit("path/to/images")            # or a TFDS name, or a tf.data.Dataset of images
    images = gan.sample(16)              # uint8 [16, 32, 32, 3]
    gan.export("exports")

    cycle = kerasgan.CycleGAN(steps=200)
    cycle.fit(x="path/to/apples", y="path/to/oranges")

    gan = kerasgan.load_run("runs/dcgan_shapes_32")       # a finished run, ready to sample
    generate = kerasgan.load_export("exports/dcgan_shapes_32")

What importing kerasgan changes for the whole process, and nothing else: it sets
`TF_ENABLE_ONEDNN_OPTS=1` and `KERAS_BACKEND=tensorflow` unless they are already set. Both
only take effect if TensorFlow or Keras has not been imported yet (oneDNN roughly doubles
convolution and matmul speed on CPUs; the TF 2.21 wheel leaves it off). TensorFlow itself is
imported lazily, on first use of the API. The command-line tools also mute TensorFlow's log
noise (kerasgan/commands); the library does not.
"""

import os
import sys

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def _refuse_a_library_module_run_as_a_command():
    """`python -m kerasgan.experiment PLAN` (a natural guess) would import a library module and
    exit 0 having done nothing; say which commands there are instead. Modules that run
    something (`if __name__ == "__main__":`: `python -m kerasgan`, `.evaluate`, `.export`,
    `.client`) are left alone. Only looks at this process's own `python -m kerasgan.X` line."""
    argv = getattr(sys, "orig_argv", [])
    if "-m" not in argv[:-1]:
        return
    module = argv[argv.index("-m") + 1]
    if not module.startswith("kerasgan.") or module.endswith(".__main__"):
        return
    path = os.path.join(os.path.dirname(__file__), *module.split(".")[1:])
    path = os.path.join(path, "__init__.py") if os.path.isdir(path) else path + ".py"
    try:
        with open(path) as source:
            runs_something = 'if __name__ == "__main__":' in source.read()
    except OSError:
        return  # no such module: Python says so itself
    if not runs_something:
        sys.stderr.write(f"error: {module} is a library module, not a command: run `kerasgan COMMAND` (or `python -m "
                         "kerasgan COMMAND` from a checkout); `kerasgan --help` lists the commands\n")
        raise SystemExit(2)


_refuse_a_library_module_run_as_a_command()

__version__ = "0.2.0"

_API = {
    "GAN": "kerasgan.recipes.gan",
    "CycleGAN": "kerasgan.recipes.cyclegan",
    "Diffusion": "kerasgan.recipes.diffusion",
    "load_run": "kerasgan.recipes",
    "load_export": "kerasgan.recipes",
    "GANConfig": "kerasgan.config",
    "CycleGANConfig": "kerasgan.config",
    "DiffusionConfig": "kerasgan.config",
    "UserError": "kerasgan.errors",
    "InvalidValue": "kerasgan.errors",
    "MissingPath": "kerasgan.errors",
}
__all__ = sorted(_API)


def __getattr__(name):
    """The API's names, imported on first use so `import kerasgan` stays cheap."""
    if name not in _API:
        raise AttributeError(f"module 'kerasgan' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_API[name]), name)
