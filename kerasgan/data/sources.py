"""Resolves the CLI's `--dataset` / `--data-dir` pair into in-memory images (and labels)."""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kerasgan.data.folder import load_folder
from kerasgan.data.labels import load_csv_labels, load_subfolder_labels, tfds_label_names
from kerasgan.data.shapes import make_shapes
from kerasgan.data.tfds import load_tfds, tfds_builder
from kerasgan.errors import MissingPath, UserError

# The course layout: <data root>/cat/grumpifyBprocessed (DCGAN) and grumpifyAprocessed.
COURSE_FOLDERS = {"grumpifycat": "cat/grumpifyBprocessed"}
# The procedural datasets: `shapes`, and `shapes-dot` with its small `dot` attribute (#17).
BUILT_IN = ("shapes", "shapes-dot")


@dataclass
class ImageSet:
    name: str
    images: np.ndarray  # uint8 [N, S, S, 3] as loaded; [N, S, S, 1] after with_channels(..., 1)
    labels: dict = field(default_factory=dict)  # {attribute: int32 [N]}
    label_names: dict = field(default_factory=dict)  # {attribute: [class names]}


def course_folder(data_root, relative, dataset):
    """Finds `relative` (e.g. cat/grumpifyBprocessed) under the given data root."""
    if data_root is None:
        raise UserError(f"--dataset {dataset} needs --data-dir: the folder that holds {relative}")
    root = Path(data_root).expanduser()
    for candidate in (root / relative, root / "grumpifyCat" / relative, root):
        if candidate.is_dir() and candidate.name == Path(relative).name:
            return candidate
    raise MissingPath(f"{relative} not found under {root} (--data-dir should hold {relative})")


def load_image_set(dataset, data_dir, image_size, seed=0, num_images=None, with_labels=False,
                   labels_csv=None, label_keys=("label",)):
    """`dataset`: None (a folder at `data_dir`), "shapes", "shapes-dot", "grumpifycat" or a TFDS name.

    `shapes` always carries its `shape` and `color` labels, `shapes-dot` also `dot`. With
    `with_labels` (a model that needs labels), a folder is labelled by its class subfolders
    and a TFDS dataset by its `label_keys`; `labels_csv` labels a folder from a CSV (see kerasgan/data/labels.py).

    `num_images` caps every source: the first N of a TFDS split, N shapes, and for folders
    (plain, labelled or the course layout) N files spread evenly over the sorted listing (or
    the CSV's rows), the same whatever the seed (see kerasgan/data/folder.py: spread).
    """
    if dataset is None and data_dir is None:
        dataset = "shapes"
    if labels_csv and dataset is not None:
        raise UserError("--labels-csv labels a folder of images: give the folder with --data-dir, "
                        f"not --dataset {dataset}")
    if dataset is None:
        folder = Path(data_dir).expanduser()
        if labels_csv:
            return ImageSet(folder.name, *load_csv_labels(folder, labels_csv, image_size, max_images=num_images))
        if with_labels:
            return ImageSet(folder.name, *load_subfolder_labels(folder, image_size, max_images=num_images))
        return ImageSet(folder.name, load_folder(folder, image_size, max_images=num_images))
    if dataset in BUILT_IN:
        from kerasgan.data.shapes import ATTRIBUTES, DOT_ATTRIBUTES

        dot = dataset == "shapes-dot"
        images, labels = make_shapes(num_images or 2048, image_size, seed, dot=dot)
        names = DOT_ATTRIBUTES if dot else ATTRIBUTES
        return ImageSet(dataset, images, labels, {k: list(v) for k, v in names.items()})
    if dataset.lower() in COURSE_FOLDERS:
        if with_labels:
            raise UserError(f"{dataset} has no labels: label a folder with class subfolders or --labels-csv")
        folder = course_folder(data_dir, COURSE_FOLDERS[dataset.lower()], dataset)
        return ImageSet(dataset.lower(), load_folder(folder, image_size, max_images=num_images))
    name = dataset.removeprefix("tfds:")
    keys = tuple(label_keys) if with_labels else ()
    names = tfds_label_names(tfds_builder(name, data_dir), keys) if keys else {}
    images, labels = load_tfds(name, "train", image_size, data_dir, label_keys=keys, max_images=num_images)
    return ImageSet(name.replace("/", "_"), images, labels, names)


def is_greyscale(images):
    """True when every image of uint8 [N, H, W, C] is grey: one channel, or R = G = B everywhere.

    Every source loads images as RGB (greyscale files and TFDS' 1-channel images have their
    grey value repeated), so equal channels are how a greyscale set shows itself.
    """
    images = np.asarray(images)
    if images.shape[-1] == 1:
        return True
    return bool(np.array_equal(images[..., 0], images[..., 1]) and np.array_equal(images[..., 0], images[..., 2]))


def with_channels(images, channels=None):
    """(images uint8 [N, H, W, channels], channels) for `channels` 1, 3 or None (from the data).

    None: 1 when every image is greyscale (MNIST, scans), else 3. Forcing 1 on colour images
    takes their luma (ITU-R 601: 0.299 R + 0.587 G + 0.114 B); forcing 3 on grey ones repeats it.
    """
    images = np.asarray(images)
    if channels is None:
        channels = 1 if is_greyscale(images) else 3
    if channels not in (1, 3):
        raise UserError(f"--channels must be 1 or 3, got {channels}")
    if images.shape[-1] == channels:
        return images, channels
    if channels == 3:
        return np.repeat(images, 3, axis=-1), channels
    if is_greyscale(images):
        return np.ascontiguousarray(images[..., :1]), channels
    luma = images.astype(np.float32) @ np.asarray([0.299, 0.587, 0.114], np.float32)
    return np.clip(np.round(luma), 0, 255).astype(np.uint8)[..., None], channels
