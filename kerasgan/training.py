"""Fitting a trainer inside a run directory: resume, callbacks, interrupt-safe checkpoints."""

import contextlib
import math
import signal
import threading

import tensorflow as tf

from kerasgan import callbacks as cb
from kerasgan.errors import NonFiniteLoss, UserError
from kerasgan.progress import log
from kerasgan.runs import checkpoint_step, restore_checkpoint, save_checkpoint, trainer_step


def total_steps(steps, epochs, num_images, batch_size, default_epochs=100):
    """--steps, else --epochs (default 100) passes over the data (a config never has both)."""
    if steps:
        return steps
    return (epochs or default_epochs) * max(num_images // batch_size, 1)


def check_xla(trainer, wanted):
    """Keras silently drops XLA when a layer cannot compile; say so instead of running slow."""
    if wanted and not trainer.jit_compile:
        log.warning("warning: XLA was turned off by Keras for this model; training runs without it")


def fit(trainer, dataset_at, run, steps, steps_per_epoch, callbacks, resume=False, verbose=1, on_resumed=None,
        max_loss=0.0):
    """Trains until `trainer.step == steps`, resuming from the run's checkpoint if asked.

    `dataset_at(step)` returns the input pipeline positioned at `step`. Ctrl-C saves a
    checkpoint before exiting, so no finished step is lost. Returns the steps trained now.
    `on_resumed()` runs once a resumed checkpoint has loaded (the recipe records its config).

    A NaN or infinite loss (or weights about to be checkpointed), or losses above `max_loss`
    for 10 steps in a row, raise NonFiniteLoss naming the step; the run's last finite
    checkpoint is kept, never overwritten, and the caller never reaches its export.

    SIGTERM (`docker stop`, a scheduler's preemption) is handled like Ctrl-C while `fit`
    runs: it saves a checkpoint and exits with status 143 (128 + SIGTERM); Ctrl-C exits
    with 130 (128 + SIGINT).
    """
    start = restore_checkpoint(trainer, run) if resume else 0
    if resume:
        log.info(f"resumed {run.root} at step {start}")
        if on_resumed is not None:
            on_resumed()
    if start >= steps:
        log.warning(f"{run.root} already reached step {start} (>= {steps}); nothing to train")
        return 0
    try:
        with _sigterm_as_interrupt():
            try:
                trainer.fit(
                    dataset_at(start),
                    epochs=math.ceil(steps / steps_per_epoch),
                    initial_epoch=start // steps_per_epoch,
                    steps_per_epoch=steps_per_epoch,
                    callbacks=[cb.StopOnNonFinite(max_loss), cb.RunProgress(steps, verbose), *callbacks,
                               cb.StopAtStep(steps)],
                    shuffle=False,
                    verbose=0,
                )
            except KeyboardInterrupt as interrupt:
                _set_sigterm(signal.SIG_IGN)  # a second SIGTERM must not cut the save short
                path = save_checkpoint(trainer, run)  # NonFiniteLoss if the weights are not finite
                terminated = isinstance(interrupt, Terminated)
                log.warning(f"\ninterrupted at step {trainer_step(trainer)}{' (SIGTERM)' if terminated else ''}; "
                            f"saved {path}; add --resume to continue")
                raise SystemExit(143 if terminated else 130) from None
    except NonFiniteLoss as error:
        raise _diverged(error, run) from None
    except tf.errors.ResourceExhaustedError:
        raise UserError("out of memory: lower --batch-size or --image-size") from None
    return trainer_step(trainer) - start


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread during `fit` so that it saves like Ctrl-C."""


def _raise_terminated(signum, frame):
    raise Terminated()


def _set_sigterm(handler):
    """signal.signal(SIGTERM, handler) in the main thread (only it may); the previous handler."""
    if threading.current_thread() is not threading.main_thread():
        return None
    previous = signal.signal(signal.SIGTERM, handler)
    return signal.SIG_DFL if previous is None else previous  # None: set outside Python


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """Turns SIGTERM into `Terminated` for the block; restores the previous handler after."""
    previous = _set_sigterm(_raise_terminated)
    try:
        yield
    finally:
        if previous is not None:
            _set_sigterm(previous)


def _diverged(error, run):
    """`error` with what was kept: the run's last (finite) checkpoint, if any."""
    path = run.checkpoint_path()
    if path.exists():
        kept = f"kept the last finite checkpoint {path} (step {checkpoint_step(run)})"
    else:
        kept = "no checkpoint was written"
    return NonFiniteLoss(f"{error}; stopped, {kept}, nothing exported: lower --lr or resume with other flags",
                         error.step)
