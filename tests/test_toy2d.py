"""Two-dimensional implicit densities (paper 001 section 3): energies, densities, the network, the log-densities
and short training runs."""

from __future__ import annotations

import math

import pytest
import torch

from gandensity.workflows import toy2d


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANDENSITY_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(autouse=True)
def one_thread():
    """One thread, as the chapter runs: faster for these tiny networks (and the thread count is part of the cache
    key); with two threads on a busy machine, the implicit route's many tiny jvp/vjp calls can be 30x slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_energies_match_closed_forms_at_points():
    z = torch.tensor([[0.0, 0.0], [2.0, 0.0], [1.0, 1.0], [-1.5, 0.5]], dtype=torch.float64)
    w1 = torch.sin(2 * math.pi * z[:, 0] / 4)
    w2 = 3 * torch.exp(-0.5 * ((z[:, 0] - 1) / 0.6) ** 2)
    w3 = 3 * torch.sigmoid((z[:, 0] - 1) / 0.3)
    r = z.norm(dim=1)
    e = lambda t: torch.exp(-0.5 * t ** 2)  # noqa: E731
    want = {
        "U1": 0.5 * ((r - 2) / 0.4) ** 2 - torch.log(e((z[:, 0] - 2) / 0.6) + e((z[:, 0] + 2) / 0.6)),
        "U2": 0.5 * ((z[:, 1] - w1) / 0.4) ** 2,
        "U3": -torch.log(e((z[:, 1] - w1) / 0.35) + e((z[:, 1] - w1 + w2) / 0.35)),
        "U4": -torch.log(e((z[:, 1] - w1) / 0.4) + e((z[:, 1] - w1 + w3) / 0.35)),
    }
    for i, name in enumerate(toy2d.ENERGIES, start=1):
        torch.testing.assert_close(toy2d.energy(name, z), want[name])
        torch.testing.assert_close(toy2d.energy(i, z), want[name])
    # hand values: U1 at (2, 0) = -ln(1 + exp(-0.5 (4/0.6)^2)); U2 at the origin is 0
    assert toy2d.energy("U1", z[1:2]).item() == pytest.approx(-math.log(1 + math.exp(-0.5 * (4 / 0.6) ** 2)))
    assert toy2d.energy(2, z[:1]).item() == 0.0
    with pytest.raises(ValueError, match="unknown energy"):
        toy2d.energy(5, z)


def test_log_partition_reproduces_reference_values():
    for name, want in toy2d.LOG_Z_BOX.items():
        assert toy2d.log_partition(name) == pytest.approx(want, abs=1e-3)


@pytest.mark.parametrize("name", sorted(toy2d.DENSITIES))
def test_densities_are_normalized_and_sampled(name):
    d = toy2d.density(name)
    points, _ = toy2d.grid_points(-6, 6, 600)
    mass = torch.logsumexp(d.log_prob(points), 0).exp().item() * (12 / 600) ** 2
    assert mass == pytest.approx(1.0, abs=1e-3)
    g = torch.Generator().manual_seed(0)
    x = d.sample(20000, g)
    assert x.shape == (20000, 2) and x.dtype == torch.float32
    assert torch.equal(x, d.sample(20000, torch.Generator().manual_seed(0)))
    # samples fall where the density is: their mean log-density beats that of uniform points on the box
    assert d.log_prob(x.double()).mean() > d.log_prob(points).mean() + 2


def test_network_starts_near_identity_and_jacobians_agree():
    torch.manual_seed(0)
    f = toy2d.BottleneckResNet()
    x = torch.randn(16, 2)
    assert (f(x) - x).abs().max() < 0.5
    jac, out = toy2d.jacobian_and_output(f, x)
    torch.testing.assert_close(out, f(x))
    reference = torch.stack([torch.autograd.functional.jacobian(lambda v: f(v[None])[0], xi) for xi in x])
    torch.testing.assert_close(jac, reference, atol=1e-5, rtol=1e-5)
    exact = toy2d.logdet_metric(jac)
    want = torch.linalg.slogdet((reference.transpose(1, 2) @ reference).double())[1]
    torch.testing.assert_close(exact, want, atol=1e-6, rtol=1e-6)
    # the generic route (torch.func.jacfwd) for maps without forward_with_jacobian
    jac2, _ = toy2d.jacobian_and_output(lambda v: f(v), x)
    torch.testing.assert_close(jac2, jac, atol=1e-5, rtol=1e-5)


def test_estimated_log_density_matches_exact_at_init_both_routes():
    torch.manual_seed(1)
    f = toy2d.BottleneckResNet(init_scale=1.0)
    z = torch.randn(64, 2, generator=torch.Generator().manual_seed(2))
    settings = toy2d.EstimatorSettings(eps=0.1)
    dense = toy2d.metric_terms(f, z, settings, matvec="dense", seed=3)
    implicit = toy2d.metric_terms(f, z, settings, matvec="implicit", seed=3)
    torch.testing.assert_close(dense.logdet, implicit.logdet, atol=1e-4, rtol=1e-4)
    err = toy2d.relative_error(dense.logdet, dense.exact_logdet)
    assert err.median() < 0.05 and err.max() < 0.25  # |ln l_hat - ln l| per sample (20 probes)
    assert (0.5 * (dense.logdet.double() - dense.exact_logdet)).mean().abs() < 0.02  # batch error
    log_q = toy2d.pushforward_log_density(z, dense.logdet)
    torch.testing.assert_close(log_q.double(), toy2d.log_normal(z.double()) - 0.5 * dense.exact_logdet,
                               atol=0.25, rtol=0)
    # gradients of the two routes agree too
    grads = []
    for route in ("dense", "implicit"):
        f.zero_grad(set_to_none=True)
        toy2d.metric_terms(f, z, settings, matvec=route, seed=3).logdet.mean().backward()
        grads.append(torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).flatten()
                               for p in f.parameters()]))  # the last bias does not change J
    torch.testing.assert_close(grads[0], grads[1], atol=1e-4, rtol=1e-3)
    with pytest.raises(ValueError, match="unknown matvec"):
        toy2d.metric_terms(f, z, settings, matvec="sparse")


def test_reverse_fit_decreases_loss_deterministically_and_caches():
    fit = toy2d.fit_reverse_kl("U1", 150, lr=3e-3, verbose=False)
    h = fit.history
    assert set(h) == set(toy2d.HISTORY_KEYS) and all(v.shape == (150,) for v in h.values())
    assert h["loss"][-20:].mean() < h["loss"][:20].mean() - 0.5
    assert h["loss_exact"][-20:].mean() < h["loss_exact"][:20].mean() - 0.5
    assert not fit.from_cache and fit.config.rho == 0.0
    again = toy2d.fit_reverse_kl("U1", 150, lr=3e-3, verbose=False)
    assert again.from_cache and torch.equal(again.history["loss"], h["loss"])
    fresh = toy2d.fit_reverse_kl("U1", 150, lr=3e-3, verbose=False, use_cache=False)
    assert torch.equal(fresh.history["loss"], h["loss"])  # seeded: same run twice
    assert toy2d.fit_reverse_kl("U3", 2, verbose=False, use_cache=False).config.rho == 0.08


def test_forward_fit_increases_held_out_likelihood():
    data = toy2d.density("crescent")
    fit = toy2d.fit_forward_kl(data, 200, lr=3e-3, verbose=False, use_cache=False)
    held_out = data.sample(4000, torch.Generator().manual_seed(99))
    initial = toy2d.initial_model(fit.config)  # the initialization the fit started from
    before = toy2d.model_log_likelihood(initial, held_out).mean()
    after = toy2d.model_log_likelihood(fit.model, held_out).mean()
    assert after > before + 1.0
    assert fit.history["loss"][-20:].mean() < fit.history["loss"][:20].mean()
    x, log_q = toy2d.model_samples(fit.model, torch.randn(8, 2))
    assert x.shape == (8, 2) and log_q.shape == (8,) and torch.isfinite(log_q).all()


def test_initial_model_is_the_fits_starting_point():
    config = toy2d.FitConfig(1, seed=3)
    a, b = toy2d.initial_model(config), toy2d.seeded_network(3)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    state = torch.get_rng_state()
    toy2d.seeded_network(5, init_scale=1.0)
    assert torch.equal(state, torch.get_rng_state())  # the global RNG is left alone


def test_compare_routes_agree_and_report_errors():
    net = toy2d.seeded_network(0, init_scale=1.0)
    z = torch.randn(16, 2, generator=torch.Generator().manual_seed(0))
    routes = toy2d.compare_routes(net, z, toy2d.EstimatorSettings(eps=0.1), seed=0)
    assert routes.route_gap < 1e-4 and set(routes.seconds) == {"dense", "implicit"}
    assert routes.sample_error.shape == (16,) and routes.eigenvalues.shape == (16, 2)
    assert routes.batch_error <= routes.sample_error.mean() + 1e-12  # |mean| <= mean |.|


def _unfitted(kind_config: toy2d.FitConfig, steps: int = 10) -> toy2d.FitResult:
    """A FitResult whose model is the initial (near-identity) network, with a flat made-up history."""
    history = {k: torch.linspace(1.0, 0.0, steps, dtype=torch.float64) for k in toy2d.HISTORY_KEYS}
    model = toy2d.initial_model(kind_config).eval().requires_grad_(False)
    return toy2d.FitResult(model, history, 0.0, False, kind_config)


def test_forward_summary_of_a_near_identity_map_is_normalized():
    # f near the identity is a bijection: Q is a normalized density, its mass on [-8, 8]^2 is ~1, nothing folds,
    # and the mean of log q - log p over samples of P is -KL(P || Q) < 0.
    fit = _unfitted(toy2d.FitConfig(10, eps=1e-2))
    target = toy2d.density("ring")
    s = toy2d.forward_summary(fit, target, target.sample(4000, torch.Generator().manual_seed(1)), grid=200)
    assert abs(s.mass - 1.0) < 0.02 and s.folded == 0.0
    assert s.gap.mean() < 0 and abs(s.ll - s.ll_init) < 1e-6  # float32 network
    assert s.loss_start == 1.0 and s.loss_end == 0.0  # first / last of the 10 history steps
    torch.testing.assert_close(s.ll - s.ll_true, float(s.gap.mean()))


def test_reverse_summary_reads_the_history_and_the_samples():
    fit = _unfitted(toy2d.FitConfig(20, eps=0.1), steps=20)
    z = torch.randn(500, 2, generator=torch.Generator().manual_seed(2))
    s = toy2d.reverse_summary(fit, z)
    assert toy2d.tail_steps(fit) == 2
    torch.testing.assert_close(s.loss_start, float(fit.history["loss"][:2].mean()))
    assert s.folded == 0.0 and 0.0 <= s.in_box <= 1.0 and s.samples.shape == (500, 2)
    inside = (s.samples.abs() <= 4).all(1).double().mean().item()
    assert s.in_box == inside
