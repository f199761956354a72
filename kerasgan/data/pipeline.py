"""The tf.data pipeline from a source (kerasgan/data/sources.py) to training batches.

The stream is a pure function of (seed, position): epoch e visits the images in a stateless
permutation seeded by (seed, e), and image number i of the stream gets augmentation seed
(seed, i). Resuming at step N therefore just starts the stream at element N * batch_size
(the index permutation is computed, no image before it is read), and a resumed run sees
exactly the batches an uninterrupted one would have.

An in-memory source (an ImageSet, or a source cached in memory) is gathered from one uint8
tensor; any other is decoded image by image in a parallel map (Pillow through
`tf.numpy_function`; Pillow releases the GIL while it decodes), with prefetch, so memory stays
flat however many images there are. Both give the same batches (tests/test_data.py).
"""

import atexit
import time

import numpy as np
import tensorflow as tf

from kerasgan.augment.preprocess import preprocess_fn
from kerasgan.errors import UserError


def _index_stream(num_images, seed, start):
    """Infinite (position, image index) pairs, from stream position `start` onwards."""
    first_epoch, offset = divmod(start, num_images)
    epochs = tf.data.Dataset.range(first_epoch, np.iinfo(np.int64).max)
    indices = epochs.flat_map(
        lambda epoch: tf.data.Dataset.from_tensor_slices(
            tf.random.experimental.stateless_shuffle(
                tf.range(num_images, dtype=tf.int64), seed=tf.stack([tf.constant(seed, tf.int64), epoch])
            )
        )
    )
    positions = tf.data.Dataset.range(start, np.iinfo(np.int64).max)
    return tf.data.Dataset.zip(positions, indices.skip(offset))


def _gather_reader(images):
    # Kept as a constant captured by the map function; fine up to ~2 GB of uint8 images.
    images = tf.constant(images)
    return lambda index: (tf.gather(images, index), index)


# When the interpreter exits with a streaming iterator still alive (a script's global, a
# traceback kept by Ctrl-C), the iterator is destroyed during finalization: it waits for its
# in-flight decode calls, which wait for a GIL that finalizing Python no longer hands out, and
# the process hangs (2 exits in 3 measured). So at exit, before finalization, reads return
# at once (nothing consumes them any more) until the pipelines' buffers are full and no call
# is in flight.
_exiting = False
_last_read = [0.0]


@atexit.register
def _let_pipelines_settle(quiet=0.1, limit=3.0):
    global _exiting
    _exiting = True
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and time.monotonic() - _last_read[0] < quiet:
        time.sleep(quiet / 4)


def _streamed_reader(source):
    """index -> (uint8 image, the index whose file was used): the source decodes the file."""
    shape = (source.image_size, source.image_size, source.channels or 3)

    def read(index):
        _last_read[0] = time.monotonic()
        if _exiting:
            return np.zeros(shape, np.uint8), np.int64(index)
        image, used = source.read(int(index))
        return image, np.int64(used)

    def reader(index):
        image, used = tf.numpy_function(read, [index], (tf.uint8, tf.int64), stateful=False)
        return tf.ensure_shape(image, shape), tf.ensure_shape(used, ())

    return reader


def make_dataset(images, image_size, batch_size, preprocess="basic", seed=0, start_step=0,
                 labels=None, load_size=None, shard=None):
    """Infinite batches of float32 [B, S, S, C] in [-1, 1] (with a label dict if given).

    `images` is a source or a uint8 array [N, H, W, C]; `labels` an optional {name: int [N]}
    dict indexed like it. `shard` (worker, workers, replicas per worker): a multi-worker run's
    share, see kerasgan/scale.py: `distribute`. The worker reads (decodes) only its slice of
    each global batch of `batch_size` and yields it in per-replica batches.
    """
    if len(images) < batch_size:
        raise ValueError(f"only {len(images)} images for batch size {batch_size}")
    transform = preprocess_fn(preprocess, image_size, load_size)
    in_memory = images if isinstance(images, np.ndarray) else images.in_memory
    read = _gather_reader(in_memory) if in_memory is not None else _streamed_reader(images)
    labels = {k: tf.constant(v, tf.int32) for k, v in (labels or {}).items()}

    def load(position, index):
        image, used = read(index)
        image = transform(image, tf.stack([tf.constant(seed, tf.int64), position]))
        if not labels:
            return image
        return image, {k: tf.gather(v, used) for k, v in labels.items()}

    stream = _index_stream(len(images), seed, start_step * batch_size)
    per_batch = batch_size
    if shard is not None:
        worker, workers, replicas = shard
        if batch_size % (workers * replicas):
            raise UserError(f"a step's {batch_size} images do not split evenly over {workers * replicas} replicas: "
                            "make --batch-size a multiple of the replica count")
        share = batch_size // workers
        stream = stream.filter(lambda position, index: (position % batch_size) // share == worker)
        per_batch = share // replicas
    return (
        stream.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        .batch(per_batch, drop_remainder=True)
        .prefetch(tf.data.AUTOTUNE)
    )
