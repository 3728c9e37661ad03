"""Benchmark of the ``gandensity`` command's sharded jobs: one process against two (torchrun), and paper-scale cost.

Measured in one run, on an untrained DCGAN (``--latent``, ``--width``, ``--channels``; default the book's ``cpu``
MNIST DCGAN: latent 100, width 32, one channel, 32x32) saved with ``save_generator``:

1. **One process vs two**: ``gandensity density`` and ``gandensity likelihood`` (simulated images, ``--ais-steps``
   steps) run as one process and under ``torchrun --standalone --nproc_per_node=2`` (gloo on the CPU; NCCL, one
   GPU each, when ``--device cuda`` and two GPUs are visible). Printed per command: items per second over the job
   itself (the run's wall time recorded in the manifest: no interpreter start-up), the command's wall time
   including start-up, and the ratio two / one of the job throughputs. On a machine whose cores are shared, two
   processes gain less than 2x; nothing is asserted.
2. **Paper settings** (``--paper``): one shard of exact densities (``--paper-samples`` latents) and one shard of AIS
   likelihoods at paper 002's 500 steps x 4 chains x 10 leapfrogs (``--paper-images`` simulated images), measured in
   this process on ``--device`` after a warm-up (the first forward-mode Jacobian in a process compiles for
   seconds); printed as seconds per item and items per minute (per GPU on CUDA). Nothing is extrapolated.
   Part 1's density times include that warm-up once per process, as a real job does.

Every child process gets ``OMP_NUM_THREADS`` of this one (1 if unset); the thread count is reported.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_jobs.py [--samples 64] [--images 16] [--ais-steps 20] [--paper]
        [--device auto|cpu|cuda] [--latent 100] [--width 32] [--channels 1]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

import torch

from gandensity.workflows import jobs, models

PAPER = dict(steps=500, chains=4, leapfrog=10)  # paper 002, section 4.1
SIGMA2 = 0.01


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--samples", type=int, default=64, help="latents of the density job (1 vs 2 processes)")
    p.add_argument("--density-shard", type=int, default=16, help="latents per density shard")
    p.add_argument("--images", type=int, default=16, help="simulated images of the likelihood job")
    p.add_argument("--ais-steps", type=int, default=20, help="AIS steps of the 1-vs-2 likelihood job")
    p.add_argument("--ais-shard", type=int, default=4, help="images per likelihood shard")
    p.add_argument("--paper", action="store_true", help="also measure one shard of each job at paper settings")
    p.add_argument("--paper-samples", type=int, default=None, help="latents of the paper density shard "
                   "(default 64 on a CPU, 1024 on a GPU)")
    p.add_argument("--paper-images", type=int, default=None, help="images of the paper AIS shard "
                   "(default 8 on a CPU, 256 on a GPU)")
    p.add_argument("--skip-processes", action="store_true", help="skip the one-vs-two-processes part")
    p.add_argument("--latent", type=int, default=100)
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--channels", type=int, default=1, choices=(1, 3))
    args = p.parse_args(argv)
    if min(args.samples, args.density_shard, args.images, args.ais_steps, args.ais_shard, args.latent,
           args.width) < 1:
        p.error("counts, steps, shard sizes, --latent and --width must be positive")
    return args


def run_command(argv: list[str], out: Path, processes: int, device: str) -> tuple[float, float, int]:
    """(job seconds from the manifest, command wall seconds, items) of one ``gandensity`` run."""
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"), "GANDENSITY_PROGRESS": "0"}
    launcher = ([sys.executable, "-m", "gandensity"] if processes == 1 else
                [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
                 "-m", "gandensity"])
    start = time.perf_counter()
    done = subprocess.run([*launcher, *argv, "--out", str(out), "--device", device], env=env, capture_output=True,
                          text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"command failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    manifest = jobs.read_manifest(out)
    run = manifest["runs"][-1]
    return run["seconds"], wall, manifest["items"]


def processes_part(checkpoint: Path, work: Path, args: argparse.Namespace, device: str) -> None:
    gpus = torch.cuda.device_count() if device == "cuda" else 0
    if device == "cuda" and gpus < 2:
        print("[1] one vs two processes: skipped (needs two GPUs for --device cuda; run with --device cpu)")
        return
    commands = {
        "density": ["density", "--model", str(checkpoint), "--samples", str(args.samples), "--shard-size",
                    str(args.density_shard)],
        "likelihood": ["likelihood", "--model", str(checkpoint), "--images", f"simulated:{args.images}", "--sigma2",
                       str(SIGMA2), "--steps", str(args.ais_steps), "--chains", str(PAPER["chains"]), "--leapfrog",
                       str(PAPER["leapfrog"]), "--shard-size", str(args.ais_shard)],
    }
    for name, argv in commands.items():
        rates = {}
        for k in (1, 2):
            job_s, wall, items = run_command(argv, work / f"{name}-{k}", k, device)
            rates[k] = items / job_s
            print(f"[1] {name}, {k} process(es): {items} items in {job_s:.2f} s of job ({rates[k]:.2f} items/s), "
                  f"{wall:.1f} s with start-up")
        print(f"[1] {name}: two processes / one = {rates[2] / rates[1]:.2f}x the throughput")


def paper_part(generator: models.Generator, work: Path, args: argparse.Namespace, device: torch.device) -> None:
    gpu = device.type == "cuda"
    samples = args.paper_samples or (1024 if gpu else 64)
    images = args.paper_images or (256 if gpu else 8)
    per = "per GPU" if gpu else "on this CPU"
    # warm-up: forward-mode autodiff compiles torch's decompositions on its first call in a process (seconds)
    jobs.run_density(generator, jobs.DensityJob(samples=2, shard_size=2), work / "warm-up", verbose=False,
                     progress=False)
    report = jobs.run_density(generator, jobs.DensityJob(samples=samples, shard_size=samples), work / "paper-density",
                              verbose=False, progress=False)
    seconds = jobs.read_manifest(report.out)["runs"][-1]["workers"][0]["seconds"]
    print(f"[2] exact densities, one shard of {samples} latents (batch {8 if not gpu else 64}): {seconds:.1f} s, "
          f"{seconds / samples:.3f} s per sample, {60 * samples / seconds:.1f} samples/minute {per}")
    job = jobs.LikelihoodJob(sigma2=SIGMA2, shard_size=images, **PAPER)
    z = jobs.item_latents(0, "bench", range(images), generator.config.latent_dim, jobs.prior_from_name("normal"))
    with torch.no_grad():
        x = (generator(z.to(device)) + SIGMA2 ** 0.5 * torch.randn(images, *generator.config.image_shape,
                                                                  device=device)).cpu()
    for label, source in (("forward AIS only (images without latents, as real images)",
                           jobs.ImageSource("bench images", x)),
                          ("forward AIS and the BDMC upper bound (reverse AIS from the true latents)",
                           jobs.ImageSource("bench images with latents", x, z))):
        report = jobs.run_likelihood(generator, source, job, work / f"paper-likelihood-{source.has_latents}",
                                     verbose=False, progress=False)
        seconds = jobs.read_manifest(report.out)["runs"][-1]["workers"][0]["seconds"]
        print(f"[2] AIS at paper settings (500 steps x 4 chains x 10 leapfrogs), {label}, one shard of {images} "
              f"images: {seconds:.1f} s, {seconds / images:.1f} s per image, {60 * images / seconds:.2f} "
              f"images/minute {per}")


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    device = jobs.resolve_device(args.device)
    print("== gandensity jobs benchmark ==")
    print(f"torch {torch.__version__}, device {device}"
          + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else "")
          + f", threads {torch.get_num_threads()} (OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')})"
          + (f", load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs" if hasattr(os, "getloadavg") else ""))
    config = models.DCGANConfig(latent_dim=args.latent, channels=args.channels, width=args.width)
    generator = models.untrained_generator(config, seed=0).requires_grad_(False)
    print(f"untrained DCGAN latent {args.latent}, width {args.width}, {args.channels} channel(s), 32x32")
    with tempfile.TemporaryDirectory(prefix="bench-jobs-") as tmp:
        work = Path(tmp)
        checkpoint = models.save_generator(generator, work / "generator.pt")
        if not args.skip_processes:
            processes_part(checkpoint, work, args, device.type)
        if args.paper:
            paper_part(generator.to(device), work, args, device)


if __name__ == "__main__":
    main()
