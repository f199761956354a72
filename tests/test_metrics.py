import kerasgan  # noqa: F401  (sets TF environment variables first)

import copy
import os
import time
import urllib.error
import warnings

import keras
import numpy as np
import pytest

from kerasgan.errors import UserError
from kerasgan.metrics import (
    FeatureStats,
    InceptionFeatures,
    frechet_distance,
    kernel_inception_distance,
    real_statistics,
    statistics,
)
from kerasgan.metrics import inception
from kerasgan.metrics.fid import trace_sqrt_product


def random_spd(rng, dim):
    """A well-conditioned symmetric positive definite matrix."""
    a = rng.standard_normal((dim, dim))
    return a @ a.T / dim + 0.5 * np.eye(dim)


# ---------------------------------------------------------------- Fréchet distance


def test_frechet_identical_statistics_is_zero():
    rng = np.random.default_rng(0)
    mu, sigma = rng.standard_normal(6), random_spd(rng, 6)
    assert frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0.0, abs=1e-9)


def test_frechet_shifted_means_equal_covariance_is_squared_distance():
    rng = np.random.default_rng(1)
    mu1, mu2, sigma = rng.standard_normal(5), rng.standard_normal(5), random_spd(rng, 5)
    expected = np.sum((mu1 - mu2) ** 2)
    assert frechet_distance(mu1, sigma, mu2, sigma) == pytest.approx(expected, rel=1e-9)


def test_frechet_diagonal_covariances_closed_form():
    a, b = np.array([1.0, 4.0, 0.25, 9.0]), np.array([4.0, 1.0, 1.0, 0.0])
    mu1, mu2 = np.array([0.0, 1.0, 2.0, 3.0]), np.array([1.0, 1.0, 0.0, 3.0])
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected)
    assert expected == pytest.approx(5.0 + 1 + 1 + 0.25 + 9)  # the numbers, spelled out


def test_trace_sqrt_product_two_by_two_closed_form():
    # For a 2x2 matrix M with eigenvalues l1, l2 >= 0: tr sqrt(M) = sqrt(tr M + 2 sqrt(det M)).
    rng = np.random.default_rng(2)
    for _ in range(5):
        s1, s2 = random_spd(rng, 2), random_spd(rng, 2)
        product = s1 @ s2
        expected = np.sqrt(np.trace(product) + 2 * np.sqrt(np.linalg.det(product)))
        assert trace_sqrt_product(s1, s2) == pytest.approx(expected, rel=1e-10)


def test_frechet_matches_scipy_sqrtm():
    linalg = pytest.importorskip("scipy.linalg", reason="scipy is not installed")
    rng = np.random.default_rng(3)
    for dim in (3, 16, 64):
        mu1, mu2 = rng.standard_normal(dim), rng.standard_normal(dim)
        s1, s2 = random_spd(rng, dim), random_spd(rng, dim)
        covmean = np.real(linalg.sqrtm(s1 @ s2))
        expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * covmean)
        assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-8)


def test_statistics_match_numpy_and_batches_match_one_pass():
    rng = np.random.default_rng(4)
    features = rng.standard_normal((300, 7)) * 3.0 + 100.0  # large mean: tests cancellation
    mu, sigma = statistics(features)
    np.testing.assert_allclose(mu, features.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(sigma, np.cov(features, rowvar=False), rtol=1e-9)

    stats = FeatureStats()
    for batch in np.array_split(features, [1, 50, 51, 200]):
        stats.update(batch)
    batched_mu, batched_sigma = stats.mean_and_covariance()
    np.testing.assert_allclose(batched_mu, mu, rtol=1e-12)
    np.testing.assert_allclose(batched_sigma, sigma, rtol=1e-9)
    assert stats.count == 300


def test_rank_deficient_covariance_warns():
    rng = np.random.default_rng(5)
    with pytest.warns(UserWarning, match="rank-deficient"):
        statistics(rng.standard_normal((5, 8)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        statistics(rng.standard_normal((9, 8)))  # enough samples: no warning


# ---------------------------------------------------------------- KID


def brute_force_mmd2(x, y):
    """Unbiased MMD^2 with k(a, b) = (a.b/d + 1)^3, written as explicit sums over pairs."""
    d, m = x.shape[1], len(x)
    k = lambda a, b: (a @ b / d + 1.0) ** 3  # noqa: E731
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    return xx + yy - 2 * xy


def test_kid_whole_sample_matches_brute_force():
    rng = np.random.default_rng(6)
    x, y = rng.standard_normal((12, 4)), rng.standard_normal((12, 4)) + 0.3
    # subset_size is capped at 12: every subset is a permutation of the whole sample.
    mean, std = kernel_inception_distance(x, y, num_subsets=3, subset_size=1000)
    assert mean == pytest.approx(brute_force_mmd2(x, y), rel=1e-10)
    assert std == pytest.approx(0.0, abs=1e-12)


def test_kid_same_distribution_near_zero_shifted_positive():
    rng = np.random.default_rng(7)
    x, y = rng.standard_normal((400, 16)), rng.standard_normal((400, 16))
    mean, std = kernel_inception_distance(x, y, num_subsets=20, subset_size=200)
    assert abs(mean) < 3 * std

    shifted_mean, shifted_std = kernel_inception_distance(
        x, y + 0.5, num_subsets=20, subset_size=200
    )
    assert shifted_mean > 10 * shifted_std > 0
    assert shifted_mean > 100 * abs(mean)


def test_kid_is_reproducible_for_a_seed():
    rng = np.random.default_rng(8)
    x, y = rng.standard_normal((50, 4)), rng.standard_normal((60, 4))
    first = kernel_inception_distance(x, y, num_subsets=5, subset_size=20, seed=3)
    assert kernel_inception_distance(x, y, num_subsets=5, subset_size=20, seed=3) == first


# ---------------------------------------------------------------- Inception features


@pytest.fixture(scope="module")
def extractor():
    return InceptionFeatures(weights=None, batch_size=2)


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(9).integers(0, 256, (5, 16, 16, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def features(extractor, images):
    return extractor(images)


def test_features_shape_and_id(extractor, features):
    assert features.shape == (5, 2048) and features.dtype == np.float32
    assert np.all(np.isfinite(features)) and features.std() > 0.1  # not a collapsed network
    assert extractor.extractor_id == "inception_v3-random-seed0"


def test_features_deterministic_and_batch_size_independent(images, features):
    other = InceptionFeatures(weights=None, batch_size=2)  # a second, separately built network
    np.testing.assert_array_equal(other(images), features)
    other.batch_size = 3
    np.testing.assert_allclose(other(images), features, atol=1e-4)


def test_float_and_uint8_inputs_give_same_features(extractor, images, features):
    as_float = images.astype(np.float32) / 127.5 - 1.0
    np.testing.assert_array_equal(extractor(as_float), features)


def test_xla_failure_falls_back_to_graph_mode(extractor, images, features):
    xla = copy.copy(extractor)
    xla.jit_compile = True

    def failing_compile(pixels):
        raise RuntimeError("XLA compilation failed")

    xla._forward = failing_compile
    with pytest.warns(UserWarning, match="XLA could not compile"):
        np.testing.assert_array_equal(xla(images), features)
    assert not xla.jit_compile


def test_float_images_are_quantised_like_saved_samples():
    x = np.array([-1.0, -0.999, 0.0, 0.5, 1.0, 1.2], np.float32).reshape(1, 1, 6, 1)
    quantised = inception.to_uint8(x)
    assert quantised.shape == (1, 1, 6, 3)  # gray is repeated to RGB
    np.testing.assert_array_equal(quantised[0, 0, :, 0], [0, 0, 128, 191, 255, 255])
    with pytest.raises(UserError, match=r"\[-1, 1\]"):
        inception.to_uint8(x * 255)


def test_resize_is_antialiased_and_scaled_to_unit_range():
    # A one-pixel checkerboard at 3x the Inception size: an aliased resize keeps the pattern,
    # an antialiased one averages it to mid-grey.
    size = 3 * inception.INCEPTION_SIZE
    checker = ((np.arange(size)[:, None] + np.arange(size)[None, :]) % 2 * 255).astype(np.uint8)
    checker = np.repeat(checker[None, :, :, None], 3, axis=-1)
    pixels = InceptionFeatures._preprocess(checker).numpy()
    assert pixels.shape == (1, 299, 299, 3)
    assert np.abs(pixels[:, 2:-2, 2:-2]).max() < 0.4  # aliased would be +-1

    white = InceptionFeatures._preprocess(np.full((1, 299, 299, 3), 255, np.uint8)).numpy()
    np.testing.assert_allclose(white, 1.0)


# Keras's save_weights trips a NumPy 2 deprecation warning once per variable.
@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
def test_weights_from_local_file(extractor, images, features, tmp_path):
    path = str(tmp_path / "inception.weights.h5")
    extractor.model.save_weights(path)
    loaded = InceptionFeatures(weights=path, batch_size=2)
    assert loaded.extractor_id.startswith("inception_v3-md5-")
    np.testing.assert_array_equal(loaded(images), features)
    with pytest.raises(UserError, match="not found"):
        InceptionFeatures(weights=str(tmp_path / "missing.h5"))


def test_offline_without_cached_weights_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))

    def offline(*args, **kwargs):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(inception.urllib.request, "urlopen", offline)
    start = time.perf_counter()
    with pytest.raises(UserError) as raised:
        InceptionFeatures(weights="imagenet")
    message = str(raised.value)
    assert inception.WEIGHTS_FILE in message and "--fid-weights" in message
    assert os.path.join(str(tmp_path), "models") in message and "\n" not in message
    assert time.perf_counter() - start < 5

    with pytest.raises(UserError, match=inception.WEIGHTS_FILE):
        InceptionFeatures(weights="imagenet", allow_download=False)


def test_keras_download_failure_becomes_user_error(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(inception.urllib.request, "urlopen", lambda *a, **k: None)

    def failing_get_file(*args, **kwargs):
        raise Exception(f"URL fetch failure on {inception.WEIGHTS_URL}: None -- timed out")

    monkeypatch.setattr(keras.utils, "get_file", failing_get_file)
    with pytest.raises(UserError, match="URL fetch failure") as raised:
        InceptionFeatures(weights="imagenet")
    assert inception.WEIGHTS_FILE in str(raised.value)


# ---------------------------------------------------------------- cached real statistics


# Five toy images give a rank-deficient covariance; that warning is tested above.
few_samples_ok = pytest.mark.filterwarnings("ignore:FID statistics from")


class CountingExtractor:
    """Wraps an extractor, counting calls; `preprocessing` can be overridden."""

    def __init__(self, extractor, preprocessing=None):
        self.extractor = extractor
        self.extractor_id = extractor.extractor_id
        self.preprocessing = preprocessing or extractor.preprocessing
        self.calls = 0

    def __call__(self, images):
        self.calls += 1
        return self.extractor(images)


@few_samples_ok
def test_real_statistics_cache_miss_then_hit(extractor, images, features, tmp_path):
    counting = CountingExtractor(extractor)
    first = real_statistics(images, counting, cache_dir=tmp_path, tag="toy/train")
    assert not first["cached"] and counting.calls == 1
    assert os.path.basename(first["path"]) == f"toy_train-{first['key']}.npz"
    assert os.listdir(tmp_path) == [os.path.basename(first["path"])]  # no temp file left
    np.testing.assert_array_equal(first["features"], features)
    mu, sigma = statistics(features)
    np.testing.assert_allclose(first["mu"], mu)
    np.testing.assert_allclose(first["sigma"], sigma)

    second = real_statistics(images, counting, cache_dir=tmp_path, tag="toy/train")
    assert second["cached"] and counting.calls == 1
    assert second["key"] == first["key"] and second["features"].dtype == np.float32
    for name in ("mu", "sigma", "features"):
        np.testing.assert_array_equal(second[name], first[name])


@few_samples_ok
def test_real_statistics_key_changes_with_size_preprocessing_and_content(
    extractor, images, tmp_path
):
    counting = CountingExtractor(extractor)
    first = real_statistics(images, counting, cache_dir=tmp_path)

    larger = np.repeat(np.repeat(images, 2, axis=1), 2, axis=2)  # same pictures at 32x32
    resized = real_statistics(larger, counting, cache_dir=tmp_path)
    assert not resized["cached"] and resized["key"] != first["key"]

    other_preprocessing = CountingExtractor(extractor, preprocessing="resize299-nearest")
    reprocessed = real_statistics(images, other_preprocessing, cache_dir=tmp_path)
    assert not reprocessed["cached"] and reprocessed["key"] != first["key"]

    changed = images.copy()
    changed[0, 0, 0, 0] ^= 1
    assert real_statistics(changed, counting, cache_dir=tmp_path)["key"] != first["key"]
    assert counting.calls == 3 and other_preprocessing.calls == 1


@few_samples_ok
def test_real_statistics_default_dir_follows_env(extractor, images, tmp_path, monkeypatch):
    monkeypatch.setenv("KERASGAN_CACHE", str(tmp_path))
    result = real_statistics(images, CountingExtractor(extractor))
    assert result["path"].startswith(os.path.join(str(tmp_path), "fid_stats") + os.sep)
    assert os.path.exists(result["path"])
