"""Annealing schedules 0 = beta_0 < ... < beta_T = 1 and the log-mean-exp that combines importance weights.

Annealed importance sampling (:mod:`gandensity.numerics.ais`) moves through the tempered distributions
pi_t(z) ∝ p(z) L(z)^beta_t; the schedule decides where the T intermediate distributions sit. The estimate of
the normalizer from C chains with log weights log w_c is log((1/C) sum_c w_c), computed stably as a
log-sum-exp.
"""

from __future__ import annotations

import math

import torch

__all__ = ["sigmoid_schedule", "linear_schedule", "log_mean_exp"]


def _check_steps(steps: int) -> None:
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps!r}; pass the number of intermediate distributions T, "
                         "an int >= 1")


def sigmoid_schedule(steps: int, radius: float = 4.0) -> torch.Tensor:
    """The (steps + 1,) float64 betas of Wu et al.: s = sigmoid(linspace(-radius, radius, steps + 1)),
    beta = (s - s_0) / (s_T - s_0), so beta_0 = 0 and beta_steps = 1 exactly; dense near both ends."""
    _check_steps(steps)
    if isinstance(radius, bool) or not isinstance(radius, (int, float)) or not (math.isfinite(radius) and radius > 0):
        raise ValueError(f"radius must be a finite number > 0 (the sigmoid's range is [-radius, radius]), got "
                         f"{radius!r}; pass e.g. radius=4.0 (Wu et al.)")
    s = torch.sigmoid(torch.linspace(-radius, radius, steps + 1, dtype=torch.float64))
    beta = (s - s[0]) / (s[-1] - s[0])
    beta[0], beta[-1] = 0.0, 1.0
    return beta


def linear_schedule(steps: int) -> torch.Tensor:
    """(steps + 1,) float64 betas equally spaced from 0 to 1."""
    _check_steps(steps)
    return torch.linspace(0.0, 1.0, steps + 1, dtype=torch.float64)


def log_mean_exp(values: torch.Tensor, mask: torch.Tensor | None = None, dim: int = -1) -> torch.Tensor:
    """log mean exp of ``values`` along ``dim`` over the entries where ``mask`` is True (all if ``None``);
    NaN where no entry is selected."""
    if mask is None:
        mask = torch.ones_like(values, dtype=torch.bool)
    masked = torch.where(mask, values, torch.full_like(values, -math.inf))
    count = mask.sum(dim)
    out = torch.logsumexp(masked, dim) - count.to(values.dtype).log()
    return torch.where(count > 0, out, torch.full_like(out, math.nan))
