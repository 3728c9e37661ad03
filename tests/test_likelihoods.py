"""Cached noise fit and AIS likelihoods of image groups (paper 002 section 4), and the patch coefficient of
variation."""

from __future__ import annotations

import math

import pytest
import torch

from gandensity.book import specs
from gandensity.book.profiles import chapter_config
from gandensity.workflows import likelihoods
from gandensity.numerics import ais as ais_module
from gandensity.workflows.evaluation import auroc, patch_coefficient_of_variation
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
    cfg = chapter_config("c2_gan_density", "smoke")
    groups = likelihoods.image_groups(generator, specs.image_groups(cfg), sigma2=0.05)
    assert list(groups) == list(cfg.group_sizes)
    for name, images in groups.items():
        assert images.shape == (cfg.group_sizes[name], 1, 32, 32), name
        assert torch.isfinite(images).all()
    again = likelihoods.image_groups(generator, specs.image_groups(cfg), sigma2=0.05)
    assert all(torch.equal(groups[n], again[n]) for n in groups)
    with pytest.raises(ValueError, match="unknown group"):
        likelihoods.image_groups(generator, specs.image_groups(cfg), sigma2=0.05, sizes={"cifar": 2})


def test_fit_noise_is_one_cached_fit_shared_by_c2_and_c3(generator, tmp_path, monkeypatch):
    monkeypatch.setenv("GANDENSITY_CACHE_DIR", str(tmp_path))
    c2 = chapter_config("c2_gan_density", "smoke")
    c3 = chapter_config("c3_typicality", "smoke")
    train = torch.rand(40, 1, 32, 32, generator=torch.Generator().manual_seed(1)) * 2 - 1
    fit2 = likelihoods.fit_noise(generator, train, specs.noise_fit(c2))
    fit3 = likelihoods.fit_noise(generator, train, specs.noise_fit(c3))
    assert not fit2.hit and fit3.hit and fit2.sigma2 == fit3.sigma2
    assert fit2.errors.shape == (c2.noise_images,)
    assert fit2.sigma2 > 0 and torch.isfinite(fit2.errors).all()
    # the same numbers as noise_variance on the seeded subset (the maximum-likelihood sigma2: the mean error)
    pick = torch.randperm(40, generator=torch.Generator().manual_seed(c2.seed))[:c2.noise_images]
    direct = likelihoods.noise_variance(generator, train[pick], steps=c2.noise_steps, restarts=c2.noise_restarts,
                                        candidates=c2.noise_candidates, seed=c2.seed, use_cache=False)
    assert torch.allclose(direct.errors, fit2.errors) and fit2.sigma2 == pytest.approx(float(direct.errors.mean()))
    with pytest.raises(ValueError, match="NoiseFitConfig.images"):
        likelihoods.fit_noise(generator, train[:3], specs.noise_fit(c2))
    with pytest.raises(TypeError, match="NoiseFitConfig"):
        likelihoods.fit_noise(generator, train, c2)  # a chapter's settings dict is not a config
    with pytest.raises(ValueError, match="NoiseFitConfig.steps must be an int >= 1"):
        likelihoods.NoiseFitConfig(images=4, steps=0, restarts=1, candidates=8)


def test_psnr_of_errors_and_bits_per_dim():
    assert likelihoods.psnr_of_errors([0.004, 0.012]) == pytest.approx(likelihoods.psnr(0.008))
    assert likelihoods.nats_to_bits_per_dim(1024 * math.log(2), 1024) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        likelihoods.psnr(0.0)


def test_auroc_matches_closed_forms_and_the_rank_formula():
    assert likelihoods.auroc([0, 1, 2], [3, 4]) == 1.0
    assert likelihoods.auroc([3, 4], [0, 1, 2]) == 0.0
    assert likelihoods.auroc([1, 1], [1, 1, 1]) == 0.5
    rng = torch.Generator().manual_seed(0)
    neg, pos = torch.randn(50, generator=rng), torch.randn(40, generator=rng) + 0.5
    labels = torch.cat([torch.zeros(50, dtype=torch.bool), torch.ones(40, dtype=torch.bool)])
    assert likelihoods.auroc(neg, pos) == pytest.approx(auroc(torch.cat([neg, pos]), labels))
    both_neg = torch.stack([neg, -neg], 1)
    both_pos = torch.stack([pos, -pos], 1)
    assert likelihoods.auroc_gain(both_neg, both_pos) == pytest.approx(1 - 2 * likelihoods.auroc(neg, pos))


def test_bootstrap_interval_covers_the_truth_and_is_seeded():
    rng = torch.Generator().manual_seed(0)
    a, b = torch.randn(400, generator=rng) + 1.0, torch.randn(300, generator=rng)
    value, low, high = likelihoods.bootstrap_interval(likelihoods.mean_difference, a, b, seed=1)
    assert low < 1.0 < high and low < value < high
    # the interval's width is about 2 x 1.96 x the standard error sqrt(1/400 + 1/300)
    assert high - low == pytest.approx(2 * 1.96 * (1 / 400 + 1 / 300) ** 0.5, rel=0.2)
    assert likelihoods.bootstrap_interval(likelihoods.mean_difference, a, b, seed=1) == (value, low, high)
    x = torch.arange(30.0)
    assert likelihoods.bootstrap_interval(likelihoods.spearman_pairs, torch.stack([x, x ** 3], 1))[0] == 1.0
    assert likelihoods.median_ratio([2.0, 4.0, 6.0], [1.0, 2.0, 3.0]) == 2.0
    with pytest.raises(ValueError):
        likelihoods.bootstrap_interval(likelihoods.mean_difference, a, b[:1])


def test_bdmc_curve_sandwiches_for_each_step_count(generator):
    z, x = ais_module.simulate(generator, 2, sigma2=0.1, seed=0)
    curve = likelihoods.bdmc_curve(generator, z, x, sigma2=0.1, steps=[2, 4], chains=1, leapfrog=2, seed=0)
    assert list(curve) == [2, 4]
    for bounds in curve.values():
        assert bounds.lower.shape == (2,) and torch.allclose(bounds.gap, bounds.upper - bounds.lower)


def test_group_log_likelihoods_use_the_chapters_settings_and_the_cache(generator, tmp_path, monkeypatch):
    monkeypatch.setenv("GANDENSITY_CACHE_DIR", str(tmp_path))
    cfg = chapter_config("c2_gan_density", "smoke")
    groups = {"a": torch.zeros(2, 1, 32, 32), "b": torch.full((1, 1, 32, 32), 0.5)}
    ll, hits = likelihoods.group_log_likelihoods(generator, groups, specs.ais(cfg), sigma2=0.1)
    assert hits == 0 and list(ll) == ["a", "b"] and ll["a"].shape == (2,)
    direct, _ = likelihoods.log_likelihoods(generator, groups["a"], sigma2=0.1, steps=cfg.ais_steps,
                                            chains=cfg.ais_chains, leapfrog=cfg.leapfrog, seed=cfg.seed)
    assert torch.equal(direct, ll["a"])
    c3 = specs.ais(chapter_config("c3_typicality", "smoke"))
    again, hits = likelihoods.group_log_likelihoods(generator, groups, c3, sigma2=0.1)
    assert hits == 2 and torch.equal(again["b"], ll["b"])


def test_noise_report_names_the_fit_in_two_short_lines():
    cfg = chapter_config("c3_typicality", "cpu")
    fit = likelihoods.NoiseFit(0.0167, torch.tensor([0.0167]), True)
    lines = likelihoods.noise_report(fit, specs.noise_fit(cfg)).split("\n")
    assert len(lines) == 2 and all(len(line) <= 88 for line in lines)
    assert lines[0].startswith("sigma2 = 0.0167 (PSNR 17.8 dB)") and str(cfg.noise_images) in lines[0]


def test_image_groups_refuse_bad_counts_and_configs(generator):
    cfg = chapter_config("c2_gan_density", "smoke")
    groups = specs.image_groups(cfg)
    with pytest.raises(ValueError, match="group 'test' must be an int >= 1, got -3"):
        likelihoods.image_groups(generator, groups, sigma2=0.05, sizes={"test": -3})
    with pytest.raises(ValueError, match="unknown group 'cifar'"):
        specs.image_groups(cfg, {"cifar": 2})
    with pytest.raises(TypeError, match="GroupsConfig"):
        likelihoods.image_groups(generator, cfg, sigma2=0.05)
    with pytest.raises(ValueError, match="AISConfig.chains must be an int >= 1"):
        likelihoods.AISConfig(steps=5, chains=0, leapfrog=2)


class _LinearGenerator(torch.nn.Module):
    """G(z) = W z + b on 2 latents into 1x2x2 images: p(x) = N(b, W W^T + sigma2 I) in closed form."""

    def __init__(self, w: torch.Tensor, b: torch.Tensor) -> None:
        super().__init__()
        self.w, self.b = torch.nn.Parameter(w), torch.nn.Parameter(b)
        self.latent_dim = 2

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return (z @ self.w.T + self.b).reshape(-1, 1, 2, 2)


def test_classify_by_likelihood_matches_the_closed_form(tmp_path, monkeypatch):
    monkeypatch.setenv("GANDENSITY_CACHE_DIR", str(tmp_path))
    rng = torch.Generator().manual_seed(0)
    gens = [_LinearGenerator(torch.randn(4, 2, generator=rng, dtype=torch.float64),
                             3 * torch.randn(4, generator=rng, dtype=torch.float64)) for _ in range(3)]
    sigma2 = [0.1, 0.2, 0.05]
    x = torch.cat([g(torch.randn(2, 2, generator=rng, dtype=torch.float64)) for g in gens])
    out = likelihoods.classify_by_likelihood(gens, x, sigma2, likelihoods.AISConfig(300, 8, 10, seed=1))
    exact = torch.stack([torch.distributions.MultivariateNormal(
        g.b.detach(), g.w.detach() @ g.w.detach().T + s2 * torch.eye(4)).log_prob(x.flatten(1))
        for g, s2 in zip(gens, sigma2)], 1)
    assert out.log_likelihood.shape == (6, 3) and out.hits == 0
    assert (out.log_likelihood - exact).abs().max() < 1.0  # AIS noise here is ~0.3 nats
    assert torch.equal(out.predicted, exact.argmax(1))
    again = likelihoods.classify_by_likelihood(gens, x, sigma2, likelihoods.AISConfig(300, 8, 10, seed=1))
    assert again.hits == 3 and torch.equal(again.log_likelihood, out.log_likelihood)
    with pytest.raises(ValueError, match="one sigma2 per generator"):
        likelihoods.classify_by_likelihood(gens, x, sigma2[:2], likelihoods.AISConfig(2, 1, 1))
    with pytest.raises(TypeError, match="AISConfig"):
        likelihoods.classify_by_likelihood(gens, x, sigma2, {"steps": 2})


def test_regime_puts_the_natural_gan_over_the_top_level():
    cfg = chapter_config("c2_gan_density", "cpu")
    natural = specs.regime(cfg, "natural")
    assert specs.gan_spec(natural) == specs.gan_spec(chapter_config("a2_sanity_checks", "cpu"), "natural")
    assert specs.regime(cfg) == dict(cfg) and natural["ais_steps"] == cfg.ais_steps
    names = [n for n, _ in specs.image_groups(natural).sizes]
    assert names[:3] == ["test", "train", "generated"] and "texture patches" in names
    with pytest.raises(ValueError, match="no GAN 'cifar'"):
        specs.regime(cfg, "cifar")
    c1, c5 = chapter_config("c1_gan_manifold", "cpu"), chapter_config("c5_classification", "cpu")
    assert specs.class_gans(c1) == specs.class_gans(c5)  # one cache entry per class GAN
    assert specs.class_gans(specs.regime(c1, "natural")) == specs.class_gans(specs.regime(c5, "natural"))
