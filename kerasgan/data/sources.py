"""Resolves the CLI's `--dataset` / `--data-dir` pair into an in-memory image array."""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kerasgan.data.folder import load_folder
from kerasgan.data.shapes import make_shapes
from kerasgan.data.tfds import load_tfds
from kerasgan.errors import UserError

# The course layout: <data root>/cat/grumpifyBprocessed (DCGAN) and grumpifyAprocessed.
COURSE_FOLDERS = {"grumpifycat": "cat/grumpifyBprocessed"}


@dataclass
class ImageSet:
    name: str
    images: np.ndarray  # uint8 [N, S, S, 3]
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
    raise UserError(f"{relative} not found under {root} (--data-dir should hold {relative})")


def load_image_set(dataset, data_dir, image_size, seed=0, num_images=None):
    """`dataset`: None (a folder at `data_dir`), "shapes", "grumpifycat" or a TFDS name."""
    if dataset is None and data_dir is None:
        dataset = "shapes"
    if dataset is None:
        folder = Path(data_dir).expanduser()
        return ImageSet(folder.name, load_folder(folder, image_size))
    if dataset == "shapes":
        from kerasgan.data.shapes import ATTRIBUTES

        images, labels = make_shapes(num_images or 2048, image_size, seed)
        return ImageSet("shapes", images, labels, {k: list(v) for k, v in ATTRIBUTES.items()})
    if dataset.lower() in COURSE_FOLDERS:
        folder = course_folder(data_dir, COURSE_FOLDERS[dataset.lower()], dataset)
        return ImageSet(dataset.lower(), load_folder(folder, image_size))
    name = dataset.removeprefix("tfds:")
    images, _ = load_tfds(name, "train", image_size, data_dir, max_images=num_images)
    return ImageSet(name.replace("/", "_"), images)
