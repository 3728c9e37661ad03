"""GANs as manifold methods (paper 002, section 3): distances to the generator's manifold by GAN inversion, used
for generative classification (one GAN per class) and outlier detection, against one-nearest-neighbour baselines.

The distance of an image x to the manifold of G is the reconstruction error of its projection,
|G(z*) - x|^2 / D with z* from :func:`gandensity.numerics.inversion.invert`. A per-class family of GANs classifies x by the
class whose GAN reconstructs it best; an outlier score is the reconstruction error itself. The baselines replace
"distance to the manifold" by "distance to the nearest training image".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Callable, NamedTuple

import torch

from gandensity.workflows.data import ImageData
from gandensity.workflows.models import DCGANConfig
from gandensity.workflows.training import TrainConfig, TrainedGAN, train_dcgan
from gandensity.numerics.inversion import invert

__all__ = ["class_subset", "train_class_gans", "reconstruction_errors", "classify_by_reconstruction", "nearest_neighbour_classify",
           "ClassErrors", "class_errors_split"]

Generator = Callable[[torch.Tensor], torch.Tensor]


def class_subset(data: ImageData, label: int) -> ImageData:
    """The images of ``data`` with label ``label``, renamed ``<name>-class<label>`` (a distinct cache key)."""
    keep = data.labels == label
    if not bool(keep.any()):
        raise ValueError(f"{data.name} has no image with label {label}")
    return ImageData(data.images[keep], data.labels[keep], f"{data.name}-class{label}",
                     f"{data.description} (class {label} only)")


def train_class_gans(data: ImageData, model: DCGANConfig, config: TrainConfig, *, device: str | torch.device = "cpu",
                     use_cache: bool = True) -> list[TrainedGAN]:
    """One DCGAN per class of ``data`` (paper 002's per-class GANs): :func:`train_dcgan` on :func:`class_subset` for
    each label 0, 1, ..., K - 1, in order (cached; chapters with equal settings share them).

    The labels must be exactly 0..K-1 with K >= 2 (a set without labels, -1, has no classes).
    """
    classes = torch.unique(data.labels).tolist()
    if len(classes) < 2 or classes != list(range(len(classes))):
        raise ValueError(f"{data.name} must have labels 0..K-1 with K >= 2 to train one GAN per class; it has "
                         f"{classes[:12]}")
    return [train_dcgan(class_subset(data, c), model, config, device=device, use_cache=use_cache, verbose=False)
            for c in classes]


def reconstruction_errors(generator: Generator, images: torch.Tensor, *, steps: int, restarts: int, candidates: int,
                          seed: int = 0, batch_size: int = 256) -> torch.Tensor:
    """(B,) mean squared reconstruction error per value of each image's projection onto G (in batches)."""
    out = [invert(generator, x, steps=steps, restarts=restarts, candidates=candidates, seed=seed + i).error
           for i, x in enumerate(images.split(batch_size))]
    return torch.cat(out).detach().cpu()


def classify_by_reconstruction(generators: Sequence[Generator], images: torch.Tensor, *, steps: int, restarts: int,
                               candidates: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Generative classification by the manifold: label k of the generator that reconstructs each image best.

    Returns ``(predicted, errors)``: (B,) int64 class indices into ``generators`` and (B, K) reconstruction errors.
    """
    if len(generators) < 2:
        raise ValueError(f"need at least two class generators, got {len(generators)}")
    errors = torch.stack([reconstruction_errors(g, images, steps=steps, restarts=restarts, candidates=candidates,
                                                seed=seed) for g in generators], 1)
    return errors.argmin(1), errors


def nearest_neighbour_classify(images: torch.Tensor, reference: ImageData, *, chunk_size: int = 512) -> torch.Tensor:
    """(B,) label of each image's nearest (l2) reference image: the paper's 1-NN baseline (pixel distance)."""
    if images.shape[1:] != reference.images.shape[1:]:
        raise ValueError(f"images {tuple(images.shape)} and reference {tuple(reference.images.shape)} differ in shape")
    ref = reference.images.detach().float().reshape(len(reference.images), -1)
    index = torch.cat([torch.cdist(x.detach().float().reshape(len(x), -1), ref).argmin(1)
                       for x in images.split(chunk_size)])
    return reference.labels[index]


class ClassErrors(NamedTuple):
    """What :func:`class_errors_split` returns (all reconstruction errors, MSE per value).

    Attributes:
        own: (B,) each image's error under the generator of its own class.
        best_other: (B,) each image's smallest error under the generators of the other classes.
        off_class: (B * (K - 1),) every error of an image under a generator of another class.
    """

    own: torch.Tensor
    best_other: torch.Tensor
    off_class: torch.Tensor


def class_errors_split(errors: torch.Tensor, labels: torch.Tensor) -> ClassErrors:
    """Split (B, K) reconstruction errors of images under K class generators by the images' labels (B,)."""
    if errors.ndim != 2 or labels.shape != (errors.shape[0],):
        raise ValueError(f"errors must be (B, K) and labels (B,), got {tuple(errors.shape)} and {tuple(labels.shape)}")
    if errors.shape[1] < 2:
        raise ValueError("need at least two classes")
    mine = torch.zeros_like(errors, dtype=torch.bool)
    mine[torch.arange(len(labels)), labels] = True
    own = errors[mine]
    return ClassErrors(own, errors.masked_fill(mine, float("inf")).amin(1), errors[~mine])
