"""Mixed precision and tf.distribute strategies for the training CLIs.

    --precision float32 | mixed_float16 | mixed_bfloat16
    --strategy  none | mirrored | multiworker

Networks and optimizers are built inside `strategy.scope()`; Keras' fit distributes the
tf.data batches (each global batch split across replicas) and the trainers divide their
losses by the global batch size. Random draws inside the step (noise, codes, DiffAugment,
the CycleGAN image pools) are cut from one draw for the global batch, logged losses and
BEGAN's k_t are summed over replicas, and under a multi-replica strategy batch norm layers
are synchronized, so N replicas compute the same update as one device.
"""

import contextlib
import os

import keras
import tensorflow as tf

from kerasgan.errors import UserError
from kerasgan.progress import log

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
STRATEGIES = ("none", "mirrored", "multiworker")
XLA_MODES = ("auto", "on", "off")


@contextlib.contextmanager
def precision(policy):
    """Keras' global dtype policy set to `policy` while networks are built in the block, and put
    back afterwards: layers keep the policy they were built with, and a user's own models
    built later get the user's."""
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(policy)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def make_strategy(name):
    """The tf.distribute strategy for `--strategy` (the default strategy for "none")."""
    if name == "none":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        if "TF_CONFIG" not in os.environ:
            raise UserError("--strategy multiworker needs TF_CONFIG describing the cluster (see README, Scaling out)")
        _fix_keras_multiworker_logs()
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise UserError(f"unknown strategy {name!r}; choose one of {STRATEGIES}")


def _fix_keras_multiworker_logs():
    """Keras 3's fit averages each step's logs across workers with
    `strategy.reduce("MEAN", v, axis=0)`, which fails on the scalar logs every trainer returns
    ("Invalid reduction dimension 0 for input with 0 dimensions", tensorflow#72388). Reduce
    scalars over replicas only (axis=None); everything else goes through Keras unchanged."""
    from keras.src.backend.tensorflow import trainer as tf_trainer

    original = tf_trainer.reduce_per_replica
    if getattr(original, "kerasgan_fixed", False):
        return

    def reduce_per_replica(values, strategy, reduction):
        if reduction in ("auto", "mean") and tf_trainer._collective_all_reduce_multi_worker(strategy):
            return tf.nest.map_structure(lambda v: strategy.reduce("MEAN", v, axis=None), values)
        return original(values, strategy, reduction)

    reduce_per_replica.kerasgan_fixed = True
    tf_trainer.reduce_per_replica = reduce_per_replica


def xla_wanted(mode):
    """--xla on/off as given; auto compiles with XLA on GPUs only.

    On CPU, XLA's convolutions do not use oneDNN: the DCGAN-64 step ran at 58 img/s under XLA
    against 80 img/s in TensorFlow's graph mode (docs/benchmarks.md).
    """
    if mode == "auto":
        return bool(tf.config.list_physical_devices("GPU"))
    return mode == "on"


def use_xla(strategy, wanted):
    """XLA under a multi-replica strategy fails on CPU ("Trying to access resource ... on CPU:1
    from CPU:0"); fall back to graph mode there with one warning line."""
    if wanted and strategy.num_replicas_in_sync > 1 and not tf.config.list_physical_devices("GPU"):
        log.warning("warning: XLA does not compile under a multi-device strategy on CPU; training without it")
        return False
    return wanted


def synchronize_batch_norm(model):
    """Makes every batch norm layer of `model` compute its statistics over the global batch
    (Keras' `synchronized=True`: sums all-reduced across replicas). Without it each replica
    normalizes its own share of the batch, and N replicas train a batch-norm network
    differently from one device. Returns the number of layers changed."""
    count = 0
    for layer in model._flatten_layers():
        if isinstance(layer, keras.layers.BatchNormalization) and not layer.synchronized:
            layer.synchronized = True
            count += 1
    return count


def wrap_optimizer(optimizer, precision):
    """float16 needs loss scaling; Keras only wraps the single optimizer given to compile,
    so each of a GAN's optimizers is wrapped here."""
    if precision == "mixed_float16":
        return keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def shard_by_data(dataset):
    """In-memory datasets cannot be sharded by file: shard by element across workers."""
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def build_trainer(args, build, make_optimizers):
    """Builds and compiles a trainer as --precision, --strategy and --xla ask.

    `build()` returns the trainer, `make_optimizers()` the tuple of optimizers its `compile`
    takes first (a GAN's (generator, discriminator), a diffusion trainer's one); both run
    inside the strategy's scope so every variable is distributed, under the precision policy
    and with initial weights fixed by `args.seed` (same seed, same weights). Returns
    (trainer, strategy).
    """
    from kerasgan.seeds import seeded
    from kerasgan.training import check_xla

    strategy = make_strategy(args.strategy)
    xla = use_xla(strategy, xla_wanted(args.xla))
    with precision(args.precision), seeded(args.seed), strategy.scope():
        trainer = build()
        if strategy.num_replicas_in_sync > 1:
            synchronize_batch_norm(trainer)  # the global batch's statistics, as on one device
        optimizers = [wrap_optimizer(o, args.precision) for o in make_optimizers()]
        trainer.compile(*optimizers, jit_compile=xla)
    check_xla(trainer, xla)
    return trainer, strategy


def distribute(dataset, strategy):
    """Element-wise sharding when several workers read the same in-memory data."""
    return shard_by_data(dataset) if strategy.num_replicas_in_sync > 1 else dataset
