"""Shoot-out of stochastic log-determinant estimators at equal matvec budgets, against the exact log det.

Estimators (all take only products M v, B matrices at once):

- ``cheb eps=0.1``: :func:`gandensity.numerics.spectral.stochastic_logdet` (paper 001, Algorithm 1, Chebyshev),
  power_iters = 20, g = 1.2, the paper's eps = 0.1; cost t + 1 + m p.
- ``cheb eps=lmin``: the same with eps = the true smallest eigenvalue (an oracle no real run has).
- ``slq``, ``slq deep``: :func:`gandensity.numerics.lanczos.slq_logdet` with two splits of the budget between
  Lanczos steps m and probes p (cost m p; m is capped at n).
- ``hutch++``: :func:`gandensity.numerics.hutchpp.hutchpp_logdet`, sketch k = budget-dependent, s = 2 Krylov
  blocks, cost (k s + p) m.

Matrices: Q diag(lambda) Q^T with a Haar-random Q (float64, dense), for n in ``--sizes`` and two spectra:

- ``log-uniform``: lambda log-uniform on [1e-3, 1e2] (condition number ~1e5);
- ``dcgan``: the spectrum of M = J^T J of a trained DCGAN generator at one latent (the longest-trained
  ``dcgan-*.pt`` in the gandensity cache, or ``--dcgan PATH``; skipped if there is none). For n other than
  the generator's latent dimension the spectrum is stretched: log lambda at n evenly spaced quantiles of the
  generator's log-spectrum (same shape and range, more eigenvalues).

Each configuration runs on ``--seeds`` copies of the same matrix with independent probes (one batched call), so
"mean over seeds" is over independent probe draws. Printed per row: matvecs per matrix; the relative error
|est - exact| / |exact| (mean and sd over seeds); the bias (mean signed error / |exact|); time of the estimator
/ time of ``torch.linalg.slogdet`` of the dense matrix (both per matrix, this machine, torch threads as set);
and matvecs / n, the cost relative to forming M densely from n products (what an implicit M, e.g. J^T J by
JVP + VJP, would cost for the exact route). Ratios only: no absolute timings are claimed.

Usage::

    python benchmarks/bench_logdet_estimators.py [--sizes 100 1024] [--budgets 220 1000 4000] [--seeds 10]
        [--dcgan auto|none|PATH] [--threads 1]
"""

from __future__ import annotations

import argparse
import glob
import math
import os
import time
from typing import Callable, Sequence

import torch

from gandensity.numerics.hutchpp import hutchpp_logdet
from gandensity.numerics.lanczos import slq_logdet
from gandensity.numerics.spectral import stochastic_logdet

# budget -> settings; each close to the budget in matvecs per matrix
CHEB = {220: (10, 20), 1000: (20, 49), 4000: (40, 99)}          # (order m, probes p): 21 + m p
SLQ = {220: (11, 20), 1000: (25, 40), 4000: (50, 80)}            # (steps m, probes p): m p
SLQ_DEEP = {220: (22, 10), 1000: (50, 20), 4000: (100, 40)}
HUTCHPP = {220: (4, 11, 12), 1000: (8, 25, 24), 4000: (16, 50, 48)}  # (sketch k, steps m, probes p), s = 2


def settings_for(budget: int, table: dict) -> tuple:
    """The settings of the nearest tabulated budget, scaled (for budgets not in the table)."""
    if budget in table:
        return table[budget]
    near = min(table, key=lambda b: abs(math.log(b / budget)))
    f = math.sqrt(budget / near)
    return tuple(max(1, round(v * f)) for v in table[near])


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


def dcgan_spectrum(path: str) -> tuple[torch.Tensor, str] | None:
    """Eigenvalues of J^T J of a cached trained DCGAN at one latent (seed 0), and a description."""
    from gandensity.numerics.spectral import exact_metric
    from gandensity.workflows.cache import cache_dir, load_entry
    from gandensity.workflows.models import DCGANConfig, Generator

    if path == "none":
        return None
    if path == "auto":
        entries = []
        for f in glob.glob(str(cache_dir() / "dcgan-*.pt")):
            try:
                entries.append((float(load_entry(f).get("seconds", 0.0)), f))
            except Exception:  # noqa: BLE001 - an unreadable entry is just not a candidate
                continue
        if not entries:
            return None
        path = max(entries)[1]
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
    lam = torch.linalg.eigvalsh(exact_metric(gen, z))[0]
    return lam, (f"{os.path.basename(path)}: latent {latent}, width {config.width}, {config.channels} channel(s), "
                 f"trained {entry.get('seconds', float('nan')):.0f}s")


def timed(fn: Callable[[], torch.Tensor]) -> tuple[torch.Tensor, float]:
    start = time.perf_counter()
    with torch.no_grad():
        out = fn()
    return out, time.perf_counter() - start


def run_case(name: str, lam: torch.Tensor, budgets: Sequence[int], seeds: int, seed: int) -> None:
    n = lam.numel()
    A = haar_spd(lam, seeds, seed)
    exact = float(lam.log().sum())
    lmin = float(lam.min())

    def matvec(v: torch.Tensor) -> torch.Tensor:
        return torch.einsum("bij,bj->bi", A, v)

    common = dict(batch_size=seeds, dtype=torch.float64, seed=seed + 1)
    t_exact = min(timed(lambda: torch.linalg.slogdet(A)[1])[1] for _ in range(3)) / seeds
    print(f"\n== {name}, n = {n}: lambda in [{lmin:.1e}, {float(lam.max()):.1e}], condition "
          f"{float(lam.max()) / lmin:.1e}, exact log det {exact:.2f}; {seeds} seeds ==")
    print(f"{'budget':>6} {'estimator':<15} {'settings':<18} {'matvecs':>7} {'rel err':>8} {'sd':>8} "
          f"{'bias':>8} {'t/slogdet':>9} {'mv/n':>6}")
    for budget in budgets:
        m, p = settings_for(budget, CHEB)
        ms, ps = settings_for(budget, SLQ)
        md, pd = settings_for(budget, SLQ_DEEP)
        k, mh, ph = settings_for(budget, HUTCHPP)
        rows = [
            ("cheb eps=0.1", f"m={m} p={p}", 21 + m * p,
             lambda: stochastic_logdet(matvec, n, order=m, probes=p, eps=0.1, **common)),
            ("cheb eps=lmin", f"m={m} p={p}", 21 + m * p,
             lambda: stochastic_logdet(matvec, n, order=m, probes=p, eps=lmin, **common)),
            ("slq", f"m={min(ms, n)} p={ps}", None,
             lambda: slq_logdet(matvec, n, steps=ms, probes=ps, **common)),
            ("slq deep", f"m={min(md, n)} p={pd}", None,
             lambda: slq_logdet(matvec, n, steps=md, probes=pd, **common)),
            ("hutch++", f"k={k} s=2 m={min(mh, n)} p={ph}", None,
             lambda: hutchpp_logdet(matvec, n, sketch=k, sketch_steps=2, steps=mh, probes=ph, **common)),
        ]
        for label, setting, cost, fn in rows:
            out, t = timed(fn)
            if isinstance(out, tuple):  # QuadratureLogdet
                cost, out = out.matvecs, out.logdet
            err = (out.double() - exact) / abs(exact)
            print(f"{budget:>6} {label:<15} {setting:<18} {cost:>7} {err.abs().mean():8.2e} {err.abs().std():8.1e} "
                  f"{err.mean():+8.1e} {t / seeds / t_exact:9.1f} {cost / n:6.1f}")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[100, 1024])
    p.add_argument("--budgets", type=int, nargs="+", default=[220, 1000, 4000])
    p.add_argument("--seeds", type=int, default=10, help="independent probe draws per configuration")
    p.add_argument("--spectra", nargs="+", default=["log-uniform", "dcgan"], choices=["log-uniform", "dcgan"])
    p.add_argument("--dcgan", default="auto", help="'auto' (longest-trained cached DCGAN), 'none' or a path")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if min(args.sizes + args.budgets + [args.seeds, args.threads]) < 1:
        p.error("--sizes, --budgets, --seeds and --threads must be positive")
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
    spectra: list[tuple[str, Callable[[int], torch.Tensor]]] = []
    if "log-uniform" in args.spectra:
        spectra.append(("log-uniform 1e-3..1e2", lambda n: log_uniform(n, args.seed)))
    if "dcgan" in args.spectra:
        found = dcgan_spectrum(args.dcgan)
        if found is None:
            print("dcgan spectrum: no trained DCGAN in the cache (pass --dcgan PATH); skipped")
        else:
            lam, desc = found
            print(f"dcgan spectrum from {desc}")
            spectra.append(("dcgan", lambda n: stretch(lam, n)))
            dcgan_n = lam.numel()
    start = time.perf_counter()
    for name, make in spectra:
        for n in args.sizes:
            if name == "dcgan":
                label = "dcgan (its spectrum)" if n == dcgan_n else f"dcgan (spectrum stretched from n={dcgan_n})"
            else:
                label = name
            run_case(label, make(n), args.budgets, args.seeds, args.seed)
    print(f"\ntotal wall time {time.perf_counter() - start:.0f}s")


if __name__ == "__main__":
    main()
