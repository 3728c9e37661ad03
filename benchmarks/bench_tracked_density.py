"""Benchmark of LED's tracked generator density (paper 003) against the exact-Jacobian route (paper 000).

Both routes give log p(x) of a generated image x of C x S x S = m numbers, latent n (64 by default), for the
outputs ``--outputs`` (1x16 and 1x32 with ``--quick``; 1 and 3 channels at 16, 32 and 64 by default):

1. **Tracked route**: :meth:`gandensity.numerics.tracked.TrackedGenerator.sample` of an untrained
   :func:`gandensity.numerics.tracked.image_generator` (n, channels C, image_size S, ``--shuffles`` 3; eval mode, so
   batch norm uses its running statistics and the tracked density is exact for the network; no grad): it draws
   z and the layers' noise, and every layer updates the (B,) float64 log-density beside the image. Time per
   generated sample at batch sizes ``--batches`` (64 on CPU; 64 and 256 on CUDA).

2. **Lower bound of the tracked route**: the *same* network's plain forward pass, with the same draws of z and
   noise (same seed) and the same weights, with no density bookkeeping: the benchmark runs each layer's tensor
   operation on x alone (linear, concatenation of the noise, circular convolution, affine batch norm, smooth
   ReLU, pixel shuffle, keeping pixel (2i, 2j)) and checks that it returns the same images as ``sample``. A
   generator must at least draw its inputs and evaluate its layers, so this is the least any density-tracking
   implementation of this network can cost; printed ``tracked / forward`` is the bookkeeping overhead factor
   (1 = free). The bookkeeping has two parts, measured separately: (a) per-batch terms that depend only on the
   weights: log|det| of each square linear layer (float64 slogdet), of each circular convolution
   (:func:`gandensity.numerics.tracked.circular_conv_logdet`: an FFT and H W slogdets of C x C), and of each batch norm
   (running statistics): all of them are computed once per call whatever B is, their total is printed per batch
   and as a share of the tracked batch time (it shrinks per sample as B grows); (b) the per-sample rest: the
   float64 log-slopes of the smooth ReLUs and the Gaussian log-densities of the padded and dropped noise, i.e.
   tracked - forward - (a).

3. **Exact-Jacobian route**: :func:`gandensity.numerics.density.generator_log_density` (forward-mode n x m Jacobian,
   float64 QR, standard-normal prior; ``--chunk-size`` samples per vectorised call: 8 on CPU, the default of
   bench_exact_density.py, and 64 on CUDA) on the foundation DCGAN (:class:`gandensity.workflows.models.Generator`,
   DCGAN initialisation, width ``--width`` 32, eval mode) with the same latent n and the same output C x S x S.
   ``models.DCGANConfig`` admits 32 and 64 only; for S = 16 the benchmark admits 16 in a subclass of the
   config, and ``models.Generator`` builds its natural three-layer version (1 -> 4 -> 8 -> 16). Time per sample
   on ``--exact-samples`` latents. It computes log det(J^T J) of the m x n Jacobian: n Jacobian-vector products
   through the network per sample (bench_exact_density.py shows that n plain forward passes bound it from below).

Printed per output size and batch: both routes' time per sample, **exact / tracked** (how many times cheaper the
tracked density is per sample), and each route in units of its own network's plain forward pass (the DCGAN's
no-grad forward at the same batch is timed too): the two networks differ (LED's is a noise-padded, channel-
preserving flow-like network, the DCGAN a stack of transposed convolutions), so exact / tracked compares the two
routes as the library offers them, while the columns "trk/fwd" and "exact/fwd" separate the cost of the density
from the size of the network (the exact route needs at least n forwards' worth of work, the tracked one a small
multiple of one). The summary table adds
"no-logdet": the tracked time per sample less the per-batch terms (a), (tracked - (a)) / B, and exact / tracked
without them: what large batches would approach if the rest grew linearly with B (on a CPU the forward's time per
sample grows with B once the activations leave the cache; ``--batches 64 256`` shows both effects). Then the
scaling with S: the growth of each per-sample time from one S to the next (the pixel count grows 4x).

**Validation** of the FFT route: on a circular convolution with a generic kernel (orthogonal centre tap times 2
plus N(0, 0.3^2) taps, so that log|det| is far from 0 and a relative difference is meaningful), C channels on
H x W, :func:`circular_conv_logdet` against the float64 slogdet of the dense (C H W) x (C H W) Jacobian, built
by applying the layer (:class:`gandensity.numerics.tracked.CircularConv2d`, float64, no bias) to the identity basis; time
of each (the dense time includes building the matrix), the FFT route's speed-up, and their relative difference,
which must be below 1e-8 (the script fails otherwise). C x H x W = 4x8x8 with ``--quick``, and also 8x16x16
by default (16x16x16 added on CUDA).

Every timing goes through :func:`measure`: warm-up call(s) first, then ``--repeats`` timed calls,
``torch.cuda.synchronize`` around each on a GPU; best and median are printed, ratios use the best (least
disturbed by other load). At each output size and batch, the tracked sample, the plain forward, the weight-only
log-dets and the DCGAN forward are timed in alternation, one call of each per repeat, so that the differences
and ratios between them see the same background load (the per-sample bookkeeping (b) is a difference of
timings, hence the noisiest figure). Everything is seeded (``--seed``); set ``OMP_NUM_THREADS`` to pin the CPU threads
(reported).

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_tracked_density.py [--quick] [--device auto|cpu|cuda]
        [--outputs 1x16 1x32 3x64] [--batches 64 256] [--latent 64] [--exact-samples 16] [--repeats 5]
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import warnings
from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gandensity.numerics import tracked
from gandensity.numerics.density import generator_log_density
from gandensity.workflows.models import DCGANConfig
from timing import Timing, build_generator, measure, resolve_device, sample_latents

QUICK_OUTPUTS = ("1x16", "1x32")
FULL_OUTPUTS = ("1x16", "1x32", "1x64", "3x16", "3x32", "3x64")
CPU_BATCHES, CUDA_BATCHES = (64,), (64, 256)
QUICK_CHECKS, FULL_CHECKS, CUDA_EXTRA_CHECK = ((4, 8),), ((4, 8), (8, 16)), (16, 16)  # (channels, side)
REL_TOLERANCE = 1e-8


@dataclasses.dataclass(frozen=True)
class _DCGANConfig16(DCGANConfig):
    """``DCGANConfig`` that also admits image_size 16 (``models.Generator`` builds 1 -> 4 -> 8 -> 16 from it)."""

    def __post_init__(self) -> None:
        if self.image_size == 16:
            dataclasses.replace(self, image_size=32)  # validates the other fields
        else:
            super().__post_init__()


def dcgan_config(latent: int, channels: int, width: int, size: int) -> DCGANConfig:
    cls = _DCGANConfig16 if size == 16 else DCGANConfig
    return cls(latent_dim=latent, channels=channels, width=width, image_size=size)


def build_tracked(latent: int, channels: int, size: int, shuffles: int, device: torch.device,
                  seed: int) -> tracked.TrackedGenerator:
    torch.manual_seed(seed)  # the layers draw their initial weights from the global generator
    g = tracked.image_generator(latent, channels=channels, image_size=size, shuffles=shuffles)
    return g.to(device).eval().requires_grad_(False)


def rng(device: torch.device, seed: int) -> torch.Generator:
    return torch.Generator(device=device).manual_seed(seed)


def draw_inputs(g: tracked.TrackedGenerator, n: int, gen: torch.Generator) -> tuple[Tensor, list[Tensor]]:
    """The z and noise draws of ``g.sample(n, rng=gen)``, in the same order (hence the same values)."""
    device = next(g.parameters()).device
    z = torch.randn(n, g.latent_dim, generator=gen, device=device)
    return z, [torch.randn(n, *s, generator=gen, device=device) for s in g.noise_shapes]


def plain_forward(g: tracked.TrackedGenerator, z: Tensor, noises: list[Tensor]) -> Tensor:
    """The tracked network's layers applied to x only: the same tensor operations, no log-density."""
    x, noise = z, iter(noises)
    for layer in g.layers:
        if isinstance(layer, tracked.Linear):
            x = F.linear(x, layer.weight, layer.bias)
        elif isinstance(layer, tracked.NoisePad):
            x = torch.cat([x.flatten(1), layer.sigma * next(noise)], 1).view(x.shape[0], *layer.out_shape_)
        elif isinstance(layer, tracked.CircularConv2d):
            p = layer.kernel_size // 2
            x = F.conv2d(F.pad(x, (p, p, p, p), mode="circular"), layer.weight, layer.bias)
        elif isinstance(layer, tracked.BatchNorm) and not layer.training:
            shape = (1, -1) + (1,) * (x.ndim - 2)
            scale = layer.weight / torch.sqrt(layer.running_var + layer.eps)
            x = (x - layer.running_mean.view(shape)) * scale.view(shape) + layer.bias.view(shape)
        elif isinstance(layer, tracked.SmoothReLU):
            v = x - layer.u0
            x = torch.logaddexp(layer.alpha * v, layer.beta * v) / layer.alpha - layer.t0
        elif isinstance(layer, tracked.PixelShuffle):
            x = F.pixel_shuffle(x, 2)
        elif isinstance(layer, tracked.NeighbourDownsample2d):
            x = x[:, :, ::2, ::2]  # the kept pixel (2i, 2j) of each 2x2 block
        else:
            raise TypeError(f"plain_forward has no plain version of {type(layer).__name__} (in training mode?)")
    return x


def weight_logdets(g: tracked.TrackedGenerator) -> Tensor:
    """Sum of the per-batch, weight-only log|det| terms of the tracked layers (what ``sample`` computes once per
    call): square linear layers, circular convolutions at their input size, batch norms (eval mode)."""
    shape: tuple[int, ...] = (g.latent_dim,)
    total = torch.zeros((), dtype=torch.float64, device=next(g.parameters()).device)
    for layer in g.layers:
        if isinstance(layer, tracked.Linear):
            total = total + layer.logdet()
        elif isinstance(layer, tracked.CircularConv2d):
            total = total + tracked.circular_conv_logdet(layer.weight, shape[1], shape[2])
        elif isinstance(layer, tracked.BatchNorm):
            scale = layer.weight / torch.sqrt(layer.running_var + layer.eps)
            total = total + math.prod(shape[1:]) * torch.log(scale.double().abs()).sum()
        shape = layer.out_shape(shape)
    return total


def alternate(fns: Sequence[Callable[[], Any]], device: torch.device, repeats: int) -> list[Timing]:
    """One warm-up call of each function, then ``repeats`` rounds of one timed call of each, in turn."""
    rounds = [[measure(fn, device, repeats=1, warmup=int(i == 0)) for fn in fns] for i in range(repeats)]
    return [Timing(tuple(r[k].best for r in rounds), rounds[-1][k].result) for k in range(len(fns))]


def exact(generator: nn.Module, z: Tensor, chunk_size: int) -> Tensor:
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # a singular Jacobian would invalidate the benchmark
        return generator_log_density(generator, z, chunk_size=chunk_size)


def ms(seconds: float) -> str:
    return f"{1e3 * seconds:9.3f}"


def conv_logdet_check(channels: int, side: int, device: torch.device, seed: int, repeats: int) -> float:
    """FFT route vs dense slogdet on one circular convolution; prints times and returns the relative difference."""
    torch.manual_seed(seed)
    layer = tracked.CircularConv2d(channels, 3, bias=False).double().requires_grad_(False)
    with torch.no_grad():
        layer.weight.copy_(0.3 * torch.randn(channels, channels, 3, 3, dtype=torch.float64))
        layer.weight[:, :, 1, 1] += 2 * nn.init.orthogonal_(torch.empty(channels, channels, dtype=torch.float64))
    layer = layer.to(device)
    n = channels * side * side

    def dense() -> Tensor:
        basis = torch.eye(n, dtype=torch.float64, device=device).view(n, channels, side, side)
        rows = layer(basis, torch.zeros(n, dtype=torch.float64, device=device))[0].reshape(n, n)  # row k: J e_k
        return torch.linalg.slogdet(rows)[1]  # det(J^T) = det(J)

    with torch.no_grad():
        fft_t = measure(lambda: tracked.circular_conv_logdet(layer.weight, side, side), device, repeats=repeats)
        dense_t = measure(dense, device, repeats=max(1, min(repeats, 2)))
    a, b = fft_t.result.item(), dense_t.result.item()
    rel = abs(a - b) / abs(b)
    print(f"    C x H x W = {channels}x{side}x{side} (dense {n} x {n}): FFT {ms(fft_t.best)} ms, "
          f"dense {ms(dense_t.best)} ms -> FFT {dense_t.best / fft_t.best:8.1f}x faster; "
          f"log|det| {a:.10f} vs {b:.10f}, relative difference {rel:.1e}")
    return rel


def parse_output(text: str) -> tuple[int, int]:
    try:
        c, s = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"outputs are CxS, e.g. 1x32 or 3x64; got {text!r}") from None
    if c not in (1, 3) or s not in (16, 32, 64):
        raise argparse.ArgumentTypeError(f"channels must be 1 or 3 and S one of 16, 32, 64; got {text!r}")
    return c, s


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--quick", action="store_true",
                   help="a few-second run: outputs 1x16 1x32 (plus 3x64 on CUDA), fewer samples and repeats")
    p.add_argument("--outputs", type=parse_output, nargs="+", default=None, metavar="CxS",
                   help=f"output sizes (default {' '.join(FULL_OUTPUTS)}; --quick: {' '.join(QUICK_OUTPUTS)})")
    p.add_argument("--batches", type=int, nargs="+", default=None,
                   help=f"batch sizes of the tracked route (default {CPU_BATCHES} on CPU, {CUDA_BATCHES} on CUDA)")
    p.add_argument("--latent", type=int, default=64, help="latent dimension n of both generators")
    p.add_argument("--shuffles", type=int, default=3, help="pixel-shuffle stages of the tracked generator")
    p.add_argument("--width", type=int, default=32, help="DCGAN width (channels of the outermost hidden layer)")
    p.add_argument("--exact-samples", type=int, default=None,
                   help="samples of the exact route (default 16 on CPU, 8 with --quick, 64 on CUDA)")
    p.add_argument("--chunk-size", type=int, default=None,
                   help="chunk_size of generator_log_density (default 8 on CPU, 64 on CUDA)")
    p.add_argument("--repeats", type=int, default=None, help="timed repeats (default 5, 3 with --quick)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    optional = [v for v in (args.exact_samples, args.chunk_size, args.repeats) if v is not None]
    if min(optional + list(args.batches or [1]) + [args.latent, args.shuffles, args.width]) < 1:
        p.error("--batches, --latent, --shuffles, --width, --exact-samples, --chunk-size and --repeats must be "
                "positive")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    device = resolve_device(args.device)
    cuda = device.type == "cuda"
    outputs = args.outputs or [parse_output(o) for o in (QUICK_OUTPUTS if args.quick else FULL_OUTPUTS)]
    if args.quick and cuda and args.outputs is None:
        outputs.append((3, 64))
    batches = sorted(args.batches or (CUDA_BATCHES if cuda else CPU_BATCHES))
    exact_samples = args.exact_samples or (64 if cuda else 8 if args.quick else 16)
    chunk = args.chunk_size or (64 if cuda else 8)
    repeats = args.repeats or (3 if args.quick else 5)
    exact_repeats = max(1, min(repeats, 3))
    n = args.latent

    print("== tracked (LED) vs exact-Jacobian generator density benchmark ==")
    print(f"torch {torch.__version__}, device {device}"
          + (f" ({torch.cuda.get_device_name(device)})" if cuda else "")
          + f", threads {torch.get_num_threads()} (OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')})"
          + (f", TF32 convs {torch.backends.cudnn.allow_tf32}" if cuda else "")
          + (f", load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs" if hasattr(os, "getloadavg") else ""))
    print(f"latent n {n}; tracked: image_generator(shuffles={args.shuffles}), eval, batches {batches}; exact: "
          f"DCGAN width {args.width}, generator_log_density chunk_size {chunk} on {exact_samples} samples; "
          f"repeats {repeats} ({exact_repeats} for the exact route) + warm-up; seed {args.seed}")

    rows = []
    with torch.no_grad():
        for c, s in outputs:
            m = c * s * s
            g = build_tracked(n, c, s, args.shuffles, device, args.seed)
            cfg = dcgan_config(n, c, args.width, s)
            dcgan = build_generator(cfg, device, args.seed)
            p_tracked = sum(p.numel() for p in g.parameters())
            p_dcgan = sum(p.numel() for p in dcgan.parameters())
            first = g.layers[1].out_shape_
            print(f"\n[{c}x{s}x{s}, m = {m}] tracked: first tensor {'x'.join(map(str, first))}, "
                  f"{g.noise_dim:,} noise coordinates, {p_tracked:,} parameters; DCGAN: "
                  f"{sum(isinstance(mod, nn.ConvTranspose2d) for mod in dcgan.modules())} transposed convolutions, "
                  f"{p_dcgan:,} parameters; J is {m} x {n}")

            # [3] exact route, once per output size (it is chunked: its cost per sample does not depend on B)
            z = sample_latents(exact_samples, n, device, args.seed)
            ex = measure(lambda: exact(dcgan, z, chunk), device, repeats=exact_repeats,
                         warmup_fn=lambda: exact(dcgan, z[:chunk], chunk))
            assert torch.isfinite(ex.result).all(), "exact log-densities are not finite"
            ex_ps = ex.best / exact_samples
            print(f"    exact  generator_log_density: {ms(ex_ps)} ms/sample (median {ms(ex.median / exact_samples)})")

            for b in batches:
                tr, fw, wl, dc = alternate([
                    lambda: g.sample(b, rng=rng(device, args.seed + 1)),  # [1] tracked route
                    lambda: plain_forward(g, *draw_inputs(g, b, rng(device, args.seed + 1))),  # [2] its bound
                    lambda: weight_logdets(g),  # (a): per batch, whatever b is
                    lambda: dcgan(sample_latents(b, n, device, args.seed)),  # the DCGAN's plain forward
                ], device, repeats)
                sample = tr.result
                diff = (fw.result - sample.x).abs().max().item()
                assert diff <= 1e-5 * max(1.0, sample.x.abs().max().item()), \
                    f"plain forward differs from sample's images by {diff:.2e}: the bound is not the same network"
                assert torch.isfinite(sample.log_density).all(), "tracked log-densities are not finite"
                tr_ps, fw_ps, dc_ps = tr.best / b, fw.best / b, dc.best / b
                rest = (tr.best - fw.best - wl.best) / b
                print(f"    B = {b:4d}: tracked sample {ms(tr_ps)} ms/sample (median {ms(tr.median / b)}), "
                      f"plain forward {ms(fw_ps)} -> tracked / forward {tr.best / fw.best:5.2f} "
                      f"[weight log-dets {100 * wl.best / tr.best:4.1f}% of the batch, per-sample bookkeeping "
                      f"{ms(rest)} ms/sample]; images match the plain forward to {diff:.0e}")
                print(f"              weight-only log|det| terms (linear, {args.shuffles + 1} circular convs, "
                      f"batch norms) {ms(wl.best)} ms per batch (median {ms(wl.median)}); DCGAN plain forward "
                      f"{ms(dc_ps)} ms/sample; exact / tracked {ex_ps / tr_ps:8.1f}x")
                rows.append(dict(c=c, s=s, m=m, b=b, tracked=tr_ps, forward=fw_ps, wl=wl.best, exact=ex_ps,
                                 dcgan=dc_ps, asymptote=(tr.best - wl.best) / b))

        print(f"\n[validation] circular_conv_logdet (FFT + H W slogdets of C x C) vs dense slogdet of the "
              f"(C H W)^2 Jacobian")
        checks = list(QUICK_CHECKS if args.quick else FULL_CHECKS) + ([CUDA_EXTRA_CHECK] if cuda else [])
        rels = [conv_logdet_check(cc, side, device, args.seed, repeats) for cc, side in checks]
        assert max(rels) < REL_TOLERANCE, f"FFT and dense log-dets disagree (relative {max(rels):.1e})"

    print("\n== summary (times per sample, best of the repeats) ==")
    head = (f"{'output':>9} {'m':>6} {'B':>4} | {'tracked ms':>10} {'forward ms':>10} {'trk/fwd':>7} "
            f"{'logdets ms/batch':>16} {'no-logdet':>9} | {'exact ms':>10} {'DCGAN fwd ms':>12} {'exact/fwd':>9} | "
            f"{'exact/tracked':>13} {'(no-logdet)':>12}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['c']}x{r['s']:>2}x{r['s']:<2} {r['m']:6d} {r['b']:4d} | {1e3 * r['tracked']:10.4f} "
              f"{1e3 * r['forward']:10.4f} {r['tracked'] / r['forward']:7.2f} {1e3 * r['wl']:16.3f} "
              f"{1e3 * r['asymptote']:9.4f} | {1e3 * r['exact']:10.3f} {1e3 * r['dcgan']:12.4f} "
              f"{r['exact'] / r['dcgan']:9.0f} | {r['exact'] / r['tracked']:12.1f}x "
              f"{r['exact'] / r['asymptote']:11.1f}x")
    print("(no-logdet: tracked ms per sample less the per-batch weight-only log-dets, (tracked - logdets) / B)")

    print("\nscaling with S (per-sample time growth from one S to the next; the pixel count grows 4x per step):")
    for c in sorted({r["c"] for r in rows}):
        for b in batches:
            series = sorted((r for r in rows if r["c"] == c and r["b"] == b), key=lambda r: r["s"])
            for lo, hi in zip(series, series[1:]):
                print(f"    {c} channel(s), B = {b:4d}, S {lo['s']:2d} -> {hi['s']:2d}: tracked "
                      f"x{hi['tracked'] / lo['tracked']:5.2f}, plain forward x{hi['forward'] / lo['forward']:5.2f}, "
                      f"exact x{hi['exact'] / lo['exact']:5.2f}; exact / tracked {lo['exact'] / lo['tracked']:.1f}x "
                      f"-> {hi['exact'] / hi['tracked']:.1f}x")
    print(f"FFT log-det vs dense slogdet: max relative difference {max(rels):.1e} (< {REL_TOLERANCE:g})")


if __name__ == "__main__":
    main()
