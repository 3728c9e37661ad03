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

HMC is the kernel of :mod:`gandensity.numerics.hmc` (``leapfrog`` = L leapfrog steps of size eps, one forward
and one backward of G each); the schedules and the log-mean-exp are those of :mod:`gandensity.numerics.annealing`.
The step size follows Wu et al.'s reference code: it starts at 0.05; after every
step, eps <- 1.02 eps if the moving-average acceptance a exceeds 0.65, else 0.98 eps, clipped to [1e-4, 0.5];
then a <- 0.9 a + 0.1 mean(accepted), a starting at 0.65 (the step is decided on a before the update, as the
reference's simultaneous Theano updates do). Unlike the reference, which shares one step size across the
whole batch, each image has its own step size and acceptance average, computed over its live chains: images
never influence each other (a NaN in one image's chain cannot change another image's estimate), and an image
whose posterior is sharper gets a smaller step.

Everything is batched: the B images times ``chains`` chains form one (B * chains, n) tensor of latents, advanced
together (rows image-major: row b * chains + c is chain c of image b). The generator sees batches of at most
``chunk`` of those rows (its activations and autograd graph are what grows with the batch); the chains' state,
the step sizes and every random number are those of all rows at once, so the result does not depend on ``chunk``
beyond the generator's own rounding, and with one chunk the generator call is the unchunked one.
"""

from __future__ import annotations

import math
import warnings
from typing import Literal, NamedTuple, Sequence

import torch
from torch import nn

from gandensity.numerics import annealing, hmc
from gandensity.numerics._checks import (Generator, check_chunk, check_generator, check_images, check_output_shape,
                                         check_positive_int, check_prior, check_sigma2, infer_latent_dim,
                                         latent_dtype, seeded_rng)
from gandensity.numerics.priors import Prior, StandardNormal

__all__ = ["AISResult", "AISBounds", "ais_log_likelihood", "bdmc_upper_bound", "ais_bounds", "simulate",
           "bits_per_dim"]

STEP_SIZE = 0.05  # initial step size (paper 002, appendix B.1)
TARGET_ACCEPTANCE = 0.65
STEP_INCREASE, STEP_DECREASE = 1.02, 0.98
STEP_MIN, STEP_MAX = 1e-4, 0.5
ACCEPTANCE_DECAY = 0.9  # a <- 0.9 a + 0.1 mean(accept)
# Rows (image x chain pairs) per generator call by default: bounds memory at that many rows' activations and graph.
# The paper profile's largest AIS call (1000 images x 4 chains) fits in one chunk, so default runs are unchunked.
CHUNK = 4096


# ----------------------------------------------------------------------------------------------------------------
# Results and the annealing loop


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
            rng: torch.Generator | None, chunk: int | None = None) -> AISResult:
    """Run AIS along ``betas`` from ``z0`` ((B * chains, n), image-major) for the images ``x`` (B, ...).

    The log weights are those of the schedule's direction: sum_t (beta_t - beta_{t-1}) log N(x; G(z_{t-1}), sigma2).
    ``log_likelihood`` is their log-mean-exp if the schedule rises, minus it if it falls (reverse chain).
    The generator is called on at most ``chunk`` rows at a time (``None``: all B * chains rows at once).
    """
    B, n, C = x.shape[0], z0.shape[1], chains
    N = B * C
    acc_dtype = _accumulation_dtype(x.device)
    x_flat = x.reshape(B, -1)
    D = x_flat.shape[1]
    size = N if chunk is None else min(chunk, N)
    # (start, end, the image of each row) of each chunk: the (B * C, D) repeated images are never formed whole
    spans = [(s, min(s + size, N), torch.arange(s, min(s + size, N), device=x.device) // C)
             for s in range(0, N, size)]
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
            log_lik, grad_lik = [], []
            for start, end, image in spans:
                zc = z.detach()[start:end].requires_grad_(True)
                residual = x_flat.index_select(0, image) - generator(zc).reshape(end - start, -1)
                part = -0.5 * inv_sigma2 * residual.pow(2).sum(1)
                grad_lik.append(torch.autograd.grad(part.sum(), zc)[0])
                log_lik.append(part.detach())
        return log_prior.detach(), torch.cat(log_lik), grad_prior, torch.cat(grad_lik)

    def temper(aux: tuple[torch.Tensor, ...], position: torch.Tensor, beta: float) -> hmc.HMCState:
        log_prior, log_lik, grad_prior, grad_lik = aux
        # beta = 0 with log_lik = -inf must give the prior, not NaN
        tempered = log_prior + (beta * log_lik if beta > 0 else torch.zeros_like(log_lik))
        return hmc.HMCState(position, tempered, grad_prior + beta * grad_lik, aux)

    def target(beta: float) -> hmc.LogProbFn:
        return lambda z: temper(components(z), z, beta)

    b = betas.tolist()
    state = target(b[0])(z0)
    log_w = torch.zeros(N, dtype=acc_dtype, device=x.device)
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
        state, info = hmc.hmc_step(state, target(b[t]), step.repeat_interleave(C), leapfrog, rng)
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
    lme = annealing.log_mean_exp(log_w, live, dim=1)
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
# Arguments


def _schedule(schedule: Literal["sigmoid", "linear"] | torch.Tensor | Sequence[float], steps: int) -> torch.Tensor:
    if isinstance(schedule, str):
        if schedule == "sigmoid":
            return annealing.sigmoid_schedule(steps)
        if schedule == "linear":
            return annealing.linear_schedule(steps)
        raise ValueError(f"unknown schedule {schedule!r}; choose 'sigmoid', 'linear' or pass the betas")
    fix = f"pass steps + 1 = {steps + 1} finite betas rising from 0 to 1, e.g. annealing.sigmoid_schedule({steps})"
    try:
        betas = torch.as_tensor(schedule, dtype=torch.float64).flatten()
    except (TypeError, ValueError, RuntimeError) as err:
        raise TypeError(f"schedule must be 'sigmoid', 'linear' or a sequence of betas, got "
                        f"{type(schedule).__name__}; {fix}") from err
    if betas.numel() != steps + 1:
        raise ValueError(f"an explicit schedule needs steps + 1 = {steps + 1} betas, got {betas.numel()}; {fix}")
    bad = (~torch.isfinite(betas)).nonzero().flatten().tolist()
    if bad:
        raise ValueError(f"schedule (the betas) contains NaN or inf at positions {bad[:10]}; {fix}")
    if betas[0] != 0 or betas[-1] != 1:
        raise ValueError(f"schedule (the betas) must start at beta_0 = 0 and end at beta_T = 1, got beta_0 = "
                         f"{betas[0].item()!r} and beta_T = {betas[-1].item()!r}; {fix}")
    falls = (betas.diff() < 0).nonzero().flatten().tolist()
    if falls:
        raise ValueError(f"schedule (the betas) must rise (non-decreasing) from beta_0 = 0 to beta_T = 1, but it "
                         f"falls after positions {falls[:10]}; {fix}")
    return betas


def _check_common(generator: Generator, x: torch.Tensor, sigma2: float, steps: int, chains: int, leapfrog: int,
                  step_size: float, latent_dim: int | None, chunk: int | None) -> tuple[int, torch.dtype, float]:
    check_generator(generator)
    check_images(x)
    sigma2 = check_sigma2(sigma2)
    check_positive_int(steps=steps, chains=chains, leapfrog=leapfrog)
    check_chunk(chunk, "rows of latents (image x chain pairs) per generator call")
    if isinstance(step_size, bool) or not (isinstance(step_size, (int, float)) and STEP_MIN <= step_size <= STEP_MAX):
        raise ValueError(f"step_size must be in [{STEP_MIN}, {STEP_MAX}], got {step_size!r}")
    n = infer_latent_dim(generator, latent_dim)
    dtype = latent_dtype(generator, x)
    check_output_shape(generator, x, n, dtype)
    return n, dtype, sigma2


# ----------------------------------------------------------------------------------------------------------------
# Public API


def ais_log_likelihood(generator: Generator, x: torch.Tensor, *, sigma2: float, steps: int = 500, chains: int = 4,
                       leapfrog: int = 10, prior: Prior | None = None, latent_dim: int | None = None,
                       step_size: float = STEP_SIZE, adapt_step_size: bool = True,
                       schedule: Literal["sigmoid", "linear"] | torch.Tensor = "sigmoid", seed: int | None = None,
                       return_diagnostics: bool = False, chunk: int | None = CHUNK) -> torch.Tensor | AISResult:
    """AIS estimate of log p(x) under x = G(z) + N(0, sigma2 I), z ~ prior (paper 002, section 4.1).

    Args:
        generator: maps (N, n) latents to (N, ...) images (an ``nn.Module`` with batch norm or dropout must be
            in eval mode). It is called on batches of B * chains rows, image-major (row b * chains + c is chain c of
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
        chunk: at most this many of the B * chains rows go through the generator per call (default 4096), which
            bounds the memory of its activations and graph; ``None`` sends all rows at once. The result does not
            depend on it beyond the generator's rounding (all random numbers are drawn for all rows at once).

    Returns:
        (B,) float64 tensor of log p(x) estimates in nats (a stochastic lower bound that tightens as ``steps``
        grows), or :class:`AISResult`. An image whose chains all turn non-finite gets NaN (with a warning);
        other images are unaffected. Convert to bits/dim with :func:`bits_per_dim`. No autograd graph.
    """
    n, dtype, sigma2 = _check_common(generator, x, sigma2, steps, chains, leapfrog, step_size, latent_dim, chunk)
    prior = prior if prior is not None else StandardNormal()
    check_prior(prior)
    betas = _schedule(schedule, steps)
    rng = seeded_rng(seed, x.device)
    B = x.shape[0]
    with torch.no_grad():
        z0 = prior.sample(B * chains, n, rng=rng, device=x.device).to(dtype)
        result = _anneal(generator, x.to(dtype), z0, betas, sigma2, prior, chains, leapfrog, step_size,
                         adapt_step_size, rng, chunk)
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
                     return_diagnostics: bool = False, chunk: int | None = CHUNK) -> torch.Tensor | AISResult:
    """Reverse AIS (BDMC, Grosse et al. 2015): a stochastic upper bound on log p(x) for *simulated* data.

    Valid only when each image was generated from its latent with the same noise, x = G(z_true) + N(0, sigma2 I),
    z_true ~ prior (as :func:`simulate` does): then z_true is an exact sample of the posterior p(z | x), the
    chains start there (all ``chains`` of an image from the same z_true) and anneal beta from 1 to 0. The
    reverse weights estimate 1/p(x) without bias, so -log-mean-exp of their logs is an upper bound in
    expectation. For real images no exact posterior sample exists and this bound does not apply.

    Arguments as :func:`ais_log_likelihood` (``chunk`` included), plus ``z_true`` (B, n). Returns (B,) float64 or
    :class:`AISResult` (``log_weights`` are the reverse log weights, estimates of log 1/p(x); ``betas`` run from 1
    to 0).
    """
    n, dtype, sigma2 = _check_common(generator, x, sigma2, steps, chains, leapfrog, step_size, latent_dim, chunk)
    _check_z_true(z_true, x, n)
    prior = prior if prior is not None else StandardNormal()
    check_prior(prior)
    betas = _schedule(schedule, steps).flip(0)
    rng = seeded_rng(seed, x.device)
    with torch.no_grad():
        z0 = z_true.to(device=x.device, dtype=dtype).repeat_interleave(chains, 0)
        result = _anneal(generator, x.to(dtype), z0, betas, sigma2, prior, chains, leapfrog, step_size,
                         adapt_step_size, rng, chunk)
    return result if return_diagnostics else result.log_likelihood


def ais_bounds(generator: Generator, z_true: torch.Tensor, x: torch.Tensor, *, sigma2: float, steps: int = 500,
               chains: int = 4, leapfrog: int = 10, prior: Prior | None = None, latent_dim: int | None = None,
               step_size: float = STEP_SIZE, adapt_step_size: bool = True,
               schedule: Literal["sigmoid", "linear"] | torch.Tensor = "sigmoid",
               seed: int | None = None, chunk: int | None = CHUNK) -> AISBounds:
    """Forward AIS (lower bound) and reverse AIS from ``z_true`` (upper bound) on simulated data: BDMC.

    The true log p(x) lies between ``lower`` and ``upper`` in expectation; ``gap`` = upper - lower shrinks as
    ``steps`` grows and is an upper bound on the error of the forward estimate on data like this. The two runs
    use independent random numbers (seeds ``seed`` and ``seed + 1``). Arguments as :func:`bdmc_upper_bound`.
    """
    kwargs = dict(sigma2=sigma2, steps=steps, chains=chains, leapfrog=leapfrog, prior=prior, latent_dim=latent_dim,
                  step_size=step_size, adapt_step_size=adapt_step_size, schedule=schedule, return_diagnostics=True,
                  chunk=chunk)
    reverse = bdmc_upper_bound(generator, z_true, x, seed=None if seed is None else seed + 1, **kwargs)
    forward = ais_log_likelihood(generator, x, seed=seed, **kwargs)
    lower, upper = forward.log_likelihood, reverse.log_likelihood
    return AISBounds(lower, upper, upper - lower, forward, reverse)


def simulate(generator: Generator, b: int, *, sigma2: float, prior: Prior | None = None,
             latent_dim: int | None = None, seed: int | None = None,
             device: torch.device | str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw (z, x) from the noisy model: z ~ prior (b, n), x = G(z) + N(0, sigma2 I) (b, ...): data for BDMC."""
    check_generator(generator)
    sigma2 = check_sigma2(sigma2)
    check_positive_int(b=b)
    n = infer_latent_dim(generator, latent_dim)
    prior = prior if prior is not None else StandardNormal()
    check_prior(prior)
    if device is None and isinstance(generator, nn.Module):
        param = next(generator.parameters(), None)
        device = param.device if param is not None else None
    device = torch.device(device or "cpu")
    rng = seeded_rng(seed, device)
    with torch.no_grad():
        z = prior.sample(b, n, rng=rng, device=device)
        if isinstance(generator, nn.Module):
            param = next(generator.parameters(), None)
            if param is not None and param.is_floating_point():
                z = z.to(param.dtype)
        mean = generator(z)
        noise = torch.randn(mean.shape, generator=rng, dtype=mean.dtype, device=mean.device)
        return z, mean + math.sqrt(sigma2) * noise


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
    which is -bpd (e.g. -6.68 for BigGAN-DiffAug on CIFAR-10). With ``scale=1, levels=1`` (Delta = 1, no
    quantization) it is the continuous -log p(x) / (D ln 2) of a density in the data's own units, the "bits per
    pixel" of paper 003 (:func:`gandensity.workflows.led.bits_per_pixel`).

    Args:
        log_likelihood: log p(x) in nats, a float or a tensor of any shape (e.g. (B,) from
            :func:`ais_log_likelihood`).
        dims: D, the number of values per image (channels * height * width).
        scale: width of the data range in the model's units (see above); required so the convention is explicit.
        levels: quantization levels per value (256 for 8-bit images; 1 with ``scale=1`` for continuous bits).

    Returns:
        bits per dimension, float64, shaped like ``log_likelihood``.
    """
    check_positive_int(dims=dims, levels=levels)
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a positive number (2 for data in [-1, 1], 1 for [0, 1]), got {scale!r}")
    ll = torch.as_tensor(log_likelihood, dtype=torch.float64)
    log_delta = math.log(scale / levels)
    return -(ll + dims * log_delta) / (dims * math.log(2))
