"""One Metropolis-adjusted Hamiltonian Monte Carlo transition of N parallel chains, as a pure kernel.

The kernel follows BlackJAX's shape: a state (position, log-density, gradient) and a function ``hmc_step(state,
log_prob_fn, step_size, leapfrog, rng) -> (new_state, info)`` with no hidden state; step-size adaptation and
tempering are the caller's (:func:`gandensity.numerics.ais.ais_log_likelihood` does both).

Momentum r ~ N(0, I), L leapfrog steps of size eps, Metropolis-Hastings accept/reject on the Hamiltonian
H(q, r) = -log pi(q) + |r|^2 / 2 (non-finite proposals are rejected). The gradient at the current position is
carried in the state, so one step costs L evaluations of ``log_prob_fn``.
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import torch

from gandensity.numerics._checks import check_positive_int

__all__ = ["HMCState", "HMCInfo", "hmc_step"]

LogProbFn = Callable[[torch.Tensor], "HMCState"]


class HMCState(NamedTuple):
    """The state of N parallel HMC chains.

    Attributes:
        position: (N, n) latents.
        log_density: (N,) log of the (unnormalized) target at ``position``.
        grad: (N, n) gradient of ``log_density`` with respect to ``position``.
        aux: extra (N, ...) tensors that the log-density function computes along and that follow the
            chain (selected with the position on acceptance); :func:`gandensity.numerics.ais.ais_log_likelihood`
            keeps the prior and likelihood terms and their gradients there, to re-temper the state when beta
            changes.
    """

    position: torch.Tensor
    log_density: torch.Tensor
    grad: torch.Tensor
    aux: tuple[torch.Tensor, ...] = ()


class HMCInfo(NamedTuple):
    """What one :func:`hmc_step` did, per chain.

    Attributes:
        accepted: (N,) bool, the proposal was accepted.
        acceptance_probability: (N,) min(1, exp(-Delta H)); 0 for a non-finite proposal.
        proposal: the :class:`HMCState` at the end of the leapfrog trajectory (before accept/reject).
    """

    accepted: torch.Tensor
    acceptance_probability: torch.Tensor
    proposal: HMCState


def _select(mask: torch.Tensor, new: torch.Tensor, old: torch.Tensor) -> torch.Tensor:
    return torch.where(mask.view(-1, *([1] * (new.ndim - 1))), new, old)


def hmc_step(state: HMCState, log_prob_fn: LogProbFn, step_size: torch.Tensor | float, leapfrog: int,
             rng: torch.Generator | None = None) -> tuple[HMCState, HMCInfo]:
    """One Metropolis-adjusted HMC transition of N chains (a pure function of its inputs and the RNG).

    Args:
        state: current :class:`HMCState`; ``log_density`` and ``grad`` must be those of ``log_prob_fn`` at
            ``position``.
        log_prob_fn: maps (N, n) positions to the :class:`HMCState` there (log-density, gradient, aux).
        step_size: the leapfrog step eps: a float, or a (N,) tensor (one step size per chain).
        leapfrog: L >= 1 leapfrog steps (L evaluations of ``log_prob_fn``).
        generator: the ``torch.Generator`` for the momentum and the accept/reject uniforms (on the state's
            device); ``None`` uses the global RNG.

    Returns:
        ``(new_state, info)``: chains whose proposal is rejected (or non-finite) keep their state exactly.
    """
    check_positive_int(leapfrog=leapfrog)
    q0 = state.position
    if isinstance(step_size, bool) or not isinstance(step_size, (int, float, torch.Tensor)):
        raise TypeError(f"step_size must be a positive number or a (N,) tensor of them, got {type(step_size).__name__}")
    eps = torch.as_tensor(step_size, dtype=q0.dtype, device=q0.device)
    if eps.ndim > 1 or (eps.ndim == 1 and eps.shape[0] != q0.shape[0]):
        raise ValueError(f"step_size must be a number or a (N,) = ({q0.shape[0]},) tensor (one per chain), got shape "
                         f"{tuple(eps.shape)}")
    if not bool(((eps > 0) & torch.isfinite(eps)).all()):
        raise ValueError(f"step_size must be finite and > 0 (every entry), got {step_size!r}; pass e.g. 0.05")
    eps = eps.reshape(-1, 1) if eps.ndim else eps
    r0 = torch.randn(q0.shape, generator=rng, dtype=q0.dtype, device=q0.device)
    r = r0 + 0.5 * eps * state.grad
    q, proposal = q0, state
    for i in range(leapfrog):
        q = q + eps * r
        proposal = log_prob_fn(q)
        if i < leapfrog - 1:
            r = r + eps * proposal.grad
    r = r + 0.5 * eps * proposal.grad
    log_ratio = (proposal.log_density - 0.5 * r.pow(2).sum(1)) - (state.log_density - 0.5 * r0.pow(2).sum(1))
    finite = (torch.isfinite(proposal.log_density) & torch.isfinite(log_ratio) & torch.isfinite(q).all(1)
              & torch.isfinite(proposal.grad).all(1))
    log_ratio = torch.where(finite, log_ratio, torch.full_like(log_ratio, -math.inf))
    u = torch.rand(log_ratio.shape, generator=rng, dtype=log_ratio.dtype, device=log_ratio.device)
    accepted = torch.log1p(-u) < log_ratio  # 1 - u in (0, 1]: never log(0)
    new = HMCState(_select(accepted, proposal.position, state.position),
                   _select(accepted, proposal.log_density, state.log_density),
                   _select(accepted, proposal.grad, state.grad),
                   tuple(_select(accepted, a, b) for a, b in zip(proposal.aux, state.aux)))
    return new, HMCInfo(accepted, log_ratio.clamp(max=0).exp(), proposal)
