"""The stochastic log-determinant against exact values (slogdet, eigvalsh, closed-form polynomial interpolation).

Tolerances: deterministic parts (coefficients, diagonal matrices, for which Rademacher probes make Hutchinson's
estimator exact) to 1e-10; stochastic parts with a fixed seed and enough probes to a stated relative error.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from gandensity.numerics.hutchpp import hutchpp_logdet
from gandensity.numerics.lanczos import slq_logdet
from gandensity.numerics.spectral import hutchpp_split, metric_matvec, stochastic_logdet
from gandensity.numerics.spectral import chebyshev_coefficients, exact_metric, polynomial_logdet, power_method
from gandensity.numerics.operators import dense_matvec
from gandensity.numerics.validation import logdet_metric, logdet_route_costs
from gandensity.numerics.validation import spd_with_spectrum as spd

pytestmark = pytest.mark.usefixtures("float64")  # tests/conftest.py


def chebyshev_polynomial_logdet(eigenvalues: torch.Tensor, order: int, eps: float, nu: float) -> float:
    """sum_i p_m(lambda_i) with p_m numpy's Chebyshev interpolant of log on [eps, nu]: the estimator's target."""
    f = lambda x: np.log((nu - eps) / 2 * x + (nu + eps) / 2)  # noqa: E731
    coef = np.polynomial.chebyshev.chebinterpolate(f, order)
    x = (2 * eigenvalues.numpy() - (nu + eps)) / (nu - eps)
    return float(np.polynomial.chebyshev.chebval(x, coef).sum())


def test_chebyshev_coefficients_match_numpy():
    for order in (1, 5, 10, 30):
        ours = chebyshev_coefficients(lambda x: torch.log(0.45 * x + 0.55), order).numpy()
        ref = np.polynomial.chebyshev.chebinterpolate(lambda x: np.log(0.45 * x + 0.55), order)
        np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-12)
    scales = torch.tensor([[0.3], [0.45]])  # a batch of two functions
    both = chebyshev_coefficients(lambda x: torch.log(scales * x + 0.55), 8)
    assert both.shape == (2, 9)
    np.testing.assert_allclose(both[1].numpy(), np.polynomial.chebyshev.chebinterpolate(
        lambda x: np.log(0.45 * x + 0.55), 8), rtol=0, atol=1e-12)


@pytest.mark.parametrize("order", [3, 10, 25])
def test_diagonal_matrix_gives_the_polynomial_exactly(order):
    # For diagonal A, <v, p(A) v> = tr p(A) for every Rademacher v: only the polynomial error remains.
    lam = torch.tensor([[0.3, 1.0, 2.5, 7.0, 9.0]])
    A = torch.diag_embed(lam)
    est, lam_max = stochastic_logdet(dense_matvec(A), 5, order=order, probes=3, power_iters=200, g=1.0, eps=0.1,
                                     seed=0, return_lambda_max=True)
    assert abs(lam_max.item() - 9.0) < 1e-8
    ref = chebyshev_polynomial_logdet(lam[0], order, eps=0.1, nu=9.0)
    assert abs(est.item() - ref) < 1e-10
    assert abs(polynomial_logdet(lam, order=order, eps=0.1, nu=9.0).item() - ref) < 1e-10
    taylor = stochastic_logdet(dense_matvec(A), 5, order=order, probes=3, power_iters=200, g=1.0, method="taylor",
                               seed=0)
    x = 1 - lam[0].numpy() / 9.0
    ref = 5 * math.log(9.0) - sum((x ** i / i).sum() for i in range(1, order + 1))
    assert abs(taylor.item() - ref) < 1e-10
    assert abs(polynomial_logdet(lam, order=order, eps=0.1, nu=9.0, method="taylor").item() - ref) < 1e-10


def test_high_order_converges_to_the_exact_logdet():
    lam = torch.tensor([[0.2, 0.5, 1.0, 3.0, 8.0, 10.0]])
    exact = lam.log().sum().item()
    errors = [abs(stochastic_logdet(dense_matvec(torch.diag_embed(lam)), 6, order=m, probes=2, power_iters=300,
                                    eps=0.1, seed=0).item() - exact) for m in (5, 10, 20, 40, 100)]
    assert errors[-1] < 1e-6 and errors[0] > errors[2] > errors[-1]


def test_eigenvalues_below_eps_bias_the_estimate_upwards():
    # Spectrum {0.01, 1}, m = 10, eps = 0.1, g = 1.2: the interpolant of log on [0.1, 1.2], extrapolated to 0.01,
    # overestimates log det by 0.90 nats (numpy's interpolant gives the same; shared/README's "+2.3 nats" is
    # log(0.1 / 0.01), the bias of clamping the eigenvalue at eps, not of this polynomial).
    A = torch.diag_embed(torch.tensor([[0.01, 1.0]]))
    est = stochastic_logdet(dense_matvec(A), 2, order=10, probes=1, power_iters=100, g=1.2, eps=0.1, seed=0)
    bias = est.item() - math.log(0.01)
    assert abs(bias - (chebyshev_polynomial_logdet(torch.tensor([0.01, 1.0]), 10, 0.1, 1.2) - math.log(0.01))) < 1e-10
    assert 0.85 < bias < 0.95
    # With eps below the smallest eigenvalue and a higher order, the bias goes away.
    est = stochastic_logdet(dense_matvec(A), 2, order=200, probes=1, power_iters=100, g=1.2, eps=0.005, seed=0)
    assert abs(est.item() - math.log(0.01)) < 1e-3


def test_taylor_series_converges_on_a_well_conditioned_diagonal():
    lam = torch.tensor([[2.0, 3.0, 5.0, 9.0]])
    exact = lam.log().sum().item()
    est = [stochastic_logdet(dense_matvec(torch.diag_embed(lam)), 4, order=m, probes=1, power_iters=200,
                             g=1.0, method="taylor", seed=0).item() for m in (5, 20, 80)]
    errors = [abs(e - exact) for e in est]
    assert errors[2] < 1e-5 and errors[0] > errors[1] > errors[2]
    assert all(e > exact for e in est)  # every term of -sum x^i / i is negative: the truncation overestimates


# Taylor needs an order of the condition number (here 20 * g / 0.5 = 48) where Chebyshev needs its square root;
# Lanczos quadrature with 20 steps is exact to ~1e-6 on this spectrum, so only Hutchinson's noise is left (~1.3%).
@pytest.mark.parametrize("method,order,tolerance", [("chebyshev", 40, 0.03), ("taylor", 200, 0.03),
                                                    ("lanczos", 20, 0.03), ("hutchpp", 20, 0.03)])
def test_dense_spd_matrices_within_stated_relative_error(method, order, tolerance):
    n, B = 40, 6
    lam = torch.exp(torch.linspace(math.log(0.5), math.log(20.0), n)).expand(B, n)
    A = spd(lam, seed=1)
    exact = torch.linalg.slogdet(A)[1]
    est = stochastic_logdet(dense_matvec(A), n, order=order, probes=400, power_iters=50, eps=0.1, method=method,
                            seed=2)
    rel = ((est - exact) / exact.abs()).abs().max().item()
    assert rel < tolerance, f"{method}: max relative error {rel:.3g}"


def test_quadrature_methods_are_slq_and_hutchpp_with_the_same_seed():
    A = spd(torch.rand(3, 12, generator=torch.Generator().manual_seed(4)) + 0.1)
    est = stochastic_logdet(dense_matvec(A), 12, method="lanczos", order=6, probes=9, seed=5)
    torch.testing.assert_close(est, slq_logdet(dense_matvec(A), 12, steps=6, probes=9, seed=5).logdet,
                               rtol=0, atol=0)
    k, p = hutchpp_split(20, 12)
    assert (k, p) == (3, 14)  # a third of the vectors to the sketch [S, M S], two thirds to the probes
    est = stochastic_logdet(dense_matvec(A), 12, method="hutchpp", order=6, probes=20, seed=5)
    torch.testing.assert_close(est, hutchpp_logdet(dense_matvec(A), 12, sketch=k, sketch_steps=2, steps=6,
                                                   probes=p, seed=5).logdet, rtol=0, atol=0)
    assert hutchpp_split(20, 12, sketch=9) == (6, 8)  # k capped at n / 2
    # lambda_max comes from the power method on request (the quadrature methods do not need it)
    gapped = spd(torch.cat([torch.linspace(0.1, 1.0, 11), torch.tensor([3.0])])[None], seed=6)
    est, lam = stochastic_logdet(dense_matvec(gapped), 12, method="lanczos", power_iters=100, seed=5,
                                 return_lambda_max=True)
    torch.testing.assert_close(lam, torch.tensor([3.0]), rtol=1e-10, atol=0)


def test_lanczos_is_right_where_chebyshev_at_the_papers_eps_is_biased():
    # log-uniform 1e-3..1e2 (condition 1e5, like a trained DCGAN's metric), the paper's eps = 0.1: most eigenvalues lie
    # below eps and the polynomial is extrapolated there; Lanczos needs no interval. Equal budgets: 21 + 20 * 49 = 1001
    # and 40 * 25 = 1000 matvecs; 5 matrices, the same probes' noise scale.
    u = torch.rand(5, 60, generator=torch.Generator().manual_seed(6))
    lam = torch.exp(math.log(1e-3) + u * math.log(1e5))
    A, exact = spd(lam, seed=7), lam.log().sum(-1)
    # (no warning: eigenvalues below eps are invisible to the power method and to the probes' quadratic forms)
    cheb = stochastic_logdet(dense_matvec(A), 60, order=20, probes=49, eps=0.1, seed=1)
    slq = stochastic_logdet(dense_matvec(A), 60, method="lanczos", order=40, probes=25, seed=1)
    rel_cheb = ((cheb - exact) / exact.abs()).abs()
    rel_slq = ((slq - exact) / exact.abs()).abs()
    # measured: Chebyshev 0.6-1.4 (bias), Lanczos 0.06-0.14 (mostly Hutchinson's noise, ~0.11 expected at p = 25)
    assert rel_cheb.min() > 0.4 and rel_slq.max() < 0.25 and rel_cheb.mean() > 5 * rel_slq.mean()


def matrix_family(n: int = 8, seed: int = 3):
    """A (1, n, n) SPD matrix with spectrum 0.5..5 as a leaf tensor, and autograd's d log det / dA = A^{-T}."""
    A = spd(torch.linspace(0.5, 5.0, n)[None], seed=seed).clone().requires_grad_()
    return A, torch.autograd.grad(torch.linalg.slogdet(A)[1].sum(), A)[0]


@pytest.mark.parametrize("method,settings", [("chebyshev", dict(order=30, eps=0.4)), ("taylor", dict(order=120)),
                                             ("lanczos", dict(order=8)), ("hutchpp", dict(order=8, sketch=1))])
def test_matrix_entry_gradients_match_autograd_through_slogdet(method, settings):
    A, ref = matrix_family()
    est = stochastic_logdet(dense_matvec(A), 8, method=method, probes=3000, power_iters=100, seed=2, **settings)
    got = torch.autograd.grad(est.sum(), A)[0]
    cos = (got * ref).sum() / (got.norm() * ref.norm())
    rel = ((got - ref).norm() / ref.norm()).item()
    # Hutchinson noise of the matrix gradient at p = 3000 is ~sqrt(n / p) ~ 5% relative.
    assert cos > 0.99 and rel < 0.12, f"{method}: cosine {cos:.4f}, relative error {rel:.3f}"
    few = stochastic_logdet(dense_matvec(A), 8, method=method, probes=3, power_iters=100, seed=2, **settings)
    rel_few = ((torch.autograd.grad(few.sum(), A)[0] - ref).norm() / ref.norm()).item()
    assert rel_few > 2 * rel  # more probes, less noise: the comparison above is not vacuous


def test_power_method_finds_lambda_max():
    A = spd(torch.tensor([[0.1, 1.0, 2.0, 5.0], [1.0, 1.0, 1.0, 3.0]]))
    lam = power_method(dense_matvec(A), torch.randn(2, 4, generator=torch.Generator().manual_seed(0)), 200)
    torch.testing.assert_close(lam, torch.tensor([5.0, 3.0]), rtol=1e-10, atol=0)


def test_seed_reproduces_and_vectorized_equals_looped():
    A = spd(torch.rand(3, 10, generator=torch.Generator().manual_seed(3)) + 0.5)
    a = stochastic_logdet(dense_matvec(A), 10, seed=7)
    b = stochastic_logdet(dense_matvec(A), 10, seed=7)
    c = stochastic_logdet(dense_matvec(A), 10, seed=7, vectorize=False)
    assert torch.equal(a, b)
    torch.testing.assert_close(a, c, rtol=1e-12, atol=1e-12)
    assert not torch.equal(a, stochastic_logdet(dense_matvec(A), 10, seed=8))


class SmallGenerator(nn.Module):
    def __init__(self, n: int = 4, m: int = 24) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n, 16), nn.Tanh(), nn.Linear(16, m))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(-1, 2, 12)  # image-shaped output: the matvec must flatten nothing itself


def small_generator() -> SmallGenerator:
    torch.manual_seed(0)
    return SmallGenerator().double()


@pytest.mark.parametrize("method", ["chebyshev", "taylor", "lanczos", "hutchpp"])
def test_probe_chunks_give_the_unchunked_estimate_and_bound_each_call(method):
    # Issue 13: probes go through vmap probe_chunk at a time. Values and gradients equal the one-call result up to
    # rounding, and the number of matvec calls shows the chunking (each vmapped call traces matvec once).
    G = small_generator()
    z = torch.randn(3, 4, generator=torch.Generator().manual_seed(1)).requires_grad_()
    weight = G.net[0].weight
    results = {}
    for chunk in (1, 3, None):
        mv = metric_matvec(G, z)
        calls = []

        def counted(v: torch.Tensor, mv=mv, calls=calls) -> torch.Tensor:
            calls.append(1)
            return mv(v)

        est = stochastic_logdet(counted, 4, method=method, order=3, probes=7, power_iters=5, eps=1e-3, seed=4,
                                batch_size=3, dtype=torch.float64, probe_chunk=chunk)
        results[chunk] = (est.detach(), *torch.autograd.grad(est.sum(), [z, weight]), len(calls))
    for chunk in (1, 3):
        for got, want in zip(results[chunk][:3], results[None][:3]):
            torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)
    if method in ("chebyshev", "taylor"):  # t + 1 power-method calls, then the order's products of 7 probes
        for chunk, per_product in ((1, 7), (3, 3), (None, 1)):
            assert results[chunk][3] == 5 + 1 + 3 * per_product
    else:
        assert results[1][3] > results[3][3] > results[None][3]


def test_metric_matvec_matches_the_dense_metric():
    G = small_generator()
    z = torch.randn(5, 4, generator=torch.Generator().manual_seed(1))
    M = exact_metric(G, z)
    V = torch.randn(5, 4, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(metric_matvec(G, z)(V), (M @ V.unsqueeze(-1)).squeeze(-1), rtol=1e-12, atol=1e-12)


def test_generator_logdet_within_stated_tolerance():
    G = small_generator()
    z = torch.randn(8, 4, generator=torch.Generator().manual_seed(1))
    exact = torch.linalg.slogdet(exact_metric(G, z))[1]
    lam_min = torch.linalg.eigvalsh(exact_metric(G, z))[:, 0].min().item()
    est = stochastic_logdet(metric_matvec(G, z), 4, order=40, probes=2000, eps=0.5 * lam_min, seed=0)
    assert (est - exact).abs().max().item() < 0.1  # nats


def exact_logdet_sum(G: nn.Module, z: torch.Tensor) -> torch.Tensor:
    J = torch.func.vmap(torch.func.jacfwd(G))(z).reshape(z.shape[0], -1, z.shape[1])
    return torch.linalg.slogdet(J.transpose(1, 2) @ J)[1].sum()


@pytest.mark.parametrize("method,order,probes", [("chebyshev", 40, 2000), ("taylor", 150, 400),
                                                  ("lanczos", 4, 1000), ("hutchpp", 4, 1000)])
def test_spectral_backprop_matches_autograd_through_the_exact_logdet(method, order, probes):
    # Paper 001, Eq. 3: the estimator's gradient, for parameters and for z; for the quadrature methods the
    # conjugate-gradient estimate (Gram vectors M^{-1} J^T xi, the default for a generator's metric).
    G = small_generator()
    z = torch.randn(4, 4, generator=torch.Generator().manual_seed(1)).requires_grad_()
    weight = G.net[0].weight
    gz_exact, gw_exact = torch.autograd.grad(exact_logdet_sum(G, z), [z, weight])
    lam_min = torch.linalg.eigvalsh(exact_metric(G, z.detach()))[:, 0].min().item()
    est = stochastic_logdet(metric_matvec(G, z), 4, method=method, order=order, probes=probes, eps=0.5 * lam_min,
                            power_iters=50, seed=0)
    gz, gw = torch.autograd.grad(est.sum(), [z, weight])
    for name, ours, ref in (("z", gz, gz_exact), ("weight", gw, gw_exact)):
        rel = ((ours - ref).norm() / ref.norm()).item()
        assert rel < 0.1, f"{method}: gradient wrt {name}: relative error {rel:.3g}"


def test_lambda_max_is_differentiable_like_the_top_eigenvalue():
    G = small_generator()
    z = torch.randn(3, 4, generator=torch.Generator().manual_seed(1))
    weight = G.net[0].weight
    _, lam = stochastic_logdet(metric_matvec(G, z), 4, power_iters=300, seed=0, return_lambda_max=True)
    J = torch.func.vmap(torch.func.jacfwd(G))(z).reshape(3, -1, 4)
    top = torch.linalg.eigvalsh(J.transpose(1, 2) @ J)[:, -1]
    torch.testing.assert_close(lam, top, rtol=1e-8, atol=0)
    ours = torch.autograd.grad(lam.sum(), weight)[0]
    ref = torch.autograd.grad(top.sum(), weight)[0]
    torch.testing.assert_close(ours, ref, rtol=1e-6, atol=1e-10)


def test_float32_generator_works_and_returns_float32():
    G = small_generator().float()
    z = torch.randn(2, 4, dtype=torch.float32)
    est = stochastic_logdet(metric_matvec(G, z), 4, seed=0)
    assert est.dtype == torch.float32 and est.shape == (2,) and torch.isfinite(est).all()


def test_batch_size_is_inferred_from_a_broadcasting_matvec():
    A = spd(torch.tensor([[1.0, 2.0, 3.0], [1.0, 1.0, 4.0]]))
    est = stochastic_logdet(dense_matvec(A), 3, seed=0, dtype=torch.float64)
    assert est.shape == (2,)


def test_bad_inputs_are_clear_errors():
    A = spd(torch.tensor([[1.0, 2.0, 3.0]]))
    mv = dense_matvec(A)
    with pytest.raises(ValueError, match="unknown method 'slq'"):
        stochastic_logdet(mv, 3, method="slq")
    with pytest.raises(ValueError, match="probe_chunk must be a positive int"):
        stochastic_logdet(mv, 3, probe_chunk=0)
    with pytest.raises(ValueError, match="sketch is a setting of method='hutchpp' only"):
        stochastic_logdet(mv, 3, sketch=2)
    with pytest.raises(ValueError, match="order must be an integer >= 1"):
        stochastic_logdet(mv, 3, order=0)
    with pytest.raises(ValueError, match="g must be >= 1"):
        stochastic_logdet(mv, 3, g=0.9)
    with pytest.raises(ValueError, match="eps must be > 0"):
        stochastic_logdet(mv, 3, eps=0.0)
    with pytest.raises(ValueError, match="pass batch_size=B"):
        stochastic_logdet(lambda V: torch.bmm(A.expand(2, 3, 3), V.unsqueeze(-1)).squeeze(-1), 3)
    with pytest.raises(ValueError, match="matvec produced NaN"):
        stochastic_logdet(lambda V: V * float("nan"), 3, batch_size=1)
    with pytest.raises(ValueError, match="shape"):
        stochastic_logdet(lambda V: V[:, :2], 3)
    G = nn.Sequential(nn.Linear(2, 8), nn.BatchNorm1d(8), nn.Linear(8, 4))
    with pytest.raises(ValueError, match="generator.eval"):
        metric_matvec(G, torch.randn(3, 2))


def test_spd_with_spectrum_has_that_spectrum():
    lam = torch.tensor([[0.1, 2.0, 30.0], [1.0, 1.0, 5.0]])
    torch.testing.assert_close(torch.linalg.eigvalsh(spd(lam, seed=3)), lam.sort(-1).values, rtol=1e-12, atol=1e-12)


def test_route_costs_agree_with_each_other():
    G = small_generator()
    rows = logdet_route_costs(lambda n: G, [4], batch_size=3, order=40, probes=500, eps=1e-3)
    exact = logdet_metric(G, torch.randn(3, 4, generator=torch.Generator().manual_seed(0)))
    assert rows[0].latent_dim == 4 and rows[0].matvecs == 20 + 1 + 40 * 500
    assert rows[0].median_abs_error < 0.2 and rows[0].exact_seconds > 0 and torch.isfinite(exact).all()
