"""Log-determinant estimators side by side at equal budgets of matrix-vector products (chapter B5).

Every estimator of :func:`gandensity.numerics.spectral.stochastic_logdet` sees M only through products M v, so
its cost is counted in matvecs per matrix: t + 1 + m p for the polynomials (power method, then m products per
probe), m p for stochastic Lanczos quadrature, (2k + p') m for the Hutch++-style estimator. :func:`budget_settings`
splits a budget into (order m, probes p) for each method; :func:`budget_errors` runs every estimator at every
budget on dense matrices with independent probes per seed; :func:`budget_gradients` compares gradients with respect
to a generator's latents and weights against autograd through the exact log det; :func:`deflated_gram_gradients`
asks where the Gram gradient's error comes from, by deflating M's smallest eigen-directions exactly (an oracle that
needs the dense metric); :func:`route_times` times the
exact route (:func:`gandensity.numerics.density.generator_log_density`) against the estimators as n grows.

A dense matrix multiplies exactly like the implicit metric it was formed from (M v = J^T (J v) up to rounding), so
errors measured on the dense metric of a generator are those of the estimator on its implicit metric, at a
fraction of the cost.
"""

from __future__ import annotations

import math
import time
import warnings
from typing import Any, Callable, Mapping, NamedTuple, Sequence

import torch

from gandensity.numerics.density import generator_log_density
from gandensity.numerics.operators import dense_matvec
from gandensity.numerics.spectral import (METHODS, POLYNOMIAL_METHODS, estimated_logdet_gradient,
                                          exact_logdet_gradient, gradient_errors, hutchpp_split, metric_matvec,
                                          stochastic_logdet)

__all__ = ["budget_settings", "matvec_cost", "BudgetErrors", "budget_errors", "BudgetGradient", "budget_gradients",
           "DeflatedGradient", "deflated_gram_gradients", "RouteTime", "route_times"]

Generator = Callable[[torch.Tensor], torch.Tensor]


def _method(settings: Mapping[str, Any]) -> str:
    method = settings.get("method", "chebyshev")
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {METHODS}")
    return method


def matvec_cost(method: str, order: int, probes: int, dim: int, *, power_iters: int = 20,
                sketch: int | None = None) -> int:
    """Matvecs per matrix that ``stochastic_logdet(method=method, order=order, probes=probes)`` spends (forward)."""
    if method in POLYNOMIAL_METHODS:
        return power_iters + 1 + order * probes
    m = min(order, dim)
    if method == "lanczos":
        return m * probes
    if method == "hutchpp":
        k, p = hutchpp_split(probes, dim, sketch)
        return (2 * k + p) * m
    raise ValueError(f"unknown method {method!r}; choose one of {METHODS}")


def budget_settings(method: str, budget: int, dim: int, *, power_iters: int = 20) -> dict[str, int]:
    """``order`` and ``probes`` for ``stochastic_logdet`` that spend at most about ``budget`` matvecs per matrix.

    Polynomials: the power method's t + 1 first, then m of about sqrt(remaining / 2) and p = remaining // m (the
    paper's (m, p) = (10, 20) at its 220 products; B1 showed that on a trained generator's metric the polynomial's
    bias, not the probes, limits it, so a deeper order is the better use of a larger budget). Quadrature: m about
    sqrt(budget * max(1, n / 100)) Lanczos steps and p = budget // m probes, m capped at n. At n = 100 that is
    m = p = sqrt(budget): at ~1,000 matvecs on the trained MNIST DCGAN's metric m of 30-50 gave the smallest error
    (fewer steps leave the Gauss rule's upward bias, more leave too few probes). Hutchinson's relative noise falls
    like 1 / sqrt(n p) while the Gauss rule's relative bias does not fall with n, so a larger n wants more steps:
    at n = 1024 and 1,000 matvecs, m = 32 left a bias of 20-25% on log-uniform and DCGAN-like spectra, m = 64 about
    5% (benchmarks/bench_logdet_estimators.py). Every setting is at least 1, so a tiny budget is exceeded rather
    than refused.
    """
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise ValueError(f"budget must be a positive int (matvecs per matrix), got {budget!r}")
    if method in POLYNOMIAL_METHODS:
        rest = max(1, budget - power_iters - 1)
        order = max(1, round(math.sqrt(rest / 2)))
        return {"order": order, "probes": max(1, rest // order)}
    if method in ("lanczos", "hutchpp"):
        # Hutch++ needs 3 vectors at least (2 sketch columns and a probe)
        most = budget if method == "lanczos" else max(1, budget // 3)
        order = min(dim, most, max(1, round(math.sqrt(budget * max(1.0, dim / 100)))))
        return {"order": order, "probes": max(1, budget // order)}
    raise ValueError(f"unknown method {method!r}; choose one of {METHODS}")


class BudgetErrors(NamedTuple):
    """Every estimator at every budget on B matrices, S independent probe draws each.

    Attributes:
        labels: (E,) the estimators' names.
        budgets: (K,) the nominal budgets.
        matvecs: (E, K) int64, matvecs per matrix actually spent.
        estimates: (E, K, S, B) float64 estimates of log det.
        exact: (B,) float64 log det.
        flagged: (E, K) bool: the polynomial methods' own check said the spectrum is outside [eps, g lambda_max]
            (``stochastic_logdet``'s ``on_bad_spectrum`` warning, collected here instead of shown).
    """

    labels: tuple[str, ...]
    budgets: tuple[int, ...]
    matvecs: torch.Tensor
    estimates: torch.Tensor
    exact: torch.Tensor
    flagged: torch.Tensor

    @property
    def rel_error(self) -> torch.Tensor:
        """(E, K, S, B) |estimate - exact| / |exact|."""
        return (self.estimates - self.exact).abs() / self.exact.abs()

    @property
    def rel_bias(self) -> torch.Tensor:
        """(E, K, B) mean over seeds of (estimate - exact) / |exact|."""
        return ((self.estimates - self.exact) / self.exact.abs()).mean(2)

    def mean_rel_error(self) -> torch.Tensor:
        """(E, K, B): per matrix, the mean over seeds of the relative error."""
        return self.rel_error.mean(2)


def budget_errors(matrices: torch.Tensor, estimators: Mapping[str, Mapping[str, Any]], budgets: Sequence[int], *,
                  seeds: int = 10, seed: int = 0, exact: torch.Tensor | None = None) -> BudgetErrors:
    """Relative errors of log det for each estimator and budget on dense SPD ``matrices`` (B, n, n).

    Args:
        matrices: (B, n, n) symmetric positive definite (cast to float64).
        estimators: name -> keyword settings of :func:`gandensity.numerics.spectral.stochastic_logdet` other than
            ``order`` and ``probes`` (e.g. ``{"method": "chebyshev", "eps": 0.1}``), which :func:`budget_settings`
            sets per budget.
        budgets: matvecs per matrix.
        seeds: S independent probe draws per matrix (all in one batched call: the B matrices are repeated S times).
        seed: seeds the probes.
        exact: (B,) log det if known (default: ``torch.linalg.slogdet``; raises if a matrix is not positive
            definite).
    """
    if not isinstance(matrices, torch.Tensor) or matrices.ndim != 3 or matrices.shape[1] != matrices.shape[2]:
        raise ValueError(f"matrices must be a (B, n, n) tensor, got {type(matrices).__name__} "
                         f"{tuple(getattr(matrices, 'shape', ()))}")
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ValueError(f"seeds must be a positive int (independent probe draws), got {seeds!r}")
    if not budgets:
        raise ValueError("budgets must list at least one budget (matvecs per matrix), e.g. [220, 1000]")
    M = matrices.detach().double()
    B, n = M.shape[0], M.shape[-1]
    if exact is None:
        sign, exact = torch.linalg.slogdet(M)
        if (sign <= 0).any():
            raise ValueError(f"matrices {(sign <= 0).nonzero().flatten().tolist()[:10]} are not positive definite; "
                             "log det is undefined")
    exact = exact.detach().double().cpu()
    mv = dense_matvec(M.repeat(seeds, 1, 1))  # (S B, n, n): row s * B + b is matrix b, draw s
    labels = tuple(estimators)
    estimates = torch.empty(len(labels), len(budgets), seeds, B, dtype=torch.float64)
    matvecs = torch.empty(len(labels), len(budgets), dtype=torch.int64)
    flagged = torch.zeros(len(labels), len(budgets), dtype=torch.bool)
    for e, label in enumerate(labels):
        settings = dict(estimators[label])
        method = _method(settings)
        t = int(settings.get("power_iters", 20))
        for k, budget in enumerate(budgets):
            mp = budget_settings(method, int(budget), n, power_iters=t)
            with warnings.catch_warnings(record=True) as caught, torch.no_grad():
                warnings.filterwarnings("always", message="stochastic_logdet: the spectrum is outside",
                                        category=RuntimeWarning)
                est = stochastic_logdet(mv, n, seed=seed, **{**settings, **mp})
            for w in caught:
                if "the spectrum is outside" in str(w.message):
                    flagged[e, k] = True
                else:
                    warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
            estimates[e, k] = est.double().cpu().view(seeds, B)
            matvecs[e, k] = matvec_cost(method, mp["order"], mp["probes"], n, power_iters=t,
                                        sketch=settings.get("sketch"))
    return BudgetErrors(labels, tuple(int(b) for b in budgets), matvecs, estimates, exact, flagged)


class BudgetGradient(NamedTuple):
    """One estimator's gradient of log det M against autograd through the exact log det, at one budget.

    Attributes:
        label: the estimator's name.
        matvecs: matvecs per latent of the forward pass (the quadrature methods' backward adds the CG solves).
        cosine_z, rel_error_z: (B,) per latent, of the gradient of log det M(z_b) with respect to z_b.
        cosine_params, rel_error_params: of the gradient of sum_b log det M(z_b) with respect to the weights.
        seconds: wall-clock time of the estimate and its backward pass (this machine).
        norm_ratio_z: (B,) |estimated z-gradient| / |exact z-gradient| per latent.
    """

    label: str
    matvecs: int
    cosine_z: torch.Tensor
    rel_error_z: torch.Tensor
    cosine_params: float
    rel_error_params: float
    seconds: float
    norm_ratio_z: torch.Tensor


def budget_gradients(generator: Generator, z: torch.Tensor, params: list[torch.Tensor],
                     estimators: Mapping[str, Mapping[str, Any]], budget: int, *, seed: int = 0
                     ) -> list[BudgetGradient]:
    """Gradients of each estimator at ``budget`` matvecs per latent against the exact ones, on the implicit metric
    of ``generator`` (jvp + vjp products, :func:`gandensity.numerics.spectral.metric_matvec`).

    Args:
        generator: maps (B, n) latents to outputs; per-sample (eval mode).
        z: (B, n) latents.
        params: weights of the generator to differentiate with respect to (they must require grad).
        estimators, budget: as in :func:`budget_errors` (one budget).
        seed: seeds the probes.
    """
    n = z.shape[1]
    ref_z, ref_p = exact_logdet_gradient(generator, z, params)
    rows = []
    for label, settings in estimators.items():
        settings = dict(settings)
        method = _method(settings)
        t = int(settings.get("power_iters", 20))
        mp = budget_settings(method, int(budget), n, power_iters=t)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="stochastic_logdet: the spectrum is outside",
                                    category=RuntimeWarning)
            gz, gp = estimated_logdet_gradient(generator, z, params, seed=seed, **{**settings, **mp})
        seconds = time.perf_counter() - start
        rows.append(BudgetGradient(label, matvec_cost(method, mp["order"], mp["probes"], n, power_iters=t,
                                                      sketch=settings.get("sketch")),
                                   *gradient_errors(gz, gp, ref_z, ref_p), seconds,
                                   (gz.norm(dim=-1) / ref_z.norm(dim=-1)).detach().cpu()))
    return rows


class DeflatedGradient(NamedTuple):
    """The Gram gradient of log det M with M's k smallest eigen-directions deflated exactly, against the exact one.

    Attributes:
        deflate: k, the number of deflated eigen-directions (0: the plain Gram estimator).
        vectors: q, the Gram vectors of the stochastic part.
        cosine_z, rel_error_z: (B,) per latent, as in :class:`BudgetGradient`.
        cosine_params, rel_error_params: of the gradient with respect to the weights.
    """

    deflate: int
    vectors: int
    cosine_z: torch.Tensor
    rel_error_z: torch.Tensor
    cosine_params: float
    rel_error_params: float


def deflated_gram_gradients(generator: Generator, z: torch.Tensor, params: list[torch.Tensor], metric: torch.Tensor,
                            deflate: Sequence[int], *, vectors: int, seed: int = 0) -> list[DeflatedGradient]:
    """Where the Gram gradient's error lives: its error with M's k smallest eigen-directions handled exactly.

    With M = U diag(lambda) U^T (``metric``, dense) and P the projector on the span of the k eigenvectors of the
    smallest eigenvalues,

        d log det M = tr(M^{-1} dM) = sum_{i <= k} u_i^T dM u_i / lambda_i + E[(P' w)^T dM (P' w)],

    with P' = I - P and w = M^{-1} J^T xi, xi ~ N(0, I) (covariance M^{-1}; P' commutes with M, so the second term
    is unbiased for the rest of the trace). k = 0 is the plain Gram estimator of
    :func:`gandensity.numerics.lanczos.attach_gram_gradient` with exact solves instead of conjugate gradients. The
    first term is exact; the variance left is that of the directions with the larger eigenvalues. This is an
    oracle: it needs the eigenvectors of the dense metric, which at small n cost as much as the exact route.

    Args:
        generator: maps (B, n) latents to outputs; per-sample (eval mode).
        z: (B, n) latents.
        params: weights of the generator (they must require grad).
        metric: (B, n, n) float64 dense M(z) (:func:`gandensity.numerics.spectral.exact_metric`), without graph.
        deflate: the k values to try, each in [0, n].
        vectors: q, Gram vectors of the stochastic part (the same draws for every k).
        seed: seeds the Gram vectors.

    Returns:
        One :class:`DeflatedGradient` per k.
    """
    B, n = z.shape
    if metric.shape != (B, n, n):
        raise ValueError(f"metric must have shape (B, n, n) = {(B, n, n)}, got {tuple(metric.shape)}")
    if isinstance(vectors, bool) or not isinstance(vectors, int) or vectors < 1:
        raise ValueError(f"vectors must be a positive int, got {vectors!r}")
    bad = [k for k in deflate if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= n]
    if bad:
        raise ValueError(f"deflate must hold ints in [0, n] = [0, {n}], got {bad}")
    ref_z, ref_p = exact_logdet_gradient(generator, z, params)
    metric = metric.detach().to(torch.float64)
    eigenvalues, eigenvectors = torch.linalg.eigh(metric)  # ascending: the first k are the smallest
    rows = []
    for k in deflate:
        zz = z.detach().clone().requires_grad_()
        matvec = metric_matvec(generator, zz)
        products = torch.func.vmap(matvec)
        Y = matvec.sample_gram(vectors, torch.Generator().manual_seed(seed)).to(torch.float64)  # (q, B, n)
        W = torch.linalg.solve(metric, Y.permute(1, 2, 0)).permute(2, 0, 1)  # (q, B, n): M^{-1} J^T xi
        U = eigenvectors[:, :, :k]  # (B, n, k)
        W = W - (U @ (U.transpose(1, 2) @ W.permute(1, 2, 0))).permute(2, 0, 1)  # P' w
        Wc = W.to(z.dtype).detach()
        value = (Wc * products(Wc)).sum() / vectors
        if k:
            Uc = U.permute(2, 0, 1).to(z.dtype).detach()  # (k, B, n)
            scaled = (Uc / eigenvalues[:, :k].T[..., None].to(z.dtype)).detach()
            value = value + (scaled * products(Uc)).sum()
        got = torch.autograd.grad(value, [zz, *params])
        gz, gp = got[0].double(), torch.cat([t.double().flatten() for t in got[1:]])
        rows.append(DeflatedGradient(int(k), int(vectors), *gradient_errors(gz, gp, ref_z, ref_p)))
    return rows


class RouteTime(NamedTuple):
    """Seconds per sample of the exact log-density and of each estimator's log det, at one latent dimension.

    Attributes:
        latent_dim: n.
        exact_seconds: :func:`gandensity.numerics.density.generator_log_density` (n jvps and a float64 QR).
        seconds: estimator name -> seconds of its ``stochastic_logdet`` on the implicit metric (no gradient).
        matvecs: estimator name -> matvecs per sample.
    """

    latent_dim: int
    exact_seconds: float
    seconds: dict[str, float]
    matvecs: dict[str, int]


def _timed(fn: Callable[[], Any], device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def route_times(make_generator: Callable[[int], Generator], latent_dims: Sequence[int],
                estimators: Mapping[str, Mapping[str, Any]], budget: int, *, batch_size: int = 2, seed: int = 0,
                device: str | torch.device = "cpu") -> list[RouteTime]:
    """Time the exact route and each estimator at ``budget`` on ``make_generator(n)`` for each n.

    Each route first runs once untimed on one latent at a minimal setting (forward-mode AD compiles its
    decompositions on first use), then once timed on ``batch_size`` latents. Times are wall clock on this machine
    under whatever else runs on it: compare them with each other, not across machines.
    """
    device = torch.device(device)
    rows = []
    for n in latent_dims:
        generator = make_generator(n)
        param = next(generator.parameters(), None) if isinstance(generator, torch.nn.Module) else None
        dtype = param.dtype if param is not None and param.is_floating_point() else torch.get_default_dtype()
        z = torch.randn(batch_size, n, generator=torch.Generator().manual_seed(seed)).to(device, dtype)
        with torch.no_grad():
            generator_log_density(generator, z[:1])
            exact = _timed(lambda: generator_log_density(generator, z), device) / batch_size
        seconds, matvecs = {}, {}
        for label, settings in estimators.items():
            settings = dict(settings)
            method = _method(settings)
            t = int(settings.get("power_iters", 20))
            mp = budget_settings(method, int(budget), n, power_iters=t)
            with warnings.catch_warnings(), torch.no_grad():
                warnings.filterwarnings("ignore", message="stochastic_logdet: the spectrum is outside",
                                        category=RuntimeWarning)
                stochastic_logdet(metric_matvec(generator, z[:1]), n, seed=seed,
                                  **{**settings, "order": 2, "probes": 2, "power_iters": 1})
                seconds[label] = _timed(lambda: stochastic_logdet(metric_matvec(generator, z), n, seed=seed,
                                                                  **{**settings, **mp}), device) / batch_size
            matvecs[label] = matvec_cost(method, mp["order"], mp["probes"], n, power_iters=t,
                                         sketch=settings.get("sketch"))
        rows.append(RouteTime(n, exact, seconds, matvecs))
    return rows
