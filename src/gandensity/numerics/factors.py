"""Latent explanatory factors from the eigenvectors of the metric (paper 001, section 5).

At a latent z the metric M = J^T J says how much a unit step in each direction moves the image: a step along the
i-th eigenvector v_i changes G(z) by sqrt(lambda_i) to first order. Paper 001 compares perturbations along the
top eigenvectors with random ones and counts, per latent, the eigenvectors whose perturbation changes the image
more than a random direction does:

    delta(j, 0) = E_u |G(z_j + alpha u) - G(z_j)|,   u uniform on the unit sphere,
    delta(j, i) = |G(z_j + alpha v_i) - G(z_j)| / delta(j, 0),
    v_eff(tau)  = 1/M sum_j #{i : delta(j, i) > tau}.

The paper writes the random direction as eps ~ N(0, I); a Gaussian step is sqrt(n) times longer than a unit
eigenvector, which would make every delta(j, i) small, so here (as the paper's reported v_eff > 1 implies) the
random direction is normalised to unit length, like the eigenvectors.

For the distinctness measure (:func:`change_map_overlap`) the reference is the paper's literal one: section 5
obtains random directions "by sampling from a spherical normal distribution" and steps alpha * eps with
eps ~ N(0, I), unnormalised (:func:`gaussian_directions`). The overlap of two change maps is a cosine, so it does
not depend on a direction's length to first order; the literal reading costs nothing there.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np
import torch

from gandensity.numerics.spectral import exact_metric

__all__ = ["metric_eigen", "random_unit_directions", "perturb", "relative_changes", "effective_dimension",
           "eigen_counts", "FactorAnalysis", "analyse", "mean_ratio", "doubling_gap", "gaussian_directions",
           "ChangeMapOverlap", "change_map_overlap", "mean_difference"]


def metric_eigen(generator: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor,
                 chunk_size: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigen-decomposition of M(z) = J^T J at each latent, largest first.

    Returns:
        eigenvalues (B, n) float64, descending; eigenvectors (B, n, n) float64, column i for eigenvalue i.
    """
    values, vectors = torch.linalg.eigh(exact_metric(generator, z, chunk_size=chunk_size))
    return values.flip(-1), vectors.flip(-1)


def random_unit_directions(shape: tuple[int, ...], n: int, seed: int) -> torch.Tensor:
    """(…, n) directions uniform on the unit sphere, float64, seeded."""
    u = torch.randn(*shape, n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return u / u.norm(dim=-1, keepdim=True)


@torch.no_grad()
def perturb(generator: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor, directions: torch.Tensor,
            step: float) -> torch.Tensor:
    """Images G(z_b + step * d_bk) for K directions per latent.

    Args:
        z: (B, n) latents.
        directions: (B, K, n) directions (unit length, e.g. eigenvectors as rows).
        step: the perturbation size alpha.

    Returns:
        (B, K, ...) images, on the CPU.
    """
    b, k, n = directions.shape
    moved = (z[:, None, :] + step * directions.to(z)).reshape(b * k, n)
    images = torch.cat([generator(chunk) for chunk in moved.split(1024)]).cpu()
    return images.reshape(b, k, *images.shape[1:])


@torch.no_grad()
def relative_changes(generator: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor, eigenvectors: torch.Tensor,
                     step: float, *, random_draws: int = 64, seed: int = 0) -> torch.Tensor:
    """delta(j, i) of paper 001 section 5 for every latent j and eigenvector i: (B, n) float64.

    Args:
        z: (B, n) latents.
        eigenvectors: (B, n, n) eigenvectors of M(z) as columns (from :func:`metric_eigen`).
        step: alpha.
        random_draws: unit random directions averaged for delta(j, 0).
        seed: seeds the random directions.
    """
    b, n = z.shape
    base = generator(z).cpu().reshape(b, -1).double()  # (B, m)

    def change(directions: torch.Tensor) -> torch.Tensor:  # (B, K, n) -> (B, K)
        moved = perturb(generator, z, directions, step).reshape(b, directions.shape[1], -1).double()
        return (moved - base[:, None, :]).norm(dim=-1)

    reference = change(random_unit_directions((b, random_draws), n, seed)).mean(-1)  # (B,)
    return change(eigenvectors.transpose(1, 2)) / reference[:, None]


def effective_dimension(delta: torch.Tensor, tau: float | torch.Tensor) -> torch.Tensor:
    """v_eff(tau) = mean over latents of the number of eigenvectors with delta > tau; tau scalar or (T,)."""
    tau = torch.as_tensor(tau, dtype=delta.dtype)
    return (delta[..., None] > tau).sum(-2).double().mean(0)


def eigen_counts(delta: torch.Tensor, tau: float) -> torch.Tensor:
    """Per latent, the number of eigenvectors with delta(j, i) > tau: (B,) float64 (its mean is v_eff(tau))."""
    return (delta > tau).sum(-1).double()


class FactorAnalysis(NamedTuple):
    """The metric's eigen-decomposition at B latents and the relative image changes along its eigenvectors.

    Attributes:
        eigenvalues: (B, n) float64, descending.
        eigenvectors: (B, n, n) float64, column i for eigenvalue i.
        delta: (B, n) delta(j, i) of :func:`relative_changes`.
    """

    eigenvalues: torch.Tensor
    eigenvectors: torch.Tensor
    delta: torch.Tensor


def analyse(generator: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor, step: float, *,
            random_draws: int = 64, seed: int = 0) -> FactorAnalysis:
    """:func:`metric_eigen` and :func:`relative_changes` at the latents ``z`` (B, n) with step size ``step``."""
    values, vectors = metric_eigen(generator, z)
    delta = relative_changes(generator, z, vectors, step, random_draws=random_draws, seed=seed)
    return FactorAnalysis(values.cpu(), vectors.cpu(), delta)


def mean_ratio(pairs: torch.Tensor | np.ndarray) -> float:
    """mean(pairs[:, 1]) / mean(pairs[:, 0]) for (N, 2) per-latent values: how v_eff changes between two models.

    A statistic for a bootstrap over latents (the rows are resampled together).
    """
    pairs = np.asarray(pairs, dtype=float)
    return float(pairs[:, 1].mean() / pairs[:, 0].mean())


def doubling_gap(values: torch.Tensor | np.ndarray) -> float:
    """How much more doubling n_z changes v_eff than doubling n_f does, for (N, 5) per-latent values of the models
    (n_z/2, base, 2 n_z, n_f/2, 2 n_f) in that order (base = (n_z, n_f)): the mean over the two n_z doublings of
    log mean_ratio minus the mean over the two n_f doublings of |log mean_ratio|. The absolute value makes a
    width doubling that lowers v_eff count as a change, not as a point for n_z."""
    v = np.asarray(values, dtype=float)
    if v.ndim != 2 or v.shape[1] != 5:
        raise ValueError(f"values must have shape (N, 5) (n_z/2, base, 2 n_z, n_f/2, 2 n_f), got {v.shape}")
    log_ratio = lambda a, b: np.log(mean_ratio(v[:, [a, b]]))  # noqa: E731
    nz = (log_ratio(0, 1) + log_ratio(1, 2)) / 2
    nf = (abs(log_ratio(3, 1)) + abs(log_ratio(1, 4))) / 2
    return float(nz - nf)


def gaussian_directions(shape: tuple[int, ...], n: int, seed: int) -> torch.Tensor:
    """(…, n) directions eps ~ N(0, I) as paper 001 section 5 writes them (not normalised), float64, seeded."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}; pass the latent dimension")
    return torch.randn(*shape, n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


class ChangeMapOverlap(NamedTuple):
    """Cosine similarities between the absolute pixel-change maps of K directions at B latents.

    Attributes:
        matrix: (B, K, K) float64, entry (b, i, k) = cos(|G(z_b + step d_bi) - G(z_b)|, |G(z_b + step d_bk) - G(z_b)|);
            1 on the diagonal.
        off_diagonal: (B,) float64, the mean of the K (K - 1) off-diagonal entries per latent (0: the directions
            change disjoint pixels; 1: they change the same pixels in the same proportions).
    """

    matrix: torch.Tensor
    off_diagonal: torch.Tensor


@torch.no_grad()
def change_map_overlap(generator: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor, directions: torch.Tensor,
                       step: float) -> ChangeMapOverlap:
    """How much the image regions changed by different directions overlap: a measure of distinct attributes.

    Args:
        z: (B, n) latents.
        directions: (B, K, n) directions per latent (rows), K >= 2, e.g. the top eigenvectors or N(0, I) draws.
        step: the perturbation size alpha (> 0, finite).

    Returns:
        :class:`ChangeMapOverlap` with the (B, K, K) cosine matrices of the maps |G(z + step d) - G(z)| and their
        (B,) mean off-diagonal entries.
    """
    if z.ndim != 2:
        raise ValueError(f"z must have shape (B, n), got {tuple(z.shape)}")
    if directions.ndim != 3 or directions.shape[0] != z.shape[0] or directions.shape[2] != z.shape[1]:
        raise ValueError(f"directions must have shape (B, K, n) = ({z.shape[0]}, K, {z.shape[1]}), "
                         f"got {tuple(directions.shape)}")
    if directions.shape[1] < 2:
        raise ValueError(f"directions needs K >= 2 directions per latent to overlap, got {directions.shape[1]}")
    if not torch.isfinite(directions).all() or not torch.isfinite(z).all():
        raise ValueError("z and directions must be finite; got NaN or inf")
    if not (isinstance(step, (int, float)) and np.isfinite(step) and step > 0):
        raise ValueError(f"step must be a positive finite number, got {step!r}")
    b, k, _ = directions.shape
    base = generator(z).cpu().reshape(b, -1).double()  # (B, m)
    moved = perturb(generator, z, directions, step).reshape(b, k, -1).double()  # (B, K, m)
    maps = (moved - base[:, None, :]).abs()
    norms = maps.norm(dim=-1, keepdim=True)
    if (norms == 0).any():
        raise ValueError("a direction leaves the image unchanged (zero change map); its overlap is undefined: "
                         "drop zero directions or use a larger step")
    unit = maps / norms
    matrix = unit @ unit.transpose(1, 2)  # (B, K, K)
    off = (matrix.sum((1, 2)) - matrix.diagonal(dim1=1, dim2=2).sum(-1)) / (k * (k - 1))
    return ChangeMapOverlap(matrix, off)


def mean_difference(pairs: torch.Tensor | np.ndarray) -> float:
    """mean(pairs[:, 0]) - mean(pairs[:, 1]) for (N, 2) per-latent values (a bootstrap statistic over latents)."""
    pairs = np.asarray(pairs, dtype=float)
    return float(pairs[:, 0].mean() - pairs[:, 1].mean())
