"""Linear operators given by their matrix: the matvec that :func:`gandensity.numerics.spectral.stochastic_logdet`
multiplies by when the matrix is small enough to form.

:class:`gandensity.numerics.spectral.MetricMatvec` multiplies by the metric M = J^T J of a generator without
forming J (one jvp and one vjp per product). When n is tiny (the 2-D flows of paper 001, n = 2) the Jacobian is
computed anyway, M costs nothing to form, and multiplying by it directly gives the same estimator, probes and
polynomial, up to rounding, at a fraction of the cost: that is :class:`DenseMatvec`. The tests also use it on
matrices with a prescribed spectrum.
"""

from __future__ import annotations

import torch

__all__ = ["DenseMatvec", "dense_matvec"]


class DenseMatvec:
    """The matvec of B dense matrices (B, n, n): (B, n) -> (B, n), row b multiplied by matrix b.

    It carries ``batch_size``, ``dim``, ``dtype`` and ``device``, which ``stochastic_logdet`` reads, and is
    differentiable with respect to ``matrices`` under ordinary autograd.
    """

    def __init__(self, matrices: torch.Tensor) -> None:
        if not isinstance(matrices, torch.Tensor) or matrices.ndim != 3 or matrices.shape[1] != matrices.shape[2]:
            raise ValueError(f"matrices must be a tensor of shape (B, n, n), got {type(matrices).__name__} "
                             f"{tuple(getattr(matrices, 'shape', ()))}")
        self.matrices = matrices
        self.batch_size, self.dim = matrices.shape[0], matrices.shape[-1]
        self.dtype, self.device = matrices.dtype, matrices.device

    def __call__(self, v: torch.Tensor) -> torch.Tensor:
        return torch.einsum("bij,bj->bi", self.matrices, v)

    def many(self, V: torch.Tensor) -> torch.Tensor:
        """(N, B, n) -> (N, B, n): N sets of vectors at once, as ``torch.func.vmap(self)(V)`` but one batched product.

        The estimators use it in place of vmap when present: vmap of the per-set product expands the matrices once
        per set (about 75x slower for 88 sets of 40 matrices 100 x 100, measured), one einsum does not.
        """
        return torch.einsum("bij,nbj->nbi", self.matrices, V)


def dense_matvec(matrices: torch.Tensor) -> DenseMatvec:
    """The matvec of B dense matrices (B, n, n); see :class:`DenseMatvec`."""
    return DenseMatvec(matrices)
