"""Unpaired two-domain image sets for CycleGAN, and their zipped training stream.

Sources (kerasgan/data/sources.py): folders are listed and streamed, TFDS splits and shapes
are held in memory:
- two folders (`--x-dir`, `--y-dir`);
- the course layout: `--X cat/grumpifyAprocessed --Y cat/grumpifyBprocessed` under the data
  root `--data-dir` (`--dataset grumpifycat` fills both in);
- TensorFlow Datasets' `cycle_gan/<config>` (trainA/trainB, testA/testB), e.g. apple2orange;
- the built-in `shapes` dataset, red shapes <-> blue shapes (the default).
A few fixed images per domain are kept apart for sample grids: the test splits for TFDS and
shapes, the first images of each folder otherwise. `num_images` caps each domain: the first
N of a TFDS split, N shapes, or N files of a folder spread evenly over its sorted listing
(kerasgan/data/folder.py: spread).
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kerasgan.data.shapes import make_shape_domains
from kerasgan.data.sources import ImageSet, course_folder, folder_source
from kerasgan.data.tfds import load_tfds
from kerasgan.errors import UserError

# TFDS cycle_gan configs; `--dataset apple2orange` means `cycle_gan/apple2orange`.
TFDS_CONFIGS = ("apple2orange", "summer2winter_yosemite", "horse2zebra", "monet2photo", "cezanne2photo",
                "ukiyoe2photo", "vangogh2photo", "maps", "facades", "iphone2dslr_flower")
# The course's two folders under its data root.
COURSE_DOMAINS = {"grumpifycat": ("cat/grumpifyAprocessed", "cat/grumpifyBprocessed")}
OFFLINE_HINT = "or train on two local folders of images with --x-dir X_FOLDER --y-dir Y_FOLDER"


@dataclass
class DomainPair:
    name: str
    x: object  # a source of Nx images [S, S, 3], training images of domain X
    y: object  # a source of Ny images
    x_test: np.ndarray  # uint8 [k, S, S, 3], fixed images for sample grids
    y_test: np.ndarray

    @property
    def epoch_size(self):
        """Images per epoch: the larger domain's count, as in the reference code."""
        return max(len(self.x), len(self.y))


def _folder(path, flag):
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise UserError(f"{flag}: no such folder: {folder}")
    return folder


def _from_folders(x_dir, y_dir, image_size, num_test, name=None, num_images=None):
    x = folder_source(x_dir, image_size, max_images=num_images)
    y = folder_source(y_dir, image_size, max_images=num_images)
    name = name or f"{Path(x_dir).name}2{Path(y_dir).name}"
    return DomainPair(name, x, y, *(d.read_many(range(min(num_test, len(d))))[0] for d in (x, y)))


def _from_course_layout(dataset, data_dir, x_rel, y_rel, image_size, num_test, num_images=None):
    """The course's --X/--Y folders under the data root --data-dir."""
    if data_dir is None:
        flags = f"--dataset {dataset}" if dataset else "--X/--Y"
        raise UserError(f"{flags} needs --data-dir: the data root that holds {x_rel} and {y_rel}")
    x_folder = course_folder(data_dir, x_rel, dataset or "--X")
    y_folder = course_folder(data_dir, y_rel, dataset or "--Y")
    return _from_folders(x_folder, y_folder, image_size, num_test, name=dataset and dataset.lower(),
                         num_images=num_images)


def tfds_name(dataset):
    """"apple2orange" or "cycle_gan/apple2orange" -> "cycle_gan/apple2orange" (else None)."""
    config = dataset.removeprefix("tfds:").removeprefix("cycle_gan/")
    return f"cycle_gan/{config}" if config in TFDS_CONFIGS else None


def _from_tfds(name, data_dir, image_size, num_images, num_test):
    def split(which, limit):
        images, _ = load_tfds(name, which, image_size, data_dir, max_images=limit, local_hint=OFFLINE_HINT)
        return images

    short = name.split("/")[-1]
    return DomainPair(short, ImageSet(f"{short}_A", split("trainA", num_images)),
                      ImageSet(f"{short}_B", split("trainB", num_images)), split("testA", num_test),
                      split("testB", num_test))


def _from_shapes(image_size, seed, num_images, num_test):
    x, y = make_shape_domains(num_images or 1024, image_size, seed)
    x_test, y_test = make_shape_domains(num_test, image_size, seed + 1000)
    return DomainPair("shapes", ImageSet("shapes_red", x), ImageSet("shapes_blue", y), x_test, y_test)


def load_domains(dataset=None, x_dir=None, y_dir=None, data_dir=None, x_rel=None, y_rel=None,
                 image_size=64, seed=0, num_images=None, num_test=8):
    """Resolves the CLI's data flags into a DomainPair (see the module docstring)."""
    if (x_dir is None) != (y_dir is None):
        raise UserError("give both --x-dir and --y-dir (one folder of images per domain)")
    if (x_rel is None) != (y_rel is None):
        raise UserError("give both --X and --Y (folders under --data-dir)")
    if x_dir is not None:
        if dataset is not None or x_rel is not None:
            raise UserError("give either --x-dir/--y-dir or --dataset / --X/--Y, not both")
        return _from_folders(_folder(x_dir, "--x-dir"), _folder(y_dir, "--y-dir"), image_size, num_test,
                             num_images=num_images)
    if x_rel is None and dataset is not None and dataset.lower() in COURSE_DOMAINS:
        x_rel, y_rel = COURSE_DOMAINS[dataset.lower()]
    if x_rel is not None:
        return _from_course_layout(dataset, data_dir, x_rel, y_rel, image_size, num_test, num_images)
    if dataset is None and data_dir is not None:
        raise UserError("--data-dir alone names no domains: add --X and --Y (folders under it), "
                        "or use --x-dir/--y-dir")
    if dataset is None or dataset == "shapes":
        return _from_shapes(image_size, seed, num_images, num_test)
    name = tfds_name(dataset)
    if name is None:
        raise UserError(f"unknown two-domain dataset {dataset!r}: use shapes, grumpifycat, one of "
                        f"{', '.join(TFDS_CONFIGS)}, or --x-dir/--y-dir")
    return _from_tfds(name, data_dir, image_size, num_images, num_test)


def make_pair_dataset(pair, image_size, batch_size, preprocess="basic", seed=0, start_step=0, load_size=None,
                      shard=None):
    """Infinite (x, y) batches, each float32 [B, S, S, 3] in [-1, 1], from step `start_step`.

    Two independent deterministic streams (seeds `seed` and `seed + 1`) zipped, so resuming
    at step N yields exactly the pairs an uninterrupted run would have seen. `shard`: see
    kerasgan/data/pipeline.py: make_dataset.
    """
    import tensorflow as tf

    from kerasgan.data.pipeline import make_dataset

    xs = make_dataset(pair.x, image_size, batch_size, preprocess, seed, start_step, load_size=load_size, shard=shard)
    ys = make_dataset(pair.y, image_size, batch_size, preprocess, seed + 1, start_step, load_size=load_size,
                      shard=shard)
    return tf.data.Dataset.zip(xs, ys)
