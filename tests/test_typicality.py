"""The (epsilon, N)-typicality test of paper 002 section 4.3."""

from __future__ import annotations

import pytest
import torch

from gandensity.numerics.typicality import (entropy_estimate, percentile_interval, typical_fraction,
                                           typicality_bootstrap, typicality_epsilon, typicality_table)


def gaussian(n: int, mean: float, seed: int) -> torch.Tensor:
    return mean + torch.randn(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_entropy_is_minus_the_mean_log_likelihood():
    assert entropy_estimate(torch.tensor([-1.0, -3.0])) == pytest.approx(2.0)


def test_epsilon_covers_the_level_of_model_sets_and_shrinks_like_one_over_sqrt_n():
    ref = gaussian(5000, -100.0, 0)
    e10, e100 = typicality_epsilon(ref, 10, seed=1), typicality_epsilon(ref, 100, seed=1)
    # |mean of N standard normals| has 95% quantile 1.96 / sqrt(N)
    assert e10 == pytest.approx(1.96 / 10 ** 0.5, rel=0.1)
    assert e100 == pytest.approx(1.96 / 10, rel=0.1)
    fresh = gaussian(5000, -100.0, 2)
    frac = typical_fraction(fresh, 10, entropy=entropy_estimate(ref), epsilon=e10, trials=2000, seed=3)
    assert frac == pytest.approx(0.95, abs=0.03)


def test_shifted_sets_fail_more_often_as_n_grows():
    ref = gaussian(2000, -100.0, 0)
    shifted = gaussian(2000, -100.5, 1)
    table = typicality_table(ref, {"model": gaussian(2000, -100.0, 2), "shifted": shifted}, [4, 25, 100], trials=400)
    assert table.entropy == pytest.approx(100.0, abs=0.1)
    assert [table.fraction["model"][n] > 0.85 for n in (4, 25, 100)] == [True] * 3
    shifted_fraction = [table.fraction["shifted"][n] for n in (4, 25, 100)]
    assert shifted_fraction[0] > shifted_fraction[1] > shifted_fraction[2]
    assert shifted_fraction[2] < 0.1
    assert table.mean_ll["shifted"] == pytest.approx(-100.5, abs=0.1)
    assert set(table.epsilon) == {4, 25, 100}


def test_higher_likelihood_is_atypical_too():
    ref = gaussian(2000, -100.0, 0)
    eps = typicality_epsilon(ref, 50)
    assert typical_fraction(gaussian(500, -90.0, 1), 50, entropy=entropy_estimate(ref), epsilon=eps) == 0.0


def test_seeded_and_deterministic():
    ref, ll = gaussian(100, 0.0, 0), gaussian(100, 0.1, 1)
    a = typicality_table(ref, {"x": ll}, [10], seed=5)
    b = typicality_table(ref, {"x": ll}, [10], seed=5)
    assert a == b


@pytest.mark.parametrize("bad", [dict(n=0), dict(n=2.5), dict(level=1.0), dict(bootstraps=0)])
def test_bad_arguments_are_errors(bad):
    kwargs = dict(n=10, level=0.95, bootstraps=100) | bad
    with pytest.raises(ValueError):
        typicality_epsilon(torch.zeros(5), **kwargs)


def test_non_finite_log_likelihoods_are_an_error():
    with pytest.raises(ValueError, match="finite"):
        entropy_estimate(torch.tensor([1.0, float("nan")]))
    with pytest.raises(ValueError, match="empty"):
        typical_fraction(torch.tensor([]), 3, entropy=0.0, epsilon=1.0)


def test_bootstrap_intervals_cover_the_level_for_model_sets_and_zero_for_shifted_ones():
    ref = gaussian(60, -100.0, 0)
    groups = {"model": gaussian(40, -100.0, 1), "shifted": gaussian(40, -98.0, 2)}
    table = typicality_table(ref, groups, [10, 40], trials=200, bootstraps=500, seed=0)
    boot = typicality_bootstrap(ref, groups, [10, 40], trials=200, bootstraps=500, resamples=100, seed=0)
    assert boot["model"][40].shape == (100,)
    value, low, high = percentile_interval(boot["model"][40], table.fraction["model"][40])
    assert low <= 0.95 <= high and low < value <= high + 1e-12
    assert percentile_interval(boot["shifted"][40], table.fraction["shifted"][40])[2] < 0.05
    # resample r uses one reference for all groups: differences are taken per resample
    diff = boot["model"][40] - boot["shifted"][40]
    assert percentile_interval(diff, 0.0)[1] > 0
    again = typicality_bootstrap(ref, groups, [10, 40], trials=200, bootstraps=500, resamples=100, seed=0)
    assert torch.equal(again["model"][10], boot["model"][10])
    with pytest.raises(ValueError):
        percentile_interval(torch.tensor([0.5]), 0.5)
