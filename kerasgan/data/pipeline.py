"""The tf.data pipeline from an in-memory uint8 image array to training batches.

The stream is a pure function of (seed, position): epoch e visits the images in a stateless
permutation seeded by (seed, e), and image number i of the stream gets augmentation seed
(seed, i). Resuming at step N therefore just starts the stream at element N * batch_size,
and a resumed run sees exactly the batches an uninterrupted one would have.
"""

import numpy as np
import tensorflow as tf

from kerasgan.augment.preprocess import preprocess_fn


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


def make_dataset(images, image_size, batch_size, preprocess="basic", seed=0, start_step=0,
                 labels=None, load_size=None):
    """Infinite batches of float32 [B, S, S, 3] in [-1, 1] (with a label dict if given).

    `images` is uint8 [N, H, W, 3]; `labels` an optional {name: int [N]} dict.
    """
    if len(images) < batch_size:
        raise ValueError(f"only {len(images)} images for batch size {batch_size}")
    transform = preprocess_fn(preprocess, image_size, load_size)
    # Kept as a constant captured by the map function; fine up to ~2 GB of uint8 images.
    images = tf.constant(images)
    labels = {k: tf.constant(v, tf.int32) for k, v in (labels or {}).items()}

    def load(position, index):
        image = transform(tf.gather(images, index), tf.stack([tf.constant(seed, tf.int64), position]))
        if not labels:
            return image
        return image, {k: tf.gather(v, index) for k, v in labels.items()}

    stream = _index_stream(len(images), seed, start_step * batch_size)
    return (
        stream.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        .batch(batch_size, drop_remainder=True)
        .prefetch(tf.data.AUTOTUNE)
    )
