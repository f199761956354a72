"""Compute-or-load the Inception statistics of a real image set, cached as .npz files.

The statistics of the real images are the expensive, fixed half of every FID. They are cached
under a key that hashes everything that changes them: the uint8 image bytes and their shape,
the image size, the extractor's preprocessing and the extractor itself (weights). The real
features are kept too (as float32, to halve the file) because KID needs them.
"""

import hashlib
import json
import os
import re
import tempfile

import numpy as np

from kerasgan.metrics.fid import statistics
from kerasgan.metrics.inception import to_uint8

CACHE_VERSION = 1  # bump when what is stored, or how it is computed, changes


def default_cache_dir():
    """$KERASGAN_CACHE/fid_stats, or ~/.cache/kerasgan/fid_stats."""
    root = os.environ.get("KERASGAN_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "kerasgan"
    )
    return os.path.join(root, "fid_stats")


def content_hash(images_uint8):
    """SHA-256 of the image bytes and shape (two sets with the same bytes but shapes differ)."""
    digest = hashlib.sha256(str(images_uint8.shape).encode())
    digest.update(np.ascontiguousarray(images_uint8).data)
    return digest.hexdigest()


def statistics_key(images_uint8, extractor):
    """The cache key of the real statistics of these images under this extractor."""
    description = {
        "version": CACHE_VERSION,
        "content": content_hash(images_uint8),
        "image_size": list(images_uint8.shape[1:3]),
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


def real_statistics(images, extractor, cache_dir=None, tag=""):
    """Mean, covariance and features of real images, loaded from the cache when possible.

    Args:
        images: uint8 [N, H, W, 3] (or float in [-1, 1], quantised like the extractor does).
        extractor: an `InceptionFeatures` (anything callable on images with `extractor_id`
            and `preprocessing` attributes).
        cache_dir: directory of the .npz files; default `default_cache_dir()`.
        tag: readable prefix of the file name, e.g. "cifar10-train".

    Returns:
        dict with mu (float64 [D]), sigma (float64 [D, D]), features (float32 [N, D]),
        key (the hash in the file name), path and cached (True when loaded from disk).
    """
    images = to_uint8(images)
    key = statistics_key(images, extractor)
    cache_dir = os.path.expanduser(cache_dir or default_cache_dir())
    safe_tag = re.sub(r"[^A-Za-z0-9._-]", "_", tag)
    name = f"{safe_tag}-{key}.npz" if safe_tag else f"{key}.npz"
    path = os.path.join(cache_dir, name)

    stored = _load(path) if os.path.exists(path) else None
    if stored is not None:
        return dict(stored, key=key, path=path, cached=True)

    features = extractor(images).astype(np.float32)
    mu, sigma = statistics(features)
    os.makedirs(cache_dir, exist_ok=True)
    _save_atomically(path, mu=mu, sigma=sigma, features=features)
    return dict(mu=mu, sigma=sigma, features=features, key=key, path=path, cached=False)
