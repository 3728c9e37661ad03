"""Stochastic Lanczos quadrature, Hutch++ and the conjugate-gradient gradient of log det, against dense references.

References: torch.linalg.slogdet / eigh of the dense matrix, v^T log(M) v from its eigendecomposition, moments
v^T M^k v, autograd through slogdet, and the exact log det(J^T J) of a tiny generator
(:func:`gandensity.numerics.validation.logdet_metric`). Deterministic identities are checked to rounding;
stochastic ones with fixed seeds and thresholds several standard errors wide (derived in each test).
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from gandensity.numerics.hutchpp import hutchpp_logdet
from gandensity.numerics.lanczos import (batched, conjugate_gradient, gauss_quadrature, lanczos, rademacher,
                                         slq_logdet)
from gandensity.numerics.spectral import metric_matvec
from gandensity.numerics.validation import logdet_metric

pytestmark = pytest.mark.usefixtures("float64", "one_thread")  # tests/conftest.py


def spd(eigenvalues: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """(B, n, n) Q diag(lambda) Q^T with Haar-random Q."""
    g = torch.Generator().manual_seed(seed)
    q = torch.linalg.qr(torch.randn(*eigenvalues.shape, eigenvalues.shape[-1], generator=g))[0]
    return q @ torch.diag_embed(eigenvalues) @ q.transpose(-1, -2)


def log_uniform(count: int, n: int, low: float = 1e-3, high: float = 1e2, seed: int = 0) -> torch.Tensor:
    u = torch.rand(count, n, generator=torch.Generator().manual_seed(seed))
    return torch.exp(math.log(low) + u * (math.log(high) - math.log(low)))


def dense(A: torch.Tensor):
    def matvec(v: torch.Tensor) -> torch.Tensor:
        return torch.einsum("bij,bj->bi", A, v)
    return matvec


def quad_log(A: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
    """v^T log(A) v for V (p, B, n), from the eigendecomposition: (p, B)."""
    lam, U = torch.linalg.eigh(A)
    logA = U @ torch.diag_embed(lam.log()) @ U.transpose(-1, -2)
    return torch.einsum("pbi,bij,pbj->pb", V, logA, V)


# ------------------------------------------------------------------ Lanczos and Gauss quadrature


def test_lanczos_basis_is_orthonormal_and_tridiagonalises():
    A = spd(log_uniform(2, 30), seed=1)
    start = torch.randn(3, 2, 30, generator=torch.Generator().manual_seed(0))
    lz = lanczos(batched(dense(A), True), start, 12)
    Q = lz.basis.transpose(-1, -2)  # (N, B, n, m)
    eye = torch.eye(12).expand(3, 2, 12, 12)
    assert (Q.transpose(-1, -2) @ Q - eye).abs().max() < 1e-12
    T = torch.diag_embed(lz.alpha) + torch.diag_embed(lz.beta, 1) + torch.diag_embed(lz.beta, -1)
    assert (Q.transpose(-1, -2) @ A[None] @ Q - T).abs().max() < 1e-9 * A.abs().max()
    assert torch.allclose(lz.norm, start.norm(dim=-1))


def test_gauss_quadrature_is_exact_up_to_degree_2m_minus_1_only():
    A = spd(torch.linspace(0.5, 3.0, 25)[None], seed=2)
    v = torch.randn(1, 1, 25, generator=torch.Generator().manual_seed(1))
    m = 5
    lz = lanczos(batched(dense(A), True), v, m)
    for k in range(0, 2 * m + 1):
        exact = (v[0, 0] @ torch.linalg.matrix_power(A[0], k) @ v[0, 0]).item()
        gauss = (lz.norm ** 2 * gauss_quadrature(lz.alpha, lz.beta, lambda x: x ** k)).item()
        if k <= 2 * m - 1:
            assert abs(gauss - exact) < 1e-9 * abs(exact), k
        else:  # degree 2m: the Gauss rule errs (a wrong node count would pass or fail the wrong k)
            assert abs(gauss - exact) > 1e-6 * abs(exact)


def test_m_equals_n_with_one_probe_gives_the_quadratic_form_exactly():
    lam = log_uniform(3, 20, seed=3)
    # Diagonal: v^T log(D) v = sum log d_i for every Rademacher v, so the estimate is log det exactly.
    est = slq_logdet(dense(torch.diag_embed(lam)), 20, steps=20, probes=1, seed=0, batch_size=3)
    assert (est.logdet - lam.log().sum(-1)).abs().max() < 1e-8
    # Non-diagonal: each probe's value is v^T log(M) v of the same probe (regenerated from the seed).
    A = spd(lam, seed=4)
    est = slq_logdet(dense(A), 20, steps=20, probes=4, seed=7, batch_size=3)
    V = rademacher((4, 3, 20), torch.float64, torch.device("cpu"), torch.Generator().manual_seed(7))
    assert (est.per_probe - quad_log(A, V).T).abs().max() < 1e-8
    assert est.matvecs == 4 * 20
    # steps > n is capped at n (the Krylov space cannot grow) and stays exact.
    capped = slq_logdet(dense(A), 20, steps=50, probes=4, seed=7, batch_size=3)
    assert capped.matvecs == 80 and (capped.per_probe - est.per_probe).abs().max() < 1e-8


def test_breakdown_gives_exact_finite_values_not_nan():
    # Three distinct eigenvalues: the Krylov space is invariant after 3 steps; steps beyond must not give NaN.
    lam = torch.tensor([[0.5] * 6 + [2.0] * 6 + [7.0] * 6])
    A = spd(lam, seed=5)
    est = slq_logdet(dense(A), 18, steps=12, probes=3, seed=0, batch_size=1)
    V = rademacher((3, 1, 18), torch.float64, torch.device("cpu"), torch.Generator().manual_seed(0))
    assert torch.isfinite(est.per_probe).all()
    assert (est.per_probe - quad_log(A, V).T).abs().max() < 1e-8
    # and the recursion stops there: rounding residuals are not normalised into new directions
    lz = lanczos(batched(dense(A), True), V, 12)
    assert (lz.beta[..., :2] > 1e-3).all() and (lz.beta[..., 2:] == 0).all() and (lz.alpha[..., 3:] == 1).all()
    assert (lz.basis[:, :, 3:] == 0).all()
    # The identity: one step, exact, beta = 0 immediately.
    est = slq_logdet(dense(torch.eye(5)[None] * 3.0), 5, steps=5, probes=2, seed=0, batch_size=1)
    assert abs(est.logdet.item() - 5 * math.log(3.0)) < 1e-12


# ------------------------------------------------------------------ SLQ against slogdet


def test_slq_bias_falls_with_steps_and_is_positive_for_log():
    # log-uniform 1e-3..1e2: the Gauss rule overestimates integrals of log (its even derivatives are < 0), so
    # with few steps the estimate is too high; the bias shrinks with m and vanishes at m = n.
    lam = log_uniform(4, 60, seed=6)
    A, exact = spd(lam, seed=7), lam.log().sum(-1)
    err = {m: slq_logdet(dense(A), 60, steps=m, probes=30, seed=1, batch_size=4) for m in (5, 15, 30, 60)}
    bias = {m: (e.logdet - exact).mean().item() for m, e in err.items()}
    assert bias[5] > bias[15] > bias[30] > 0
    # At m = n only Hutchinson's noise is left: each estimate within 4 standard errors of the truth.
    z = (err[60].logdet - exact) / err[60].stderr
    assert z.abs().max() < 4
    assert bias[5] > 10 * err[5].stderr.mean()  # the bias is no noise artefact


def test_slq_error_falls_with_probes_like_one_over_sqrt_p():
    # Uniform spectrum on [0.5, 2]: 12 steps make the quadrature exact to ~1e-12, so the error is Hutchinson's.
    lam = 0.5 + 1.5 * torch.rand(24, 40, generator=torch.Generator().manual_seed(8))
    A, exact = spd(lam, seed=9), lam.log().sum(-1)
    rms = {}
    for p in (4, 100):
        est = slq_logdet(dense(A), 40, steps=12, probes=p, seed=2, batch_size=24)
        rms[p] = (est.logdet - exact).pow(2).mean().sqrt().item()
    # standardized errors at p = 100 (the stderr of 4 probes is itself too noisy): RMS ~ 1 if unbiased and the
    # error bars are right; over 24 matrices the RMS of N(0, 1) draws lies in [0.6, 1.4] with probability > 0.99
    z = (est.logdet - exact) / est.stderr
    assert 0.6 < z.pow(2).mean().sqrt().item() < 1.4
    # 25x the probes: 5x less error expected; RMS over 24 matrices varies by ~15%, so > 3x is safe.
    assert rms[4] / rms[100] > 3


def test_vectorized_and_looped_probes_agree_and_float32_works():
    lam = log_uniform(2, 16, 0.1, 10.0, seed=10)
    A = spd(lam, seed=11)
    a = slq_logdet(dense(A), 16, steps=8, probes=5, seed=3, batch_size=2)
    b = slq_logdet(dense(A), 16, steps=8, probes=5, seed=3, batch_size=2, vectorize=False)
    assert (a.per_probe - b.per_probe).abs().max() < 1e-10
    A32 = A.float()
    c = slq_logdet(dense(A32), 16, steps=8, probes=5, seed=3, dtype=torch.float32)  # B inferred
    assert c.logdet.dtype == torch.float32 and c.logdet.shape == (2,)
    assert (c.per_probe.double() - a.per_probe).abs().max() < 1e-3


# ------------------------------------------------------------------ Hutch++


def test_hutchpp_with_a_full_sketch_is_exact():
    lam = log_uniform(3, 12, seed=12)
    A = spd(lam, seed=13)
    est = hutchpp_logdet(dense(A), 12, sketch=12, sketch_steps=1, steps=12, probes=3, seed=0, batch_size=3)
    assert (est.logdet - lam.log().sum(-1)).abs().max() < 1e-8
    assert (est.per_probe - est.per_probe[:, :1]).abs().max() < 1e-8  # no probe variance left
    assert est.matvecs == (12 + 3) * 12
    # SLQ at the same budget is not exact (Hutchinson's noise), so this is no property of any estimator.
    slq = slq_logdet(dense(A), 12, steps=12, probes=15, seed=0, batch_size=3)
    assert (slq.logdet - lam.log().sum(-1)).abs().max() > 1e-3


def test_hutchpp_is_unbiased_and_beats_slq_on_a_spectrum_with_a_heavy_top():
    # 8 eigenvalues 1e2..1e4 (|log| up to 9) on a bulk in [0.5, 2] (|log| < 0.7): log(M) is nearly low rank, so
    # deflating the Krylov sketch removes most of Hutchinson's variance. Equal budgets: (8*2 + 16) * 16 = 512
    # for Hutch++, 32 * 16 = 512 for SLQ; 16 steps make the quadrature exact to < 1e-3 here.
    B, n = 16, 80
    g = torch.Generator().manual_seed(14)
    lam = torch.cat([10 ** (2 + 2 * torch.rand(B, 8, generator=g)), 0.5 + 1.5 * torch.rand(B, n - 8, generator=g)], 1)
    A, exact = spd(lam, seed=15), lam.log().sum(-1)
    hpp = hutchpp_logdet(dense(A), n, sketch=8, sketch_steps=2, steps=16, probes=16, seed=4, batch_size=B)
    slq = slq_logdet(dense(A), n, steps=16, probes=32, seed=4, batch_size=B)
    assert hpp.matvecs == slq.matvecs == 512
    rms_h = (hpp.logdet - exact).pow(2).mean().sqrt()
    rms_s = (slq.logdet - exact).pow(2).mean().sqrt()
    assert rms_h < 0.3 * rms_s
    z = (hpp.logdet - exact) / hpp.stderr
    assert 0.5 < z.pow(2).mean().sqrt().item() < 1.6  # its error bars are honest


# ------------------------------------------------------------------ gradients


def quadratic_family(seed: int = 16, n: int = 6, c: float = 0.5):
    theta = (torch.randn(9, n, generator=torch.Generator().manual_seed(seed)) / 3).requires_grad_()

    def matvec(v: torch.Tensor) -> torch.Tensor:
        return v @ (theta.T @ theta) + c * v  # M(theta) = A^T A + c I (symmetric)

    exact = torch.linalg.slogdet(theta.T @ theta + c * torch.eye(n))[1]
    return theta, matvec, torch.autograd.grad(exact, theta)[0]


def test_gradient_is_the_cg_trace_estimate_with_the_same_probes():
    # The backward must give (1/p) sum_j (M^{-1} v_j)^T dM v_j exactly (to the CG tolerance), probes from the seed.
    theta, matvec, _ = quadratic_family()
    est = slq_logdet(matvec, 6, steps=3, probes=7, seed=5, batch_size=1, cg_tol=1e-12)
    got = torch.autograd.grad(est.logdet.sum(), theta)[0]
    V = rademacher((7, 1, 6), torch.float64, torch.device("cpu"), torch.Generator().manual_seed(5))[:, 0]
    M = (theta.T @ theta + 0.5 * torch.eye(6)).detach()
    U = torch.linalg.solve(M, V.T).T  # (p, n)
    want = torch.autograd.grad((U[:, :, None] * (theta.T @ theta)[None] * V[:, None, :]).sum() / 7, theta)[0]
    assert (got - want).abs().max() < 1e-9 * want.abs().max()


@pytest.mark.parametrize("estimator", ["slq", "hutchpp"])
def test_gradient_matches_autograd_through_slogdet(estimator):
    theta, matvec, ref = quadratic_family()
    if estimator == "slq":
        est = slq_logdet(matvec, 6, steps=6, probes=4000, seed=6, batch_size=1)
    else:  # a 2-column sketch, so the deflated part still carries probe noise
        est = hutchpp_logdet(matvec, 6, sketch=2, sketch_steps=1, steps=6, probes=4000, seed=6, batch_size=1)
    got = torch.autograd.grad(est.logdet.sum(), theta)[0]
    cos = (got * ref).sum() / (got.norm() * ref.norm())
    # Hutchinson noise of the gradient at p = 4000: ~sqrt(2 |M^{-1} dM|_F^2 / p) relative, a few percent here.
    assert cos > 0.99 and (got - ref).norm() / ref.norm() < 0.1
    # and with few probes it is visibly noisier (the comparison above is not vacuous)
    few = slq_logdet(matvec, 6, steps=6, probes=3, seed=6, batch_size=1)
    g3 = torch.autograd.grad(few.logdet.sum(), theta)[0]
    assert (g3 - ref).norm() / ref.norm() > 2 * (got - ref).norm() / ref.norm()


def tiny_generator():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 10, bias=False))
    z = torch.randn(3, 4, generator=torch.Generator().manual_seed(17)).requires_grad_()
    return net, list(net.parameters()), z


def test_generator_gradient_is_the_cg_trace_estimate_with_the_same_probes():
    # Exact identity through metric_matvec's closure: d/d(z, weights) of (1/p) sum_j u_j^T J^T J v_j with
    # u_j = M^{-1} v_j held fixed, J from autograd (dense), the probes regenerated from the seed.
    net, params, z = tiny_generator()
    est = slq_logdet(metric_matvec(net, z), 4, steps=2, probes=5, seed=9, cg_tol=1e-12, gradient="hutchinson")
    got = torch.autograd.grad(est.logdet.sum(), [z, *params])
    V = rademacher((5, 3, 4), torch.float64, torch.device("cpu"), torch.Generator().manual_seed(9))
    J = torch.stack([torch.autograd.functional.jacobian(lambda x: net(x[None])[0], zb, create_graph=True)
                     for zb in z])  # (B, 10, 4), differentiable in z and the weights
    M = J.transpose(1, 2) @ J
    U = torch.linalg.solve(M.detach()[None], V[..., None])[..., 0]
    want = torch.autograd.grad(torch.einsum("pbi,bij,pbj->", U, M, V) / 5, [z, *params])
    for g, w in zip(got, want):
        assert (g - w).abs().max() < 1e-8 * w.abs().max()


def test_gram_gradient_is_the_solved_quadratic_form_with_the_same_draws():
    # gradient="gram": d/d(z, weights) of (1/q) sum_j w_j^T J^T J w_j with w_j = M^{-1} J^T xi_j held fixed, the
    # xi_j ~ N(0, I) (output space) drawn from the seed's generator after the probes.
    net, params, z = tiny_generator()
    est = slq_logdet(metric_matvec(net, z), 4, steps=2, probes=5, seed=9, cg_tol=1e-12, gradient="gram",
                     gradient_probes=6)
    got = torch.autograd.grad(est.logdet.sum(), [z, *params])
    rng = torch.Generator().manual_seed(9)
    rademacher((5, 3, 4), torch.float64, torch.device("cpu"), rng)  # the probes come first
    xi = torch.randn((6, 3, 10), generator=rng)
    J = torch.stack([torch.autograd.functional.jacobian(lambda x: net(x[None])[0], zb, create_graph=True)
                     for zb in z])  # (B, 10, 4)
    M = J.transpose(1, 2) @ J
    Y = torch.einsum("bmi,qbm->qbi", J.detach(), xi)
    W = torch.linalg.solve(M.detach()[None], Y[..., None])[..., 0]
    want = torch.autograd.grad(torch.einsum("qbi,bij,qbj->", W, M, W) / 6, [z, *params])
    for g, w in zip(got, want):
        assert (g - w).abs().max() < 1e-8 * w.abs().max()


def ill_conditioned_generator():
    """n = 4 -> 12 outputs, metric condition 4e2 .. 4e4 over the latents (last layer's singular values 1 .. 0.1)."""
    torch.manual_seed(1)
    net = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 12, bias=False))
    with torch.no_grad():
        U, _, Vh = torch.linalg.svd(net[2].weight, full_matrices=False)
        net[2].weight.copy_(U[:, :4] @ torch.diag(torch.logspace(0, -1, 4)) @ Vh[:4])
    z = torch.randn(6, 4, generator=torch.Generator().manual_seed(2)).requires_grad_()
    return net, list(net.parameters()), z


def test_gram_gradient_is_unbiased_and_far_less_noisy_than_hutchinson_on_an_ill_conditioned_metric():
    net, params, z = ill_conditioned_generator()
    exact = logdet_metric(net, z)
    ref = torch.autograd.grad(exact.sum(), [z, *params])
    cond = torch.linalg.cond(torch.func.vmap(torch.func.jacrev(lambda x: net(x[None])[0]))(z.detach())) ** 2
    assert cond.max() > 1e4  # the regime where the two estimators differ
    rel = {}
    for route in ("gram", "hutchinson"):
        est = slq_logdet(metric_matvec(net, z), 4, steps=4, probes=200, seed=3, gradient=route)
        got = torch.autograd.grad(est.logdet.sum(), [z, *params])
        rel[route] = [((g - r).norm() / r.norm()).item() for g, r in zip(got, ref)]
    # Gram: relative noise sqrt(2 |M^-1/2 dM M^-1/2|_F^2 / q) / |grad|, 10-30% at q = 200 here (0.1-0.3 measured
    # over seeds; it falls like 1/sqrt(q) and the estimator is unbiased: tests above).
    assert max(rel["gram"]) < 0.5
    # Hutchinson's noise carries dM_ij / lambda_i instead of dM_ij / sqrt(lambda_i lambda_j): 3.5-9x the gradient
    # here, 17-60 times Gram's error (measured over seeds).
    assert all(h > 5 * g for g, h in zip(rel["gram"], rel["hutchinson"]))


def test_gradient_route_is_checked():
    theta, matvec, _ = quadratic_family()
    with pytest.raises(ValueError, match="gradient='gram' needs M = J\\^T J"):
        slq_logdet(matvec, 6, steps=3, probes=4, seed=0, batch_size=1, gradient="gram")
    with pytest.raises(ValueError, match="gradient must be one of"):
        slq_logdet(matvec, 6, steps=3, probes=4, seed=0, batch_size=1, gradient="exact")
    with pytest.raises(ValueError, match="gradient_probes must be an integer >= 1"):
        hutchpp_logdet(matvec, 6, sketch=1, steps=3, probes=4, seed=0, batch_size=1, gradient_probes=0)


@pytest.mark.parametrize("route", ["hutchinson", "gram"])
def test_gradient_of_a_generator_metric_wrt_latents_and_weights(route):
    net, params, z = tiny_generator()
    exact = logdet_metric(net, z)
    ref = torch.autograd.grad(exact.sum(), [z, *params])
    est = slq_logdet(metric_matvec(net, z), 4, steps=4, probes=1500, seed=8, gradient=route)
    assert (est.logdet - exact).abs().max() < 5 * est.stderr.max()
    got = torch.autograd.grad(est.logdet.sum(), [z, *params])
    # Relative Hutchinson noise of these gradients at p = 1500 is ~5%: cos ~ 1 - 0.05^2 / 2.
    for g, r in zip(got, ref):
        cos = (g * r).sum() / (g.norm() * r.norm())
        assert cos > 0.99 and (g - r).norm() / r.norm() < 0.15
    # per latent (4 numbers each, so noisier), the z-gradient of the sum is that of log det M(z_b) alone
    gz, rz = got[0], ref[0]
    assert ((gz * rz).sum(-1) / (gz.norm(dim=-1) * rz.norm(dim=-1))).min() > 0.97


def test_backward_does_not_go_through_the_lanczos_recursion():
    theta, matvec, _ = quadratic_family()
    recorded = []

    def counting(v: torch.Tensor) -> torch.Tensor:
        out = matvec(v)
        recorded.append(torch.is_grad_enabled())
        return out

    est = slq_logdet(counting, 6, steps=5, probes=4, seed=0, batch_size=1)
    assert recorded == [True] + [False] * 4  # one call recorded (the probes' M v), the 4 Lanczos steps not
    assert est.matvecs == 4 * 5
    with torch.no_grad():
        assert slq_logdet(matvec, 6, steps=5, probes=4, seed=0, batch_size=1).logdet.grad_fn is None


def test_unconverged_cg_warns():
    theta, matvec, _ = quadratic_family()
    est = slq_logdet(matvec, 6, steps=3, probes=4, seed=0, batch_size=1, cg_max_iter=1)
    with pytest.warns(RuntimeWarning, match="conjugate gradients did not converge"):
        torch.autograd.grad(est.logdet.sum(), theta)


def test_conjugate_gradient_solves():
    A = spd(log_uniform(2, 15, 0.1, 10.0, seed=18), seed=19)
    R = torch.randn(3, 2, 15, generator=torch.Generator().manual_seed(0))
    R[1, 0] = 0  # a zero right-hand side is solved at once (no 0/0)
    res = conjugate_gradient(batched(dense(A), True), R, tol=1e-12, max_iter=100)
    want = torch.linalg.solve(A[None], R[..., None])[..., 0]
    assert res.converged.all() and (res.solution - want).abs().max() < 1e-9
    assert res.iterations <= 30


def test_reorthogonalized_cg_converges_in_float32_where_plain_cg_stalls():
    # Condition 1e5 in float32 (like the metric of a trained DCGAN): plain CG loses orthogonality and stalls
    # above the tolerance after 2n iterations; with reorthogonalised residuals it converges in about n.
    A = spd(log_uniform(1, 60, 1e-3, 1e2, seed=20), seed=21).float()
    R = torch.randn(4, 1, 60, generator=torch.Generator().manual_seed(1)).float()
    apply = batched(dense(A), True)
    plain = conjugate_gradient(apply, R, tol=1e-4, max_iter=120, reorthogonalize=False)
    reorth = conjugate_gradient(apply, R, tol=1e-4, max_iter=120)
    assert not plain.converged.all()
    assert reorth.converged.all() and reorth.iterations <= 70
    # the true residual trails the recursive one by float32 rounding times the condition number
    assert reorth.residual.max() < 1e-2 and reorth.residual.max() < 0.1 * plain.residual.max()
    want = torch.linalg.solve(A.double()[None], R.double()[..., None])[..., 0]
    err = (reorth.solution.double() - want).norm(dim=-1) / want.norm(dim=-1)
    assert err.max() < 1e-2  # the float32 bound eps * kappa ~ 1e-2; about 1e-4 is reached


# ------------------------------------------------------------------ bad input


def test_non_spd_is_detected():
    lam = torch.tensor([[2.0, 1.0, -0.5, 3.0, 1.5]])
    with pytest.raises(ValueError, match="not positive definite"):
        slq_logdet(dense(spd(lam)), 5, steps=3, probes=4, seed=0, batch_size=1)
    with pytest.raises(ValueError, match="not positive definite"):
        hutchpp_logdet(dense(spd(lam)), 5, sketch=1, steps=3, probes=4, seed=0, batch_size=1)


def test_nan_matvec_is_detected():
    def bad(v: torch.Tensor) -> torch.Tensor:
        return v * torch.tensor([[1.0, math.nan, 1.0]])
    with pytest.raises(ValueError, match="NaN or inf"):
        slq_logdet(bad, 3, steps=2, probes=2, seed=0, batch_size=1)


@pytest.mark.parametrize("kwargs, match", [
    (dict(steps=0), "steps must be an integer >= 1"),
    (dict(probes=0), "probes must be an integer >= 1"),
    (dict(steps=2.5), "steps must be an integer >= 1"),
    (dict(cg_tol=0.0), "cg_tol"),
    (dict(cg_max_iter=0), "cg_max_iter"),
])
def test_bad_arguments_name_the_argument(kwargs, match):
    A = spd(torch.tensor([[1.0, 2.0, 3.0]]))
    with pytest.raises(ValueError, match=match):
        slq_logdet(dense(A), 3, **{"seed": 0, "batch_size": 1, **kwargs})


def test_wrong_shapes_are_reported():
    A = spd(torch.tensor([[1.0, 2.0, 3.0]]))
    with pytest.raises(ValueError, match="dim must be an integer >= 1"):
        slq_logdet(dense(A), 0, batch_size=1)
    with pytest.raises(ValueError, match=r"matvec must map \(B, n\) to \(B, n\)"):
        slq_logdet(lambda v: torch.cat([v, v], -1), 3, steps=2, probes=2, batch_size=1)
    with pytest.raises(ValueError, match="could not infer how many matrices"):
        slq_logdet(dense(A), 4, steps=2, probes=2)  # dim 4 but the matrices are 3 x 3
    with pytest.raises(ValueError, match="sketch must be <= dim"):
        hutchpp_logdet(dense(A), 3, sketch=4, batch_size=1)
    with pytest.raises(ValueError, match="sketch_steps must be an integer >= 1"):
        hutchpp_logdet(dense(A), 3, sketch=1, sketch_steps=0, batch_size=1)
