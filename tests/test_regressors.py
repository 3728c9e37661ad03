"""Paper 000's regressors: triplets, pixel and latent regressors, the InfoGAN-style Q network, and the
evaluation numbers of chapters A2-A4 (AUROC, KS statistic, image statistics); the chapters' paper profile."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

import gandensity as gd
from gandensity.book.profiles import chapter_config
from gandensity.book.specs import gan_spec
from gandensity.workflows import evaluation, regressors
from gandensity.workflows.data import DataSpec, ImageData, without_label
from gandensity.workflows.models import DCGANConfig, Discriminator, Generator
from gandensity.workflows.regressors import QNetwork, Regressor, RegressorConfig
from gandensity.workflows.training import GANSpec, TrainConfig, train_gan


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANDENSITY_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("GANDENSITY_PROGRESS", "0")


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def tiny_generator(channels: int = 1, latent_dim: int = 8, width: int = 4, seed: int = 0) -> Generator:
    torch.manual_seed(seed)
    g = Generator(DCGANConfig(latent_dim=latent_dim, channels=channels, width=width))
    for m in g.modules():  # non-trivial batch-norm statistics, then eval mode
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    return g.eval().requires_grad_(False)


def tiny_data(n: int = 96, channels: int = 1) -> ImageData:
    g = torch.Generator().manual_seed(0)
    images = torch.rand(n, channels, 32, 32, generator=g) * 2 - 1
    return ImageData(images, torch.arange(n) % 10, "noise", "uniform noise for tests")


# ------------------------------------------------------------------------------------------ triplets


def test_triplets_match_the_exact_density_and_the_generator():
    g = tiny_generator()
    t = regressors.sample_triplets(g, 12, seed=5, chunk_size=4, batch_size=5)
    assert t.z.shape == (12, 8) and t.images.shape == (12, 1, 32, 32)
    assert t.log_density.dtype == torch.float64 and t.log_prior.dtype == torch.float64
    with torch.no_grad():
        assert torch.allclose(t.images, g(t.z), atol=1e-6)  # batched images are G(z), sample by sample
    assert torch.allclose(t.log_density, gd.generator_log_density(g, t.z), rtol=0, atol=1e-9)
    assert torch.allclose(t.log_prior, gd.StandardNormal().log_prob(t.z.double()))
    assert torch.equal(t.labels("pixel"), t.log_density) and torch.equal(t.labels("latent"), t.log_prior)
    again = regressors.sample_triplets(g, 12, seed=5, chunk_size=3)
    assert torch.equal(again.z, t.z) and torch.allclose(again.log_density, t.log_density, atol=1e-9)
    assert not torch.equal(regressors.sample_triplets(g, 12, seed=6, exact=False).z, t.z)
    assert t.seconds > 0


def test_latent_only_triplets_skip_the_jacobian():
    t = regressors.sample_triplets(tiny_generator(), 10, exact=False)
    assert t.log_density is None and t.seconds == 0
    with pytest.raises(ValueError, match="exact=False"):
        t.labels("pixel")
    with pytest.raises(ValueError, match="label must be one of"):
        t.labels("pixels")
    with pytest.raises(ValueError, match="num must be >= 1"):
        regressors.sample_triplets(tiny_generator(), 0)


def test_generator_fingerprint_tracks_weights_and_statistics():
    a, b = tiny_generator(), tiny_generator()
    assert regressors.generator_fingerprint(a) == regressors.generator_fingerprint(b)
    b.net[1].running_mean[0] += 1e-3
    assert regressors.generator_fingerprint(a) != regressors.generator_fingerprint(b)


# ------------------------------------------------------------------------------------------ regressors


def test_regressor_is_the_discriminator_without_sigmoid_and_predicts_nats():
    cfg = DCGANConfig(channels=3, width=4)
    r = Regressor(cfg).eval()
    x = torch.randn(5, 3, 32, 32)
    r.offset.fill_(-200.0)
    r.scale.fill_(10.0)
    with torch.no_grad():
        raw = r.net(x)
    assert torch.allclose(r(x), raw.double() * 10 - 200)
    assert torch.allclose(regressors.predict(r, x, batch_size=2), r(x))
    assert not any(isinstance(m, torch.nn.Sigmoid) for m in r.modules())
    with pytest.raises(ValueError, match="training mode"):
        regressors.predict(r.train(), x)


@pytest.mark.parametrize("loss", ["l2", "smooth_l1"])
def test_regressor_learns_a_function_of_the_image(loss):
    # Labels that depend on the image only through its mean brightness: learnable, on a large scale in nats.
    g = torch.Generator().manual_seed(0)
    level = torch.rand(320, generator=g) * 2 - 1
    images = (level[:, None, None, None] + 0.1 * torch.randn(320, 1, 32, 32, generator=g)).clamp(-1, 1)
    labels = (500 + 40 * images.mean(dim=(1, 2, 3))).double()
    t = regressors.Triplets(torch.zeros(320, 8), images, labels, labels, 1.0)
    cfg = RegressorConfig(width=8, epochs=6, batch_size=16, loss=loss, holdout=0.2, lr=1e-3)
    fit = regressors.train_regressor(t, "pixel", DCGANConfig(latent_dim=8, channels=1, width=8), cfg,
                                     progress=False)
    assert len(fit.heldout_labels) == 64 and fit.triplets == 320
    assert fit.model.offset.item() == pytest.approx(float(labels.mean()), abs=2)  # standardised targets
    assert fit.r2 > 0.9 and fit.spearman > 0.9, fit.summary()
    assert fit.rmse < 0.3 * float(labels.std())
    assert fit.history["heldout_rmse"][-1] < fit.history["heldout_rmse"][0]
    assert not fit.model.training


def test_regressor_for_is_cached_per_generator_and_label():
    g = tiny_generator()
    cfg = RegressorConfig(width=4, epochs=1, batch_size=16)
    a = regressors.regressor_for(g, "pixel", triplets=40, config=cfg, verbose=False)
    b = regressors.regressor_for(g, "pixel", triplets=40, config=cfg, verbose=False)
    assert not a.from_cache and b.from_cache and a.path == b.path
    assert torch.equal(a.heldout_predictions, b.heldout_predictions) and a.triplet_seconds == b.triplet_seconds
    summary = " ".join(a.summary().split())  # wrapped to the page width
    assert "exact densities at" in summary and "held-out error on 4 triplets" in summary
    latent = regressors.regressor_for(g, "latent", triplets=40, config=cfg, verbose=False)
    assert not latent.from_cache and latent.path != a.path and latent.triplet_seconds == 0
    # the latent labels are log N(z; 0, I) of the same latents as the pixel triplets
    assert latent.heldout_labels.max() < gd.StandardNormal().log_prob(torch.zeros(1, 8).double()).item()
    other = regressors.regressor_for(tiny_generator(seed=1), "pixel", triplets=40, config=cfg, verbose=False)
    assert not other.from_cache


def test_regressor_config_is_validated():
    with pytest.raises(ValueError, match="loss must be"):
        RegressorConfig(loss="l1")
    with pytest.raises(ValueError, match="holdout"):
        RegressorConfig(holdout=1.0)
    t = regressors.sample_triplets(tiny_generator(), 20, exact=False)
    with pytest.raises(ValueError, match="fewer than one batch"):
        regressors.train_regressor(t, "latent", DCGANConfig(latent_dim=8, width=4), RegressorConfig(batch_size=64))
    with pytest.raises(ValueError, match=r"3 channel\(s\) needs images \(N, 3, 32, 32\), got \(20, 1"):
        regressors.train_regressor(t, "latent", DCGANConfig(latent_dim=8, channels=3, width=4), RegressorConfig())


# ------------------------------------------------------------------------------------------ InfoGAN


def test_q_network_reads_the_third_convolution():
    cfg = DCGANConfig(channels=3, width=8)
    d, q = Discriminator(cfg), QNetwork(cfg)
    assert q(d.features(torch.randn(4, 3, 32, 32))).shape == (4, 100)
    assert sum(isinstance(m, torch.nn.Conv2d) for m in q.modules()) == 1
    assert sum(isinstance(m, torch.nn.Linear) for m in q.modules()) == 2
    with pytest.raises(ValueError, match=r"\(B, 32, 4, 4\)"):
        q(torch.randn(4, 16, 4, 4))


def test_infogan_learns_to_recover_z_and_is_cached():
    data, model = tiny_data(), DCGANConfig(latent_dim=8, channels=1, width=8)
    run = TrainConfig(epochs=4, batch_size=16, lr=2e-3, seed=0, calibration_samples=64)
    info = regressors.train_infogan(data, model, run, info_weight=1.0, progress=False, verbose=False)
    h = info.gan.history
    assert set(h) == {"loss_d", "loss_g", "d_real", "d_fake", "q_error"} and len(h["q_error"]) == 4
    assert h["q_error"][-1] < 0.7 * h["q_error"][0]  # Q learns to read z off G(z) (chance: 1 per dimension)
    assert not info.generator.training and not info.q.training
    again = regressors.train_infogan(data, model, run, info_weight=1.0, progress=False, verbose=False)
    assert again.gan.from_cache and not info.gan.from_cache
    assert torch.equal(again.q.net[0].weight, info.q.net[0].weight)
    plain = regressors.train_infogan(data, model, run, info_weight=0.0, progress=False, verbose=False)
    assert not plain.gan.from_cache and plain.gan.history["q_error"][-1] > h["q_error"][-1]
    with pytest.raises(ValueError, match="info_weight"):
        regressors.train_infogan(data, model, run, info_weight=-1.0)


def test_gan_and_regressor_in_one_call_share_the_cache_entries_of_the_parts():
    spec = gan_spec(chapter_config("a2_sanity_checks", "smoke"), "natural", epochs=1, width=4)
    reg_cfg = RegressorConfig(width=4, epochs=1, batch_size=16)
    gan, train, reg = regressors.pixel_regressor_for(spec, reg_cfg, triplets=40, verbose=False)
    alone, _ = train_gan(spec, verbose=False)
    assert alone.from_cache and not gan.from_cache and len(train.images) == 256
    again = regressors.regressor_for(alone.generator, "pixel", triplets=40, config=reg_cfg, verbose=False)
    assert again.from_cache and again.path == reg.path and reg.label == "pixel"
    info, _, latent = regressors.latent_regressor_for(spec, reg_cfg, triplets=40, info_weight=1.0, verbose=False)
    assert latent.label == "latent" and not latent.from_cache and "q_error" in info.gan.history
    _, _, cached = regressors.latent_regressor_for(spec, reg_cfg, triplets=40, info_weight=1.0, verbose=False)
    assert cached.from_cache and cached.path == latent.path


# ------------------------------------------------------------------------------------------ data helpers


def test_gan_spec_merges_seed_and_overrides():
    cfg = chapter_config("a2_sanity_checks", "smoke", seed=3)
    spec = gan_spec(cfg, "natural", epochs=2, width=None)
    assert spec.train.seed == 3 and spec.data.data_root is None and spec.train.epochs == 2
    assert spec.model.width == cfg.natural["width"] and cfg.natural["epochs"] == 1  # the profile is untouched
    assert spec.data == DataSpec("photo_patches", channels=3, train_images=256, test_images=128)
    with pytest.raises(ValueError, match="no GAN 'cifar'.*'mnist', 'natural'"):
        gan_spec(cfg, "cifar")
    with pytest.raises(ValueError, match="unknown GAN setting"):
        gan_spec(cfg, "mnist", epoch=2)
    with pytest.raises(ValueError, match="TrainConfig.epochs must be an int >= 1, got '2'"):
        gan_spec(cfg, "mnist", epochs="2")  # typed configs do not coerce: papermill values are checked upstream
    with pytest.raises(TypeError, match="spec must be a GANSpec"):
        train_gan(cfg)
    with pytest.raises(ValueError, match="make DataSpec.channels/size match"):
        GANSpec(DataSpec("mnist5k", channels=1), DCGANConfig(channels=3), TrainConfig(epochs=1))


def test_splits_and_a_class_left_out():
    data = gan_spec(chapter_config("a2_sanity_checks", "smoke"), "natural").data
    train, test = data.load("train"), data.load("test")
    assert train.images.shape == (256, 3, 32, 32) and test.images.shape == (128, 3, 32, 32)
    assert test.name.endswith("-test") and not torch.equal(train.images[:128], test.images)
    gray = data.load("test", channels=1)
    assert gray.images.shape == (128, 1, 32, 32)
    mnist = gan_spec(chapter_config("a2_sanity_checks", "smoke"), "mnist").data.load("train")
    no_ones = without_label(mnist, 1)
    assert (no_ones.labels != 1).all() and len(no_ones.labels) == (mnist.labels != 1).sum()
    assert no_ones.name == "mnist5k-train-without-1"
    with pytest.raises(ValueError, match="no image of class 1"):
        without_label(no_ones, 1)
    with pytest.raises(ValueError, match="split must be"):
        data.load("all")
    with pytest.raises(ValueError, match="DataSpec.train_images"):
        DataSpec("photo_patches", channels=3).load("train")


# ------------------------------------------------------------------------------------------ evaluation


def test_auroc_matches_sklearn_with_ties():
    rng = np.random.default_rng(0)
    scores = torch.from_numpy(rng.integers(0, 5, 200).astype(float))  # many ties
    positive = torch.from_numpy(rng.random(200) < 0.3)
    want = roc_auc_score(positive.numpy(), scores.numpy())
    assert evaluation.auroc(scores, positive) == pytest.approx(want, abs=1e-12)
    assert evaluation.auroc(torch.tensor([3.0, 4.0, 1.0]), torch.tensor([True, True, False])) == 1.0
    assert evaluation.auroc(torch.tensor([3.0, 4.0, 1.0]), torch.tensor([False, False, True])) == 0.0
    with pytest.raises(ValueError, match="positives and negatives"):
        evaluation.auroc(torch.ones(3), torch.ones(3, dtype=torch.bool))


def test_ks_statistic():
    a = torch.randn(500, generator=torch.Generator().manual_seed(0))
    assert evaluation.ks_statistic(a, a)[0] == 0.0
    assert evaluation.ks_statistic(a, a + 100)[0] == 1.0
    stat, p = evaluation.ks_statistic(a, torch.randn(400, generator=torch.Generator().manual_seed(1)))
    assert stat < 0.1 and p > 0.01


def test_image_statistics():
    flat = torch.full((2, 3, 32, 32), 0.3)
    assert torch.allclose(evaluation.roughness(flat), torch.zeros(2))
    checker = (torch.arange(32)[:, None] + torch.arange(32)[None]) % 2 * 2.0 - 1  # alternating -1, 1
    assert evaluation.roughness(checker[None, None]).item() == pytest.approx(1.0)
    digit = -torch.ones(1, 1, 32, 32)
    digit[..., 10:20, 15:17] = 1.0  # a stroke of 20 pixels
    assert evaluation.background_fraction(digit).item() == pytest.approx(1 - 20 / 1024)
    assert evaluation.label_counts(torch.tensor([1, 1, 3])) == [0, 2, 0, 1, 0, 0, 0, 0, 0, 0]


# ------------------------------------------------------------------------------------------ chapters, paper profile


def write_fake_cifar10(root: Path, n_train: int = 128, n_test: int = 64) -> None:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    per_batch = n_train // 5
    for name, n in [(f"data_batch_{i}", per_batch) for i in range(1, 6)] + [("test_batch", n_test)]:
        batch = {"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), "labels": list(np.arange(n) % 10)}
        (folder / name).write_bytes(pickle.dumps(batch))
    meta = {"label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta))


SKIP_CIFAR_MD5 = """
import torchvision.datasets.cifar as _cifar
_cifar.CIFAR10._check_integrity = lambda self: True
_cifar.check_integrity = lambda *args, **kwargs: True
"""

PAPER_CHAPTERS = ["a2_sanity_checks", "a3_interpreting_densities", "a4_latent_densities"]


@pytest.mark.slow
@pytest.mark.parametrize("chapter", PAPER_CHAPTERS)
def test_paper_profile_reads_torchvision_mnist_and_cifar10(chapter, tmp_path, monkeypatch):
    """The paper profile's path (full MNIST at 32x32x3, CIFAR-10, paper widths) at smoke scale.

    torchvision checks the md5 sums of CIFAR-10's files, which a fake cannot match: a sitecustomize on the kernel's
    PYTHONPATH switches that check off, as tests/test_data.py does in-process."""
    from test_chapters_run import execute, text_of, write_fake_mnist
    data = tmp_path / "data"
    write_fake_mnist(data, n_train=256, n_test=64)
    write_fake_cifar10(data)
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(SKIP_CIFAR_MD5)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "site"))
    nb = execute(chapter, tmp_path, profile="paper", data_root=str(data), device="cpu", epochs=1,
                 width=8, triplets=96, regressor_epochs=1, regressor_width=8,
                 **({"pool": 256} if chapter == "a2_sanity_checks" else {"top_k": 16}),
                 **({"latent_triplets": 256} if chapter == "a4_latent_densities" else {}))
    text = text_of(nb) + "".join("".join(o.get("data", {}).get("text/markdown", ""))
                                 for c in nb["cells"] for o in c.get("outputs", []))
    text = " ".join(text.split())  # printed lines are wrapped to the page width
    assert "at profile paper" in text and "profile paper: chapter ran in" in text
    assert "(width 8, 1 channel(s)" not in text and "(width 8, 3 channel(s)" in text  # MNIST at 32x32x3
    if chapter == "a2_sanity_checks":
        assert "MNIST (train split) read through torchvision" in text
        assert "CIFAR-10 (train split) read through torchvision" in text
    if chapter == "a3_interpreting_densities":
        assert "test digits (mnist-test)" in text


def test_nearest_distance_is_brute_force_nearest_neighbour():
    g = torch.Generator().manual_seed(0)
    x, ref = torch.randn(7, 1, 4, 4, generator=g), torch.randn(11, 1, 4, 4, generator=g)
    want = torch.stack([min(((a - b) ** 2).mean().sqrt() for b in ref) for a in x])
    assert torch.allclose(evaluation.nearest_distance(x, ref, chunk_size=3), want, atol=1e-5)
    assert torch.allclose(evaluation.nearest_distance(ref[:3], ref), torch.zeros(3), atol=1e-3)
    with pytest.raises(ValueError, match="differ in shape"):
        evaluation.nearest_distance(x, torch.randn(2, 1, 4, 5))


def test_recalibrate_regressor_batchnorm_sets_the_mean_of_the_batch_statistics():
    # Brute force: the statistics each layer normalized with, batch by batch, averaged (a trailing partial batch
    # dropped, as training drops it), against what the helper stores.
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 3), torch.nn.BatchNorm2d(3), torch.nn.ReLU(),
                                torch.nn.Conv2d(3, 2, 3), torch.nn.BatchNorm2d(2))
    for m in (model[1], model[4]):
        torch.nn.init.normal_(m.weight)
        torch.nn.init.normal_(m.bias)
        m.running_mean.fill_(5.0)
    images = torch.randn(43, 1, 8, 8) * 2 + 1
    means, variances = [[], []], [[], []]
    with torch.no_grad():
        for x in images[:40].split(8):
            h = x
            for i, (conv, bn) in enumerate(((model[0], model[1]), (model[3], model[4]))):
                h = conv(h)
                mu, var = h.mean((0, 2, 3)), h.var((0, 2, 3), unbiased=False)
                means[i].append(mu)
                n = h.numel() / h.shape[1]
                variances[i].append(var * n / (n - 1))
                h = (h - mu[:, None, None]) / (var[:, None, None] + bn.eps).sqrt()
                h = h * bn.weight[:, None, None] + bn.bias[:, None, None]
                if i == 0:
                    h = h.relu()
    out = regressors.recalibrate_regressor_batchnorm(model.train(), images, batch_size=8)
    assert out is model and not model.training
    for i, bn in enumerate((model[1], model[4])):
        assert torch.allclose(bn.running_mean, torch.stack(means[i]).mean(0), atol=1e-5)
        assert torch.allclose(bn.running_var, torch.stack(variances[i]).mean(0), rtol=1e-4)
        assert bn.momentum == 0.1
    with pytest.raises(ValueError, match="batch_size"):
        regressors.recalibrate_regressor_batchnorm(model, images, batch_size=1)
    with pytest.raises(ValueError, match="images"):
        regressors.recalibrate_regressor_batchnorm(model, images[0], batch_size=8)


def test_fitted_regressor_keeps_batch_statistics_of_its_final_weights():
    g = torch.Generator().manual_seed(1)
    images = torch.randn(200, 1, 32, 32, generator=g).clamp(-1, 1)
    labels = (10 * images.mean(dim=(1, 2, 3))).double()
    t = regressors.Triplets(torch.zeros(200, 8), images, labels, labels, 1.0)
    cfg = RegressorConfig(width=4, epochs=2, batch_size=16, holdout=0.2, lr=1e-3)
    fit = regressors.train_regressor(t, "pixel", DCGANConfig(latent_dim=8, channels=1, width=4), cfg,
                                     progress=False)
    perm = torch.randperm(200, generator=torch.Generator().manual_seed(cfg.seed))
    stored = [m.running_mean.clone() for m in fit.model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    regressors.recalibrate_regressor_batchnorm(fit.model, images[perm[40:]], batch_size=16)
    again = [m.running_mean for m in fit.model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert stored and all(torch.allclose(a, b, atol=1e-6) for a, b in zip(stored, again))
    assert fit.rmse ** 2 == pytest.approx(fit.bias ** 2 + fit.error_sd ** 2)
    assert fit.bias == pytest.approx(float((fit.heldout_predictions - fit.heldout_labels).mean()))
