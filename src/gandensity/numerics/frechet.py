"""Frechet distance between Gaussians fitted to two feature sets.

For Gaussians N(m_a, S_a) and N(m_b, S_b) the squared 2-Wasserstein (Frechet) distance is (Dowson & Landau 1982)

    d^2 = |m_a - m_b|^2 + tr(S_a + S_b - 2 (S_a^{1/2} S_b S_a^{1/2})^{1/2}) .

FID (Heusel et al. 2017) is this quantity in the pool features of one fixed Inception-v3 network; here the features
are whatever the caller passes, so a value is only comparable with values computed in the same features and at the
same sample sizes (the plug-in estimate is biased upward at small N).

The trace of the matrix square root uses the symmetric PSD matrix S_a^{1/2} S_b S_a^{1/2} (same eigenvalues as
S_a S_b) and ``eigh``, in float64, with tiny negative eigenvalues from rounding clamped to zero, instead of a
general ``sqrtm`` of the non-symmetric product, which can return complex parts on near-singular covariances.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch

__all__ = ["FrechetDistance", "frechet_distance", "gaussian_frechet", "distance_difference"]


class FrechetDistance(NamedTuple):
    """value = mean_term + cov_term (a squared distance, >= 0 up to rounding)."""

    value: float
    mean_term: float  # |m_a - m_b|^2
    cov_term: float  # tr(S_a + S_b - 2 (S_a^1/2 S_b S_a^1/2)^1/2)


def _check_features(x: torch.Tensor, name: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (N, d), got {type(x).__name__}")
    if x.ndim != 2:
        raise ValueError(f"{name} must have shape (N, d), got {tuple(x.shape)}; flatten features to 2-D first")
    if x.shape[0] < 2:
        raise ValueError(f"{name} needs at least 2 rows to fit a covariance, got {x.shape[0]}; pass N >= 2")
    if x.shape[1] < 1:
        raise ValueError(f"{name} has no feature columns (shape {tuple(x.shape)}); pass d >= 1")
    x = x.detach().to(device="cpu", dtype=torch.float64)
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or inf; check the feature extractor's inputs")
    return x


def _psd_sqrt(s: torch.Tensor) -> torch.Tensor:
    w, v = torch.linalg.eigh((s + s.T) / 2)
    return (v * w.clamp_min(0).sqrt()) @ v.T


def gaussian_frechet(mean_a: torch.Tensor, cov_a: torch.Tensor, mean_b: torch.Tensor,
                     cov_b: torch.Tensor) -> FrechetDistance:
    """Frechet distance between N(mean_a, cov_a) and N(mean_b, cov_b).

    mean_a, mean_b: (d,); cov_a, cov_b: (d, d) symmetric PSD. Computed in float64.
    """
    mean_a, mean_b = (torch.as_tensor(m).detach().cpu().double().reshape(-1) for m in (mean_a, mean_b))
    cov_a, cov_b = (torch.as_tensor(c).detach().cpu().double() for c in (cov_a, cov_b))
    d = mean_a.numel()
    if mean_b.numel() != d or cov_a.shape != (d, d) or cov_b.shape != (d, d):
        raise ValueError(f"shapes disagree: means {d} and {mean_b.numel()}, covariances {tuple(cov_a.shape)} and "
                         f"{tuple(cov_b.shape)}; pass (d,) means and (d, d) covariances of one feature space")
    for name, t in (("mean_a", mean_a), ("mean_b", mean_b), ("cov_a", cov_a), ("cov_b", cov_b)):
        if not torch.isfinite(t).all():
            raise ValueError(f"{name} contains NaN or inf")
    root_a = _psd_sqrt(cov_a)
    middle = root_a @ cov_b @ root_a
    eig = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp_min(0)
    mean_term = float(((mean_a - mean_b) ** 2).sum())
    cov_term = float(torch.trace(cov_a) + torch.trace(cov_b) - 2 * eig.sqrt().sum())
    return FrechetDistance(mean_term + cov_term, mean_term, cov_term)


def frechet_distance(features_a: torch.Tensor, features_b: torch.Tensor) -> FrechetDistance:
    """Frechet distance between Gaussians fitted (mean, unbiased covariance) to two feature sets.

    features_a: (N_a, d); features_b: (N_b, d); N_a, N_b >= 2. Returns a :class:`FrechetDistance` of floats.
    """
    a = _check_features(features_a, "features_a")
    b = _check_features(features_b, "features_b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature dimensions differ: features_a has d = {a.shape[1]}, features_b d = {b.shape[1]}; "
                         "extract both with the same network")
    return gaussian_frechet(a.mean(0), torch.cov(a.T).reshape(a.shape[1], a.shape[1]),
                            b.mean(0), torch.cov(b.T).reshape(b.shape[1], b.shape[1]))


def distance_difference(reference: torch.Tensor) -> Callable[[object], float]:
    """A statistic for :func:`gandensity.book.claims.bootstrap`: given paired features of two image sets as an
    array (N, 2, d) (item i holds row i of set a and of set b), the Frechet distance of set a to ``reference``
    (M, d) minus that of set b, with ``reference`` held fixed. Positive when set a lies farther from it."""
    reference = _check_features(reference, "reference")
    # fit the reference's Gaussian once; each resample only refits the two sets'
    ref_mean, ref_cov = reference.mean(0), torch.cov(reference.T).reshape(reference.shape[1], reference.shape[1])

    def statistic(pairs: object) -> float:
        x = torch.as_tensor(pairs, dtype=torch.float64)
        if x.ndim != 3 or x.shape[1] != 2 or x.shape[2] != reference.shape[1]:
            raise ValueError(f"pairs must have shape (N, 2, {reference.shape[1]}), got {tuple(x.shape)}")
        a, b = _check_features(x[:, 0], "set a"), _check_features(x[:, 1], "set b")
        fits = [(f.mean(0), torch.cov(f.T).reshape(f.shape[1], f.shape[1])) for f in (a, b)]
        da, db = (gaussian_frechet(m, c, ref_mean, ref_cov).value for m, c in fits)
        return da - db

    return statistic
