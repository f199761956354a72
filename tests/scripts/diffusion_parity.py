"""The diffusion trainer on one device against MirroredStrategy on two logical CPUs, same
global batch, and under mixed_bfloat16: prints the largest weight and log differences after
two steps (EMA copy and RNG state included) as one JSON line. Run by tests/test_diffusion.py
in its own process, since logical devices must be set before TensorFlow initialises."""

import json

import kerasgan  # noqa: F401
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

from kerasgan.nets.unet import build_unet  # noqa: E402
from kerasgan.trainers.diffusion import DiffusionTrainer  # noqa: E402

SIZE, BATCH, STEPS = 16, 4, 2


def run(strategy, initial=None, policy="float32"):
    keras.mixed_precision.set_global_policy(policy)
    with strategy.scope():
        keras.utils.set_random_seed(0)
        trainer = DiffusionTrainer(build_unet(SIZE, width=8), build_unet(SIZE, width=8), timesteps=50, ema_decay=0.9,
                                   seed=3)
        trainer.compile(keras.optimizers.Adam(1e-3), jit_compile=False)
    if initial is not None:
        for weight, value in zip(trainer.weights, initial):
            weight.assign(value)
    start = [w.numpy() for w in trainer.weights]
    rng = np.random.default_rng(0)
    data = tf.data.Dataset.from_tensor_slices(rng.uniform(-1, 1, (STEPS, BATCH, SIZE, SIZE, 3)).astype(np.float32))
    history = trainer.fit(data, epochs=1, verbose=0, shuffle=False).history
    keras.mixed_precision.set_global_policy("float32")
    return start, [w.numpy() for w in trainer.weights], float(history["loss"][-1])


start, single, single_loss = run(tf.distribute.get_strategy())
_, multi, multi_loss = run(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]), start)
_, bf16, bf16_loss = run(tf.distribute.get_strategy(), start, "mixed_bfloat16")
floats = [i for i, w in enumerate(start) if w.dtype == np.float32]
print(json.dumps({
    "moved": max(float(np.abs(start[i] - single[i]).max()) for i in floats),
    "weights": max(float(np.abs(single[i] - multi[i]).max()) for i in floats),
    "logs": abs(single_loss - multi_loss),
    "bf16_loss": bf16_loss, "loss": single_loss,
    "bf16_finite": bool(all(np.isfinite(w).all() for w in bf16)),
}))
