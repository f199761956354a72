"""An exponential moving average of a generator's weights (Karras et al. 2018; Brock et al. 2019).

    G_ema <- d_t * G_ema + (1 - d_t) * G,      d_t = min(decay, (1 + t) / (10 + t))

after each of G's optimizer steps (t: G updates so far). The warm-up d_t lets the average
follow G closely early on, when a fixed 0.999 would still show mostly the initial weights
after a few hundred steps. Every variable of G is averaged, batch norm's moving statistics
included; integer variables are copied.

The averaged generator is a clone of G held by the trainer with `trainable = False`: its
variables are the trainer's non-trainable weights, so checkpoints (the trainer's
save_weights) hold it and a resumed run continues the same average. Sample grids, FID, the
Python API's `sample` and the export use it (`trainer.sampling_generator`).
"""

import keras
from keras import ops


def averaged_copy(model):
    """A non-trainable clone of `model` starting from its current weights."""
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    copy.trainable = False
    return copy


def decay_at(decay, step):
    """d_t for G's t-th update: `decay`, lower during the first steps."""
    step = ops.cast(step, "float32")
    return ops.minimum(decay, (1.0 + step) / (10.0 + step))


def update_average(average, model, decay, step):
    """One EMA step of `average`'s variables towards `model`'s (same architecture)."""
    d = decay_at(decay, step)
    for slow, fast in zip(average.weights, model.weights):
        if "float" in str(slow.dtype):
            slow.assign(fast + ops.cast(d, slow.dtype) * (slow - fast))
        else:
            slow.assign(fast)


def check_decay(decay):
    if not 0.0 <= decay < 1.0:
        raise ValueError(f"EMA decay must be in [0, 1), got {decay}")
    return decay
