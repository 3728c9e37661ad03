"""Timing helpers shared by the benchmarks: warm-up, repeats, best and median, CUDA synchronisation.

The benchmarks run as scripts (``python benchmarks/bench_*.py``), so this module is imported as ``timing``.
"""

from __future__ import annotations

import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import nn

from gandensity.workflows.models import DCGANConfig, Generator, init_dcgan_weights

__all__ = ["Timing", "synchronize", "measure", "measure_paired", "paired_ratios", "resolve_device",
           "build_generator", "sample_latents"]


@dataclass(frozen=True)
class Timing:
    """Wall-clock seconds of the timed repeats of one call, and what its last call returned."""

    times: tuple[float, ...]
    result: Any = field(default=None, repr=False, compare=False)

    @property
    def best(self) -> float:
        return min(self.times)

    @property
    def median(self) -> float:
        return statistics.median(self.times)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(fn: Callable[[], Any], device: torch.device, *, repeats: int, warmup: int = 1,
            warmup_fn: Callable[[], Any] | None = None) -> Timing:
    """Time ``fn`` ``repeats`` times after ``warmup`` untimed calls of ``warmup_fn`` (default ``fn``)."""
    for _ in range(warmup):
        (warmup_fn or fn)()
    synchronize(device)
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return Timing(tuple(times), result)


def measure_paired(fns: dict[str, Callable[[], Any]], device: torch.device, *, repeats: int,
                   warmup: int = 1) -> dict[str, Timing]:
    """Time several calls interleaved: each repeat times every call once, in an order that alternates between
    repeats, so that a change of the machine's load hits all of them alike. Ratios of the i-th times of two calls
    (:func:`paired_ratios`) then compare them under the same conditions."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    synchronize(device)
    names = list(fns)
    times: dict[str, list[float]] = {name: [] for name in names}
    results: dict[str, Any] = {}
    for r in range(repeats):
        for name in names if r % 2 == 0 else reversed(names):
            start = time.perf_counter()
            results[name] = fns[name]()
            synchronize(device)
            times[name].append(time.perf_counter() - start)
    return {name: Timing(tuple(times[name]), results[name]) for name in names}


def paired_ratios(a: Timing, b: Timing) -> list[float]:
    """The ratios a_i / b_i of two :func:`measure_paired` timings, repeat by repeat."""
    return [x / y for x, y in zip(a.times, b.times)]


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        sys.exit("--device cuda requested but torch.cuda.is_available() is False")
    return torch.device(name)


def build_generator(config: DCGANConfig, device: torch.device, seed: int) -> nn.Module:
    """An untrained DCGAN generator with the DCGAN initialisation, frozen, in eval mode."""
    torch.manual_seed(seed)
    generator = Generator(config).apply(init_dcgan_weights)
    return generator.to(device).eval().requires_grad_(False)


def sample_latents(b: int, n: int, device: torch.device, seed: int) -> torch.Tensor:
    return torch.randn(b, n, generator=torch.Generator().manual_seed(seed + 1)).to(device)
