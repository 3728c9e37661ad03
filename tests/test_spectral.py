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

from gandensity.numerics.spectral import metric_matvec, stochastic_logdet
from gandensity.numerics.spectral import chebyshev_coefficients, exact_metric, polynomial_logdet, power_method
from gandensity.numerics.operators import dense_matvec
from gandensity.numerics.validation import logdet_route_costs, metric_logdet
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


# Taylor needs an order of the condition number (here 20 * g / 0.5 = 48) where Chebyshev needs its square root.
@pytest.mark.parametrize("method,order,tolerance", [("chebyshev", 40, 0.03), ("taylor", 200, 0.03)])
def test_dense_spd_matrices_within_stated_relative_error(method, order, tolerance):
    n, B = 40, 6
    lam = torch.exp(torch.linspace(math.log(0.5), math.log(20.0), n)).expand(B, n)
    A = spd(lam, seed=1)
    exact = torch.linalg.slogdet(A)[1]
    est = stochastic_logdet(dense_matvec(A), n, order=order, probes=400, power_iters=50, eps=0.1, method=method,
                            seed=2)
    rel = ((est - exact) / exact.abs()).abs().max().item()
    assert rel < tolerance, f"{method}: max relative error {rel:.3g}"


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


def test_spectral_backprop_matches_autograd_through_the_exact_logdet():
    # Paper 001, Eq. 3: the estimator's gradient, for parameters and for z.
    G = small_generator()
    z = torch.randn(4, 4, generator=torch.Generator().manual_seed(1)).requires_grad_()
    weight = G.net[0].weight
    gz_exact, gw_exact = torch.autograd.grad(exact_logdet_sum(G, z), [z, weight])
    lam_min = torch.linalg.eigvalsh(exact_metric(G, z.detach()))[:, 0].min().item()
    est = stochastic_logdet(metric_matvec(G, z), 4, order=40, probes=2000, eps=0.5 * lam_min, seed=0)
    gz, gw = torch.autograd.grad(est.sum(), [z, weight])
    for name, ours, ref in (("z", gz, gz_exact), ("weight", gw, gw_exact)):
        rel = ((ours - ref).norm() / ref.norm()).item()
        assert rel < 0.1, f"gradient wrt {name}: relative error {rel:.3g}"


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
    with pytest.raises(ValueError, match="unknown method 'lanczos'"):
        stochastic_logdet(mv, 3, method="lanczos")
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
    exact = metric_logdet(G, torch.randn(3, 4, generator=torch.Generator().manual_seed(0)))
    assert rows[0].latent_dim == 4 and rows[0].matvecs == 20 + 1 + 40 * 500
    assert rows[0].median_abs_error < 0.2 and rows[0].exact_seconds > 0 and torch.isfinite(exact).all()
