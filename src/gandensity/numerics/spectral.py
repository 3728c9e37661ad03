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

``method="lanczos"`` and ``method="hutchpp"`` replace the polynomial by Gauss quadrature from m Lanczos steps per
probe (stochastic Lanczos quadrature, Ubaru, Chen & Saad 2017; :mod:`gandensity.numerics.lanczos`), without and
with a deflated Krylov sketch (Hutch++, Meyer et al. 2021; :mod:`gandensity.numerics.hutchpp`). They need no
interval [eps, nu] and no power method, and their gradient is a conjugate-gradient estimate of tr(M^{-1} dM) with
the same probes, not backpropagation through the recursion. Chapter B5 compares the four at equal budgets.
"""

from __future__ import annotations

import math
import warnings
from typing import Callable, Literal, NamedTuple

import torch

from gandensity.numerics._checks import check_generator
from gandensity.numerics.hutchpp import hutchpp_logdet
from gandensity.numerics.lanczos import PROBE_CHUNK, check_chunk, probe_map, slq_logdet
from gandensity.numerics.operators import dense_matvec

__all__ = ["Matvec", "MetricMatvec", "LogdetEstimate", "metric_matvec", "power_method",
           "chebyshev_coefficients", "polynomial_logdet", "stochastic_logdet", "exact_metric",
           "likelihood_error", "log_uniform_spectra", "SpectrumErrors", "spectrum_errors", "metric_eigenvalues",
           "power_bound_ratio", "estimator_errors", "sweep_errors", "polynomial_bias", "GradientAgreement",
           "gradient_agreement", "hutchpp_split"]

Matvec = Callable[[torch.Tensor], torch.Tensor]
Method = Literal["chebyshev", "taylor", "lanczos", "hutchpp"]
METHODS = ("chebyshev", "taylor", "lanczos", "hutchpp")
POLYNOMIAL_METHODS = ("chebyshev", "taylor")  # need the interval [eps, g lambda_max]; the others do not


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

    :meth:`sample_gram` draws J^T xi with Gaussian xi in output space: vectors with covariance M, which the
    quadrature estimators use for a low-variance gradient of log det M (:func:`gandensity.numerics.lanczos.slq_logdet`,
    ``gradient="gram"``).
    """

    def __init__(self, generator: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor) -> None:
        if not isinstance(z, torch.Tensor) or z.ndim != 2 or not z.is_floating_point():
            raise ValueError(f"z must be a floating-point tensor of shape (B, n), got "
                             f"{type(z).__name__} {tuple(getattr(z, 'shape', ()))}")
        check_generator(generator)  # callable, no batch norm or dropout in training mode
        self.generator, self.z = generator, z
        self.batch_size, self.dim = z.shape
        self.dtype, self.device = z.dtype, z.device
        out, self._vjp = torch.func.vjp(generator, z)
        self.output_shape = tuple(out.shape[1:])

    def __call__(self, v: torch.Tensor) -> torch.Tensor:
        if v.shape != (self.batch_size, self.dim):
            raise ValueError(f"expected vectors of shape (B, n) = {(self.batch_size, self.dim)}, got {tuple(v.shape)}")
        with warnings.catch_warnings():
            # torch's own forward-AD decompositions still call torch.jit.script on first use (torch 2.14).
            warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*deprecated", category=FutureWarning)
            _, jv = torch.func.jvp(self.generator, (self.z,), (v,))
        return self._vjp(jv)[0]

    def sample_gram(self, count: int, rng: torch.Generator | None = None) -> torch.Tensor:
        """(count, B, n) vectors J^T xi, xi ~ N(0, I) in output space (drawn on the CPU from ``rng``), without graph.

        Their covariance is J^T J = M, so w = M^{-1} J^T xi has covariance M^{-1}: E[w^T dM w] = tr(M^{-1} dM).
        """
        xi = torch.randn((count, self.batch_size, *self.output_shape), generator=rng)
        xi = xi.to(dtype=self.dtype, device=self.device)
        with torch.no_grad():
            return torch.stack([self._vjp(x)[0] for x in xi]).detach()


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


def _probe_matvec(matvec: Matvec, dim: int, batch_size: int | None, dtype: torch.dtype, dtype_known: bool,
                  device: torch.device) -> tuple[int, torch.dtype]:
    """(B, dtype) of ``matvec`` from one product with zero vectors.

    With ``batch_size`` unknown the input is (1, dim) (a matvec that broadcasts its B matrices returns (B, dim));
    with the dtype unknown, the other floating dtype is tried when the first fails (a float64 matrix closure
    rejects float32 vectors), and a matvec that returns another floating dtype than it was given sets the dtype.
    """
    rows = batch_size or 1
    candidates = [dtype] if dtype_known else [dtype, *(d for d in (torch.float64, torch.float32) if d != dtype)]
    failures = []
    for candidate in candidates:
        try:
            with torch.no_grad():
                out = matvec(torch.zeros(rows, dim, dtype=candidate, device=device))
        except Exception as err:  # noqa: BLE001 - re-raised with the fix below
            failures.append((candidate, err))
            continue
        if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[1] != dim \
                or (batch_size is not None and out.shape[0] != batch_size):
            raise ValueError(f"matvec must map (B, dim) to (B, dim) with dim={dim}; on a ({rows}, {dim}) input it "
                             f"returned {type(out).__name__} of shape {tuple(getattr(out, 'shape', ()))}")
        found = candidate
        if not dtype_known and out.is_floating_point() and out.dtype != candidate:
            found = out.dtype  # e.g. a closure that casts to its matrix's dtype
        return (batch_size or out.shape[0]), found
    cand, err = failures[0]
    tried = ", ".join(str(d).removeprefix("torch.") for d, _ in failures)
    dtype_fix = (f"pass dtype= the dtype of matvec's matrix (tried {tried})" if not dtype_known else
                 f"the probes are {str(cand).removeprefix('torch.')} (dtype=): pass dtype= the dtype of matvec's "
                 "matrix if it differs")
    if batch_size is None:
        raise ValueError(f"could not infer how many matrices matvec multiplies (B): it failed on a (1, {dim}) "
                         f"{str(cand).removeprefix('torch.')} input ({type(err).__name__}: {err}); pass batch_size=B "
                         f"if it needs B rows, and {dtype_fix}") from err
    raise ValueError(f"matvec failed on a ({batch_size}, {dim}) {str(cand).removeprefix('torch.')} input "
                     f"({type(err).__name__}: {err}); {dtype_fix}") from err


_BAD_SPECTRUM = ("warn", "raise")


def _spectrum_problems(lam: torch.Tensor, quad: torch.Tensor | None, n: int, nu: torch.Tensor, *, eps: float,
                       g: float, method: str, dtype: torch.dtype) -> list[str]:
    """What the power method and the probes say against the assumption spectrum(A) in [eps, g * lambda_max]."""
    def which(mask: torch.Tensor) -> str:
        idx = mask.nonzero().flatten().tolist()
        return f"{idx[:10]}{' ...' if len(idx) > 10 else ''}"

    problems = []
    lam = lam.detach()
    tiny = torch.finfo(dtype).tiny
    bad = lam < 0
    if bad.any():
        problems.append(f"the power method's lambda_max estimate is negative for matrices {which(bad)} "
                        f"(min {lam.min().item():.3g}): A is not positive definite (check that matvec is a "
                        "symmetric positive definite product)")
    small = (lam >= 0) & (lam < tiny)
    if small.any():
        problems.append(f"the lambda_max estimate is zero or negligible (below {tiny:.3g}, the smallest normal "
                        f"{str(dtype).removeprefix('torch.')}) for matrices {which(small)}: A is zero or too small "
                        "for this dtype; rescale A" + ("" if dtype == torch.float64 else " or use dtype=torch.float64"))
    if method == "chebyshev":
        low = (lam > 0) & (lam <= eps)
        if low.any():
            problems.append(f"eps={eps:g} >= the lambda_max estimate for matrices {which(low)} (min "
                            f"{lam[low].min().item():.3g}), so the whole spectrum lies below the assumed lower "
                            "bound: lower eps below A's smallest eigenvalue")
    if quad is not None:
        q = quad.detach()
        nonpos = (q <= 0).any(0)
        if nonpos.any():
            problems.append(f"a probe's quadratic form v^T A v is not positive for matrices {which(nonpos)} (min "
                            f"{q.min().item():.3g}): A is not positive definite (is matvec a symmetric positive "
                            "definite product? a singular metric J^T J needs a generator with full-rank Jacobian)")
        rayleigh = q.max(0).values / n  # |v|^2 = n for Rademacher probes
        over = rayleigh > nu * (1 + 100 * torch.finfo(dtype).eps)
        if over.any():
            problems.append(f"a probe's Rayleigh quotient v^T A v / |v|^2 exceeds g * lambda_max for matrices "
                            f"{which(over)}, so the power method underestimated lambda_max: raise power_iters or "
                            f"g={g:g}")
    return problems


def hutchpp_split(probes: int, dim: int, sketch: int | None = None) -> tuple[int, int]:
    """How ``stochastic_logdet(method="hutchpp")`` spends ``probes`` vectors: (sketch columns k, probes p').

    The Krylov sketch [S, M S] of k Gaussian columns gives 2k deflation directions and p' Rademacher probes cover
    the rest, each of the 2k + p' vectors then running the same m Lanczos steps, so the cost is (2k + p') m matvecs,
    about ``probes`` m like SLQ's. By default k = max(1, probes // 6): a third of the vectors go to the sketch,
    two thirds to Hutchinson. Meyer et al. (2021) spend two thirds on the sketch, which is right when a few large
    eigenvalues carry the trace; the log of a generator's metric spreads it over the whole spectrum (most
    |log lambda| come from the many small eigenvalues, which a sketch of the top does not find). At ~1,000 matvecs
    neither split was consistently better on log-uniform and DCGAN-like spectra (benchmarks/
    bench_logdet_estimators.py, rows "hutch++" and "hutch++ 2/3"), and on a flat spectrum, with no top to deflate,
    the sketch only costs probes (chapter B5: Hutch++ errs more than SLQ on log-uniform [2, 20]). k is capped at
    n / 2; p' = max(1, probes - 2k).
    """
    if sketch is None:
        sketch = max(1, probes // 6)
    if isinstance(sketch, bool) or not isinstance(sketch, int) or sketch < 1:
        raise ValueError(f"sketch must be a positive int (Gaussian sketch columns) or None, got {sketch!r}")
    sketch = min(sketch, max(1, dim // 2))
    return sketch, max(1, probes - 2 * sketch)


def stochastic_logdet(matvec: Matvec, dim: int, *, order: int = 10, probes: int = 20, power_iters: int = 20,
                      g: float = 1.2, eps: float = 0.1, method: Method = "chebyshev",
                      batch_size: int | None = None, seed: int | None = None, vectorize: bool = True,
                      dtype: torch.dtype | None = None, device: torch.device | str | None = None,
                      return_lambda_max: bool = False,
                      on_bad_spectrum: Literal["warn", "raise"] = "warn", probe_chunk: int | None = PROBE_CHUNK,
                      sketch: int | None = None, cg_tol: float | None = None, cg_max_iter: int | None = None,
                      gradient: Literal["auto", "hutchinson", "gram"] = "auto",
                      gradient_probes: int | None = None) -> torch.Tensor | LogdetEstimate:
    """Estimate log det A for B symmetric positive-definite matrices given only products A v.

    Args:
        matvec: maps V of shape (B, dim) to (B, dim), row b multiplied by the b-th matrix (e.g.
            :func:`metric_matvec`). May close over tensors that require grad.
        dim: n, the side of each matrix.
        order: m: the polynomial order (``"chebyshev"``, ``"taylor"``) or the number of Lanczos steps per probe
            (``"lanczos"``, ``"hutchpp"``; capped at n); m matvecs per probe either way.
        probes: p, the number of probe vectors per matrix (``"hutchpp"``: sketch columns and probes together,
            see :func:`hutchpp_split`).
        power_iters: t, the number of power iterations for lambda_max (the quadrature methods run it only for
            ``return_lambda_max``).
        g: safety factor >= 1: the spectrum is assumed to lie in [eps, g * lambda_max] (polynomials only).
        eps: the assumed lower bound of the spectrum (Chebyshev only); eigenvalues below it bias the estimate.
        method: ``"chebyshev"`` (paper 001's Algorithm 1), ``"taylor"`` (log(1 - x) series of I - A/nu),
            ``"lanczos"`` (stochastic Lanczos quadrature, :func:`gandensity.numerics.lanczos.slq_logdet`) or
            ``"hutchpp"`` (SLQ on a deflated Krylov sketch plus probes of the rest,
            :func:`gandensity.numerics.hutchpp.hutchpp_logdet`). The quadrature methods adapt to the spectrum (no
            eps, g); their bias is that of an m-point Gauss rule, which falls with m (m of 30-50 for the
            condition numbers ~1e5 of trained generators' metrics, chapter B5).
        batch_size: B; read from ``matvec.batch_size`` or inferred from ``matvec`` on a (1, dim) input if omitted.
        seed: seeds the probes and the power method's start (drawn on the CPU, so equal on every device).
        vectorize: push the probes through ``torch.func.vmap``-ed calls of ``matvec`` (fast); ``False`` loops over
            probes, for matvecs that vmap cannot trace.
        dtype, device: of the probe vectors; read from ``matvec.dtype``/``.device`` if present, else the default
            dtype and the CPU.
        return_lambda_max: return :class:`LogdetEstimate` (logdet, lambda_max) instead of the (B,) tensor.
        on_bad_spectrum: what to do when the evidence says the spectrum is outside [eps, g * lambda_max] (the
            polynomial methods): a lambda_max estimate that is not positive or is negligible (below the dtype's
            smallest normal number), eps >= lambda_max (Chebyshev), a probe quadratic form v^T A v that is not
            positive, or a probe Rayleigh quotient above g * lambda_max. ``"warn"`` (``RuntimeWarning``) or
            ``"raise"`` (``ValueError``); the estimate is biased in all these cases. The quadrature methods always
            raise when A is not positive definite (a Ritz value <= 0): log det is undefined there.
        probe_chunk: at most this many probes per vmapped ``matvec`` call (default 32; None: all at once). One call
            holds the activations of all its probes times B, so the chunk bounds memory whatever p is; the estimate
            is that of one call up to floating-point rounding.
        sketch: ``"hutchpp"`` only: Gaussian sketch columns k (default: :func:`hutchpp_split`).
        cg_tol, cg_max_iter: the quadrature methods' gradient only: conjugate gradients solve A u = v per probe to
            relative residual cg_tol (default sqrt(eps of dtype)) within cg_max_iter iterations (default 2n).
        gradient, gradient_probes: the quadrature methods' gradient estimator: ``"gram"`` (q = gradient_probes
            vectors M^{-1} J^T xi, for a metric A = J^T J from :func:`metric_matvec`: low variance),
            ``"hutchinson"`` (the estimate's own probes, any matvec: unbiased but very noisy on ill-conditioned A)
            or ``"auto"`` (``"gram"`` where possible); see :mod:`gandensity.numerics.lanczos`.

    Raises:
        ValueError: a setting out of range or not finite, a matvec of the wrong shape or that fails on the
            probes (the message names batch_size or dtype, whichever is the fix), a non-finite lambda_max, or (with
            ``on_bad_spectrum="raise"``) a spectrum outside [eps, g * lambda_max].

    Returns:
        (B,) tensor of log-determinant estimates (or :class:`LogdetEstimate`). Its gradient: for the polynomials,
        spectral backpropagation through the recursion (paper 001, Eq. 3) with the scale nu held fixed, since log
        det A does not depend on it; for the quadrature methods, a conjugate-gradient estimate of tr(A^{-1} dA)
        (``gradient=``), never through the Lanczos recursion.

    Cost in matvecs per matrix: t + 1 + m p (polynomials), m p (``"lanczos"``), (2k + p') m (``"hutchpp"``), plus
    t + 1 for ``return_lambda_max`` with a quadrature method; the quadrature methods' gradient adds up to
    cg_max_iter matvecs per gradient vector (in backward for ``"hutchinson"``, in forward for ``"gram"``).
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {METHODS}")
    for name, value, low in (("dim", dim, 1), ("order", order, 1), ("probes", probes, 1),
                             ("power_iters", power_iters, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    if on_bad_spectrum not in _BAD_SPECTRUM:
        raise ValueError(f"on_bad_spectrum must be one of {_BAD_SPECTRUM}, got {on_bad_spectrum!r}")
    check_chunk(probe_chunk)
    for name, value in (("g", g), ("eps", eps)):
        try:
            finite = math.isfinite(float(value))
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}") from None
        if not finite:
            raise ValueError(f"{name} must be finite, got {value!r}"
                             + ("; g is a safety factor >= 1 on lambda_max (default 1.2)" if name == "g" else
                                "; eps is the assumed lower bound of the spectrum, a small positive number "
                                "(default 0.1)"))
    g, eps = float(g), float(eps)
    if not g >= 1:
        raise ValueError(f"g must be >= 1 (a multiplier on the power method's estimate), got {g}")
    if not eps > 0:
        raise ValueError(f"eps must be > 0 (the assumed lower bound of the spectrum), got {eps}")
    if method in POLYNOMIAL_METHODS and (gradient != "auto" or gradient_probes is not None):
        raise ValueError(f"gradient and gradient_probes choose the quadrature methods' gradient estimator; "
                         f"method={method!r} is differentiated through its polynomial: drop them or pass "
                         "method='lanczos' or 'hutchpp'")
    if sketch is not None and method != "hutchpp":
        raise ValueError(f"sketch is a setting of method='hutchpp' only, got sketch={sketch!r} with "
                         f"method={method!r}; drop it or pass method='hutchpp'")
    dtype_known = dtype is not None or getattr(matvec, "dtype", None) is not None
    dtype = dtype or getattr(matvec, "dtype", None) or torch.get_default_dtype()
    device = torch.device(device or getattr(matvec, "device", None) or "cpu")
    if batch_size is None:
        batch_size = getattr(matvec, "batch_size", None)
    if batch_size is None or not dtype_known:
        batch_size, dtype = _probe_matvec(matvec, dim, batch_size, dtype, dtype_known, device)
    B, n = batch_size, dim

    rng = torch.Generator().manual_seed(seed) if seed is not None else None
    lam = None
    if method in POLYNOMIAL_METHODS or return_lambda_max:
        start = torch.randn((B, n), generator=rng).to(dtype=dtype, device=device)
        try:
            lam = power_method(matvec, start, power_iters)
        except RuntimeError as err:
            if "dtype" not in str(err) and "scalar type" not in str(err):
                raise
            raise ValueError(f"matvec failed on {str(dtype).removeprefix('torch.')} vectors ({err}); pass dtype= "
                             "the dtype of matvec's matrix") from err
        if not torch.isfinite(lam).all():
            bad = (~torch.isfinite(lam)).nonzero().flatten().tolist()
            raise ValueError(f"the power method returned a non-finite lambda_max for matrices {bad[:10]}: "
                             "matvec produced NaN or inf")

    if method not in POLYNOMIAL_METHODS:
        # The quadrature estimators draw their own probes from ``seed`` (so that they equal slq_logdet's and
        # hutchpp_logdet's with the same seed).
        common = dict(batch_size=B, seed=seed, vectorize=vectorize, dtype=dtype, device=device, cg_tol=cg_tol,
                      cg_max_iter=cg_max_iter, probe_chunk=probe_chunk, gradient=gradient,
                      gradient_probes=gradient_probes)
        if method == "lanczos":
            est = slq_logdet(matvec, n, steps=order, probes=probes, **common)
        else:
            k, p = hutchpp_split(probes, n, sketch)
            est = hutchpp_logdet(matvec, n, sketch=k, sketch_steps=2, steps=order, probes=p, **common)
        return LogdetEstimate(est.logdet, lam) if return_lambda_max else est.logdet

    nu = g * lam.detach().clamp_min(torch.finfo(dtype).tiny)  # (B,)
    V = _rademacher((probes, B, n), dtype, device, rng)  # (p, B, n)
    apply = probe_map(matvec, vectorize, probe_chunk)
    AV = apply(V)  # the first product of either series, and the evidence of the probes' quadratic forms
    problems = _spectrum_problems(lam, (V * AV).sum(-1), n, nu, eps=eps, g=g, method=method, dtype=dtype)
    if problems:
        message = ("stochastic_logdet: the spectrum is outside the assumed [eps, g * lambda_max], so the estimate "
                   "is biased: " + "; ".join(problems))
        if on_bad_spectrum == "raise":
            raise ValueError(message)
        warnings.warn(message + " (on_bad_spectrum='raise' makes this an error)", RuntimeWarning, stacklevel=2)

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

        w_prev, w = V, alpha * AV - beta * V
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
            w = w - inv_nu * (AV if i == 1 else apply(w))
            s = s - w / i
        logdet = n * torch.log(nu) + (V * s).sum(-1).mean(0)
    return LogdetEstimate(logdet, lam) if return_lambda_max else logdet


# ------------------------------------------------------------------ diagnostics of the estimator (chapter B1)
#
# Paper 001 judges the estimator by ln l_hat - ln l, the error of the log-likelihood in nats (its "relative
# error", section 3). The log-likelihood carries -+1/2 log det M, so that error is half the error of log det M.


def likelihood_error(logdet: torch.Tensor, exact_logdet: torch.Tensor) -> torch.Tensor:
    """|ln l_hat - ln l| = |logdet - exact_logdet| / 2 in nats, per matrix: (B,) -> (B,) float64.

    This is the paper's "relative error" ln l_hat - ln l ~ (l_hat - l) / l (paper 001, section 3), the same for a
    pushforward (-1/2 log det) and a pullback (+1/2 log det) density.
    """
    return 0.5 * (logdet.detach().double().cpu() - exact_logdet.detach().double().cpu()).abs()


def log_uniform_spectra(count: int, n: int, low: float, high: float, *, seed: int = 0) -> torch.Tensor:
    """(count, n) float64 eigenvalues drawn log-uniformly on [low, high] (seeded)."""
    if not 0 < low < high:
        raise ValueError(f"need 0 < low < high, got {low}, {high}")
    g = torch.Generator().manual_seed(seed)
    u = torch.rand(count, n, generator=g, dtype=torch.float64)
    return torch.exp(math.log(low) + u * (math.log(high) - math.log(low)))


class SpectrumErrors(NamedTuple):
    """The estimator on symmetric matrices with known spectra (B matrices).

    Attributes:
        exact: (B,) log det A.
        chebyshev, taylor: (B,) |ln l_hat - ln l| (nats) of Algorithm 1 and of the Taylor series at equal order.
        bias: (B,) signed error (nats) of the Chebyshev polynomial alone (infinitely many probes), nu = g lambda_max.
    """

    exact: torch.Tensor
    chebyshev: torch.Tensor
    taylor: torch.Tensor
    bias: torch.Tensor


def spectrum_errors(eigenvalues: torch.Tensor, *, seed: int = 0, order: int = 10, probes: int = 20,
                    power_iters: int = 20, g: float = 1.2, eps: float = 0.1) -> SpectrumErrors:
    """Algorithm 1 (and Taylor) on Q diag(eigenvalues) Q^T with Haar-random Q, against the exact log det.

    Args:
        eigenvalues: (B, n) positive spectra.
        seed: seeds Q and the probes.
        order, probes, power_iters, g, eps: the estimator's (m, p, t, g, eps).
    """
    lam = eigenvalues.double()
    q = torch.linalg.qr(torch.randn(*lam.shape, lam.shape[-1], generator=torch.Generator().manual_seed(seed),
                                    dtype=torch.float64))[0]  # Haar-random orthogonal (up to signs)
    matvec = dense_matvec(q @ torch.diag_embed(lam) @ q.transpose(-1, -2))
    exact = lam.log().sum(-1)
    settings = dict(order=order, probes=probes, power_iters=power_iters, g=g, seed=seed,
                    batch_size=lam.shape[0], dtype=torch.float64)
    cheb = stochastic_logdet(matvec, lam.shape[-1], eps=eps, **settings)
    taylor = stochastic_logdet(matvec, lam.shape[-1], method="taylor", **settings)
    return SpectrumErrors(exact, likelihood_error(cheb, exact), likelihood_error(taylor, exact),
                          polynomial_bias(lam, [order], eps=eps, g=g)[0])


def metric_eigenvalues(generator: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor,
                       chunk_size: int = 8) -> torch.Tensor:
    """Eigenvalues of M(z) = J^T J at each latent, ascending: (B, n) float64 on the CPU."""
    return torch.linalg.eigvalsh(exact_metric(generator, z.detach(), chunk_size=chunk_size)).cpu()


def power_bound_ratio(matvec: Matvec, dim: int, lambda_max: torch.Tensor, *, power_iters: int = 20,
                      g: float = 1.2, seed: int = 0) -> torch.Tensor:
    """nu / lambda_max = g lambda_hat_max / lambda_max per matrix, (B,) float64: >= 1 where nu is an upper bound.

    lambda_hat_max is the power method's estimate exactly as :func:`stochastic_logdet` computes it (same start).
    """
    with torch.no_grad():
        est = stochastic_logdet(matvec, dim, order=1, probes=1, power_iters=power_iters, g=g, seed=seed,
                                return_lambda_max=True)
    return g * est.lambda_max.double().cpu() / lambda_max.double().cpu()


def estimator_errors(matvec: Matvec, dim: int, exact_logdet: torch.Tensor, *, seed: int = 0,
                     **estimator: object) -> torch.Tensor:
    """|ln l_hat - ln l| (nats) of :func:`stochastic_logdet` with the keyword settings ``estimator``: (B,)."""
    with torch.no_grad():
        est = stochastic_logdet(matvec, dim, seed=seed, **estimator)  # type: ignore[arg-type]
    return likelihood_error(est, exact_logdet)


def sweep_errors(matvec: Matvec, dim: int, exact_logdet: torch.Tensor, setting: str, values: list,
                 *, seed: int = 0, **estimator: object) -> torch.Tensor:
    """:func:`estimator_errors` with ``setting`` (e.g. ``"order"``, ``"probes"``) at each of ``values``: (V, B)."""
    return torch.stack([estimator_errors(matvec, dim, exact_logdet, seed=seed, **{**estimator, setting: v})
                        for v in values])


def polynomial_bias(eigenvalues: torch.Tensor, orders: list[int], *, eps: float, g: float = 1.2) -> torch.Tensor:
    """Signed (p_m - log det) / 2 in nats for each order: the Chebyshev polynomial's own error, (O, B) float64.

    What :func:`stochastic_logdet` would make of ``eigenvalues`` (B, n) with infinitely many probes and an exact
    power method (nu = g lambda_max), minus the exact log det, halved (the log-likelihood carries 1/2 log det).
    """
    lam = eigenvalues.double()
    exact = lam.log().sum(-1)
    nu = g * lam.max(-1).values
    return torch.stack([0.5 * (polynomial_logdet(lam, order=m, eps=eps, nu=nu) - exact) for m in orders])


class GradientAgreement(NamedTuple):
    """Spectral backpropagation against autograd through the exact log det M, at one probe count.

    Attributes:
        probes: p.
        cosine_z, rel_error_z: (B,) per latent, of the gradient of log det M(z_b) with respect to z_b.
        cosine_params, rel_error_params: of the gradient of sum_b log det M(z_b) with respect to ``params``.
    """

    probes: int
    cosine_z: torch.Tensor
    rel_error_z: torch.Tensor
    cosine_params: float
    rel_error_params: float


def exact_logdet_gradient(generator: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor,
                          params: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Autograd through the exact log det M(z_b) (forward-mode Jacobian and QR, float64): the reference gradients.

    Returns:
        (grad_z (B, n) float64, the gradient of log det M(z_b) with respect to z_b; grad_params (P,) float64, the
        flattened gradient of sum_b log det M(z_b) with respect to ``params``).
    """
    from gandensity.numerics.density import generator_jacobian, half_logdet_metric

    z = z.detach().clone().requires_grad_()
    half, _ = half_logdet_metric(generator_jacobian(generator, z))
    exact = torch.autograd.grad(2 * half.sum(), [z, *params])
    return exact[0].double(), torch.cat([t.double().flatten() for t in exact[1:]])


def gradient_errors(got_z: torch.Tensor, got_params: torch.Tensor, ref_z: torch.Tensor,
                    ref_params: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, float, float]:
    """(cosine_z (B,), rel_error_z (B,), cosine_params, rel_error_params) of estimated against exact gradients.

    ``got_z``, ``ref_z``: (B, n), compared row by row; ``got_params``, ``ref_params``: (P,) flattened.
    """
    gz, gp = got_z.detach().double().cpu(), got_params.detach().double().cpu()
    rz, rp = ref_z.detach().double().cpu(), ref_params.detach().double().cpu()
    cos_z = (gz * rz).sum(-1) / (gz.norm(dim=-1) * rz.norm(dim=-1))
    rel_z = (gz - rz).norm(dim=-1) / rz.norm(dim=-1)
    return cos_z, rel_z, float(gp @ rp / (gp.norm() * rp.norm())), float((gp - rp).norm() / rp.norm())


def estimated_logdet_gradient(generator: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor,
                              params: list[torch.Tensor], **estimator: object) -> tuple[torch.Tensor, torch.Tensor]:
    """The gradients of :func:`stochastic_logdet` (keyword settings ``estimator``) on the metric of ``generator``:
    (grad_z (B, n), grad_params (P,) flattened), as :func:`exact_logdet_gradient` returns the exact ones."""
    z = z.detach().clone().requires_grad_()
    est = stochastic_logdet(metric_matvec(generator, z), z.shape[1], **estimator)  # type: ignore[arg-type]
    got = torch.autograd.grad(est.sum(), [z, *params])
    return got[0].double(), torch.cat([t.double().flatten() for t in got[1:]])


def gradient_agreement(generator: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor,
                       params: list[torch.Tensor], probe_counts: list[int], *, seed: int = 0,
                       **estimator: object) -> list[GradientAgreement]:
    """Gradients of log det M from :func:`stochastic_logdet` (each probe count) against the exact ones.

    Args:
        generator: maps (B, n) latents to outputs; per-sample (eval mode).
        z: (B, n) latents.
        params: tensors of the generator to differentiate with respect to (they must require grad).
        probe_counts: the p values to compare.
        seed: seeds the probes; estimator: the other settings of :func:`stochastic_logdet` (any method).
    """
    ref_z, ref_p = exact_logdet_gradient(generator, z, params)
    rows = []
    for p in probe_counts:
        gz, gp = estimated_logdet_gradient(generator, z, params, probes=p, seed=seed, **estimator)
        rows.append(GradientAgreement(p, *gradient_errors(gz, gp, ref_z, ref_p)))
    return rows
