"""Recipes: a config in, a trained model in a run directory out; the Python API.

    GAN(model=..., ...).fit(data)       # kerasgan.recipes.gan
    CycleGAN(...).fit(x, y)             # kerasgan.recipes.cyclegan
    Diffusion(...).fit(data)            # kerasgan.recipes.diffusion
    load_run("runs/NAME")               # a run's recipe with its checkpoint loaded
    load_export("exports/NAME")         # an export's generate / translate function
"""

from pathlib import Path

from kerasgan.config import CycleGANConfig, DiffusionConfig, GANConfig, config_class
from kerasgan.errors import InvalidValue, MissingPath
from kerasgan.progress import log


def run_config(run):
    """The typed config a run was trained with, read from its config.json."""
    values = run.load_config()
    return config_class(values).from_dict(values, strict=False)


def load_run(run_dir, checkpoint="latest", quiet=False):
    """The recipe (`GAN`, `CycleGAN` or `Diffusion`) of a finished or interrupted run, its trainer rebuilt
    from config.json and loaded from its `checkpoint` ("latest" or "best"), ready to sample,
    translate, export or `fit(resume=True)`."""
    from kerasgan.recipes.cyclegan import CycleGAN
    from kerasgan.recipes.diffusion import Diffusion
    from kerasgan.recipes.gan import GAN
    from kerasgan.runs import Run, restore_checkpoint

    run = Run(Path(run_dir).expanduser())
    config = run_config(run)
    facts = run.load_config()
    if not run.has_checkpoint(checkpoint):
        hint = " (kept when training with --fid-every)" if checkpoint == "best" else ""
        raise MissingPath(f"no {checkpoint} checkpoint in {run.root}: {run.checkpoint_path(checkpoint)} not found{hint}")
    if isinstance(config, CycleGANConfig):
        recipe = CycleGAN(config)
        recipe.build(facts.get("decay_start", 0), facts.get("steps_total", 1), facts.get("lr_decay"))
    elif isinstance(config, DiffusionConfig):
        recipe = Diffusion(config)
        recipe.build(facts.get("steps_total", 1), facts.get("lr_decay"))
    else:
        recipe = GAN(config)
        recipe.build(facts.get("label_names"), facts.get("steps_total", 1), facts.get("lr_decay"),
                     facts.get("mode_seeking_target"))
    recipe.run = run
    step = restore_checkpoint(recipe.trainer, run, checkpoint)
    if not quiet:
        log.info(f"loaded {run.checkpoint_path(checkpoint)} (step {step})")
    return recipe


def load_export(path):
    """An exported model as a Python function, loaded with TensorFlow alone.

    Generators and diffusion samplers (DDIM in the export's default steps): `fn(num=16,
    labels=None, seed=0)` -> uint8 images (labels by name, e.g.
    {"color": "red"}). Translators: `fn(images)` -> uint8 images of the same size.
    """
    from kerasgan.export import find_export, load_saved_model, read_metadata
    from kerasgan.latent import signature_inputs

    version_dir = find_export(path)
    metadata = read_metadata(version_dir)
    loaded = load_saved_model(version_dir)
    serve = loaded.signatures["serving_default"]
    if metadata.get("kind") == "translator":
        def translate(images, _keep_alive=loaded):
            import tensorflow as tf

            return serve(images=tf.constant(images, tf.uint8))["images"].numpy()

        translate.metadata = metadata
        return translate
    label_names = metadata.get("label_names", {})

    def generate(num=16, labels=None, seed=0, _keep_alive=loaded):
        import tensorflow as tf

        chosen = {}
        for attribute, value in (labels or {}).items():
            if attribute not in label_names:
                raise InvalidValue(f"unknown attribute {attribute!r}; this model has: {', '.join(label_names) or 'none'}")
            chosen[attribute] = label_names[attribute].index(value) if isinstance(value, str) else int(value)
        inputs = signature_inputs(serve, num, chosen, label_names, metadata.get("latent", "normal"), seed)
        return serve(**{k: tf.constant(v) for k, v in inputs.items()})["images"].numpy()

    generate.metadata = metadata
    return generate


__all__ = ["GANConfig", "CycleGANConfig", "DiffusionConfig", "load_run", "load_export", "run_config"]
