"""The dense matvec (numerics/operators.py) against explicit matrix products, and stochastic_logdet through it
against the exact log-determinant of a 2x2 metric (the route of workflows/toy2d.py)."""

from __future__ import annotations

import pytest
import torch

from gandensity.numerics.operators import DenseMatvec, dense_matvec
from gandensity.numerics.spectral import stochastic_logdet

pytestmark = pytest.mark.usefixtures("float64")  # tests/conftest.py


def test_dense_matvec_is_row_by_row_matrix_product():
    g = torch.Generator().manual_seed(0)
    A, v = torch.randn(4, 3, 3, generator=g), torch.randn(4, 3, generator=g)
    mv = dense_matvec(A)
    assert isinstance(mv, DenseMatvec)
    assert (mv.batch_size, mv.dim, mv.dtype, mv.device) == (4, 3, torch.float64, torch.device("cpu"))
    want = torch.stack([A[b] @ v[b] for b in range(4)])  # brute force, one matrix at a time
    torch.testing.assert_close(mv(v), want, rtol=0, atol=1e-14)
    # vmapped over probes, as stochastic_logdet does
    V = torch.randn(5, 4, 3, generator=g)
    torch.testing.assert_close(torch.func.vmap(mv)(V), torch.einsum("bij,pbj->pbi", A, V), rtol=0, atol=1e-14)


def test_gradients_flow_to_the_matrices():
    A = torch.randn(2, 2, 2, generator=torch.Generator().manual_seed(1)).requires_grad_(True)
    v = torch.ones(2, 2)
    dense_matvec(A)(v).sum().backward()
    torch.testing.assert_close(A.grad, torch.ones(2, 2, 2))  # d/dA_bij sum_i A_bij v_bj = v_bj = 1


def test_stochastic_logdet_of_a_2x2_metric_through_the_dense_matvec():
    # J^T J of 2x2 Jacobians (the toy2d route): the estimate equals that of a plain closure given B, dtype and
    # device by hand (same probes), and with many probes it is near the exact log det = 2 log|det J|.
    g = torch.Generator().manual_seed(2)
    J = torch.eye(2) + 0.3 * torch.randn(6, 2, 2, generator=g)
    M = J.transpose(1, 2) @ J
    exact = 2 * torch.linalg.det(J).abs().log()
    settings = dict(order=30, probes=4000, power_iters=100, eps=0.05, seed=0)
    est = stochastic_logdet(dense_matvec(M), 2, **settings)
    by_hand = stochastic_logdet(lambda v: torch.einsum("bij,bj->bi", M, v), 2, batch_size=6,
                                dtype=torch.float64, **settings)
    torch.testing.assert_close(est, by_hand, rtol=0, atol=1e-12)
    assert (est - exact).abs().max() < 0.05


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match=r"\(B, n, n\)"):
        dense_matvec(torch.zeros(3, 2, 4))
    with pytest.raises(ValueError, match=r"\(B, n, n\)"):
        dense_matvec(torch.zeros(2, 2))
