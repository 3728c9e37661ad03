"""Cached likelihoods of image groups under a GAN with Gaussian observation noise (paper 002, section 4).

Chapters C2 and C3 need the same expensive numbers: the observation-noise variance sigma2 fitted by inverting
training images (:func:`noise_variance`), and AIS log-likelihoods of groups of images (:func:`log_likelihoods`).
Both are stored in the content-addressed cache (:mod:`gandensity.workflows.cache`) under a key made of the generator's
weights, the images' bytes, the settings and the code, so that a chapter reuses what another computed while each
chapter can still compute everything alone.

:func:`image_groups` builds the groups both chapters use from a :class:`GroupsConfig`: held-out test and training
images of the GAN's data, samples of the noisy model x = G(z) + N(0, sigma2 I), and out-of-distribution images
(single colours, digits, noise, photographs) in the GAN's format.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import torch
from scipy.stats import spearmanr
from torch import nn

from gandensity.numerics import ais, annealing, hmc, inversion, priors
from gandensity.workflows import cache
from gandensity.workflows.cache import generator_fingerprint, tensor_fingerprint
from gandensity.workflows.data import DataSpec, ImageData, load

__all__ = ["NoiseFitConfig", "AISConfig", "GroupsConfig", "NoiseFit", "generator_fingerprint", "tensor_fingerprint", "noise_variance", "fit_noise",
           "log_likelihoods", "group_log_likelihoods", "ClassLikelihoods", "classify_by_likelihood", "image_groups", "psnr", "psnr_of_errors", "noise_report",
           "nats_to_bits_per_dim", "bdmc_curve",
           "bootstrap_interval", "auroc", "auroc_gain", "mean_difference", "median_ratio", "spearman_pairs",
           "OOD_GROUPS"]

# Out-of-distribution groups: display name -> embedded data set (converted to the GAN's channels and size).
# A GAN's groups are those its configuration names (``GroupsConfig.sizes``): the MNIST GAN's OOD groups are single
# colours, sklearn digits and photo patches; the natural-image GAN's are single colours, both digit sets, noise and
# texture patches.
OOD_GROUPS = {"single colours": "solid_colours", "sklearn digits": "sklearn_digits", "photo patches": "photo_patches",
              "MNIST digits": "mnist5k", "noise": "uniform_noise", "texture patches": "texture_patches"}
_SEEDED = ("solid_colours", "photo_patches", "uniform_noise", "texture_patches")


def _positive_int(owner: str, name: str, value: Any, low: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{owner}.{name} must be an int >= {low}, got {value!r}")


@dataclass(frozen=True)
class NoiseFitConfig:
    """How the observation-noise variance is fitted (paper 002, section 4.1): ``images`` training images,
    each inverted with ``steps`` Adam steps from the best of ``candidates`` samples, ``restarts`` times;
    ``seed`` picks the images and seeds the inversion."""

    images: int
    steps: int
    restarts: int
    candidates: int
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("images", "steps", "restarts", "candidates"):
            _positive_int("NoiseFitConfig", name, getattr(self, name))
        _positive_int("NoiseFitConfig", "seed", self.seed, 0)


@dataclass(frozen=True)
class AISConfig:
    """AIS settings (paper 002, appendix B.3): ``steps`` annealing steps, ``chains`` independent chains per
    image, ``leapfrog`` steps per HMC move, ``seed``."""

    steps: int
    chains: int
    leapfrog: int
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("steps", "chains", "leapfrog"):
            _positive_int("AISConfig", name, getattr(self, name))
        _positive_int("AISConfig", "seed", self.seed, 0)


@dataclass(frozen=True)
class GroupsConfig:
    """The image groups whose likelihoods are compared: the GAN's data (``data``: its train and test splits and
    the format every group is converted to), ``sizes`` as (group name, count) pairs in order, and ``seed``."""

    data: DataSpec
    sizes: tuple[tuple[str, int], ...]
    seed: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.data, DataSpec):
            raise TypeError(f"GroupsConfig.data must be a DataSpec, got {type(self.data).__name__}")
        sizes = tuple(dict(self.sizes).items()) if isinstance(self.sizes, Mapping) else tuple(self.sizes)
        object.__setattr__(self, "sizes", sizes)
        _check_sizes(dict(sizes))
        _positive_int("GroupsConfig", "seed", self.seed, 0)


def _check_sizes(sizes: Mapping[str, int]) -> None:
    valid = ["train", "test", "generated", *OOD_GROUPS]
    for name, n in sizes.items():
        if name not in valid:
            raise ValueError(f"unknown group {name!r}; valid: {valid}")
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"the size of group {name!r} must be an int >= 1, got {n!r}")


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
    return cache.code_version(ais, annealing, hmc, inversion, priors)


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


def fit_noise(generator: nn.Module, train_images: torch.Tensor, config: NoiseFitConfig, *,
              use_cache: bool = True) -> NoiseFit:
    """The observation-noise variance of a chapter: :func:`noise_variance` on ``config.images`` training images.

    One function for chapters C2 and C3, so that both fit sigma2 on the same images with the same settings
    and share one cache entry. The images are a seeded random subset of ``train_images`` (N, C, H, W), moved to
    the generator's device.
    """
    if not isinstance(config, NoiseFitConfig):
        raise TypeError(f"config must be a NoiseFitConfig, got {type(config).__name__}")
    n = config.images
    if n > len(train_images):
        raise ValueError(f"NoiseFitConfig.images = {n} but only {len(train_images)} training images")
    pick = torch.randperm(len(train_images), generator=torch.Generator().manual_seed(config.seed))[:n]
    device = next(generator.parameters()).device
    return noise_variance(generator, train_images[pick].to(device), steps=config.steps, restarts=config.restarts,
                          candidates=config.candidates, seed=config.seed, use_cache=use_cache)


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


def group_log_likelihoods(generator: nn.Module, groups: Mapping[str, torch.Tensor], config: AISConfig, *,
                          sigma2: float, use_cache: bool = True) -> tuple[dict[str, torch.Tensor], int]:
    """:func:`log_likelihoods` of each group with one :class:`AISConfig`: ``({group: (B,) log p(x) in nats},
    groups read from the cache)``.

    Chapters C2 and C3 call it with equal settings and images, so that one computes what the other reads.
    """
    if not isinstance(config, AISConfig):
        raise TypeError(f"config must be an AISConfig, got {type(config).__name__}")
    device = next(generator.parameters()).device
    out, hits = {}, 0
    for name, images in groups.items():
        out[name], hit = log_likelihoods(generator, images.to(device), sigma2=sigma2, steps=config.steps,
                                         chains=config.chains, leapfrog=config.leapfrog, seed=config.seed,
                                         use_cache=use_cache)
        hits += int(hit)
    return out, hits


class ClassLikelihoods(NamedTuple):
    """What :func:`classify_by_likelihood` returns.

    Attributes:
        predicted: (B,) int64 index of the class generator under which each image is most likely.
        log_likelihood: (B, K) float64 AIS estimates of log p_k(x) in nats under each class's noisy model.
        hits: how many of the K columns came from the cache.
    """

    predicted: torch.Tensor
    log_likelihood: torch.Tensor
    hits: int


def classify_by_likelihood(generators: Sequence[nn.Module], images: torch.Tensor, sigma2: Sequence[float],
                           config: AISConfig, *, use_cache: bool = True) -> ClassLikelihoods:
    """Generative classification by likelihood (paper 002, section 4.2, Fig. 7 left): label each image (B, C, H, W)
    by the class k whose GAN, with its own observation noise ``sigma2[k]``, gives it the largest AIS log-likelihood,
    c(x) = argmax_k log p_k(x). Each column is :func:`log_likelihoods` (cached) with the same AIS settings.
    """
    if not isinstance(config, AISConfig):
        raise TypeError(f"config must be an AISConfig, got {type(config).__name__}")
    if len(generators) < 2 or len(sigma2) != len(generators):
        raise ValueError(f"need at least two class generators and one sigma2 per generator, got "
                         f"{len(generators)} generators and {len(sigma2)} variances")
    columns, hits = [], 0
    for g, s2 in zip(generators, sigma2):
        device = next(g.parameters()).device
        ll, hit = log_likelihoods(g, images.to(device), sigma2=s2, steps=config.steps, chains=config.chains,
                                  leapfrog=config.leapfrog, seed=config.seed, use_cache=use_cache)
        columns.append(ll)
        hits += int(hit)
    table = torch.stack(columns, 1)
    return ClassLikelihoods(table.argmax(1), table, hits)


def _take(data: ImageData, n: int, seed: int) -> torch.Tensor:
    if n > len(data.images):
        raise ValueError(f"asked for {n} images of {data.name}, which has {len(data.images)}")
    pick = torch.randperm(len(data.images), generator=torch.Generator().manual_seed(seed))[:n]
    return data.images[pick]


def image_groups(generator: nn.Module, config: GroupsConfig, *, sigma2: float,
                 sizes: Mapping[str, int] | None = None, seed: int | None = None) -> dict[str, torch.Tensor]:
    """The groups of images whose likelihoods chapters C2 and C3 compare, each (N, C, H, W) in the GAN's format.

    Known names: ``"test"`` and ``"train"`` (the GAN's data), ``"generated"`` (samples of the noisy model,
    x = G(z) + N(0, sigma2 I), by :func:`gandensity.numerics.ais.simulate`), and the keys of :data:`OOD_GROUPS`.
    ``sizes`` and ``seed`` replace the config's. The draws are seeded, so equal configurations give equal images
    (and share cache entries).
    """
    if not isinstance(config, GroupsConfig):
        raise TypeError(f"config must be a GroupsConfig, got {type(config).__name__}")
    sizes = dict(config.sizes if sizes is None else sizes)
    _check_sizes(sizes)
    seed = config.seed if seed is None else seed
    _positive_int("image_groups", "seed", seed, 0)
    spec = config.data
    groups: dict[str, torch.Tensor] = {}
    for i, (name, n) in enumerate(sizes.items()):
        if name in ("train", "test"):
            groups[name] = _take(spec.load(name), n, seed + i)
        elif name == "generated":
            _, x = ais.simulate(generator, n, sigma2=sigma2, seed=seed + 1000 + i)
            groups[name] = x.detach().cpu()
        else:
            key = OOD_GROUPS[name]
            kwargs: dict[str, Any] = {"channels": spec.channels, "size": spec.size}
            if key in _SEEDED:
                kwargs.update(n=max(n, 64), seed=seed + i)
            data = load(key, split="all", **kwargs)
            groups[name] = _take(data, n, seed + i)
    return groups


def psnr(sigma2: float, peak: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB of noise variance ``sigma2``: 10 log10(peak^2 / sigma2) (paper 002,
    Table 3, uses peak 1: sigma2 = 0.008 is 21 dB)."""
    if not sigma2 > 0:
        raise ValueError(f"sigma2 must be positive, got {sigma2!r}")
    return 10 * math.log10(peak ** 2 / sigma2)


def psnr_of_errors(errors: Any) -> float:
    """PSNR (dB) of the noise variance fitted from per-image reconstruction errors (their mean): a statistic for
    a bootstrap over the fitted images."""
    return psnr(float(np.mean(np.asarray(errors, dtype=float))))


def noise_report(noise: NoiseFit, config: NoiseFitConfig) -> str:
    """Two printed lines (at most 80 characters each) on a :func:`fit_noise` result and its settings."""
    return (f"sigma2 = {noise.sigma2:.4f} (PSNR {psnr(noise.sigma2):.1f} dB) from "
            f"{config.images} training images\n"
            f"  inverted with {config.steps} Adam steps, {config.restarts} restart(s) "
            f"from the nearest of {config.candidates} samples")


def nats_to_bits_per_dim(nats: Any, dims: int) -> Any:
    """A difference of log-likelihoods in nats per image as bits per dimension: nats / (D ln 2)."""
    if dims < 1:
        raise ValueError(f"dims must be positive, got {dims}")
    return nats / (dims * math.log(2))


def bdmc_curve(generator: nn.Module, z_true: torch.Tensor, x: torch.Tensor, *, sigma2: float, steps: Sequence[int],
               chains: int, leapfrog: int, seed: int = 0) -> dict[int, ais.AISBounds]:
    """BDMC sandwich (:func:`gandensity.numerics.ais.ais_bounds`) of simulated images for each AIS step count:
    {steps: AISBounds} with per-image lower and upper bounds and their gap (nats)."""
    return {int(t): ais.ais_bounds(generator, z_true, x, sigma2=sigma2, steps=int(t), chains=chains,
                                   leapfrog=leapfrog, seed=seed) for t in steps}


# Statistics of groups of per-image values, with percentile bootstrap intervals (for the chapters' claims).

def _array(values: Any) -> np.ndarray:
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    return np.asarray(values, dtype=float)


def bootstrap_interval(statistic: Callable[..., float], *groups: Any, resamples: int = 2000, level: float = 0.95,
                       seed: int = 0) -> tuple[float, float, float]:
    """``(statistic(*groups), low, high)``: the statistic and its percentile bootstrap interval when each group's
    items (first axis) are resampled with replacement, separately (a stratified bootstrap).

    Groups are tensors or arrays; a (B, k) group keeps its rows together (paired values of one image).
    """
    if not groups:
        raise ValueError("bootstrap_interval needs at least one group")
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level!r}")
    if resamples < 100:
        raise ValueError(f"resamples must be at least 100, got {resamples}")
    arrays = [_array(g) for g in groups]
    if any(a.ndim == 0 or len(a) < 2 for a in arrays):
        raise ValueError(f"every group needs at least 2 items, got lengths {[a.shape for a in arrays]}")
    rng = np.random.default_rng(seed)
    stats = np.array([statistic(*(a[rng.integers(0, len(a), len(a))] for a in arrays)) for _ in range(resamples)])
    alpha = (1 - level) / 2
    return (float(statistic(*arrays)), float(np.quantile(stats, alpha)), float(np.quantile(stats, 1 - alpha)))


def auroc(negatives: Any, positives: Any) -> float:
    """Area under the ROC curve of a score that should be larger for ``positives``: P(pos > neg) + P(tie) / 2."""
    neg, pos = _array(negatives).reshape(-1), _array(positives).reshape(-1)
    if len(neg) == 0 or len(pos) == 0:
        raise ValueError("auroc needs at least one negative and one positive")
    diff = pos[:, None] - neg[None, :]
    return float((diff > 0).mean() + 0.5 * (diff == 0).mean())


def auroc_gain(negatives: Any, positives: Any) -> float:
    """AUROC of score column 1 minus AUROC of score column 0, for (B, 2) scores of the same images."""
    neg, pos = _array(negatives), _array(positives)
    return auroc(neg[:, 1], pos[:, 1]) - auroc(neg[:, 0], pos[:, 0])


def mean_difference(a: Any, b: Any) -> float:
    """mean(a) - mean(b)."""
    return float(_array(a).mean() - _array(b).mean())


def median_ratio(a: Any, b: Any) -> float:
    """median(a) / median(b) (b's median must be positive)."""
    den = float(np.median(_array(b)))
    if not den > 0:
        raise ValueError(f"median of the denominator must be positive, got {den}")
    return float(np.median(_array(a))) / den


def spearman_pairs(pairs: Any) -> float:
    """Spearman rank correlation of the two columns of a (B, 2) array (0 when a column is constant)."""
    arr = _array(pairs)
    if np.ptp(arr[:, 0]) == 0 or np.ptp(arr[:, 1]) == 0:
        return 0.0
    return float(spearmanr(arr[:, 0], arr[:, 1]).statistic)
