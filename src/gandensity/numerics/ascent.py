"""Likelihood maximization in latent space by spectral backpropagation (paper 001, section 4).

Starting from latents z_0, ascend log p(G(z)) = log p(z) - 1/2 log det M(z) with M = J^T J, where the gradient of
the log-determinant comes from the stochastic estimator (:func:`gandensity.numerics.spectral.stochastic_logdet`), never from
the Jacobian. Along the way, at recorded iterations, the exact log-density and the extreme eigenvalues of M are
computed from the full Jacobian, to show what the ascent does to the image and to the conditioning of M.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import torch

from gandensity.numerics.priors import Prior, StandardNormal, UniformBox
from gandensity.numerics.spectral import exact_metric, metric_matvec, stochastic_logdet

__all__ = ["AscentTrace", "maximize_log_density"]


class AscentTrace(NamedTuple):
    """The recorded states of a batch of ascents (R recorded iterations, B latents, n latent dimensions).

    Attributes:
        steps: (R,) iteration numbers at which the state was recorded (0 = the start).
        z: (R, B, n) latents.
        images: (R, B, ...) generated images G(z), on the CPU.
        log_density: (R, B) exact log p(G(z)) (float64, from the full Jacobian).
        lambda_min, lambda_max: (R, B) extreme eigenvalues of M = J^T J.
        estimate: (steps, B) the stochastic estimate of log p(G(z)) at every iteration (what was ascended).
    """

    steps: torch.Tensor
    z: torch.Tensor
    images: torch.Tensor
    log_density: torch.Tensor
    lambda_min: torch.Tensor
    lambda_max: torch.Tensor
    estimate: torch.Tensor


def _record(generator: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor,
            prior: Prior) -> tuple[torch.Tensor, ...]:
    with torch.no_grad():
        images = generator(z).cpu()
    eigenvalues = torch.linalg.eigvalsh(exact_metric(generator, z.detach())).cpu()  # (B, n), ascending
    log_density = prior.log_prob(z.detach().double()).cpu() - 0.5 * eigenvalues.log().sum(-1)
    # clone: on the CPU .cpu() is a view of z, which the optimizer goes on to change in place
    return z.detach().cpu().clone(), images, log_density, eigenvalues[:, 0], eigenvalues[:, -1]


def maximize_log_density(generator: Callable[[torch.Tensor], torch.Tensor], z0: torch.Tensor, *, steps: int,
                         lr: float = 0.01, record_every: int = 10, prior: Prior | None = None, order: int = 5,
                         probes: int = 10, power_iters: int = 10, g: float = 1.2, eps: float = 1e-2,
                         seed: int = 0) -> AscentTrace:
    """Ascend log p(G(z)) from each row of ``z0`` (B, n) with Adam and spectral backpropagation.

    Args:
        generator: maps (B, n) to (B, ...); in eval mode, its parameters are not changed.
        z0: (B, n) starting latents.
        steps: number of Adam steps.
        lr: Adam's step size on z.
        record_every: record the exact state every this many steps (and at the first and the last).
        prior: the latent prior (default standard normal); for :class:`UniformBox` the latents are projected
            back into the box after every step (paper 001 uses the uniform prior on [-1, 1]^n).
        order, probes, power_iters, g, eps: the estimator's (m, p, t, g, eps); the defaults are those of paper
            001's Fig. 4 (c, d).
        seed: probes of step k are drawn with seed + k.

    Returns:
        :class:`AscentTrace`.
    """
    if not isinstance(z0, torch.Tensor) or z0.ndim != 2:
        raise ValueError(f"z0 must be a (B, n) tensor of latents, got shape {tuple(getattr(z0, 'shape', ()))}")
    if steps < 1 or record_every < 1:
        raise ValueError(f"steps and record_every must be >= 1, got {steps} and {record_every}")
    prior = prior if prior is not None else StandardNormal()
    n = z0.shape[1]
    z = z0.detach().clone().requires_grad_()
    optimizer = torch.optim.Adam([z], lr=lr)
    records, recorded_steps, estimates = [_record(generator, z, prior)], [0], []
    for step in range(1, steps + 1):
        logdet = stochastic_logdet(metric_matvec(generator, z), n, order=order, probes=probes,
                                   power_iters=power_iters, g=g, eps=eps, seed=seed + step)
        log_density = prior.log_prob(z) - 0.5 * logdet  # (B,)
        if not torch.isfinite(log_density).all():
            raise FloatingPointError(f"the log-density estimate became non-finite at step {step}; lower lr "
                                     f"(now {lr}) or raise eps (now {eps})")
        optimizer.zero_grad()
        (-log_density.sum()).backward()
        optimizer.step()
        if isinstance(prior, UniformBox):
            with torch.no_grad():
                z.clamp_(prior.low, prior.high)
        estimates.append(log_density.detach().cpu())
        if step % record_every == 0 or step == steps:
            records.append(_record(generator, z, prior))
            recorded_steps.append(step)
    z_r, images, exact, lam_min, lam_max = (torch.stack(t) for t in zip(*records))
    return AscentTrace(torch.tensor(recorded_steps), z_r, images, exact, lam_min, lam_max, torch.stack(estimates))
