"""TensorFlow Datasets by name: loaded into memory as uint8 when small, else prepared once as a
zip that training streams (kerasgan/data/pack.py: tfds_pack).

The real download code is TFDS' own. Offline, TFDS retries for minutes before failing, so a
dataset that is not prepared yet is preceded by a quick reachability check that fails in
well under a second with a line saying how to use a local copy instead.
"""

import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

from kerasgan.errors import MissingPath, UserError

_PROBE_URL = "https://storage.googleapis.com/"


def _online(timeout=5.0):
    try:
        urllib.request.urlopen(_PROBE_URL, timeout=timeout)
    except urllib.error.HTTPError:
        return True  # the server answered: we are online
    except Exception:
        return False
    return True


FOLDER_HINT = "or train on a local folder of images with --data-dir FOLDER"


def looks_like_a_path(name):
    """Whether a dataset name is meant as a folder: absolute, ./ or ~ relative, or below a
    folder that exists (TFDS names look like `cifar10` or `cycle_gan/apple2orange`)."""
    name = str(name)
    first = name.replace("\\", "/").split("/")[0]
    return name.startswith(("/", ".", "~")) or ("/" in name.replace("\\", "/") and Path(first).is_dir())


def tfds_builder(name, data_dir=None, local_hint=FOLDER_HINT):
    """The TFDS builder for `name`, downloaded and prepared if needed (needs internet once).

    `local_hint` ends the offline error: how to train on local files with this command.
    """
    import tensorflow_datasets as tfds

    if looks_like_a_path(name):
        raise MissingPath(f"folder not found: {name} (a name that is not a folder is read as a TensorFlow Datasets "
                        "name; check the path)")
    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except (tfds.core.registered.DatasetNotFoundError, ValueError):
        raise UserError(
            f"TensorFlow Datasets has no dataset {name!r}; see `tfds.list_builders()` "
            "or pass --data-dir with a folder of images"
        ) from None
    if builder.is_prepared():
        return builder
    if not _online():
        where = data_dir or "~/tensorflow_datasets"
        raise UserError(
            f"cannot download TFDS dataset {name!r}: no network. On a machine with internet "
            f"run `tfds build {name} --data_dir DIR`, copy DIR here and pass --data-dir DIR "
            f"(looked in {where}), {local_hint}"
        )
    builder.download_and_prepare()
    return builder


def _square_resize(image, size):
    import tensorflow as tf

    if image.shape[-1] == 1:
        image = tf.image.grayscale_to_rgb(image)
    image = image[..., :3]
    shape = tf.shape(image)
    side = tf.minimum(shape[0], shape[1])
    image = tf.image.crop_to_bounding_box(
        image, (shape[0] - side) // 2, (shape[1] - side) // 2, side, side
    )
    image = tf.image.resize(tf.cast(image, tf.float32), (size, size), antialias=True)
    return tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)


def tfds_batches(name, split="train", image_size=64, data_dir=None, image_key="image", label_keys=(),
                 max_images=None, local_hint=FOLDER_HINT, batch_size=256):
    """(images uint8 [B, S, S, 3], {label_key: int32 [B]}) batches of a TFDS split, in order."""
    import tensorflow as tf

    builder = tfds_builder(name, data_dir, local_hint)
    if split not in builder.info.splits:
        raise UserError(f"{name} has no split {split!r}; it has {sorted(builder.info.splits)}")
    ds = builder.as_dataset(split=split, shuffle_files=False)
    if max_images:
        ds = ds.take(max_images)
    ds = ds.map(
        lambda ex: (_square_resize(ex[image_key], image_size), {k: ex[k] for k in label_keys}),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    for images, labels in ds.batch(batch_size).as_numpy_iterator():
        yield images, {k: np.asarray(v, np.int32) for k, v in labels.items()}


def load_tfds(name, split="train", image_size=64, data_dir=None, image_key="image",
              label_keys=(), max_images=None, local_hint=FOLDER_HINT):
    """Returns (images uint8 [N, S, S, 3], {label_key: int32 [N]}) for a TFDS split."""
    images, labels = [], {k: [] for k in label_keys}
    for batch, batch_labels in tfds_batches(name, split, image_size, data_dir, image_key, label_keys, max_images,
                                            local_hint):
        images.append(batch)
        for k in label_keys:
            labels[k].append(batch_labels[k])
    return np.concatenate(images), {k: np.concatenate(v).astype(np.int32) for k, v in labels.items()}
