"""Fréchet Inception Distance and Kernel Inception Distance on feature arrays (NumPy, float64)."""

import warnings

import numpy as np


def _psd_sqrt(matrix):
    """Symmetric square root of a symmetric positive semi-definite matrix."""
    eigenvalues, eigenvectors = np.linalg.eigh(matrix)
    # Round-off can leave eigenvalues of a PSD matrix slightly negative.
    roots = np.sqrt(np.clip(eigenvalues, 0.0, None))
    return (eigenvectors * roots) @ eigenvectors.T


def trace_sqrt_product(sigma1, sigma2):
    """tr(sqrt(sigma1 @ sigma2)) for covariance matrices, via a symmetric eigenproblem.

    sigma1 @ sigma2 is not symmetric, but it is similar to sqrt(s1) @ s2 @ sqrt(s1), which is
    symmetric PSD, so its eigenvalues are real and non-negative and the trace of the square
    root is the sum of their square roots. This avoids scipy.linalg.sqrtm, whose results on
    singular matrices changed between SciPy releases.
    """
    sqrt_sigma1 = _psd_sqrt(sigma1)
    product = sqrt_sigma1 @ sigma2 @ sqrt_sigma1
    product = (product + product.T) / 2.0  # make it exactly symmetric for eigvalsh
    eigenvalues = np.linalg.eigvalsh(product)
    return float(np.sum(np.sqrt(np.clip(eigenvalues, 0.0, None))))


def frechet_distance(mu1, sigma1, mu2, sigma2):
    """Fréchet distance between the Gaussians N(mu1, sigma1) and N(mu2, sigma2).

    ||mu1 - mu2||^2 + tr(sigma1) + tr(sigma2) - 2 tr(sqrt(sigma1 sigma2)), in float64.
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    dim = mu1.shape[0]
    if mu1.shape != (dim,) or mu2.shape != (dim,) or sigma1.shape != (dim, dim) or (
        sigma2.shape != (dim, dim)
    ):
        raise ValueError(
            f"statistics do not match: mu {mu1.shape}, {mu2.shape}; "
            f"sigma {sigma1.shape}, {sigma2.shape}"
        )
    mean_term = float(np.sum((mu1 - mu2) ** 2))
    covariance_term = (
        np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt_product(sigma1, sigma2)
    )
    # A squared distance: tiny negative values are round-off.
    return max(mean_term + float(covariance_term), 0.0)


def warn_if_rank_deficient(count, dim, stacklevel=1):
    """Warns (at `stacklevel` above the caller) when `count` samples of `dim` features are too
    few for a full-rank covariance."""
    if count <= dim:
        warnings.warn(
            f"FID statistics from {count} samples for {dim} features: the covariance "
            f"is rank-deficient and FID is biased; use more than {dim} images",
            stacklevel=stacklevel + 1,
        )


class FeatureStats:
    """Running mean and covariance of feature batches, so the features need not be kept.

    Sums are float64 and taken around a shift (the first batch's mean): covariance does not
    depend on the shift, and centring avoids cancellation in sum(x x^T) - n mu mu^T.
    """

    def __init__(self):
        self.count = 0
        self._shift = None
        self._sum = None
        self._outer_sum = None

    def update(self, features):
        features = np.asarray(features, np.float64)
        if features.ndim != 2:
            raise ValueError(f"features must be [N, D]; got shape {features.shape}")
        if len(features) == 0:
            return
        if self._shift is None:
            self._shift = features.mean(axis=0)
            dim = features.shape[1]
            self._sum = np.zeros(dim)
            self._outer_sum = np.zeros((dim, dim))
        centred = features - self._shift
        self._sum += centred.sum(axis=0)
        self._outer_sum += centred.T @ centred
        self.count += len(features)

    def mean_and_covariance(self):
        """(mu, sigma), sigma with the unbiased 1 / (n - 1) normalisation like numpy.cov."""
        if self.count < 2:
            raise ValueError(f"need at least 2 feature vectors for a covariance; got {self.count}")
        warn_if_rank_deficient(self.count, self._sum.shape[0], stacklevel=2)
        centred_mean = self._sum / self.count
        sigma = (self._outer_sum - self.count * np.outer(centred_mean, centred_mean)) / (
            self.count - 1
        )
        return self._shift + centred_mean, sigma


def statistics(features):
    """(mu, sigma) of features [N, D] in float64."""
    stats = FeatureStats()
    stats.update(features)
    return stats.mean_and_covariance()


def _polynomial_kernel(x, y):
    dim = x.shape[1]
    return (x @ y.T / dim + 1.0) ** 3


def _unbiased_mmd2(x, y):
    """Unbiased MMD^2 estimate between equal-sized samples x and y (diagonal terms dropped)."""
    m = len(x)
    k_xx, k_yy, k_xy = _polynomial_kernel(x, x), _polynomial_kernel(y, y), _polynomial_kernel(x, y)
    within_x = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
    within_y = (k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return within_x + within_y - 2.0 * k_xy.mean()


def kernel_inception_distance(features1, features2, num_subsets=100, subset_size=1000, seed=0):
    """KID: (mean, std) over random subsets of the unbiased MMD^2 with k(x, y) = (x.y/d + 1)^3.

    Each subset draws `subset_size` rows without replacement from each sample; the size is
    capped at the smaller sample count. Unbiased, so it can be slightly negative.
    """
    features1 = np.asarray(features1, np.float64)
    features2 = np.asarray(features2, np.float64)
    if features1.ndim != 2 or features2.ndim != 2 or features1.shape[1] != features2.shape[1]:
        raise ValueError(f"feature shapes do not match: {features1.shape}, {features2.shape}")
    size = min(subset_size, len(features1), len(features2))
    if size < 2:
        raise ValueError(f"KID needs at least 2 samples on each side; got subset size {size}")
    rng = np.random.default_rng(seed)
    estimates = np.empty(num_subsets)
    for i in range(num_subsets):
        x = features1[rng.choice(len(features1), size, replace=False)]
        y = features2[rng.choice(len(features2), size, replace=False)]
        estimates[i] = _unbiased_mmd2(x, y)
    return float(estimates.mean()), float(estimates.std())


def frechet_distance_of_samples(features1, features2):
    """The Fréchet distance of two feature samples, computed in the span of the samples.

    With the centred samples A [n1, D] and B [n2, D], sigma1 = A^T A / (n1 - 1) and
    sigma2 = B^T B / (n2 - 1); the non-zero eigenvalues of sigma1 sigma2 are the squared
    singular values of A B^T / sqrt((n1 - 1)(n2 - 1)), so tr(sqrt(sigma1 sigma2)) is the sum of
    those singular values. One n1 x n2 SVD replaces two D x D eigenproblems: with fewer samples
    than features (D = 2048; 204 grumpy cats, tests) it is exact and far faster.
    """
    x, y = np.asarray(features1, np.float64), np.asarray(features2, np.float64)
    if min(len(x), len(y)) < 2 or x.ndim != 2 or x.shape[1:] != y.shape[1:]:
        raise ValueError(f"need two samples [N >= 2, D] of the same D; got {x.shape}, {y.shape}")
    for features in (x, y):
        warn_if_rank_deficient(len(features), features.shape[1], stacklevel=2)
    a, b = x - x.mean(axis=0), y - y.mean(axis=0)
    scale1, scale2 = len(x) - 1.0, len(y) - 1.0
    mean_term = float(np.sum((x.mean(axis=0) - y.mean(axis=0)) ** 2))
    traces = np.sum(a * a) / scale1 + np.sum(b * b) / scale2
    cross = np.linalg.svd(a @ b.T, compute_uv=False).sum() / np.sqrt(scale1 * scale2)
    return max(mean_term + float(traces - 2.0 * cross), 0.0)


def fid_and_kid(features, reference, kid_subsets=100, kid_subset_size=1000, seed=0):
    """{"fid", "kid", "kid_std"} of features [N, D] against a reference set.

    `reference` is a dict with the reference's `mu`, `sigma` and `features`, as
    `real_statistics` returns it. When both samples are smaller than D, FID is computed
    from the samples themselves (`frechet_distance_of_samples`), otherwise from (mu, sigma).
    """
    features = np.asarray(features, np.float64)
    reference_features = reference["features"]
    if max(len(features), len(reference_features)) < features.shape[1]:
        fid = frechet_distance_of_samples(features, reference_features)
    else:
        mu, sigma = statistics(features)
        fid = frechet_distance(mu, sigma, reference["mu"], reference["sigma"])
    kid, kid_std = kernel_inception_distance(
        features, reference_features, kid_subsets, kid_subset_size, seed
    )
    return {"fid": fid, "kid": kid, "kid_std": kid_std}
