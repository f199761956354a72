"""Fitting a trainer inside a run directory: resume, callbacks, interrupt-safe checkpoints."""

import math
import sys

import tensorflow as tf

from kerasgan import callbacks as cb
from kerasgan.errors import UserError
from kerasgan.runs import restore_checkpoint, save_checkpoint, trainer_step


def total_steps(steps, epochs, num_images, batch_size, default_epochs=100):
    """--steps wins; otherwise --epochs (default 100) passes over the data."""
    if steps:
        return steps
    return (epochs or default_epochs) * max(num_images // batch_size, 1)


def check_xla(trainer, wanted):
    """Keras silently drops XLA when a layer cannot compile; say so instead of running slow."""
    if wanted and not trainer.jit_compile:
        print("warning: XLA was turned off by Keras for this model; training runs without it",
              file=sys.stderr)


def fit(trainer, dataset_at, run, steps, steps_per_epoch, callbacks, resume=False, verbose=1):
    """Trains until `trainer.step == steps`, resuming from the run's checkpoint if asked.

    `dataset_at(step)` returns the input pipeline positioned at `step`. Ctrl-C saves a
    checkpoint before exiting, so no finished step is lost. Returns the steps trained now.
    """
    start = restore_checkpoint(trainer, run) if resume else 0
    if resume:
        print(f"resumed {run.root} at step {start}")
    if start >= steps:
        print(f"{run.root} already reached step {start} (>= {steps}); nothing to train")
        return 0
    try:
        trainer.fit(
            dataset_at(start),
            epochs=math.ceil(steps / steps_per_epoch),
            initial_epoch=start // steps_per_epoch,
            steps_per_epoch=steps_per_epoch,
            callbacks=[*callbacks, cb.StopAtStep(steps)],
            shuffle=False,
            verbose=verbose,
        )
    except KeyboardInterrupt:
        path = save_checkpoint(trainer, run)
        print(f"\ninterrupted at step {trainer_step(trainer)}; saved {path}; add --resume to continue",
              file=sys.stderr)
        raise SystemExit(130) from None
    except tf.errors.ResourceExhaustedError:
        raise UserError("out of memory: lower --batch-size or --image-size") from None
    return trainer_step(trainer) - start
