"""Shoot-out of stochastic log-determinant estimators at equal matvec budgets, against the exact log det.

Estimators: :func:`gandensity.numerics.spectral.stochastic_logdet` with each ``method``, (order m, probes p) from
:func:`gandensity.numerics.logdet_compare.budget_settings` (the split chapter B5 uses), B matrices at once:

- ``cheb eps=0.1``: paper 001's Algorithm 1 (Chebyshev), power_iters = 20, g = 1.2, the paper's eps = 0.1;
  cost t + 1 + m p.
- ``cheb eps=lmin``: the same with eps = the true smallest eigenvalue (an oracle no real run has).
- ``taylor``: the Taylor series of Boutsidis et al. at the same (m, p).
- ``slq``: stochastic Lanczos quadrature, m ~ sqrt(budget * max(1, n / 100)), p = budget / m; ``slq deep``: 2m
  steps, p / 2 probes.
- ``hutch++``: SLQ on a Krylov sketch [S, M S] of k = p / 6 columns plus p - 2k deflated probes
  (:func:`gandensity.numerics.spectral.hutchpp_split`); ``hutch++ 2/3``: k = p / 3, the split of Meyer et al.

Matrices, for n in ``--sizes``:

- ``log-uniform``: Q diag(lambda) Q^T with Haar-random Q, lambda log-uniform on [1e-3, 1e2] (condition ~1e5, the
  stand-in for a trained DCGAN's metric);
- ``dcgan``: M = J^T J of the trained MNIST DCGAN of chapter A1 (1x32x32, width 32, latent 100) at one latent, if a
  cache entry of that architecture exists (the most recent; this script never trains one; ``--dcgan PATH`` picks
  one). At its own n the metric itself; at other n, Q diag(lambda) Q^T with its log-spectrum stretched (lambda at n
  evenly spaced quantiles of log lambda).

Each configuration runs on ``--seeds`` copies of the same matrix with independent probes (one batched call), so
"mean over seeds" is over independent probe draws. Printed per row: matvecs per matrix; the relative error
|est - exact| / |exact| (mean and sd over seeds); the bias (mean signed error / |exact|); time of the estimator
/ time of ``torch.linalg.slogdet`` of the dense matrix (both per matrix); and matvecs / n.

Then **the time ratio to the exact route** on a generator: an untrained DCGAN (3x32x32, width 48, latent n in
``--route-sizes``), :func:`gandensity.numerics.density.generator_log_density` (n jvps and a float64 QR) against
each estimator on the implicit metric (a jvp and a vjp per matvec) at ``--route-budget`` matvecs. The stochastic
route only pays when budget x (jvp + vjp) < n x jvp + QR. Ratios only: no absolute timings are claimed.

Usage::

    python benchmarks/bench_logdet_estimators.py [--sizes 100 1024] [--budgets 220 1000 4000] [--seeds 10]
        [--dcgan auto|none|PATH] [--route-sizes 100 1024] [--route-budget 1000] [--threads 1]
"""

from __future__ import annotations

import argparse
import glob
import math
import os
import time
import warnings
from typing import Callable, Sequence

import torch

from gandensity.numerics.logdet_compare import budget_settings, matvec_cost, route_times
from gandensity.numerics.operators import dense_matvec
from gandensity.numerics.spectral import stochastic_logdet

def haar_spd(lam: torch.Tensor, copies: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    q = torch.linalg.qr(torch.randn(lam.numel(), lam.numel(), generator=g, dtype=torch.float64))[0]
    A = q @ torch.diag(lam.double()) @ q.T
    A = (A + A.T) / 2
    return A.expand(copies, -1, -1).contiguous()


def log_uniform(n: int, seed: int) -> torch.Tensor:
    u = torch.rand(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return torch.exp(math.log(1e-3) + u * math.log(1e5))


def stretch(lam: torch.Tensor, n: int) -> torch.Tensor:
    """n eigenvalues at evenly spaced quantiles of log(lam) (linear interpolation)."""
    loglam = lam.double().log().sort().values
    if loglam.numel() == n:
        return loglam.exp()
    pos = torch.linspace(0, loglam.numel() - 1, n, dtype=torch.float64)
    lo = pos.floor().long().clamp(max=loglam.numel() - 2)
    frac = pos - lo
    return (loglam[lo] * (1 - frac) + loglam[lo + 1] * frac).exp()


def dcgan_metric(path: str) -> tuple[torch.Tensor, str] | None:
    """M = J^T J (n, n) float64 of the cached MNIST DCGAN (1 channel, width 32, latent 100) at one latent (seed 0),
    and a description; None if there is no such entry (nothing is trained here)."""
    from gandensity.numerics.spectral import exact_metric
    from gandensity.workflows.cache import cache_dir, load_entry
    from gandensity.workflows.models import DCGANConfig, Generator

    if path == "none":
        return None
    if path == "auto":
        # A1's architecture; chapter A3's GAN without 1s shares it but trains for fewer epochs on fewer digits, so
        # the entry of that architecture with the longest training history is A1's (the most recent one if several
        # code versions cached it).
        found = []
        for f in glob.glob(str(cache_dir() / "dcgan-*.pt")):
            try:
                entry = load_entry(f)
                sd = entry["generator"]
            except Exception:  # noqa: BLE001 - an unreadable entry is just not a candidate
                continue
            convs = [k for k in sd if k.endswith(".weight") and sd[k].ndim == 4]
            if len(convs) == 4 and tuple(sd[convs[0]].shape[:2]) == (100, 128) and sd[convs[-1]].shape[1] == 1:
                history = entry.get("history", {}).get("loss_d", [])
                found.append((len(history), os.path.getmtime(f), f))
        if not found:
            return None
        path = max(found)[2]
    entry = load_entry(path)
    sd = entry["generator"]
    convs = [k for k in sd if k.endswith(".weight") and sd[k].ndim == 4]
    latent, c4 = sd[convs[0]].shape[:2]
    size = 32 if len(convs) == 4 else 64
    config = DCGANConfig(latent_dim=latent, channels=sd[convs[-1]].shape[1], width=c4 // (size // 8),
                         image_size=size)
    gen = Generator(config)
    gen.load_state_dict(sd)
    gen.eval().requires_grad_(False)
    z = torch.randn(1, latent, generator=torch.Generator().manual_seed(0))
    M = exact_metric(gen, z)[0]
    return (M + M.T) / 2, (f"{os.path.basename(path)}: latent {latent}, width {config.width}, {config.channels} "
                           f"channel(s), trained {entry.get('seconds', float('nan')):.0f}s")


def timed(fn: Callable[[], torch.Tensor]) -> tuple[torch.Tensor, float]:
    start = time.perf_counter()
    with torch.no_grad():
        out = fn()
    return out, time.perf_counter() - start


def estimators(lmin: float) -> dict[str, tuple[str, dict, Callable[[dict], dict]]]:
    """label -> (method, fixed settings, how to change budget_settings' (order, probes))."""
    same = lambda mp: mp  # noqa: E731
    return {
        "cheb eps=0.1": ("chebyshev", {"eps": 0.1}, same),
        "cheb eps=lmin": ("chebyshev", {"eps": lmin}, same),
        "taylor": ("taylor", {}, same),
        "slq": ("lanczos", {}, same),
        "slq deep": ("lanczos", {}, lambda mp: {"order": 2 * mp["order"], "probes": max(1, mp["probes"] // 2)}),
        "hutch++": ("hutchpp", {}, same),
        "hutch++ 2/3": ("hutchpp", {}, lambda mp: {**mp, "sketch": max(1, mp["probes"] // 3)}),
    }


def run_case(name: str, A1: torch.Tensor, budgets: Sequence[int], seeds: int, seed: int) -> None:
    """A1: (n, n) float64 SPD matrix; every estimator at every budget on ``seeds`` copies."""
    n = A1.shape[-1]
    lam = torch.linalg.eigvalsh(A1)
    A = A1.expand(seeds, -1, -1).contiguous()
    exact = float(torch.linalg.slogdet(A1)[1])
    lmin = float(lam.min())
    mv = dense_matvec(A)
    common = dict(batch_size=seeds, dtype=torch.float64, seed=seed + 1)
    t_exact = min(timed(lambda: torch.linalg.slogdet(A)[1])[1] for _ in range(3)) / seeds
    print(f"\n== {name}, n = {n}: lambda in [{lmin:.1e}, {float(lam.max()):.1e}], condition "
          f"{float(lam.max()) / lmin:.1e}, exact log det {exact:.2f}; {seeds} seeds ==")
    print(f"{'budget':>6} {'estimator':<15} {'settings':<18} {'matvecs':>7} {'rel err':>8} {'sd':>8} "
          f"{'bias':>8} {'t/slogdet':>9} {'mv/n':>6}")
    for budget in budgets:
        for label, (method, fixed, adjust) in estimators(lmin).items():
            mp = adjust(budget_settings(method, budget, n))
            settings = {**fixed, **mp}
            cost = matvec_cost(method, mp["order"], mp["probes"], n, sketch=mp.get("sketch"))
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="stochastic_logdet: the spectrum is outside")
                out, t = timed(lambda: stochastic_logdet(mv, n, method=method, **settings, **common))
            err = (out.double() - exact) / abs(exact)
            shown = f"m={min(mp['order'], n) if method in ('lanczos', 'hutchpp') else mp['order']} p={mp['probes']}" \
                + (f" k={mp['sketch']}" if "sketch" in mp else "")
            print(f"{budget:>6} {label:<15} {shown:<18} {cost:>7} {err.abs().mean():8.2e} {err.abs().std():8.1e} "
                  f"{err.mean():+8.1e} {t / seeds / t_exact:9.1f} {cost / n:6.1f}", flush=True)


def run_routes(sizes: Sequence[int], budget: int, batch: int, seed: int) -> None:
    """Seconds per sample of the exact route and of each estimator on untrained DCGANs with latent n."""
    from gandensity.workflows.models import DCGANConfig, untrained_generator

    labels = {"cheb eps=0.1": {"method": "chebyshev", "eps": 0.1}, "slq": {"method": "lanczos"},
              "hutch++": {"method": "hutchpp"}}
    print(f"\n== time ratio to the exact route: untrained DCGAN (3x32x32, width 48), {batch} latents, "
          f"budget {budget} matvecs ==")
    print(f"{'n':>6} {'exact s/sample':>15} " + " ".join(f"{k + ' / exact':>20}" for k in labels))
    # width 48: J has full rank up to n ~ 1500 (the first layer's 64 x 48 units, about half active after the ReLU)
    for row in route_times(lambda n: untrained_generator(DCGANConfig(latent_dim=n, channels=3, width=48), seed=seed)
                           .requires_grad_(False), sizes, labels, budget, batch_size=batch, seed=seed):
        print(f"{row.latent_dim:>6} {row.exact_seconds:15.3f} "
              + " ".join(f"{row.seconds[k] / row.exact_seconds:20.2f}" for k in labels), flush=True)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[100, 1024])
    p.add_argument("--budgets", type=int, nargs="+", default=[220, 1000, 4000])
    p.add_argument("--seeds", type=int, default=10, help="independent probe draws per configuration")
    p.add_argument("--spectra", nargs="+", default=["log-uniform", "dcgan"], choices=["log-uniform", "dcgan"])
    p.add_argument("--dcgan", default="auto", help="'auto' (the cached MNIST DCGAN, if any), 'none' or a path")
    p.add_argument("--route-sizes", type=int, nargs="*", default=[100, 1024],
                   help="latent dimensions of the exact-vs-stochastic timing (none: skip it)")
    p.add_argument("--route-budget", type=int, default=1000)
    p.add_argument("--route-batch", type=int, default=2)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if min(args.sizes + args.budgets + args.route_sizes + [args.seeds, args.threads, args.route_budget,
                                                           args.route_batch]) < 1:
        p.error("sizes, budgets, seeds, threads and the route settings must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    print("== log-det estimators at equal matvec budgets ==")
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, float64, seeds {args.seeds}, "
          f"budgets {args.budgets}")
    print("columns: rel err = |est - exact| / |exact| (mean over seeds), sd = its sd, bias = mean signed error "
          "/ |exact|;\n  t/slogdet = estimator time / dense slogdet time (per matrix); mv/n = matvecs / n "
          "(cost vs forming an implicit M from n products)")
    cases: list[tuple[str, Callable[[int], torch.Tensor]]] = []
    if "log-uniform" in args.spectra:
        cases.append(("log-uniform 1e-3..1e2", lambda n: haar_spd(log_uniform(n, args.seed), 1, args.seed)[0]))
    if "dcgan" in args.spectra:
        found = dcgan_metric(args.dcgan)
        if found is None:
            print("dcgan metric: no trained MNIST DCGAN in the cache (run chapter A1 or B1 first, or pass "
                  "--dcgan PATH); skipped")
        else:
            M, desc = found
            print(f"dcgan metric from {desc}")
            lam = torch.linalg.eigvalsh(M)
            cases.append(("dcgan", lambda n: M if n == M.shape[0] else haar_spd(stretch(lam, n), 1, args.seed)[0]))
            dcgan_n = M.shape[0]
    start = time.perf_counter()
    for name, make in cases:
        for n in args.sizes:
            if name == "dcgan":
                label = "dcgan metric (itself)" if n == dcgan_n else f"dcgan (spectrum stretched from n={dcgan_n})"
            else:
                label = name
            run_case(label, make(n), args.budgets, args.seeds, args.seed)
    if args.route_sizes:
        run_routes(args.route_sizes, args.route_budget, args.route_batch, args.seed)
    print(f"\ntotal wall time {time.perf_counter() - start:.0f}s")


if __name__ == "__main__":
    main()
