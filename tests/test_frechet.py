"""Frechet distance against closed forms."""

import pytest
import torch

from gandensity.numerics.frechet import frechet_distance, gaussian_frechet


def _rng(seed=0):
    return torch.Generator().manual_seed(seed)


def test_identical_sets_give_zero():
    x = torch.randn(200, 5, generator=_rng(), dtype=torch.float64)
    fd = frechet_distance(x, x.clone())
    assert abs(fd.value) < 1e-9 and abs(fd.mean_term) < 1e-12


def test_one_dimensional_closed_form():
    fd = gaussian_frechet(torch.tensor([1.0]), torch.tensor([[4.0]]), torch.tensor([-0.5]), torch.tensor([[0.25]]))
    assert fd.value == pytest.approx((1.5) ** 2 + (2.0 - 0.5) ** 2, rel=1e-12)
    assert fd.mean_term == pytest.approx(2.25)


def test_diagonal_is_sum_of_dimensions():
    ma, mb = torch.tensor([0.0, 1.0, 2.0]).double(), torch.tensor([1.0, 1.0, -1.0]).double()
    sa, sb = torch.tensor([1.0, 2.0, 0.5]).double(), torch.tensor([3.0, 0.1, 0.5]).double()
    fd = gaussian_frechet(ma, torch.diag(sa), mb, torch.diag(sb))
    expected = ((ma - mb) ** 2).sum() + ((sa.sqrt() - sb.sqrt()) ** 2).sum()
    assert fd.value == pytest.approx(float(expected), rel=1e-10)


def test_sample_estimate_matches_fitted_gaussians():
    a = torch.randn(300, 4, generator=_rng(1), dtype=torch.float64)
    b = 2 * torch.randn(250, 4, generator=_rng(2), dtype=torch.float64) + 1
    fd = frechet_distance(a, b)
    ref = gaussian_frechet(a.mean(0), torch.cov(a.T), b.mean(0), torch.cov(b.T))
    assert fd.value == pytest.approx(ref.value, rel=1e-12)


def test_rotation_invariance():
    g = _rng(3)
    a = torch.randn(100, 6, generator=g, dtype=torch.float64) @ torch.randn(6, 6, generator=g, dtype=torch.float64)
    b = torch.randn(120, 6, generator=g, dtype=torch.float64) + 0.3
    q, _ = torch.linalg.qr(torch.randn(6, 6, generator=g, dtype=torch.float64))
    assert frechet_distance(a @ q, b @ q).value == pytest.approx(frechet_distance(a, b).value, rel=1e-9)


def test_against_scipy_sqrtm():
    linalg = pytest.importorskip("scipy.linalg")
    import numpy as np

    g = _rng(4)
    a = torch.randn(80, 5, generator=g, dtype=torch.float64) @ torch.randn(5, 5, generator=g, dtype=torch.float64)
    b = torch.randn(90, 5, generator=g, dtype=torch.float64) * torch.arange(1, 6, dtype=torch.float64)
    ca, cb = np.cov(a.numpy().T), np.cov(b.numpy().T)
    root = np.real(linalg.sqrtm(ca @ cb))
    expected = ((a.mean(0) - b.mean(0)) ** 2).sum().item() + np.trace(ca + cb - 2 * root)
    assert frechet_distance(a, b).value == pytest.approx(expected, rel=1e-8)


def test_singular_covariance_is_finite_and_nonnegative():
    a = torch.randn(3, 10, generator=_rng(5))  # rank-2 covariances
    fd = frechet_distance(a, a + 1e-3)
    assert fd.value == pytest.approx(10 * 1e-6, abs=1e-6)


@pytest.mark.parametrize("a, b, match", [
    (torch.zeros(1, 3), torch.zeros(5, 3), "at least 2 rows"),
    (torch.zeros(5, 3), torch.zeros(5, 4), "dimensions differ"),
    (torch.full((5, 3), float("nan")), torch.zeros(5, 3), "NaN"),
    (torch.zeros(5), torch.zeros(5, 3), r"shape \(N, d\)"),
])
def test_errors(a, b, match):
    with pytest.raises(ValueError, match=match):
        frechet_distance(a, b)


def test_distance_difference_is_the_difference_of_two_distances():
    from gandensity.numerics.frechet import distance_difference

    rng = torch.Generator().manual_seed(3)
    reference = torch.randn(400, 5, generator=rng)
    near = torch.randn(300, 5, generator=rng) + 0.1
    far = 2.0 * torch.randn(300, 5, generator=rng) + 1.0
    pairs = torch.stack([far, near], 1).numpy()
    gap = distance_difference(reference)(pairs)
    expected = frechet_distance(far, reference).value - frechet_distance(near, reference).value
    assert gap == pytest.approx(expected, rel=1e-12)
    assert gap > 0
    assert distance_difference(reference)(torch.stack([near, far], 1).numpy()) == pytest.approx(-gap, rel=1e-12)
    with pytest.raises(ValueError, match=r"pairs must have shape \(N, 2, 5\)"):
        distance_difference(reference)(torch.stack([near[:, :4], far[:, :4]], 1).numpy())
