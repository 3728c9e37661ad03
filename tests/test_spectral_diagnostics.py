"""Diagnostics of the stochastic log-determinant (chapter B1), against closed forms and brute force."""

from __future__ import annotations

import math

import torch
from torch import nn

from gandensity.numerics import spectral, validation


def test_likelihood_error_is_half_the_logdet_error():
    est, exact = torch.tensor([3.0, -1.0]), torch.tensor([1.0, 1.0], dtype=torch.float64)
    torch.testing.assert_close(spectral.likelihood_error(est, exact), torch.tensor([1.0, 1.0], dtype=torch.float64))


def test_log_uniform_spectra_lie_in_the_interval_and_are_seeded():
    lam = spectral.log_uniform_spectra(50, 40, 0.1, 100.0, seed=3)
    assert lam.shape == (50, 40) and lam.dtype == torch.float64
    assert lam.min() >= 0.1 and lam.max() <= 100.0
    assert abs(lam.log10().mean().item() - 0.5) < 0.05  # log-uniform on [-1, 2]: mean 0.5
    torch.testing.assert_close(lam, spectral.log_uniform_spectra(50, 40, 0.1, 100.0, seed=3))


def test_spectrum_errors_small_inside_eps_and_biased_below():
    well = spectral.spectrum_errors(spectral.log_uniform_spectra(8, 20, 1.0, 10.0), seed=0, order=30, probes=200)
    torch.testing.assert_close(well.exact, spectral.log_uniform_spectra(8, 20, 1.0, 10.0).log().sum(-1))
    assert well.bias.abs().max() < 1e-3 and well.chebyshev.median() < 0.3
    below = spectral.spectrum_errors(spectral.log_uniform_spectra(8, 20, 1e-3, 10.0), seed=0)
    assert (below.bias > 1.0).all()  # eigenvalues below eps = 0.1 push the polynomial up


def test_chebyshev_beats_taylor_at_equal_order_on_a_wide_spectrum():
    lam = spectral.log_uniform_spectra(8, 50, 0.1, 100.0, seed=1)
    exact = lam.log().sum(-1)
    nu = 1.2 * lam.max(-1).values
    cheb = (spectral.polynomial_logdet(lam, order=10, eps=0.1, nu=nu) - exact).abs()
    taylor = (spectral.polynomial_logdet(lam, order=10, eps=0.1, nu=nu, method="taylor") - exact).abs()
    assert (cheb < taylor).all()


def test_polynomial_bias_falls_with_the_order_and_matches_polynomial_logdet():
    lam = spectral.log_uniform_spectra(4, 30, 1e-3, 10.0, seed=2)
    bias = spectral.polynomial_bias(lam, [10, 100, 1000], eps=1e-4)
    assert bias.shape == (3, 4)
    assert (bias.abs()[1:] < bias.abs()[:-1]).all() and bias.abs()[-1].max() < 0.05
    direct = spectral.polynomial_logdet(lam, order=10, eps=1e-4, nu=1.2 * lam.max(-1).values) - lam.log().sum(-1)
    torch.testing.assert_close(bias[0], 0.5 * direct)


def test_probe_noise_falls_like_one_over_root_p():
    lam = spectral.log_uniform_spectra(12, 20, 1.0, 10.0, seed=0)
    errors = torch.stack([spectral.spectrum_errors(lam, seed=0, order=20, probes=p).chebyshev for p in (1, 256)])
    assert errors[1].mean() < errors[0].mean() / 4  # 1/sqrt(256) = 1/16, with room for chance


def test_power_bound_ratio_is_g_once_the_power_method_converged():
    lam = torch.tensor([5.0, 1.0, 0.5], dtype=torch.float64)
    z = torch.randn(2, 3, dtype=torch.float64)
    mv = spectral.metric_matvec(lambda v: v * lam.sqrt(), z)  # M = diag(lam) at every latent
    ratio = spectral.power_bound_ratio(mv, 3, torch.full((2,), 5.0), power_iters=60, g=1.2, seed=0)
    torch.testing.assert_close(ratio, torch.full((2,), 1.2, dtype=torch.float64), rtol=1e-6, atol=0)
    few = spectral.power_bound_ratio(mv, 3, torch.full((2,), 5.0), power_iters=1, g=1.0, seed=0)
    assert (few <= 1 + 1e-12).all()  # a Rayleigh quotient never exceeds lambda_max


def test_estimator_and_sweep_errors_agree_with_stochastic_logdet():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 10)).double().requires_grad_(False)
    z = torch.randn(4, 3, dtype=torch.float64)
    exact = validation.logdet_metric(net, z)
    mv = spectral.metric_matvec(net, z)
    errors = spectral.estimator_errors(mv, 3, exact, seed=1, order=20, eps=1e-3)
    direct = spectral.stochastic_logdet(mv, 3, order=20, eps=1e-3, seed=1)
    torch.testing.assert_close(errors, 0.5 * (direct.double() - exact).abs())
    sweep = spectral.sweep_errors(mv, 3, exact, "order", [2, 20], seed=1, eps=1e-3)
    torch.testing.assert_close(sweep[1], errors)
    eig = spectral.metric_eigenvalues(net, z)
    torch.testing.assert_close(eig.log().sum(-1), exact)
    assert (eig[:, 1:] >= eig[:, :-1]).all()


def test_gradient_agreement_is_exact_in_the_limit():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 8)).double()
    z = torch.randn(3, 3, dtype=torch.float64)
    weight = net[0].weight
    rows = spectral.gradient_agreement(net, z, [weight], [1, 1000], seed=0, order=40, eps=1e-3)
    assert [r.probes for r in rows] == [1, 1000]
    assert rows[-1].cosine_z.min() > 0.99 and rows[-1].rel_error_z.max() < 0.1
    assert rows[-1].cosine_params > 0.99 and rows[-1].rel_error_params < 0.1
    assert rows[0].rel_error_params > rows[-1].rel_error_params
    assert math.isfinite(rows[0].cosine_params)


# ------------------------------------------------------------------ estimators side by side (chapter B5)


def test_budget_settings_spend_the_budget_and_matvec_cost_counts_what_the_estimators_spend():
    from gandensity.numerics import logdet_compare as lc
    from gandensity.numerics.hutchpp import hutchpp_logdet
    from gandensity.numerics.lanczos import slq_logdet

    assert lc.budget_settings("chebyshev", 220, 100) == {"order": 10, "probes": 19}  # the paper's (10, 20) ~ 220
    assert lc.budget_settings("lanczos", 1000, 100) == {"order": 32, "probes": 31}
    assert lc.budget_settings("lanczos", 1000, 8)["order"] == 8  # capped at n
    assert lc.budget_settings("lanczos", 1000, 1024) == {"order": 101, "probes": 9}  # more steps for larger n
    for method in ("chebyshev", "taylor", "lanczos", "hutchpp"):
        for budget in (50, 220, 1000, 4000):
            for n in (100, 1024):
                mp = lc.budget_settings(method, budget, n)
                cost = lc.matvec_cost(method, mp["order"], mp["probes"], n)
                assert 0.8 * budget <= cost <= budget, (method, budget, n, cost)
    # the count is what the estimators report themselves
    A = validation.spd_with_spectrum(torch.linspace(0.5, 2.0, 12)[None])
    mv = lambda v: torch.einsum("bij,bj->bi", A, v)  # noqa: E731
    f64 = dict(batch_size=1, seed=0, dtype=torch.float64)
    assert slq_logdet(mv, 12, steps=5, probes=7, **f64).matvecs == lc.matvec_cost("lanczos", 5, 7, 12)
    k, p = spectral.hutchpp_split(20, 12)
    assert hutchpp_logdet(mv, 12, sketch=k, steps=5, probes=p, **f64).matvecs \
        == lc.matvec_cost("hutchpp", 5, 20, 12)
    try:
        lc.budget_settings("lanczos", 0, 10)
    except ValueError as err:
        assert "budget must be a positive int" in str(err)
    else:
        raise AssertionError("budget 0 accepted")


def test_budget_errors_are_the_estimators_errors_with_independent_draws():
    from gandensity.numerics import logdet_compare as lc
    from gandensity.numerics.operators import dense_matvec

    lam = spectral.log_uniform_spectra(3, 30, 1e-2, 10.0, seed=0)
    A = validation.spd_with_spectrum(lam, seed=1)
    estimators = {"cheb": {"method": "chebyshev", "eps": 0.1}, "slq": {"method": "lanczos"},
                  "cheb eps too high": {"method": "chebyshev", "eps": 100.0}}
    res = lc.budget_errors(A, estimators, [100, 400], seeds=4, seed=2)
    assert res.estimates.shape == (3, 2, 4, 3) and res.rel_error.shape == (3, 2, 4, 3)
    torch.testing.assert_close(res.exact, lam.log().sum(-1))
    # one batched call on the matrices repeated per seed: row s * B + b is matrix b, draw s
    mp = lc.budget_settings("lanczos", 400, 30)
    direct = spectral.stochastic_logdet(dense_matvec(A.repeat(4, 1, 1)), 30, method="lanczos", seed=2, **mp)
    torch.testing.assert_close(res.estimates[1, 1], direct.view(4, 3))
    assert (res.estimates[1, 1, 0] != res.estimates[1, 1, 1]).all()  # independent probes per seed
    assert res.matvecs[1, 1].item() == mp["order"] * mp["probes"]
    # the spectrum check of the polynomial is collected, not shown: eps = 100 >= lambda_max
    assert res.flagged[2].all() and not res.flagged[1].any()
    # SLQ's error falls with the budget on this spectrum (quadrature bias and noise both shrink)
    assert res.mean_rel_error()[1, 1].mean() < res.mean_rel_error()[1, 0].mean()


def test_budget_gradients_and_route_times_on_a_small_generator():
    from gandensity.numerics import logdet_compare as lc

    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 8)).double()
    z = torch.randn(3, 3, dtype=torch.float64)
    weight = net[0].weight
    rows = lc.budget_gradients(net, z, [weight], {"cheb": {"method": "chebyshev", "eps": 1e-3},
                                                  "slq": {"method": "lanczos"}}, 3000, seed=0)
    assert [r.label for r in rows] == ["cheb", "slq"]
    mp = lc.budget_settings("lanczos", 3000, 3)
    assert rows[1].matvecs == 3 * mp["probes"]  # m capped at n = 3
    # the same numbers as gradient_agreement at the same settings
    ref = spectral.gradient_agreement(net, z, [weight], [mp["probes"]], seed=0, method="lanczos", order=mp["order"])
    torch.testing.assert_close(rows[1].cosine_z, ref[0].cosine_z)
    assert abs(rows[1].rel_error_params - ref[0].rel_error_params) < 1e-12
    for r in rows:  # ~1,000 probes on a 3 x 3 metric: close to exact
        assert r.cosine_z.min() > 0.98 and r.rel_error_params < 0.15 and r.seconds > 0
        assert ((r.norm_ratio_z - 1).abs() <= r.rel_error_z + 1e-12).all()  # triangle inequality
    times = lc.route_times(lambda n: nn.Sequential(nn.Linear(n, 12), nn.Tanh()).double(), [2, 4],
                           {"slq": {"method": "lanczos"}}, 40, batch_size=2)
    assert [t.latent_dim for t in times] == [2, 4]
    assert all(t.exact_seconds > 0 and t.seconds["slq"] > 0 for t in times)
    assert times[1].matvecs["slq"] == lc.matvec_cost("lanczos", **lc.budget_settings("lanczos", 40, 4), dim=4)


def test_deflated_gram_gradient_is_exact_when_everything_is_deflated_and_noisier_when_nothing_is():
    import pytest

    from gandensity.numerics import logdet_compare as lc

    torch.manual_seed(1)
    net = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 10)).double()
    z = torch.randn(3, 4, dtype=torch.float64)
    weight = net[2].weight
    metric = spectral.exact_metric(net, z)
    full, some, none = lc.deflated_gram_gradients(net, z, [weight], metric, [4, 2, 0], vectors=8, seed=0)
    # all four eigen-directions exact: no stochastic part is left, the gradient is the exact one
    assert full.deflate == 4 and full.vectors == 8
    assert full.rel_error_z.max() < 1e-8 and full.rel_error_params < 1e-8
    assert full.cosine_z.min() > 1 - 1e-10
    # nothing deflated: the plain Gram estimator with 8 vectors, unbiased but not exact
    assert none.rel_error_params > 1e-3 and some.rel_error_params < none.rel_error_params
    # unbiased: averaged over many vectors the plain estimator approaches the exact gradient
    many = lc.deflated_gram_gradients(net, z, [weight], metric, [0], vectors=4000, seed=1)[0]
    assert many.rel_error_params < 0.1 and many.rel_error_params < none.rel_error_params
    with pytest.raises(ValueError, match="deflate"):
        lc.deflated_gram_gradients(net, z, [weight], metric, [5], vectors=8)
    with pytest.raises(ValueError, match="vectors"):
        lc.deflated_gram_gradients(net, z, [weight], metric, [1], vectors=0)
    with pytest.raises(ValueError, match="metric"):
        lc.deflated_gram_gradients(net, z, [weight], metric[:2], [1], vectors=8)
