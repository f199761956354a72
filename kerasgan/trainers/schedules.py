"""Learning-rate schedules over a run's trainer steps."""

import keras
import tensorflow as tf

SCHEDULES = ("constant", "linear", "cosine")


@keras.saving.register_keras_serializable(package="kerasgan")
class LinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Constant `initial` until step `decay_start`, then linear to 0 at `decay_end` (CycleGAN)."""

    def __init__(self, initial, decay_start, decay_end):
        self.initial = initial
        self.decay_start = decay_start
        self.decay_end = decay_end

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        span = max(self.decay_end - self.decay_start, 1)
        fraction = tf.clip_by_value((step - self.decay_start) / span, 0.0, 1.0)
        return self.initial * (1.0 - fraction)

    def get_config(self):
        return {"initial": self.initial, "decay_start": self.decay_start, "decay_end": self.decay_end}


def learning_rate(initial, schedule, total_steps, decay_start=0, updates_per_step=1):
    """A constant, linearly decaying or cosine schedule over `total_steps` trainer steps.

    Schedules see the optimizer's own iteration count, so a discriminator updated
    `updates_per_step` times per step gets its schedule stretched accordingly.
    """
    if schedule == "constant":
        return initial
    if schedule == "linear":
        return LinearDecay(initial, decay_start * updates_per_step, total_steps * updates_per_step)
    if schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(initial, total_steps * updates_per_step)
    raise ValueError(f"unknown schedule {schedule!r}; choose one of {SCHEDULES}")
