"""Likelihood ascent by spectral backpropagation: checked where the answer is known."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

from gandensity.numerics.ascent import maximize_log_density
from gandensity.numerics.priors import UniformBox


def test_linear_generator_ascends_to_the_prior_mode():
    # G(z) = W z has a constant metric W^T W, so log p(G(z)) = log N(z) + const: the ascent must go to z = 0,
    # and the estimated gradient of the log-det must vanish (no drift from the probes).
    torch.manual_seed(0)
    w = torch.randn(12, 3, dtype=torch.float64)
    z0 = torch.randn(4, 3, dtype=torch.float64) * 2
    trace = maximize_log_density(lambda z: z @ w.T, z0, steps=300, lr=0.05, record_every=100)
    assert trace.z[-1].abs().max() < 0.05  # Adam oscillates around the optimum at this lr
    torch.testing.assert_close(trace.z[0], z0)  # the record of the start is not overwritten by later steps
    gain = trace.log_density[-1] - trace.log_density[0]
    torch.testing.assert_close(gain, 0.5 * (z0 ** 2).sum(-1), rtol=1e-2, atol=1e-2)
    torch.testing.assert_close(trace.lambda_max[0], trace.lambda_max[-1])  # the metric never changed


def test_nonlinear_generator_exact_log_density_rises():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 32), nn.Tanh(), nn.Linear(32, 16)).double().requires_grad_(False)
    z0 = torch.randn(3, 4, dtype=torch.float64)
    trace = maximize_log_density(net, z0, steps=60, lr=0.02, record_every=20, order=20, probes=50, eps=1e-3)
    assert trace.steps.tolist() == [0, 20, 40, 60]
    assert trace.z.shape == (4, 3, 4) and trace.images.shape == (4, 3, 16) and trace.estimate.shape == (60, 3)
    assert (trace.log_density[-1] > trace.log_density[0] + 0.1).all()
    assert not any(p.grad is not None for p in net.parameters())  # the generator is left alone


def test_uniform_prior_keeps_latents_in_the_box():
    torch.manual_seed(0)
    w = torch.randn(8, 2, dtype=torch.float64)
    trace = maximize_log_density(lambda z: torch.tanh(z @ w.T) * 3, torch.zeros(2, 2, dtype=torch.float64) + 0.9,
                                 steps=50, lr=0.2, record_every=25, prior=UniformBox(-1, 1), eps=1e-3)
    assert trace.z.abs().max() <= 1.0
    assert torch.isfinite(trace.log_density).all()


def test_bad_latents_are_a_clear_error():
    with pytest.raises(ValueError, match=r"z0 must be a \(B, n\)"):
        maximize_log_density(lambda z: z, torch.zeros(3), steps=1)


def test_summary_splits_the_gain_into_prior_and_volume():
    from gandensity.numerics.ascent import summarize
    from gandensity.numerics.priors import StandardNormal

    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 8)).double().requires_grad_(False)
    z0 = torch.randn(4, 3, dtype=torch.float64)
    trace = maximize_log_density(net, z0, steps=20, lr=0.05, record_every=10, order=20, probes=20, eps=1e-3)
    s = summarize(trace)
    torch.testing.assert_close(s.gain, trace.log_density[-1] - trace.log_density[0])
    prior = StandardNormal()
    torch.testing.assert_close(s.prior_gain, prior.log_prob(trace.z[-1]) - prior.log_prob(trace.z[0]))
    torch.testing.assert_close(s.gain, s.prior_gain + s.volume_gain)
    torch.testing.assert_close(s.condition_ratio, s.lambda_max_ratio / s.lambda_min_ratio)
    assert s.estimate_error.shape == (2, 4) and (s.estimate_error >= 0).all()
    torch.testing.assert_close(s.z_norm[0], z0.norm(dim=-1))


def test_nearest_distance_matches_brute_force():
    from gandensity.numerics.ascent import nearest_distance

    g = torch.Generator().manual_seed(0)
    images, reference = torch.randn(5, 1, 4, 4, generator=g), torch.randn(37, 1, 4, 4, generator=g)
    brute = torch.tensor([min((x - r).norm().item() for r in reference) for x in images], dtype=torch.float64)
    torch.testing.assert_close(nearest_distance(images, reference, chunk=8), brute)
    assert nearest_distance(reference[:3], reference).abs().max() < 1e-6  # an image in the reference: 0


def test_intensity_tail_of_blank_and_typical_images():
    from gandensity.numerics.ascent import intensity_tail

    reference = torch.linspace(0.1, 0.3, 101).reshape(101, 1, 1, 1).expand(101, 1, 2, 2)
    images = torch.tensor([0.0, 0.2, 0.1, 1.0]).reshape(4, 1, 1, 1).expand(4, 1, 2, 2)
    tail = intensity_tail(images, reference)
    torch.testing.assert_close(tail, torch.tensor([0.0, 51 / 101, 1 / 101, 0.0], dtype=torch.float64))


def _tiny_net(n_in: int = 3, n_out: int = 10) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(n_in, 12), nn.Tanh(), nn.Linear(12, n_out)).double().requires_grad_(False)


def _brute_log_density(net: nn.Module, z: torch.Tensor) -> torch.Tensor:
    # log N(z) - 1/2 log det(J^T J) with J from reverse-mode autograd, one sample at a time, and slogdet
    from gandensity.numerics.priors import StandardNormal

    out = []
    for zb in z:
        jac = torch.autograd.functional.jacobian(lambda v: net(v[None])[0], zb, create_graph=True)  # (m, n)
        sign, logdet = torch.linalg.slogdet(jac.T @ jac)
        assert sign > 0
        out.append(StandardNormal().log_prob(zb) - 0.5 * logdet)
    return torch.stack(out)


def test_exact_objective_and_first_step_match_brute_force():
    from gandensity.numerics.ascent import log_density_objective
    from gandensity.numerics.priors import StandardNormal

    net = _tiny_net()
    z0 = torch.randn(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    z = z0.clone().requires_grad_()
    value = log_density_objective(net, z, prior=StandardNormal(), method="exact")
    (grad,) = torch.autograd.grad(value.sum(), z)
    zb = z0.clone().requires_grad_()
    brute = _brute_log_density(net, zb)
    (brute_grad,) = torch.autograd.grad(brute.sum(), zb)
    torch.testing.assert_close(value.detach(), brute.detach())
    torch.testing.assert_close(grad, brute_grad)
    # Adam's first step is lr * g / (|g| + 1e-8) per coordinate (ascent: g is the gradient of log p)
    lr = 1e-3
    trace = maximize_log_density(net, z0, steps=1, lr=lr, record_every=1, method="exact")
    assert trace.method == "exact" and trace.steps.tolist() == [0, 1]
    adam_step = lr * brute_grad / (brute_grad.abs() + 1e-8)
    torch.testing.assert_close(trace.z[1] - trace.z[0], adam_step, rtol=1e-6, atol=1e-12)
    torch.testing.assert_close(trace.estimate[0], brute.detach())  # the ascended value is the exact one
    torch.testing.assert_close(trace.log_density[0], brute.detach())


def test_lanczos_ascent_climbs_as_high_as_the_exact_one():
    # a well-conditioned toy (condition numbers 7-10 at the start): SLQ's stochastic gradient must reach the
    # maximum that the exact gradient reaches, to within a few hundredths of a nat
    net = _tiny_net(4, 16)
    z0 = torch.randn(3, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    kwargs = dict(steps=60, lr=0.05, record_every=20, order=4, probes=20)
    slq = maximize_log_density(net, z0, method="lanczos", **kwargs)
    exact = maximize_log_density(net, z0, method="exact", **kwargs)
    assert slq.method == "lanczos" and slq.estimate.shape == (60, 3)
    assert (exact.log_density[-1] > exact.log_density[0] + 0.04).all()  # every latent has room to climb
    assert (slq.log_density[-1] > slq.log_density[0]).all()
    assert (slq.log_density[-1] > exact.log_density[-1] - 0.05).all()
    # with m = n Lanczos steps the quadrature is exact per probe, so the estimate is close to the exact value
    assert (slq.estimate[0].double() - slq.log_density[0]).abs().max() < 0.5


def test_chebyshev_is_the_default_and_unchanged():
    net = _tiny_net()
    z0 = torch.randn(2, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    kwargs = dict(steps=3, lr=0.02, record_every=1, order=8, probes=5, eps=1e-3)
    default = maximize_log_density(net, z0, **kwargs)
    named = maximize_log_density(net, z0, method="chebyshev", **kwargs)
    assert default.method == "chebyshev"
    torch.testing.assert_close(default.z, named.z, rtol=0, atol=0)
    torch.testing.assert_close(default.estimate, named.estimate, rtol=0, atol=0)


def test_unknown_method_is_a_clear_error():
    with pytest.raises(ValueError, match=r"method must be one of \('chebyshev', 'lanczos', 'exact'\), got 'slq'"):
        maximize_log_density(lambda z: z, torch.zeros(2, 3), steps=1, method="slq")


def test_spectrum_checks_go_into_the_trace_not_onto_the_screen():
    # G(z) = s z Q with Q orthogonal: M = s^2 I. With s = 1, M's spectrum lies in [eps, g lambda_max]; with
    # s = 0.01 it lies below eps = 0.01, where the Chebyshev estimate is biased and its check fires every step.
    q = torch.linalg.qr(torch.randn(5, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(4)))[0]
    z0 = torch.randn(2, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    kwargs = dict(steps=4, lr=0.01, record_every=2, order=6, probes=4, eps=1e-2)
    for s, expected in ((1.0, False), (0.01, True)):
        with warnings.catch_warnings(record=True) as shown:
            warnings.simplefilter("always")
            trace = maximize_log_density(lambda z, s=s: s * z @ q, z0, **kwargs)
        assert trace.flagged.shape == (4,) and trace.flagged.dtype == torch.bool
        assert trace.flagged.tolist() == [expected] * 4
        assert not [w for w in shown if "spectrum is outside" in str(w.message)]
    exact = maximize_log_density(lambda z: 0.01 * z @ q, z0, method="exact", **kwargs)
    assert not exact.flagged.any()


def test_until_cuts_a_trace_at_a_recorded_step():
    net = _tiny_net()
    z0 = torch.randn(2, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(6))
    kwargs = dict(lr=0.02, record_every=2, order=8, probes=5, eps=1e-3)
    long, short = maximize_log_density(net, z0, steps=6, **kwargs), maximize_log_density(net, z0, steps=4, **kwargs)
    cut = long.until(4)
    for a, b in zip(cut, short):
        if isinstance(a, torch.Tensor):
            torch.testing.assert_close(a, b, rtol=0, atol=0)
        else:
            assert a == b
    with pytest.raises(ValueError, match=r"one of the recorded iterations \[0, 2, 4, 6\], got 3"):
        long.until(3)
    for wrong in ("4", 4.0, True, None):
        with pytest.raises(ValueError, match="step must be one of the recorded iterations"):
            long.until(wrong)
