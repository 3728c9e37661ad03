"""LED (paper 003): the perpendicular energy against dense matrices, the critic, the losses, the importance-sampling
estimate of the normalizer against known constants, short seeded training runs and the cache.

Tolerances: deterministic comparisons in float64 to 1e-8 relative or tighter; Monte Carlo estimates within 5
standard deviations computed from the closed-form (or empirical) variance of the importance weights.
"""

from __future__ import annotations

import copy
import dataclasses
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import MultivariateNormal

from gandensity.workflows import cache, led
from gandensity.numerics import mixtures, tracked
from gandensity.workflows.led import Critic, LEDConfig
from gandensity.numerics.priors import StandardNormal

float64 = pytest.mark.usefixtures("float64")


def _log_normal(x: torch.Tensor) -> torch.Tensor:
    return StandardNormal().log_prob(x.double().flatten(1))  # tests/conftest.py; the training tests run in float32 like the book


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANDENSITY_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("GANDENSITY_PROGRESS", "0")
    return tmp_path / "cache"


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


# ---------------------------------------------------------------------------------------------- perpendicular energy


def dense_matrix(layer: nn.Module, in_shape: tuple[int, ...]) -> torch.Tensor:
    """The layer without its bias as a dense matrix (out, in), from its action on the basis vectors."""
    n = math.prod(in_shape)
    basis = torch.eye(n).view(n, *in_shape)
    if isinstance(layer, nn.Conv2d):
        out = F.conv2d(basis, layer.weight, None, layer.stride, layer.padding)
    else:
        out = F.linear(basis, layer.weight)
    return out.flatten(1).T


def brute_force_energy(x: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
    """||x - v (v.x) / ||v||^2||^2 with v = W^T W x, directly."""
    x = x.flatten(1)
    v = x @ W.T @ W
    perp = x - v * ((v * x).sum(1, keepdim=True) / (v * v).sum(1, keepdim=True))
    return perp.pow(2).sum(1)


PERP_CASES = [
    pytest.param(lambda: nn.Linear(5, 3), (5,), id="linear 5->3"),
    pytest.param(lambda: nn.Linear(4, 7), (4,), id="linear 4->7"),
    pytest.param(lambda: nn.Conv2d(2, 3, 4, 2, 1), (2, 8, 8), id="conv k4 s2 8x8"),
    pytest.param(lambda: nn.Conv2d(3, 2, 4, 2, 1), (3, 8, 6), id="conv k4 s2 8x6"),
    pytest.param(lambda: nn.Conv2d(2, 3, 4, 2, 1), (2, 9, 9), id="conv k4 s2 9x9"),
    pytest.param(lambda: nn.Conv2d(1, 2, 4, 2, 1), (1, 7, 8), id="conv k4 s2 7x8"),
    pytest.param(lambda: nn.Conv2d(2, 2, 3, 1, 1), (2, 7, 7), id="conv k3 s1 7x7"),
]


@float64
@pytest.mark.parametrize("make,in_shape", PERP_CASES)
def test_perpendicular_energy_matches_dense_matrix(make, in_shape):
    torch.manual_seed(0)
    layer = make()
    x = torch.randn(4, *in_shape)
    got = led.perpendicular_energy(x, layer)
    want = brute_force_energy(x, dense_matrix(layer, in_shape))
    assert got.shape == (4,) and (got >= 0).all()
    torch.testing.assert_close(got, want, rtol=1e-8, atol=0, msg=lambda m: f"rel 1e-8\n{m}")


@float64
def test_perpendicular_energy_vanishes_along_v():
    torch.manual_seed(1)
    layer = nn.Linear(6, 6)
    with torch.no_grad():
        layer.weight.copy_(2.5 * nn.init.orthogonal_(torch.empty(6, 6)))  # W^T W = 6.25 I: v is parallel to x
    x = torch.randn(5, 6)
    e = led.perpendicular_energy(x, layer)
    assert e.abs().max() < 1e-10 * x.pow(2).sum(1).max(), f"energy {e} should be 0 when v || x"
    # an x in the null space's complement along one right singular vector of a rank-deficient W: also 0
    narrow = nn.Linear(6, 2)
    _, _, Vh = torch.linalg.svd(narrow.weight.detach())
    e = led.perpendicular_energy(3 * Vh[:1], narrow)
    assert abs(e.item()) < 1e-10, f"energy {e.item()} of a right singular vector should be 0"
    # and positive for a generic x with a rank-2 W
    assert (led.perpendicular_energy(torch.randn(5, 6), narrow) > 1e-3).all()
    with pytest.raises(TypeError, match="nn.Linear or nn.Conv2d"):
        led.perpendicular_energy(x, nn.Identity())


# ---------------------------------------------------------------------------------------------- critic and losses


@float64
def test_critic_energy_and_body():
    torch.manual_seed(2)
    plain = led.mlp_critic(3, hidden=8, depth=2, perpendicular=False)
    perp = led.mlp_critic(3, hidden=8, depth=2, perpendicular=True)
    perp.load_state_dict(plain.state_dict())
    assert plain.penalized == () and perp.penalized == (0, 2)
    x = torch.randn(6, 3)
    h = x
    energies = torch.zeros(6)
    for i, module in enumerate(plain.body):
        if isinstance(module, nn.Linear) and i < len(plain.body) - 1:
            energies = energies + brute_force_energy(h, module.weight.detach())
        h = module(h)
    out = plain(x)
    assert out.shape == (6,) and out.dtype == torch.float64
    torch.testing.assert_close(out, h[:, 0], rtol=0, atol=0)
    torch.testing.assert_close(perp(x), h[:, 0] - energies, rtol=1e-10, atol=1e-10)
    perp.weight = 0.5
    torch.testing.assert_close(perp(x), h[:, 0] - 0.5 * energies, rtol=1e-10, atol=1e-10)
    with pytest.raises(ValueError, match=r"\(B, 3\)"):
        plain(torch.randn(6, 2))


@float64
def test_dcgan_critic_shapes_and_energy():
    torch.manual_seed(3)
    perp = led.dcgan_critic(channels=2, image_size=16, width=4, perpendicular=True)
    plain = led.dcgan_critic(channels=2, image_size=16, width=4, perpendicular=False)
    plain.load_state_dict(perp.state_dict())
    convs = [i for i, m in enumerate(perp.body) if isinstance(m, nn.Conv2d)]
    assert perp.penalized == tuple(convs[:-1]) and len(convs) == 3, "the 4x4 head is not penalized"
    x = torch.randn(2, 2, 16, 16)
    h, energies = x, torch.zeros(2)
    for i, module in enumerate(perp.body):
        if i in perp.penalized:
            energies = energies + brute_force_energy(h, dense_matrix(module, tuple(h.shape[1:])))
        h = module(h)
    assert plain(x).shape == (2,)
    torch.testing.assert_close(plain(x) - perp(x), energies, rtol=1e-8, atol=0)
    with pytest.raises(ValueError, match=r"\(B, 2, 16, 16\)"):
        perp(torch.randn(2, 2, 8, 8))
    for bad in (24, 8 + 2):
        with pytest.raises(ValueError, match="4 times a power of 2"):
            led.dcgan_critic(image_size=bad)


@float64
def test_log_normalizer_closed_form():
    torch.manual_seed(4)
    log_n, log_q = torch.randn(50), torch.randn(50)
    want = torch.log(torch.mean(torch.exp(log_n - log_q)))
    torch.testing.assert_close(led.log_normalizer(log_n, log_q), want, rtol=0, atol=1e-13)
    # stable far from 1: a shift by 1000 moves it by 1000
    torch.testing.assert_close(led.log_normalizer(log_n + 1000, log_q), want + 1000, rtol=0, atol=1e-10)
    # K = 1: Eq. 4
    assert led.log_normalizer(log_n[:1], log_q[:1]).item() == pytest.approx((log_n[0] - log_q[0]).item(), abs=1e-15)


@float64
def test_critic_loss_gradients():
    torch.manual_seed(5)
    real = torch.randn(4, requires_grad=True)
    fake = torch.randn(6, requires_grad=True)
    log_q = torch.randn(6, requires_grad=True)
    loss = led.critic_loss(real, fake, log_q)
    want = -real.mean() + torch.logsumexp(fake - log_q, 0) - math.log(6)
    torch.testing.assert_close(loss, want, rtol=0, atol=1e-13)
    loss.backward()
    assert log_q.grad is None, "no gradient may flow into the proposal's log-density"
    torch.testing.assert_close(real.grad, torch.full((4,), -0.25), rtol=0, atol=1e-15)
    torch.testing.assert_close(fake.grad, torch.softmax((fake - log_q).detach(), 0), rtol=0, atol=1e-14)


@float64
def test_generator_loss():
    log_n, log_pg = torch.tensor([1.0, 2.0, 6.0]), torch.tensor([-1.0, -3.0, -8.0])
    assert led.generator_loss(log_n, log_pg, 0.5).item() == pytest.approx(0.5 * -4.0 - 3.0, abs=1e-15)
    assert led.generator_loss(log_n, log_pg, 0.0).item() == pytest.approx(-3.0, abs=1e-15)


@float64
def test_bits_per_pixel():
    lp = torch.tensor([-100.0, 50.0, 0.0])
    got = led.bits_per_pixel(lp, 784)
    torch.testing.assert_close(got, -lp / (784 * math.log(2)), rtol=0, atol=1e-15)
    assert got[0].item() == pytest.approx(100 / 784 / math.log(2), rel=1e-14)
    assert led.bits_per_pixel(lp.float().view(3, 1), 4).shape == (3, 1)


# ---------------------------------------------------------------------------------------------- importance sampling


class GaussianLogDensity(nn.Module):
    """log N(x; 0, cov) + log c, as a (B, 1) column: a critic body whose normalizer is exactly c."""

    def __init__(self, cov: torch.Tensor, log_c: float) -> None:
        super().__init__()
        self.dist = MultivariateNormal(torch.zeros(len(cov)), cov)
        self.log_c = log_c

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.dist.log_prob(x) + self.log_c)[:, None]


LOG_C = 1.7
SCALE = 0.7  # the critic's covariance is SCALE times the generator's


def gaussian_setup():
    """A Linear + CopyInflate generator on R^4 (exact density) and a critic N(0, SCALE cov_G) * e^LOG_C.

    The relative variance of the weights N / P_G is (SCALE (2 - SCALE))^(-D/2) - 1 (finite as SCALE < 2)."""
    d, sigma = 2, 0.5
    g = tracked.TrackedGenerator(d, [tracked.Linear(d, bias=False), tracked.CopyInflate(sigma)])
    with torch.no_grad():
        g.layers[0].weight.copy_(torch.tensor([[0.8, 0.2], [-0.3, 0.6]]))
    W = g.layers[0].weight.detach()
    A = W @ W.T
    cov_g = torch.cat([torch.cat([A, A], 1), torch.cat([A, A + sigma ** 2 * torch.eye(d)], 1)])
    critic = Critic([GaussianLogDensity(SCALE * cov_g, LOG_C)])
    rel_var = (SCALE * (2 - SCALE)) ** (-len(cov_g) / 2) - 1
    return g.eval(), critic.eval(), cov_g, rel_var


@float64
def test_estimate_log_normalizer_recovers_the_constant():
    g, critic, cov_g, rel_var = gaussian_setup()
    s = g.sample(100, rng=torch.Generator().manual_seed(0))
    torch.testing.assert_close(s.log_density, MultivariateNormal(torch.zeros(4), cov_g).log_prob(s.x), rtol=0,
                               atol=1e-10, msg="the proposal's density must be exact for this test")
    n = 20000
    est = led.estimate_log_normalizer(critic, g, n, chunk=3000, rng=torch.Generator().manual_seed(1))
    tol = 5 * math.sqrt(rel_var / n)  # delta method: sd of log alpha-hat ~ sqrt(relative variance / n)
    assert est.dtype == torch.float64 and est.ndim == 0
    assert abs(est.item() - LOG_C) < tol, f"log alpha-hat {est.item()}, want {LOG_C} +- {tol:.4f} (5 sd)"
    # seeded; chunks of any size pool into one estimate (a chunk that does not divide n included)
    one = led.estimate_log_normalizer(critic, g, 500, chunk=70, rng=torch.Generator().manual_seed(2))
    again = led.estimate_log_normalizer(critic, g, 500, chunk=70, rng=torch.Generator().manual_seed(2))
    assert one.item() == again.item()
    tol = 5 * math.sqrt(rel_var / 500)
    assert abs(one.item() - LOG_C) < tol, f"chunked estimate {one.item()}, want {LOG_C} +- {tol:.3f}"
    with pytest.raises(ValueError, match="num_samples must be an int >= 1"):
        led.estimate_log_normalizer(critic, g, 0)


@float64
def test_normalizer_estimates_spread_shrinks():
    g, critic, _, rel_var = gaussian_setup()
    repeats = 60
    out = led.normalizer_estimates(critic, g, [10, 100, 1000], repeats, seed=0)
    assert sorted(out) == [10, 100, 1000]
    assert all(v.shape == (repeats,) and v.dtype == torch.float64 for v in out.values())
    sds = {n: v.std().item() for n, v in out.items()}
    assert sds[10] > sds[100] > sds[1000], f"spread should shrink with n: {sds}"
    predicted = math.sqrt(rel_var / 1000)
    assert 0.6 * predicted < sds[1000] < 1.5 * predicted, f"sd at n=1000 {sds[1000]:.4f}, predicted {predicted:.4f}"
    mean = out[1000].mean().item()
    tol = 5 * predicted / math.sqrt(repeats)
    assert abs(mean - LOG_C) < tol, f"mean estimate {mean}, want {LOG_C} +- {tol:.4f}"
    again = led.normalizer_estimates(critic, g, [10], repeats, seed=0)
    assert torch.equal(again[10], out[10]), "seeded"


@float64
def test_normal_replacement_extremes():
    torch.manual_seed(6)
    y, log_q = torch.randn(50, 2, 3), torch.randn(50)
    y1, q1, mask = led.normal_replacement(y, log_q, 1.0, rng=torch.Generator().manual_seed(0))
    assert mask.dtype == torch.bool and mask.shape == (50,) and mask.all()
    torch.testing.assert_close(q1, _log_normal(y1), rtol=0, atol=1e-14)
    assert not torch.isclose(y1, y).all(1).all(1).any()
    y0, q0, mask = led.normal_replacement(y, log_q, 0.0, rng=torch.Generator().manual_seed(0))
    assert y0 is y and q0 is log_q and mask.dtype == torch.bool and not mask.any()
    yh, qh, mask = led.normal_replacement(y, log_q, 0.5, rng=torch.Generator().manual_seed(0))
    assert 10 < mask.sum() < 40, f"{mask.sum()} of 50 replaced at prob 0.5"
    assert torch.equal(yh[~mask], y[~mask]) and torch.equal(qh[~mask], log_q[~mask])
    torch.testing.assert_close(qh[mask], _log_normal(yh[mask]), rtol=0, atol=1e-14)


@float64
def test_normal_replacement_keeps_the_estimator_unbiased():
    # Each sample is from P_G (prob 0.5) or N(0, I) (prob 0.5) and weighted by its own component's density:
    # E[N / q] = alpha for both components (the critic's covariance has eigenvalues < 2, so the N(0, I) component's
    # weights have finite variance too).
    g, critic, cov_g, _ = gaussian_setup()
    assert torch.linalg.eigvalsh(SCALE * cov_g).max() < 2
    n = 40000
    s = g.sample(n, rng=torch.Generator().manual_seed(3))
    y, log_q, mask = led.normal_replacement(s.x, s.log_density, 0.5, rng=torch.Generator().manual_seed(4))
    assert abs(mask.double().mean().item() - 0.5) < 5 * math.sqrt(0.25 / n)
    log_w = critic(y) - log_q
    est = led.log_normalizer(critic(y), log_q).item()
    w = (log_w - log_w.max()).exp()
    tol = 5 * (w.std() / w.mean()).item() / math.sqrt(n)  # 5 sd from the empirical relative sd of the weights
    assert abs(est - LOG_C) < tol, f"log alpha-hat with replacement {est}, want {LOG_C} +- {tol:.4f}"
    # weighting the replaced samples by the generator's density instead is detectably biased
    wrong_q = torch.where(mask, MultivariateNormal(torch.zeros(4), cov_g).log_prob(y), log_q)
    wrong = led.log_normalizer(critic(y), wrong_q).item()
    assert abs(wrong - LOG_C) > 5 * tol, f"the wrong weighting gave {wrong}, within 5 sd of {LOG_C}"  # ~0.42 off


# ---------------------------------------------------------------------------------------------- training


def tiny_pair(seed: int = 0):
    torch.manual_seed(seed)
    return tracked.mlp_generator(2, features=8, blocks=1), led.mlp_critic(2, hidden=16, depth=2)


def ring_data(n: int = 512) -> torch.Tensor:
    return mixtures.ring8().sample(n, rng=torch.Generator().manual_seed(0))


CONFIG = LEDConfig(steps=20, batch_size=32, normalizer_samples=48, replace_prob=0.2, snapshots=(5, 20), seed=3)


def test_train_led_history_snapshots_and_determinism():
    data = ring_data()
    g, c = tiny_pair()
    history, snaps = led.train_led(data, g, c, CONFIG)
    assert set(history) == {"critic_loss", "generator_loss", "log_alpha", "log_pg"}
    for k, v in history.items():
        assert v.shape == (20,) and v.dtype == torch.float64 and torch.isfinite(v).all(), k
    assert sorted(snaps) == [5, 20]
    for k, v in g.state_dict().items():
        assert torch.equal(snaps[20][0][k], v), f"the step-20 snapshot is the final generator ({k})"
    for k, v in c.state_dict().items():
        assert torch.equal(snaps[20][1][k], v), f"the step-20 snapshot is the final critic ({k})"
    assert any(not torch.equal(snaps[5][0][k], v) for k, v in g.state_dict().items()), "step 5 != step 20"
    assert not g.training and not any(m.training for m in g.modules())
    assert not c.training and not any(m.training for m in c.modules())
    assert all(p.requires_grad for p in [*g.parameters(), *c.parameters()])
    g2, c2 = tiny_pair()
    history2, _ = led.train_led(data, g2, c2, CONFIG)
    for k in history:
        assert torch.equal(history[k], history2[k]), f"two seeded runs differ in {k}"
    g3, c3 = tiny_pair()
    history3, _ = led.train_led(data, g3, c3, dataclasses.replace(CONFIG, seed=4))
    assert not torch.equal(history["critic_loss"], history3["critic_loss"]), "the seed must matter"


def test_train_led_rejects_bad_data():
    g, c = tiny_pair()
    bad = ring_data(64)
    bad[3, 1] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        led.train_led(bad, g, c, LEDConfig(steps=1, batch_size=8, normalizer_samples=8))
    with pytest.raises(ValueError, match="does not match"):
        led.train_led(torch.randn(64, 3), g, c, LEDConfig(steps=1, batch_size=8, normalizer_samples=8))
    with pytest.raises(ValueError, match="does not match"):
        led.train_led(torch.randn(64), g, c, LEDConfig(steps=1, batch_size=8, normalizer_samples=8))


FIT = dict(kind="mlp", generator={"data_dim": 2, "features": 8, "blocks": 1}, critic={"hidden": 16, "depth": 2},
           config=LEDConfig(steps=5, batch_size=16, normalizer_samples=16, snapshots=(5,)))


def assert_same_weights(a: nn.Module, b: nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k


def test_fit_led_uses_and_rebuilds_the_cache(isolated_cache):
    data = ring_data(256)
    fp = cache.tensor_fingerprint(data)
    first = led.fit_led(data, data_fingerprint=fp, **FIT)
    assert not first.from_cache and first.seconds > 0
    assert not first.generator.training and not first.critic.training
    second = led.fit_led(data, data_fingerprint=fp, **FIT)
    assert second.from_cache and second.seconds == first.seconds  # the original training time
    assert_same_weights(first.generator, second.generator)
    assert_same_weights(first.critic, second.critic)
    for k in first.history:
        assert torch.equal(first.history[k], second.history[k])
    assert sorted(second.snapshots) == [5]
    files = list(isolated_cache.glob("led-mlp-*.pt"))
    assert len(files) == 1
    raw = files[0].read_bytes()
    files[0].write_bytes(raw[: len(raw) // 2])
    with pytest.warns(RuntimeWarning, match="rebuilding"):
        third = led.fit_led(data, data_fingerprint=fp, **FIT)
    assert not third.from_cache
    assert_same_weights(first.generator, third.generator)
    assert led.fit_led(data, data_fingerprint=fp, **FIT).from_cache, "the rebuilt entry is stored again"
    other = led.fit_led(data, data_fingerprint="another data set", **FIT)
    assert not other.from_cache, "the data fingerprint is part of the key"
    with pytest.raises(ValueError, match="unknown LED kind"):
        led.fit_led(data, data_fingerprint=fp, **{**FIT, "kind": "transformer"})


def test_raise_critic_score_climbs():
    torch.manual_seed(7)
    g = tracked.mlp_generator(2, features=4, blocks=1).eval()
    target = torch.tensor([3.0, -2.0])

    class Peak(nn.Module):
        def forward(self, x):
            return -0.5 * (x - target).pow(2).sum(1, keepdim=True)

    critic = Critic([Peak()], in_shape=(2,))
    s = g.sample(8, rng=torch.Generator().manual_seed(0))
    z, trace = led.raise_critic_score(g, critic, s.z, s.noises, steps=30, lr=0.05)
    assert trace.shape == (31, 8) and trace.dtype == torch.float64 and z.shape == (8, 2)
    torch.testing.assert_close(trace[0], critic(s.x).detach(), rtol=1e-5, atol=1e-5)  # float32 networks
    torch.testing.assert_close(trace[-1], critic(g(z, s.noises)[0]).detach(), rtol=1e-5, atol=1e-5)
    gain = (trace[-1] - trace[0]).mean().item()
    assert gain > 0.1, f"mean log N gain {gain} after 30 ascent steps"
    assert not torch.equal(z, s.z)
    assert all(p.requires_grad for p in g.parameters())


# ---------------------------------------------------------------------------------------------- chapter helpers


def test_dequantize_stays_in_the_bin():
    images = torch.linspace(-1, 1, 257)[:256].view(4, 1, 8, 8)
    out = led.dequantize(images, 2 / 256, rng=torch.Generator().manual_seed(0))
    assert out.shape == images.shape and not torch.equal(out, images)
    assert ((out - images).abs() <= 1 / 256 + 1e-7).all()
    again = led.dequantize(images, 2 / 256, rng=torch.Generator().manual_seed(0))
    assert torch.equal(out, again)


def test_critic_bits_per_dim_closed_form():
    class Flat(nn.Module):  # log N = c for every image: the uniform density on [-1, 1]^D when c = log alpha
        def forward(self, x):
            return torch.full((x.shape[0], 1), 3.0)

    critic = Critic([Flat()])
    x = torch.zeros(5, 1, 4, 4)
    torch.testing.assert_close(led.critic_bits_per_dim(critic, x, 3.0 + 16 * math.log(2.0), chunk=2),
                               torch.full((5,), 8.0, dtype=torch.float64), rtol=0, atol=1e-12)


def test_score_images_and_interpolate():
    torch.manual_seed(0)
    images = torch.rand(32, 1, 8, 8) * 2 - 1
    training = led.LEDConfig(steps=2, batch_size=8, normalizer_samples=4, entropy_weight=0.01, replace_prob=0.1,
                             lr=1e-3, dequantize=2 / 256, seed=0)
    spec = led.ImageLED(latent_dim=4, shuffles=2, noise_sigma=1.0, reduce_sigma=0.5, critic_width=4,
                        perpendicular=True, training=training)
    fit = led.fit_images(images, "fake", spec)
    scores = led.score_images(fit, images[:10], alpha_samples=16, samples=6, seed=1)
    assert scores.test.shape == (10,) and scores.sample_generator.shape == (6,)
    assert scores.sample_critic.shape == (6,) and math.isfinite(scores.log_alpha)
    again = led.score_images(fit, images[:10], alpha_samples=16, samples=6, seed=1)
    assert again.log_alpha == scores.log_alpha
    s = fit.generator.sample(4, rng=torch.Generator().manual_seed(2))
    path = led.interpolate(fit.generator, s.z[:2], s.z[2:], [n[:2] for n in s.noises], 5)
    assert path.shape == (10, 1, 8, 8)
    first = fit.generator(s.z[:2], [n[:2] for n in s.noises])[0]
    torch.testing.assert_close(path[::5], first)


def test_rank_correlation():
    x = np.arange(20.0)
    assert led.rank_correlation(np.stack([x, x ** 3], 1)) == pytest.approx(1.0)
    assert led.rank_correlation(np.stack([x, -np.exp(x)], 1)) == pytest.approx(-1.0)


def test_critic_density_check_and_normalizer_study():
    target = mixtures.mixture("ring")
    training = led.LEDConfig(steps=4, batch_size=16, normalizer_samples=8, entropy_weight=0.5, replace_prob=0.5,
                             snapshots=(2, 4), seed=0)
    spec = led.MixtureLED(features=4, blocks=1, copy_sigma=0.1, reduce_sigma=1.0, critic_hidden=8, train_points=200,
                          training=training)
    fit = led.fit_mixture(target, spec)
    bounds = (-1.5, 1.5, -1.5, 1.5)
    check = led.critic_density_check(fit, target, bounds, quadrature=100, held_out=50, importance_samples=64)
    assert check.critic.shape == check.true.shape == (50,)
    assert check.uniform == pytest.approx(-math.log(9.0))
    # the quadrature normalizer makes N / alpha integrate to one on the box
    _, _, log_n = mixtures.log_density_grid(fit.critic, bounds, 100)
    assert mixtures.grid_log_integral(log_n - check.log_alpha_quadrature, bounds) == pytest.approx(0.0, abs=1e-9)
    study = led.normalizer_study(fit, bounds, sample_counts=[1, 4], repeats=3, quadrature=50)
    assert sorted(study) == [2, 4] and study[4].estimates[4].shape == (3,)


@pytest.mark.parametrize("field, value, match", [
    ("steps", 0, "LEDConfig.steps must be an int >= 1, got 0"),
    ("steps", -5, "LEDConfig.steps must be an int >= 1"),
    ("replace_prob", 2.0, r"replace_prob is a probability: it must lie in \[0, 1\], got 2.0"),
    ("dequantize", -1.0, "dequantize is the width of the uniform noise: it must be >= 0"),
    ("critic_steps", 0, "LEDConfig.critic_steps must be an int >= 1"),
    ("batch_size", 0, "LEDConfig.batch_size must be an int >= 1"),
    ("normalizer_samples", 0, "LEDConfig.normalizer_samples must be an int >= 1"),
    ("entropy_weight", float("nan"), "LEDConfig.entropy_weight must be a finite number"),
    ("snapshots", (0, 3), r"snapshots must be steps in 1..steps"),
])
def test_led_config_refuses_settings_that_would_train_nothing_or_fail_later(field, value, match):
    with pytest.raises(ValueError, match=match):
        led.LEDConfig(**{field: value})


def test_led_specs_replace_route_settings_and_refuse_unknown_ones():
    spec = led.MixtureLED(features=4, blocks=1, copy_sigma=0.1, reduce_sigma=1.0, critic_hidden=8, train_points=20,
                          training=led.LEDConfig(steps=3))
    changed = spec.replace(seed=4, blocks=2)
    assert changed.training.seed == 4 and changed.blocks == 2 and spec.training.seed == 0
    with pytest.raises(ValueError, match="unknown setting.*'colour'"):
        spec.replace(colour=1)
    with pytest.raises(TypeError, match="spec must be a MixtureLED"):
        led.fit_mixture(mixtures.mixture("ring"), {"features": 4})


def test_estimate_log_normalizer_refuses_a_bad_chunk():
    g = tracked.mlp_generator(features=4, blocks=1)
    critic = led.mlp_critic(hidden=8)
    for chunk in (0, -4):
        with pytest.raises(ValueError, match="chunk must be an int >= 1"):
            led.estimate_log_normalizer(critic, g, 10, chunk=chunk)


def test_normalizer_estimates_do_not_depend_on_the_chunk():
    # equal up to float32 round-off (batched matrix products may sum in another order)
    g = tracked.mlp_generator(features=4, blocks=1).eval()
    critic = led.mlp_critic(hidden=8).eval()
    whole = led.normalizer_estimates(critic, g, [3, 8], 5, seed=2)
    for chunk in (1, 7):
        parts = led.normalizer_estimates(critic, g, [3, 8], 5, seed=2, chunk=chunk)
        for n in whole:
            torch.testing.assert_close(parts[n], whole[n], rtol=1e-5, atol=1e-5)


def test_a_cache_hit_reports_the_original_training_time_and_build_keeps_the_global_rng(tmp_path, monkeypatch):
    monkeypatch.setenv("GANDENSITY_CACHE_DIR", str(tmp_path))
    spec = led.MixtureLED(features=4, blocks=1, copy_sigma=0.1, reduce_sigma=1.0, critic_hidden=8, train_points=64,
                          training=led.LEDConfig(steps=3, batch_size=8, normalizer_samples=8))
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    first = led.fit_mixture(mixtures.mixture("ring"), spec)
    assert torch.equal(torch.random.get_rng_state(), before)  # no global reseeding
    again = led.fit_mixture(mixtures.mixture("ring"), spec)
    assert again.from_cache and not first.from_cache and again.seconds == first.seconds > 0


# ---------------------------------------------------------------------------------------------- GAN baseline


@float64
def test_gan_losses_are_the_standard_non_saturating_ones():
    d_real, d_fake = torch.randn(7) * 3, torch.randn(5) * 3
    sig = torch.sigmoid
    # Goodfellow et al. (2014): the discriminator maximizes log D(x) + log(1 - D(G(z))) with D = sigmoid(logit)
    expected_c = -torch.log(sig(d_real)).mean() - torch.log(1 - sig(d_fake)).mean()
    torch.testing.assert_close(led.gan_critic_loss(d_real, d_fake), expected_c, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(led.gan_generator_loss(d_fake), -torch.log(sig(d_fake)).mean(), rtol=1e-12,
                               atol=1e-12)
    # non-saturating: a confidently rejected sample (logit -20) still gets a gradient of about -1/B, where the
    # saturating loss log(1 - D) would give about e^-20 / B
    d = torch.tensor([-20.0, 0.0], requires_grad=True)
    led.gan_generator_loss(d).backward()
    assert d.grad[0].item() == pytest.approx(-0.5, rel=1e-6)


def test_train_gan_steps_are_adam_on_the_written_loss():
    data = ring_data(128)
    g, c = tiny_pair(1)
    g_ref, c_ref = copy.deepcopy(g), copy.deepcopy(c)
    config = LEDConfig(steps=2, batch_size=16, normalizer_samples=3, entropy_weight=7.0, replace_prob=0.5, seed=5)
    history = led.train_gan_baseline(data, g, c, config)
    assert set(history) == {"critic_loss", "generator_loss"} and history["critic_loss"].shape == (2,)
    # the same two steps by hand: -log sigmoid(D(x)) - log(1 - sigmoid(D(G(z)))) for the critic and
    # -log sigmoid(D(G(z))) for the generator, one torch.Generator for every draw
    rng = torch.Generator().manual_seed(5)
    opt_g = torch.optim.Adam(g_ref.parameters(), lr=config.lr, betas=config.betas)
    opt_c = torch.optim.Adam(c_ref.parameters(), lr=config.lr, betas=config.betas)
    g_ref.train()
    c_ref.train()
    for step in range(2):
        real = data[torch.randint(0, len(data), (16,), generator=rng)]
        with torch.no_grad():
            fake = g_ref.sample(16, rng=rng).x
        loss_c = -F.logsigmoid(c_ref(real)).mean() - F.logsigmoid(-c_ref(fake)).mean()
        opt_c.zero_grad()
        loss_c.backward()
        opt_c.step()
        loss_g = -F.logsigmoid(c_ref(g_ref.sample(16, rng=rng).x)).mean()
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        assert history["critic_loss"][step].item() == pytest.approx(loss_c.item(), rel=1e-6)
        assert history["generator_loss"][step].item() == pytest.approx(loss_g.item(), rel=1e-6)
    for a, b in ((g, g_ref), (c, c_ref)):
        for (k, v), v_ref in zip(a.state_dict().items(), b.state_dict().values()):
            torch.testing.assert_close(v, v_ref, rtol=1e-6, atol=1e-7, msg=k)
    assert not g.training and not c.training


def test_fit_mixture_gan_is_seeded_cached_and_uses_leds_networks(isolated_cache):
    target = mixtures.mixture("ring")
    spec = led.MixtureLED(features=4, blocks=1, copy_sigma=0.1, reduce_sigma=1.0, critic_hidden=8, train_points=64,
                          training=led.LEDConfig(steps=3, batch_size=8, normalizer_samples=8, seed=2))
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    first = led.fit_mixture_gan(target, spec)
    assert torch.equal(torch.random.get_rng_state(), before)  # no global reseeding
    assert not first.from_cache and first.seconds > 0 and first.history["generator_loss"].shape == (3,)
    assert not first.generator.training and not first.critic.training
    again = led.fit_mixture_gan(target, spec)
    assert again.from_cache and again.seconds == first.seconds
    assert_same_weights(first.generator, again.generator)
    assert_same_weights(first.critic, again.critic)
    # LED-only settings do not change a GAN: the same entry
    assert led.fit_mixture_gan(target, spec.replace(entropy_weight=2.0, normalizer_samples=3)).from_cache
    # deterministic for a seed: retrained without the cache, the same weights; another seed differs
    for f in isolated_cache.glob("gan-mlp-*.pt"):
        f.unlink()
    retrained = led.fit_mixture_gan(target, spec)
    assert not retrained.from_cache
    assert_same_weights(first.generator, retrained.generator)
    other = led.fit_mixture_gan(target, spec.replace(seed=3))
    assert any(not torch.equal(a, b) for a, b in zip(first.generator.state_dict().values(),
                                                      other.generator.state_dict().values()))
    # the same networks as LED: same architecture, same initialisation for a seed
    fresh_g, fresh_c = led.build("mlp", spec.generator_settings(), {"hidden": spec.critic_hidden}, 2)
    assert {k: v.shape for k, v in fresh_g.state_dict().items()} == {
        k: v.shape for k, v in first.generator.state_dict().items()}
    assert_same_weights(led.mixture_generator(spec), fresh_g)
    assert {k: v.shape for k, v in fresh_c.state_dict().items()} == {
        k: v.shape for k, v in first.critic.state_dict().items()}
    with pytest.raises(TypeError, match="spec must be a MixtureLED"):
        led.fit_mixture_gan(target, {"features": 4})
    with pytest.raises(ValueError, match="does not match"):
        led.train_gan_baseline(torch.randn(16, 3), *tiny_pair(), LEDConfig(steps=1, batch_size=4))
