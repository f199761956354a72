"""Where a source's decoded images are kept while training: `--cache auto|memory|disk|none`.

- memory: decoded once when training starts and gathered from one array (no decoding per step);
- disk: decoded once into a raw uint8 file under $KERASGAN_CACHE/images (default
  ~/.cache/kerasgan/images), reused by later runs on the same files, read back by offset;
  for photos much larger than the training size, whose decoding is slower than a step;
- none: decoded from the files as the input pipeline reads them (memory stays flat);
- auto: memory when the decoded images take at most 512 MiB (about 40,000 images at 64 px,
  10,000 at 128 px or 2,700 at 256 px in colour), else none.

Every choice gives the same batches: the cache holds exactly what the source's `read`
returns (unreadable files replaced the same way), so `--cache` may change when a run resumes.
"""

import hashlib
import json
import os
import re
import tempfile
from pathlib import Path

import numpy as np

from kerasgan.data.source import Streamed
from kerasgan.errors import UserError

CACHES = ("auto", "memory", "disk", "none")
MEMORY_LIMIT = 512 * 2**20  # bytes of decoded images that `auto` keeps in memory
DISK_FORMAT = 1  # bump when what a disk cache file holds changes


def decoded_bytes(source):
    return len(source) * source.image_size ** 2 * (source.channels or 3)


def choose(source, cache="auto"):
    """The cache `cache` means for this source: auto resolved by the rule above."""
    if cache not in CACHES:
        raise UserError(f"--cache must be one of {', '.join(CACHES)}, got {cache!r}")
    if source.in_memory is not None:
        return "memory"
    if cache == "auto":
        return "memory" if decoded_bytes(source) <= MEMORY_LIMIT else "none"
    return cache


def cached(source, cache="auto", cache_dir=None):
    """(source to train on, a line saying where its images come from) for `--cache`."""
    chosen = choose(source, cache)
    size = f"{decoded_bytes(source) / 2**20:,.0f} MiB decoded"
    if source.in_memory is not None:
        return source, f"{len(source)} images in memory ({size})"
    if chosen == "memory":
        return source.load_all(), f"{len(source)} images decoded into memory ({size}; --cache memory)"
    if chosen == "disk":
        disk = DiskCache.open_or_build(source, cache_dir)
        return disk, f"{len(source)} images read from the disk cache {disk.path} ({size})"
    return source, f"{len(source)} images decoded from their files as training reads them ({size} if held; --cache none)"


def default_cache_dir():
    """$KERASGAN_CACHE/images, or ~/.cache/kerasgan/images."""
    root = os.environ.get("KERASGAN_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "kerasgan")
    return os.path.join(root, "images")


class DiskCache(Streamed):
    """A source's images decoded once into a raw file: image i is bytes [i * R, (i + 1) * R)."""

    def __init__(self, path, name, count, image_size, channels, labels, label_names):
        self.path, self.name = Path(path), name
        self.count, self.image_size, self.channels = count, image_size, channels
        self.labels, self.label_names = labels, label_names
        self.record = image_size * image_size * channels
        self._fd = None

    @classmethod
    def open_or_build(cls, source, cache_dir=None):
        channels = source.channels or 3
        key = hashlib.sha256(f"{DISK_FORMAT} {source.fingerprint()} {source.image_size} {channels}".encode())
        folder = Path(os.path.expanduser(cache_dir or default_cache_dir()))
        stem = f"{re.sub(r'[^A-Za-z0-9._-]', '_', source.name)}-{key.hexdigest()[:24]}"
        path, index_path = folder / f"{stem}.u8", folder / f"{stem}.json"
        if not index_path.exists():
            folder.mkdir(parents=True, exist_ok=True)
            _build(source, path, index_path)
        used = np.asarray(json.loads(index_path.read_text())["used"], np.int64)
        labels = {k: np.asarray(v)[used] for k, v in source.labels.items()}
        return cls(path, source.name, len(source), source.image_size, channels, labels, dict(source.label_names))

    def __len__(self):
        return self.count

    def decode(self, index):
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDONLY)
        data = os.pread(self._fd, self.record, index * self.record)
        if len(data) != self.record:
            raise UserError(f"the disk cache {self.path} is cut short: delete it and start again")
        return np.frombuffer(data, np.uint8).reshape(self.image_size, self.image_size, self.channels)

    def read(self, index):
        return self.decode(index), index  # replaced files were replaced when the cache was written

    def describe(self, index):
        return f"image {index} of {self.path}"

    def fingerprint(self):
        return self.path.stem


def _build(source, path, index_path, batch=256):
    """Writes the decoded images (then the index, last: its presence marks a finished cache),
    each through a temporary file renamed into place, so a killed run leaves no half cache."""
    used = []
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".u8.tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            for images, indices in source.batches(batch, description=f"disk cache of {source.name}"):
                file.write(np.ascontiguousarray(images).tobytes())
                used.extend(int(i) for i in indices)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".json.tmp")
    with os.fdopen(handle, "w") as file:
        json.dump({"format": DISK_FORMAT, "source": source.name, "used": used}, file)
    os.replace(temporary, index_path)
