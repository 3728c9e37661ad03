"""Log-likelihood of images under a GAN with Gaussian observation noise, by annealed importance sampling.

Paper 002 (Friedman & Weiss, sections 2.2 and 4, appendix B.1), after Wu et al. (2016) and Neal (2001). The
generator defines a density once noise is added to its output, x = G(z) + N(0, sigma2 I) over the D values of
an image, z ~ p(z) (standard normal by default):

    log p(x) = log integral p(z) N(x; G(z), sigma2 I) dz

AIS anneals from the prior pi_0 = p(z) to the posterior through pi_t(z) ∝ p(z) N(x; G(z), sigma2 I)^beta_t,
0 = beta_0 < beta_1 < ... < beta_T = 1 (a sigmoid schedule), with one Hamiltonian Monte Carlo transition that
leaves pi_t invariant per intermediate distribution:

    z_0 ~ p(z);   for t = 1..T:   log w += (beta_t - beta_{t-1}) log N(x; G(z_{t-1}), sigma2 I);   z_t ~ HMC_t(z_{t-1})

E[w] = p(x), so the log-mean-exp of the chains' log w is a *stochastic lower bound* on log p(x) (Jensen) that
tightens as T grows. Run the other way, from an exact posterior sample with the schedule reversed (possible on
simulated data, where x was generated from a known z), the same recursion has E[w_rev] = 1/p(x), so
-log-mean-exp(log w_rev) is a stochastic *upper* bound: bidirectional Monte Carlo (BDMC, Grosse et al. 2015).
The gap between the two bounds bounds the error of either.

HMC: momentum r ~ N(0, I), ``leapfrog`` = L leapfrog steps of size eps, Metropolis-Hastings accept/reject on the
Hamiltonian -log pi_t(z) + |r|^2 / 2 (non-finite proposals are rejected). The gradient at the current position
is carried in the state, so one HMC step costs L gradient evaluations (one forward and one backward of G each).
The step size follows Wu et al.'s reference code: it starts at 0.05; after every
step, eps <- 1.02 eps if the moving-average acceptance a exceeds 0.65, else 0.98 eps, clipped to [1e-4, 0.5];
then a <- 0.9 a + 0.1 mean(accepted), a starting at 0.65 (the step is decided on a before the update, as the
reference's simultaneous Theano updates do). Unlike the reference, which shares one step size across the
whole batch, each image has its own step size and acceptance average, computed over its live chains: images
never influence each other (a NaN in one image's chain cannot change another image's estimate), and an image
whose posterior is sharper gets a smaller step.

Everything is batched: the B images times ``chains`` chains form one (B * chains, n) tensor of latents, advanced
together (rows image-major: row b * chains + c is chain c of image b); the generator sees batches of that size.
"""

from __future__ import annotations

import math
import warnings
from typing import Callable, Literal, NamedTuple, Sequence

import torch
from torch import nn

from gandensity.numerics.priors import Prior, StandardNormal

__all__ = ["HMCState", "HMCInfo", "AISResult", "AISBounds", "sigmoid_schedule", "linear_schedule", "hmc_step",
           "ais_log_likelihood", "bdmc_upper_bound", "ais_bounds", "simulate", "gaussian_log_likelihood",
           "linear_gaussian_log_likelihood", "bits_per_dim", "log_mean_exp"]

Generator = Callable[[torch.Tensor], torch.Tensor]
LogProbFn = Callable[[torch.Tensor], "HMCState"]

STEP_SIZE = 0.05  # initial step size (paper 002, appendix B.1)
TARGET_ACCEPTANCE = 0.65
STEP_INCREASE, STEP_DECREASE = 1.02, 0.98
STEP_MIN, STEP_MAX = 1e-4, 0.5
ACCEPTANCE_DECAY = 0.9  # a <- 0.9 a + 0.1 mean(accept)


# ----------------------------------------------------------------------------------------------------------------
# HMC kernel


class HMCState(NamedTuple):
    """The state of N parallel HMC chains.

    Attributes:
        position: (N, n) latents.
        log_density: (N,) log of the (unnormalized) target at ``position``.
        grad: (N, n) gradient of ``log_density`` with respect to ``position``.
        aux: extra (N, ...) tensors that the log-density function computes along and that follow the
            chain (selected with the position on acceptance); :func:`ais_log_likelihood` keeps the prior and
            likelihood terms and their gradients there, to re-temper the state when beta changes.
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
             generator: torch.Generator | None = None) -> tuple[HMCState, HMCInfo]:
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
    q0 = state.position
    eps = torch.as_tensor(step_size, dtype=q0.dtype, device=q0.device)
    eps = eps.reshape(-1, 1) if eps.ndim else eps
    r0 = torch.randn(q0.shape, generator=generator, dtype=q0.dtype, device=q0.device)
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
    u = torch.rand(log_ratio.shape, generator=generator, dtype=log_ratio.dtype, device=log_ratio.device)
    accepted = torch.log1p(-u) < log_ratio  # 1 - u in (0, 1]: never log(0)
    new = HMCState(_select(accepted, proposal.position, state.position),
                   _select(accepted, proposal.log_density, state.log_density),
                   _select(accepted, proposal.grad, state.grad),
                   tuple(_select(accepted, a, b) for a, b in zip(proposal.aux, state.aux)))
    return new, HMCInfo(accepted, log_ratio.clamp(max=0).exp(), proposal)


# ----------------------------------------------------------------------------------------------------------------
# Schedules and the annealing loop


def sigmoid_schedule(steps: int, radius: float = 4.0) -> torch.Tensor:
    """The (steps + 1,) float64 betas of Wu et al.: s = sigmoid(linspace(-radius, radius, steps + 1)),
    beta = (s - s_0) / (s_T - s_0), so beta_0 = 0 and beta_steps = 1 exactly; dense near both ends."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    s = torch.sigmoid(torch.linspace(-radius, radius, steps + 1, dtype=torch.float64))
    beta = (s - s[0]) / (s[-1] - s[0])
    beta[0], beta[-1] = 0.0, 1.0
    return beta


def linear_schedule(steps: int) -> torch.Tensor:
    """(steps + 1,) float64 betas equally spaced from 0 to 1."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
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


class AISResult(NamedTuple):
    """What :func:`ais_log_likelihood` (and :func:`bdmc_upper_bound`) return with ``return_diagnostics=True``.

    Attributes:
        log_likelihood: (B,) float64 estimate of log p(x) in nats (a stochastic lower bound for the forward
            chain, an upper bound for the reverse chain); NaN for an image none of whose chains stayed finite.
        log_weights: (B, chains) float64 final log importance weights, including the Gaussian's normalizing
            constant. Forward chains: each estimates log p(x) (their log-mean-exp is ``log_likelihood``).
            Reverse chains: each estimates log 1/p(x) (``log_likelihood`` = -log-mean-exp). NaN for dead chains.
        live: (B, chains) bool, chains that stayed finite (dead chains, e.g. where G returned NaN, are left out
            of the estimate and of the step-size adaptation).
        acceptance: (B,) fraction of accepted HMC proposals over all steps and live chains.
        step_size: (B,) step size after the last adaptation.
        acceptance_trace: (steps, B) fraction of live chains accepted at each step.
        step_size_trace: (steps, B) the step size used at each step.
        ess: (B,) effective sample size of the chains' weights, (sum w)^2 / sum w^2, in [1, chains].
        betas: (steps + 1,) the schedule, in the order the chains ran through it.
        gradient_evaluations: forward + backward passes per chain row (steps * leapfrog + 1); times
            B * chains for the whole batch.
    """

    log_likelihood: torch.Tensor
    log_weights: torch.Tensor
    live: torch.Tensor
    acceptance: torch.Tensor
    step_size: torch.Tensor
    acceptance_trace: torch.Tensor
    step_size_trace: torch.Tensor
    ess: torch.Tensor
    betas: torch.Tensor
    gradient_evaluations: int


class AISBounds(NamedTuple):
    """What :func:`ais_bounds` returns: BDMC's sandwich of log p(x) on simulated data.

    Attributes:
        lower: (B,) forward AIS estimate (stochastic lower bound).
        upper: (B,) reverse AIS estimate from the true latent (stochastic upper bound).
        gap: (B,) upper - lower, nats; it shrinks to 0 as steps grow and bounds the error of both.
        forward, reverse: the two runs' :class:`AISResult`.
    """

    lower: torch.Tensor
    upper: torch.Tensor
    gap: torch.Tensor
    forward: AISResult
    reverse: AISResult


def _accumulation_dtype(device: torch.device) -> torch.dtype:
    return torch.float32 if device.type == "mps" else torch.float64  # MPS has no float64


def _anneal(generator: Generator, x: torch.Tensor, z0: torch.Tensor, betas: torch.Tensor, sigma2: float,
            prior: Prior, chains: int, leapfrog: int, step_size: float, adapt: bool,
            rng: torch.Generator | None) -> AISResult:
    """Run AIS along ``betas`` from ``z0`` ((B * chains, n), image-major) for the images ``x`` (B, ...).

    The log weights are those of the schedule's direction: sum_t (beta_t - beta_{t-1}) log N(x; G(z_{t-1}), sigma2).
    ``log_likelihood`` is their log-mean-exp if the schedule rises, minus it if it falls (reverse chain).
    """
    B, n, C = x.shape[0], z0.shape[1], chains
    acc_dtype = _accumulation_dtype(x.device)
    x_rows = x.reshape(B, -1).repeat_interleave(C, 0)  # (B * C, D)
    D = x_rows.shape[1]
    log_norm = -0.5 * D * math.log(2 * math.pi * sigma2)  # of N(x; G(z), sigma2 I)
    inv_sigma2 = 1.0 / sigma2

    def components(z: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """log p(z), the quadratic part of log N(x; G(z), sigma2 I), and their gradients; all (N,) or (N, n)."""
        with torch.enable_grad():
            z = z.detach().requires_grad_(True)
            if isinstance(prior, StandardNormal):  # closed form: one autograd pass fewer
                log_prior, grad_prior = prior.log_prob(z.detach()), -z.detach()
            else:
                log_prior = prior.log_prob(z)
                grad_prior = torch.autograd.grad(log_prior.sum(), z)[0] if log_prior.requires_grad \
                    else torch.zeros_like(z)
            residual = x_rows - generator(z).reshape(z.shape[0], -1)
            log_lik = -0.5 * inv_sigma2 * residual.pow(2).sum(1)
            grad_lik = torch.autograd.grad(log_lik.sum(), z)[0]
        return log_prior.detach(), log_lik.detach(), grad_prior, grad_lik

    def temper(aux: tuple[torch.Tensor, ...], position: torch.Tensor, beta: float) -> HMCState:
        log_prior, log_lik, grad_prior, grad_lik = aux
        # beta = 0 with log_lik = -inf must give the prior, not NaN
        tempered = log_prior + (beta * log_lik if beta > 0 else torch.zeros_like(log_lik))
        return HMCState(position, tempered, grad_prior + beta * grad_lik, aux)

    def target(beta: float) -> LogProbFn:
        return lambda z: temper(components(z), z, beta)

    b = betas.tolist()
    state = target(b[0])(z0)
    log_w = torch.zeros(B * C, dtype=acc_dtype, device=x.device)
    live = torch.isfinite(state.aux[1]) & torch.isfinite(state.grad).all(1)
    step = torch.full((B,), float(step_size), dtype=z0.dtype, device=x.device)
    avg_accept = torch.full((B,), TARGET_ACCEPTANCE, dtype=z0.dtype, device=x.device)
    accept_trace, step_trace, accepted_total = [], [], torch.zeros(B, dtype=acc_dtype, device=x.device)
    for t in range(1, len(b)):
        delta = b[t] - b[t - 1]
        if delta != 0:
            log_w = log_w + delta * state.aux[1].to(acc_dtype)
        state = temper(state.aux, state.position, b[t])
        step_trace.append(step)
        state, info = hmc_step(state, target(b[t]), step.repeat_interleave(C), leapfrog, rng)
        live_bc = live.view(B, C)
        n_live = live_bc.sum(1).clamp_min(1).to(step.dtype)
        mean_accept = (info.accepted.view(B, C) & live_bc).sum(1).to(step.dtype) / n_live
        accept_trace.append(mean_accept)
        accepted_total = accepted_total + mean_accept.to(acc_dtype)
        if adapt:
            step = torch.where(avg_accept > TARGET_ACCEPTANCE, step * STEP_INCREASE, step * STEP_DECREASE)
            step = step.clamp(STEP_MIN, STEP_MAX)
            avg_accept = ACCEPTANCE_DECAY * avg_accept + (1 - ACCEPTANCE_DECAY) * mean_accept

    log_w = log_w + (b[-1] - b[0]) * log_norm
    live = live & ~torch.isnan(log_w) & (log_w != math.inf)
    log_w = torch.where(live, log_w, torch.full_like(log_w, math.nan)).view(B, C)
    live = live.view(B, C)
    lme = log_mean_exp(log_w, live, dim=1)
    estimate = lme if b[-1] >= b[0] else -lme
    w = torch.where(live, (log_w - torch.where(live, log_w, -math.inf).amax(1, keepdim=True)).exp(),
                    torch.zeros_like(log_w))
    ess = w.sum(1).pow(2) / w.pow(2).sum(1)
    dead_images = (~live.any(1)).nonzero().flatten().tolist()
    if dead_images:
        warnings.warn(f"every chain of images {dead_images[:10]} became non-finite (the generator returned NaN or "
                      "inf there); their log-likelihood is NaN", RuntimeWarning, stacklevel=3)
    steps = len(b) - 1
    return AISResult(estimate, log_w, live, (accepted_total / steps), step.to(acc_dtype),
                     torch.stack(accept_trace).to(acc_dtype), torch.stack(step_trace).to(acc_dtype), ess,
                     betas, steps * leapfrog + 1)


# ----------------------------------------------------------------------------------------------------------------
# Validation shared with :mod:`gandensity.numerics.inversion`


def _check_generator(generator: Generator) -> None:
    if not callable(generator):
        raise TypeError(f"generator must be callable (B, n) -> (B, ...), got {type(generator).__name__}")
    # Batch norm in training mode couples the samples of a batch: G would not be a function of z alone.
    if isinstance(generator, nn.Module) and any(
            isinstance(m, nn.modules.batchnorm._BatchNorm) and m.training for m in generator.modules()):
        raise ValueError("the generator is in training mode and has batch-norm layers, so its output for one z "
                         "depends on the rest of the batch; call generator.eval() first")


def _latent_dim(generator: Generator, latent_dim: int | None) -> int:
    """n from ``latent_dim`` if given, else the generator's ``latent_dim`` (``z_dim``, ``nz``) or
    ``config.latent_dim`` attribute, else the ``in_features`` of its first ``nn.Linear`` (e.g. a Sequential
    starting with one); the output-shape check then runs G on a (1, n) latent."""
    if latent_dim is None:
        first_linear = next((m for m in generator.modules() if isinstance(m, nn.Linear)), None) \
            if isinstance(generator, nn.Module) else None
        for source in (*(getattr(generator, name, None) for name in ("latent_dim", "z_dim", "nz")),
                       getattr(getattr(generator, "config", None), "latent_dim", None),
                       first_linear.in_features if first_linear is not None else None):
            if isinstance(source, int) and not isinstance(source, bool):
                latent_dim = source
                break
        else:
            raise ValueError(f"cannot tell the latent dimension of {type(generator).__name__}: it has no "
                             "latent_dim or config.latent_dim attribute and no nn.Linear layer; pass latent_dim=n")
    if not isinstance(latent_dim, int) or latent_dim < 1:
        raise ValueError(f"latent_dim must be a positive int, got {latent_dim!r}")
    return latent_dim


def _latent_dtype(generator: Generator, x: torch.Tensor) -> torch.dtype:
    """The dtype the latents get: the generator's parameters' if it has any, else x's."""
    if isinstance(generator, nn.Module):
        param = next(generator.parameters(), None)
        if param is not None:
            if param.device != x.device:
                raise ValueError(f"x is on {x.device} but the generator's parameters are on {param.device}; "
                                 "move one of them")
            if param.is_floating_point():
                return param.dtype
    return x.dtype


def _check_images(x: torch.Tensor, name: str = "x") -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (B, ...) (a batch of images), "
                        f"got {type(x).__name__}")
    if x.ndim < 2 or x.shape[0] < 1:
        raise ValueError(f"{name} must have shape (B, ...) with B >= 1 (a batch of images), got shape "
                         f"{tuple(x.shape)}; for a single image pass x[None]")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    if not torch.isfinite(x).all():
        bad = (~torch.isfinite(x.reshape(x.shape[0], -1))).any(1).nonzero().flatten().tolist()
        raise ValueError(f"{name} contains NaN or inf in images {bad[:10]}; their likelihood is undefined")


def _check_output_shape(generator: Generator, x: torch.Tensor, n: int, dtype: torch.dtype) -> None:
    with torch.no_grad():
        try:
            out = generator(torch.zeros(1, n, dtype=dtype, device=x.device))
        except Exception as err:  # noqa: BLE001 - re-raised with the likely cause
            raise ValueError(f"the generator failed on a (1, {n}) latent ({type(err).__name__}: {err}); "
                             "is latent_dim right?") from err
    if not isinstance(out, torch.Tensor) or out.ndim < 1 or out.shape[0] != 1:
        raise ValueError("the generator must map a (B, n) batch of latents to a (B, ...) tensor; for B=1 it "
                         f"returned {type(out).__name__} of shape {tuple(getattr(out, 'shape', ()))}")
    if tuple(out.shape[1:]) != tuple(x.shape[1:]):
        raise ValueError(f"x has images of shape {tuple(x.shape[1:])} but the generator outputs "
                         f"{tuple(out.shape[1:])}: shape mismatch")


def _check_positive_int(**values: int) -> None:
    for name, v in values.items():
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")


def _check_sigma2(sigma2: float) -> float:
    if isinstance(sigma2, torch.Tensor):
        if sigma2.numel() != 1:
            raise ValueError(f"sigma2 must be one number (the same noise variance for every image), got a tensor "
                             f"of shape {tuple(sigma2.shape)}")
        sigma2 = sigma2.item()
    if isinstance(sigma2, bool) or not isinstance(sigma2, (int, float)):
        raise TypeError(f"sigma2 must be a positive number, got {type(sigma2).__name__}")
    if not (math.isfinite(sigma2) and sigma2 > 0):
        raise ValueError(f"sigma2 (the observation noise variance) must be finite and > 0, got {sigma2}")
    return float(sigma2)


def _schedule(schedule: Literal["sigmoid", "linear"] | torch.Tensor | Sequence[float], steps: int) -> torch.Tensor:
    if isinstance(schedule, str):
        if schedule == "sigmoid":
            return sigmoid_schedule(steps)
        if schedule == "linear":
            return linear_schedule(steps)
        raise ValueError(f"unknown schedule {schedule!r}; choose 'sigmoid', 'linear' or pass the betas")
    betas = torch.as_tensor(schedule, dtype=torch.float64).flatten()
    if betas.numel() != steps + 1:
        raise ValueError(f"an explicit schedule needs steps + 1 = {steps + 1} betas, got {betas.numel()}")
    if betas[0] != 0 or betas[-1] != 1 or (betas.diff() < 0).any():
        raise ValueError("an explicit schedule must rise (non-decreasing) from beta_0 = 0 to beta_T = 1")
    return betas


def _check_common(generator: Generator, x: torch.Tensor, sigma2: float, steps: int, chains: int, leapfrog: int,
                  step_size: float, latent_dim: int | None) -> tuple[int, torch.dtype, float]:
    _check_generator(generator)
    _check_images(x)
    sigma2 = _check_sigma2(sigma2)
    _check_positive_int(steps=steps, chains=chains, leapfrog=leapfrog)
    if not (isinstance(step_size, (int, float)) and STEP_MIN <= step_size <= STEP_MAX):
        raise ValueError(f"step_size must be in [{STEP_MIN}, {STEP_MAX}], got {step_size!r}")
    n = _latent_dim(generator, latent_dim)
    dtype = _latent_dtype(generator, x)
    _check_output_shape(generator, x, n, dtype)
    return n, dtype, sigma2


def _rng(seed: int | None, device: torch.device) -> torch.Generator | None:
    return None if seed is None else torch.Generator(device=device).manual_seed(seed)


# ----------------------------------------------------------------------------------------------------------------
# Public API


def ais_log_likelihood(generator: Generator, x: torch.Tensor, *, sigma2: float, steps: int = 500, chains: int = 4,
                       leapfrog: int = 10, prior: Prior | None = None, latent_dim: int | None = None,
                       step_size: float = STEP_SIZE, adapt_step_size: bool = True,
                       schedule: Literal["sigmoid", "linear"] | torch.Tensor = "sigmoid", seed: int | None = None,
                       return_diagnostics: bool = False) -> torch.Tensor | AISResult:
    """AIS estimate of log p(x) under x = G(z) + N(0, sigma2 I), z ~ prior (paper 002, section 4.1).

    Args:
        generator: maps (N, n) latents to (N, ...) images (an ``nn.Module`` with batch norm must be in eval
            mode). It is called on batches of B * chains rows, image-major (row b * chains + c is chain c of
            image b).
        x: (B, ...) images, same per-image shape as the generator's output and on the same scale (the DCGAN's
            tanh output is in [-1, 1]).
        sigma2: observation noise variance (> 0), the same for every image and pixel.
        steps: T, number of intermediate distributions (one HMC step each); the paper uses 500.
        chains: independent AIS chains per image, combined by log-mean-exp; the paper uses 4.
        leapfrog: L, leapfrog steps per HMC step; the paper uses 10. Cost: about steps * leapfrog forward +
            backward passes of G per chain.
        prior: latent distribution with ``log_prob`` and ``sample``; default standard normal.
        latent_dim: n; if omitted, read from ``generator.latent_dim`` (or ``z_dim``, ``nz``),
            ``generator.config.latent_dim``, or the ``in_features`` of the generator's first ``nn.Linear``.
        step_size: initial leapfrog step (0.05 as in the paper), in [1e-4, 0.5].
        adapt_step_size: adapt the step towards 0.65 acceptance (x1.02 / x0.98 a step, clipped to
            [1e-4, 0.5]); ``False`` keeps it fixed (for tests and ablations).
        schedule: ``"sigmoid"`` (Wu et al., default), ``"linear"``, or explicit (steps + 1,) betas from 0 to 1.
        seed: seeds the prior draws, momenta and accept/reject uniforms (on x's device); ``None`` uses the
            global RNG.
        return_diagnostics: return an :class:`AISResult` instead of the (B,) tensor.

    Returns:
        (B,) float64 tensor of log p(x) estimates in nats (a stochastic lower bound that tightens as ``steps``
        grows), or :class:`AISResult`. An image whose chains all turn non-finite gets NaN (with a warning);
        other images are unaffected. Convert to bits/dim with :func:`bits_per_dim`. No autograd graph.
    """
    n, dtype, sigma2 = _check_common(generator, x, sigma2, steps, chains, leapfrog, step_size, latent_dim)
    prior = prior if prior is not None else StandardNormal()
    betas = _schedule(schedule, steps)
    rng = _rng(seed, x.device)
    B = x.shape[0]
    with torch.no_grad():
        z0 = prior.sample(B * chains, n, generator=rng, device=x.device).to(dtype)
        result = _anneal(generator, x.to(dtype), z0, betas, sigma2, prior, chains, leapfrog, step_size,
                         adapt_step_size, rng)
    return result if return_diagnostics else result.log_likelihood


def _check_z_true(z_true: torch.Tensor, x: torch.Tensor, n: int) -> None:
    if not isinstance(z_true, torch.Tensor) or z_true.ndim != 2 or not z_true.is_floating_point():
        raise ValueError(f"z_true must be a floating-point tensor of shape (B, n), got "
                         f"{type(z_true).__name__} {tuple(getattr(z_true, 'shape', ()))}")
    if z_true.shape != (x.shape[0], n):
        raise ValueError(f"z_true must have shape (B, n) = {(x.shape[0], n)} (one latent per image of x), "
                         f"got {tuple(z_true.shape)}")
    if not torch.isfinite(z_true).all():
        raise ValueError("z_true contains NaN or inf")


def bdmc_upper_bound(generator: Generator, z_true: torch.Tensor, x: torch.Tensor, *, sigma2: float, steps: int = 500,
                     chains: int = 4, leapfrog: int = 10, prior: Prior | None = None,
                     latent_dim: int | None = None, step_size: float = STEP_SIZE, adapt_step_size: bool = True,
                     schedule: Literal["sigmoid", "linear"] | torch.Tensor = "sigmoid", seed: int | None = None,
                     return_diagnostics: bool = False) -> torch.Tensor | AISResult:
    """Reverse AIS (BDMC, Grosse et al. 2015): a stochastic upper bound on log p(x) for *simulated* data.

    Valid only when each image was generated from its latent with the same noise, x = G(z_true) + N(0, sigma2 I),
    z_true ~ prior (as :func:`simulate` does): then z_true is an exact sample of the posterior p(z | x), the
    chains start there (all ``chains`` of an image from the same z_true) and anneal beta from 1 to 0. The
    reverse weights estimate 1/p(x) without bias, so -log-mean-exp of their logs is an upper bound in
    expectation. For real images no exact posterior sample exists and this bound does not apply.

    Arguments as :func:`ais_log_likelihood`, plus ``z_true`` (B, n). Returns (B,) float64 or :class:`AISResult`
    (``log_weights`` are the reverse log weights, estimates of log 1/p(x); ``betas`` run from 1 to 0).
    """
    n, dtype, sigma2 = _check_common(generator, x, sigma2, steps, chains, leapfrog, step_size, latent_dim)
    _check_z_true(z_true, x, n)
    prior = prior if prior is not None else StandardNormal()
    betas = _schedule(schedule, steps).flip(0)
    rng = _rng(seed, x.device)
    with torch.no_grad():
        z0 = z_true.to(device=x.device, dtype=dtype).repeat_interleave(chains, 0)
        result = _anneal(generator, x.to(dtype), z0, betas, sigma2, prior, chains, leapfrog, step_size,
                         adapt_step_size, rng)
    return result if return_diagnostics else result.log_likelihood


def ais_bounds(generator: Generator, z_true: torch.Tensor, x: torch.Tensor, *, sigma2: float, steps: int = 500,
               chains: int = 4, leapfrog: int = 10, prior: Prior | None = None, latent_dim: int | None = None,
               step_size: float = STEP_SIZE, adapt_step_size: bool = True,
               schedule: Literal["sigmoid", "linear"] | torch.Tensor = "sigmoid",
               seed: int | None = None) -> AISBounds:
    """Forward AIS (lower bound) and reverse AIS from ``z_true`` (upper bound) on simulated data: BDMC.

    The true log p(x) lies between ``lower`` and ``upper`` in expectation; ``gap`` = upper - lower shrinks as
    ``steps`` grows and is an upper bound on the error of the forward estimate on data like this. The two runs
    use independent random numbers (seeds ``seed`` and ``seed + 1``). Arguments as :func:`bdmc_upper_bound`.
    """
    kwargs = dict(sigma2=sigma2, steps=steps, chains=chains, leapfrog=leapfrog, prior=prior, latent_dim=latent_dim,
                  step_size=step_size, adapt_step_size=adapt_step_size, schedule=schedule, return_diagnostics=True)
    reverse = bdmc_upper_bound(generator, z_true, x, seed=None if seed is None else seed + 1, **kwargs)
    forward = ais_log_likelihood(generator, x, seed=seed, **kwargs)
    lower, upper = forward.log_likelihood, reverse.log_likelihood
    return AISBounds(lower, upper, upper - lower, forward, reverse)


def simulate(generator: Generator, b: int, *, sigma2: float, prior: Prior | None = None,
             latent_dim: int | None = None, seed: int | None = None,
             device: torch.device | str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw (z, x) from the noisy model: z ~ prior (b, n), x = G(z) + N(0, sigma2 I) (b, ...): data for BDMC."""
    _check_generator(generator)
    sigma2 = _check_sigma2(sigma2)
    _check_positive_int(b=b)
    n = _latent_dim(generator, latent_dim)
    prior = prior if prior is not None else StandardNormal()
    if device is None and isinstance(generator, nn.Module):
        param = next(generator.parameters(), None)
        device = param.device if param is not None else None
    device = torch.device(device or "cpu")
    rng = _rng(seed, device)
    with torch.no_grad():
        z = prior.sample(b, n, generator=rng, device=device)
        if isinstance(generator, nn.Module):
            param = next(generator.parameters(), None)
            if param is not None and param.is_floating_point():
                z = z.to(param.dtype)
        mean = generator(z)
        noise = torch.randn(mean.shape, generator=rng, dtype=mean.dtype, device=mean.device)
        return z, mean + math.sqrt(sigma2) * noise


def gaussian_log_likelihood(generator: Generator, z: torch.Tensor, x: torch.Tensor, *,
                            sigma2: float) -> torch.Tensor:
    """log N(x; G(z), sigma2 I) for paired rows of z (B, n) and x (B, ...) -> (B,): the integrand's likelihood."""
    sigma2 = _check_sigma2(sigma2)
    with torch.no_grad():
        r = (x - generator(z)).reshape(x.shape[0], -1)
    return -0.5 * r.pow(2).sum(1) / sigma2 - 0.5 * r.shape[1] * math.log(2 * math.pi * sigma2)


def linear_gaussian_log_likelihood(weight: torch.Tensor, bias: torch.Tensor, x: torch.Tensor, *,
                                   sigma2: float) -> torch.Tensor:
    """Exact log p(x) for a linear generator G(z) = W z + b, z ~ N(0, I): x ~ N(b, W W^T + sigma2 I).

    Args:
        weight: (D, n) W.   bias: (D,) b.   x: (B, D) (or (B, ...) with D values per image).
    Returns:
        (B,) float64, by a Cholesky factorization of the D x D covariance: the reference for AIS.
    """
    sigma2 = _check_sigma2(sigma2)
    w, b = weight.double(), bias.double().reshape(-1)
    xs = x.double().reshape(x.shape[0], -1)
    D = w.shape[0]
    chol = torch.linalg.cholesky(w @ w.T + sigma2 * torch.eye(D, dtype=torch.float64, device=w.device))
    white = torch.linalg.solve_triangular(chol, (xs - b).T, upper=False)  # (D, B)
    return (-0.5 * white.pow(2).sum(0) - chol.diagonal().log().sum() - 0.5 * D * math.log(2 * math.pi))


def bits_per_dim(log_likelihood: torch.Tensor | float, dims: int, *, scale: float,
                 levels: int = 256) -> torch.Tensor:
    """Convert a continuous log-density of images (nats) to discrete bits per dimension.

    Convention (uniform dequantization, Theis et al. 2016): an 8-bit value k in {0, ..., levels - 1} is the
    interval [lo + k Delta, lo + (k + 1) Delta) of the model's continuous scale, Delta = scale / levels, where
    ``scale`` = hi - lo is the width of the data range in model units: ``scale=2`` for images mapped to
    [-1, 1] as x = -1 + 2 (k + u) / 256 (the DCGAN's tanh range), ``scale=1`` for [0, 1]. (For the map
    x = k / 127.5 - 1, whose levels are 2/255 apart, pass ``scale=2 * 256 / 255``.) The probability of the
    discrete image is about p(x) Delta^D (the density is nearly constant over a bin: sigma >> Delta), so

        bpd = -(log p(x) + D log Delta) / (D ln 2),     Delta = scale / levels

    e.g. for [-1, 1]: bpd = -log p(x) / (D ln 2) + log2(128). Lower is better; a uniform density over the data
    range (p = scale^-D) gives exactly log2(levels) = 8 bits. Paper 002's Table 1 reports "LL (bits/dim)",
    which is -bpd (e.g. -6.68 for BigGAN-DiffAug on CIFAR-10).

    Args:
        log_likelihood: log p(x) in nats, a float or a tensor of any shape (e.g. (B,) from
            :func:`ais_log_likelihood`).
        dims: D, the number of values per image (channels * height * width).
        scale: width of the data range in the model's units (see above); required so the convention is explicit.
        levels: quantization levels per value (256 for 8-bit images).

    Returns:
        bits per dimension, float64, shaped like ``log_likelihood``.
    """
    _check_positive_int(dims=dims, levels=levels)
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a positive number (2 for data in [-1, 1], 1 for [0, 1]), got {scale!r}")
    ll = torch.as_tensor(log_likelihood, dtype=torch.float64)
    log_delta = math.log(scale / levels)
    return -(ll + dims * log_delta) / (dims * math.log(2))
