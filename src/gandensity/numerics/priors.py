"""Latent priors: the distribution p(z) that a generator pushes forward.

A prior is anything with a ``log_prob(z) -> (B,)`` method and a ``sample(b, dim)`` method; the two
shipped here are the standard normal of DCGAN (paper 000) and the uniform box of paper 001.
"""

from __future__ import annotations

import math
from typing import Protocol, runtime_checkable

import torch

__all__ = ["Prior", "StandardNormal", "UniformBox"]


@runtime_checkable
class Prior(Protocol):
    """A latent distribution over R^n."""

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """Log-density of each row of ``z`` (B, n) -> (B,)."""
        ...

    def sample(self, b: int, dim: int, *, rng: torch.Generator | None = None,
               device: torch.device | str | None = None) -> torch.Tensor:
        """Draw ``b`` latents of dimension ``dim`` -> (b, dim)."""
        ...


class StandardNormal:
    """N(0, I) on R^n: log p(z) = -|z|^2 / 2 - n/2 log(2 pi)."""

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        n = z.shape[-1]
        return -0.5 * z.pow(2).sum(-1) - 0.5 * n * math.log(2 * math.pi)

    def sample(self, b: int, dim: int, *, rng: torch.Generator | None = None,
               device: torch.device | str | None = None) -> torch.Tensor:
        return torch.randn(b, dim, generator=rng, device=device)

    def __repr__(self) -> str:
        return "StandardNormal()"


class UniformBox:
    """Uniform on [low, high]^n; log-density -inf outside the box."""

    def __init__(self, low: float = -1.0, high: float = 1.0) -> None:
        if not (math.isfinite(low) and math.isfinite(high) and high > low):
            raise ValueError(f"UniformBox needs finite bounds with high > low, got low={low}, high={high}; pass e.g. "
                             "UniformBox(-1.0, 1.0)")
        self.low, self.high = float(low), float(high)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        n = z.shape[-1]
        inside = ((z >= self.low) & (z <= self.high)).all(-1)
        value = torch.full(z.shape[:-1], -n * math.log(self.high - self.low), dtype=z.dtype, device=z.device)
        return torch.where(inside, value, torch.full_like(value, -math.inf))

    def sample(self, b: int, dim: int, *, rng: torch.Generator | None = None,
               device: torch.device | str | None = None) -> torch.Tensor:
        u = torch.rand(b, dim, generator=rng, device=device)
        return self.low + (self.high - self.low) * u

    def __repr__(self) -> str:
        return f"UniformBox(low={self.low}, high={self.high})"
