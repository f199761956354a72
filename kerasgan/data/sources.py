"""Resolves the CLI's `--dataset` / `--data-dir` pair into a source (kerasgan/data/source.py).

Folders (plain, labelled by class subfolders or a CSV, the course layouts) and zips written by
`kerasgan prepare` are listed, not decoded; `shapes` and TFDS splits that fit in memory are
ImageSets; a TFDS split too large for memory is written once as a zip and streamed.
"""

from pathlib import Path

import numpy as np

from kerasgan.data.folder import list_image_files, spread
from kerasgan.data.labels import list_csv_labels, list_subfolder_labels, tfds_label_names
from kerasgan.data.shapes import make_shapes
from kerasgan.data.source import (  # noqa: F401  (the names callers import from here)
    UNREADABLE, FileSource, ImageSet, Source, Streamed, UnreadableData, is_greyscale, luma)
from kerasgan.data.tfds import load_tfds, tfds_builder
from kerasgan.errors import MissingPath, UserError

# The course layout: <data root>/cat/grumpifyBprocessed (DCGAN) and grumpifyAprocessed.
COURSE_FOLDERS = {"grumpifycat": "cat/grumpifyBprocessed"}
# The procedural datasets: `shapes`, and `shapes-dot` with its small `dot` attribute (#17).
BUILT_IN = ("shapes", "shapes-dot")
# Images decoded to decide whether a streamed set is greyscale: an even spread over its files.
CHANNEL_SAMPLE = 256


def course_folder(data_root, relative, dataset):
    """Finds `relative` (e.g. cat/grumpifyBprocessed) under the given data root."""
    if data_root is None:
        raise UserError(f"--dataset {dataset} needs --data-dir: the folder that holds {relative}")
    root = Path(data_root).expanduser()
    for candidate in (root / relative, root / "grumpifyCat" / relative, root):
        if candidate.is_dir() and candidate.name == Path(relative).name:
            return candidate
    raise MissingPath(f"{relative} not found under {root} (--data-dir should hold {relative})")


def folder_source(folder, image_size, max_images=None, name=None):
    """The images under `folder` (recursively), listed, not decoded; --num-images spreads evenly."""
    folder = Path(folder).expanduser()
    return FileSource(name or folder.name, spread(list_image_files(folder), max_images), image_size, where=folder)


def load_image_set(dataset, data_dir, image_size, seed=0, num_images=None, with_labels=False,
                   labels_csv=None, label_keys=("label",)):
    """`dataset`: None (a folder, or a zip written by `kerasgan prepare`, at `data_dir`), "shapes",
    "shapes-dot", "grumpifycat" or a TFDS name. Returns a source: folders and zips are listed,
    not decoded; shapes and TFDS splits are ImageSets in memory.

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
        if folder.is_file():
            from kerasgan.data.pack import pack_source

            if labels_csv:
                raise UserError(f"{folder} is a prepared zip: its labels were set by `kerasgan prepare`; "
                                "drop --labels-csv")
            return pack_source(folder, image_size, num_images, with_labels)
        if labels_csv:
            files, labels, names = list_csv_labels(folder, labels_csv, max_images=num_images)
            return FileSource(folder.name, files, image_size, labels, names, where=folder)
        if with_labels:
            files, labels, names = list_subfolder_labels(folder, max_images=num_images)
            return FileSource(folder.name, files, image_size, labels, names, where=folder)
        return folder_source(folder, image_size, num_images)
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
        return folder_source(folder, image_size, num_images, name=dataset.lower())
    name = dataset.removeprefix("tfds:")
    keys = tuple(label_keys) if with_labels else ()
    builder = tfds_builder(name, data_dir)
    names = tfds_label_names(builder, keys) if keys else {}
    if _too_large_for_memory(builder, "train", image_size, num_images):
        from kerasgan.data.pack import tfds_pack

        return tfds_pack(name, "train", image_size, data_dir, keys, names, num_images)
    images, labels = load_tfds(name, "train", image_size, data_dir, label_keys=keys, max_images=num_images)
    return ImageSet(name.replace("/", "_"), images, labels, names)


def _too_large_for_memory(builder, split, image_size, max_images):
    """Whether a TFDS split's decoded images would take more than --cache auto holds in memory."""
    from kerasgan.data import cache

    splits = getattr(getattr(builder, "info", None), "splits", {})
    if split not in splits:
        return False
    count = min(splits[split].num_examples, max_images or np.iinfo(np.int64).max)
    return count * image_size * image_size * 3 > cache.MEMORY_LIMIT


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
    return luma(images), channels


def source_with_channels(source, channels=None):
    """(source, channels): `with_channels` for any source.

    An ImageSet is converted as a whole (every image looked at). A streamed source (files, a
    zip) is greyscale when every image of an even sample of CHANNEL_SAMPLE (256) files is (all
    of them in a smaller set): the choice is recorded in the run's config.json, and --channels
    overrides it. Its images are converted one by one as they are read: forced to 1 channel, a
    colour image becomes its luma, a grey one keeps its value, as `with_channels` does.
    """
    if isinstance(source, ImageSet):
        source.images, channels = with_channels(source.images, channels)
        return source, channels
    if channels is None:
        sample, _ = source.read_many(spread(range(len(source)), CHANNEL_SAMPLE))
        channels = 1 if is_greyscale(sample) else 3
    if channels not in (1, 3):
        raise UserError(f"--channels must be 1 or 3, got {channels}")
    source.channels = channels
    return source, channels
