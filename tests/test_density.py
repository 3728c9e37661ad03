"""Exact densities against closed forms and brute force (paper 000, Eqs. 3-4)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from gandensity.numerics.density import (RankDeficientJacobianError, generator_jacobian, generator_log_density,
                                half_logdet_metric)
from gandensity.workflows.models import DCGANConfig, Generator, init_dcgan_weights
from gandensity.numerics.priors import StandardNormal, UniformBox
from gandensity.numerics.validation import (checks_table, closed_form_checks, degenerate_gaussian_log_density, dense_jacobian_checks,
                                   dense_jacobian_log_density, graph_map, graph_map_half_logdet, sphere_patch,
                                   sphere_patch_half_logdet)

LOGDETS = ("qr", "cholesky", "svd")


@pytest.fixture
def linear():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(12, 4, generator=g, dtype=torch.float64)
    b = torch.randn(12, generator=g, dtype=torch.float64)
    z = torch.randn(7, 4, generator=g, dtype=torch.float64)
    return w, b, z


@pytest.mark.parametrize("logdet", LOGDETS)
def test_linear_generator_matches_degenerate_gaussian(linear, logdet):
    w, b, z = linear
    got = generator_log_density(lambda v: v @ w.T + b, z, logdet=logdet)
    want = degenerate_gaussian_log_density(z @ w.T + b, w, b)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-9)


def test_linear_generator_float32_and_finite_differences(linear):
    w, b, z = (t.float() for t in linear)
    want = degenerate_gaussian_log_density((z @ w.T + b).double(), w.double(), b.double())
    fwd = generator_log_density(lambda v: v @ w.T + b, z)
    fd = generator_log_density(lambda v: v @ w.T + b, z, jacobian="finite_difference")
    torch.testing.assert_close(fwd, want, rtol=0, atol=1e-4)
    torch.testing.assert_close(fd, want, rtol=0, atol=1e-3)


def test_sphere_patch_metric():
    r = 1.7
    z = torch.tensor([[0.3, 0.1], [1.2, -2.0], [2.5, 0.7], [-0.9, 3.0]], dtype=torch.float64)
    want = StandardNormal().log_prob(z) - sphere_patch_half_logdet(z, r)
    torch.testing.assert_close(sphere_patch_half_logdet(z[:1], r), torch.log(r**2 * torch.sin(z[:1, 0])))
    for logdet in LOGDETS:
        torch.testing.assert_close(generator_log_density(sphere_patch(r), z, logdet=logdet), want, rtol=0, atol=1e-10)


def test_graph_manifold_metric():
    g = torch.Generator().manual_seed(1)
    w = torch.randn(5, generator=g, dtype=torch.float64)
    z = torch.randn(9, 5, generator=g, dtype=torch.float64)
    want = StandardNormal().log_prob(z) - graph_map_half_logdet(z, w, 2.0)
    torch.testing.assert_close(generator_log_density(graph_map(w, 2.0), z), want, rtol=0, atol=1e-10)


def test_closed_form_references_are_what_they_claim():
    # The references themselves, at hand-computed points: a line in R^2, a unit sphere's equator.
    w, b = torch.tensor([[3.0], [4.0]], dtype=torch.float64), torch.zeros(2, dtype=torch.float64)
    x = torch.tensor([[3.0, 4.0]], dtype=torch.float64)  # z = 1, |W| = 5
    want = -0.5 * math.log(2 * math.pi) - math.log(5.0) - 0.5
    torch.testing.assert_close(degenerate_gaussian_log_density(x, w, b), torch.tensor([want], dtype=torch.float64))
    equator = torch.tensor([[math.pi / 2, 0.3]], dtype=torch.float64)
    torch.testing.assert_close(sphere_patch_half_logdet(equator, 1.0), torch.zeros(1, dtype=torch.float64))


def test_book_validation_checks_pass_and_can_fail(monkeypatch):
    checks = closed_form_checks()
    assert len(checks) == 9 and all(c.passed for c in checks)
    table = checks_table(checks).splitlines()
    assert table[0] == "| case | qr | cholesky | svd | tolerance | passed |" and len(table) == 5
    assert all(line.endswith("| True |") for line in table[2:])
    net = small_dcgan(torch.float32)
    z = torch.randn(3, 6, generator=torch.Generator().manual_seed(8))
    assert all(c.passed for c in dense_jacobian_checks(net, z, tolerance=1e-3, fd_tolerance=0.1))
    # An error of 1e-6 nats in the method under test must fail every closed-form check.
    import gandensity.numerics.validation as validation
    exact = validation.generator_log_density
    monkeypatch.setattr(validation, "generator_log_density", lambda *a, **k: exact(*a, **k) + 1e-6)
    assert not any(c.passed for c in closed_form_checks())


def small_dcgan(dtype=torch.float64, latent: int = 6, channels: int = 1) -> Generator:
    torch.manual_seed(3)
    net = Generator(DCGANConfig(latent_dim=latent, channels=channels, width=4))
    net.apply(init_dcgan_weights)
    # Non-trivial batch-norm statistics, as after training.
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 2.0)
    return net.to(dtype).eval()


@pytest.mark.parametrize("channels", [1, 3])
def test_conv_generator_matches_dense_jacobian(channels):
    net = small_dcgan(channels=channels)
    z = torch.randn(5, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    want = dense_jacobian_log_density(net, z)
    for logdet in LOGDETS:
        torch.testing.assert_close(generator_log_density(net, z, logdet=logdet), want, rtol=0, atol=1e-9)
    jac = generator_jacobian(net, z)
    assert jac.shape == (5, channels * 32 * 32, 6)


def test_conv_generator_float32_and_finite_differences():
    net64 = small_dcgan()
    z = torch.randn(4, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    want = generator_log_density(net64, z)
    net32 = small_dcgan(torch.float32)
    fwd = generator_log_density(net32, z.float())
    fd = generator_log_density(net32, z.float(), jacobian="finite_difference")
    assert (fwd - want).abs().max() < 1e-3
    assert (fd - want).abs().max() < 5e-2


def test_chunking_does_not_change_results():
    net = small_dcgan()
    z = torch.randn(7, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(6))
    ref = generator_log_density(net, z, chunk_size=7)
    for chunk in (1, 3, 100):
        torch.testing.assert_close(generator_log_density(net, z, chunk_size=chunk), ref, rtol=0, atol=1e-12)


def test_uniform_prior_is_pluggable(linear):
    w, b, _ = linear
    z = torch.rand(5, 4, dtype=torch.float64) * 2 - 1
    prior = UniformBox(-1.0, 1.0)
    got = generator_log_density(lambda v: v @ w.T + b, z, prior=prior)
    half = 0.5 * torch.linalg.slogdet(w.T @ w)[1]
    torch.testing.assert_close(got, torch.full((5,), -4 * math.log(2.0), dtype=torch.float64) - half)
    outside = generator_log_density(lambda v: v @ w.T + b, torch.full((1, 4), 3.0, dtype=torch.float64), prior=prior)
    assert outside.item() == -math.inf


def test_rank_deficient_jacobian_warns_and_is_infinite_never_nan():
    g = torch.Generator().manual_seed(7)
    w = torch.randn(10, 3, generator=g, dtype=torch.float64)
    w[:, 2] = w[:, 0] - 2 * w[:, 1]  # rank 2 < n = 3
    z = torch.randn(4, 3, generator=g, dtype=torch.float64)
    for logdet in LOGDETS:
        with pytest.warns(RuntimeWarning, match="singular"):
            out = generator_log_density(lambda v: v @ w.T, z, logdet=logdet)
        assert not out.isnan().any()
        assert (out == math.inf).all()
        half, singular = half_logdet_metric(generator_jacobian(lambda v: v @ w.T, z), method=logdet)
        assert singular.all() and (half == -math.inf).all()
    with pytest.raises(RankDeficientJacobianError, match="singular for 4 of 4"):
        generator_log_density(lambda v: v @ w.T, z, on_singular="raise")


def test_partly_singular_batch_only_flags_those_rows():
    # ReLU generator whose output is dead (zero Jacobian) for z with negative first coordinate.
    w = torch.eye(3, dtype=torch.float64).repeat(2, 1)

    def gen(v: torch.Tensor) -> torch.Tensor:
        return torch.relu(v[:, :1]) * (v @ w.T)

    z = torch.tensor([[1.0, 0.5, 0.2], [-1.0, 0.3, 0.1], [2.0, -0.4, 0.9]], dtype=torch.float64)
    with pytest.warns(RuntimeWarning, match=r"1 of 3 samples \(rows \[1\]\)"):
        out = generator_log_density(gen, z)
    assert out[1] == math.inf and torch.isfinite(out[[0, 2]]).all()


@pytest.mark.parametrize("bad, match", [
    (torch.zeros(4), r"shape \(B, n\)"),
    (torch.zeros(2, 3, 4), r"shape \(B, n\)"),
    (torch.zeros(2, 3, dtype=torch.long), "floating-point"),
    (torch.tensor([[0.0, float("nan"), 0.0]]), "NaN or inf in rows \\[0\\]"),
])
def test_bad_latents_get_clear_errors(bad, match):
    with pytest.raises((ValueError, TypeError), match=match):
        generator_log_density(lambda v: torch.cat([v, v], -1), bad)


def test_bad_generators_and_options_get_clear_errors():
    z = torch.randn(2, 6)
    with pytest.raises(ValueError, match="rank <= m < n"):
        generator_log_density(lambda v: v[:, :3], z)
    with pytest.raises(ValueError, match=r"generator.eval\(\)"):
        generator_log_density(Generator(DCGANConfig(latent_dim=6, width=4)).train(), z)
    with pytest.raises(ValueError, match="unknown log-det method 'lu'"):
        generator_log_density(lambda v: torch.cat([v, v], -1), z, logdet="lu")
    with pytest.raises(ValueError, match="unknown Jacobian method"):
        generator_log_density(lambda v: torch.cat([v, v], -1), z, jacobian="reverse")
    with pytest.raises(ValueError, match="NaN or inf"):
        generator_log_density(lambda v: torch.cat([v, v.log()], -1), -z.abs() - 1)
    with pytest.raises(ValueError, match=r"\(B, \.\.\.\)"):
        generator_log_density(lambda v: v.sum(), z)


def test_jacobian_is_differentiable_for_later_gradient_checks():
    # generator_log_density drops the graph for speed; the building blocks keep it.
    w = torch.randn(8, 3, dtype=torch.float64, requires_grad=True)
    z = torch.randn(2, 3, dtype=torch.float64)
    half, _ = half_logdet_metric(generator_jacobian(lambda v: torch.tanh(v @ w.T), z))
    half.sum().backward()
    assert w.grad is not None and torch.isfinite(w.grad).all()
    assert not generator_log_density(lambda v: torch.tanh(v @ w.T), z).requires_grad
