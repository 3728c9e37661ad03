"""Importance-sampled normalizers with an exact Gaussian proposal, against closed forms."""

from __future__ import annotations

import math

import pytest
import torch

from gandensity.numerics.importance import gaussian_proposal_log_normalizer


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
