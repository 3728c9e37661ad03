"""Learning implicit densities in two dimensions by spectral backpropagation (paper 001, section 3).

A map f: R^2 -> R^2 (a residual network, :class:`BottleneckResNet`) and a standard normal prior define a model
density Q in two ways:

- *reverse* (f: Z -> X, minimize KL(Q || P) for an unnormalized target P = exp(-U)): samples are x = f(z), and
  log q(f(z)) = log N(z; 0, I) - 1/2 log det(J^T J), J = df/dz (:func:`pushforward_log_density`);
- *forward* (f: X -> Z, minimize KL(P || Q) for a target we can only sample): log q(x) = log N(f(x); 0, I)
  + 1/2 log det(J^T J), J = df/dx (:func:`pullback_log_density`).

In both, the log-determinant and its gradient come from the stochastic estimator of
:func:`gandensity.numerics.spectral.stochastic_logdet` (Chebyshev, Hutchinson probes, power method); the exact 2x2
log-determinant is computed alongside, only to monitor the estimate (as the paper does).

The targets are the four test energies U1..U4 of Rezende & Mohamed (2015) (:func:`energy`) and two sampleable
densities, a crescent (:class:`Crescent`) and a circular mixture (:class:`RingMixture`). Shapes: B samples,
always 2 coordinates; ``(B, 2)`` in, ``(B,)`` out.
"""

from __future__ import annotations

import math
import sys
import time
import warnings
from dataclasses import asdict, dataclass
from typing import Callable, Literal, NamedTuple, Protocol

import torch
from torch import nn

from gandensity.workflows import cache
from gandensity.numerics import operators, priors, spectral
from gandensity.numerics.density import half_logdet_metric
from gandensity.numerics.spectral import LogdetEstimate, metric_matvec, stochastic_logdet

__all__ = ["ENERGIES", "LOG_Z_BOX", "energy", "log_partition", "Density", "Crescent", "RingMixture", "DENSITIES",
           "density", "BottleneckResNet", "jacobian_and_output", "logdet_metric", "EstimatorSettings",
           "MetricTerms", "metric_terms", "log_normal", "pushforward_log_density", "pullback_log_density",
           "relative_error", "FitConfig", "FitResult", "HISTORY_KEYS", "fit_reverse_kl", "fit_forward_kl",
           "model_log_likelihood", "model_samples", "grid_points", "seeded_network", "initial_model",
           "RouteComparison", "compare_routes", "tail_steps", "ReverseSummary", "reverse_summary",
           "ForwardSummary", "forward_summary"]

Tensor = torch.Tensor
MatvecKind = Literal["dense", "implicit"]

# ----------------------------------------------------------------------------- the four test energies

ENERGIES = ("U1", "U2", "U3", "U4")
# ln of the integral of exp(-U) over [-4, 4]^2 (shared/README.md; reproduced by log_partition).
LOG_Z_BOX = {"U1": 1.8775, "U2": 2.0823, "U3": 2.6420, "U4": 2.6849}


def _energy_name(which: int | str) -> str:
    name = f"U{which}" if isinstance(which, int) and not isinstance(which, bool) else str(which).upper()
    if name not in ENERGIES:
        raise ValueError(f"unknown energy {which!r}; choose one of {list(ENERGIES)} or 1..4")
    return name


def _gauss(t: Tensor, scale: float) -> Tensor:
    """The exponent -(t / scale)^2 / 2 of an unnormalized Gaussian."""
    return -0.5 * (t / scale) ** 2


def energy(which: int | str, z: Tensor) -> Tensor:
    """Test energy U(z) of Rezende & Mohamed (2015), table 1, for z of shape (B, 2) -> (B,).

    With w1 = sin(2 pi z1 / 4), w2 = 3 exp(-((z1 - 1) / 0.6)^2 / 2), w3 = 3 sigmoid((z1 - 1) / 0.3):

    - U1 = ((|z| - 2) / 0.4)^2 / 2 - ln(exp(-((z1 - 2) / 0.6)^2 / 2) + exp(-((z1 + 2) / 0.6)^2 / 2))
    - U2 = ((z2 - w1) / 0.4)^2 / 2
    - U3 = -ln(exp(-((z2 - w1) / 0.35)^2 / 2) + exp(-((z2 - w1 + w2) / 0.35)^2 / 2))
    - U4 = -ln(exp(-((z2 - w1) / 0.4)^2 / 2) + exp(-((z2 - w1 + w3) / 0.35)^2 / 2))

    The target density is exp(-U) / Z. Only U1 is normalizable on R^2; U2-U4 do not decay along z1, so Z is
    finite only on a box (``LOG_Z_BOX`` for [-4, 4]^2). The log-sum-exps are evaluated stably.
    """
    name = _energy_name(which)
    if z.ndim != 2 or z.shape[1] != 2:
        raise ValueError(f"z must have shape (B, 2), got {tuple(z.shape)}")
    z1, z2 = z[:, 0], z[:, 1]
    w1 = torch.sin(2 * math.pi * z1 / 4)
    if name == "U1":
        ring = 0.5 * ((z.norm(dim=1) - 2) / 0.4) ** 2
        return ring - torch.logaddexp(_gauss(z1 - 2, 0.6), _gauss(z1 + 2, 0.6))
    if name == "U2":
        return 0.5 * ((z2 - w1) / 0.4) ** 2
    if name == "U3":
        w2 = 3 * torch.exp(_gauss(z1 - 1, 0.6))
        return -torch.logaddexp(_gauss(z2 - w1, 0.35), _gauss(z2 - w1 + w2, 0.35))
    w3 = 3 * torch.sigmoid((z1 - 1) / 0.3)
    return -torch.logaddexp(_gauss(z2 - w1, 0.4), _gauss(z2 - w1 + w3, 0.35))


def grid_points(low: float, high: float, n: int, *, dtype: torch.dtype = torch.float64) -> tuple[Tensor, Tensor]:
    """Cell centres of an n x n grid on [low, high]^2: ``(points (n*n, 2), axis (n,))``, row-major in (z2, z1).

    ``points.reshape(n, n, 2)[i, j] = (axis[j], axis[i])``, the layout ``plt.contour(axis, axis, values)`` expects.
    """
    h = (high - low) / n
    axis = low + h * (torch.arange(n, dtype=dtype) + 0.5)
    yy, xx = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([xx.reshape(-1), yy.reshape(-1)], 1), axis


def log_partition(which: int | str, *, low: float = -4.0, high: float = 4.0, n: int = 1000) -> float:
    """ln of the integral of exp(-U) over the box [low, high]^2 by the midpoint rule on an n x n grid (float64)."""
    points, _ = grid_points(low, high, n)
    cell = ((high - low) / n) ** 2
    return float(torch.logsumexp(-energy(which, points), 0) + math.log(cell))


# ----------------------------------------------------------------------------- sampleable densities


class Density(Protocol):
    """A 2-D distribution we can sample (and, here, also evaluate, to judge what was learned)."""

    name: str

    def sample(self, n: int, rng: torch.Generator | None = None) -> Tensor:
        """Draw n points: (n, 2) float32."""
        ...

    def log_prob(self, x: Tensor) -> Tensor:
        """Normalized log-density of each row of x (B, 2) -> (B,)."""
        ...


def _wrapped_normal_log_prob(angle: Tensor, mean: float, std: float, wraps: int = 3) -> Tensor:
    """log of the wrapped normal density on the circle at ``angle`` (B,): sum over 2 wraps + 1 copies."""
    k = torch.arange(-wraps, wraps + 1, dtype=angle.dtype, device=angle.device)
    d = angle[:, None] - mean + 2 * math.pi * k
    return torch.logsumexp(_gauss(d, std), 1) - math.log(std * math.sqrt(2 * math.pi))


@dataclass(frozen=True)
class Crescent:
    """A crescent: a thick arc of a circle, in polar coordinates (r, phi) about the origin.

    r ~ N(radius, radial_std^2) and phi ~ wrapped N(angle, angular_std^2), independently, x = r (cos phi, sin phi).
    The default arc is centred on the positive x2-axis, spans about +-63 degrees (2 angular std) and is 0.5 thick
    (2 radial std). Its density in the plane is p(x) = N(|x|; radius, radial_std^2) WN(phi; angle, angular_std^2)
    / |x| (polar Jacobian). Negative r (probability Phi(-radius / radial_std) = 6e-16 by default) is ignored.
    """

    radius: float = 2.0
    radial_std: float = 0.25
    angle: float = math.pi / 2
    angular_std: float = 0.55
    name: str = "crescent"

    def sample(self, n: int, rng: torch.Generator | None = None) -> Tensor:
        e = torch.randn(n, 2, generator=rng, dtype=torch.float64)
        r = self.radius + self.radial_std * e[:, 0]
        phi = self.angle + self.angular_std * e[:, 1]
        return torch.stack([r * torch.cos(phi), r * torch.sin(phi)], 1).float()

    def log_prob(self, x: Tensor) -> Tensor:
        r = x.norm(dim=1)
        phi = torch.atan2(x[:, 1], x[:, 0])
        log_r = _gauss(r - self.radius, self.radial_std) - math.log(self.radial_std * math.sqrt(2 * math.pi))
        return log_r + _wrapped_normal_log_prob(phi, self.angle, self.angular_std) - torch.log(r)


@dataclass(frozen=True)
class RingMixture:
    """A circular mixture: ``modes`` equally weighted isotropic Gaussians with means on a circle.

    Means radius (cos 2 pi k / modes, sin 2 pi k / modes), k = 0..modes-1, standard deviation ``std``. The
    defaults (8 modes, radius 2, std 0.25) give well separated modes (the gap between neighbours is 6 std) that a
    four-block network can resolve; the VEEGAN/unrolled-GAN rings (std 0.01-0.02) are far sharper.
    """

    modes: int = 8
    radius: float = 2.0
    std: float = 0.25
    name: str = "ring"

    def means(self) -> Tensor:
        """(modes, 2) float64 component means."""
        t = 2 * math.pi * torch.arange(self.modes, dtype=torch.float64) / self.modes
        return self.radius * torch.stack([torch.cos(t), torch.sin(t)], 1)

    def sample(self, n: int, rng: torch.Generator | None = None) -> Tensor:
        k = torch.randint(0, self.modes, (n,), generator=rng)
        e = torch.randn(n, 2, generator=rng, dtype=torch.float64)
        return (self.means()[k] + self.std * e).float()

    def log_prob(self, x: Tensor) -> Tensor:
        d2 = (x.double()[:, None, :] - self.means().to(x.device)[None]).pow(2).sum(-1)  # (B, modes)
        log_comp = -0.5 * d2 / self.std ** 2 - math.log(2 * math.pi * self.std ** 2)
        return (torch.logsumexp(log_comp, 1) - math.log(self.modes)).to(x.dtype)


DENSITIES: dict[str, Density] = {"crescent": Crescent(), "ring": RingMixture()}


def density(name: str) -> Density:
    """The sampleable density called ``name`` (``"crescent"`` or ``"ring"``)."""
    if name not in DENSITIES:
        raise ValueError(f"unknown density {name!r}; choose one of {sorted(DENSITIES)}")
    return DENSITIES[name]


# ----------------------------------------------------------------------------- the network


def seeded_network(seed: int, **kwargs: float) -> "BottleneckResNet":
    """A :class:`BottleneckResNet` (``kwargs`` passed on) initialised from ``seed``; the global RNG is untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return BottleneckResNet(**kwargs)


class BottleneckResNet(nn.Module):
    """The paper's map R^2 -> R^2: ``blocks`` residual bottleneck blocks x <- x + b(x).

    Each block is Linear(2, hidden), LeakyReLU, Linear(hidden, hidden), LeakyReLU, Linear(hidden, 2), all with
    biases. The last layer of each block starts with its weights scaled by ``init_scale`` and zero bias, so the
    network starts close to the identity (and Q close to the prior). The paper does not give the LeakyReLU slope;
    0.2 is the usual GAN choice. Maps (B, 2) to (B, 2); per-sample (no batch coupling).
    """

    def __init__(self, blocks: int = 4, hidden: int = 32, negative_slope: float = 0.2,
                 init_scale: float = 0.1) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Linear(2, hidden), nn.LeakyReLU(negative_slope), nn.Linear(hidden, hidden),
                          nn.LeakyReLU(negative_slope), nn.Linear(hidden, 2))
            for _ in range(blocks))
        with torch.no_grad():
            for block in self.blocks:
                block[-1].weight.mul_(init_scale)
                block[-1].bias.zero_()

    def forward(self, x: Tensor) -> Tensor:
        for block in self.blocks:
            x = x + block(x)
        return x

    def forward_with_jacobian(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """f(x) and its Jacobian by forward-mode differentiation written out: ``(f(x) (B, 2), J (B, 2, 2))``.

        Each layer maps the tangents (B, d, 2) along with the values: a linear layer multiplies them by its
        weight, a LeakyReLU by its slope (1 where the pre-activation is > 0, else ``negative_slope``, as autograd
        does), a residual connection adds the identity's. Plain autograd ops, so differentiable with respect to x
        and the parameters, and several times faster on the CPU than ``torch.func.jacfwd`` for this small net.
        """
        jac = torch.eye(x.shape[1], dtype=x.dtype, device=x.device).expand(x.shape[0], -1, -1)
        for block in self.blocks:
            h, jh = x, jac
            for layer in block:
                if isinstance(layer, nn.Linear):
                    h, jh = layer(h), torch.matmul(layer.weight, jh)
                else:
                    slope = torch.where(h > 0, 1.0, layer.negative_slope).to(h.dtype)
                    h, jh = layer(h), slope.unsqueeze(-1) * jh
            x, jac = x + h, jac + jh
        return x, jac


# ----------------------------------------------------------------------------- log-determinants and densities


def jacobian_and_output(f: Callable[[Tensor], Tensor], z: Tensor) -> tuple[Tensor, Tensor]:
    """Forward-mode Jacobian and value of a per-sample map at each row of z (B, n): ``(J (B, m, n), f(z) (B, m))``.

    Uses f's own ``forward_with_jacobian`` when it has one (:class:`BottleneckResNet`), else ``torch.func.jacfwd``
    (n jvps per sample). Differentiable with respect to z and f's parameters.
    """
    if isinstance(f, BottleneckResNet):
        out, jac = f.forward_with_jacobian(z)
        return jac, out

    def single(z1: Tensor) -> tuple[Tensor, Tensor]:
        out = f(z1.unsqueeze(0)).squeeze(0)
        return out, out

    with warnings.catch_warnings():
        # torch's own forward-AD decompositions still call torch.jit.script on first use (torch 2.14).
        warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*deprecated", category=FutureWarning)
        return torch.func.vmap(torch.func.jacfwd(single, has_aux=True))(z)


def logdet_metric(jacobian: Tensor) -> Tensor:
    """log det(J^T J) of Jacobians (B, m, n), (B,) float64 (-inf where J is singular): twice
    :func:`gandensity.numerics.density.half_logdet_metric`, the one exact route of the package."""
    return 2 * half_logdet_metric(jacobian.detach().double())[0]


@dataclass(frozen=True)
class EstimatorSettings:
    """Algorithm 1's settings (m, p, t, g) and the spectrum's assumed lower bound eps (paper: (10, 20, 20, 1.2))."""

    order: int = 10
    probes: int = 20
    power_iters: int = 20
    g: float = 1.2
    eps: float = 0.1


class MetricTerms(NamedTuple):
    """What one evaluation of f with its metric M = J^T J gives, for B inputs.

    Attributes:
        output: (B, 2) f(inputs), differentiable.
        logdet: (B,) stochastic estimate of log det M, differentiable (spectral backpropagation).
        lambda_max: (B,) power-method estimate of the largest eigenvalue of M, differentiable.
        exact_logdet: (B,) float64 exact log det M, detached (for monitoring only).
    """

    output: Tensor
    logdet: Tensor
    lambda_max: Tensor
    exact_logdet: Tensor


def metric_terms(f: Callable[[Tensor], Tensor], inputs: Tensor, settings: EstimatorSettings, *,
                 matvec: MatvecKind = "dense", seed: int | None = None) -> MetricTerms:
    """Evaluate f at ``inputs`` (B, 2) with the stochastic log det(J^T J) and, for monitoring, the exact one.

    ``matvec`` chooses how Algorithm 1 multiplies by M = J^T J:

    - ``"implicit"``: :func:`gandensity.numerics.spectral.metric_matvec`, one jvp and one vjp of f per product, never
      forming J (the paper's route; its cost does not grow with n^2);
    - ``"dense"``: M is formed from the 2x2 forward-mode Jacobian (computed anyway for monitoring) and multiplied
      directly. Same estimator, same probes, same polynomial, same gradients up to rounding; on the CPU it is
      about 15x faster here, because each implicit product pays the dispatch overhead of a jvp and a vjp through
      the network.
    """
    if matvec not in ("dense", "implicit"):
        raise ValueError(f"unknown matvec {matvec!r}; choose 'dense' or 'implicit'")
    jac, out = jacobian_and_output(f, inputs)
    exact = logdet_metric(jac)
    if matvec == "dense":
        product = operators.dense_matvec(jac.transpose(1, 2) @ jac)
    else:
        product = metric_matvec(f, inputs)
    with warnings.catch_warnings():  # the implicit route's jvp, as in jacobian_and_output
        warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*deprecated", category=FutureWarning)
        est = stochastic_logdet(product, inputs.shape[1], order=settings.order, probes=settings.probes,
                                power_iters=settings.power_iters, g=settings.g, eps=settings.eps, seed=seed,
                                batch_size=inputs.shape[0], dtype=out.dtype, device=out.device,
                                return_lambda_max=True)
    assert isinstance(est, LogdetEstimate)
    return MetricTerms(out, est.logdet, est.lambda_max, exact)


def log_normal(z: Tensor) -> Tensor:
    """log N(z; 0, I) of each row of z (B, n) -> (B,)."""
    return priors.StandardNormal().log_prob(z)


def pushforward_log_density(z: Tensor, logdet: Tensor) -> Tensor:
    """log q(f(z)) = log N(z) - 1/2 log det(J^T J) for f: Z -> X; z (B, n), logdet (B,) -> (B,)."""
    return log_normal(z) - 0.5 * logdet


def pullback_log_density(fx: Tensor, logdet: Tensor) -> Tensor:
    """log q(x) = log N(f(x)) + 1/2 log det(J^T J) for f: X -> Z; fx = f(x) (B, n), logdet (B,) -> (B,)."""
    return log_normal(fx) + 0.5 * logdet


def relative_error(logdet: Tensor, exact_logdet: Tensor) -> Tensor:
    """The paper's relative error |ln l_hat - ln l| of the log-likelihood, per sample: (B,) -> (B,) float64.

    ln l_hat - ln l = ln(l_hat / l) ~ (l_hat - l) / l (paper 001, section 3). Both log-likelihoods carry
    -+1/2 log det(J^T J) and share every other term, so |ln l_hat - ln l| = |logdet - exact| / 2 in either
    direction (reverse or forward); see :func:`gandensity.numerics.spectral.likelihood_error`.
    """
    return spectral.likelihood_error(logdet, exact_logdet)


# ----------------------------------------------------------------------------- training


@dataclass(frozen=True)
class FitConfig:
    """Settings of one training run (paper 001 section 3: batch 64, Adam lr 1e-4, Algorithm 1 (10, 20, 20, 1.2)).

    ``rho`` weighs the spectral-norm regularizer rho * lambda_max(M) (paper Eq. 8; 0.08 for U3 and U4 only).
    ``eps`` is 0.1 for KL(Q || P) and 1e-2 for KL(P || Q) in the paper.
    """

    steps: int
    lr: float = 1e-4
    batch_size: int = 64
    eps: float = 0.1
    rho: float = 0.0
    order: int = 10
    probes: int = 20
    power_iters: int = 20
    g: float = 1.2
    matvec: MatvecKind = "dense"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1 or not self.lr > 0:
            raise ValueError(f"need steps >= 1, batch_size >= 1 and lr > 0, got {self.steps}, {self.batch_size}, "
                             f"{self.lr}")

    @property
    def estimator(self) -> EstimatorSettings:
        return EstimatorSettings(self.order, self.probes, self.power_iters, self.g, self.eps)


class FitResult(NamedTuple):
    """A trained map and its per-step history.

    Attributes:
        model: the trained :class:`BottleneckResNet` (eval mode, parameters frozen).
        history: per-step (steps,) float64 tensors: ``loss`` (the objective with the estimated log-det, as
            optimized, regularizer included), ``loss_exact`` (the same objective with the exact log-det, no
            regularizer), ``rel_error`` (batch mean of |ln l_hat - ln l|), ``signed_error`` (batch mean of
            ln l_hat - ln l) and ``lambda_max`` (batch mean).
        seconds: training time of the run that built the result (cache hits keep the original time).
        from_cache: whether the result was loaded from the cache.
        config: the :class:`FitConfig` used.
    """

    model: BottleneckResNet
    history: dict[str, Tensor]
    seconds: float
    from_cache: bool
    config: FitConfig


HISTORY_KEYS = ("loss", "loss_exact", "rel_error", "signed_error", "lambda_max")


def _train(config: FitConfig, objective: Callable[[BottleneckResNet, int, torch.Generator], tuple[Tensor, ...]],
           label: str, progress: bool) -> dict:
    start = time.perf_counter()
    model = initial_model(config)
    gen = torch.Generator().manual_seed(config.seed + 1)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    records = torch.zeros(config.steps, len(HISTORY_KEYS), dtype=torch.float64)
    steps = range(config.steps)
    if progress:
        from tqdm import tqdm
        steps = tqdm(steps, desc=label, unit="step", file=sys.stderr, mininterval=1.0)
    for step in steps:
        with warnings.catch_warnings():
            # Near a fold the spectrum leaves [eps, g lambda_max] at some step or other; the history records the
            # resulting error at every step (rel_error, signed_error), so a warning per step would add nothing.
            warnings.filterwarnings("ignore", message=r"stochastic_logdet: the spectrum is outside",
                                    category=RuntimeWarning)
            loss, loss_exact, terms = objective(model, step, gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        err = terms.logdet.detach().double() - terms.exact_logdet
        records[step] = torch.stack([loss.detach().double(), loss_exact.double(), 0.5 * err.abs().mean(),
                                     0.5 * err.mean(), terms.lambda_max.detach().double().mean()])
    history = {k: records[:, i].clone() for i, k in enumerate(HISTORY_KEYS)}
    return {"model": model.state_dict(), "history": history, "seconds": time.perf_counter() - start}


def initial_model(config: FitConfig) -> BottleneckResNet:
    """The network a fit with ``config`` starts from (the same initialisation as the trained model's)."""
    return seeded_network(config.seed)


def _fit(kind: str, target: str, config: FitConfig,
         objective: Callable[[BottleneckResNet, int, torch.Generator], tuple[Tensor, ...]], *,
         use_cache: bool, progress: bool | None, verbose: bool) -> FitResult:
    from gandensity.workflows.training import progress_enabled

    parts = {"kind": kind, "target": target, "config": asdict(config),
             "code": cache.code_version(operators, priors, spectral, half_logdet_metric, sys.modules[__name__]),
             "threads": torch.get_num_threads()}
    show = progress_enabled() if progress is None else progress
    result, hit, _ = cache.cached(f"toy2d-{kind}-{target}", parts,
                                  lambda: _train(config, objective, f"{kind} {target}", show), enabled=use_cache)
    model = BottleneckResNet()
    model.load_state_dict(result["model"])
    model.eval().requires_grad_(False)
    fit = FitResult(model, result["history"], float(result["seconds"]), hit, config)
    if verbose:
        h, tail = fit.history, max(1, config.steps // 10)
        how = "loaded from cache" if hit else "trained"
        print(f"{kind} KL on {target} {how}: {config.steps} steps in {fit.seconds:.0f} s (lr {config.lr:g})\n"
              f"  last 10% of steps: loss {h['loss'][-tail:].mean():.3f}, "
              f"median relative error {h['rel_error'][-tail:].median():.3f}")
    return fit


def fit_reverse_kl(target: int | str, steps: int, *, lr: float = 1e-4, batch_size: int = 64, eps: float = 0.1,
                   rho: float | None = None, matvec: MatvecKind = "dense", seed: int = 0, use_cache: bool = True,
                   progress: bool | None = None, verbose: bool = True) -> FitResult:
    """Fit f: Z -> X so that Q (f of N(0, I)) matches exp(-U) / Z: minimize KL(Q || P) (paper 001, Fig. 1).

    Per step, with z ~ N(0, I) (batch_size, 2), x = f(z):

        loss = mean[log N(z) - 1/2 logdet_hat(J^T J) + U(x)] + rho * mean[lambda_max(J^T J)]
             = KL(Q || P) - ln Z + regularizer,

    so the loss is bounded below by -ln Z (negative at the optimum) when Q is normalized. ``rho`` defaults to the
    paper's 0.08 for U3 and U4 and 0 otherwise. Deterministic on the CPU for a given seed and thread count; cached.
    """
    name = _energy_name(target)
    rho = (0.08 if name in ("U3", "U4") else 0.0) if rho is None else float(rho)
    config = FitConfig(steps, lr=lr, batch_size=batch_size, eps=eps, rho=rho, matvec=matvec, seed=seed)
    settings = config.estimator

    def objective(model: BottleneckResNet, step: int, gen: torch.Generator) -> tuple[Tensor, Tensor, MetricTerms]:
        z = torch.randn(config.batch_size, 2, generator=gen)
        terms = metric_terms(model, z, settings, matvec=config.matvec, seed=config.seed * 1_000_003 + step)
        u = energy(name, terms.output)
        loss = (pushforward_log_density(z, terms.logdet) + u).mean() + config.rho * terms.lambda_max.mean()
        loss_exact = (pushforward_log_density(z.double(), terms.exact_logdet) + u.detach().double()).mean()
        return loss, loss_exact, terms

    return _fit("reverse", name, config, objective, use_cache=use_cache, progress=progress, verbose=verbose)


def fit_forward_kl(target: str | Density, steps: int, *, lr: float = 1e-4, batch_size: int = 64,
                   eps: float = 1e-2, matvec: MatvecKind = "dense", seed: int = 0, use_cache: bool = True,
                   progress: bool | None = None, verbose: bool = True) -> FitResult:
    """Fit f: X -> Z so that Q (log q(x) = log N(f(x)) + 1/2 log det J^T J) matches P: minimize KL(P || Q).

    Per step, with x ~ P (batch_size, 2): loss = -mean[log N(f(x)) + 1/2 logdet_hat(J^T J)], the negative
    log-likelihood (= KL(P || Q) + entropy of P when Q is normalized, paper 001, Fig. 2). ``target`` is a name in
    ``DENSITIES`` or any :class:`Density` (its ``name`` keys the cache). Deterministic on the CPU; cached.
    """
    data = density(target) if isinstance(target, str) else target
    config = FitConfig(steps, lr=lr, batch_size=batch_size, eps=eps, matvec=matvec, seed=seed)
    settings = config.estimator

    def objective(model: BottleneckResNet, step: int, gen: torch.Generator) -> tuple[Tensor, Tensor, MetricTerms]:
        x = data.sample(config.batch_size, gen)
        terms = metric_terms(model, x, settings, matvec=config.matvec, seed=config.seed * 1_000_003 + step)
        loss = -pullback_log_density(terms.output, terms.logdet).mean()
        loss_exact = -pullback_log_density(terms.output.detach().double(), terms.exact_logdet).mean()
        return loss, loss_exact, terms

    target_key = data.name if isinstance(target, str) else f"{data.name}-{data!r}"
    return _fit("forward", target_key, config, objective, use_cache=use_cache, progress=progress, verbose=verbose)


# ----------------------------------------------------------------------------- evaluating trained maps


def model_log_likelihood(f: Callable[[Tensor], Tensor], x: Tensor, *, chunk: int = 4096) -> Tensor:
    """Exact log q(x) = log N(f(x)) + 1/2 log det(J^T J) of a forward model f: X -> Z at x (B, 2) -> (B,) float64."""
    out = []
    with torch.no_grad():
        for xc in x.float().split(chunk):
            jac, fx = jacobian_and_output(f, xc)
            out.append(pullback_log_density(fx.double(), logdet_metric(jac)))
    return torch.cat(out)


def model_samples(f: Callable[[Tensor], Tensor], z: Tensor, *, chunk: int = 4096) -> tuple[Tensor, Tensor]:
    """Samples x = f(z) of a reverse model f: Z -> X and their exact log q(x): ``(x (B, 2), log q (B,) float64)``."""
    xs, logq = [], []
    with torch.no_grad():
        for zc in z.float().split(chunk):
            jac, x = jacobian_and_output(f, zc)
            xs.append(x)
            logq.append(pushforward_log_density(zc.double(), logdet_metric(jac)))
    return torch.cat(xs), torch.cat(logq)


# ----------------------------------------------------------------------------- summaries for chapter B2


class RouteComparison(NamedTuple):
    """Both matvec routes of :func:`metric_terms` on one network and batch.

    Attributes:
        seconds: {"dense": s, "implicit": s}, one timed call each (after a warm-up call).
        route_gap: largest |difference| of the two log-det estimates (nats).
        sample_error: (B,) |ln l_hat - ln l| per sample (dense route).
        batch_error: |mean_b (ln l_hat - ln l)|, the error of the batch's mean log-likelihood.
        eigenvalues: (B, 2) eigenvalues of M = J^T J, ascending.
    """

    seconds: dict[str, float]
    route_gap: float
    sample_error: Tensor
    batch_error: float
    eigenvalues: Tensor


def compare_routes(f: Callable[[Tensor], Tensor], inputs: Tensor, settings: EstimatorSettings, *,
                   seed: int = 0) -> RouteComparison:
    """Time the dense and the implicit matvec routes of :func:`metric_terms` and compare their estimates."""
    seconds, estimates = {}, {}
    for route in ("dense", "implicit"):
        metric_terms(f, inputs, settings, matvec=route, seed=seed)  # warm-up
        start = time.perf_counter()
        terms = metric_terms(f, inputs, settings, matvec=route, seed=seed)
        seconds[route], estimates[route] = time.perf_counter() - start, terms.logdet.detach().double()
    exact = terms.exact_logdet
    jac = jacobian_and_output(f, inputs)[0].detach().double()
    return RouteComparison(seconds, float((estimates["dense"] - estimates["implicit"]).abs().max()),
                           relative_error(estimates["dense"], exact),
                           float(0.5 * (estimates["dense"] - exact).mean().abs()),
                           torch.linalg.eigvalsh(jac.transpose(1, 2) @ jac))


def tail_steps(fit: FitResult, fraction: float = 0.1) -> int:
    """How many of the last steps make up ``fraction`` of a fit's history (at least 1)."""
    return max(1, int(len(fit.history["loss"]) * fraction))


class ReverseSummary(NamedTuple):
    """A reverse-KL fit (f: Z -> X) in numbers; losses are means over the first / last 10% of steps.

    Attributes:
        loss_start, loss_end: the optimised loss (estimated log-det).
        loss_exact_end: the same objective with the exact log-det, last 10%.
        batch_error, sample_error: medians over all steps of |mean_b(ln l_hat - ln l)| and mean_b|...|.
        batch_error_end: the batch error's median over the last 10% of steps.
        folded: share of samples with det J < 0 (f reverses orientation there: it folds the plane).
        below_eps: share of samples with lambda_min(M) < eps.
        in_box: share of samples x = f(z) in [-4, 4]^2.
        samples: (B, 2) the samples x = f(z_eval).
    """

    loss_start: float
    loss_end: float
    loss_exact_end: float
    batch_error: float
    sample_error: float
    batch_error_end: float
    folded: float
    below_eps: float
    in_box: float
    samples: Tensor


def reverse_summary(fit: FitResult, z: Tensor) -> ReverseSummary:
    """Summarise a :func:`fit_reverse_kl` result from its history and its samples at latents ``z`` (B, 2)."""
    h, tail = fit.history, tail_steps(fit)
    x, _ = model_samples(fit.model, z)
    with torch.no_grad():
        jac = jacobian_and_output(fit.model, z.float())[0].double()
    lam = torch.linalg.eigvalsh(jac.transpose(1, 2) @ jac)
    return ReverseSummary(
        float(h["loss"][:tail].mean()), float(h["loss"][-tail:].mean()), float(h["loss_exact"][-tail:].mean()),
        float(h["signed_error"].abs().median()), float(h["rel_error"].median()),
        float(h["signed_error"][-tail:].abs().median()), float((torch.linalg.det(jac) < 0).double().mean()),
        float((lam[:, 0] < fit.config.eps).double().mean()), float((x.abs() <= 4).all(1).double().mean()), x)


class ForwardSummary(NamedTuple):
    """A forward-KL fit (f: X -> Z) in numbers, on held-out samples of the target.

    Attributes:
        loss_start, loss_end: the optimised loss, means over the first / last 10% of steps.
        ll_init, ll: mean exact held-out log q before (:func:`initial_model`) and after training.
        ll_true: mean true log p of the held-out samples.
        gap: (N,) log q(x) - log p(x) per held-out sample; its mean is -KL(P || Q) <= 0 for a normalized Q.
        batch_error, sample_error: medians over steps, as in :class:`ReverseSummary`.
        folded: share of held-out samples with det J < 0.
        mass: integral of q over [-box, box]^2 (midpoint rule); 1 at most for a normalized Q.
    """

    loss_start: float
    loss_end: float
    ll_init: float
    ll: float
    ll_true: float
    gap: Tensor
    batch_error: float
    sample_error: float
    folded: float
    mass: float


def forward_summary(fit: FitResult, target: Density, held_out: Tensor, *, box: float = 8.0,
                    grid: int = 300) -> ForwardSummary:
    """Summarise a :func:`fit_forward_kl` result on ``held_out`` (N, 2) samples of ``target``."""
    h, tail = fit.history, tail_steps(fit)
    log_q = model_log_likelihood(fit.model, held_out)
    log_p = target.log_prob(held_out.double())
    with torch.no_grad():
        jac = jacobian_and_output(fit.model, held_out.float())[0].double()
    points, _ = grid_points(-box, box, grid)
    mass = torch.exp(torch.logsumexp(model_log_likelihood(fit.model, points), 0)) * (2 * box / grid) ** 2
    return ForwardSummary(
        float(h["loss"][:tail].mean()), float(h["loss"][-tail:].mean()),
        float(model_log_likelihood(initial_model(fit.config), held_out).mean()), float(log_q.mean()),
        float(log_p.mean()), log_q - log_p, float(h["signed_error"].abs().median()), float(h["rel_error"].median()),
        float((torch.linalg.det(jac) < 0).double().mean()), float(mass))
