"""The HMC kernel (invariance, exact rejection of non-finite proposals, the leapfrog against a hand-computed
trajectory) and the annealing schedules and log-mean-exp, against closed forms and brute force."""

from __future__ import annotations

import math

import pytest
import torch

from gandensity.numerics.annealing import linear_schedule, log_mean_exp, sigmoid_schedule
from gandensity.numerics.hmc import HMCInfo, HMCState, hmc_step


pytestmark = pytest.mark.usefixtures("float64")  # tests/conftest.py


# ---------------------------------------------------------------------------------------------- schedules


def test_sigmoid_schedule_is_wu_et_al():
    beta = sigmoid_schedule(500)
    assert beta.shape == (501,) and beta.dtype == torch.float64
    assert beta[0] == 0 and beta[-1] == 1 and (beta.diff() > 0).all()
    s = torch.sigmoid(torch.linspace(-4, 4, 501, dtype=torch.float64))
    torch.testing.assert_close(beta, (s - s.min()) / (s.max() - s.min()), rtol=0, atol=1e-15)
    torch.testing.assert_close(beta + beta.flip(0), torch.ones(501), rtol=0, atol=1e-14)  # symmetric


def test_log_mean_exp_with_mask():
    v = torch.tensor([[0.0, math.log(3.0), math.nan], [math.nan, math.nan, math.nan]])
    mask = ~torch.isnan(v)
    out = log_mean_exp(v, mask, dim=1)
    assert abs(out[0].item() - math.log(2.0)) < 1e-12 and torch.isnan(out[1])


def test_linear_schedule_and_bad_steps():
    torch.testing.assert_close(linear_schedule(4), torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0]), rtol=0, atol=0)
    assert linear_schedule(1).tolist() == [0.0, 1.0] and sigmoid_schedule(1).tolist() == [0.0, 1.0]
    for schedule in (linear_schedule, sigmoid_schedule):
        with pytest.raises(ValueError, match="steps must be >= 1"):
            schedule(0)


def test_log_mean_exp_is_the_log_of_the_mean_of_exp():
    # brute force in float64 where exp does not overflow, and shift invariance where it would
    v = torch.randn(5, 7, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(log_mean_exp(v, dim=1), v.exp().mean(1).log(), rtol=0, atol=1e-14)
    torch.testing.assert_close(log_mean_exp(v, dim=0), v.exp().mean(0).log(), rtol=0, atol=1e-14)
    torch.testing.assert_close(log_mean_exp(v + 1000.0, dim=1), v.exp().mean(1).log() + 1000.0, rtol=0, atol=1e-12)


# ---------------------------------------------------------------------------------------------- the HMC kernel


def gaussian_target(mean: torch.Tensor, precision: torch.Tensor):
    def fn(q: torch.Tensor) -> HMCState:
        d = q - mean
        return HMCState(q, -0.5 * ((d @ precision) * d).sum(1), -(d @ precision))
    return fn


@pytest.mark.parametrize("step_size", [0.3, 0.55])
def test_hmc_step_leaves_a_correlated_gaussian_invariant(step_size):
    # Start from N independent exact samples; after 20 Metropolis-adjusted steps the moments must be unchanged
    # (the N final positions are independent draws: SE of the mean 1/sqrt(N) = 0.007, of the covariance ~0.01).
    # The precision's stiff eigenvalue is 10 (leapfrog stable for eps < 2/sqrt(10) = 0.63): at 0.55 the energy
    # error is large and many proposals are rejected, so the MH correction is what keeps the target.
    g = torch.Generator().manual_seed(0)
    mean = torch.tensor([1.0, -2.0])
    cov = torch.tensor([[1.0, 0.9], [0.9, 1.0]])
    chol = torch.linalg.cholesky(cov)
    target = gaussian_target(mean, torch.linalg.inv(cov))
    N = 20000
    state = target(mean + torch.randn(N, 2, generator=g) @ chol.T)
    accepted = []
    for _ in range(20):
        state, info = hmc_step(state, target, step_size, 5, g)
        accepted.append(info.accepted.double().mean().item())
    q = state.position
    assert (q.mean(0) - mean).abs().max() < 5 / math.sqrt(N)
    emp_cov = torch.cov(q.T)
    assert (emp_cov - cov).abs().max() < 0.05
    assert 0.05 < sum(accepted) / len(accepted) < 1.0  # some rejections happened: MH is exercised


def test_hmc_step_rejects_non_finite_proposals_and_keeps_state_exactly():
    def target(q: torch.Tensor) -> HMCState:
        lp = -0.5 * q.pow(2).sum(1)
        lp = torch.where(q[:, 0] > 0.5, torch.full_like(lp, math.nan), lp)  # NaN half-space
        return HMCState(q, lp, -q, (lp * 2,))
    q0 = torch.tensor([[0.0, 0.0], [-3.0, 0.0]])
    state = target(q0)
    g = torch.Generator().manual_seed(0)
    for _ in range(50):
        new, info = hmc_step(state, target, 0.3, 4, g)
        moved = (new.position != state.position).any(1)
        assert (moved == info.accepted).all()
        assert (new.position[:, 0] <= 0.5).all() and torch.isfinite(new.log_density).all()
        torch.testing.assert_close(new.aux[0], 2 * new.log_density)  # aux follows the chain
        state = new


def test_hmc_step_is_the_leapfrog_and_metropolis_rule_computed_by_hand():
    # Target N(0, diag(1/a)): log pi = -sum a q^2 / 2, grad = -a q. Replay the kernel's random numbers (momentum,
    # then one uniform per chain) from an identically seeded generator and run the leapfrog by hand; per-chain
    # step sizes (a (N,) tensor) must each act on their own row.
    a = torch.tensor([1.0, 4.0, 9.0])

    def target(q: torch.Tensor) -> HMCState:
        return HMCState(q, -0.5 * (a * q * q).sum(1), -a * q)

    q0 = torch.tensor([[1.0, -0.5, 0.2], [0.3, 0.3, -1.0], [-2.0, 0.1, 0.4], [0.0, 1.0, 1.0]])
    eps = torch.tensor([0.05, 0.2, 0.4, 0.7])
    L = 3
    new, info = hmc_step(target(q0), target, eps, L, torch.Generator().manual_seed(5))
    g = torch.Generator().manual_seed(5)
    r0 = torch.randn(q0.shape, generator=g)
    u = torch.rand(4, generator=g)
    want_q, want_accept, want_prob = [], [], []
    for i in range(4):
        q, r, e = q0[i].clone(), r0[i].clone(), eps[i].item()
        for _ in range(L):  # kick, drift, kick
            r = r - 0.5 * e * a * q
            q = q + e * r
            r = r - 0.5 * e * a * q
        h0 = 0.5 * (a * q0[i] ** 2).sum() + 0.5 * (r0[i] ** 2).sum()
        h1 = 0.5 * (a * q ** 2).sum() + 0.5 * (r ** 2).sum()
        accept = bool(math.log(1 - u[i].item()) < (h0 - h1).item())
        want_q.append(q if accept else q0[i])
        want_accept.append(accept)
        want_prob.append(min(1.0, math.exp((h0 - h1).item())))
    assert isinstance(info, HMCInfo)
    assert info.accepted.tolist() == want_accept
    assert 0 < sum(want_accept) < 4  # both branches are exercised (eps = 0.7 on a = 9 is unstable)
    torch.testing.assert_close(new.position, torch.stack(want_q), rtol=0, atol=1e-12)
    torch.testing.assert_close(info.acceptance_probability, torch.tensor(want_prob), rtol=0, atol=1e-12)
    torch.testing.assert_close(new.log_density, target(new.position).log_density, rtol=0, atol=1e-12)
    torch.testing.assert_close(new.grad, target(new.position).grad, rtol=0, atol=1e-12)


def test_small_steps_conserve_energy_so_almost_everything_is_accepted():
    # The leapfrog's energy error is O(eps^2): at eps = 0.01 on a unit Gaussian every proposal is accepted.
    def target(q: torch.Tensor) -> HMCState:
        return HMCState(q, -0.5 * q.pow(2).sum(1), -q)

    g = torch.Generator().manual_seed(1)
    state = target(torch.randn(500, 4, generator=g))
    _, info = hmc_step(state, target, 0.01, 10, g)
    assert info.acceptance_probability.min() > 0.999 and info.accepted.all()
