"""Likelihood maximization in latent space by spectral backpropagation (paper 001, section 4).

Starting from latents z_0, ascend log p(G(z)) = log p(z) - 1/2 log det M(z) with M = J^T J. In the paper the gradient
of the log-determinant comes from the stochastic Chebyshev estimator
(:func:`gandensity.numerics.spectral.stochastic_logdet`), never from the Jacobian; ``method=`` also offers stochastic
Lanczos quadrature (more accurate on trained generators' metrics, chapter B5) and the exact gradient (autograd
through the float64 QR of the full Jacobian: the oracle the estimators are judged by). Along the way, at recorded
iterations, the exact log-density and the extreme eigenvalues of M are computed from the full Jacobian, to show what
the ascent does to the image and to the conditioning of M.
"""

from __future__ import annotations

import math
import warnings
from typing import Callable, NamedTuple

import torch

from gandensity.numerics.density import generator_jacobian, half_logdet_metric
from gandensity.numerics.priors import Prior, StandardNormal, UniformBox
from gandensity.numerics.spectral import exact_metric, metric_matvec, stochastic_logdet

__all__ = ["AscentTrace", "ASCENT_METHODS", "log_density_objective", "maximize_log_density", "AscentSummary",
           "summarize", "nearest_distance", "intensity_tail"]

# How stochastic_logdet's warning of a spectrum outside [eps, g lambda_max] begins (gandensity.numerics.spectral).
_SPECTRUM_WARNING = "stochastic_logdet: the spectrum is outside"
ASCENT_METHODS = ("chebyshev", "lanczos", "exact")  # the log-det gradients maximize_log_density can ascend with


class AscentTrace(NamedTuple):
    """The recorded states of a batch of ascents (R recorded iterations, B latents, n latent dimensions).

    Attributes:
        steps: (R,) iteration numbers at which the state was recorded (0 = the start).
        z: (R, B, n) latents.
        images: (R, B, ...) generated images G(z), on the CPU.
        log_density: (R, B) exact log p(G(z)) (float64, from the full Jacobian).
        lambda_min, lambda_max: (R, B) extreme eigenvalues of M = J^T J.
        estimate: (steps, B) the estimate of log p(G(z)) at every iteration (what was ascended; exact for
            ``method="exact"``).
        method: the log-det gradient the ascent used (one of :data:`ASCENT_METHODS`).
        flagged: (steps,) bool: the estimator's own check (``stochastic_logdet``'s warning that the spectrum of M
            is outside [eps, g lambda_max], where its estimate is biased) fired at that iteration; always False
            for ``"lanczos"`` and ``"exact"``. The ascent collects these warnings here instead of showing one per
            step.
    """

    steps: torch.Tensor
    z: torch.Tensor
    images: torch.Tensor
    log_density: torch.Tensor
    lambda_min: torch.Tensor
    lambda_max: torch.Tensor
    estimate: torch.Tensor
    method: str = "chebyshev"
    flagged: torch.Tensor | None = None

    def until(self, step: int) -> AscentTrace:
        """This trace cut at its record of iteration ``step``: what a run of ``step`` iterations recorded."""
        valid = isinstance(step, int) and not isinstance(step, bool)  # check before comparing with a tensor
        hits = torch.nonzero(self.steps == step) if valid else None
        if hits is None or len(hits) == 0:
            raise ValueError(f"step must be one of the recorded iterations {self.steps.tolist()}, got {step!r}")
        k = int(hits[0, 0])
        flagged = None if self.flagged is None else self.flagged[:step]
        return AscentTrace(self.steps[:k + 1], self.z[:k + 1], self.images[:k + 1], self.log_density[:k + 1],
                           self.lambda_min[:k + 1], self.lambda_max[:k + 1], self.estimate[:step], self.method,
                           flagged)


def _record(generator: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor,
            prior: Prior) -> tuple[torch.Tensor, ...]:
    with torch.no_grad():
        images = generator(z).cpu()
    eigenvalues = torch.linalg.eigvalsh(exact_metric(generator, z.detach())).cpu()  # (B, n), ascending
    log_density = prior.log_prob(z.detach().double()).cpu() - 0.5 * eigenvalues.log().sum(-1)
    # clone: on the CPU .cpu() is a view of z, which the optimizer goes on to change in place
    return z.detach().cpu().clone(), images, log_density, eigenvalues[:, 0], eigenvalues[:, -1]


def log_density_objective(generator: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor, *, prior: Prior,
                          method: str = "chebyshev", order: int = 5, probes: int = 10, power_iters: int = 10,
                          g: float = 1.2, eps: float = 1e-2, seed: int | None = None) -> torch.Tensor:
    """log p(z) - 1/2 log det M(z) for each row of ``z`` (B, n): (B,), differentiable in ``z``; what one ascent step
    climbs.

    ``method``: ``"chebyshev"`` (paper 001's estimator, spectral backpropagation through the polynomial, settings
    (m, p, t, g, eps) = (order, probes, power_iters, g, eps)), ``"lanczos"`` (stochastic Lanczos quadrature with
    ``order`` Lanczos steps and ``probes`` probes, its gradient by conjugate gradients on Gram vectors; power_iters,
    g and eps unused) or ``"exact"`` (the float64 QR of the forward-mode Jacobian, differentiated by autograd:
    n Jacobian-vector products and a backward pass through them per step; the estimator settings unused). The
    value is float64 for ``"exact"``, z's dtype otherwise. ``seed`` seeds the stochastic methods' probes.
    """
    _check_method(method)
    if method == "exact":
        half, _ = half_logdet_metric(generator_jacobian(generator, z))  # (B,) float64, -inf where J is singular
        return prior.log_prob(z) - half
    logdet = stochastic_logdet(metric_matvec(generator, z), z.shape[1], order=order, probes=probes,
                               power_iters=power_iters, g=g, eps=eps, seed=seed, method=method)
    return prior.log_prob(z) - 0.5 * logdet


def _check_method(method: object) -> None:
    """Raise a ValueError naming the choices unless ``method`` is one of :data:`ASCENT_METHODS`."""
    if not isinstance(method, str) or method not in ASCENT_METHODS:
        raise ValueError(f"method must be one of {ASCENT_METHODS}, got {method!r}; pass e.g. method=\"lanczos\"")


def maximize_log_density(generator: Callable[[torch.Tensor], torch.Tensor], z0: torch.Tensor, *, steps: int,
                         lr: float = 0.01, record_every: int = 10, prior: Prior | None = None, order: int = 5,
                         probes: int = 10, power_iters: int = 10, g: float = 1.2, eps: float = 1e-2,
                         seed: int = 0, method: str = "chebyshev") -> AscentTrace:
    """Ascend log p(G(z)) from each row of ``z0`` (B, n) with Adam and the log-det gradient of ``method``.

    Args:
        generator: maps (B, n) to (B, ...); in eval mode, its parameters are not changed.
        z0: (B, n) starting latents.
        steps: number of Adam steps.
        lr: Adam's step size on z.
        record_every: record the exact state every this many steps (and at the first and the last).
        prior: the latent prior (default standard normal); for :class:`UniformBox` the latents are projected
            back into the box after every step (paper 001 uses the uniform prior on [-1, 1]^n).
        order, probes, power_iters, g, eps: the estimator's (m, p, t, g, eps); the defaults are those of paper
            001's Fig. 4 (c, d). For ``method="lanczos"`` order is the number of Lanczos steps m and probes p
            (m p matvecs for the value, plus the conjugate-gradient solves of the gradient); power_iters, g, eps
            are unused there and by ``"exact"``.
        seed: probes of step k are drawn with seed + k.
        method: the log-det gradient: ``"chebyshev"`` (paper 001: spectral backpropagation), ``"lanczos"``
            (stochastic Lanczos quadrature, :func:`gandensity.numerics.lanczos.slq_logdet`) or ``"exact"`` (autograd
            through the exact log det; see :func:`log_density_objective`).

    Returns:
        :class:`AscentTrace`.

    Raises:
        ValueError: bad ``z0``, ``steps``, ``record_every`` or ``method``.
        FloatingPointError: the ascended log-density became non-finite.
    """
    if not isinstance(z0, torch.Tensor) or z0.ndim != 2:
        raise ValueError(f"z0 must be a (B, n) tensor of latents, got shape {tuple(getattr(z0, 'shape', ()))}")
    if steps < 1 or record_every < 1:
        raise ValueError(f"steps and record_every must be >= 1, got {steps} and {record_every}")
    _check_method(method)
    prior = prior if prior is not None else StandardNormal()
    z = z0.detach().clone().requires_grad_()
    optimizer = torch.optim.Adam([z], lr=lr)
    records, recorded_steps, estimates = [_record(generator, z, prior)], [0], []
    flagged = torch.zeros(steps, dtype=torch.bool)
    for step in range(1, steps + 1):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            log_density = log_density_objective(generator, z, prior=prior, method=method, order=order,
                                                probes=probes, power_iters=power_iters, g=g, eps=eps,
                                                seed=seed + step)  # (B,)
        for w in caught:  # the estimator's spectrum check goes into the trace; anything else is shown
            if issubclass(w.category, RuntimeWarning) and str(w.message).startswith(_SPECTRUM_WARNING):
                flagged[step - 1] = True
            else:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        if not torch.isfinite(log_density).all():
            what = "log-density" if method == "exact" else "log-density estimate"
            fix = f"or raise eps (now {eps})" if method == "chebyshev" else "(M may have become singular)"
            raise FloatingPointError(f"the {what} became non-finite at step {step}; lower lr (now {lr}) {fix}")
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
    return AscentTrace(torch.tensor(recorded_steps), z_r, images, exact, lam_min, lam_max, torch.stack(estimates),
                       method, flagged)


class AscentSummary(NamedTuple):
    """Per-trajectory numbers of an :class:`AscentTrace` (B trajectories), first against last record.

    Attributes:
        gain: (B,) log(p_final / p_init), exact, nats (the paper's Fig. 4 table).
        prior_gain: (B,) the part of ``gain`` from the prior term log p(z).
        volume_gain: (B,) the rest, -1/2 (log det M_final - log det M_init).
        lambda_min_ratio, lambda_max_ratio, condition_ratio: (B,) final / initial lambda_min, lambda_max and
            lambda_max / lambda_min of M.
        estimate_error: (R - 1, B) |estimate - exact| of log p(G(z)) at the recorded steps before the last.
        z_norm: (2, B) |z| at the start and at the end.
    """

    gain: torch.Tensor
    prior_gain: torch.Tensor
    volume_gain: torch.Tensor
    lambda_min_ratio: torch.Tensor
    lambda_max_ratio: torch.Tensor
    condition_ratio: torch.Tensor
    estimate_error: torch.Tensor
    z_norm: torch.Tensor


def summarize(trace: AscentTrace, prior: Prior | None = None) -> AscentSummary:
    """The :class:`AscentSummary` of ``trace``, whose ascent used ``prior`` (default standard normal)."""
    prior = prior if prior is not None else StandardNormal()
    gain = trace.log_density[-1] - trace.log_density[0]
    prior_gain = prior.log_prob(trace.z[-1].double()) - prior.log_prob(trace.z[0].double())
    condition = trace.lambda_max / trace.lambda_min
    # estimate[k] was taken at the latents after k steps, i.e. at the state recorded at step k
    estimate_error = (trace.estimate[trace.steps[:-1]].double() - trace.log_density[:-1]).abs()
    return AscentSummary(gain, prior_gain, gain - prior_gain, trace.lambda_min[-1] / trace.lambda_min[0],
                         trace.lambda_max[-1] / trace.lambda_max[0], condition[-1] / condition[0],
                         estimate_error, trace.z[[0, -1]].double().norm(dim=-1))


@torch.no_grad()
def nearest_distance(images: torch.Tensor, reference: torch.Tensor, *, chunk: int = 1024) -> torch.Tensor:
    """Euclidean distance from each of ``images`` (B, ...) to its nearest neighbour in ``reference`` (N, ...).

    Returns (B,) float64. A measure of how far an image lies from the data (out of distribution).
    """
    x = images.reshape(images.shape[0], -1).double()
    best = torch.full((x.shape[0],), math.inf, dtype=torch.float64)
    for r in reference.split(chunk):
        best = torch.minimum(best, torch.cdist(x, r.reshape(r.shape[0], -1).double().to(x.device)).min(1).values)
    return best


@torch.no_grad()
def intensity_tail(images: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Two-sided empirical tail probability of each image's mean pixel value among ``reference``'s: (B,).

    For image b with mean pixel value m_b: min(share of reference images with mean <= m_b, share with mean >= m_b).
    About 0.25 on average for images like the reference ones; 0 for an image darker (or brighter) than all of
    them, a blank image among digits, say: a simple sign of an out-of-distribution image.
    """
    m = images.reshape(images.shape[0], -1).double().mean(1)
    ref = reference.reshape(reference.shape[0], -1).double().mean(1).to(m.device)
    below = (ref[None, :] <= m[:, None]).double().mean(1)
    above = (ref[None, :] >= m[:, None]).double().mean(1)
    return torch.minimum(below, above).cpu()
