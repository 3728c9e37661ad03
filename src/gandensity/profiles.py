"""Run profiles of the book's chapters: ``smoke``, ``cpu`` and ``paper``.

- ``smoke``: seconds; proves that a chapter runs end to end (numbers are not meaningful).
- ``cpu``: the published book; real results on embedded data, a few minutes per chapter on 2 CPU cores.
- ``paper``: the paper's data sets and hyperparameters; needs the data under ``data_root``, meant for a GPU.

Settings live here, once, and notebooks ask for them with :func:`chapter_config`. Models shared by
several chapters (e.g. the MNIST DCGAN) are defined once in ``SHARED`` so that their cache keys agree.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import torch

__all__ = ["PROFILES", "CHAPTERS", "SHARED", "ChapterConfig", "chapter_config", "resolve_device"]

PROFILES = ("smoke", "cpu", "paper")

# The DCGAN of paper 000 trained on MNIST. The paper does not state its epoch count; 25 is the DCGAN
# reference default. MNIST is upscaled to 32x32x3 in the paper; the cpu profile keeps 1 channel,
# which costs a third of the Jacobian's rows and changes nothing in the method.
SHARED: dict[str, dict[str, dict[str, Any]]] = {
    "mnist_dcgan": {
        "smoke": {"data": "mnist5k", "channels": 1, "width": 16, "epochs": 1, "batch_size": 64},
        "cpu": {"data": "mnist5k", "channels": 1, "width": 32, "epochs": 20, "batch_size": 64},
        "paper": {"data": "mnist", "channels": 3, "width": 64, "epochs": 25, "batch_size": 64},
    },
}

CHAPTERS: dict[str, dict[str, dict[str, Any]]] = {
    "a1_exact_density": {
        "smoke": {**SHARED["mnist_dcgan"]["smoke"], "num_samples": 64, "grid": 16, "chunk_size": 8,
                  "check_samples": 4},
        "cpu": {**SHARED["mnist_dcgan"]["cpu"], "num_samples": 2000, "grid": 36, "chunk_size": 8,
                "check_samples": 16},
        "paper": {**SHARED["mnist_dcgan"]["paper"], "num_samples": 50000, "grid": 64, "chunk_size": 128,
                  "check_samples": 64},
    },
}

# Parameters every chapter accepts besides its own settings. The published book runs on the CPU;
# the paper profile takes a GPU when there is one.
COMMON: dict[str, dict[str, Any]] = {
    "smoke": {"seed": 0, "device": "cpu", "data_root": None},
    "cpu": {"seed": 0, "device": "cpu", "data_root": None},
    "paper": {"seed": 0, "device": "auto", "data_root": None},
}


class ChapterConfig(Mapping[str, Any]):
    """Read-only settings of one chapter at one profile; items are also attributes (``cfg.epochs``)."""

    def __init__(self, chapter: str, profile: str, values: dict[str, Any]) -> None:
        self._values = dict(values)
        self.chapter, self.profile = chapter, profile

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __getattr__(self, key: str) -> Any:
        try:
            return self.__dict__["_values"][key]
        except KeyError:
            raise AttributeError(f"{self.__dict__.get('chapter')} has no setting {key!r}; "
                                 f"settings: {sorted(self.__dict__['_values'])}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        items = ", ".join(f"{k}={v!r}" for k, v in self._values.items())
        return f"ChapterConfig({self.chapter!r}, profile={self.profile!r}: {items})"

    def __str__(self) -> str:
        width = max(map(len, self._values))
        lines = [f"{self.chapter} at profile {self.profile!r}:"]
        lines += [f"  {k:<{width}} = {v!r}" for k, v in self._values.items()]
        return "\n".join(lines)


def chapter_config(chapter: str, profile: str = "cpu", **overrides: Any) -> ChapterConfig:
    """Settings of ``chapter`` at ``profile``, with ``overrides`` applied.

    Overrides whose value is ``None`` are ignored, so notebook parameters can default to ``None``
    ("use the profile's value"). An unknown chapter, profile or override raises ``ValueError``
    listing the valid ones.
    """
    if chapter not in CHAPTERS:
        raise ValueError(f"unknown chapter {chapter!r}; valid chapters: {sorted(CHAPTERS)}")
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; valid profiles: {list(PROFILES)} "
                         "(smoke: seconds, cpu: the published book, paper: paper scale on a GPU)")
    values = {**COMMON[profile], **CHAPTERS[chapter][profile]}
    unknown = sorted(set(overrides) - set(values))
    if unknown:
        raise ValueError(f"unknown setting(s) {unknown} for chapter {chapter!r}; valid settings: {sorted(values)}")
    for key, value in overrides.items():
        if value is not None:
            values[key] = type(values[key])(value) if isinstance(values[key], (int, float)) \
                and not isinstance(values[key], bool) else value
    return ChapterConfig(chapter, profile, values)


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` picks CUDA when available; asking for an absent accelerator is a clear error."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was requested but torch sees no CUDA GPU here; use -p device cpu "
                         "(or 'auto')")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError("device 'mps' was requested but is not available here; use -p device cpu")
    return device
