"""Image helpers at the edges of the model: [-1, 1] floats <-> uint8, grids, PNG and GIF, and
the judges' input (resize, Gaussian blur)."""

import math
import os
from pathlib import Path

import numpy as np
from PIL import Image


def to_uint8(images):
    """float [-1, 1] -> uint8 [0, 255], rounding to nearest."""
    images = np.asarray(images, dtype=np.float32)
    return np.clip(np.round((images + 1.0) * 127.5), 0, 255).astype(np.uint8)


def to_rgb(images):
    """uint8 [..., 1] greyscale -> [..., 3] (grey repeated); 3-channel images unchanged."""
    images = np.asarray(images)
    return np.repeat(images, 3, axis=-1) if images.shape[-1] == 1 else images


def make_grid(images, columns=None, padding=2):
    """uint8 [N, H, W, 3] (or greyscale [N, H, W, 1]) -> one uint8 RGB image with the N tiles in
    rows of `columns`."""
    images = to_rgb(images)
    count, height, width, channels = images.shape
    columns = columns or math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    grid = np.full(
        (rows * (height + padding) + padding, columns * (width + padding) + padding, channels),
        255, np.uint8,
    )
    for i, image in enumerate(images):
        top = padding + (i // columns) * (height + padding)
        left = padding + (i % columns) * (width + padding)
        grid[top:top + height, left:left + width] = image
    return grid


# The file endings images are written as (the format follows the ending).
IMAGE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".bmp": "BMP"}


def save_png(image, path):
    """Writes uint8 [H, W, 3] (or [H, W, 1]) as `path`, a PNG unless its ending names another
    format, atomically: a kill mid-write never leaves a half-written file under the name."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]  # greyscale PNG
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    Image.fromarray(image).save(tmp, format=IMAGE_FORMATS.get(path.suffix.lower(), "PNG"))
    os.replace(tmp, path)
    return path


def save_gif(frames, path, duration_ms=80):
    """Writes uint8 [T, H, W, 3] (or [T, H, W, 1]) frames as a looping GIF."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pictures = [Image.fromarray(frame) for frame in to_rgb(frames)]
    pictures[0].save(path, save_all=True, append_images=pictures[1:], duration=duration_ms, loop=0)
    return path


def lerp(a, b, t):
    """Linear interpolation between noise vectors (stays inside a uniform prior's cube)."""
    return (1 - t) * a + t * b


def slerp(a, b, t):
    """Spherical interpolation between noise vectors (stays on the Gaussian shell)."""
    a_unit = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b_unit = b / np.linalg.norm(b, axis=-1, keepdims=True)
    omega = np.arccos(np.clip(np.sum(a_unit * b_unit, axis=-1, keepdims=True), -1.0, 1.0))
    sin = np.sin(omega)
    safe = np.where(sin < 1e-6, 1.0, sin)
    mixed = (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / safe
    return np.where(sin < 1e-6, (1 - t) * a + t * b, mixed)


def to_classifier_input(images, size):
    """uint8 [0, 255] or float [-1, 1] images [N, H, W, C] -> float32 in [0, 255] at size x size
    (area averaging), what the judges (data/shapes_judge, metrics/label_accuracy) read."""
    images = np.asarray(images)
    if images.dtype != np.uint8:
        images = (np.clip(images.astype(np.float32), -1.0, 1.0) + 1.0) * 127.5
    images = images.astype(np.float32)
    if images.shape[1] != size:
        import tensorflow as tf

        images = tf.image.resize(images, (size, size), method="area").numpy()
    return images


def _gaussian_kernel(sigma):
    radius = max(1, int(np.ceil(2.5 * sigma)))
    x = np.arange(-radius, radius + 1, dtype=np.float32)
    kernel = np.exp(-0.5 * (x / sigma) ** 2)
    return kernel / kernel.sum()


def blur(images, sigma):
    """Separable Gaussian blur of float images [N, S, S, C] (edges reflected)."""
    kernel = _gaussian_kernel(sigma)
    radius = len(kernel) // 2
    out = images.astype(np.float32)
    for axis in (1, 2):
        pad = [(0, 0)] * 4
        pad[axis] = (radius, radius)
        padded = np.pad(out, pad, mode="reflect")
        size = out.shape[axis]
        out = sum(w * np.take(padded, np.arange(i, i + size), axis=axis) for i, w in enumerate(kernel))
    return out
