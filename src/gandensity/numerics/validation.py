"""Reference densities that do not use :mod:`gandensity.numerics.density`, for tests and for the book.

Each reference reaches the answer by a different route than the Jacobian + QR of the package:
- a linear generator x = W z + b pushes N(0, I) to a degenerate Gaussian, whose density on range(W)
  follows from the pseudo-inverse and pseudo-determinant of W W^T;
- a sphere patch (theta, phi) -> r (sin t cos p, sin t sin p, cos t) has det(J^T J) = r^4 sin^2 t;
- a graph z -> (z, a sin(w.z)) has J^T J = I + g g^T, det = 1 + |g|^2 (matrix determinant lemma);
- any network: a dense reverse-mode Jacobian, one sample at a time, and ``slogdet`` of J^T J.

For the stochastic log-determinant of paper 001: SPD matrices with a prescribed spectrum (multiply them with
:func:`gandensity.numerics.operators.dense_matvec`), the exact log det(J^T J) of a generator, and the cost of
both routes as the latent dimension grows.

For annealed importance sampling (paper 002): the likelihood N(x; G(z), sigma2 I) of one latent, and the exact
log p(x) of a linear generator with Gaussian noise, a Gaussian whose covariance is formed densely.
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable, NamedTuple

import torch

from gandensity.numerics._checks import check_images, check_latents, check_sigma2
from gandensity.numerics.density import LOGDET_METHODS, generator_jacobian, generator_log_density, half_logdet_metric
from gandensity.numerics.priors import Prior, StandardNormal

__all__ = ["Check", "checks_table", "degenerate_gaussian_log_density", "sphere_patch", "sphere_patch_half_logdet",
           "graph_map", "graph_map_half_logdet", "dense_jacobian_log_density", "closed_form_checks",
           "dense_jacobian_checks", "spd_with_spectrum", "logdet_metric", "RouteCost", "logdet_route_costs",
           "tracked_layer_reference", "tracked_generator_reference", "dense_conv_logdet", "histogram_log_density",
           "DensityGap", "tracked_density_gap", "gaussian_log_likelihood", "linear_gaussian_log_likelihood"]


class Check(NamedTuple):
    """One comparison of ``generator_log_density`` against a reference."""

    case: str
    method: str
    max_abs_error: float
    tolerance: float

    @property
    def passed(self) -> bool:
        return self.max_abs_error <= self.tolerance


def checks_table(checks: list[Check]) -> str:
    """A Markdown table: one row per case, the max absolute error (nats) of each method, the tolerance."""
    methods = list(dict.fromkeys(c.method for c in checks))
    rows: dict[str, dict[str, Check]] = {}
    for c in checks:
        rows.setdefault(c.case, {})[c.method] = c
    lines = ["| case | " + " | ".join(methods) + " | tolerance | passed |", "|" + "---|" * (len(methods) + 3)]
    for case, by_method in rows.items():
        errors = " | ".join(f"{by_method[m].max_abs_error:.1e}" if m in by_method else "" for m in methods)
        tol = next(iter(by_method.values())).tolerance
        lines.append(f"| {case} | {errors} | {tol:.0e} | {all(c.passed for c in by_method.values())} |")
    return "\n".join(lines)


def degenerate_gaussian_log_density(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """log-density of x (B, m) under x = W z + b, z ~ N(0, I_n), w.r.t. n-dim volume on range(W) -> (B,)."""
    n = w.shape[1]
    cov = w @ w.T
    log_pdet = torch.linalg.eigvalsh(cov)[-n:].log().sum()  # the n non-zero eigenvalues of W W^T
    d = x - b
    maha = ((d @ torch.linalg.pinv(cov, hermitian=True)) * d).sum(-1)
    return -0.5 * n * math.log(2 * math.pi) - 0.5 * log_pdet - 0.5 * maha


def sphere_patch(radius: float) -> Callable[[torch.Tensor], torch.Tensor]:
    """(B, 2) angles (theta, phi) -> (B, 3) points on the sphere of the given radius."""
    def g(v: torch.Tensor) -> torch.Tensor:
        t, p = v[:, 0], v[:, 1]
        return radius * torch.stack([t.sin() * p.cos(), t.sin() * p.sin(), t.cos()], -1)
    return g


def sphere_patch_half_logdet(z: torch.Tensor, radius: float) -> torch.Tensor:
    """1/2 log det(J^T J) = log(r^2 |sin theta|) -> (B,)."""
    return torch.log(radius**2 * z[:, 0].sin().abs())


def graph_map(w: torch.Tensor, a: float) -> Callable[[torch.Tensor], torch.Tensor]:
    """(B, n) -> (B, n + 1): the graph of a sin(w.z)."""
    return lambda v: torch.cat([v, a * torch.sin(v @ w)[:, None]], -1)


def graph_map_half_logdet(z: torch.Tensor, w: torch.Tensor, a: float) -> torch.Tensor:
    """1/2 log(1 + |a cos(w.z) w|^2) -> (B,)."""
    return 0.5 * torch.log1p((a * torch.cos(z @ w)) ** 2 * w.pow(2).sum())


def dense_jacobian_log_density(generator: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor,
                               prior: Prior | None = None) -> torch.Tensor:
    """Brute force, one sample at a time: dense reverse-mode Jacobian, float64 slogdet of J^T J -> (B,)."""
    prior = prior if prior is not None else StandardNormal()
    out = []
    for zi in z:  # deliberately naive: this is the reference, not the method
        jac = torch.autograd.functional.jacobian(lambda v: generator(v[None]).flatten(), zi).double()
        sign, logdet = torch.linalg.slogdet(jac.T @ jac)
        out.append(prior.log_prob(zi[None].double())[0] - 0.5 * logdet if sign > 0 else torch.tensor(math.inf))
    return torch.stack(out)


def _errors(case: str, got: Callable[[str], torch.Tensor], want: torch.Tensor, tol: float) -> list[Check]:
    return [Check(case, method, (got(method) - want).abs().max().item(), tol) for method in LOGDET_METHODS]


def closed_form_checks(seed: int = 0) -> list[Check]:
    """``generator_log_density`` (float64, every log-det method) against the three closed forms."""
    g = torch.Generator().manual_seed(seed)
    f64 = torch.float64
    w, b = torch.randn(64, 8, generator=g, dtype=f64), torch.randn(64, generator=g, dtype=f64)
    z = torch.randn(32, 8, generator=g, dtype=f64)
    linear = lambda v: v @ w.T + b  # noqa: E731
    checks = _errors("linear generator R^8 -> R^64 (degenerate Gaussian)",
                     lambda m: generator_log_density(linear, z, logdet=m),
                     degenerate_gaussian_log_density(linear(z), w, b), 1e-8)

    r = 1.7
    angles = torch.rand(32, 2, generator=g, dtype=f64) * torch.tensor([3.0, 6.2], dtype=f64) + 0.07
    checks += _errors("sphere patch R^2 -> R^3 (det = r⁴ sin²θ)",
                      lambda m: generator_log_density(sphere_patch(r), angles, logdet=m),
                      StandardNormal().log_prob(angles) - sphere_patch_half_logdet(angles, r), 1e-8)

    wg = torch.randn(6, generator=g, dtype=f64)
    zg = torch.randn(32, 6, generator=g, dtype=f64)
    checks += _errors("graph of a sin(w.z), R^6 -> R^7 (det = 1 + ‖g‖²)",
                      lambda m: generator_log_density(graph_map(wg, 2.0), zg, logdet=m),
                      StandardNormal().log_prob(zg) - graph_map_half_logdet(zg, wg, 2.0), 1e-8)
    return checks


def dense_jacobian_checks(generator: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor,
                          tolerance: float, fd_tolerance: float) -> list[Check]:
    """``generator_log_density`` of a network (every log-det method, and finite differences for QR)
    against the brute-force dense Jacobian; the tolerances bound the max absolute error in nats.
    Central differences err by O(h^2) + O(eps/h) per entry, hence their own, looser bound."""
    want = dense_jacobian_log_density(generator, z)
    checks = _errors("trained network: forward-mode Jacobian vs dense reverse-mode Jacobian + slogdet",
                     lambda m: generator_log_density(generator, z, logdet=m), want, tolerance)
    fd = generator_log_density(generator, z, jacobian="finite_difference")
    checks.append(Check("trained network: finite-difference Jacobian vs the same reference", "qr",
                        (fd - want).abs().max().item(), fd_tolerance))
    return checks


# ------------------------------------------------------------------ references for the stochastic log-det


def spd_with_spectrum(eigenvalues: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """(B, n, n) float64 symmetric matrices with the given (B, n) eigenvalues and Haar-random eigenvectors."""
    g = torch.Generator().manual_seed(seed)
    lam = eigenvalues.double()
    q = torch.linalg.qr(torch.randn(*lam.shape, lam.shape[-1], generator=g, dtype=torch.float64))[0]
    return q @ torch.diag_embed(lam) @ q.transpose(-1, -2)


def logdet_metric(generator: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor,
                  chunk_size: int = 8) -> torch.Tensor:
    """Exact log det(J^T J) of the metric J^T J of G at each latent, (B,) float64, by the forward-mode Jacobian
    and QR (the route of chapter A1): the reference of the stochastic log-determinants."""
    half, _ = half_logdet_metric(generator_jacobian(generator, z, chunk_size=chunk_size))
    return 2 * half


metric_logdet = logdet_metric  # deprecated name, kept for old callers: use logdet_metric


class RouteCost(NamedTuple):
    """Time per sample of the exact and the stochastic log det(J^T J) for one latent dimension."""

    latent_dim: int
    exact_seconds: float  # per sample: n jvps (forward-mode Jacobian) + QR
    stochastic_seconds: float  # per sample: t + m p metric products (jvp + vjp each)
    matvecs: int  # metric products per sample of the stochastic route
    median_abs_error: float  # |estimate - exact| of log det(J^T J), nats, median over the batch


def logdet_route_costs(make_generator: Callable[[int], Callable[[torch.Tensor], torch.Tensor]],
                       latent_dims: list[int], *, batch_size: int = 4, seed: int = 0, device: str = "cpu",
                       **estimator: Any) -> list[RouteCost]:
    """Time both routes to log det(J^T J) on ``make_generator(n)`` for each n in ``latent_dims``.

    Each route runs once untimed (warm-up) and once timed, on the same ``batch_size`` latents. ``estimator``
    holds the keyword arguments of ``stochastic_logdet`` (order, probes, power_iters, g, eps, method).
    """
    from gandensity.numerics.spectral import metric_matvec, stochastic_logdet

    order, probes, power_iters = (estimator.get(k, d) for k, d in (("order", 10), ("probes", 20),
                                                                     ("power_iters", 20)))
    rows = []
    for n in latent_dims:
        generator = make_generator(n)
        z = torch.randn(batch_size, n, generator=torch.Generator().manual_seed(seed)).to(device)

        def stochastic() -> torch.Tensor:
            with torch.no_grad():
                return stochastic_logdet(metric_matvec(generator, z), n, seed=seed, **estimator)

        times = {}
        for name, route in (("exact", lambda: logdet_metric(generator, z)), ("stochastic", stochastic)):
            route()
            _synchronize(device)
            start = time.perf_counter()
            value = route()
            _synchronize(device)
            times[name] = ((time.perf_counter() - start) / batch_size, value)
        error = (times["stochastic"][1].double().cpu() - times["exact"][1].cpu()).abs().median().item()
        rows.append(RouteCost(n, times["exact"][0], times["stochastic"][0], power_iters + 1 + order * probes,
                              error))
    return rows


def _synchronize(device: str | torch.device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


# ------------------------------------------------------------- references for LED's density-tracking layers


def tracked_layer_reference(layer: Any, x: torch.Tensor, log_density: torch.Tensor,
                            eps: torch.Tensor | None = None) -> torch.Tensor:
    """Brute-force log-density after one bijective tracked layer, one sample at a time -> (B,) float64.

    The layer is treated as a map of (x, eps) -> y (eps: its standard-normal draws, if any, as extra inputs),
    and log p(y) = log p(x) + log N(eps; 0, I) - log|det d y / d(x, eps)|, with a dense reverse-mode Jacobian.
    Batch norm must be in evaluation mode (in training mode a sample's output depends on the whole batch).
    """
    out = []
    for i in range(x.shape[0]):  # deliberately naive: this is the reference, not the method
        xi = x[i:i + 1]
        n_x = xi.numel()
        inputs = xi.flatten() if eps is None else torch.cat([xi.flatten(), eps[i].flatten()])

        def f(v: torch.Tensor) -> torch.Tensor:
            e = None if eps is None else v[n_x:].view(1, *eps.shape[1:])
            return layer(v[:n_x].view_as(xi), torch.zeros(1, dtype=torch.float64), e)[0].flatten()

        jac = torch.autograd.functional.jacobian(f, inputs).double()
        noise = 0.0 if eps is None else StandardNormal().log_prob(eps[i].double().flatten())
        out.append(log_density[i] + noise - torch.linalg.slogdet(jac)[1])
    return torch.stack(out)


def tracked_generator_reference(generator: Any, z: torch.Tensor, noises: list[torch.Tensor]) -> torch.Tensor:
    """Brute-force log P_G of a tracked generator *without* reduction layers (a bijection of its flat inputs
    (z, eps) onto its outputs): log N((z, eps); 0, I) - log|det| of the dense Jacobian, per sample; (B,)."""
    inputs = torch.cat([z.flatten(1)] + [n.flatten(1) for n in noises], 1)
    out = []
    for v in inputs:
        jac = torch.autograd.functional.jacobian(lambda u: generator.inputs_to_output(u[None])[0], v).double()
        if jac.shape[0] != jac.shape[1]:
            raise ValueError(f"the generator maps {jac.shape[1]} inputs to {jac.shape[0]} outputs: not a bijection "
                             "(remove its reduction layers for this reference)")
        log_inputs = StandardNormal().log_prob(v.double())
        out.append(log_inputs - torch.linalg.slogdet(jac)[1])
    return torch.stack(out)


def dense_conv_logdet(conv: torch.nn.Module, channels: int, height: int, width: int) -> torch.Tensor:
    """log|det| of a circular convolution layer from its dense (C H W)^2 matrix, built column by column by
    applying the layer to the standard basis (the circulant matrix Sedghi et al.'s FFT route avoids)."""
    n = channels * height * width
    basis = torch.eye(n, dtype=conv.weight.dtype).view(n, channels, height, width)
    zero = torch.zeros(n, dtype=torch.float64)
    bias = conv.bias
    with torch.no_grad():
        cols = conv(basis, zero)[0]
        if bias is not None:
            cols = cols - bias.view(1, -1, 1, 1)
    return torch.linalg.slogdet(cols.flatten(1).double().T)[1]


def histogram_log_density(samples: torch.Tensor, points: torch.Tensor, *, bins: int,
                          bounds: tuple[float, float, float, float]) -> torch.Tensor:
    """Monte Carlo reference for a 2-D density: log of a normalized histogram of ``samples`` (N, 2) on
    ``bounds`` = (x0, x1, y0, y1) with bins x bins cells, read at ``points`` (B, 2); -inf in empty cells.
    Its bias is the smoothing over a cell; its noise ~ 1/sqrt(count) per cell."""
    x0, x1, y0, y1 = bounds
    s = samples.double()
    hist = torch.histogramdd(s, bins=[bins, bins], range=[x0, x1, y0, y1])[0]
    cell = (x1 - x0) * (y1 - y0) / bins ** 2
    density = hist / (len(s) * cell)
    ix = ((points[:, 0].double() - x0) / (x1 - x0) * bins).floor().long().clamp(0, bins - 1)
    iy = ((points[:, 1].double() - y0) / (y1 - y0) * bins).floor().long().clamp(0, bins - 1)
    return torch.log(density[ix, iy])


class DensityGap(NamedTuple):
    """Tracked against Monte Carlo log-density of a 2-D generator at its own samples.

    pool: (N, 2) Monte Carlo samples. x: (P, 2) probe samples. tracked, monte_carlo: (P,) float64 log-densities at
    them (monte_carlo -inf in empty cells). inside: (P,) bool, probes inside ``bounds`` (the pool's 0.1%-99.9%
    box) and in a non-empty cell. gap: tracked - monte_carlo over the probes inside.
    """

    pool: torch.Tensor
    x: torch.Tensor
    tracked: torch.Tensor
    monte_carlo: torch.Tensor
    inside: torch.Tensor
    bounds: tuple[float, float, float, float]

    @property
    def gap(self) -> torch.Tensor:
        return (self.tracked - self.monte_carlo)[self.inside]


@torch.no_grad()
def tracked_density_gap(generator: Any, *, mc_samples: int, probes: int, bins: int, seed: int = 0,
                        chunk: int = 100_000) -> DensityGap:
    """Compare a 2-D tracked generator's log P_G at ``probes`` of its samples with a ``bins`` x ``bins``
    histogram of ``mc_samples`` others (drawn in chunks), on the box holding 99.8% of them per axis."""
    g = torch.Generator(device=next(generator.parameters()).device).manual_seed(seed)
    pool = torch.cat([generator.sample(min(chunk, mc_samples - i), rng=g).x.cpu()
                      for i in range(0, mc_samples, chunk)])
    probe = generator.sample(probes, rng=g)
    x, tracked = probe.x.cpu(), probe.log_density.cpu()
    lo, hi = torch.quantile(pool, 0.001, 0), torch.quantile(pool, 0.999, 0)
    bounds = (lo[0].item(), hi[0].item(), lo[1].item(), hi[1].item())
    monte_carlo = histogram_log_density(pool, x, bins=bins, bounds=bounds)
    inside = torch.isfinite(monte_carlo) & (x >= lo).all(1) & (x <= hi).all(1)
    return DensityGap(pool, x, tracked, monte_carlo, inside, bounds)


# ------------------------------------------------------------------ references for annealed importance sampling


def gaussian_log_likelihood(generator: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor,
                            x: torch.Tensor, *, sigma2: float) -> torch.Tensor:
    """log N(x; G(z), sigma2 I) for paired rows of z (B, n) and x (B, ...) -> (B,): the integrand's likelihood.

    Row i of z is paired with row i of x, so both need the same B (nothing is broadcast: to score one image
    under several latents, repeat it, ``x.expand(len(z), *x.shape[1:])``), and G(z) must have x's shape.
    """
    sigma2 = check_sigma2(sigma2)
    check_latents(z, "z")
    check_images(x, "x")
    if z.shape[0] != x.shape[0]:
        raise ValueError(f"z has {z.shape[0]} latents but x has {x.shape[0]} images: row i of z is paired with row "
                         f"i of x and nothing is broadcast; pass as many images as latents (e.g. "
                         f"x.expand({z.shape[0]}, *x.shape[1:]) to score one image under every latent)")
    with torch.no_grad():
        mean = generator(z)
        if tuple(mean.shape) != tuple(x.shape):
            raise ValueError(f"x has shape {tuple(x.shape)} but the generator maps z to {tuple(mean.shape)}: shape "
                             "mismatch; pass images shaped like the generator's output")
        r = (x - mean).reshape(x.shape[0], -1)
    return -0.5 * r.pow(2).sum(1) / sigma2 - 0.5 * r.shape[1] * math.log(2 * math.pi * sigma2)


def linear_gaussian_log_likelihood(weight: torch.Tensor, bias: torch.Tensor, x: torch.Tensor, *,
                                   sigma2: float) -> torch.Tensor:
    """Exact log p(x) for a linear generator G(z) = W z + b, z ~ N(0, I): x ~ N(b, W W^T + sigma2 I).

    Args:
        weight: (D, n) W.   bias: (D,) b.   x: (B, D) (or (B, ...) with D values per image); a single image is
            ``x[None]`` (a 1-D x is refused: it would be read as D images of one value each).
    Returns:
        (B,) float64, by a Cholesky factorization of the D x D covariance: the reference for AIS.
    """
    sigma2 = check_sigma2(sigma2)
    if not isinstance(weight, torch.Tensor) or weight.ndim != 2:
        raise ValueError(f"weight must be the (D, n) matrix W of G(z) = W z + b, got "
                         f"{type(weight).__name__} of shape {tuple(getattr(weight, 'shape', ()))}")
    if not isinstance(bias, torch.Tensor) or bias.numel() != weight.shape[0]:
        raise ValueError(f"bias must hold D = {weight.shape[0]} values (one per row of weight), got "
                         f"{tuple(getattr(bias, 'shape', ()))}")
    check_images(x, "x")
    if x[0].numel() != weight.shape[0]:
        raise ValueError(f"x has images of {x[0].numel()} values (shape {tuple(x.shape[1:])}) but weight maps to "
                         f"D = {weight.shape[0]}: shape mismatch; pass x of shape (B, {weight.shape[0]})")
    if not (torch.isfinite(weight).all() and torch.isfinite(bias).all()):
        raise ValueError("weight and bias must be finite; they contain NaN or inf")
    w, b = weight.double(), bias.double().reshape(-1)
    xs = x.double().reshape(x.shape[0], -1)
    D = w.shape[0]
    chol = torch.linalg.cholesky(w @ w.T + sigma2 * torch.eye(D, dtype=torch.float64, device=w.device))
    white = torch.linalg.solve_triangular(chol, (xs - b).T, upper=False)  # (D, B)
    return (-0.5 * white.pow(2).sum(0) - chol.diagonal().log().sum() - 0.5 * D * math.log(2 * math.pi))
