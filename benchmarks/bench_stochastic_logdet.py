"""Benchmark of the stochastic log-determinant log det(J^T J) against the exact route, as the latent grows.

The implicit density of a generator needs log det M, M = J^T J (n x n), at each latent. Two routes, on
untrained DCGAN generators (width 32, 1 channel, 32x32 output by default) with latent n = 16, 64, 256, 1024:

1. **Exact vs stochastic.** The exact route is :func:`gandensity.numerics.validation.metric_logdet`: the m x n
   Jacobian by batched forward-mode autodiff (n JVPs per sample) plus a float64 QR. The stochastic route is
   :func:`gandensity.numerics.spectral.stochastic_logdet` on :func:`gandensity.numerics.spectral.metric_matvec` (paper 001,
   Algorithm 1, Chebyshev) with the paper's (m, p, t, g) = (10, 20, 20, 1.2) under ``torch.no_grad()``:
   t + 1 + m p = 221 metric products per sample whatever n is, each one JVP and one VJP of the generator.
   Its eps (the assumed lower end of the spectrum) is, by default, a power of ten at or below the smallest
   eigenvalue of M over the batch's full-rank samples (from the float64 SVD of the Jacobian, computed in the
   exact route's warm-up, outside the timings) and at most 1e-3: the untrained generator's spectrum lies
   far below the paper's eps = 0.1 (even below 1e-3), where the estimate would be biased. Printed per n: time per sample of both routes, their ratio, and the error of the estimate against
   the exact log det (absolute in nats and relative, median and max over the batch); then where the
   stochastic route starts to win (the crossover). Where J is rank-deficient (likely for n = 1024 = m with
   1 channel) the exact log det is -inf and the error is left out for those samples.

2. **Lower bound** of the stochastic route: (t + 1 + m p) metric products per sample, each at least one
   forward and one backward (input gradient) of the generator: the JVP's tangent pass does the same
   (transposed) convolutions as a forward, and the VJP is a backward. The plain forward + backward
   (``torch.autograd.grad`` with respect to z) of a (p B)-row batch, the batch that the vmapped probes
   present to the generator, is timed; the bound per sample is (t + 1 + m p) times its time per row. The
   printed ratio = our time / bound says how much the estimator adds on top (a JVP also recomputes the
   primal values and the power iterations run on only B rows, so the ratio stays above 1).

3. **Naive baselines** of the same estimator: (a) ``vectorize=False``, a Python loop over the p probes
   instead of one vmapped call, on the same batch and seed: it must give the same values (the script fails
   if the relative difference exceeds ``LOOP_REL_TOLERANCE``: 1e-5 in float32, 1e-3 with TF32); (b) one
   sample at a time with the loop over probes (the textbook implementation of Algorithm 1) on
   ``--naive-samples`` samples: its probes are drawn for one sample, so its values differ by the
   estimator's noise and only its speed is compared.

Every timing goes through :func:`measure`: warm-up call(s) first (forward-AD decompositions are compiled
on first use), then several timed repeats, ``torch.cuda.synchronize`` around each on a GPU; best and
median are printed, and ratios use the best (least disturbed by other load). On a GPU, TF32 convolutions
are switched off (``--tf32`` keeps them) so that both routes compute in float32 as on the CPU.

Usage::

    python benchmarks/bench_stochastic_logdet.py [--device auto|cpu|cuda] [--latents 16 64 256 1024]
        [--batch 4] [--eps auto|FLOAT] [--repeats 3]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn

from gandensity.numerics.density import generator_jacobian
from gandensity.workflows.models import DCGANConfig
from gandensity.numerics.spectral import metric_matvec, stochastic_logdet
from gandensity.numerics.validation import metric_logdet
from timing import Timing, build_generator, measure, resolve_device, sample_latents, synchronize

PAPER = dict(order=10, probes=20, power_iters=20, g=1.2)  # paper 001's (m, p, t, g)
EPS_CAP = 1e-3  # automatic eps: a power of ten below lambda_min, at most this
# vmapped probes vs Python loop over probes, same seed: max |diff| / |value|. Both are float32; only the batching
# of the convolutions differs (bit-identical on the CPU here), so they agree far below this; TF32 is looser.
LOOP_REL_TOLERANCE = {False: 1e-5, True: 1e-3}  # keyed by TF32 convolutions on


@dataclass
class Row:
    """Everything measured for one latent dimension n."""

    n: int
    eps: float
    lambda_min: float
    lambda_max: float
    singular: int  # samples whose exact log det is -inf (rank-deficient J)
    exact: Timing
    stochastic: Timing
    bound: Timing  # forward + backward of a (p B)-row batch
    loop: Timing  # vectorize=False, same batch
    per_sample: Timing  # one sample at a time, vectorize=False, naive_samples samples
    abs_err: list[float]  # per full-rank sample, nats
    rel_err: list[float]
    loop_rel_diff: float


def metric_spectrum(generator: nn.Module, z: torch.Tensor, chunk_size: int) -> torch.Tensor:
    """(B, n) float64 eigenvalues of J^T J from the SVD of the forward-mode Jacobian (the exact route's warm-up)."""
    jac = generator_jacobian(generator, z, chunk_size=chunk_size)
    return torch.linalg.svdvals(jac.double()).square()


def auto_eps(lambda_min: float) -> float:
    """The largest power of ten <= lambda_min, capped at ``EPS_CAP`` (and floored at 1e-30 for a zero eigenvalue)."""
    return min(EPS_CAP, 10.0 ** math.floor(math.log10(max(lambda_min, 1e-30))))


def stochastic(generator: nn.Module, z: torch.Tensor, eps: float, seed: int, vectorize: bool = True) -> torch.Tensor:
    with torch.no_grad():
        return stochastic_logdet(metric_matvec(generator, z), z.shape[1], eps=eps, seed=seed, vectorize=vectorize,
                                 **PAPER)


def stochastic_per_sample(generator: nn.Module, z: torch.Tensor, eps: float, seed: int) -> torch.Tensor:
    """Textbook Algorithm 1: one sample at a time, a Python loop over probes."""
    return torch.cat([stochastic(generator, z[i:i + 1], eps, seed, vectorize=False) for i in range(len(z))])


def forward_backward(generator: nn.Module, rows: torch.Tensor, cotangent: torch.Tensor) -> torch.Tensor:
    """One plain forward and one backward (gradient with respect to the input only) of ``rows``."""
    with torch.enable_grad():
        z = rows.detach().requires_grad_(True)
        return torch.autograd.grad(generator(z), z, cotangent)[0]


def ms(seconds: float) -> str:
    return f"{1e3 * seconds:9.2f} ms"


def bench_latent(n: int, args: argparse.Namespace, device: torch.device) -> Row:
    config = DCGANConfig(latent_dim=n, channels=args.channels, width=args.width)
    generator = build_generator(config, device, args.seed)
    z = sample_latents(args.batch, n, device, args.seed)
    B, p = args.batch, PAPER["probes"]
    products = PAPER["power_iters"] + 1 + PAPER["order"] * p
    print(f"\n-- n = {n}: J is {args.channels * 32 * 32} x {n}, batch {B} --")

    # [1] exact route; its warm-up is the same Jacobian, whose SVD gives the spectrum (and so eps)
    spectrum: list[torch.Tensor] = []
    exact_t = measure(lambda: metric_logdet(generator, z, chunk_size=args.chunk_size), device,
                      repeats=args.repeats,
                      warmup_fn=lambda: spectrum.append(metric_spectrum(generator, z, args.chunk_size)))
    eig = spectrum[0].cpu()
    exact = exact_t.result.cpu()
    full_rank = torch.isfinite(exact)
    # eps from the full-rank samples, the only ones the estimate is compared with (all of them if none is)
    lam_min = eig[full_rank].min().item() if full_rank.any() else eig.min().item()
    eps = auto_eps(lam_min) if args.eps == "auto" else float(args.eps)
    print(f"[1] exact (forward-mode Jacobian, {n} JVPs/sample, + float64 QR): {ms(exact_t.best / B)}/sample"
          f"  (median {ms(exact_t.median / B)})")
    print(f"    spectrum of J^T J: lambda in [{eig.min().item():.2e}, {eig.max().item():.2e}]"
          + (f", full-rank samples' lambda_min {lam_min:.2e}" if not full_rank.all() else "") + "; "
          f"eps = {eps:g}{' (auto)' if args.eps == 'auto' else ''}"
          + (f"; {int((~full_rank).sum())}/{B} samples rank-deficient (exact log det = -inf)"
             if not full_rank.all() else ""))

    stoch_t = measure(lambda: stochastic(generator, z, eps, args.seed), device, repeats=args.repeats)
    est = stoch_t.result.double().cpu()
    print(f"    stochastic ({products} metric products/sample, vmapped over probes): "
          f"{ms(stoch_t.best / B)}/sample  (median {ms(stoch_t.median / B)}); "
          f"exact / stochastic = {exact_t.best / stoch_t.best:.2f}")
    abs_err = (est - exact)[full_rank].abs().tolist()
    rel_err = ((est - exact).abs() / exact.abs())[full_rank].tolist()
    if abs_err:
        print(f"    log det exact [{exact[full_rank].min():.1f}, {exact[full_rank].max():.1f}]; "
              f"|estimate - exact| median {statistics.median(abs_err):.2f} nats, max {max(abs_err):.2f}; "
              f"relative median {statistics.median(rel_err):.2e}, max {max(rel_err):.2e}")
    else:
        print("    no sample has a finite exact log det: error not defined")

    # [2] lower bound: forward + backward of the (p B)-row batch the vmapped probes present
    rows = z.repeat(p, 1)
    cotangent = torch.randn((p * B, args.channels, 32, 32), generator=torch.Generator().manual_seed(args.seed + 2))
    cotangent = cotangent.to(device)
    bound_t = measure(lambda: forward_backward(generator, rows, cotangent), device, repeats=args.repeats)
    bound = products * bound_t.best / (p * B)
    print(f"[2] forward+backward of {p * B} rows: {ms(bound_t.best / (p * B))}/row -> bound {products} x that = "
          f"{ms(bound)}/sample; ours / bound = {stoch_t.best / B / bound:.2f}")

    # [3a] loop over probes, same batch and seed: same values
    loop_t = measure(lambda: stochastic(generator, z, eps, args.seed, vectorize=False), device,
                     repeats=args.naive_repeats, warmup=0)
    loop = loop_t.result.double().cpu()
    loop_rel = ((est - loop).abs() / loop.abs()).max().item()
    print(f"[3] loop over probes (vectorize=False): {ms(loop_t.best / B)}/sample, "
          f"vmapped is {loop_t.best / stoch_t.best:.1f}x faster; max relative diff {loop_rel:.1e}")
    tolerance = LOOP_REL_TOLERANCE[args.tf32_on]
    assert loop_rel <= tolerance, (
        f"n = {n}: vmapped and looped probes disagree (max relative diff {loop_rel:.2e} > {tolerance:g})")

    # [3b] one sample at a time and a loop over probes
    zs = z[: args.naive_samples]
    per_t = measure(lambda: stochastic_per_sample(generator, zs, eps, args.seed), device,
                    repeats=args.naive_repeats, warmup=0)
    print(f"    one sample at a time + loop over probes ({len(zs)} samples): {ms(per_t.best / len(zs))}/sample, "
          f"batched is {(per_t.best / len(zs)) / (stoch_t.best / B):.1f}x faster")

    return Row(n, eps, lam_min, eig.max().item(), int((~full_rank).sum()), exact_t, stoch_t, bound_t, loop_t,
               per_t, abs_err, rel_err, loop_rel)


def crossover(rows: Sequence[Row]) -> str:
    """Where the stochastic route becomes faster: log-log interpolation of exact/stochastic between n's."""
    ratio = [(r.n, r.exact.best / r.stochastic.best) for r in rows]
    if all(q > 1 for _, q in ratio):
        return f"stochastic faster at every n measured (from n = {ratio[0][0]})"
    if all(q <= 1 for _, q in ratio):
        return f"exact faster at every n measured (up to n = {ratio[-1][0]})"
    for (n0, q0), (n1, q1) in zip(ratio, ratio[1:]):
        if q0 <= 1 < q1:
            t = -math.log(q0) / (math.log(q1) - math.log(q0))
            at = math.exp(math.log(n0) + t * (math.log(n1) - math.log(n0)))
            return f"between n = {n0} and n = {n1} (log-log interpolation: n ~ {at:.0f})"
    return "not monotone in n: " + ", ".join(f"n={n}: {q:.2f}" for n, q in ratio)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--latents", type=int, nargs="+", default=[16, 64, 256, 1024], help="latent dimensions n")
    p.add_argument("--width", type=int, default=32, help="DCGAN width (channels of the outermost hidden layer)")
    p.add_argument("--channels", type=int, default=1, choices=(1, 3))
    p.add_argument("--batch", type=int, default=None, help="samples per n (default: 4 on CPU, 32 on CUDA)")
    p.add_argument("--naive-samples", type=int, default=None,
                   help="samples for the one-at-a-time baseline (default: 1 on CPU, 4 on CUDA)")
    p.add_argument("--eps", default="auto",
                   help=f"eps of the estimator: 'auto' (power of ten <= lambda_min, at most {EPS_CAP:g}) or a number")
    p.add_argument("--chunk-size", type=int, default=8, help="chunk_size of the exact route (metric_logdet)")
    p.add_argument("--repeats", type=int, default=3, help="timed repeats (best and median reported)")
    p.add_argument("--naive-repeats", type=int, default=1, help="timed repeats of the (slow) naive baselines")
    p.add_argument("--tf32", action="store_true", help="keep TF32 convolutions on CUDA (off by default)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    optional = [v for v in (args.batch, args.naive_samples) if v is not None]
    if min(args.latents + optional + [args.chunk_size, args.repeats, args.naive_repeats]) < 1:
        p.error("--latents, --batch, --naive-samples, --chunk-size and the repeats must be positive")
    if args.eps != "auto":
        try:
            if not float(args.eps) > 0:
                raise ValueError
        except ValueError:
            p.error(f"--eps must be 'auto' or a positive number, got {args.eps!r}")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    device = resolve_device(args.device)
    cuda = device.type == "cuda"
    args.batch = args.batch or (32 if cuda else 4)
    args.naive_samples = min(args.batch, args.naive_samples or (4 if cuda else 1))
    if cuda:
        torch.backends.cudnn.allow_tf32 = args.tf32
    args.tf32_on = cuda and args.tf32
    m, p, t, g = (PAPER[k] for k in ("order", "probes", "power_iters", "g"))

    print("== stochastic vs exact log det(J^T J) benchmark ==")
    print(f"torch {torch.__version__}, device {device}"
          + (f" ({torch.cuda.get_device_name(device)})" if cuda else "")
          + f", threads {torch.get_num_threads()} (interop {torch.get_num_interop_threads()})"
          + (f", TF32 convs {torch.backends.cudnn.allow_tf32}" if cuda else ""))
    print(f"untrained DCGAN width {args.width}, {args.channels} channel(s), 32x32; latents n = {args.latents}; "
          f"batch {args.batch}, repeats {args.repeats} (+ warm-up), naive repeats {args.naive_repeats}, "
          f"seed {args.seed}")
    print(f"estimator: Chebyshev, (m, p, t, g) = ({m}, {p}, {t}, {g}), eps {args.eps}; "
          f"{t + 1 + m * p} metric products (JVP + VJP) per sample")

    start = time.perf_counter()
    rows = [bench_latent(n, args, device) for n in args.latents]

    print("\n== summary (ms per sample, best of repeats) ==")
    head = (f"{'n':>5} {'exact':>9} {'stoch':>9} {'ex/st':>6} {'eps':>7} {'|err| med':>10} {'rel med':>8} "
            f"{'rel max':>8} {'bound':>8} {'st/bnd':>6} {'loop':>9} {'x':>5} {'1-by-1':>9} {'x':>5}")
    print(head)
    for r in rows:
        B = args.batch
        st = r.stochastic.best / B
        bound = (t + 1 + m * p) * r.bound.best / (p * B)
        err = (f"{statistics.median(r.abs_err):10.2f} {statistics.median(r.rel_err):8.1e} {max(r.rel_err):8.1e}"
               if r.abs_err else f"{'n/a':>10} {'n/a':>8} {'n/a':>8}")
        per = r.per_sample.best / args.naive_samples
        print(f"{r.n:5d} {1e3 * r.exact.best / B:9.2f} {1e3 * st:9.2f} {r.exact.best / r.stochastic.best:6.2f} "
              f"{r.eps:7.0e} {err} {1e3 * bound:8.2f} {st / bound:6.2f} {1e3 * r.loop.best / B:9.2f} "
              f"{r.loop.best / r.stochastic.best:5.1f} {1e3 * per:9.2f} {per / st:5.1f}")
        if r.singular:
            print(f"      n = {r.n}: {r.singular}/{B} samples rank-deficient (exact log det -inf), "
                  "left out of the errors")
    print("columns: exact = metric_logdet; stoch = stochastic_logdet (vmapped probes); ex/st = exact / stoch; "
          "|err| in nats, rel = |err| / |exact|; bound = (t+1+mp) x (forward+backward per row of a pB batch); "
          "st/bnd = stoch / bound; loop = vectorize=False (x = its time / stoch); "
          "1-by-1 = one sample at a time + loop over probes (x = its time / stoch)")
    print(f"crossover (stochastic faster than exact): {crossover(rows)}")
    print(f"vmapped vs looped probes, same seed: max relative diff {max(r.loop_rel_diff for r in rows):.1e} "
          f"(<= {LOOP_REL_TOLERANCE[args.tf32_on]:g}, asserted)")
    print(f"total wall time {time.perf_counter() - start:.0f}s")


if __name__ == "__main__":
    main()
