"""The normalizer of an unnormalized density by importance sampling from a proposal whose density is exact.

For an unnormalized log-density log N(x) on R^d and a proposal q that can be sampled and whose density is known
exactly,

    alpha = int N(x) dx = E_{y ~ q}[N(y) / q(y)],     alpha-hat = (1/S) sum_s N(y_s) / q(y_s),

an unbiased estimate of alpha whenever q > 0 wherever N > 0. LED (paper 003, Eq. 2) uses its generator as q, whose
tracked density is exact only without Eq. 8's dimension reduction; chapter D2 measures what an inexact q does.
Here q is exact by construction: a Gaussian N(mean, L L^T) (:func:`gaussian_proposal_log_normalizer`), or a Gaussian
kernel mixture (1/M) sum_i N(c_i, h^2 I) on M centres such as training images (:func:`kernel_proposal_log_normalizer`),
which puts its mass near the data, where a density learned from them has most of its own; in hundreds of dimensions
a single Gaussian misses that mass almost entirely. log alpha-hat is reported with its delta-method
standard error sd(w) / (sqrt(S) mean(w)), w = N(y) / q(y), and Kish's effective sample size (sum w)^2 / sum w^2,
which says when q covers N badly (a few weights dominate: the estimate is then low with high probability, and the
standard error itself is unreliable).
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import torch
from torch import Tensor

__all__ = ["LogNormalizer", "gaussian_proposal_log_normalizer", "kernel_proposal_log_normalizer"]


class LogNormalizer(NamedTuple):
    """log alpha-hat (float), its delta-method standard error (float), and the effective sample size (float) of
    the importance weights, out of ``samples``."""

    log_alpha: float
    stderr: float
    ess: float
    samples: int


def _check(mean: Tensor, scale_tril: Tensor, samples: int, chunk: int) -> None:
    if not isinstance(mean, Tensor) or mean.ndim != 1 or not mean.is_floating_point():
        raise ValueError(f"mean must be a floating-point (d,) tensor, got {getattr(mean, 'shape', type(mean))}")
    d = mean.shape[0]
    if not isinstance(scale_tril, Tensor) or tuple(scale_tril.shape) != (d, d):
        raise ValueError(f"scale_tril must be a (d, d) = ({d}, {d}) lower-triangular tensor (the Cholesky factor "
                         f"of the proposal's covariance), got {getattr(scale_tril, 'shape', type(scale_tril))}")
    if not bool(torch.isfinite(mean).all() and torch.isfinite(scale_tril).all()):
        raise ValueError("mean and scale_tril must be finite")
    if not bool((scale_tril.diagonal() > 0).all()) or not torch.equal(scale_tril, scale_tril.tril()):
        raise ValueError("scale_tril must be lower triangular with a positive diagonal (torch.linalg.cholesky of "
                         "the covariance)")
    _check_counts(samples, chunk)


def _check_counts(samples: int, chunk: int) -> None:
    for name, value in (("samples", samples), ("chunk", chunk)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if samples < 2:
        raise ValueError(f"samples must be at least 2 (a standard error needs two weights), got {samples}")


@torch.no_grad()
def gaussian_proposal_log_normalizer(log_unnormalized: Callable[[Tensor], Tensor], mean: Tensor,
                                     scale_tril: Tensor, samples: int, *, rng: torch.Generator | None = None,
                                     chunk: int = 65536) -> LogNormalizer:
    """log of int N(x) dx by importance sampling from the Gaussian N(mean, scale_tril scale_tril^T).

    Args:
        log_unnormalized: maps (B, d) points to (B,) values of log N (e.g. an LED critic).
        mean: (d,) the proposal's mean.
        scale_tril: (d, d) lower-triangular Cholesky factor of the proposal's covariance.
        samples: S, proposal draws (drawn on the CPU from ``rng`` in float64, so equal on every device).
        rng: seeds the draws.
        chunk: at most this many points per call of ``log_unnormalized`` (bounds memory; the result does not
            depend on it).

    Returns:
        :class:`LogNormalizer`, in float64 arithmetic.

    Raises:
        ValueError: bad arguments, or ``log_unnormalized`` returning the wrong shape or NaN (+inf is refused too:
            the normalizer would be infinite).
    """
    _check(mean, scale_tril, samples, chunk)
    d = mean.shape[0]
    L = scale_tril.detach().double().cpu()
    proposal = torch.distributions.MultivariateNormal(mean.detach().double().cpu(), scale_tril=L)
    eps = torch.randn((samples, d), generator=rng, dtype=torch.float64)
    y = mean.detach().double().cpu() + eps @ L.T
    log_q = proposal.log_prob(y)
    return _estimate(_evaluate(log_unnormalized, y, mean, chunk), log_q, samples)


def _evaluate(log_unnormalized: Callable[[Tensor], Tensor], y: Tensor, like: Tensor, chunk: int) -> Tensor:
    """log N at the (S, d) float64 CPU points ``y``, evaluated in chunks in ``like``'s dtype and device."""
    parts = []
    for rows in y.split(chunk):
        values = log_unnormalized(rows.to(dtype=like.dtype, device=like.device))
        if not isinstance(values, Tensor) or tuple(values.shape) != (len(rows),):
            raise ValueError(f"log_unnormalized must map ({len(rows)}, {y.shape[1]}) points to ({len(rows)},) "
                             f"values, got {getattr(values, 'shape', type(values))}")
        parts.append(values.detach().double().cpu())
    return torch.cat(parts)


def _estimate(log_n: Tensor, log_q: Tensor, samples: int) -> LogNormalizer:
    """log alpha-hat, its standard error and the ESS from log N and log q at the same S proposal draws."""
    if bool(torch.isnan(log_n).any()) or bool((log_n == math.inf).any()):
        raise ValueError("log_unnormalized returned NaN or +inf at some proposal points; the normalizer is undefined")
    log_w = log_n - log_q
    top = log_w.max()
    w = (log_w - top).exp()  # weights scaled by exp(-top): ratios and logs are unchanged
    mean_w = w.mean()
    log_alpha = (top + mean_w.log()).item()
    stderr = (w.std() / (math.sqrt(samples) * mean_w)).item()
    ess = (w.sum() ** 2 / (w * w).sum()).item()
    return LogNormalizer(log_alpha, stderr, ess, samples)


@torch.no_grad()
def kernel_proposal_log_normalizer(log_unnormalized: Callable[[Tensor], Tensor], centers: Tensor, bandwidth: float,
                                   samples: int, *, rng: torch.Generator | None = None,
                                   chunk: int = 1024) -> LogNormalizer:
    """log of int N(x) dx by importance sampling from the kernel mixture q = (1/M) sum_i N(centers_i, h^2 I).

    A draw picks a centre uniformly and adds N(0, h^2 I) noise; its density, a log-sum-exp over all M centres, is
    exact. Cost: S M d for the densities (in chunks of ``chunk`` draws, so memory is chunk x M).

    Args:
        log_unnormalized: maps (B, d) points to (B,) values of log N (e.g. an LED critic on flattened images).
        centers: (M, d) the kernels' centres (e.g. dequantized training images, flattened).
        bandwidth: h > 0, the kernels' standard deviation.
        samples: S >= 2 proposal draws (on the CPU from ``rng``, float64).
        rng: seeds the draws.
        chunk: at most this many draws per block of the log-sum-exp and per call of ``log_unnormalized``.

    Returns:
        :class:`LogNormalizer`, in float64 arithmetic.
    """
    if not isinstance(centers, Tensor) or centers.ndim != 2 or not centers.is_floating_point() or len(centers) < 1:
        raise ValueError(f"centers must be a floating-point (M, d) tensor with M >= 1, got "
                         f"{getattr(centers, 'shape', type(centers))}")
    if not bool(torch.isfinite(centers).all()):
        raise ValueError("centers must be finite")
    if isinstance(bandwidth, bool) or not isinstance(bandwidth, (int, float)) or not 0 < bandwidth < math.inf:
        raise ValueError(f"bandwidth must be a positive finite float (the kernels' standard deviation), got "
                         f"{bandwidth!r}")
    _check_counts(samples, chunk)
    m, d = centers.shape
    c = centers.detach().double().cpu()
    pick = torch.randint(m, (samples,), generator=rng)
    y = c[pick] + bandwidth * torch.randn((samples, d), generator=rng, dtype=torch.float64)
    c_sq = (c * c).sum(1)
    log_norm = math.log(m) + 0.5 * d * math.log(2 * math.pi * bandwidth ** 2)
    log_q = []
    for rows in y.split(chunk):  # ||y - c||^2 by the expansion, one (chunk, M) block at a time
        d2 = ((rows * rows).sum(1, keepdim=True) - 2 * rows @ c.T + c_sq).clamp_min(0)
        log_q.append(torch.logsumexp(-d2 / (2 * bandwidth ** 2), 1) - log_norm)
    return _estimate(_evaluate(log_unnormalized, y, centers, chunk), torch.cat(log_q), samples)
