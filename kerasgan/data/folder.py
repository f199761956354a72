"""Image folders: any PIL-readable png/jpg/bmp/webp in any mode.

Training lists a folder's files and decodes them as the input pipeline reads them
(kerasgan/data/sources.py: FileSource); `load_folder` decodes a whole folder into memory.

Images are decoded with Pillow rather than `tf.io.decode_image` so that palette, RGBA,
16-bit (greyscale included, scaled to 8 bits) and grayscale files all become RGB, and so
that every source gives the same pixels: TensorFlow's JPEG decoder differs from Pillow's by
up to 6 levels, and measured on 2 cores both decoded about 1,000 64-128 px JPEGs/s under a
parallel tf.data map (benchmarks/bench_data.py).
"""

import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from kerasgan.errors import MissingPath, UserError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif")  # a GIF: its first frame


def list_images(folder):
    """All image files below `folder`, recursively, in a stable (sorted) order, as Paths."""
    folder = Path(folder).expanduser()
    return [folder / relative for relative in list_image_files(folder, relative=True)]


def list_image_files(folder, relative=False):
    """`list_images` as strings (full paths, or relative to `folder`): 200,000 files list in
    about a second, where making as many Path objects takes several."""
    folder = Path(folder).expanduser()
    if not folder.exists():
        raise MissingPath(f"image folder not found: {folder} (check --data-dir)")
    if not folder.is_dir():
        raise UserError(f"not a folder: {folder} (--data-dir must name a folder of images)")
    files = list(_walk(str(folder), ""))
    if not files:
        raise UserError(
            f"no images in {folder}: expected {', '.join(IMAGE_EXTENSIONS)} files (searched recursively)"
        )
    return files if relative else [os.path.join(folder, name) for name in files]


def _walk(root, relative):
    """Image files under root/relative as relative paths, in the order sorted Paths have (each
    folder's entries by name, a subfolder's files where its name sorts); like Path.rglob (no
    symlinked folders entered, hidden files skipped) but with os.scandir, which needs no stat
    per file."""
    with os.scandir(os.path.join(root, relative)) as scan:
        entries = sorted(scan, key=lambda entry: entry.name)
    prefix = relative + os.sep if relative else ""
    for entry in entries:
        name = entry.name
        if name.lower().endswith(IMAGE_EXTENSIONS) and not name.startswith(".") and entry.is_file():
            yield prefix + name
        elif entry.is_dir() and not entry.is_symlink():
            yield from _walk(root, prefix + name)


def spread(items, limit):
    """At most `limit` of `items` (all when `limit` is None), spread evenly over the list.

    `--num-images N` on a folder: item i * len // N for i < N, so the subset is the same on
    every run (whatever --seed), starts at the first item, and samples every part of a sorted
    listing (each class subfolder, each stretch of a CSV) rather than only its first files.
    """
    items = list(items)
    if limit is None or limit >= len(items):
        return items
    if limit < 1:
        raise UserError(f"--num-images must be at least 1, got {limit}")
    return [items[i * len(items) // limit] for i in range(limit)]


def _is_wide_grey(mode):
    """16-bit (I;16, I;16B, I;16L, ...) or 32-bit integer (I) greyscale."""
    return mode == "I" or mode.startswith("I;16")


def _rgb(image):
    """Any PIL image as RGB; transparent pixels become white, not whatever colour they hold.

    16-bit greyscale is scaled to 8 bits (round(v / 257): 65535 -> 255, 32768 -> 128):
    Pillow's own conversion clips it, so that every value above 255 becomes white. Mode I
    (how some Pillows open 16-bit PNGs) is read as 16-bit too, values clipped to 0..65535.
    """
    if _is_wide_grey(image.mode):
        wide = np.clip(np.asarray(image).astype(np.int64), 0, 65535)
        image = Image.fromarray(((wide * 2 + 257) // 514).astype(np.uint8), "L")
    if image.mode in ("RGBA", "LA", "P"):
        image = image.convert("RGBA")
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image)
    return image if image.mode == "RGB" else image.convert("RGB")


def read_rgb(path):
    """One file at its own size as uint8 [H, W, 3] (no crop, no resize)."""
    with Image.open(path) as image:
        return np.asarray(_rgb(image), dtype=np.uint8)


def load_image(path, size):
    """One file (a path or a binary file object) as uint8 [size, size, 3]: centre-cropped to a
    square, then resized (Lanczos)."""
    with Image.open(path) as image:
        image = _rgb(image)
        width, height = image.size
        side = min(width, height)
        if width != height:
            left, top = (width - side) // 2, (height - side) // 2
            image = image.crop((left, top, left + side, top + side))
        if side != size:
            image = image.resize((size, size), Image.LANCZOS)
        return np.asarray(image, dtype=np.uint8)


def _try_load(path, size):
    try:
        return load_image(path, size), None
    except Exception as error:  # Pillow raises many types for truncated or foreign files
        return None, f"{path.name}: {error}"


def load_files(files, size, where):
    """Loads image files as uint8 [N, size, size, 3]; returns (images, the paths loaded).

    Unreadable files are skipped and counted in a single warning; none readable is an error.
    `where` names the source (a folder, a CSV) in those messages.
    """
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        results = list(pool.map(lambda p: _try_load(p, size), files))
    images = [image for image, _ in results if image is not None]
    errors = [error for _, error in results if error is not None]
    if errors:
        warnings.warn(
            f"skipped {len(errors)} unreadable image file(s) in {where} (first: {errors[0]})",
            stacklevel=3,
        )
    if not images:
        raise UserError(f"none of the {len(files)} image files in {where} could be read")
    return np.stack(images), [p for p, (image, _) in zip(files, results) if image is not None]


def load_folder(folder, size, return_paths=False, max_images=None):
    """Loads every readable image under `folder` as uint8 [N, size, size, 3].

    With `max_images` (--num-images), only that many files are read: an even spread over
    the sorted listing (see `spread`). Unreadable files are skipped and counted in a single
    warning (so a few may be missing from the cap); a folder with no readable image is an
    error. With `return_paths`, also returns the paths of the loaded images.
    """
    images, paths = load_files(spread(list_images(folder), max_images), size, folder)
    return (images, paths) if return_paths else images
