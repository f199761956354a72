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

import os
import sys

import keras
import tensorflow as tf

from kerasgan.errors import UserError

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
STRATEGIES = ("none", "mirrored", "multiworker")


def add_scale_args(parser):
    group = parser.add_argument_group("speed and scale")
    group.add_argument("--precision", default="float32", choices=PRECISIONS,
                       help="mixed_float16 (GPUs, with loss scaling) or mixed_bfloat16 (TPUs, recent CPUs/GPUs)")
    group.add_argument("--strategy", default="none", choices=STRATEGIES,
                       help="mirrored: all local GPUs; multiworker: several machines configured by TF_CONFIG")
    return group


def set_precision(policy):
    """Sets Keras' global dtype policy; call before building any network."""
    keras.mixed_precision.set_global_policy(policy)


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
    against 80 img/s in TensorFlow's graph mode (README, Benchmarks).
    """
    if mode == "auto":
        return bool(tf.config.list_physical_devices("GPU"))
    return mode == "on"


def use_xla(strategy, wanted):
    """XLA under a multi-replica strategy fails on CPU ("Trying to access resource ... on CPU:1
    from CPU:0"); fall back to graph mode there with one warning line."""
    if wanted and strategy.num_replicas_in_sync > 1 and not tf.config.list_physical_devices("GPU"):
        print("warning: XLA does not compile under a multi-device strategy on CPU; training without it",
              file=sys.stderr)
        return False
    return wanted


# -- inside a train step: one device's numbers on N replicas -------------------------------
def _replica_context():
    """The replica context when more than one replica is in sync, else None."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return None
    return context


def draw_for_replica(draw, batch):
    """`draw(n)` for this replica's `batch` rows, cut from one draw for the global batch.

    Replicas share the RNG state, so each would otherwise draw the same numbers; slicing one
    global draw gives N replicas exactly the noise one device draws for the same global batch.
    """
    context = _replica_context()
    if context is None:
        return draw(batch)
    start = context.replica_id_in_sync_group * batch
    return tf.gather(draw(batch * context.num_replicas_in_sync), tf.range(batch) + start)


def replica_sum(value):
    """`value` summed over the replicas (unchanged on one device or outside a step).

    A loss reduced with the global batch (trainers/gan.py's `global_mean`) is, on each
    replica, that replica's share of the loss; its sum over replicas is the loss one device
    computes for the same global batch. Gradients are summed by the optimizer; values that
    are logged or that drive a control (BEGAN's k_t) need this sum.
    """
    context = _replica_context()
    return value if context is None else context.all_reduce(tf.distribute.ReduceOp.SUM, value)


def replica_mean(value):
    """`value` averaged over the replicas: a per-replica mean (of logits, say) becomes the
    mean over the global batch, since every replica holds an equal share of it."""
    context = _replica_context()
    return value if context is None else context.all_reduce(tf.distribute.ReduceOp.MEAN, value)


def gather_replicas(value):
    """The global batch: every replica's `value` [B, ...] concatenated along axis 0, in
    replica order (unchanged on one device). Returns (global value, this replica's first
    row); B must be static, and so is the global value's first dimension."""
    context = _replica_context()
    if context is None:
        return value, 0
    replicas = context.num_replicas_in_sync
    gathered = context.all_gather(value, axis=0)
    gathered = tf.ensure_shape(gathered, [value.shape[0] * replicas, *value.shape[1:]])
    return gathered, context.replica_id_in_sync_group * value.shape[0]


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
    inside the strategy's scope so every variable is distributed. Returns (trainer, strategy).
    """
    from kerasgan.training import check_xla

    set_precision(args.precision)
    strategy = make_strategy(args.strategy)
    xla = use_xla(strategy, xla_wanted(args.xla))
    with strategy.scope():
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
