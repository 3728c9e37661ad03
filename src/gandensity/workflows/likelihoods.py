"""Cached likelihoods of image groups under a GAN with Gaussian observation noise (paper 002, section 4).

Chapters C2 and C3 need the same expensive numbers: the observation-noise variance sigma2 fitted by inverting
training images (:func:`noise_variance`), and AIS log-likelihoods of groups of images (:func:`log_likelihoods`).
Both are stored in the content-addressed cache (:mod:`gandensity.workflows.cache`) under a key made of the generator's
weights, the images' bytes, the settings and the code, so that a chapter reuses what another computed while each
chapter can still compute everything alone.

:func:`image_groups` builds the groups both chapters use from a chapter configuration: held-out test and training
images of the GAN's data, samples of the noisy model x = G(z) + N(0, sigma2 I), and out-of-distribution images
(single colours, scikit-learn digits, photo patches) in the GAN's format.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

import torch
from torch import nn

from gandensity.numerics import ais, inversion
from gandensity.workflows import cache
from gandensity.workflows.cache import generator_fingerprint, tensor_fingerprint
from gandensity.workflows.data import ImageData, load

__all__ = ["NoiseFit", "generator_fingerprint", "tensor_fingerprint", "noise_variance", "log_likelihoods",
           "image_groups", "psnr", "OOD_GROUPS"]

# Out-of-distribution groups: display name -> embedded data set (converted to the GAN's channels and size).
OOD_GROUPS = {"single colours": "solid_colours", "sklearn digits": "sklearn_digits", "photo patches": "photo_patches"}


class NoiseFit(NamedTuple):
    """What :func:`noise_variance` returns.

    Attributes:
        sigma2: mean over images of the reconstruction error per value (the MLE of the noise variance).
        errors: (B,) each image's mean squared reconstruction error per value.
        hit: True when the result came from the cache.
    """

    sigma2: float
    errors: torch.Tensor
    hit: bool


def _code() -> str:
    return cache.code_version(ais, inversion)


def noise_variance(generator: nn.Module, images: torch.Tensor, *, steps: int, restarts: int, candidates: int,
                   seed: int = 0, use_cache: bool = True) -> NoiseFit:
    """Observation-noise variance of paper 002 (section 4.1, appendix B.3): invert ``images`` (training images)
    with :func:`gandensity.numerics.inversion.invert` and average their mean squared reconstruction errors per value.

    For x = G(z*) + e with e ~ N(0, sigma2 I), the maximum-likelihood sigma2 given the projections is the mean of
    the squared residuals over all values and images. Cached.
    """
    parts = {"generator": generator_fingerprint(generator), "images": tensor_fingerprint(images), "steps": steps,
             "restarts": restarts, "candidates": candidates, "seed": seed, "code": _code()}

    def build() -> dict[str, Any]:
        inv = inversion.invert(generator, images, steps=steps, restarts=restarts, candidates=candidates, seed=seed)
        return {"errors": inv.error.detach().cpu().double()}

    result, hit, _ = cache.cached("noise", parts, build, enabled=use_cache)
    errors = result["errors"]
    return NoiseFit(float(errors.mean()), errors, hit)


def log_likelihoods(generator: nn.Module, images: torch.Tensor, *, sigma2: float, steps: int, chains: int,
                    leapfrog: int, seed: int = 0, use_cache: bool = True) -> tuple[torch.Tensor, bool]:
    """AIS estimates of log p(x) (nats, float64, (B,)) by :func:`gandensity.numerics.ais.ais_log_likelihood`, cached.

    Returns ``(log_likelihood, hit)``, ``hit`` True when they came from the cache. The key holds the generator's
    weights, the images' bytes, sigma2 (exactly), the AIS settings, the seed and the code of the AIS module.
    """
    parts = {"generator": generator_fingerprint(generator), "images": tensor_fingerprint(images),
             "sigma2": float(sigma2).hex(), "steps": steps, "chains": chains, "leapfrog": leapfrog, "seed": seed,
             "code": _code()}

    def build() -> dict[str, Any]:
        ll = ais.ais_log_likelihood(generator, images, sigma2=sigma2, steps=steps, chains=chains, leapfrog=leapfrog,
                                    seed=seed)
        return {"log_likelihood": ll.detach().cpu().double()}

    result, hit, _ = cache.cached("ais", parts, build, enabled=use_cache)
    return result["log_likelihood"], hit


def _take(data: ImageData, n: int, seed: int) -> torch.Tensor:
    if n > len(data.images):
        raise ValueError(f"asked for {n} images of {data.name}, which has {len(data.images)}")
    pick = torch.randperm(len(data.images), generator=torch.Generator().manual_seed(seed))[:n]
    return data.images[pick]


def image_groups(config: Mapping[str, Any], generator: nn.Module, *, sigma2: float,
                 sizes: Mapping[str, int] | None = None, seed: int | None = None) -> dict[str, torch.Tensor]:
    """The groups of images whose likelihoods chapters C2 and C3 compare, each (N, C, H, W) in the GAN's format.

    ``config`` is a chapter configuration holding ``data``, ``channels``, ``data_root``, ``seed``, optionally
    ``size`` (default 32) and ``group_sizes`` (a mapping from group name to count; ``sizes`` overrides it). Known names: ``"test"`` and
    ``"train"`` (the GAN's data), ``"generated"`` (samples of the noisy model, x = G(z) + N(0, sigma2 I), by
    :func:`gandensity.numerics.ais.simulate`), and the keys of :data:`OOD_GROUPS`. The draws are seeded, so equal
    configurations give equal images (and share cache entries).
    """
    sizes = dict(config["group_sizes"] if sizes is None else sizes)
    seed = int(config["seed"] if seed is None else seed)
    channels = int(config["channels"])
    size = int(config.get("size", 32))
    groups: dict[str, torch.Tensor] = {}
    for i, (name, n) in enumerate(sizes.items()):
        if name in ("train", "test"):
            data = load(config["data"], data_root=config["data_root"], split=name, channels=channels)
            groups[name] = _take(data, n, seed + i)
        elif name == "generated":
            _, x = ais.simulate(generator, n, sigma2=sigma2, seed=seed + 1000 + i)
            groups[name] = x.detach().cpu()
        elif name in OOD_GROUPS:
            key = OOD_GROUPS[name]
            kwargs: dict[str, Any] = {"channels": channels, "size": size}
            if key in ("solid_colours", "photo_patches"):
                kwargs.update(n=max(n, 64), seed=seed + i)
            data = load(key, split="all", **kwargs)
            groups[name] = _take(data, n, seed + i)
        else:
            raise ValueError(f"unknown group {name!r}; valid: 'train', 'test', 'generated', {sorted(OOD_GROUPS)}")
    return groups


def psnr(sigma2: float, peak: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB of noise variance ``sigma2``: 10 log10(peak^2 / sigma2) (paper 002,
    Table 3, uses peak 1: sigma2 = 0.008 is 21 dB)."""
    return 10 * math.log10(peak ** 2 / sigma2)
