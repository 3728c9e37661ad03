"""The (epsilon, N)-typicality test of a set of images under a generative model (paper 002, section 4.3, after
Nalisnick et al. 2019).

A set of N images {x_i} is in the (epsilon, N)-typical set of p_theta when (paper Eq. 5)

    | (1/N) sum_i log p_theta(x_i) + H(p_theta) | <= epsilon .

The entropy H is estimated from log-likelihoods of the model's own samples, H_hat = -mean(log p(x_g)), and
epsilon by a bootstrap over those samples: the ``level`` quantile (95% in the paper) of
|mean of N resampled log-likelihoods + H_hat|, so that sets of N model samples pass the test ``level`` of the time.
A group of images is then tested ``trials`` times (100 in the paper), each time on N of its log-likelihoods drawn
with replacement, and the fraction of trials that pass is reported (the entries of paper Table 2).

How much would the fractions change with another draw of the model's samples and of the group's images?
:func:`typicality_bootstrap` repeats the whole table on bootstrap resamples of the reference and of each group
(H_hat and epsilon re-estimated each time); :func:`percentile_interval` turns those into an interval.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import torch

__all__ = ["entropy_estimate", "typicality_epsilon", "typical_fraction", "TypicalityTable", "typicality_table",
           "typicality_bootstrap", "percentile_interval"]


def _check_ll(ll: torch.Tensor, name: str) -> torch.Tensor:
    ll = torch.as_tensor(ll).detach().double().cpu().reshape(-1)
    if ll.numel() == 0:
        raise ValueError(f"{name} is empty")
    if not torch.isfinite(ll).all():
        raise ValueError(f"{name} must be finite (drop the NaN of dead AIS chains first)")
    return ll


def _check_n(n: int, name: str = "n") -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"{name} must be a positive int, got {n!r}")


def entropy_estimate(reference_ll: torch.Tensor) -> float:
    """H_hat(p) = -mean log p(x_g) over the model's own samples x_g (nats)."""
    return float(-_check_ll(reference_ll, "reference_ll").mean())


def _resampled_means(ll: torch.Tensor, n: int, draws: int, seed: int) -> torch.Tensor:
    """(draws,) means of n values of ll drawn uniformly with replacement."""
    rng = torch.Generator().manual_seed(seed)
    index = torch.randint(len(ll), (draws, n), generator=rng)
    return ll[index].mean(1)


def typicality_epsilon(reference_ll: torch.Tensor, n: int, *, level: float = 0.95, bootstraps: int = 1000,
                       seed: int = 0) -> float:
    """epsilon such that a fraction ``level`` of bootstrap sets of ``n`` model samples are (epsilon, n)-typical.

    Args:
        reference_ll: (M,) log-likelihoods of the model's own samples (they also give H_hat).
        n: set size N.   level: the coverage (0.95 in the paper).   bootstraps: resampled sets.
    """
    ll = _check_ll(reference_ll, "reference_ll")
    _check_n(n)
    _check_n(bootstraps, "bootstraps")
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level!r}")
    deviation = (_resampled_means(ll, n, bootstraps, seed) + entropy_estimate(ll)).abs()
    return float(torch.quantile(deviation, level))


def typical_fraction(ll: torch.Tensor, n: int, *, entropy: float, epsilon: float, trials: int = 100,
                     seed: int = 0) -> float:
    """Fraction of ``trials`` sets of ``n`` of the (M,) log-likelihoods ``ll`` (drawn with replacement) that
    satisfy |mean + entropy| <= epsilon."""
    ll = _check_ll(ll, "ll")
    _check_n(n)
    _check_n(trials, "trials")
    if not epsilon >= 0:
        raise ValueError(f"epsilon must be >= 0, got {epsilon!r}")
    return float(((_resampled_means(ll, n, trials, seed) + entropy).abs() <= epsilon).double().mean())


class TypicalityTable(NamedTuple):
    """What :func:`typicality_table` returns.

    Attributes:
        entropy: H_hat in nats.
        epsilon: {N: epsilon}.
        fraction: {group: {N: fraction of trials typical}}.
        mean_ll: {group: mean log-likelihood of the group}.
    """

    entropy: float
    epsilon: dict[int, float]
    fraction: dict[str, dict[int, float]]
    mean_ll: dict[str, float]


def typicality_table(reference_ll: torch.Tensor, groups: Mapping[str, torch.Tensor], ns: Sequence[int], *,
                     level: float = 0.95, bootstraps: int = 1000, trials: int = 100,
                     seed: int = 0) -> TypicalityTable:
    """Paper 002's Table 2 for one model: for each N in ``ns`` and each group, the fraction of ``trials`` sets of
    N of the group's log-likelihoods that are (epsilon_N, N)-typical, epsilon_N from the bootstrap over
    ``reference_ll`` (the model's samples). Each (group, N) cell uses its own seed."""
    entropy = entropy_estimate(reference_ll)
    epsilon = {n: typicality_epsilon(reference_ll, n, level=level, bootstraps=bootstraps, seed=seed + i)
               for i, n in enumerate(ns)}
    fraction = {name: {n: typical_fraction(ll, n, entropy=entropy, epsilon=epsilon[n], trials=trials,
                                           seed=seed + 1000 * (g + 1) + i)
                       for i, n in enumerate(ns)}
                for g, (name, ll) in enumerate(groups.items())}
    mean_ll = {name: float(_check_ll(ll, name).mean()) for name, ll in groups.items()}
    return TypicalityTable(entropy, epsilon, fraction, mean_ll)


def typicality_bootstrap(reference_ll: torch.Tensor, groups: Mapping[str, torch.Tensor], ns: Sequence[int], *,
                         level: float = 0.95, bootstraps: int = 1000, trials: int = 100, resamples: int = 200,
                         seed: int = 0) -> dict[str, dict[int, torch.Tensor]]:
    """The typicality table on ``resamples`` bootstrap resamples of the data: {group: {N: (resamples,) fractions}}.

    Each resample draws the reference log-likelihoods (so H_hat and epsilon_N) and each group's log-likelihoods
    with replacement, at their own sizes, and recomputes :func:`typicality_table`. Resample r is shared by all
    groups (the same reference), so differences between groups can be taken resample by resample.
    """
    _check_n(resamples, "resamples")
    ref = _check_ll(reference_ll, "reference_ll")
    data = {name: _check_ll(ll, name) for name, ll in groups.items()}
    rng = torch.Generator().manual_seed(seed)
    out: dict[str, dict[int, list[float]]] = {name: {n: [] for n in ns} for name in data}
    for r in range(resamples):
        ref_r = ref[torch.randint(len(ref), (len(ref),), generator=rng)]
        groups_r = {name: ll[torch.randint(len(ll), (len(ll),), generator=rng)] for name, ll in data.items()}
        table = typicality_table(ref_r, groups_r, ns, level=level, bootstraps=bootstraps, trials=trials,
                                 seed=seed + 7919 * (r + 1))
        for name in data:
            for n in ns:
                out[name][n].append(table.fraction[name][n])
    return {name: {n: torch.tensor(v, dtype=torch.float64) for n, v in per_n.items()} for name, per_n in out.items()}


def percentile_interval(samples: torch.Tensor, value: float, *, level: float = 0.95) -> tuple[float, float, float]:
    """``(value, low, high)`` with the central ``level`` percentile interval of the (R,) bootstrap ``samples``."""
    s = torch.as_tensor(samples).detach().double().reshape(-1)
    if s.numel() < 2:
        raise ValueError("percentile_interval needs at least 2 samples")
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level!r}")
    alpha = (1 - level) / 2
    return float(value), float(torch.quantile(s, alpha)), float(torch.quantile(s, 1 - alpha))
