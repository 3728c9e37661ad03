"""AIS log-likelihoods against the exact likelihood of a linear generator, BDMC bounds, step-size adaptation,
NaN isolation, input validation and the bits/dim convention. (The HMC kernel and the schedules have their own
tests: tests/test_hmc.py.)

For G(z) = W z + b, z ~ N(0, I), x = G(z) + N(0, sigma2 I) is Gaussian, x ~ N(b, W W^T + sigma2 I): the exact
log p(x) that AIS must approach. AIS is a Monte Carlo estimate, so the statistical tests average over many
images with fixed seeds and state their tolerances in standard errors (SE) of that mean; their margins were
checked to be several SE wide.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from gandensity.numerics import hmc
from gandensity.numerics.ais import ais_bounds, ais_log_likelihood, bdmc_upper_bound, bits_per_dim, simulate
from gandensity.numerics.validation import gaussian_log_likelihood, linear_gaussian_log_likelihood
from gandensity.workflows.models import DCGANConfig, Generator, init_dcgan_weights


pytestmark = pytest.mark.usefixtures("float64")  # tests/conftest.py


class Linear(nn.Module):
    """G(z) = W z + b with W (D, n) ~ N(0, 1/n), b ~ N(0, 1/4): x has about unit scale per value."""

    def __init__(self, out_dim: int = 8, latent_dim: int = 2, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.latent_dim = latent_dim
        self.weight = nn.Parameter(torch.randn(out_dim, latent_dim, generator=g) / math.sqrt(latent_dim),
                                   requires_grad=False)
        self.bias = nn.Parameter(0.5 * torch.randn(out_dim, generator=g), requires_grad=False)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z @ self.weight.T + self.bias


SIGMA2 = 0.1
B = 64  # images per statistical test: SE of the mean error is ~0.03 nats at 1000 steps


@pytest.fixture(scope="module")
def problem():
    old = torch.get_default_dtype()  # module scope runs before the float64 fixture: restore the default here
    torch.set_default_dtype(torch.float64)
    try:
        G = Linear()
        z, x = simulate(G, B, sigma2=SIGMA2, seed=1)
        exact = linear_gaussian_log_likelihood(G.weight, G.bias, x, sigma2=SIGMA2)
    finally:
        torch.set_default_dtype(old)
    return G, z, x, exact


def mean_and_se(values: torch.Tensor) -> tuple[float, float]:
    return values.mean().item(), values.std().item() / math.sqrt(values.numel())


# ---------------------------------------------------------------------------------------------- reference pieces


def test_linear_gaussian_reference_matches_torch_distributions(problem):
    G, _, x, exact = problem
    cov = G.weight @ G.weight.T + SIGMA2 * torch.eye(8)
    want = torch.distributions.MultivariateNormal(G.bias, covariance_matrix=cov).log_prob(x)
    torch.testing.assert_close(exact, want, rtol=0, atol=1e-10)


def test_gaussian_likelihood_reference_and_the_integral_it_defines(problem):
    # log N(x; G(z), sigma2 I) against torch.distributions, and log p(x) = log E_z N(x; G(z), sigma2 I) by simple
    # Monte Carlo over 10^6 prior draws against the closed form: two references that must agree (errors
    # measured <= 0.02 nats over three seeds)
    G, z, x, exact = problem
    want = torch.distributions.Normal(G(z), SIGMA2 ** 0.5).log_prob(x).sum(1)
    torch.testing.assert_close(gaussian_log_likelihood(G, z, x, sigma2=SIGMA2), want, rtol=0, atol=1e-10)
    zs = torch.randn(1_000_000, 2, generator=torch.Generator().manual_seed(9))
    for i in range(4):
        log_lik = gaussian_log_likelihood(G, zs, x[i].expand(len(zs), -1), sigma2=SIGMA2)
        mc = torch.logsumexp(log_lik, 0) - math.log(len(zs))
        assert abs(mc.item() - exact[i].item()) < 0.05


# ---------------------------------------------------------------------------------------------- AIS is right


def test_ais_approaches_the_exact_likelihood_as_steps_grow(problem):
    G, _, x, exact = problem
    err = {}
    for steps in (10, 100, 1000):
        est = ais_log_likelihood(G, x, sigma2=SIGMA2, steps=steps, chains=4, leapfrog=5, seed=2)
        assert est.shape == (B,) and est.dtype == torch.float64 and torch.isfinite(est).all()
        err[steps] = mean_and_se(est - exact)
    # a lower bound: far below with few steps, and the bias shrinks with steps
    assert err[10][0] < -1.0
    assert err[10][0] < err[100][0] - 3 * err[100][1]
    assert err[100][0] < -0.1
    # at 1000 steps within 4 SE (SE ~ 0.03 nats) of the exact value
    mean, se = err[1000]
    assert abs(mean) < 4 * se + 0.02, err
    assert se < 0.06


def test_bdmc_sandwich_closes_as_steps_grow(problem):
    G, z, x, exact = problem
    short = ais_bounds(G, z, x, sigma2=SIGMA2, steps=30, chains=4, leapfrog=5, seed=3)
    long = ais_bounds(G, z, x, sigma2=SIGMA2, steps=1000, chains=4, leapfrog=5, seed=3)
    for bounds in (short, long):
        lo, lo_se = mean_and_se(bounds.lower - exact)
        up, up_se = mean_and_se(bounds.upper - exact)
        assert lo < 3 * lo_se and up > -3 * up_se  # exact lies between the bounds (on average over images)
        torch.testing.assert_close(bounds.gap, bounds.upper - bounds.lower)
        assert bounds.forward.betas[0] == 0 and bounds.reverse.betas[0] == 1
    # measured: 3.3 +- 0.5 nats at 30 steps, 0.20 +- 0.05 at 1000 (0.03 +- 0.03 at 3000); the upper bound
    # converges more slowly than the lower one on this problem (it must widen from the posterior to the prior)
    assert short.gap.mean() > 2.0
    assert abs(long.gap.mean().item()) < 0.35
    assert long.gap.mean() < short.gap.mean() / 8


def test_bdmc_upper_bound_alone_matches_ais_bounds(problem):
    G, z, x, _ = problem
    up = bdmc_upper_bound(G, z[:4], x[:4], sigma2=SIGMA2, steps=20, leapfrog=3, seed=8)
    both = ais_bounds(G, z[:4], x[:4], sigma2=SIGMA2, steps=20, leapfrog=3, seed=7)  # reverse gets seed + 1
    torch.testing.assert_close(up, both.upper, rtol=0, atol=0)


# ---------------------------------------------------------------------------------------------- step size


def reached_target_acceptance(result, late: int = 100) -> bool:
    """Did the sampler end near the 0.65 target? Fails when the step size is fixed or never applied."""
    acceptance = result.acceptance_trace[-late:].mean().item()
    return 0.5 < acceptance < 0.8


@pytest.mark.parametrize("start", [1e-3, 0.5])
def test_step_size_adapts_and_takes_effect(problem, start):
    G, _, x, _ = problem
    kwargs = dict(sigma2=SIGMA2, steps=400, chains=4, leapfrog=5, seed=4, step_size=start, return_diagnostics=True)
    adapted = ais_log_likelihood(G, x[:16], **kwargs)
    fixed = ais_log_likelihood(G, x[:16], adapt_step_size=False, **kwargs)
    # the step moved away from its start to 0.15-0.25 at beta = 1 (measured), and the acceptance it produces in
    # the last 100 steps is near the target (measured 0.65 from both starts; 1.0 and 0.0 with the step fixed)
    assert ((adapted.step_size > 50 * start) if start < 0.01 else (adapted.step_size < 0.8 * start)).all()
    assert (adapted.step_size_trace[0] == start).all()
    assert reached_target_acceptance(adapted)
    # the check can fail: a fixed step stays where it was, and its acceptance is far from the target
    assert (fixed.step_size == start).all() and (fixed.step_size_trace == start).all()
    assert not reached_target_acceptance(fixed)


def test_adapted_step_that_never_reaches_the_kernel_is_detected(problem, monkeypatch):
    # The bug of a public port: the adapted step size is computed (and would be reported) but the kernel keeps
    # using the initial one. Simulate it; the acceptance check catches it although step_size looks adapted.
    G, _, x, _ = problem
    real_step = hmc.hmc_step

    def buggy(state, log_prob_fn, step_size, leapfrog, generator=None):
        return real_step(state, log_prob_fn, 1e-3, leapfrog, generator)

    monkeypatch.setattr(hmc, "hmc_step", buggy)
    result = ais_log_likelihood(G, x[:16], sigma2=SIGMA2, steps=400, leapfrog=5, seed=4, step_size=1e-3,
                                return_diagnostics=True)
    assert (result.step_size > 1e-2).all()  # the bookkeeping adapted ...
    assert not reached_target_acceptance(result)  # ... but the sampler did not


# ---------------------------------------------------------------------------------------------- NaN isolation


class Poisoned(Linear):
    """The linear generator, but one row of every full batch (one chain of one image) comes out NaN."""

    def __init__(self, row: int, batch: int) -> None:
        super().__init__()
        self.row, self.batch = row, batch

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        out = super().forward(z)
        if z.shape[0] == self.batch:
            out = out.clone()
            out[self.row] = math.nan
        return out


def test_a_nan_chain_does_not_poison_the_batch(problem):
    _, _, x, _ = problem
    x, chains = x[:6], 4
    kwargs = dict(sigma2=SIGMA2, steps=50, chains=chains, leapfrog=3, seed=6, return_diagnostics=True)
    clean = ais_log_likelihood(Linear(), x, **kwargs)
    row = 2 * chains + 1  # image 2, chain 1
    bad = ais_log_likelihood(Poisoned(row, len(x) * chains), x, **kwargs)
    assert torch.isfinite(bad.log_likelihood).all()
    assert bad.live.sum() == len(x) * chains - 1 and not bad.live[2, 1]
    assert torch.isnan(bad.log_weights[2, 1]) and torch.isfinite(bad.log_weights[2, [0, 2, 3]]).all()
    others = [0, 1, 3, 4, 5]
    # every other image is bit-identical to the clean run (step sizes are per image, chains never mix)
    assert torch.equal(bad.log_likelihood[others], clean.log_likelihood[others])
    assert torch.equal(bad.step_size[others], clean.step_size[others])
    # image 2 is the log-mean-exp of its three live chains, which are those of the clean run
    torch.testing.assert_close(bad.log_weights[2, [0, 2, 3]], clean.log_weights[2, [0, 2, 3]], rtol=0, atol=0)
    want = torch.logsumexp(clean.log_weights[2, [0, 2, 3]], 0) - math.log(3)
    torch.testing.assert_close(bad.log_likelihood[2], want)


def test_an_image_with_only_dead_chains_is_nan_with_a_warning(problem):
    _, _, x, _ = problem

    class DeadImage(Linear):
        def forward(self, z):
            out = super().forward(z)
            if z.shape[0] == 8:
                out = out.clone()
                out[4:6] = math.nan  # both chains of image 2
            return out

    with pytest.warns(RuntimeWarning, match=r"every chain of images \[2\]"):
        est = ais_log_likelihood(DeadImage(), x[:4], sigma2=SIGMA2, steps=5, chains=2, leapfrog=2, seed=0)
    assert torch.isnan(est[2]) and torch.isfinite(est[[0, 1, 3]]).all()


# ---------------------------------------------------------------------------------------------- the DCGAN


def test_dcgan_call_shape_and_top_level_export():
    import gandensity as gd
    reexported = gd.ais_log_likelihood
    assert reexported is ais_log_likelihood
    torch.manual_seed(0)
    G = Generator(DCGANConfig(latent_dim=8, channels=1, width=4)).apply(init_dcgan_weights).eval().float()
    x = torch.rand(3, 1, 32, 32, dtype=torch.float32) * 2 - 1
    est = reexported(G, x, sigma2=0.1, steps=3, chains=2, leapfrog=2, seed=0)
    assert est.shape == (3,) and est.dtype == torch.float64 and torch.isfinite(est).all()
    res = ais_log_likelihood(G, x, sigma2=0.1, steps=3, chains=2, leapfrog=2, seed=0, return_diagnostics=True)
    torch.testing.assert_close(res.log_likelihood, est, rtol=0, atol=0)
    assert res.log_weights.shape == (3, 2) and res.acceptance.shape == (3,) and res.gradient_evaluations == 7
    assert ((res.ess >= 1 - 1e-9) & (res.ess <= 2 + 1e-9)).all()


# ---------------------------------------------------------------------------------------------- bad inputs


def test_bad_inputs_get_clear_errors(problem):
    G, z, x, _ = problem
    run = dict(sigma2=SIGMA2, steps=2, leapfrog=1)
    with pytest.raises(ValueError, match="shape mismatch"):
        ais_log_likelihood(G, torch.zeros(2, 9), **run)
    with pytest.raises(ValueError, match=r"shape \(B, \.\.\.\)"):
        ais_log_likelihood(G, torch.zeros(8), **run)
    for bad in (0.0, -1.0, math.nan, math.inf):
        with pytest.raises(ValueError, match="sigma2"):
            ais_log_likelihood(G, x[:2], sigma2=bad, steps=2)
    with pytest.raises(ValueError, match="sigma2 must be one number"):
        ais_log_likelihood(G, x[:2], sigma2=torch.ones(2), steps=2)
    with pytest.raises(TypeError, match="sigma2"):
        ais_log_likelihood(G, x[:2], sigma2="0.1", steps=2)
    bad_x = x[:4].clone()
    bad_x[1, 3] = math.nan
    bad_x[3, 0] = math.inf
    with pytest.raises(ValueError, match=r"NaN or inf in images \[1, 3\]"):
        ais_log_likelihood(G, bad_x, **run)
    with pytest.raises(TypeError, match="floating-point"):
        ais_log_likelihood(G, torch.zeros(2, 8, dtype=torch.long), **run)
    for name in ("steps", "chains", "leapfrog"):
        with pytest.raises(ValueError, match=name):
            ais_log_likelihood(G, x[:2], **{**run, name: 0})
    with pytest.raises(ValueError, match="step_size"):
        ais_log_likelihood(G, x[:2], step_size=2.0, **run)
    with pytest.raises(ValueError, match="latent_dim=n"):
        ais_log_likelihood(lambda v: v @ G.weight.T, x[:2], **run)
    est = ais_log_likelihood(lambda v: v @ G.weight.T + G.bias, x[:2], latent_dim=2, seed=0, **run)
    assert torch.isfinite(est).all()
    with pytest.raises(ValueError, match="is latent_dim right"):
        ais_log_likelihood(lambda v: v @ G.weight.T, x[:2], latent_dim=3, **run)
    with pytest.raises(ValueError, match="unknown schedule"):
        ais_log_likelihood(G, x[:2], schedule="cosine", **run)
    with pytest.raises(ValueError, match="end at beta_T = 1"):
        ais_log_likelihood(G, x[:2], schedule=torch.tensor([0.0, 0.7, 0.5]), **run)
    with pytest.raises(ValueError, match="rise"):
        ais_log_likelihood(G, x[:2], schedule=torch.tensor([0.0, 0.7, 1.0, 0.5, 1.0]), **{**run, "steps": 4})
    dcgan = Generator(DCGANConfig(latent_dim=4, width=2)).float()  # training mode, batch norm
    with pytest.raises(ValueError, match="eval"):
        ais_log_likelihood(dcgan, torch.zeros(1, 1, 32, 32), **run)
    with pytest.raises(ValueError, match=r"z_true must have shape \(B, n\)"):
        bdmc_upper_bound(G, z[:3], x[:2], **run)
    with pytest.raises(ValueError, match="z_true contains NaN"):
        bdmc_upper_bound(G, torch.full((2, 2), math.nan), x[:2], **run)


# ---------------------------------------------------------------------------------------------- bits per dim


def test_bits_per_dim_on_hand_computed_cases():
    D = 3072
    # uniform density over the data range is 8 bits/dim whatever the range: p = scale^-D
    assert bits_per_dim(-D * math.log(2.0), D, scale=2.0).item() == pytest.approx(8.0, abs=1e-12)
    assert bits_per_dim(0.0, D, scale=1.0).item() == pytest.approx(8.0, abs=1e-12)
    # density 1 in [-1, 1] units: bpd = -D log(2/256) / (D ln 2) = log2(128) = 7
    assert bits_per_dim(0.0, D, scale=2.0).item() == pytest.approx(7.0, abs=1e-12)
    # one value at the mode of N(0, 1) in [-1, 1] units: 0.5 log2(2 pi) + 7
    assert bits_per_dim(-0.5 * math.log(2 * math.pi), 1, scale=2.0).item() == pytest.approx(
        0.5 * math.log2(2 * math.pi) + 7, abs=1e-12)
    # levels 2/255 apart (x = k / 127.5 - 1): Delta = 2/255
    assert bits_per_dim(0.0, 1, scale=2 * 256 / 255).item() == pytest.approx(math.log2(255 / 2), abs=1e-12)
    # tensors keep their shape; the paper's Table 1 "LL (bits/dim)" is the negative
    ll = torch.tensor([-D * math.log(2.0), 0.0])
    torch.testing.assert_close(bits_per_dim(ll, D, scale=2.0), torch.tensor([8.0, 7.0]))
    # scale = levels = 1 (Delta = 1): the continuous -log p / (D ln 2), paper 003's bits per pixel
    torch.testing.assert_close(bits_per_dim(ll, D, scale=1.0, levels=1), -ll / (D * math.log(2)), rtol=0, atol=1e-15)
    for bad in (0, -2.0, math.nan):
        with pytest.raises(ValueError, match="scale"):
            bits_per_dim(0.0, D, scale=bad)
    with pytest.raises(ValueError, match="dims"):
        bits_per_dim(0.0, 0, scale=2.0)


def test_latent_dim_is_inferred_from_a_plain_linear_module(problem):
    G, _, x, _ = problem
    lin = nn.Linear(2, 8)
    with torch.no_grad():
        lin.weight.copy_(G.weight)
        lin.bias.copy_(G.bias)
    for gen in (lin, nn.Sequential(lin)):
        est = ais_log_likelihood(gen.requires_grad_(False), x[:3], sigma2=SIGMA2, steps=3, leapfrog=2, seed=0)
        assert est.shape == (3,) and torch.isfinite(est).all()
    torch.testing.assert_close(ais_log_likelihood(lin, x[:3], sigma2=SIGMA2, steps=3, leapfrog=2, seed=0),
                               ais_log_likelihood(G, x[:3], sigma2=SIGMA2, steps=3, leapfrog=2, seed=0))
