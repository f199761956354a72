"""The run directory: runs/<name>/ with config.json, samples/, logs/ and checkpoints/."""

import json
import os
import warnings
from pathlib import Path

from kerasgan.errors import UserError

LATEST = "latest"


class Run:
    def __init__(self, root):
        self.root = Path(root)
        self.config_path = self.root / "config.json"
        self.samples = self.root / "samples"
        self.logs = self.root / "logs"
        self.checkpoints = self.root / "checkpoints"

    def checkpoint_path(self, tag=LATEST):
        return self.checkpoints / f"{tag}.weights.h5"

    def has_checkpoint(self, tag=LATEST):
        return self.checkpoint_path(tag).exists()

    def load_config(self):
        return json.loads(self.config_path.read_text())


def open_run(runs_dir, name, config, resume=False):
    """Creates runs_dir/name, or reopens it with `resume`; never overwrites a run's work."""
    run = Run(Path(runs_dir) / name)
    if resume and not run.has_checkpoint():
        raise UserError(f"nothing to resume in {run.root}: no checkpoint yet (run without --resume)")
    if not resume and run.has_checkpoint():
        raise UserError(
            f"{run.root} already holds a run: add --resume to continue it, or --name NEW to start another"
        )
    for folder in (run.samples, run.logs, run.checkpoints):
        folder.mkdir(parents=True, exist_ok=True)
    if not resume:
        write_json(run.config_path, config)
    return run


def write_json(path, data):
    """Writes JSON atomically, so a kill mid-write never leaves a truncated file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    os.replace(tmp, path)


def trainer_step(trainer):
    """The trainer's completed steps as an int (its `step` may be a distributed variable)."""
    step = trainer.step
    return int(step.numpy() if hasattr(step, "numpy") else step)


def save_checkpoint(trainer, run, tag=LATEST, **extra):
    """Saves the trainer's whole state (nets, optimizers, step, RNG, pools) atomically.

    Refuses (NonFiniteLoss) to write NaN or infinite weights, so a diverged run never
    overwrites its last good checkpoint. The check is one device-to-host read per save.
    """
    import keras
    import tensorflow as tf

    from kerasgan.errors import NonFiniteLoss

    path = run.checkpoint_path(tag)
    variables = list(trainer.weights)
    for optimizer in vars(trainer).values():  # Adam's moments too: NaN there is NaN weights next step
        if isinstance(optimizer, keras.optimizers.Optimizer):
            variables += optimizer.variables
    tensors = [(getattr(v, "path", v.name), tf.convert_to_tensor(v)) for v in variables]
    tensors = [(name, t) for name, t in tensors if t.dtype.is_floating]
    finite = tf.stack([tf.reduce_all(tf.math.is_finite(t)) for _, t in tensors]).numpy() if tensors else []
    bad = [name for (name, _), ok in zip(tensors, finite) if not ok]
    if bad:
        step = trainer_step(trainer)
        more = f" and {len(bad) - 1} more" if len(bad) > 1 else ""
        raise NonFiniteLoss(f"NaN or infinite values in {bad[0]}{more} at step {step}: not saved over {path}",
                            step)
    tmp = path.with_name(f".{tag}.tmp.weights.h5")
    trainer.save_weights(tmp)
    os.replace(tmp, path)
    write_json(path.with_suffix("").with_suffix(".json"), {"step": trainer_step(trainer), **extra})
    return path


def restore_checkpoint(trainer, run, tag=LATEST):
    """Loads a checkpoint saved by `save_checkpoint`; returns the step it was taken at."""
    path = run.checkpoint_path(tag)
    if not path.exists():
        raise UserError(f"no checkpoint {path}")
    # Keras loads a mismatched file partly, warning per skipped part, or fails with a long
    # message; either way the run cannot continue from it, so say so in one line.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            trainer.load_weights(path)
            mismatch = any("Skipping" in str(w.message) for w in caught)
        except ValueError:
            mismatch = True
    if mismatch:
        raise UserError(f"{path} does not fit this model (saved with other model flags or an older kerasgan): "
                        f"run with the flags in {run.config_path}, or start a new run with --name")
    return trainer_step(trainer)
