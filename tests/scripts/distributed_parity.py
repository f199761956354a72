"""One device against MirroredStrategy on two logical CPUs, same global batch, for the
trainers' distribute-sensitive parts: batch norm, DiffAugment, WGAN-GP's critic slices,
BEGAN's k_t and CycleGAN's image pools. For each case prints the largest difference in the
weights (every variable of the trainer: nets, batch norm statistics, k_t, pools, RNG state)
and in the logged metrics after two steps, as one JSON line. Run by tests/test_distribute.py
in its own process, since logical devices must be set before TensorFlow initialises."""

import json
import sys


import kerasgan  # noqa: E402,F401
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

from kerasgan import scale  # noqa: E402
from kerasgan.nets import began, dcgan  # noqa: E402
from kerasgan.trainers.began import BEGANTrainer  # noqa: E402
from kerasgan.trainers.cycle import CycleGANTrainer  # noqa: E402
from kerasgan.trainers.gan import GANTrainer  # noqa: E402

SIZE = 16
BATCH = 4  # global; 2 rows per replica
STEPS = 2
DIFFAUG = ("color", "translation", "cutout")
layers = keras.layers
# Layers feeding batch norm have no bias: its gradient is zero up to round-off, which Adam
# would turn into lr-sized steps that differ between one device and two.


def bn_generator(noise_dim=8, name="generator"):
    noise = keras.Input((noise_dim,))
    x = layers.Dense(4 * 4 * 8, use_bias=False)(noise)
    x = layers.Reshape((4, 4, 8))(x)
    x = layers.BatchNormalization(momentum=0.5)(x)
    x = layers.ReLU()(x)
    x = layers.Conv2DTranspose(8, 4, 4, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization(momentum=0.5)(x)
    x = layers.Conv2D(3, 3, padding="same", activation="tanh")(x)
    return keras.Model(noise, x, name=name)


def bn_discriminator(name="discriminator", patch=False):
    image = keras.Input((SIZE, SIZE, 3))
    x = layers.Conv2D(8, 4, 2, padding="same", use_bias=False)(image)
    x = layers.BatchNormalization(momentum=0.5)(x)
    x = layers.LeakyReLU(0.2)(x)
    x = layers.Conv2D(1, 4, 2, padding="same")(x) if patch else layers.Dense(1)(layers.Flatten()(x))
    return keras.Model(image, x, name=name)


def bn_translator(name):
    image = keras.Input((SIZE, SIZE, 3))
    x = layers.Conv2D(8, 3, padding="same", use_bias=False)(image)
    x = layers.BatchNormalization(momentum=0.5)(x)
    x = layers.ReLU()(x)
    x = layers.Conv2D(3, 3, padding="same", activation="tanh")(x)
    return keras.Model(image, x, name=name)


def build(case):
    keras.utils.set_random_seed(0)
    if case == "gan_bn":
        return GANTrainer(bn_generator(), bn_discriminator(), loss="lsgan", diffaug=DIFFAUG, noisy_labels=True, seed=3)
    if case == "wgan_gp_n_critic":
        return GANTrainer(dcgan.build_generator(SIZE, 8, 4, norm="none"), dcgan.build_discriminator(SIZE, 4, norm="none"),
                          loss="wgan-gp", n_critic=2, diffaug=("translation",), seed=3)
    if case == "dcgan_fused_bn":
        return GANTrainer(dcgan.build_generator(SIZE, 8, 4), dcgan.build_discriminator(SIZE, 4), loss="bce", seed=3)
    if case == "minibatch_std":
        return GANTrainer(dcgan.build_generator(SIZE, 8, 4, norm="none"),
                          dcgan.build_discriminator(SIZE, 4, norm="none", minibatch_std=True), loss="bce", seed=3)
    if case == "began":
        return BEGANTrainer(began.build_began_generator(SIZE, 8, 4), began.build_began_discriminator(SIZE, 8, 4),
                            lambda_k=0.5, diffaug=DIFFAUG, latent="uniform", seed=3)
    if case == "cycle":
        return CycleGANTrainer(bn_translator("g"), bn_translator("f"), bn_discriminator("dx", True),
                               bn_discriminator("dy", True), SIZE, lambda_identity=0.5, pool_size=3,
                               diffaug=DIFFAUG, seed=3)
    raise ValueError(case)


def dataset(case):
    rng = np.random.default_rng(0)
    rows = BATCH * (2 if case == "wgan_gp_n_critic" else 1)
    batches = [rng.uniform(-1, 1, (rows, SIZE, SIZE, 3)).astype(np.float32) for _ in range(STEPS)]
    if case == "cycle":
        pairs = [(b, rng.uniform(-1, 1, b.shape).astype(np.float32)) for b in batches]
        return tf.data.Dataset.from_tensor_slices(tuple(np.stack(p) for p in zip(*pairs)))
    return tf.data.Dataset.from_tensor_slices(np.stack(batches))


def run(case, strategy, initial=None):
    with strategy.scope():
        trainer = build(case)
        if strategy.num_replicas_in_sync > 1:
            scale.synchronize_batch_norm(trainer)
        trainer.compile(keras.optimizers.Adam(1e-2, 0.5), keras.optimizers.Adam(1e-2, 0.5), jit_compile=False)
    if initial is not None:
        for weight, value in zip(trainer.weights, initial):
            weight.assign(value)
    start = [w.numpy() for w in trainer.weights]
    history = trainer.fit(dataset(case), epochs=1, verbose=0, shuffle=False).history
    global NAMES
    NAMES = [w.path for w in trainer.weights]
    return start, [w.numpy() for w in trainer.weights], {k: float(v[-1]) for k, v in history.items()}


mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
report = {"replicas": mirrored.num_replicas_in_sync}
for case in sys.argv[1:]:
    start, single, single_logs = run(case, tf.distribute.get_strategy())
    _, multi, multi_logs = run(case, mirrored, start)
    report[case] = {
        "moved": max(float(np.abs(a - b).max()) for a, b in zip(start, single) if a.dtype == np.float32),
        "weights": max(float(np.abs(a - b).max()) for a, b in zip(single, multi)),
        "worst": NAMES[int(np.argmax([np.abs(a - b).max() for a, b in zip(single, multi)]))],
        "logs": max(abs(single_logs[k] - multi_logs[k]) for k in single_logs),
        "single_logs": single_logs,
        "multi_logs": multi_logs,
    }
print(json.dumps(report))
