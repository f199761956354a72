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

from kerasgan.errors import MissingPath, UserError

LATEST = "latest"
BEST = "best"
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
            raise MissingPath(f"not a run directory: {self.config_path} not found") from None
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


# With or without --resume: what a run directory without a checkpoint means, and what to do.
_NO_CHECKPOINT = ("{root} holds a run with no checkpoint to resume (it stopped before its first one, or the file was "
                  "removed): delete that folder to start it again, or start another run with --name NEW")


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
            if not _holds_files(run.root):
                raise UserError(f"nothing to resume: {run.root} holds no run (check --name and --runs-dir)")
            raise UserError(_NO_CHECKPOINT.format(root=run.root))
        if not resume and run.has_checkpoint():
            raise UserError(
                f"{run.root} already holds a run: add --resume to continue it, or --name NEW to start another"
            )
        if not resume and _holds_files(run.root):
            raise UserError(_NO_CHECKPOINT.format(root=run.root))
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

    The file is one unit: its step and `extra` facts (FID scores) are an attribute inside it
    (`checkpoint_info`), written before the file is renamed into place, so no reader sees
    weights with another checkpoint's facts. Refuses (NonFiniteLoss) to write NaN or infinite
    weights, so a diverged run never overwrites its last good checkpoint; the check is one
    device-to-host read per save.
    """
    import h5py
    import tensorflow as tf

    from kerasgan.errors import NonFiniteLoss

    path = run.checkpoint_path(tag)
    tensors = [(getattr(v, "path", None) or getattr(v, "name", "a saved value"), tf.convert_to_tensor(v))
               for v in saved_variables(trainer)]
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
    with h5py.File(tmp, "a") as handle:
        handle.attrs[INFO_ATTRIBUTE] = json.dumps({"step": trainer_step(trainer), **extra}, default=str)
    os.replace(tmp, path)
    _old_info_path(path).unlink(missing_ok=True)  # an earlier kerasgan's separate file, now stale
    return path


# The attribute of a checkpoint file holding its step and facts as JSON.
INFO_ATTRIBUTE = "kerasgan"


def _old_info_path(path):
    """Where kerasgan 0.2 kept a checkpoint's facts: latest.weights.h5 -> latest.json."""
    return path.with_suffix("").with_suffix(".json")


def checkpoint_info(path):
    """{"step": ..., and FID scores for "best"} of a checkpoint file; {} when there is none.

    A damaged file raises UserError. Checkpoints of kerasgan 0.2 kept these facts in a
    separate latest.json / best.json, which is read for them.
    """
    import h5py

    path = Path(path)
    if not path.exists():
        return {}
    try:
        with h5py.File(path, "r") as handle:
            text = handle.attrs.get(INFO_ATTRIBUTE)
    except OSError:
        raise UserError(f"{path} is damaged (truncated or not a weights file)") from None
    if text is None:
        try:
            return json.loads(_old_info_path(path).read_text())
        except (OSError, ValueError):
            return {}
    return json.loads(text)


def checkpoint_step(run, tag=LATEST):
    """The step of the run's `tag` checkpoint (0 without one)."""
    return int(checkpoint_info(run.checkpoint_path(tag)).get("step", 0))


def saved_variables(trainer):
    """The variables `save_weights` writes for `trainer`, in Keras' order and as often as it
    writes them (a spectral-normalized kernel is filed under the wrapper and the wrapped
    layer): its nets, RNG state, pools and optimizers (Adam's moments too: NaN there is NaN
    weights next step), not its metrics. Found by walking the object graph as Keras 3.15's
    saver does (keras.src.saving.saving_lib), without writing or copying anything."""
    import keras
    from keras.src.saving.keras_saveable import KerasSaveable
    from keras.src.saving.saving_lib import _walk_saveable

    variables, visited = [], set()

    def visit(saveable):
        if id(saveable) in visited:
            return
        visited.add(id(saveable))
        if isinstance(saveable, keras.optimizers.Optimizer):
            variables.extend(saveable.variables)  # what its save_own_variables stores, as NumPy copies
        elif hasattr(saveable, "save_own_variables"):
            store = {}
            saveable.save_own_variables(store)
            variables.extend(store.values())
        for _, child in _walk_saveable(saveable):
            children = list(child.values()) if isinstance(child, dict) else child
            for item in children if isinstance(children, (list, tuple)) else [child]:
                if isinstance(item, KerasSaveable):
                    visit(item)

    visit(trainer)
    return variables


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

    The file is checked before anything is loaded: one that does not fit the model (other
    model flags, an older kerasgan) or that is damaged (truncated, empty) is one UserError,
    and the trainer and the run's files are left as they were.
    """
    path = run.checkpoint_path(tag)
    if not path.exists():
        raise UserError(f"no checkpoint {path}")
    try:
        stored = _stored_shapes(path)
    except OSError:
        raise UserError(f"{path} is damaged (truncated or not a weights file): {_damaged_advice(run, tag)}") from None
    # Keras loads a mismatched file partly, warning per skipped part, or fails with a long
    # message; the shapes of what was stored against what the trainer holds decide first.
    if stored != sorted(tuple(v.shape) for v in saved_variables(trainer)):
        raise UserError(f"{path} does not fit this model (saved with other model flags or an older kerasgan): "
                        f"run with the flags in {run.config_path}, or start a new run with --name")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.load_weights(path)
    return trainer_step(trainer)


def _damaged_advice(run, tag):
    """What a user can do about a damaged checkpoint: another checkpoint of the run, or a new run."""
    other = BEST if tag == LATEST else LATEST
    if run.has_checkpoint(other):
        return (f"re-export or evaluate its {other} checkpoint ({run.checkpoint_path(other)}; kerasgan export --run "
                f"{run.root} --checkpoint {other}), or start a new run with --name")
    return "start a new run with --name (no other checkpoint of this run is left)"
