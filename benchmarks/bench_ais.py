"""Benchmark of AIS log-likelihoods (paper 002's 500 steps, 4 chains, 10 leapfrogs) on the book's DCGAN.

:func:`gandensity.numerics.ais.ais_log_likelihood` advances B images x C chains as one (B C, n) batch: every leapfrog
step is one forward and one backward (gradient with respect to z) of the generator on B C rows. Measured in one
run, on an untrained DCGAN (``models.Generator(DCGANConfig(latent_dim=100, channels=1, width=32))`` by default)
and simulated images x = G(z) + N(0, sigma2 I):

1. **Throughput** of batched AIS over ``--steps`` annealing steps: gradient evaluations (forward + backward of
   one row) per second, B C (steps L + 1) per run.
2. **Lower bound** on the time: the generator's plain forward + backward (``torch.autograd.grad`` with respect
   to z, as AIS needs) of a B C-row batch, called as many times as one AIS run calls it (so that both timings
   last as long and see the same background load); its rows per second bound AIS's gradient evaluations per
   second. Printed: AIS / bound (1 = no overhead; the rest is the Gaussian likelihood, leapfrog arithmetic,
   Metropolis-Hastings and Python).
3. **Naive baseline**: the same function called one image at a time (its C chains still batched), on
   ``--naive-images`` images; printed: its time per image / the batched one's (the speed-up of batching).
4. **Paper settings**: time per image at 500 steps x 4 chains x 10 leapfrogs, extrapolated linearly from the
   measured per-step time (each step costs the same), and the resulting images per minute on this machine.
   ``--full`` also runs the paper settings for real on the batch and prints the measured figure.

Every timing: a warm-up call, then ``--repeats`` timed calls (AIS and the bound alternating); the best is used
(least disturbed by other load), the median printed beside it. Set ``OMP_NUM_THREADS`` to pin the thread count
(reported).

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_ais.py [--batch 8] [--chains 4] [--leapfrog 10] [--steps 20]
        [--naive-images 2] [--repeats 2] [--width 32] [--latent 100] [--device auto|cpu|cuda] [--full]
"""

from __future__ import annotations

import argparse
import os
from typing import Sequence

import torch
from torch import nn

from gandensity.numerics.ais import ais_log_likelihood, simulate
from gandensity.workflows.models import DCGANConfig, Generator, init_dcgan_weights
from timing import Timing, measure, resolve_device, synchronize

PAPER = dict(steps=500, chains=4, leapfrog=10)  # paper 002, section 4.1


def forward_backward(generator: nn.Module, rows: torch.Tensor, cotangent: torch.Tensor) -> torch.Tensor:
    """One plain forward and one backward (gradient with respect to the input only) of ``rows``."""
    with torch.enable_grad():
        z = rows.detach().requires_grad_(True)
        return torch.autograd.grad(generator(z), z, cotangent)[0]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--batch", type=int, default=None, help="images per batched run (default 8 on CPU, 64 on CUDA)")
    p.add_argument("--chains", type=int, default=PAPER["chains"])
    p.add_argument("--leapfrog", type=int, default=PAPER["leapfrog"])
    p.add_argument("--steps", type=int, default=20, help="annealing steps timed (the paper's 500 are extrapolated)")
    p.add_argument("--naive-images", type=int, default=2, help="images of the one-image-at-a-time baseline")
    p.add_argument("--repeats", type=int, default=2, help="timed repeats (best and median reported)")
    p.add_argument("--width", type=int, default=32, help="DCGAN width")
    p.add_argument("--latent", type=int, default=100, help="DCGAN latent dimension")
    p.add_argument("--channels", type=int, default=1, choices=(1, 3))
    p.add_argument("--sigma2", type=float, default=0.01, help="observation noise variance of the simulated data")
    p.add_argument("--full", action="store_true", help="also run the paper settings (500 steps) on the batch")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    optional = [args.batch] if args.batch is not None else []
    if min(optional + [args.chains, args.leapfrog, args.steps, args.naive_images, args.repeats]) < 1:
        p.error("--batch, --chains, --leapfrog, --steps, --naive-images and --repeats must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    device = resolve_device(args.device)
    B = args.batch or (64 if device.type == "cuda" else 8)
    C, L, S = args.chains, args.leapfrog, args.steps
    rows = B * C
    print("== AIS log-likelihood benchmark ==")
    print(f"torch {torch.__version__}, device {device}"
          + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else "")
          + f", threads {torch.get_num_threads()} (OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')})"
          + (f", load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs" if hasattr(os, "getloadavg") else ""))
    config = DCGANConfig(latent_dim=args.latent, channels=args.channels, width=args.width)
    torch.manual_seed(args.seed)
    G = Generator(config).apply(init_dcgan_weights).to(device).eval().requires_grad_(False)
    _, x = simulate(G, max(B, args.naive_images), sigma2=args.sigma2, seed=args.seed, device=device)
    x_batch, x_naive = x[:B], x[:args.naive_images]
    print(f"untrained DCGAN latent {args.latent}, width {args.width}, {args.channels} channel(s), 32x32; "
          f"simulated images, sigma2 {args.sigma2}; batch {B} images x {C} chains = {rows} rows; "
          f"{S} steps x {L} leapfrogs timed; repeats {args.repeats} (+ warm-up)")

    def ais(images: torch.Tensor, steps: int = S) -> torch.Tensor:
        return ais_log_likelihood(G, images, sigma2=args.sigma2, steps=steps, chains=C, leapfrog=L, seed=args.seed)

    # [1] batched AIS and [2] the bound: forward + backward of the same rows, as many calls as one AIS run makes,
    # timed in alternation so that both see the same background load
    z_rows = torch.randn(rows, args.latent, generator=torch.Generator().manual_seed(args.seed + 1)).to(device)
    cot = torch.randn((rows, args.channels, 32, 32), generator=torch.Generator().manual_seed(args.seed + 2))
    cot = cot.to(device)
    calls = S * L + 1
    ais(x_batch)  # warm-up
    pairs = [(measure(lambda: ais(x_batch), device, repeats=1, warmup=0),
              measure(lambda: [forward_backward(G, z_rows, cot) for _ in range(calls)], device, repeats=1,
                      warmup=0)) for _ in range(args.repeats)]
    batched = Timing(tuple(p[0].best for p in pairs))
    fb = Timing(tuple(p[1].best for p in pairs))
    evals = rows * calls
    rate = evals / batched.best
    per_image_step = batched.best / (B * S)  # seconds per image per annealing step
    print(f"[1] batched AIS: {batched.best:.2f} s per run (median {batched.median:.2f}); "
          f"{rate:,.0f} gradient evaluations/s ({evals:,} per run)")
    bound_rate = evals / fb.best
    pair_ratios = [p[1].best / p[0].best for p in pairs]
    print(f"[2] generator forward+backward of {rows} rows, {calls} calls: {1e3 * fb.best / calls:.2f} ms per call "
          f"(median {1e3 * fb.median / calls:.2f}) -> bound {bound_rate:,.0f} gradient evaluations/s; "
          f"AIS / bound = {rate / bound_rate:.2f} (per alternating pair: "
          + ", ".join(f"{q:.2f}" for q in pair_ratios) + ")")

    # [3] one image at a time
    naive = measure(lambda: [ais(x_naive[i:i + 1]) for i in range(len(x_naive))], device, repeats=args.repeats)
    naive_per_image = naive.best / len(x_naive)
    naive_rate = len(x_naive) * C * (S * L + 1) / naive.best
    print(f"[3] one image at a time ({len(x_naive)} images, {C} chains each): {naive_per_image:.2f} s per image "
          f"(median {naive.median / len(x_naive):.2f}), {naive_rate:,.0f} gradient evaluations/s; "
          f"batched is {naive_per_image / (batched.best / B):.1f}x faster per image")

    # [4] the paper's settings, extrapolated from the per-step cost (and measured with --full)
    scale = (PAPER["chains"] * PAPER["leapfrog"]) / (C * L)  # if chains/leapfrog differ from the paper's
    paper_per_image = per_image_step * PAPER["steps"] * scale
    naive_paper = naive_per_image / S * PAPER["steps"] * scale
    print(f"[4] paper settings (500 steps, 4 chains, 10 leapfrogs = {4 * 5001:,} gradient evaluations per image), "
          f"extrapolated: {paper_per_image:.1f} s per image batched ({B} at a time) -> "
          f"{60 / paper_per_image:.2f} images/minute; one at a time {naive_paper:.1f} s -> "
          f"{60 / naive_paper:.2f} images/minute")
    if args.full:
        full = measure(lambda: ais(x_batch, PAPER["steps"]), device, repeats=1, warmup=0)
        print(f"    measured with --full on {B} images ({C} chains, {L} leapfrogs): {full.best:.1f} s, "
              f"{full.best / B:.1f} s per image -> {60 * B / full.best:.2f} images/minute")

    print("\n== summary ==")
    speedup = naive_per_image / (batched.best / B)
    print(f"AIS throughput {rate:,.0f} grad-evals/s; forward+backward bound {bound_rate:,.0f}/s; "
          f"ratio {rate / bound_rate:.2f}; speed-up over one image at a time {speedup:.1f}x; "
          f"paper settings: {60 / paper_per_image:.2f} images/minute on {device}"
          f" ({torch.get_num_threads()} thread(s))")


if __name__ == "__main__":
    main()
