"""One GANTrainer step on one device and under MirroredStrategy on two logical CPUs, same
global batch; prints the largest weight difference as JSON. Run by tests/test_scale.py in
its own process, since logical devices must be set before TensorFlow initialises."""

import json
import sys


import kerasgan  # noqa: E402,F401
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

from kerasgan.nets.dcgan import build_discriminator, build_generator  # noqa: E402
from kerasgan.scale import make_strategy  # noqa: E402
from kerasgan.trainers.gan import GANTrainer  # noqa: E402

LOSS = sys.argv[1] if len(sys.argv) > 1 else "lsgan"


def make_trainer(strategy):
    with strategy.scope():
        keras.utils.set_random_seed(0)
        trainer = GANTrainer(build_generator(64, noise_dim=8, width=8, norm="none"),
                             build_discriminator(64, width=8, norm="none"), loss=LOSS, seed=3)
        trainer.compile(keras.optimizers.Adam(1e-3, 0.5), keras.optimizers.Adam(1e-3, 0.5), jit_compile=False)
    return trainer


def trained_weights(strategy, initial=None, steps=2, save_to=None):
    trainer = make_trainer(strategy)
    if initial is not None:
        for weight, value in zip(trainer.generator.weights + trainer.discriminator.weights, initial):
            weight.assign(value)
    start = [w.numpy() for w in trainer.generator.weights + trainer.discriminator.weights]
    images = np.random.default_rng(0).uniform(-1, 1, (8, 64, 64, 3)).astype(np.float32)
    dataset = tf.data.Dataset.from_tensors(images).repeat()
    trainer.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False)
    if save_to:
        trainer.save_weights(save_to)
    return start, [w.numpy() for w in trainer.generator.weights + trainer.discriminator.weights]


start, single = trained_weights(tf.distribute.get_strategy())
mirrored_strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
checkpoint = sys.argv[2] if len(sys.argv) > 2 else "/tmp/mirrored.weights.h5"
_, mirrored = trained_weights(mirrored_strategy, start, save_to=checkpoint)
# A checkpoint written under the strategy restores on one device.
restored = make_trainer(tf.distribute.get_strategy())
restored.load_weights(checkpoint)
restore_diff = max(float(np.abs(a - w.numpy()).max())
                   for a, w in zip(mirrored, restored.generator.weights + restored.discriminator.weights))
moved = max(float(np.abs(a - b).max()) for a, b in zip(start, single))
diff = max(float(np.abs(a - b).max()) for a, b in zip(single, mirrored))
print(json.dumps({"replicas": mirrored_strategy.num_replicas_in_sync, "moved": moved, "max_diff": diff, "restore_diff": restore_diff,
                  "default_is_none": make_strategy("none").num_replicas_in_sync == 1}))
