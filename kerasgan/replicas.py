"""Inside a train step under tf.distribute: one device's numbers on N replicas.

Draws cut from one draw for the global batch, sums and means across replicas, the gathered
global batch. Outside a strategy (or with one replica) each is the identity, so trainers and
DiffAugment call them unconditionally. Strategies themselves are built in kerasgan/scale.py.
"""

import tensorflow as tf


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
