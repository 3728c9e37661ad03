"""Cached noise fit and AIS likelihoods of image groups (paper 002 section 4), and the patch coefficient of
variation."""

from __future__ import annotations

import pytest
import torch

import gandensity as gd
from gandensity.workflows import likelihoods
from gandensity.workflows.evaluation import patch_coefficient_of_variation
from gandensity.workflows.models import DCGANConfig, Generator


@pytest.fixture
def generator():
    torch.manual_seed(0)
    return Generator(DCGANConfig(channels=1, width=8)).eval()


def test_patch_cv_is_zero_for_flat_images_and_matches_a_direct_computation():
    flat = torch.full((2, 1, 32, 32), 0.3)
    flat[1] = -1.0  # black: mean 0, still CV 0
    assert torch.allclose(patch_coefficient_of_variation(flat), torch.zeros(2, dtype=torch.float64))
    x = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1
    cv = patch_coefficient_of_variation(x, patch=8, offset=0.0)
    y = (x.double() + 1) / 2
    direct = torch.stack([torch.stack([y[i, :, r:r + 8, c:c + 8].std(unbiased=False) / y[i, :, r:r + 8, c:c + 8].mean()
                                       for r in (0, 8) for c in (0, 8)]).mean() for i in range(3)])
    assert torch.allclose(cv, direct)


def test_patch_cv_grows_with_contrast():
    base = torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(1)) * 2 - 1
    assert patch_coefficient_of_variation(0.5 * base)[0] < patch_coefficient_of_variation(base)[0]
    with pytest.raises(ValueError):
        patch_coefficient_of_variation(base, patch=64)


def test_psnr_matches_the_papers_table_3():
    assert likelihoods.psnr(0.008) == pytest.approx(21.0, abs=0.3)
    assert likelihoods.psnr(0.018) == pytest.approx(17.4, abs=0.1)


def test_noise_variance_and_likelihoods_are_cached(generator, tmp_path, monkeypatch):
    monkeypatch.setenv("GANDENSITY_CACHE_DIR", str(tmp_path))
    x = torch.rand(3, 1, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    fit = likelihoods.noise_variance(generator, x, steps=3, restarts=1, candidates=8, seed=0)
    assert not fit.hit and fit.errors.shape == (3,) and fit.sigma2 == pytest.approx(float(fit.errors.mean()))
    again = likelihoods.noise_variance(generator, x, steps=3, restarts=1, candidates=8, seed=0)
    assert again.hit and again.sigma2 == fit.sigma2
    ll, hit = likelihoods.log_likelihoods(generator, x, sigma2=0.1, steps=3, chains=1, leapfrog=2, seed=0)
    assert not hit and ll.shape == (3,) and ll.dtype == torch.float64 and torch.isfinite(ll).all()
    ll2, hit2 = likelihoods.log_likelihoods(generator, x, sigma2=0.1, steps=3, chains=1, leapfrog=2, seed=0)
    assert hit2 and torch.equal(ll, ll2)
    _, hit3 = likelihoods.log_likelihoods(generator, x, sigma2=0.2, steps=3, chains=1, leapfrog=2, seed=0)
    assert not hit3  # another sigma2 is another entry


def test_image_groups_have_the_generators_format_and_are_seeded(generator):
    cfg = gd.chapter_config("c2_gan_density", "smoke")
    groups = likelihoods.image_groups(cfg, generator, sigma2=0.05)
    assert list(groups) == list(cfg.group_sizes)
    for name, images in groups.items():
        assert images.shape == (cfg.group_sizes[name], 1, 32, 32), name
        assert torch.isfinite(images).all()
    again = likelihoods.image_groups(cfg, generator, sigma2=0.05)
    assert all(torch.equal(groups[n], again[n]) for n in groups)
    with pytest.raises(ValueError, match="unknown group"):
        likelihoods.image_groups(cfg, generator, sigma2=0.05, sizes={"cifar": 2})
