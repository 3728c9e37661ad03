"""Importance-sampled normalizers with proposals whose density is exact (a Gaussian, a kernel mixture), against
closed forms."""

from __future__ import annotations

import math

import pytest
import torch

from gandensity.numerics.importance import (
    gaussian_proposal_log_normalizer,
    kernel_proposal_log_normalizer,
)


def _scaled_gaussian(log_c: float, mean: torch.Tensor, cov: torch.Tensor):
    dist = torch.distributions.MultivariateNormal(mean.double(), covariance_matrix=cov.double())
    return lambda x: log_c + dist.log_prob(x.double())


def test_proposal_equal_to_the_target_is_exact_with_zero_variance():
    mean, cov = torch.tensor([0.5, -1.0]), torch.tensor([[2.0, 0.3], [0.3, 0.5]])
    est = gaussian_proposal_log_normalizer(_scaled_gaussian(1.7, mean, cov), mean.double(),
                                           torch.linalg.cholesky(cov.double()), 1000,
                                           rng=torch.Generator().manual_seed(0))
    assert abs(est.log_alpha - 1.7) < 1e-10 and est.stderr < 1e-10 and abs(est.ess - 1000) < 1e-6


def test_broader_proposal_recovers_the_normalizer_within_its_standard_error():
    mean, cov = torch.tensor([1.0, 2.0, -0.5]), torch.diag(torch.tensor([0.2, 1.0, 3.0]))
    target = _scaled_gaussian(-4.2, mean, cov)
    est = gaussian_proposal_log_normalizer(target, torch.zeros(3, dtype=torch.float64),
                                           3.0 * torch.eye(3, dtype=torch.float64), 200_000,
                                           rng=torch.Generator().manual_seed(1), chunk=7_000)
    assert est.stderr < 0.02
    assert abs(est.log_alpha + 4.2) < 4 * est.stderr
    # chunking does not change the result
    again = gaussian_proposal_log_normalizer(target, torch.zeros(3, dtype=torch.float64),
                                             3.0 * torch.eye(3, dtype=torch.float64), 200_000,
                                             rng=torch.Generator().manual_seed(1))
    assert abs(again.log_alpha - est.log_alpha) < 1e-9


def test_a_proposal_that_misses_the_target_shows_in_the_effective_sample_size():
    target = _scaled_gaussian(0.0, torch.tensor([3.0, 3.0]), torch.eye(2))
    est = gaussian_proposal_log_normalizer(target, torch.zeros(2, dtype=torch.float64),
                                           0.5 * torch.eye(2, dtype=torch.float64), 20_000,
                                           rng=torch.Generator().manual_seed(2))
    assert est.ess < 0.01 * est.samples  # a few weights dominate
    assert est.log_alpha < -0.5  # and the estimate is far too low, as under-coverage makes it


def test_bad_inputs_are_refused():
    f = _scaled_gaussian(0.0, torch.zeros(2), torch.eye(2))
    eye = torch.eye(2, dtype=torch.float64)
    zero = torch.zeros(2, dtype=torch.float64)
    with pytest.raises(ValueError, match="scale_tril"):
        gaussian_proposal_log_normalizer(f, zero, torch.ones(2, 2, dtype=torch.float64), 10)
    with pytest.raises(ValueError, match="scale_tril"):
        gaussian_proposal_log_normalizer(f, zero, eye[:1], 10)
    with pytest.raises(ValueError, match="samples"):
        gaussian_proposal_log_normalizer(f, zero, eye, 1)
    with pytest.raises(ValueError, match="mean"):
        gaussian_proposal_log_normalizer(f, torch.zeros(2, 1), eye, 10)
    with pytest.raises(ValueError, match="NaN"):
        gaussian_proposal_log_normalizer(lambda x: torch.full((len(x),), math.nan), zero, eye, 10)
    with pytest.raises(ValueError, match="values"):
        gaussian_proposal_log_normalizer(lambda x: torch.zeros(len(x), 1), zero, eye, 10)


def test_kernel_proposal_density_matches_a_mixture_and_one_centre_is_exact():
    # One centre: q = N(c, h^2 I); a target equal to it up to the constant is recovered with zero variance.
    c = torch.tensor([[0.3, -0.2, 1.0]], dtype=torch.float64)
    target = _scaled_gaussian(2.5, c[0], 0.49 * torch.eye(3))
    est = kernel_proposal_log_normalizer(target, c, 0.7, 500, rng=torch.Generator().manual_seed(0))
    assert abs(est.log_alpha - 2.5) < 1e-7 and est.stderr < 1e-7 and abs(est.ess - 500) < 1e-4
    # Several centres: a target equal to the mixture itself (scaled by e^-1.3) is again exact, which checks the
    # log-sum-exp density against torch's mixture at every draw.
    centres = torch.randn(5, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    mix = torch.distributions.MixtureSameFamily(
        torch.distributions.Categorical(torch.ones(5, dtype=torch.float64)),
        torch.distributions.Independent(torch.distributions.Normal(centres, 0.4), 1))
    est = kernel_proposal_log_normalizer(lambda x: -1.3 + mix.log_prob(x.double()), centres, 0.4, 2000,
                                         rng=torch.Generator().manual_seed(2), chunk=300)
    assert abs(est.log_alpha + 1.3) < 1e-7 and est.stderr < 1e-7


def test_kernel_proposal_recovers_a_gaussian_normalizer_and_refuses_bad_input():
    target = _scaled_gaussian(-0.8, torch.tensor([0.5, 0.5]), 0.3 * torch.eye(2))
    centres = torch.randn(200, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64) * 0.55 + 0.5
    est = kernel_proposal_log_normalizer(target, centres, 0.3, 100_000, rng=torch.Generator().manual_seed(4))
    assert est.stderr < 0.02 and abs(est.log_alpha + 0.8) < 4 * est.stderr
    with pytest.raises(ValueError, match="bandwidth"):
        kernel_proposal_log_normalizer(target, centres, 0.0, 10)
    with pytest.raises(ValueError, match="centers"):
        kernel_proposal_log_normalizer(target, centres[0], 0.3, 10)
    with pytest.raises(ValueError, match="samples"):
        kernel_proposal_log_normalizer(target, centres, 0.3, 1)
    with pytest.raises(ValueError, match="NaN"):
        kernel_proposal_log_normalizer(lambda x: torch.full((len(x),), float("nan")), centres, 0.3, 10)
