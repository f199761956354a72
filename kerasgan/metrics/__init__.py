"""FID and KID: InceptionV3 features, Fréchet distance, kernel distance, cached real statistics."""

from kerasgan.metrics.fid import (
    FeatureStats,
    fid_and_kid,
    frechet_distance,
    kernel_inception_distance,
    statistics,
)
from kerasgan.metrics.inception import InceptionFeatures, to_uint8
from kerasgan.metrics.stats_cache import default_cache_dir, real_statistics

__all__ = [
    "FeatureStats",
    "InceptionFeatures",
    "default_cache_dir",
    "fid_and_kid",
    "frechet_distance",
    "kernel_inception_distance",
    "real_statistics",
    "statistics",
    "to_uint8",
]
