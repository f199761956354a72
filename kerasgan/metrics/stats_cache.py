"""Compute-or-load the Inception statistics of a real image set, cached as .npz files.

The statistics of the real images are the expensive, fixed half of every FID. They are cached
under a key that hashes everything that changes them: the uint8 image bytes and their shape
(for a streamed source, its fingerprint: the files' paths, sizes and modification times), the
image size, the extractor's preprocessing and the extractor itself (weights). The real
features are kept too (as float32, to halve the file) because KID needs them.

A streamed source (image files, a prepared zip) is read batch by batch: its images are never
all decoded at once, only their features (2048 floats an image) are kept.
"""

import hashlib
import json
import os
import re
import tempfile

import numpy as np

from kerasgan.data.source import Source, content_hash  # noqa: F401  (content_hash: also this module's API)
from kerasgan.metrics.fid import statistics
from kerasgan.metrics.inception import to_uint8

CACHE_VERSION = 1  # bump when what is stored, or how it is computed, changes


def default_cache_dir():
    """$KERASGAN_CACHE/fid_stats, or ~/.cache/kerasgan/fid_stats."""
    root = os.environ.get("KERASGAN_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "kerasgan"
    )
    return os.path.join(root, "fid_stats")


def _streamed(images):
    """The source when `images` is a source that is not in memory, else None."""
    return images if isinstance(images, Source) and images.in_memory is None else None


def statistics_key(images_uint8, extractor):
    """The cache key of the real statistics of these images (an array or a streamed source)
    under this extractor."""
    source = _streamed(images_uint8)
    if source is not None:
        content = "source " + source.fingerprint() + f" channels {source.channels or 3}"
        shape = [source.image_size, source.image_size]
    else:
        content, shape = content_hash(images_uint8), list(images_uint8.shape[1:3])
    description = {
        "version": CACHE_VERSION,
        "content": content,
        "image_size": shape,
        "preprocessing": extractor.preprocessing,
        "extractor": extractor.extractor_id,
    }
    return hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()[:32]


def _save_atomically(path, **arrays):
    # Write a temporary file in the same directory and rename it, so a crash or a concurrent
    # run never leaves a half-written cache file behind.
    directory = os.path.dirname(path)
    handle, temporary = tempfile.mkstemp(dir=directory, suffix=".npz.tmp")
    try:
        with os.fdopen(handle, "wb") as f:
            np.savez(f, **arrays)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def _load(path):
    try:
        with np.load(path) as data:
            return {name: data[name] for name in ("mu", "sigma", "features")}
    except (OSError, ValueError, KeyError):
        return None  # unreadable or from an older layout: recompute and overwrite


def source_features(source, extractor, transform=None, batch_size=500):
    """Features [N, D] (float32) of a source's images, read `batch_size` at a time; with
    `transform`, of transform(images) (e.g. a translator's output)."""
    parts = []
    for images, _ in source.batches(batch_size, description="real images' features"):
        parts.append(np.asarray(extractor(images if transform is None else transform(images)), np.float32))
    return np.concatenate(parts)


def real_statistics(images, extractor, cache_dir=None, tag=""):
    """Mean, covariance and features of real images, loaded from the cache when possible.

    Args:
        images: uint8 [N, H, W, 3] (or float in [-1, 1], quantised like the extractor does),
            or a source (kerasgan/data/sources.py), streamed when it is not in memory.
        extractor: an `InceptionFeatures` (anything callable on images with `extractor_id`
            and `preprocessing` attributes).
        cache_dir: directory of the .npz files; default `default_cache_dir()`.
        tag: readable prefix of the file name, e.g. "cifar10-train".

    Returns:
        dict with mu (float64 [D]), sigma (float64 [D, D]), features (float32 [N, D]),
        key (the hash in the file name), path and cached (True when loaded from disk).
    """
    source = _streamed(images)
    if source is None:
        images = to_uint8(getattr(images, "in_memory", images))
    key = statistics_key(images, extractor)
    cache_dir = os.path.expanduser(cache_dir or default_cache_dir())
    safe_tag = re.sub(r"[^A-Za-z0-9._-]", "_", tag)
    name = f"{safe_tag}-{key}.npz" if safe_tag else f"{key}.npz"
    path = os.path.join(cache_dir, name)

    stored = _load(path) if os.path.exists(path) else None
    if stored is not None:
        return dict(stored, key=key, path=path, cached=True)

    features = extractor(images).astype(np.float32) if source is None else source_features(source, extractor)
    mu, sigma = statistics(features)
    os.makedirs(cache_dir, exist_ok=True)
    _save_atomically(path, mu=mu, sigma=sigma, features=features)
    return dict(mu=mu, sigma=sigma, features=features, key=key, path=path, cached=False)
