"""Exact log-densities of generated images (paper 000, Eqs. 3-4).

A generator G maps n latent dimensions to m >= n pixels, so G(z) lives on an n-dimensional
manifold and its density there is measured against n-dimensional volume:

    log p(G(z)) = log p(z) - 1/2 log det(J^T J),      J = dG/dz  (m x n)

and with J = QR (Q orthonormal columns), 1/2 log det(J^T J) = sum_i log |r_ii|.

The Jacobian comes from forward-mode autodiff (n jvps per sample, batched over samples and
tangents with ``torch.func``), or from central finite differences as the paper mentions; the
determinant is taken in float64 by QR (default), Cholesky of J^T J, or singular values.
"""

from __future__ import annotations

import math
import warnings
from typing import Literal

import torch

from gandensity.numerics._checks import Generator, check_generator
from gandensity.numerics.priors import Prior, StandardNormal

__all__ = ["RankDeficientJacobianError", "generator_jacobian", "half_logdet_metric", "generator_log_density"]

JacobianMethod = Literal["forward", "finite_difference"]
LogdetMethod = Literal["qr", "cholesky", "svd"]
JACOBIAN_METHODS = ("forward", "finite_difference")
LOGDET_METHODS = ("qr", "cholesky", "svd")
# Samples per vectorised Jacobian call of generator_log_density: the fastest in benchmarks/bench_exact_density.py's
# sweep on a CPU (1x32x32 DCGAN, n = 100, one torch thread: chunks of 2-3 samples ran at 1.1-1.4x the time of n plain
# forward passes, the former default 8 at 1.3-1.7x, as the machine's load varied). Raise it on a GPU.
LOG_DENSITY_CHUNK = 3


class RankDeficientJacobianError(ValueError):
    """J^T J is singular for some samples: G collapses volume there, so the density is unbounded."""


def _check_latents(z: torch.Tensor) -> None:
    if not isinstance(z, torch.Tensor):
        raise TypeError(f"z must be a torch.Tensor of shape (B, n), got {type(z).__name__}")
    if z.ndim != 2:
        raise ValueError(f"z must have shape (B, n) (a batch of latent vectors), got shape {tuple(z.shape)}; "
                         "for a single latent vector pass z[None]")
    if not z.is_floating_point():
        raise TypeError(f"z must be a floating-point tensor, got dtype {z.dtype}")
    if not torch.isfinite(z).all():
        bad = (~torch.isfinite(z)).any(-1).nonzero().flatten().tolist()
        raise ValueError(f"z contains NaN or inf in rows {bad[:10]}; densities are undefined there")


def _check_output_shape(generator: Generator, z: torch.Tensor) -> None:
    with torch.no_grad():
        x = generator(z[:1])
    if not isinstance(x, torch.Tensor) or x.ndim < 1 or x.shape[0] != 1:
        raise ValueError("the generator must map a (B, n) batch of latents to a (B, ...) tensor; "
                         f"for B=1 it returned {type(x).__name__} of shape {tuple(getattr(x, 'shape', ()))}")
    m = x[0].numel()
    if m < z.shape[1]:
        raise ValueError(f"the generator output has {m} numbers per sample but the latent has n={z.shape[1]}: "
                         "J^T J (n x n) has rank <= m < n, so no n-dimensional density exists")


def _check_call(generator: Generator, z: torch.Tensor, method: str, chunk_size: int) -> None:
    _check_latents(z)
    check_generator(generator)
    if method not in JACOBIAN_METHODS:
        raise ValueError(f"unknown Jacobian method {method!r}; choose one of {JACOBIAN_METHODS}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    _check_output_shape(generator, z)


def _check_outputs(x: torch.Tensor) -> None:
    if not torch.isfinite(x).all():
        raise ValueError("the generator returned NaN or inf for some latents; their density is undefined")


def generator_jacobian(generator: Generator, z: torch.Tensor, *, method: JacobianMethod = "forward",
                       chunk_size: int = 8, fd_step: float | None = None) -> torch.Tensor:
    """Jacobian of a batched generator at each latent.

    Args:
        generator: maps (B, n) to (B, ...); per-sample (no batch-coupling layers in training mode).
        z: (B, n) latents.
        method: ``"forward"`` (forward-mode autodiff, exact to rounding) or ``"finite_difference"``
            (central differences, 2n generator evaluations per sample).
        chunk_size: samples per vectorised call; bounds memory at about chunk_size * n activations.
        fd_step: finite-difference step; default eps^(1/3) of z's dtype (balances truncation and rounding).

    Returns:
        (B, m, n) tensor in z's dtype, m = number of output values per sample.
    """
    _check_call(generator, z, method, chunk_size)
    return _jacobian(generator, z, method, chunk_size, fd_step)


def _jacobian(generator: Generator, z: torch.Tensor, method: JacobianMethod, chunk_size: int,
              fd_step: float | None) -> torch.Tensor:
    n = z.shape[1]
    if method == "forward":
        def single(z1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # (n,) -> (m,), twice
            out = generator(z1.unsqueeze(0)).reshape(-1)
            return out, out

        with warnings.catch_warnings():
            # torch's own forward-AD decompositions still call torch.jit.script on first use (torch 2.14).
            warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*deprecated", category=FutureWarning)
            jac, out = torch.func.vmap(torch.func.jacfwd(single, has_aux=True), chunk_size=chunk_size)(z)
        _check_outputs(out)
        return jac

    h = fd_step if fd_step is not None else torch.finfo(z.dtype).eps ** (1 / 3)
    eye = torch.eye(n, dtype=z.dtype, device=z.device) * h
    out = []
    with torch.no_grad():
        for zc in z.split(chunk_size):
            b = zc.shape[0]
            shifted = torch.cat([(zc[:, None, :] + eye).reshape(b * n, n), (zc[:, None, :] - eye).reshape(b * n, n)])
            y = generator(shifted).reshape(2, b, n, -1)
            _check_outputs(y)
            out.append(((y[0] - y[1]) / (2 * h)).transpose(1, 2))
    return torch.cat(out)


def half_logdet_metric(jacobian: torch.Tensor, *, method: LogdetMethod = "qr",
                       rank_rtol: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """1/2 log det(J^T J) for a batch of tall Jacobians, in float64.

    Args:
        jacobian: (B, m, n) with m >= n.
        method: ``"qr"`` (sum log |r_ii| of J = QR, paper Eq. 4), ``"cholesky"`` (of J^T J) or ``"svd"``
            (sum of log singular values of J).
        rank_rtol: a sample is rank-deficient when its smallest |r_ii| (or singular value) is below
            rank_rtol times its largest; default max(m, n) * eps of the Jacobian's dtype, as numpy's matrix_rank
            (at least sqrt(max(m, n) * eps64) for Cholesky, whose J^T J squares the condition number).

    Returns:
        ``(half_logdet, singular)``: (B,) float64 with -inf where rank-deficient, and the (B,) bool mask.
    """
    if jacobian.ndim != 3:
        raise ValueError(f"jacobian must have shape (B, m, n), got {tuple(jacobian.shape)}")
    if method not in LOGDET_METHODS:
        raise ValueError(f"unknown log-det method {method!r}; choose one of {LOGDET_METHODS}")
    _, m, n = jacobian.shape
    if m < n:
        raise ValueError(f"jacobian is {m} x {n} per sample: J^T J is singular when m < n")
    if not torch.isfinite(jacobian).all():
        raise ValueError("the Jacobian contains NaN or inf (the generator is not differentiable or overflows there)")
    rtol = rank_rtol if rank_rtol is not None else max(m, n) * torch.finfo(jacobian.dtype).eps
    # MPS has no float64; the determinant is cheap next to the Jacobian, so it may run on the CPU.
    j = jacobian.to("cpu" if jacobian.device.type == "mps" else jacobian.device, torch.float64)

    if method == "qr":
        mode = "reduced" if j.requires_grad else "r"  # mode "r" is cheaper but has no derivative
        scale = torch.linalg.qr(j, mode=mode)[1].diagonal(dim1=-2, dim2=-1).abs()
    elif method == "svd":
        scale = torch.linalg.svdvals(j)
    else:
        chol, info = torch.linalg.cholesky_ex(j.transpose(1, 2) @ j)
        scale = chol.diagonal(dim1=-2, dim2=-1).abs()
        scale = torch.where((info > 0)[:, None], torch.zeros_like(scale), scale)
        # Forming J^T J squares the condition number: rounding leaves ~sqrt(eps) of the scale.
        rtol = max(rtol, math.sqrt(max(m, n) * torch.finfo(torch.float64).eps))
    top = scale.amax(-1)
    singular = (scale.amin(-1) <= rtol * top) | (top == 0)
    half_logdet = torch.where(singular, torch.full_like(top, -math.inf), scale.log().sum(-1))
    return half_logdet.to(jacobian.device), singular.to(jacobian.device)


def generator_log_density(generator: Generator, z: torch.Tensor, *, prior: Prior | None = None,
                          logdet: LogdetMethod = "qr", jacobian: JacobianMethod = "forward",
                          chunk_size: int = LOG_DENSITY_CHUNK, fd_step: float | None = None,
                          on_singular: Literal["warn", "raise"] = "warn") -> torch.Tensor:
    """Exact log-density of generated samples on the generator's manifold (paper 000, Eq. 3).

        log p(G(z)) = log p(z) - 1/2 log det(J^T J)

    Args:
        generator: any callable mapping (B, n) latents to (B, ...) outputs (an ``nn.Module`` must be in
            eval mode if it has batch norm). Outputs are flattened: m values per sample, m >= n.
        z: (B, n) latents.
        prior: latent distribution with ``log_prob``; default standard normal.
        logdet: ``"qr"`` (default), ``"cholesky"`` or ``"svd"``; all in float64.
        jacobian: ``"forward"`` (autodiff) or ``"finite_difference"``.
        chunk_size: samples per vectorised Jacobian call; small is fast on CPUs (the n tangents' activations stay
            in cache; default 3, measured), raise it on GPUs. Results do not depend on it beyond rounding.
        fd_step: finite-difference step (``jacobian="finite_difference"`` only).
        on_singular: a rank-deficient J means G collapses volume there and the density is unbounded:
            ``"warn"`` returns +inf for those samples with a warning, ``"raise"`` raises
            :class:`RankDeficientJacobianError`.

    Returns:
        (B,) float64 tensor of log-densities (nats, with respect to n-dimensional volume on the manifold).
        Computed without an autograd graph.
    """
    _check_call(generator, z, jacobian, chunk_size)
    if logdet not in LOGDET_METHODS:
        raise ValueError(f"unknown log-det method {logdet!r}; choose one of {LOGDET_METHODS}")
    if on_singular not in ("warn", "raise"):
        raise ValueError(f"on_singular must be 'warn' or 'raise', got {on_singular!r}")
    prior = prior if prior is not None else StandardNormal()
    parts, masks = [], []
    # No autograd graph: recording it costs ~1.5x time and memory; for gradients compose
    # generator_jacobian and half_logdet_metric, which stay differentiable.
    # Small chunks of samples keep the n tangents' activations in cache (faster than big batches).
    with torch.no_grad():
        for zc in z.split(chunk_size):
            jac = _jacobian(generator, zc, jacobian, chunk_size, fd_step)
            half, singular = half_logdet_metric(jac, method=logdet)
            parts.append(half)
            masks.append(singular)
    half_logdet, singular = torch.cat(parts), torch.cat(masks)
    if singular.any():
        rows = singular.nonzero().flatten().tolist()
        msg = (f"J^T J is numerically singular for {len(rows)} of {len(z)} samples (rows {rows[:10]}): "
               "the generator collapses volume there, so log det(J^T J) = -inf and log p = +inf")
        if on_singular == "raise":
            raise RankDeficientJacobianError(msg)
        warnings.warn(msg, RuntimeWarning, stacklevel=2)
    return prior.log_prob(z.to(torch.float64)) - half_logdet

