"""Learning-rate schedules over a run's trainer steps, and how a longer resumed run continues one.

A decay is described by its progress, a fraction from 0 (the initial rate) to 1 (rate 0),
given as knots [(step, fraction), ...] and linear between them: a fresh linear decay held
until step 600 of 1000 is [(600, 0), (1000, 1)]; a cosine decay over 1000 steps is
[(0, 0), (1000, 1)]. The rate is initial * (1 - fraction) (linear) or
initial * (1 + cos(pi * fraction)) / 2 (cosine). Knots are plain numbers, so a run records
them in its config.json and a resumed run continues the decay it was on (`continued_decay`).
"""

import math

import keras
import numpy as np
import tensorflow as tf

SCHEDULES = ("constant", "linear", "cosine")


def new_decay(schedule, total_steps, decay_start=0):
    """The knots of a fresh run's decay; None for a constant rate (or a decay that never starts)."""
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; choose one of {SCHEDULES}")
    if schedule == "constant" or decay_start >= total_steps:
        return None
    return [[decay_start if schedule == "linear" else 0, 0.0], [total_steps, 1.0]]


def decay_fraction(knots, step):
    """How far the decay has gone at `step`: 0 before it starts, 1 once it ended."""
    return float(np.interp(step, [k[0] for k in knots], [k[1] for k in knots]))


def continued_decay(knots, step, total_steps, fresh):
    """(knots, what changed) for a run resumed at `step` that now ends at `total_steps`.

    `knots` is the decay the run was on, `fresh` the one a new run of the new length would
    get. Not started yet: the new length's decay, starting no earlier than `step`. Under way:
    from where it is, on to rate 0 at the new last step, so the rate goes on falling from its
    current value instead of jumping back up. Ended (rate 0): ValueError, since more steps
    would train nothing; so is adding or dropping a decay. The message is None when nothing
    changed.
    """
    if knots is None or fresh is None:
        if knots is None and fresh is None:
            return None, None
        raise ValueError("a resumed run keeps its learning rate "
                         + ("constant: its optimizer has no place for a decay" if knots is None else
                            "decaying: a length without a decay cannot continue it")
                         + "; start a new run for that")
    if knots[-1][0] == total_steps:
        return knots, None  # the decay already ends at this length
    done = decay_fraction(knots, step)
    if done >= 1.0:
        raise ValueError(f"the learning rate decayed to 0 at step {int(knots[-1][0])}, so more steps would train "
                         "nothing: start a new run to train longer")
    if done == 0.0:
        start = max(fresh[0][0], step)
        continued = [[start, 0.0], [total_steps, 1.0]]
        return continued, (f"learning rate: the decay now starts at step {start} and reaches 0 at step "
                           f"{total_steps} (the run's last step)")
    continued = [k for k in knots if k[0] < step] + [[step, done], [total_steps, 1.0]]
    return continued, (f"learning rate: at step {step} it has gone {done:.0%} of its decay; the rest now spans "
                       f"steps {step}-{total_steps} instead of ending at step {int(knots[-1][0])}")


@keras.saving.register_keras_serializable(package="kerasgan")
class Decay(keras.optimizers.schedules.LearningRateSchedule):
    """`initial` decayed along `knots` (module docstring), linearly or by a cosine.

    The optimizer passes its own iteration count; an optimizer updated `updates_per_step`
    times per trainer step (a critic with n_critic) divides it back into trainer steps.
    """

    def __init__(self, initial, knots, shape="linear", updates_per_step=1):
        if shape not in ("linear", "cosine"):
            raise ValueError(f"unknown decay shape {shape!r}; choose linear or cosine")
        self.initial = initial
        self.knots = [[float(s), float(f)] for s, f in knots]
        self.shape = shape
        self.updates_per_step = updates_per_step

    def __call__(self, iteration):
        step = tf.cast(iteration, tf.float32) / self.updates_per_step
        fraction = tf.constant(self.knots[0][1], tf.float32)
        for (x0, y0), (x1, y1) in zip(self.knots[:-1], self.knots[1:]):
            fraction += (y1 - y0) * tf.clip_by_value((step - x0) / max(x1 - x0, 1.0), 0.0, 1.0)
        if self.shape == "cosine":
            return self.initial * 0.5 * (1.0 + tf.cos(math.pi * fraction))
        return self.initial * (1.0 - fraction)

    def get_config(self):
        return {"initial": self.initial, "knots": self.knots, "shape": self.shape,
                "updates_per_step": self.updates_per_step}


def learning_rate(initial, schedule, knots, updates_per_step=1):
    """`initial` for a constant rate (knots None), else its `Decay` along `knots`."""
    if schedule == "constant" or knots is None:
        return initial
    return Decay(initial, knots, schedule, updates_per_step)
