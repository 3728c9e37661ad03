"""Embedded data sets and the torchvision path, offline."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from gandensity import data


def check_images(d: data.ImageData, n: int, c: int, size: int = 32) -> None:
    assert d.images.shape == (n, c, size, size) and d.images.dtype == torch.float32
    assert d.images.min() >= -1 and d.images.max() <= 1
    assert d.labels.shape == (n,) and d.labels.dtype == torch.int64


def test_mnist5k_stratified_disjoint_deterministic_split():
    train, test, full = (data.mnist5k(s) for s in ("train", "test", "all"))
    check_images(train, 4000, 1)
    check_images(test, 1000, 1)
    assert torch.bincount(train.labels).tolist() == [400] * 10
    assert torch.bincount(test.labels).tolist() == [100] * 10
    # Disjoint and covering: every image of the full set is in exactly one split.
    key = lambda d: {hash(img.numpy().tobytes()) for img in d.images}  # noqa: E731
    assert key(train).isdisjoint(key(test)) and len(key(train) | key(test)) == len(key(full))
    assert torch.equal(data.mnist5k("test").images, test.images)
    assert not torch.equal(data.mnist5k("test", seed=1).images, test.images)


def test_mnist5k_three_channels_repeat_gray_and_sizes():
    rgb = data.mnist5k("test", channels=3)
    check_images(rgb, 1000, 3)
    assert torch.equal(rgb.images[:, 0], rgb.images[:, 2])
    check_images(data.mnist5k("test", size=28), 1000, 1, 28)
    # Real digits: dark background, some ink.
    assert data.mnist5k("test").images[:, :, 0, 0].max() == -1
    with pytest.raises(ValueError, match="unknown split 'val'"):
        data.mnist5k("val")
    with pytest.raises(ValueError, match="channels must be 1"):
        data.mnist5k(channels=2)
    with pytest.raises(ValueError, match="test_fraction"):
        data.mnist5k(test_fraction=1.0)


def test_digits_photo_patches_solid_colours():
    check_images(data.sklearn_digits(), 1797, 1)
    patches = data.photo_patches(90, seed=0)
    check_images(patches, 90, 3)
    assert len(set(patches.labels.tolist())) == len(data.PHOTOS)
    assert (patches.images.flatten(1).std(1) > 0).float().mean() > 0.9  # natural patches are not flat
    assert "CIFAR-10" in patches.description
    assert torch.equal(data.photo_patches(90, seed=0).images, patches.images)
    assert not torch.equal(data.photo_patches(90, seed=1).images, patches.images)
    check_images(data.photo_patches(10, channels=1), 10, 1)
    solid = data.solid_colours(20)
    check_images(solid, 20, 3)
    assert (solid.images.flatten(2).std(2) == 0).all()


def test_fingerprint_changes_with_one_pixel():
    d = data.sklearn_digits()
    changed = d.images.clone()
    changed[5, 0, 10, 10] += 0.01
    assert data.fingerprint(d) == data.fingerprint(data.sklearn_digits())
    assert data.fingerprint(d) != data.fingerprint(d._replace(images=changed))


def test_load_dispatch_and_errors(tmp_path):
    assert data.load("mnist5k", split="test").name == "mnist5k-test"
    assert data.load("solid_colours", n=3).images.shape[0] == 3
    with pytest.raises(ValueError, match=r"unknown data set 'cifar'.*mnist5k.*cifar10"):
        data.load("cifar")
    with pytest.raises(ValueError, match="pass data_root"):
        data.load("cifar10")
    with pytest.raises(data.DatasetNotFoundError, match=rf"{tmp_path}.*download=True"):
        data.load("cifar10", data_root=tmp_path)


def test_torchvision_cifar10_layout_loads_offline(tmp_path, monkeypatch):
    # A tiny CIFAR-10 in torchvision's on-disk format; torchvision checks md5 sums of the real files,
    # which a fake cannot match, so the integrity check is patched out.
    import torchvision
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name, n in [*((f"data_batch_{i}", 4) for i in range(1, 6)), ("test_batch", 3)]:
        batch = {"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), "labels": list(range(n))}
        (folder / name).write_bytes(pickle.dumps(batch))
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": [str(i) for i in range(10)]}))
    monkeypatch.setattr(torchvision.datasets.CIFAR10, "_check_integrity", lambda self: True)
    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", lambda *args: True)
    train = data.torchvision_dataset("cifar10", tmp_path, split="train")
    check_images(train, 20, 3)
    assert train.images.min() < -0.9 and train.images.max() > 0.9
    check_images(data.load("cifar10", data_root=tmp_path, split="test", channels=1), 3, 1)
