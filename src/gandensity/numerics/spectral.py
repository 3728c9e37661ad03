"""Stochastic log-determinants of implicit matrices, and their gradients (paper 001, Algorithm 1).

The implicit density of a generator needs 1/2 log det M with M = J^T J (n x n). Forming J costs n forward
passes per sample; this module needs only products M v, each one jvp and one vjp of the generator:

    log det A = tr log A ~= n log(mu + nu) + (1/p) sum_j <v_j, p_m(A_bar) v_j>

with Rademacher probes v_j (Hutchinson), p_m an order-m Chebyshev (Han et al. 2017) or Taylor (Boutsidis
et al. 2017) polynomial of the rescaled matrix, mu = eps the assumed lower bound of the spectrum and
nu = g * lambda_max from the power method. Everything is batched: B matrices (one per sample) times p probes
go through ``matvec`` together. The estimate is differentiable with respect to whatever ``matvec`` depends on
(generator parameters, latents): that is spectral backpropagation (paper 001, Eq. 3).

Eigenvalues below eps bias the Chebyshev estimate upwards (log is approximated on [eps, nu] only); the
Taylor series converges slowly when lambda_min / nu is small. Both are shown in chapter B1.
"""

from __future__ import annotations

import math
import warnings
from typing import Callable, Literal, NamedTuple

import torch
from torch import nn

__all__ = ["Matvec", "MetricMatvec", "LogdetEstimate", "metric_matvec", "power_method",
           "chebyshev_coefficients", "polynomial_logdet", "stochastic_logdet", "exact_metric"]

Matvec = Callable[[torch.Tensor], torch.Tensor]
Method = Literal["chebyshev", "taylor"]
METHODS = ("chebyshev", "taylor")


class LogdetEstimate(NamedTuple):
    """What :func:`stochastic_logdet` returns with ``return_lambda_max=True``.

    Attributes:
        logdet: (B,) estimates of log det A, differentiable.
        lambda_max: (B,) power-method estimates of the largest eigenvalue (a Rayleigh quotient, differentiable:
            backpropagating through it gives the spectral-norm regularizer of paper 001, Eq. 8).
    """

    logdet: torch.Tensor
    lambda_max: torch.Tensor


class MetricMatvec:
    """v -> M v with M = J^T J the metric of ``generator`` at each latent of ``z``, never forming J.

    Calling it on V of shape (B, n) returns (B, n), row b multiplied by M(z_b). One call is one forward-mode
    product J v (``torch.func.jvp``) and one reverse-mode product J^T u (a ``torch.func.vjp`` built once),
    both batched over the B samples; :func:`stochastic_logdet` additionally vmaps it over probes.

    The result is differentiable with respect to ``z`` and the generator's parameters under ordinary autograd.
    """

    def __init__(self, generator: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor) -> None:
        if not isinstance(z, torch.Tensor) or z.ndim != 2 or not z.is_floating_point():
            raise ValueError(f"z must be a floating-point tensor of shape (B, n), got "
                             f"{type(z).__name__} {tuple(getattr(z, 'shape', ()))}")
        if isinstance(generator, nn.Module) and any(
                isinstance(m, nn.modules.batchnorm._BatchNorm) and m.training for m in generator.modules()):
            raise ValueError("the generator is in training mode and has batch-norm layers, so its output for one z "
                             "depends on the rest of the batch; call generator.eval() first")
        self.generator, self.z = generator, z
        self.batch_size, self.dim = z.shape
        self.dtype, self.device = z.dtype, z.device
        _, self._vjp = torch.func.vjp(generator, z)

    def __call__(self, v: torch.Tensor) -> torch.Tensor:
        if v.shape != (self.batch_size, self.dim):
            raise ValueError(f"expected vectors of shape (B, n) = {(self.batch_size, self.dim)}, got {tuple(v.shape)}")
        with warnings.catch_warnings():
            # torch's own forward-AD decompositions still call torch.jit.script on first use (torch 2.14).
            warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*deprecated", category=FutureWarning)
            _, jv = torch.func.jvp(self.generator, (self.z,), (v,))
        return self._vjp(jv)[0]


def metric_matvec(generator: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor) -> MetricMatvec:
    """The matvec of M(z) = J(z)^T J(z) for a batch ``z`` (B, n); see :class:`MetricMatvec`."""
    return MetricMatvec(generator, z)


def exact_metric(generator: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor,
                 chunk_size: int = 8) -> torch.Tensor:
    """Dense M = J^T J, (B, n, n) float64, from the forward-mode Jacobian: the reference for the estimator."""
    from gandensity.numerics.density import generator_jacobian
    J = generator_jacobian(generator, z, chunk_size=chunk_size).double()
    return J.transpose(1, 2) @ J


def _rademacher(shape: tuple[int, ...], dtype: torch.dtype, device: torch.device,
                generator: torch.Generator | None) -> torch.Tensor:
    # Drawn on the CPU so that a seed gives the same probes on every device.
    bits = torch.randint(0, 2, shape, generator=generator)
    return (bits * 2 - 1).to(dtype=dtype, device=device)


def power_method(matvec: Matvec, start: torch.Tensor, iters: int) -> torch.Tensor:
    """Largest eigenvalue of each of B symmetric PSD matrices: (B,) Rayleigh quotients.

    Args:
        matvec: maps (B, n) to (B, n).
        start: (B, n) starting vectors (random, so that none is orthogonal to the top eigenvector).
        iters: number of power iterations (paper 001's t).

    The iterations run without gradient; only the final quotient <v, A v> (|v| = 1) is differentiable, and at
    an eigenvector its gradient is v^T dA v = d lambda_max.
    """
    v = start
    with torch.no_grad():
        for _ in range(iters):
            v = matvec(v)
            v = v / v.norm(dim=1, keepdim=True).clamp_min(torch.finfo(v.dtype).tiny)
    v = v.detach()
    v = v / v.norm(dim=1, keepdim=True).clamp_min(torch.finfo(v.dtype).tiny)
    return (v * matvec(v)).sum(1)


def chebyshev_coefficients(f: Callable[[torch.Tensor], torch.Tensor], order: int) -> torch.Tensor:
    """Coefficients c_0..c_m of the order-m Chebyshev interpolant of f on [-1, 1], in float64.

    Nodes x_k = cos(pi (k + 1/2) / (m + 1)); c_0 = mean_k f(x_k), c_i = 2/(m + 1) sum_k f(x_k) T_i(x_k).
    ``f`` maps the (m + 1,) float64 nodes to (..., m + 1) values (a batch of functions); the result is
    (..., m + 1).
    """
    k = torch.arange(order + 1, dtype=torch.float64)
    theta = math.pi * (k + 0.5) / (order + 1)
    fx = f(torch.cos(theta))
    # T_i(cos theta) = cos(i theta)
    c = (2.0 / (order + 1)) * fx @ torch.cos(k[:, None] * theta[None, :]).to(fx.device).T
    c[..., 0] /= 2
    return c


def polynomial_logdet(eigenvalues: torch.Tensor, *, order: int, eps: float, nu: torch.Tensor | float,
                      method: Method = "chebyshev") -> torch.Tensor:
    """What :func:`stochastic_logdet` converges to as probes -> infinity: sum_i p_m(lambda_i), (B,) float64.

    Args:
        eigenvalues: (B, n) spectra.
        order, eps, method: as in :func:`stochastic_logdet`.
        nu: upper end of the interval, g * lambda_max; a float or a (B,) tensor.

    The difference to sum_i log lambda_i is the polynomial's bias; the rest of the estimator's error is
    Hutchinson's variance. (For a diagonal matrix Rademacher probes are exact, so the estimator returns this.)
    """
    lam = eigenvalues.double()
    nu = torch.as_tensor(nu, dtype=torch.float64, device=lam.device).expand(lam.shape[:-1])[..., None]
    if method == "taylor":
        x = 1 - lam / nu
        i = torch.arange(1, order + 1, dtype=torch.float64, device=lam.device)
        return (lam.shape[-1] * torch.log(nu[..., 0]) - (x[..., None] ** i / i).sum((-1, -2)))
    a, b = eps / (eps + nu), nu / (eps + nu)  # (B, 1)
    c = chebyshev_coefficients(lambda x: torch.log((b - a).cpu() / 2 * x + (b + a).cpu() / 2), order).to(lam.device)
    x = (2 * lam / (eps + nu) - (a + b)) / (b - a)  # phi^{-1}(A_bar)'s eigenvalues, (B, n)
    # Chebyshev recurrence on the eigenvalues: T_0 = 1, T_1 = x, T_i = 2 x T_{i-1} - T_{i-2}
    t_prev, t = torch.ones_like(x), x
    total = c[:, :1] * t_prev + c[:, 1:2] * t
    for i in range(2, order + 1):
        t_prev, t = t, 2 * x * t - t_prev
        total = total + c[:, i:i + 1] * t
    return lam.shape[-1] * torch.log(eps + nu[..., 0]) + total.sum(-1)


def _infer_batch(matvec: Matvec, dim: int, dtype: torch.dtype, device: torch.device) -> int:
    try:
        out = matvec(torch.zeros(1, dim, dtype=dtype, device=device))
    except Exception as err:  # noqa: BLE001 - re-raised with the fix
        raise ValueError("could not infer how many matrices matvec multiplies (B): it failed on a (1, dim) "
                         f"input ({type(err).__name__}: {err}); pass batch_size=B") from err
    if out.ndim != 2 or out.shape[1] != dim:
        raise ValueError(f"matvec must map (B, dim) to (B, dim) with dim={dim}; on a (1, {dim}) input it returned "
                         f"shape {tuple(out.shape)}")
    return out.shape[0]


def stochastic_logdet(matvec: Matvec, dim: int, *, order: int = 10, probes: int = 20, power_iters: int = 20,
                      g: float = 1.2, eps: float = 0.1, method: Method = "chebyshev",
                      batch_size: int | None = None, seed: int | None = None, vectorize: bool = True,
                      dtype: torch.dtype | None = None, device: torch.device | str | None = None,
                      return_lambda_max: bool = False) -> torch.Tensor | LogdetEstimate:
    """Estimate log det A for B symmetric positive-definite matrices given only products A v.

    Args:
        matvec: maps V of shape (B, dim) to (B, dim), row b multiplied by the b-th matrix (e.g.
            :func:`metric_matvec`). May close over tensors that require grad.
        dim: n, the side of each matrix.
        order: m, the polynomial order (m matvecs per probe).
        probes: p, the number of Rademacher probe vectors per matrix.
        power_iters: t, the number of power iterations for lambda_max.
        g: safety factor >= 1: the spectrum is assumed to lie in [eps, g * lambda_max].
        eps: the assumed lower bound of the spectrum (Chebyshev only); eigenvalues below it bias the estimate.
        method: ``"chebyshev"`` (paper 001's Algorithm 1) or ``"taylor"`` (log(1 - x) series of I - A/nu).
        batch_size: B; read from ``matvec.batch_size`` or inferred from ``matvec`` on a (1, dim) input if omitted.
        seed: seeds the probes and the power method's start (drawn on the CPU, so equal on every device).
        vectorize: push all p probes through one ``torch.func.vmap``-ed call of ``matvec`` (fast); ``False``
            loops over probes, for matvecs that vmap cannot trace.
        dtype, device: of the probe vectors; read from ``matvec.dtype``/``.device`` if present, else the default
            dtype and the CPU.
        return_lambda_max: return :class:`LogdetEstimate` (logdet, lambda_max) instead of the (B,) tensor.

    Returns:
        (B,) tensor of log-determinant estimates (or :class:`LogdetEstimate`). Its gradient is the spectral
        backpropagation estimate: the scale nu is held fixed, since log det A does not depend on it.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {METHODS}")
    for name, value, low in (("dim", dim, 1), ("order", order, 1), ("probes", probes, 1),
                             ("power_iters", power_iters, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    if not g >= 1:
        raise ValueError(f"g must be >= 1 (a multiplier on the power method's estimate), got {g}")
    if not eps > 0:
        raise ValueError(f"eps must be > 0 (the assumed lower bound of the spectrum), got {eps}")
    dtype = dtype or getattr(matvec, "dtype", None) or torch.get_default_dtype()
    device = torch.device(device or getattr(matvec, "device", None) or "cpu")
    if batch_size is None:
        batch_size = getattr(matvec, "batch_size", None) or _infer_batch(matvec, dim, dtype, device)
    B, n = batch_size, dim

    rng = torch.Generator().manual_seed(seed) if seed is not None else None
    start = torch.randn((B, n), generator=rng).to(dtype=dtype, device=device)
    lam = power_method(matvec, start, power_iters)
    if not torch.isfinite(lam).all():
        bad = (~torch.isfinite(lam)).nonzero().flatten().tolist()
        raise ValueError(f"the power method returned a non-finite lambda_max for matrices {bad[:10]}: "
                         "matvec produced NaN or inf")
    nu = g * lam.detach().clamp_min(torch.finfo(dtype).tiny)  # (B,)
    V = _rademacher((probes, B, n), dtype, device, rng)  # (p, B, n)
    apply = torch.func.vmap(matvec) if vectorize else (lambda W: torch.stack([matvec(w) for w in W]))

    if method == "chebyshev":
        scale = eps + nu  # (B,); A_bar = A / scale has spectrum in [a, b], a + b = 1
        a, b = eps / scale, nu / scale
        # The coefficients of log(phi(x)) depend on a and b, so on each matrix: (B, m + 1).
        a64, b64 = a.double().cpu()[:, None], b.double().cpu()[:, None]
        c = chebyshev_coefficients(lambda x: torch.log((b64 - a64) / 2 * x + (b64 + a64) / 2), order)
        c = c.to(dtype=dtype, device=device).T[:, None, :, None]  # (m + 1, 1, B, 1): over probes, coordinates
        # phi^{-1}(A_bar) w = (2 A w / scale - (a + b) w) / (b - a)
        alpha = (2 / (scale * (b - a)))[None, :, None]
        beta = (1 / (b - a))[None, :, None]

        def shifted(W: torch.Tensor) -> torch.Tensor:
            return alpha * apply(W) - beta * W

        w_prev, w = V, shifted(V)
        s = c[0] * w_prev + c[1] * w
        for i in range(2, order + 1):
            w_prev, w = w, 2 * shifted(w) - w_prev
            s = s + c[i] * w
        gamma = (V * s).sum(-1).mean(0)  # (B,)
        logdet = n * torch.log(scale) + gamma
    else:
        # log det A = n log nu + tr log(I - C), C = I - A / nu, log(1 - x) = -sum_i x^i / i
        inv_nu = (1 / nu)[None, :, None]
        w, s = V, torch.zeros_like(V)
        for i in range(1, order + 1):
            w = w - inv_nu * apply(w)
            s = s - w / i
        logdet = n * torch.log(nu) + (V * s).sum(-1).mean(0)
    return LogdetEstimate(logdet, lam) if return_lambda_max else logdet
