"""Metric eigenvectors, perturbations and v_eff, checked on linear generators where everything is closed form."""

from __future__ import annotations

import pytest
import torch

from gandensity.numerics.factors import effective_dimension, metric_eigen, perturb, relative_changes


def linear_generator(singular_values: list[float], m: int = 20, seed: int = 0):
    """G(z) = U diag(s) V^T z: M = V diag(s^2) V^T, and a unit step along v_i moves G by exactly s_i."""
    g = torch.Generator().manual_seed(seed)
    n = len(singular_values)
    u = torch.linalg.qr(torch.randn(m, n, generator=g, dtype=torch.float64))[0]
    v = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))[0]
    w = u @ torch.diag(torch.tensor(singular_values, dtype=torch.float64)) @ v.T
    return (lambda z: z @ w.T), v


def test_eigenpairs_of_a_linear_generator():
    s = [5.0, 3.0, 2.0, 0.5]
    G, v = linear_generator(s)
    z = torch.randn(3, 4, dtype=torch.float64)
    values, vectors = metric_eigen(G, z)
    torch.testing.assert_close(values, torch.tensor(s).double().pow(2).expand(3, 4))
    # Eigenvectors agree with V's columns up to sign.
    torch.testing.assert_close((vectors.transpose(1, 2) @ v).abs(), torch.eye(4, dtype=torch.float64).expand(3, 4, 4),
                               atol=1e-10, rtol=0)


def test_relative_changes_are_singular_values_over_the_random_change():
    s = [4.0, 2.0, 1.0, 0.5, 0.25]
    G, _ = linear_generator(s)
    z = torch.randn(2, 5, dtype=torch.float64)
    _, vectors = metric_eigen(G, z)
    delta = relative_changes(G, z, vectors, step=0.3, random_draws=4000)
    # For unit u uniform on the sphere, E|W u| is close to sqrt(mean s^2) (within a few % for this spectrum).
    expected = torch.tensor(s, dtype=torch.float64) / torch.tensor(s).double().pow(2).mean().sqrt()
    torch.testing.assert_close(delta, expected.expand(2, 5), rtol=0.1, atol=0)
    assert (delta[:, :-1] > delta[:, 1:]).all()


def test_perturb_shapes_and_values():
    G, _ = linear_generator([1.0, 1.0])
    z = torch.zeros(3, 2, dtype=torch.float64)
    directions = torch.eye(2, dtype=torch.float64).expand(3, 2, 2)
    images = perturb(G, z, directions, step=2.0)
    assert images.shape == (3, 2, 20)
    torch.testing.assert_close(images.norm(dim=-1), torch.full((3, 2), 2.0, dtype=torch.float64))


def test_effective_dimension_counts_and_is_monotone():
    delta = torch.tensor([[3.0, 1.5, 0.5], [2.0, 0.9, 0.1]], dtype=torch.float64)
    assert effective_dimension(delta, 1.0).item() == 1.5
    curve = effective_dimension(delta, torch.linspace(0, 4, 9, dtype=torch.float64))
    assert curve[0] == 3 and curve[-1] == 0 and (curve[1:] <= curve[:-1]).all()


def test_counts_analyse_and_ratios():
    import numpy as np

    from gandensity.numerics import factors

    s = [4.0, 2.0, 1.0, 0.5, 0.25]
    G, _ = linear_generator(s)
    z = torch.randn(3, 5, dtype=torch.float64)
    a = factors.analyse(G, z, 0.5, random_draws=256, seed=0)
    torch.testing.assert_close(a.eigenvalues, torch.tensor(s).double().pow(2).expand(3, 5))
    # delta(j, i) ~ sqrt(lambda_i / mean lambda): here 2 of the 5 eigenvalues exceed the mean (4.3)
    counts = factors.eigen_counts(a.delta, 1.0)
    torch.testing.assert_close(counts, torch.full((3,), 2.0, dtype=torch.float64))
    torch.testing.assert_close(counts.mean(), factors.effective_dimension(a.delta, 1.0).squeeze())
    assert (a.delta[:, 1:] < a.delta[:, :-1]).all()  # the change falls with the eigenvalue's rank
    pairs = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert factors.mean_ratio(pairs) == 3.0 / 2.0
    # v_eff (n_z/2, base, 2 n_z, n_f/2, 2 n_f) = (1, 2, 4, 2, 2): n_z doublings x2 each, n_f no change -> log 2
    values = np.array([[1.0, 2.0, 4.0, 2.0, 2.0], [1.0, 2.0, 4.0, 2.0, 2.0]])
    assert abs(factors.doubling_gap(values) - np.log(2.0)) < 1e-12
    # a width doubling that halves v_eff counts as much as one that doubles it
    values[:, 3] = 1.0  # n_f/2 -> base doubles v_eff
    values[:, 4] = 1.0  # base -> 2 n_f halves it
    assert abs(factors.doubling_gap(values)) < 1e-12
    with pytest.raises(ValueError, match="shape"):
        factors.doubling_gap(values[:, :4])


def test_change_map_overlap_matches_the_closed_form_of_a_linear_generator():
    from gandensity.numerics.factors import change_map_overlap, gaussian_directions

    G, _ = linear_generator([3.0, 2.0, 1.0, 0.5])
    w = G(torch.eye(4, dtype=torch.float64)).T  # (m, n): G(z) = W z
    z = torch.randn(3, 4, dtype=torch.float64)
    d = gaussian_directions((3, 5), 4, seed=1)
    out = change_map_overlap(G, z, d, step=0.7)
    # Brute force: the map of d is |W d| * step, independent of z; cosines pair by pair, in loops.
    for b in range(3):
        maps = [(w @ d[b, i]).abs() * 0.7 for i in range(5)]
        for i in range(5):
            for k in range(5):
                cos = maps[i] @ maps[k] / (maps[i].norm() * maps[k].norm())
                torch.testing.assert_close(out.matrix[b, i, k], cos)
        off = sum(out.matrix[b, i, k] for i in range(5) for k in range(5) if i != k) / 20
        torch.testing.assert_close(out.off_diagonal[b], off)


def test_change_map_overlap_can_fail_and_checks_inputs():
    import pytest

    from gandensity.numerics.factors import change_map_overlap, gaussian_directions, mean_difference

    G, _ = linear_generator([1.0, 1.0, 1.0])
    z = torch.zeros(2, 3, dtype=torch.float64)
    same = gaussian_directions((2, 1), 3, seed=0).expand(2, 4, 3)
    torch.testing.assert_close(change_map_overlap(G, z, same, 1.0).off_diagonal, torch.ones(2, dtype=torch.float64))
    # Directions whose images touch disjoint pixels do not overlap at all.
    disjoint = lambda z: torch.cat([z, torch.zeros(z.shape[0], 5, dtype=z.dtype)], 1)  # noqa: E731
    eye = torch.eye(3, dtype=torch.float64).expand(2, 3, 3)
    assert change_map_overlap(disjoint, z, eye, 1.0).off_diagonal.abs().max() == 0
    assert gaussian_directions((4000,), 9, seed=2).norm(dim=-1).pow(2).mean().sub(9).abs() < 0.5
    assert mean_difference([[1.0, 3.0], [2.0, 4.0]]) == -2.0
    with pytest.raises(ValueError, match="K >= 2"):
        change_map_overlap(G, z, same[:, :1], 1.0)
    with pytest.raises(ValueError, match="step"):
        change_map_overlap(G, z, same, 0.0)
    with pytest.raises(ValueError, match="unchanged"):
        change_map_overlap(G, z, torch.zeros(2, 2, 3, dtype=torch.float64), 1.0)
