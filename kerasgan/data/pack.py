"""Prepared datasets: one zip of images at the training size, written by `kerasgan prepare`.

    kerasgan prepare --data-dir path/to/photos --image-size 128 --out faces128.zip
    train_dcgan.py --data-dir faces128.zip --image-size 128

The zip holds 0000000.png, 0000001.png, ... (stored, not compressed again: PNG and JPEG are
compressed already), each image centre-cropped and resized as training decodes a folder, and
`kerasgan.json`: the image size, the labels and, for every image, where its bytes start in the
zip. Training reads image i with one positioned read, in any order: the per-epoch permutation
and an exact resume need that random access, which TFRecord shards do not give (a record is
found by reading all before it). A zip (as StyleGAN2-ADA's dataset tool writes) opens with
any archive tool, copies as one file, and needs no library beyond Python's; with --format png
(the default) its images are exactly the pixels training on the folder would see.
"""

import io
import json
import os
import struct
import tempfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from kerasgan.data.folder import load_image, spread
from kerasgan.data.source import Streamed
from kerasgan.errors import UserError

INDEX = "kerasgan.json"
FORMATS = {"png": ("PNG", {}), "jpeg": ("JPEG", {"quality": 95})}
_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature, then the name and extra-field lengths


def _encode(image, format):
    kind, options = FORMATS[format]
    buffer = io.BytesIO()
    Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(buffer, kind, **options)
    return buffer.getvalue()


def write_pack(source, out, format="png", log=print):
    """Writes `source` (any source; its unreadable files replaced as training would) to the zip
    `out`, atomically (a temporary file renamed into place); never overwrites a file."""
    batches = ((images, {k: np.asarray(v)[used] for k, v in source.labels.items()})
               for images, used in source.batches(1024, description=f"packing {source.name}"))
    return write_batches(batches, out, source.image_size, source.name, source.label_names, len(source), format, log)


def write_batches(batches, out, image_size, name, label_names, total, format="png", log=print):
    """Writes (uint8 images [B, S, S, C], {attribute: ids [B]}) batches to the zip `out`, atomically."""
    out = Path(out).expanduser()
    if out.exists():
        raise UserError(f"{out} exists: choose another --out (a prepared dataset is never overwritten)")
    if format not in FORMATS:
        raise UserError(f"--format must be one of {', '.join(FORMATS)}, got {format!r}")
    out.parent.mkdir(parents=True, exist_ok=True)
    suffix = "png" if format == "png" else "jpg"
    names, labels = [], {}
    handle, temporary = tempfile.mkstemp(dir=out.parent, suffix=".zip.tmp")
    os.close(handle)
    try:
        with zipfile.ZipFile(temporary, "w", zipfile.ZIP_STORED, allowZip64=True) as archive, \
                ThreadPoolExecutor(4) as pool:
            for images, batch_labels in batches:
                for data in pool.map(lambda image: _encode(image, format), images):
                    names.append(f"{len(names):07d}.{suffix}")
                    archive.writestr(names[-1], data)
                for k, v in batch_labels.items():
                    labels.setdefault(k, []).extend(int(i) for i in v)
                log(f"{len(names)} / {total} images")
            infos = {info.filename: info for info in archive.infolist()}
            index = {"format": 1, "image_size": image_size, "count": len(names), "source": name,
                     "labels": labels, "label_names": label_names,
                     "members": [[infos[n].header_offset, infos[n].file_size] for n in names]}
            archive.writestr(INDEX, json.dumps(index))
        _add_data_offsets(temporary, index)
        os.replace(temporary, out)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
    return out


def _add_data_offsets(path, index):
    """Rewrites kerasgan.json's member offsets from local headers to the images' first bytes,
    read back from the file (a header's length depends on what the zip writer put in it)."""
    with open(path, "rb") as file:
        for member in index["members"]:
            file.seek(member[0])
            signature, name_length, extra_length = _LOCAL_HEADER.unpack(file.read(_LOCAL_HEADER.size))
            if signature != b"PK\x03\x04":
                raise RuntimeError(f"{path}: no zip entry at offset {member[0]}")
            member[0] += _LOCAL_HEADER.size + name_length + extra_length
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("offsets.json", json.dumps([m[0] for m in index["members"]]))


class PackSource(Streamed):
    """The images of a zip written by `write_pack`, decoded (and resized when the training
    size differs from the prepared one) as they are read."""

    def __init__(self, path, image_size, indices, offsets, sizes, prepared_size, labels, label_names):
        self.path, self.name = Path(path), Path(path).stem
        self.image_size, self.prepared_size = image_size, prepared_size
        self.indices, self.offsets, self.sizes = indices, offsets, sizes
        self.labels, self.label_names = labels, label_names
        self._fd = None

    def __len__(self):
        return len(self.indices)

    def encoded(self, index):
        """The stored bytes of image `index` (one positioned read)."""
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDONLY)
        member = self.indices[index]
        return os.pread(self._fd, self.sizes[member], self.offsets[member])

    def decode(self, index):
        return load_image(io.BytesIO(self.encoded(index)), self.image_size)

    def describe(self, index):
        return f"image {self.indices[index]:07d} of {self.path}"

    def fingerprint(self):
        stat = self.path.stat()
        return f"pack {self.path.resolve()} {stat.st_size} {stat.st_mtime_ns} {self.image_size} {len(self)}"


def pack_source(path, image_size, max_images=None, with_labels=False):
    """A PackSource for the zip at `path` (--num-images spreads evenly over its images)."""
    path = Path(path).expanduser()
    try:
        with zipfile.ZipFile(path) as archive:
            index = json.loads(archive.read(INDEX))
            offsets = json.loads(archive.read("offsets.json"))
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as error:
        raise UserError(f"{path} is not a dataset written by `kerasgan prepare` ({error}): give a folder of "
                        "images or prepare one") from None
    labels = {k: np.asarray(v, np.int32) for k, v in index["labels"].items()}
    if with_labels and not labels:
        raise UserError(f"{path} has no labels: prepare it from a folder with class subfolders or --labels-csv")
    indices = spread(range(index["count"]), max_images)
    return PackSource(path, image_size, indices, offsets, [m[1] for m in index["members"]], index["image_size"],
                      {k: v[indices] for k, v in labels.items()} if with_labels else {},
                      index["label_names"] if with_labels else {})


def tfds_pack(name, split, image_size, data_dir=None, label_keys=(), label_names=None, max_images=None,
              cache_dir=None, log=print):
    """A TFDS split too large for memory, written once (its images resized, labels kept) as a zip
    under the image cache (kerasgan/data/cache.py) and streamed from there; a PackSource."""
    from kerasgan.data.cache import default_cache_dir
    from kerasgan.data.tfds import tfds_batches

    keys = "-".join(label_keys) or "nolabels"
    path = Path(cache_dir or default_cache_dir()) / "tfds" / (
        f"{name.replace('/', '_')}-{split}-{image_size}px-{max_images or 'all'}-{keys}.zip")
    if not path.exists():
        log(f"writing {name} ({split}) once as {path}: it is too large to hold decoded in memory")
        write_batches(tfds_batches(name, split, image_size, data_dir, label_keys=label_keys, max_images=max_images),
                      path, image_size, name.replace("/", "_"), label_names or {}, max_images or "all", "png",
                      log=lambda line: None)
    source = pack_source(path, image_size, with_labels=bool(label_keys))
    source.name = name.replace("/", "_")
    return source
