"""The run directory: runs/<name>/ with config.json, samples/, logs/ and checkpoints/.

A run is created once and then only resumed: `open_run` refuses a directory that already
holds another run's files, and holds an exclusive lock on the directory while a process
trains in it (released when the process exits, however it exits), so two processes never
write one run.
"""

import fcntl
import json
import os
import warnings
from pathlib import Path

from kerasgan.errors import UserError

LATEST = "latest"
LOCK_FILE = ".lock"


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
        """config.json as a dict: the recipe's options in field order, then derived facts."""
        try:
            return json.loads(self.config_path.read_text())
        except FileNotFoundError:
            raise UserError(f"not a run directory: {self.config_path} not found") from None
        except (ValueError, UnicodeDecodeError):
            raise UserError(f"{self.config_path} is damaged (not JSON): the run cannot be reloaded") from None

    def lock(self):
        """Takes the run's exclusive lock for the rest of this process (or until `unlock`).

        flock locks vanish with the process that held them, so a killed run leaves no stale
        lock behind; the file keeps the holder's pid for the error message.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        handle = open(self.root / LOCK_FILE, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise UserError(f"{self.root} is in use by another process (pid {holder}): wait for it to finish, "
                            "or start another run with --name NEW") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._lock_handle = handle
        return self

    def unlock(self):
        handle = getattr(self, "_lock_handle", None)
        if handle is not None:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()
            self._lock_handle = None


def _holds_files(root):
    """Whether `root` holds anything a run writes (the lock file alone does not count)."""
    return root.is_dir() and any(p.name != LOCK_FILE for p in root.iterdir())


def open_run(runs_dir, name, config, resume=False):
    """Creates and locks runs_dir/name, or reopens and locks it with `resume`.

    Never mixes two runs: a fresh run needs a directory that is absent or empty, a resumed
    one needs a checkpoint. `config` (a dict) is written to config.json for a fresh run; a
    resumed run records it with `record_config` once its checkpoint has loaded, so a resume
    that fails leaves the run's files as they were.
    """
    run = Run(Path(runs_dir) / name)
    try:
        run.lock()
    except PermissionError:
        raise UserError(f"cannot write to {run.root}: choose a writable --runs-dir") from None
    try:
        if resume and not run.has_checkpoint():
            raise UserError(f"nothing to resume in {run.root}: no checkpoint yet (run without --resume)")
        if not resume and run.has_checkpoint():
            raise UserError(
                f"{run.root} already holds a run: add --resume to continue it, or --name NEW to start another"
            )
        if not resume and _holds_files(run.root):
            raise UserError(f"{run.root} holds files of a run that stopped before its first checkpoint: delete "
                            "that folder, or start this run with --name NEW")
        for folder in (run.samples, run.logs, run.checkpoints):
            folder.mkdir(parents=True, exist_ok=True)
        if not resume:
            write_json(run.config_path, config)
    except BaseException:
        run.unlock()
        raise
    return run


def record_config(run, config):
    """Rewrites config.json (a resumed run records the options it may change: steps, logging)."""
    write_json(run.config_path, config)


def write_json(path, data, sort_keys=False):
    """Writes JSON atomically, so a kill mid-write never leaves a truncated file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=sort_keys, default=str) + "\n")
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


def _stored_shapes(path):
    """The shapes of every array in a Keras weights file, sorted (a truncated file raises OSError)."""
    import h5py

    shapes = []
    with h5py.File(path, "r") as handle:
        handle.visititems(lambda name, item: shapes.append(tuple(item.shape))
                          if isinstance(item, h5py.Dataset) else None)
    return sorted(shapes)


def restore_checkpoint(trainer, run, tag=LATEST):
    """Loads a checkpoint saved by `save_checkpoint`; returns the step it was taken at.

    A file that does not fit the model (other model flags, an older kerasgan) or that is
    damaged (truncated, empty) is one UserError; the run's files are left as they were.
    """
    path = run.checkpoint_path(tag)
    if not path.exists():
        raise UserError(f"no checkpoint {path}")
    others = "the best checkpoint (--checkpoint best) or a copy" if tag == LATEST else "the latest checkpoint"
    try:
        stored = _stored_shapes(path)
    except OSError:
        raise UserError(f"{path} is damaged (truncated or not a weights file): resume from {others}, or start "
                        "a new run with --name") from None
    mismatch = f"{path} does not fit this model (saved with other model flags or an older kerasgan): " \
               f"run with the flags in {run.config_path}, or start a new run with --name"
    # Keras loads a mismatched file partly, warning per skipped part, or fails with a long
    # message; the shapes of what was stored against what the trainer holds decide instead.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            trainer.load_weights(path)
        except ValueError:
            raise UserError(mismatch) from None
    if stored != _own_shapes(trainer, path.parent):
        raise UserError(mismatch)
    return trainer_step(trainer)


def _own_shapes(trainer, folder):
    """The array shapes this trainer writes to a weights file (written once to a temporary file)."""
    import tempfile

    with tempfile.TemporaryDirectory(dir=folder, prefix=".shapes-") as tmp:
        probe = Path(tmp) / "probe.weights.h5"
        trainer.save_weights(probe)
        return _stored_shapes(probe)
