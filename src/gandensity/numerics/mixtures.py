"""The 2-D Gaussian mixtures of the mode-collapse benchmark (VEEGAN, Srivastava et al. 2017) and its metrics.

Definitions as PacGAN's public reproduction configures them (see shared/README.md): the *ring* has 8 modes at
(cos 2 pi k / 8, sin 2 pi k / 8), std 0.01; the *grid* has 25 modes at {-4, -2, 0, 2, 4}^2, std 0.05. A sample
is *high quality* when it lies within 3 std of its nearest mode; a mode is *captured* when it is the nearest mode
of at least one high-quality sample. The benchmark draws 2,500 samples and averages over 5 runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, NamedTuple

import torch
from torch import Tensor

__all__ = ["GaussianMixture2d", "ring8", "grid25", "mixture", "ModeCoverage", "mode_coverage", "log_density_grid",
           "grid_log_integral", "uniform_log_density", "widened", "RingProfile", "ring_profile", "mode_difference"]


@dataclass(frozen=True)
class GaussianMixture2d:
    """Equally weighted isotropic Gaussians with means ``means`` (K, 2) and a common ``std``."""

    name: str
    means: Tensor
    std: float

    def sample(self, n: int, rng: torch.Generator | None = None) -> Tensor:
        """(n, 2) float32 samples."""
        k = torch.randint(0, len(self.means), (n,), generator=rng)
        e = torch.randn(n, 2, generator=rng, dtype=torch.float64)
        return (self.means[k] + self.std * e).float()

    def log_prob(self, x: Tensor) -> Tensor:
        """Log-density at x (B, 2); (B,) float64."""
        d2 = (x.double()[:, None, :] - self.means.to(x.device)[None]).pow(2).sum(-1)  # (B, K)
        log_comp = -0.5 * d2 / self.std ** 2 - math.log(2 * math.pi * self.std ** 2)
        return torch.logsumexp(log_comp, 1) - math.log(len(self.means))


def ring8(radius: float = 1.0, std: float = 0.01) -> GaussianMixture2d:
    """8 modes on a circle; k / 8 of a full turn each (not linspace(0, 2 pi, 8), which repeats a mode)."""
    t = 2 * math.pi * torch.arange(8, dtype=torch.float64) / 8
    return GaussianMixture2d("ring", radius * torch.stack([torch.cos(t), torch.sin(t)], 1), std)


def grid25(spacing: float = 2.0, std: float = 0.05) -> GaussianMixture2d:
    """25 modes at spacing * {-2, ..., 2}^2."""
    axis = spacing * torch.arange(-2, 3, dtype=torch.float64)
    gx, gy = torch.meshgrid(axis, axis, indexing="ij")
    return GaussianMixture2d("grid", torch.stack([gx.flatten(), gy.flatten()], 1), std)


def mixture(name: str) -> GaussianMixture2d:
    """``"ring"`` or ``"grid"`` at the benchmark's definition."""
    if name == "ring":
        return ring8()
    if name == "grid":
        return grid25()
    raise ValueError(f"unknown mixture {name!r}; choose 'ring' (8 modes) or 'grid' (25 modes)")


class ModeCoverage(NamedTuple):
    """modes: number of captured modes. high_quality: share of samples within 3 std of their nearest mode (0-1).
    per_mode: (K,) count of high-quality samples per mode."""

    modes: int
    high_quality: float
    per_mode: Tensor


def mode_coverage(samples: Tensor, target: GaussianMixture2d, *, threshold: float = 3.0) -> ModeCoverage:
    """The benchmark's metrics for ``samples`` (N, 2); a NaN sample counts as low quality."""
    if samples.ndim != 2 or samples.shape[1] != 2:
        raise ValueError(f"mode_coverage expects (N, 2) samples, got {tuple(samples.shape)}")
    d = torch.cdist(samples.double(), target.means.to(samples.device))  # (N, K)
    dist, nearest = d.min(1)
    hq = dist <= threshold * target.std  # NaN compares False
    per_mode = torch.bincount(nearest[hq], minlength=len(target.means))
    return ModeCoverage(int((per_mode > 0).sum()), float(hq.double().mean()), per_mode.cpu())


@torch.no_grad()
def log_density_grid(log_density: Callable[[Tensor], Tensor], bounds: tuple[float, float, float, float], n: int, *,
                     chunk: int = 65536) -> tuple[Tensor, Tensor, Tensor]:
    """Evaluate a 2-D log-density at the n x n cell centres of ``bounds`` = (x0, x1, y0, y1).

    Returns (xs (n,), ys (n,), values (n, n) float64 with values[i, j] at (xs[j], ys[i]), as imshow expects).
    """
    x0, x1, y0, y1 = bounds
    xs = x0 + (torch.arange(n, dtype=torch.float64) + 0.5) * (x1 - x0) / n
    ys = y0 + (torch.arange(n, dtype=torch.float64) + 0.5) * (y1 - y0) / n
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    points = torch.stack([gx.flatten(), gy.flatten()], 1).float()
    values = torch.cat([log_density(p).double().cpu() for p in points.split(chunk)])
    return xs, ys, values.view(n, n)


def grid_log_integral(values: Tensor, bounds: tuple[float, float, float, float]) -> float:
    """log of the midpoint-rule integral of exp(values) over ``bounds`` (values from :func:`log_density_grid`)."""
    x0, x1, y0, y1 = bounds
    n_y, n_x = values.shape
    return float(torch.logsumexp(values.flatten(), 0)) + math.log((x1 - x0) * (y1 - y0) / (n_x * n_y))


def uniform_log_density(bounds: tuple[float, float, float, float]) -> float:
    """log-density of the uniform distribution on the box ``bounds`` = (x0, x1, y0, y1): -log(area)."""
    x0, x1, y0, y1 = bounds
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"bounds must be (x0, x1, y0, y1) with x0 < x1 and y0 < y1, got {bounds}")
    return -math.log((x1 - x0) * (y1 - y0))


def widened(bounds: tuple[float, float, float, float], factor: float) -> tuple[float, float, float, float]:
    """The box ``bounds`` = (x0, x1, y0, y1) scaled about its centre by ``factor`` (> 0)."""
    x0, x1, y0, y1 = bounds
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"bounds must be (x0, x1, y0, y1) with x0 < x1 and y0 < y1, got {bounds}")
    if not (isinstance(factor, (int, float)) and math.isfinite(factor) and factor > 0):
        raise ValueError(f"factor must be a finite number > 0 (2 doubles the box's sides), got {factor!r}")
    cx, cy, hx, hy = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2
    return (cx - factor * hx, cx + factor * hx, cy - factor * hy, cy + factor * hy)


class RingProfile(NamedTuple):
    """A 2-D log-density read along a ring of modes, the modes in order of angle about the ring's centre.

    at_modes: (K,) at each mode. between: (K,) on the ring, halfway in angle from mode k to mode k + 1 (the
    last wraps to the first). centre: at the ring's centre. bumps: how many modes lie above the ring on either
    side (at_modes[k] above between[k - 1] and between[k]). on_ring: whether every ``between`` value lies above
    the centre's, i.e. the density follows the ring rather than filling its disc.
    """

    at_modes: Tensor
    between: Tensor
    centre: float
    bumps: int
    on_ring: bool


@torch.no_grad()
def ring_profile(log_density: Callable[[Tensor], Tensor], target: GaussianMixture2d) -> RingProfile:
    """Where a 2-D ``log_density`` (B, 2) -> (B,) puts its mass along the ring mixture ``target`` (its means on
    one circle about their centroid, in any order): its value at the modes, between them and at the centre
    (see :class:`RingProfile`)."""
    means = target.means.double()
    centre = means.mean(0)
    radii = (means - centre).norm(dim=1)
    if len(means) < 3 or not bool(radii.min() > 0) or float((radii.max() - radii.min()) / radii.max()) > 1e-6:
        raise ValueError(f"ring_profile needs a mixture whose 3 or more means lie on one circle; {target.name!r} "
                         f"has {len(means)} means at distances {radii.min():.3g}-{radii.max():.3g} from "
                         "their centroid")
    angles = torch.atan2(means[:, 1] - centre[1], means[:, 0] - centre[0]).sort().values
    next_angles = torch.cat([angles[1:], angles[:1] + 2 * math.pi])
    mid = (angles + next_angles) / 2
    radius = radii.mean()
    on_circle = lambda t: centre + radius * torch.stack([t.cos(), t.sin()], 1)  # noqa: E731
    # float32 points on the CPU, as log_density_grid passes them
    values = log_density(torch.cat([on_circle(angles), on_circle(mid), centre[None]]).float())
    values = values.double().cpu().flatten()
    k = len(means)
    at_modes, between, at_centre = values[:k], values[k:2 * k], float(values[2 * k])
    bumps = int(((at_modes > between) & (at_modes > between.roll(1))).sum())
    return RingProfile(at_modes, between, at_centre, bumps, bool(between.min() > at_centre))


def mode_difference(target: GaussianMixture2d) -> Callable[[object], float]:
    """A statistic for :func:`gandensity.book.claims.bootstrap`: given paired samples of two generators as an
    array (N, 2, 2) (item i holds sample i of generator a and of generator b), the number of modes a captures
    minus the number b captures (:func:`mode_coverage`)."""

    def statistic(pairs: object) -> float:
        x = torch.as_tensor(pairs, dtype=torch.float64)
        return float(mode_coverage(x[:, 0], target).modes - mode_coverage(x[:, 1], target).modes)

    return statistic
