"""Stochastic Lanczos quadrature (SLQ) for log det of symmetric positive-definite matrices given only products
M v (Ubaru, Chen & Saad 2017), and its gradient by conjugate gradients.

For a probe v, m steps of Lanczos started at v / |v| give an m x m tridiagonal T = U diag(theta) U^T and

    v^T log(M) v ~= |v|^2 e_1^T log(T) e_1 = |v|^2 sum_k tau_k log(theta_k),    tau_k = U_1k^2,

the m-point Gauss quadrature of the spectral measure of M seen from v, exact for polynomials of degree
<= 2m - 1 (so exact for log when m = n). Averaging over p Rademacher probes (Hutchinson, |v|^2 = n) gives

    log det M = tr log M ~= (n / p) sum_j sum_k tau_jk log(theta_jk)      (p m matvecs per matrix).

Unlike the Chebyshev estimator of :mod:`gandensity.numerics.spectral` it needs no interval [eps, nu]: the Ritz
values theta adapt to the spectrum. Its quadrature error is still large when m is small against the spread of
the spectrum: the Gauss rule overestimates integrals of log (all its even derivatives are negative), so the
estimate is biased upwards, less so as m grows, and not at all at m = n. On spectra with condition ~1e5
(log-uniform 1e-3..1e2, or a trained DCGAN's metric) m of about 50 is needed for a bias of a few percent
(benchmarks/bench_logdet_estimators.py); the per-probe spread (``stderr``) does not show that bias.

Gradient. d log det M = tr(M^{-1} dM), estimated without backpropagating through the Lanczos recursion, in one
of two ways (``gradient=``):

- ``"hutchinson"``: (1/p) sum_j (M^{-1} v_j)^T dM v_j with the Rademacher probes v_j of the estimate. The products
  M v_j of the first Lanczos step are recorded with autograd; on backward u_j = M^{-1} v_j is solved by batched
  conjugate gradients (no graph) and the vector-Jacobian product of sum_j u_j^T M(theta) v_j is taken by autograd
  through that one recorded matvec call (:func:`attach_logdet_gradient`). Unbiased, but its variance is that of
  Hutchinson's estimator of the non-symmetric M^{-1} dM, whose entries (M^{-1} dM)_ij = dM_ij / lambda_i (in M's
  eigenbasis) blow up in the rows of small eigenvalues: on the metric of a trained MNIST DCGAN (n = 100,
  condition ~1e5) the z-gradient still had ~120% relative error at p = 200 and the weight gradient was swamped
  (noise, not rounding: exact solves give the same).
- ``"gram"`` (when M = J^T J and ``matvec`` can draw J^T xi, as :class:`gandensity.numerics.spectral.MetricMatvec`
  does): w_j = M^{-1} J^T xi_j with Gaussian xi_j in output space has covariance M^{-1} M M^{-1} = M^{-1}, so
  (1/q) sum_j w_j^T dM w_j is unbiased for tr(M^{-1} dM), with the variance of the *symmetric* form
  2 |M^{-1/2} dM M^{-1/2}|_F^2 / q, whose entries dM_ij / sqrt(lambda_i lambda_j) are far smaller where a small
  and a large eigenvalue meet. The solves run by conjugate gradients in the forward pass (when a gradient is
  wanted), the products M w_j are recorded there, and backward is one backward pass through them
  (:func:`attach_gram_gradient`). On the DCGAN above, at p = q = 31 (about 1,000 matvecs), the z-gradient's median
  relative error fell from ~200% to ~10% (chapter B5). ``"auto"`` (default) picks ``"gram"`` when ``matvec``
  offers ``sample_gram``.

The solves use conjugate gradients with reorthogonalised residuals (plain CG stalls in float32 at the condition
numbers, ~1e5, of trained generators' metrics).

Conventions are those of :func:`gandensity.numerics.spectral.stochastic_logdet`: ``matvec`` maps (B, n) to (B, n)
(row b multiplied by the b-th matrix) and is ``torch.func.vmap``-ed over probes; probes are Rademacher, drawn on
the CPU from ``seed``; every set of vectors here has shape (N, B, n) (N vectors per matrix).
"""

from __future__ import annotations

import math
import warnings
from typing import Callable, NamedTuple

import torch
from torch.autograd.function import once_differentiable

__all__ = ["QuadratureLogdet", "LanczosResult", "CGResult", "lanczos", "gauss_quadrature", "slq_logdet",
           "conjugate_gradient", "attach_logdet_gradient", "attach_gram_gradient"]

Matvec = Callable[[torch.Tensor], torch.Tensor]
Apply = Callable[[torch.Tensor], torch.Tensor]  # (N, B, n) -> (N, B, n)
PROBE_CHUNK = 32  # vectors per vmapped matvec call by default: bounds memory (issue 13), costs no speed at p <= 32


class QuadratureLogdet(NamedTuple):
    """What :func:`slq_logdet` and :func:`gandensity.numerics.hutchpp.hutchpp_logdet` return.

    Attributes:
        logdet: (B,) estimates of log det M, differentiable with respect to what ``matvec`` depends on.
        per_probe: (B, p) the estimate of each probe alone (detached); ``logdet`` is their mean, so
            ``per_probe.std(-1) / sqrt(p)`` is the standard error of ``logdet``.
        matvecs: products M v spent per matrix by the forward pass (the backward pass adds the CG iterations,
            at most ``cg_max_iter`` per probe).
    """

    logdet: torch.Tensor
    per_probe: torch.Tensor
    matvecs: int

    @property
    def stderr(self) -> torch.Tensor:
        """(B,) standard error of ``logdet`` over probes (NaN for one probe)."""
        p = self.per_probe.shape[-1]
        if p < 2:
            return torch.full_like(self.logdet.detach(), math.nan)
        return self.per_probe.std(-1) / math.sqrt(p)


class LanczosResult(NamedTuple):
    """m steps of Lanczos on N start vectors per matrix.

    Attributes:
        alpha: (N, B, m) diagonal of T; 1 after a breakdown (a decoupled dummy block: log 1 = 0, weight 0).
        beta: (N, B, m - 1) off-diagonal of T; 0 from a breakdown on.
        norm: (N, B) |start|.
        basis: (N, B, m, n) the Lanczos vectors (zero after a breakdown).
        steps: m actually run (``min(steps, n)``).
    """

    alpha: torch.Tensor
    beta: torch.Tensor
    norm: torch.Tensor
    basis: torch.Tensor
    steps: int


class CGResult(NamedTuple):
    """Batched conjugate gradients for M X = R.

    Attributes:
        solution: (N, B, n).
        iterations: iterations run (matvecs per right-hand side: this plus one for the true residual).
        converged: (N, B) bool, |r| <= tol |rhs|.
        residual: (N, B) true relative residual |rhs - M x| / |rhs| (0 for a zero right-hand side).
    """

    solution: torch.Tensor
    iterations: int
    converged: torch.Tensor
    residual: torch.Tensor


# ------------------------------------------------------------------ argument handling (as spectral.stochastic_logdet)


def check_int(**values: object) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")


def resolve(matvec: Matvec, dim: int, batch_size: int | None, dtype: torch.dtype | None,
            device: torch.device | str | None) -> tuple[int, torch.dtype, torch.device]:
    """B, dtype and device as :func:`gandensity.numerics.spectral.stochastic_logdet` reads them."""
    if not callable(matvec):
        raise TypeError(f"matvec must be callable (B, n) -> (B, n), got {type(matvec).__name__}")
    dtype = dtype or getattr(matvec, "dtype", None) or torch.get_default_dtype()
    if not dtype.is_floating_point:
        raise ValueError(f"dtype must be a floating-point dtype, got {dtype}")
    device = torch.device(device or getattr(matvec, "device", None) or "cpu")
    if batch_size is None:
        batch_size = getattr(matvec, "batch_size", None)
    if batch_size is None:
        try:
            out = matvec(torch.zeros(1, dim, dtype=dtype, device=device))
        except Exception as err:  # noqa: BLE001 - re-raised with the fix
            raise ValueError("could not infer how many matrices matvec multiplies (B): it failed on a (1, dim) "
                             f"input ({type(err).__name__}: {err}); pass batch_size=B") from err
        if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[1] != dim:
            raise ValueError(f"matvec must map (B, dim) to (B, dim) with dim={dim}; on a (1, {dim}) input it "
                             f"returned shape {tuple(getattr(out, 'shape', ()))}")
        batch_size = out.shape[0]
    check_int(batch_size=batch_size)
    return batch_size, dtype, device


def check_chunk(probe_chunk: int | None) -> None:
    if probe_chunk is not None and (isinstance(probe_chunk, bool) or not isinstance(probe_chunk, int)
                                    or probe_chunk < 1):
        raise ValueError(f"probe_chunk must be a positive int (vectors per vmapped matvec call) or None (all in one "
                         f"call), got {probe_chunk!r}; pass e.g. probe_chunk=32")


def probe_map(matvec: Matvec, vectorize: bool, probe_chunk: int | None = None) -> Apply:
    """(N, B, n) -> (N, B, n): ``matvec`` applied to each of the N sets of B vectors.

    With ``vectorize`` the N sets go through ``torch.func.vmap(matvec)`` (or ``matvec.many`` if it has one, e.g.
    :class:`gandensity.numerics.operators.DenseMatvec`), at most ``probe_chunk`` at a time (None: all at once).
    One vmapped call holds the activations of all its vectors (for a generator's metric: N x B forward and
    backward passes), so the chunk bounds memory whatever N is; the results are those of one call up to
    floating-point rounding (the batched kernels may sum in another order). Without ``vectorize`` the sets are
    looped over one by one.
    """
    check_chunk(probe_chunk)
    if not vectorize:
        return lambda W: torch.stack([matvec(w) for w in W])
    many = getattr(matvec, "many", None)  # a matvec that multiplies N sets at once (DenseMatvec) skips vmap
    inner = many if callable(many) else torch.func.vmap(matvec)
    if probe_chunk is None:
        return inner

    def apply(W: torch.Tensor) -> torch.Tensor:
        if W.shape[0] <= probe_chunk:
            return inner(W)
        return torch.cat([inner(part) for part in W.split(probe_chunk)])
    return apply


def batched(matvec: Matvec, vectorize: bool, probe_chunk: int | None = None) -> Apply:
    """(N, B, n) -> (N, B, n): :func:`probe_map` with checks on its output (shape, NaN or inf)."""
    inner = probe_map(matvec, vectorize, probe_chunk)

    def apply(W: torch.Tensor) -> torch.Tensor:
        out = inner(W)
        if not isinstance(out, torch.Tensor) or out.shape != W.shape:
            raise ValueError(f"matvec must map (B, n) to (B, n) = {tuple(W.shape[1:])}, got shape "
                             f"{tuple(getattr(out, 'shape', ()))[1:]}")
        if not torch.isfinite(out).all():
            bad = (~torch.isfinite(out)).any(-1).any(0).nonzero().flatten().tolist()
            raise ValueError(f"matvec returned NaN or inf for matrices {bad[:10]}")
        return out
    return apply


def rademacher(shape: tuple[int, ...], dtype: torch.dtype, device: torch.device,
               generator: torch.Generator | None) -> torch.Tensor:
    # Drawn on the CPU so that a seed gives the same probes on every device (as spectral's probes).
    bits = torch.randint(0, 2, shape, generator=generator)
    return (bits * 2 - 1).to(dtype=dtype, device=device)


def breakdown_tol(n: int, dtype: torch.dtype) -> float:
    """A residual below this times |M| is rounding: the Krylov space is (numerically) invariant."""
    return 100 * math.sqrt(n) * torch.finfo(dtype).eps


# ------------------------------------------------------------------ Lanczos and Gauss quadrature


def lanczos(apply: Apply, start: torch.Tensor, steps: int, *, first_product: torch.Tensor | None = None
            ) -> LanczosResult:
    """m steps of Lanczos with full reorthogonalisation (classical Gram-Schmidt, twice) for N x B start vectors.

    Args:
        apply: (N, B, n) -> (N, B, n), the symmetric matrices' products (see :func:`batched`).
        start: (N, B, n) start vectors (any norm; a zero vector gives an empty quadrature).
        steps: m; capped at n (the Krylov space cannot grow further).
        first_product: ``apply(start)`` if already computed (saves N matvecs).

    A breakdown (the new residual below ``breakdown_tol * max |M q|``: the Krylov space is invariant) stops that
    vector's recursion: later Lanczos vectors are zero, their alpha 1 and beta 0, so T is block diagonal with an
    identity block that log maps to 0 and that carries no quadrature weight. Costs m matvecs per start vector.
    """
    N, B, n = start.shape
    m = min(steps, n)
    tol = breakdown_tol(n, start.dtype)
    norm = start.norm(dim=-1)  # (N, B)
    active = norm > 0
    q = torch.where(active[..., None], start / norm.clamp_min(torch.finfo(start.dtype).tiny)[..., None], 0.0)
    basis = start.new_zeros(N, B, m, n)
    alphas, betas = [], []
    scale = start.new_zeros(N, B)
    for j in range(m):
        basis[:, :, j] = q
        if j == 0 and first_product is not None:
            w = first_product / norm.clamp_min(torch.finfo(start.dtype).tiny)[..., None]
            w = torch.where(active[..., None], w, 0.0)
        else:
            w = apply(q)
        scale = torch.maximum(scale, w.norm(dim=-1))
        alpha = (q * w).sum(-1)
        alphas.append(torch.where(active, alpha, torch.ones_like(alpha)))
        if j == m - 1:
            break
        Q = basis[:, :, :j + 1]  # (N, B, j + 1, n)
        for _ in range(2):  # "twice is enough" (Kahan, Parlett)
            w = w - (Q.transpose(-1, -2) @ (Q @ w[..., None]))[..., 0]
        beta = w.norm(dim=-1)
        active = active & (beta > tol * scale)
        betas.append(torch.where(active, beta, torch.zeros_like(beta)))
        q = torch.where(active[..., None], w / beta.clamp_min(torch.finfo(w.dtype).tiny)[..., None], 0.0)
    alpha = torch.stack(alphas, -1)
    beta = torch.stack(betas, -1) if betas else alpha.new_zeros(N, B, 0)
    return LanczosResult(alpha, beta, norm, basis, m)


def gauss_quadrature(alpha: torch.Tensor, beta: torch.Tensor,
                     f: Callable[[torch.Tensor], torch.Tensor] = torch.log, *,
                     check_positive: bool = True) -> torch.Tensor:
    """e_1^T f(T) e_1 for the tridiagonal T(alpha, beta): sum_k U_1k^2 f(theta_k), (...,) float64.

    Args:
        alpha: (..., m); beta: (..., m - 1).
        f: applied to the Ritz values theta (float64).
        check_positive: raise if a Ritz value is <= 0 (a Ritz value is a Rayleigh quotient of M, so M is then
            not positive definite, and log det M is undefined).
    """
    a, b = alpha.double(), beta.double()
    if a.device.type == "mps":  # no float64 there; T is small
        a, b = a.cpu(), b.cpu()
    T = torch.diag_embed(a) + torch.diag_embed(b, 1) + torch.diag_embed(b, -1)
    theta, U = torch.linalg.eigh(T)
    if check_positive:
        bad = theta.amin(-1) <= 0
        if bad.any():
            idx = bad.reshape(-1, bad.shape[-1]).any(0).nonzero().flatten().tolist() if bad.ndim else [0]
            raise ValueError(f"matvec is not positive definite: a Rayleigh quotient (Ritz value) "
                             f"{theta.amin().item():.3g} <= 0 for matrices {idx[:10]}; log det is undefined "
                             "(is the matrix singular, or indefinite?)")
    return (U[..., 0, :] ** 2 * f(theta)).sum(-1).to(alpha.device)


# ------------------------------------------------------------------ conjugate gradients and the gradient


def conjugate_gradient(apply: Apply, rhs: torch.Tensor, *, tol: float, max_iter: int,
                       reorthogonalize: bool = True) -> CGResult:
    """Solve M X = R for N x B right-hand sides at once (M symmetric positive definite), without autograd.

    Each system stops (its update is frozen) once the recursive residual |r| <= tol |rhs|. With
    ``reorthogonalize`` every new residual is orthogonalised (twice) against all earlier ones, which CG's
    residuals are in exact arithmetic: that keeps CG converging in float32 on ill-conditioned M (the metric of a
    trained generator, condition ~1e5), where plain CG stalls; it stores the residuals (iterations x the
    right-hand sides). One extra matvec at the end gives the true residual. Raises if p^T M p <= 0.
    """
    tiny = torch.finfo(rhs.dtype).tiny
    x = torch.zeros_like(rhs)
    r = rhs.clone()
    rr = (r * r).sum(-1)
    bnorm = rr.sqrt()
    done = rr.sqrt() <= tol * bnorm
    p = r.clone()
    kept: list[torch.Tensor] = []  # normalised residuals (N, B, n)
    it = 0
    while it < max_iter and not bool(done.all()):
        it += 1
        Ap = apply(p)
        pAp = (p * Ap).sum(-1)
        if bool(((pAp <= 0) & ~done).any()):
            raise ValueError("matvec is not positive definite: conjugate gradients met p^T M p <= 0")
        a = torch.where(done, torch.zeros_like(rr), rr / pAp.clamp_min(tiny))
        x = x + a[..., None] * p
        if reorthogonalize:
            kept.append(r / rr.sqrt().clamp_min(tiny)[..., None])
        r = r - a[..., None] * Ap
        if reorthogonalize:
            R = torch.stack(kept, -2)  # (N, B, k, n)
            for _ in range(2):
                r = r - (R.transpose(-1, -2) @ (R @ r[..., None]))[..., 0]
        rr_new = (r * r).sum(-1)
        beta = torch.where(done, torch.zeros_like(rr), rr_new / rr.clamp_min(tiny))
        p = torch.where(done[..., None], p, r + beta[..., None] * p)
        rr = torch.where(done, rr, rr_new)
        done = done | (rr.sqrt() <= tol * bnorm)
    true = (rhs - apply(x)).norm(dim=-1)
    residual = torch.where(bnorm > 0, true / bnorm.clamp_min(tiny), torch.zeros_like(bnorm))
    return CGResult(x, it, done, residual)


class _LogdetGradient(torch.autograd.Function):
    """Identity on the (detached) estimate in forward; on backward, d/d products of sum_i w_i u_i^T (M v_i)."""

    @staticmethod
    def forward(ctx, value, products, solve, weights):  # noqa: ANN001, ANN205 - autograd.Function signature
        ctx.solve, ctx.weights = solve, weights
        return value.clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):  # noqa: ANN001, ANN205
        with torch.no_grad():
            U = ctx.solve()  # (N, B, n) = M^{-1} vectors
        w = ctx.weights.to(dtype=U.dtype, device=U.device)[:, None, None]
        return None, grad.to(U.dtype)[None, :, None] * w * U, None, None


def attach_logdet_gradient(value: torch.Tensor, vectors: torch.Tensor, products: torch.Tensor,
                           weights: torch.Tensor, apply: Apply, *, cg_tol: float, cg_max_iter: int) -> torch.Tensor:
    """``value`` (B,) made differentiable with gradient sum_i w_i (M^{-1} v_i)^T dM v_i (an estimate of
    tr(M^{-1} dM) = d log det M when the weighted v_i are probes of the trace).

    Args:
        value: (B,) the (detached) estimate.
        vectors: (N, B, n) the v_i (no graph).
        products: (N, B, n) M v_i recorded with autograd (its graph reaches whatever ``matvec`` depends on).
        weights: (N,) the w_i.
        apply: the products, used on backward by conjugate gradients (no graph).
        cg_tol, cg_max_iter: CG stops at relative residual cg_tol or after cg_max_iter iterations (N matvecs
            per matrix each); a warning says when some system did not converge.

    The returned tensor equals ``value``; backward costs the CG iterations and one backward pass through the
    recorded matvec call, never through whatever produced ``value``. Not twice differentiable.
    """
    vectors = vectors.detach()

    def solve() -> torch.Tensor:
        res = conjugate_gradient(apply, vectors, tol=cg_tol, max_iter=cg_max_iter)
        if not bool(res.converged.all()):
            k = int((~res.converged).sum())
            warnings.warn(f"conjugate gradients did not converge for {k} of {res.converged.numel()} systems "
                          f"within cg_max_iter={cg_max_iter} iterations (largest relative residual "
                          f"{res.residual.max().item():.1e} > cg_tol={cg_tol:g}); the gradient of log det is "
                          "less accurate: raise cg_max_iter", RuntimeWarning, stacklevel=2)
        return res.solution

    return _LogdetGradient.apply(value.detach(), products, solve, weights.detach())


def attach_gram_gradient(value: torch.Tensor, matvec: Matvec, apply: Apply, count: int,
                         rng: torch.Generator | None, *, cg_tol: float, cg_max_iter: int) -> torch.Tensor:
    """``value`` (B,) made differentiable with gradient (1/q) sum_j w_j^T dM w_j, w_j = M^{-1} J^T xi_j.

    Args:
        value: (B,) the (detached) estimate.
        matvec: the products of M = J^T J; must have ``sample_gram(count, rng)`` returning (q, B, n) vectors J^T xi
            with xi ~ N(0, I) (:meth:`gandensity.numerics.spectral.MetricMatvec.sample_gram`).
        apply: the products vmapped over vectors (:func:`batched`).
        count: q, the number of vectors.
        rng: draws the xi.
        cg_tol, cg_max_iter: of the solves M w = J^T xi (a warning says when some did not converge).

    E[w w^T] = M^{-1} J^T J M^{-1} = M^{-1}, so the gradient is unbiased for d log det M = tr(M^{-1} dM); see the
    module docstring for its variance. Costs, in the forward pass: q draws (one vjp each), the CG iterations (q
    matvecs each) and one recorded matvec call on the q solutions; backward is one backward pass through that call.
    """
    with torch.no_grad():
        Y = matvec.sample_gram(count, rng)  # type: ignore[attr-defined]
        if not isinstance(Y, torch.Tensor) or Y.ndim != 3 or Y.shape[0] != count:
            raise ValueError(f"matvec.sample_gram must return (count, B, n) = ({count}, B, n) vectors, got "
                             f"{tuple(getattr(Y, 'shape', ()))}")
        res = conjugate_gradient(apply, Y.to(value.dtype), tol=cg_tol, max_iter=cg_max_iter)
    if not bool(res.converged.all()):
        k = int((~res.converged).sum())
        warnings.warn(f"conjugate gradients did not converge for {k} of {res.converged.numel()} systems within "
                      f"cg_max_iter={cg_max_iter} iterations (largest relative residual {res.residual.max().item():.1e}"
                      f" > cg_tol={cg_tol:g}); the gradient of log det is less accurate: raise cg_max_iter",
                      RuntimeWarning, stacklevel=3)
    W = res.solution.detach()
    MW = apply(W)  # recorded: the gradient's one matvec call
    weights = torch.full((count,), 1.0 / count, dtype=value.dtype)
    return _LogdetGradient.apply(value.detach(), MW, lambda: W, weights)


GRADIENTS = ("auto", "hutchinson", "gram")


def gradient_route(matvec: Matvec, gradient: str) -> str:
    """``"hutchinson"`` or ``"gram"``: the gradient estimator that ``gradient`` (``"auto"``, ...) asks for."""
    if gradient not in GRADIENTS:
        raise ValueError(f"gradient must be one of {GRADIENTS}, got {gradient!r}")
    has_gram = callable(getattr(matvec, "sample_gram", None))
    if gradient == "gram" and not has_gram:
        raise ValueError("gradient='gram' needs M = J^T J and a matvec with sample_gram(count, rng) (as "
                         "gandensity.numerics.spectral.metric_matvec's); pass gradient='hutchinson' for any other "
                         "matvec")
    if gradient == "auto":
        return "gram" if has_gram else "hutchinson"
    return gradient


def default_cg(n: int, dtype: torch.dtype, cg_tol: float | None, cg_max_iter: int | None) -> tuple[float, int]:
    tol = math.sqrt(torch.finfo(dtype).eps) if cg_tol is None else cg_tol
    if not (isinstance(tol, (int, float)) and not isinstance(tol, bool) and 0 < tol < 1):
        raise ValueError(f"cg_tol must be a number in (0, 1) (a relative residual), got {cg_tol!r}")
    max_iter = 2 * n if cg_max_iter is None else cg_max_iter
    check_int(cg_max_iter=max_iter)
    return float(tol), max_iter


def wants_gradient(products: torch.Tensor) -> bool:
    return torch.is_grad_enabled() and products.requires_grad


def depends_on_grad(apply: Apply, V: torch.Tensor) -> bool:
    """Whether products of ``apply`` carry a graph (the matvec closes over tensors that require grad): one product
    of a single vector set, for the ``"gram"`` route, which records its products only after the solves."""
    with torch.enable_grad():
        return bool(apply(V[:1]).requires_grad)


# ------------------------------------------------------------------ the estimator


def slq_logdet(matvec: Matvec, dim: int, *, steps: int = 10, probes: int = 20, batch_size: int | None = None,
               seed: int | None = None, vectorize: bool = True, dtype: torch.dtype | None = None,
               device: torch.device | str | None = None, cg_tol: float | None = None,
               cg_max_iter: int | None = None, probe_chunk: int | None = PROBE_CHUNK, gradient: str = "auto",
               gradient_probes: int | None = None) -> QuadratureLogdet:
    """Estimate log det M for B symmetric positive-definite matrices by stochastic Lanczos quadrature.

    Args:
        matvec: maps V of shape (B, dim) to (B, dim), row b multiplied by the b-th matrix (e.g.
            :func:`gandensity.numerics.spectral.metric_matvec`). May close over tensors that require grad.
        dim: n, the side of each matrix.
        steps: m, Lanczos steps per probe (m matvecs per probe); capped at n. m = n is exact per probe.
        probes: p, Rademacher probe vectors per matrix.
        batch_size: B; read from ``matvec.batch_size`` or inferred from ``matvec`` on a (1, dim) input if omitted.
        seed: seeds the probes (drawn on the CPU, so equal on every device).
        vectorize: push all p probes through one ``torch.func.vmap``-ed call of ``matvec``; ``False`` loops.
        dtype, device: of the probe vectors; read from ``matvec.dtype``/``.device`` if present, else the default
            dtype and the CPU.
        cg_tol, cg_max_iter: of the gradient's conjugate-gradient solves (default sqrt(eps of dtype) and 2n).
        probe_chunk: at most this many probes per vmapped ``matvec`` call (None: all p at once); bounds memory,
            the result is the same up to rounding (see :func:`probe_map`).
        gradient: ``"auto"`` (``"gram"`` if ``matvec`` has ``sample_gram``, else ``"hutchinson"``),
            ``"hutchinson"`` or ``"gram"``; see the module docstring.
        gradient_probes: q, the vectors of the ``"gram"`` gradient (default p); drawn after the probes.

    Returns:
        :class:`QuadratureLogdet` (logdet (B,), per_probe (B, p), matvecs = p m). ``logdet`` is differentiable
        when grad is enabled and ``matvec`` depends on tensors that require grad. ``"hutchinson"``: the gradient
        is (1/p) sum_j (M^{-1} v_j)^T dM v_j with the same probes (see :func:`attach_logdet_gradient`), which
        costs nothing more in forward (the first Lanczos product is the recorded one) and up to cg_max_iter p
        matvecs plus one backward through a matvec call in backward. ``"gram"``: see
        :func:`attach_gram_gradient` (its CG runs in forward, up to cg_max_iter q matvecs).

    Raises:
        ValueError: bad arguments; ``matvec`` returns the wrong shape or NaN/inf; a Ritz value <= 0 (M not
            positive definite).
    """
    check_int(dim=dim, steps=steps, probes=probes)
    check_chunk(probe_chunk)
    B, dtype, device = resolve(matvec, dim, batch_size, dtype, device)
    cg_tol, cg_max_iter = default_cg(dim, dtype, cg_tol, cg_max_iter)
    apply = batched(matvec, vectorize, probe_chunk)
    rng = torch.Generator().manual_seed(seed) if seed is not None else None
    V = rademacher((probes, B, dim), dtype, device, rng)  # (p, B, n)

    route = gradient_route(matvec, gradient)
    q = probes if gradient_probes is None else gradient_probes
    check_int(gradient_probes=q)

    # recorded with autograd if grad is enabled: the Hutchinson gradient's one matvec call
    MV = apply(V) if route == "hutchinson" else None
    with torch.no_grad():
        lz = lanczos(apply, V, steps, first_product=None if MV is None else MV.detach())
        values = lz.norm.double() ** 2 * gauss_quadrature(lz.alpha, lz.beta)  # (p, B)
    value = values.mean(0).to(dtype)
    if MV is not None and wants_gradient(MV):
        weights = torch.full((probes,), 1.0 / probes, dtype=dtype)
        value = attach_logdet_gradient(value, V, MV, weights, apply, cg_tol=cg_tol, cg_max_iter=cg_max_iter)
    elif route == "gram" and torch.is_grad_enabled() and depends_on_grad(apply, V):
        value = attach_gram_gradient(value, matvec, apply, q, rng, cg_tol=cg_tol, cg_max_iter=cg_max_iter)
    return QuadratureLogdet(value, values.T.to(dtype), probes * lz.steps)
