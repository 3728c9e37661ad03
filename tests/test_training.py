"""DCGAN architecture and seeded, cached training."""

from __future__ import annotations

import pytest
import torch

from gandensity.workflows.data import ImageData
from gandensity.workflows.models import DCGANConfig, Discriminator, Generator
from gandensity.workflows.training import TrainConfig, recalibrate_batchnorm, train_dcgan


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANDENSITY_CACHE_DIR", str(tmp_path / "cache"))


def tiny_data(n: int = 64, channels: int = 1) -> ImageData:
    g = torch.Generator().manual_seed(0)
    images = torch.rand(n, channels, 32, 32, generator=g) * 2 - 1
    return ImageData(images, torch.zeros(n, dtype=torch.long), "noise", "uniform noise for tests")


def test_architecture_shapes_and_paper_layout():
    cfg = DCGANConfig(latent_dim=100, channels=3, width=8)
    g, d = Generator(cfg), Discriminator(cfg)
    assert g(torch.randn(5, 100)).shape == (5, 3, 32, 32)
    assert d(torch.randn(5, 3, 32, 32)).shape == (5,)
    convs = [m for m in g.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert len(convs) == 4 and all(m.kernel_size == (4, 4) for m in convs)
    assert d.features(torch.randn(2, 3, 32, 32)).shape == (2, 32, 4, 4)  # third conv layer (for a Q network)
    with pytest.raises(ValueError, match=r"shape \(B, 100\)"):
        g(torch.randn(5, 10))
    with pytest.raises(ValueError, match="channels must be 1"):
        DCGANConfig(channels=2)


def test_training_is_deterministic_and_cached():
    cfg, run = DCGANConfig(channels=1, width=4, latent_dim=8), TrainConfig(epochs=2, batch_size=16, seed=3,
                                                                           calibration_samples=64)
    a = train_dcgan(tiny_data(), cfg, run, use_cache=False, progress=False, verbose=False)
    b = train_dcgan(tiny_data(), cfg, run, progress=False, verbose=False)
    c = train_dcgan(tiny_data(), cfg, run, progress=False, verbose=False)
    assert not a.from_cache and not b.from_cache and c.from_cache
    for x, y in zip(a.generator.state_dict().values(), c.generator.state_dict().values()):
        assert torch.equal(x, y)
    assert a.history == c.history and len(a.history["loss_d"]) == 2
    assert not c.generator.training and not any(p.requires_grad for p in c.generator.parameters())
    other = train_dcgan(tiny_data(), cfg, TrainConfig(epochs=2, batch_size=16, seed=4, calibration_samples=64),
                        progress=False, verbose=False)
    assert not other.from_cache
    assert not torch.equal(other.generator.net[0].weight, a.generator.net[0].weight)


def test_training_rejects_mismatched_data():
    with pytest.raises(ValueError, match="channels=3"):
        train_dcgan(tiny_data(channels=1), DCGANConfig(channels=3, width=4), TrainConfig(epochs=1), use_cache=False)
    bad = tiny_data()
    bad.images[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        train_dcgan(bad, DCGANConfig(channels=1, width=4), TrainConfig(epochs=1), use_cache=False)


def test_recalibrated_eval_mode_matches_large_batch_training_mode():
    torch.manual_seed(0)
    g = Generator(DCGANConfig(latent_dim=8, channels=1, width=4))
    for m in g.modules():  # stale running statistics, as after training
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.fill_(3.0)
    recalibrate_batchnorm(g, 8192, batch_size=8192)
    z = torch.randn(8192, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        eval_out = g.eval()(z)
        train_out = g.train()(z)
    assert (eval_out - train_out).abs().mean() < 0.02


def test_64x64_architecture_has_five_layers_each():
    # Paper 001 section 4: 64x64 images, five layers in the generator and in the discriminator.
    cfg = DCGANConfig(latent_dim=16, channels=3, width=4, image_size=64)
    g, d = Generator(cfg), Discriminator(cfg)
    assert g(torch.randn(2, 16)).shape == (2, 3, 64, 64)
    assert d(torch.randn(2, 3, 64, 64)).shape == (2,)
    assert len([m for m in g.modules() if isinstance(m, torch.nn.ConvTranspose2d)]) == 5
    assert len([m for m in d.modules() if isinstance(m, torch.nn.Conv2d)]) == 5
    with pytest.raises(ValueError, match=r"\(B, 3, 64, 64\)"):
        d(torch.randn(2, 3, 32, 32))
    with pytest.raises(ValueError, match="image_size must be 32"):
        DCGANConfig(image_size=48)


def test_32x32_layout_is_unchanged_by_the_64x64_option():
    # Cached 32x32 models keep loading: same parameter names and shapes as the four-layer DCGAN.
    g = Generator(DCGANConfig(latent_dim=8, channels=1, width=4))
    assert [tuple(p.shape) for p in g.state_dict().values() if p.ndim == 4] == [(8, 16, 4, 4), (16, 8, 4, 4),
                                                                               (8, 4, 4, 4), (4, 1, 4, 4)]


def test_rmsprop_and_uniform_prior_training():
    data = ImageData(torch.rand(32, 1, 64, 64, generator=torch.Generator().manual_seed(0)) * 2 - 1,
                     torch.zeros(32, dtype=torch.long), "noise64", "uniform noise for tests")
    cfg = DCGANConfig(latent_dim=8, channels=1, width=2, image_size=64)
    run = TrainConfig(epochs=1, batch_size=16, optimizer="rmsprop", lr=1e-4, prior="uniform", calibration_samples=64)
    gan = train_dcgan(data, cfg, run, use_cache=False, progress=False, verbose=False)
    assert gan.generator(torch.rand(3, 8) * 2 - 1).shape == (3, 1, 64, 64)
    with pytest.raises(ValueError, match="optimizer must be"):
        TrainConfig(epochs=1, optimizer="sgd")
    with pytest.raises(ValueError, match="prior must be"):
        TrainConfig(epochs=1, prior="laplace")


@pytest.mark.parametrize("field, value", [("calibration_samples", 0), ("epochs", 0), ("batch_size", 1),
                                          ("epochs", 1.9), ("lr", float("nan")), ("seed", -1)])
def test_train_config_refuses_values_that_would_silently_change_the_model(field, value):
    # calibration_samples = 0 would reset batch norm's statistics; 1.9 epochs would become 1
    with pytest.raises(ValueError, match=f"TrainConfig.{field} must be"):
        TrainConfig(**{"epochs": 1, field: value})
