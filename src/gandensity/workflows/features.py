"""A small CNN digit classifier whose penultimate-layer features stand in for Inception's in a Frechet distance.

FID (Heusel et al. 2017) needs the Inception-v3 weights of the TensorFlow FID code, which cannot be downloaded
here. The chapters instead report the Frechet distance (:mod:`gandensity.numerics.frechet`) in the features of
this classifier, trained on MNIST-5k's training digits at the chapter's image size: a number comparable only
with others in the same features and at the same sample sizes, never with a paper's FID.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass
from typing import NamedTuple

import torch
from torch import Tensor, nn

from gandensity.workflows import cache

__all__ = ["ClassifierConfig", "FeatureClassifier", "FittedClassifier", "train_classifier", "classifier_features",
           "classifier_accuracy"]


@dataclass(frozen=True)
class ClassifierConfig:
    """Training settings: ``width`` channels in the first conv layer, ``features`` penultimate units."""

    width: int = 16
    features: int = 64
    steps: int = 1500
    batch_size: int = 64
    lr: float = 2e-3
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("width", "features", "steps", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}; pass {name} >= 1")
        if not isinstance(self.lr, (int, float)) or not self.lr > 0:
            raise ValueError(f"lr must be a positive number, got {self.lr!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValueError(f"seed must be an int, got {self.seed!r}")


class FeatureClassifier(nn.Module):
    """Two stride-2 conv layers, a ``features``-unit ReLU layer (the features), a 10-way linear head.

    Input (N, C, H, W) with H, W divisible by 4; :meth:`features` returns (N, features)."""

    def __init__(self, channels: int, size: int, config: ClassifierConfig) -> None:
        super().__init__()
        w = config.width
        self.body = nn.Sequential(
            nn.Conv2d(channels, w, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(w, 2 * w, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten(),
            nn.Linear(2 * w * (size // 4) ** 2, config.features), nn.ReLU())
        self.head = nn.Linear(config.features, 10)

    def features(self, x: Tensor) -> Tensor:
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(x))


class FittedClassifier(NamedTuple):
    model: FeatureClassifier  # eval mode, CPU
    config: ClassifierConfig
    hit: bool  # loaded from the cache
    seconds: float  # training time of the (possibly cached) run


def _check_images(images: Tensor, name: str) -> None:
    if not isinstance(images, Tensor) or images.ndim != 4:
        raise ValueError(f"{name} must be a (N, C, H, W) tensor, got "
                         f"{tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__}")
    if images.shape[2] % 4 or images.shape[3] % 4:
        raise ValueError(f"{name} height and width must be divisible by 4, got {tuple(images.shape[2:])}")
    if not torch.isfinite(images).all():
        raise ValueError(f"{name} contains NaN or inf")


def _fit(images: Tensor, labels: Tensor, config: ClassifierConfig) -> dict:
    start = time.perf_counter()
    with torch.random.fork_rng(devices=[]):  # seeded initialisation without touching the caller's global RNG
        torch.manual_seed(config.seed)
        model = FeatureClassifier(images.shape[1], images.shape[2], config)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    rng = torch.Generator().manual_seed(config.seed)
    for _ in range(config.steps):
        idx = torch.randint(len(images), (config.batch_size,), generator=rng)
        loss = nn.functional.cross_entropy(model(images[idx]), labels[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return {"state": state, "seconds": time.perf_counter() - start}


def train_classifier(images: Tensor, labels: Tensor, config: ClassifierConfig = ClassifierConfig(), *,
                     use_cache: bool = True) -> FittedClassifier:
    """Train (or load from the cache) the classifier on ``images`` (N, C, H, W) in [-1, 1] with ``labels`` (N,)
    in 0..9, on the CPU (seeded: the same bits for the same inputs and torch thread count)."""
    if not isinstance(config, ClassifierConfig):
        raise TypeError(f"config must be a ClassifierConfig, got {type(config).__name__}")
    _check_images(images, "images")
    labels = torch.as_tensor(labels).long().reshape(-1)
    if len(labels) != len(images):
        raise ValueError(f"labels has {len(labels)} entries for {len(images)} images; pass one label per image")
    if len(labels) and (labels.min() < 0 or labels.max() > 9):
        raise ValueError("labels must be digits 0..9")
    images = images.detach().float().cpu()
    parts = {"config": asdict(config), "data": cache.tensor_fingerprint(images),
             "labels": cache.tensor_fingerprint(labels), "code": cache.code_version(sys.modules[__name__])}
    entry, hit, _ = cache.cached("digit-features", parts, lambda: _fit(images, labels, config), enabled=use_cache)
    model = FeatureClassifier(images.shape[1], images.shape[2], config)
    model.load_state_dict(entry["state"])
    return FittedClassifier(model.eval(), config, hit, float(entry["seconds"]))


@torch.no_grad()
def classifier_features(model: FeatureClassifier, images: Tensor, chunk: int = 512) -> Tensor:
    """Penultimate-layer features of ``images`` (N, C, H, W): (N, features), float32, in chunks of ``chunk``."""
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"chunk must be a positive int, got {chunk!r}; pass chunk >= 1")
    _check_images(images, "images")
    images = images.detach().float().cpu()
    return torch.cat([model.features(images[i:i + chunk]) for i in range(0, len(images), chunk)])


@torch.no_grad()
def classifier_accuracy(model: FeatureClassifier, images: Tensor, labels: Tensor, chunk: int = 512) -> float:
    """Fraction of ``images`` (N, C, H, W) whose predicted digit equals ``labels`` (N,)."""
    _check_images(images, "images")
    images = images.detach().float().cpu()
    pred = torch.cat([model(images[i:i + chunk]).argmax(1) for i in range(0, len(images), chunk)])
    return float((pred == torch.as_tensor(labels).reshape(-1)).float().mean())
