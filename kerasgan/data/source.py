"""Sources: what the data layer hands on. A source lists its images and labels and decodes one
image when asked; nothing is decoded up front.

    source = load_image_set(None, "path/to/images", 64)   # a FileSource: files listed, none decoded
    len(source), source.labels, source.label_names
    image, used = source.read(7)                           # uint8 [64, 64, C]; `used`: see below
    source[7]                                              # the image alone

Kinds: `ImageSet` (an in-memory uint8 array: the built-in shapes, TFDS splits, a tf.data.Dataset
handed to `fit`, or any source cached in memory), `FileSource` (image files: folders, class
subfolders, label CSVs, the course layouts, CycleGAN's domains) and `PackSource` (a zip written
by `kerasgan prepare`, kerasgan/data/pack.py). The input pipeline (kerasgan/data/pipeline.py),
FID's real statistics and the label judge stream a source; kerasgan/data/cache.py decides
whether its decoded images are kept in memory, on disk or not at all.

A file that cannot be decoded is replaced by the next readable one (index + 1, + 2, ...: the
`used` index, whose labels go with it), so the stream stays a pure function of (seed, step)
whichever cache holds the images; each new unreadable file is counted in a log line.
"""

import hashlib
import os
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from kerasgan.data.folder import load_image
from kerasgan.errors import UserError
from kerasgan.progress import progress_bar

# Files tried in turn (index, index + 1, ...) before a read gives up with an error.
MAX_SUBSTITUTES = 64
# In an error raised inside the input pipeline: training turns the text after it into one line.
UNREADABLE = "kerasgan: unreadable data: "
_CREATING = threading.Lock()


class UnreadableData(UserError):
    """Every file tried for one image failed: the data went away or is not images."""

    def __init__(self, message):
        super().__init__(UNREADABLE + message)


def luma(image):
    """uint8 [..., 3] -> [..., 1]: ITU-R 601 (0.299 R + 0.587 G + 0.114 B), grey images kept as they are."""
    if is_greyscale(image):
        return np.ascontiguousarray(image[..., :1])
    value = image.astype(np.float32) @ np.asarray([0.299, 0.587, 0.114], np.float32)
    return np.clip(np.round(value), 0, 255).astype(np.uint8)[..., None]


class Source:
    """N images of `image_size` px with labels; `decode(i)` gives image i as uint8 [S, S, 3].

    `channels` None or 3 gives RGB; 1 gives one grey channel (see `with_channels`).
    """

    # Subclasses set name, labels ({attribute: int32 [N]}) and label_names ({attribute: [classes]}).
    image_size = None
    channels = None
    in_memory = None  # the decoded uint8 array, when the source holds one

    def __len__(self):
        raise NotImplementedError

    def decode(self, index):
        raise NotImplementedError

    def describe(self, index):
        """Image `index` as a person finds it (a file name), for messages."""
        return f"image {index}"

    def fingerprint(self):
        """A hash that changes when the images would (FID statistics and disk caches are keyed by it)."""
        raise NotImplementedError

    # -- reading, with unreadable files replaced --------------------------------------------
    def _bad_files(self):
        if "_bad" not in self.__dict__:
            with _CREATING:  # decode threads may ask at once
                if "_bad" not in self.__dict__:
                    self._bad_lock, self._bad = threading.Lock(), {}
        return self._bad

    def _note_bad(self, index, error):
        bad = self._bad_files()
        with self._bad_lock:
            if index in bad:
                return
            bad[index] = f"{error}"
            count = len(bad)
        if count & (count - 1) == 0:  # 1, 2, 4, 8, ...: a count in the log, not a line per file
            warnings.warn(f"skipped {count} unreadable image file(s) in {self.where} ({'first' if count == 1 else 'latest'}: "
                          f"{self.describe(index)}: {bad[index]}); each is replaced by the next readable file",
                          stacklevel=2)

    @property
    def where(self):
        """The folder or file the images come from, for messages."""
        return self.name

    @property
    def unreadable(self):
        """{index: error} of the files found unreadable so far."""
        return dict(self._bad_files())

    def read(self, index):
        """(uint8 [S, S, C], used): image `index`, or the first readable after it (`used`)."""
        size = len(self)
        bad = self._bad_files()
        for attempt in range(min(MAX_SUBSTITUTES, size)):
            used = (index + attempt) % size
            if used in bad:
                continue
            try:
                image = self.decode(used)
            except Exception as error:  # Pillow raises many types for truncated or foreign files
                self._note_bad(used, error)
                continue
            return (luma(image) if self.channels == 1 else image), used
        raise UnreadableData(f"none of {min(MAX_SUBSTITUTES, size)} files in a row from {self.describe(index)} "
                             f"could be read (first: {bad.get(index, 'unreadable')}): check that {self.where} "
                             "is still there and holds images")

    def __getitem__(self, index):
        """Image `index` (uint8 [S, S, C]), or a slice of them stacked, as an array would give."""
        if isinstance(index, slice):
            return self.read_many(range(*index.indices(len(self))))[0]
        if not 0 <= index < len(self):
            raise IndexError(f"image {index} of {len(self)}")
        return self.read(int(index))[0]

    @property
    def shape(self):
        """(N, S, S, C), as the decoded array would have."""
        return (len(self), self.image_size, self.image_size, self.channels or 3)

    def read_many(self, indices, threads=None):
        """(uint8 [n, S, S, C], used int64 [n]) for `indices`, decoded by a thread pool (Pillow
        releases the GIL while it decodes)."""
        indices = list(indices)
        with ThreadPoolExecutor(max_workers=threads or 4) as pool:
            results = list(pool.map(self.read, indices))
        if not results:
            return np.zeros((0, self.image_size, self.image_size, self.channels or 3), np.uint8), np.zeros(0, np.int64)
        return np.stack([image for image, _ in results]), np.asarray([used for _, used in results], np.int64)

    def batches(self, batch_size, indices=None, description=None):
        """(images, used) in batches of `batch_size`, in order, over `indices` (default: all);
        with a progress bar named `description` when there is more than one batch."""
        indices = list(range(len(self)) if indices is None else indices)
        bar = progress_bar(len(indices), description, "img", enabled=bool(description) and len(indices) > batch_size)
        for start in range(0, len(indices), batch_size):
            yield self.read_many(indices[start:start + batch_size])
            bar.update(len(indices[start:start + batch_size]))
        bar.close()

    def load_all(self):
        """Every image decoded, as an ImageSet (labels follow replaced files). For small sets."""
        parts = list(self.batches(1024, description=f"decoding {self.name}")) or [self.read_many([])]
        images, used = (np.concatenate([part[i] for part in parts]) for i in (0, 1))
        return ImageSet(self.name, images, {k: np.asarray(v)[used] for k, v in self.labels.items()},
                        dict(self.label_names))



@dataclass
class ImageSet(Source):
    """Images held in memory: uint8 [N, S, S, 3] as loaded; [N, S, S, 1] after with_channels(..., 1)."""

    name: str
    images: np.ndarray
    labels: dict = field(default_factory=dict)  # {attribute: int32 [N]}
    label_names: dict = field(default_factory=dict)  # {attribute: [class names]}

    def __len__(self):
        return len(self.images)

    @property
    def image_size(self):
        return self.images.shape[1]

    @property
    def shape(self):
        return self.images.shape

    def __getitem__(self, index):
        return self.images[index]

    @property
    def in_memory(self):
        return self.images

    def decode(self, index):
        return self.images[index]

    def read(self, index):
        return self.images[index], index

    def read_many(self, indices, threads=None):
        indices = np.asarray(list(indices), np.int64)
        return self.images[indices], indices

    def load_all(self):
        return self

    def fingerprint(self):
        return content_hash(self.images)


class Streamed(Source):
    """A source decoded as it is read (files, a zip, a disk cache)."""

    @property
    def images(self):
        """Every image decoded (uint8 [N, S, S, C]), kept after the first call: for small sets
        and notebooks. The package streams sources and never asks for this."""
        if "_decoded" not in self.__dict__:
            self._decoded = self.load_all().images
        return self._decoded


class FileSource(Streamed):
    """Image files decoded on demand: centre-cropped and resized to `image_size` with Pillow
    (kerasgan/data/folder.py: load_image), the way `load_folder` decodes them."""

    def __init__(self, name, files, image_size, labels=None, label_names=None, where=None):
        self.name = name
        self.files = [str(f) for f in files]  # strings: 200,000 Paths take seconds to make
        self._where = str(where) if where is not None else name
        self.image_size = image_size
        self.labels = labels or {}
        self.label_names = label_names or {}

    def __len__(self):
        return len(self.files)

    def decode(self, index):
        return load_image(self.files[index], self.image_size)

    @property
    def where(self):
        return self._where

    def describe(self, index):
        """The file's path relative to `where` (its folder), else the whole path."""
        path = self.files[index]
        return path[len(self._where) + 1:] if path.startswith(self._where + os.sep) else path

    def fingerprint(self):
        """Paths, sizes and modification times: cheap (no decoding) and changed by any edit."""
        digest = hashlib.sha256(f"files v1 {self.image_size}".encode())
        for path in self.files:
            try:
                stat = os.stat(path)
                digest.update(f"{os.path.realpath(path)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
            except OSError:
                digest.update(f"{path}\0missing\n".encode())
        return digest.hexdigest()



def content_hash(images_uint8):
    """SHA-256 of the image bytes and shape (two sets with the same bytes but shapes differ)."""
    digest = hashlib.sha256(str(images_uint8.shape).encode())
    digest.update(np.ascontiguousarray(images_uint8).data)
    return digest.hexdigest()


def is_greyscale(images):
    """True when every image of uint8 [N, H, W, C] is grey: one channel, or R = G = B everywhere.

    Every source loads images as RGB (greyscale files and TFDS' 1-channel images have their
    grey value repeated), so equal channels are how a greyscale set shows itself.
    """
    images = np.asarray(images)
    if images.shape[-1] == 1:
        return True
    return bool(np.array_equal(images[..., 0], images[..., 1]) and np.array_equal(images[..., 0], images[..., 2]))
