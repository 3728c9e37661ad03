"""Projecting images onto a generator's manifold: GAN inversion by optimizing the latent (paper 002, section 3.1
and appendix B.2).

For each image x, solve z* = argmin_z |G(z) - x|^2 approximately: Adam on z with a cosine-decayed learning rate,
started from the nearest (in l2) of K generated samples G(z_k), z_k ~ prior; repeated R times with fresh
candidates (restarts), keeping the restart with the smallest reconstruction error. The paper uses K ~ 500,
R ~ 4 and 500-750 Adam iterations.

All B images times R restarts are optimized together as one (R * B, n) parameter: the loss is the sum over rows
of each row's squared error, so each row's gradient is its own, and Adam is elementwise, so rows never interact
(a batch gives the same result as one image at a time with the same candidates, up to rounding). The generator
sees at most ``chunk`` of those rows per call (their gradients accumulate into the one parameter before each Adam
step), which bounds the memory of its activations and graph without changing the result beyond rounding.

The reconstruction error is reported as the mean squared error per value, |G(z) - x|^2 / D: averaged over
training images it is the maximum-likelihood estimate of the observation-noise variance sigma2 of
:func:`gandensity.numerics.ais.ais_log_likelihood` (paper 002, section 4.1 and appendix B.3).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from gandensity.numerics._checks import (Generator, check_chunk, check_generator, check_images, check_latents,
                                         check_output_shape, check_positive_int, check_prior, infer_latent_dim,
                                         latent_dtype, seeded_rng)
from gandensity.numerics.priors import Prior, StandardNormal

__all__ = ["Inversion", "invert", "nearest_samples"]

# Rows (restart x image pairs) per generator call by default: bounds memory at that many rows' activations and
# graph. The paper profile's largest inversion (1000 images x 4 restarts) fits in one chunk, so it is unchunked.
CHUNK = 4096


class Inversion(NamedTuple):
    """What :func:`invert` returns.

    Attributes:
        z: (B, n) the best latent of each image (over restarts and iterations).
        reconstruction: (B, ...) G(z), shaped like the images.
        error: (B,) its mean squared error per value, |G(z) - x|^2 / D.
        errors: (B, R) the best error each restart reached; ``error`` is their row minimum.
        initial_errors: (B, R) the error at each restart's starting point (the nearest generated sample).
    """

    z: torch.Tensor
    reconstruction: torch.Tensor
    error: torch.Tensor
    errors: torch.Tensor
    initial_errors: torch.Tensor


def _flat_error(generator: Generator, z: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(N,) sum of squared errors |G(z) - target|^2 with target (N, D)."""
    return (generator(z).reshape(z.shape[0], -1) - target).pow(2).sum(1)


def _chunks(z: torch.Tensor, chunk: int | None) -> list[slice]:
    """Row slices of at most ``chunk`` rows covering z (one slice, all rows, for ``None``)."""
    size = z.shape[0] if chunk is None else chunk
    return [slice(start, start + size) for start in range(0, z.shape[0], size)]


def nearest_samples(generator: Generator, x: torch.Tensor, candidates: torch.Tensor,
                    chunk_size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """For each image, the candidate latent whose G(z) is nearest in l2.

    Args:
        generator: (N, n) -> (N, ...).   x: (B, ...) images of the generator's per-image output shape.
        candidates: (K, n) latents, K >= 1.
        chunk_size: candidates generated per call (bounds memory at chunk_size images).

    Returns:
        ``(index, squared_distance)``: (B,) index into ``candidates`` and (B,) |G(z_index) - x|^2.
    """
    check_generator(generator)
    check_images(x)
    check_latents(candidates, "candidates")
    check_positive_int(chunk_size=chunk_size)
    xs = x.reshape(x.shape[0], -1)
    best_d = torch.full((xs.shape[0],), math.inf, dtype=xs.dtype, device=xs.device)
    best_i = torch.zeros(xs.shape[0], dtype=torch.long, device=xs.device)
    with torch.no_grad():
        for start in range(0, candidates.shape[0], chunk_size):
            out = generator(candidates[start:start + chunk_size])
            if not isinstance(out, torch.Tensor) or tuple(out.shape[1:]) != tuple(x.shape[1:]):
                raise ValueError(f"x has images of shape {tuple(x.shape[1:])} but the generator outputs "
                                 f"{tuple(getattr(out, 'shape', ())[1:])}: shape mismatch; pass images shaped like "
                                 "the generator's output")
            g = out.reshape(-1, xs.shape[1]).to(xs.dtype)
            # |x - g|^2 = |x|^2 - 2 x.g + |g|^2, (B, k); clamp the rounding below zero
            d = (xs.pow(2).sum(1, keepdim=True) - 2 * xs @ g.T + g.pow(2).sum(1)).clamp_min(0)
            d = torch.where(torch.isnan(d), torch.full_like(d, math.inf), d)
            value, index = d.min(1)
            better = value < best_d
            best_d = torch.where(better, value, best_d)
            best_i = torch.where(better, index + start, best_i)
    return best_i, best_d


def invert(generator: Generator, x: torch.Tensor, *, steps: int = 500, restarts: int = 4, candidates: int = 500,
           lr: float = 0.1, prior: Prior | None = None, latent_dim: int | None = None, seed: int | None = None,
           chunk_size: int = 256, chunk: int | None = CHUNK) -> Inversion:
    """Project images onto G: the latent minimizing |G(z) - x|^2, by Adam from the nearest of K samples.

    Args:
        generator: maps (N, n) latents to (N, ...) images (an ``nn.Module`` with batch norm or dropout must be
            in eval mode); it is called on batches of R * B rows, restart-major (row r * B + b is restart r of
            image b).
        x: (B, ...) images with the generator's per-image output shape and scale.
        steps: Adam iterations per restart (the paper uses 500-750); the learning rate decays from ``lr`` to 0
            on a cosine, lr_t = lr (1 + cos(pi t / steps)) / 2.
        restarts: R, independent starts per image, each from the nearest of its own ``candidates`` samples.
        candidates: K generated samples per restart to start from (the paper uses about 500).
        lr: initial Adam learning rate (in latent units).
        prior: latent distribution the candidates are drawn from; default standard normal. The optimization
            itself is unconstrained (no prior term), as in paper 002.
        latent_dim: n; read from ``generator.latent_dim`` or ``generator.config.latent_dim`` if omitted.
        seed: seeds the candidates (on x's device); ``None`` uses the global RNG.
        chunk_size: candidates generated per call when searching the nearest.
        chunk: at most this many of the R * B rows go through the generator per call while optimizing (default
            4096), which bounds the memory of its activations and graph; ``None`` sends all rows at once. The
            result does not depend on it beyond the generator's rounding.

    Returns:
        :class:`Inversion`: best latents, reconstructions, errors (mean squared error per value), per-restart
        errors. The best iterate of each row is kept (not just the last). No autograd graph is returned.
    """
    check_generator(generator)
    check_images(x)
    check_positive_int(steps=steps, restarts=restarts, candidates=candidates, chunk_size=chunk_size)
    check_chunk(chunk, "rows of latents (restart x image pairs) per generator call")
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    n = infer_latent_dim(generator, latent_dim)
    dtype = latent_dtype(generator, x)
    check_output_shape(generator, x, n, dtype)
    prior = prior if prior is not None else StandardNormal()
    check_prior(prior)
    rng = seeded_rng(seed, x.device)
    B, R = x.shape[0], restarts
    xs = x.reshape(B, -1).to(dtype)
    D = xs.shape[1]

    # starting points: per restart, the nearest of K fresh candidates
    starts, init_err = [], []
    for _ in range(R):
        cand = prior.sample(candidates, n, rng=rng, device=x.device).to(dtype)
        index, dist = nearest_samples(generator, x.to(dtype), cand, chunk_size)
        starts.append(cand[index])
        init_err.append(dist / D)
    z = torch.cat(starts).detach().clone().requires_grad_(True)  # (R * B, n), restart-major
    target = xs.repeat(R, 1)
    initial_errors = torch.stack(init_err, 1)  # (B, R)

    optimizer = torch.optim.Adam([z], lr=lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda t: 0.5 * (1 + math.cos(math.pi * t / steps)))
    best_z = z.detach().clone()
    best_err = torch.full((R * B,), math.inf, dtype=dtype, device=x.device)
    rows = _chunks(z, chunk)
    with torch.enable_grad():
        for _ in range(steps):
            optimizer.zero_grad(set_to_none=True)
            if len(rows) == 1:
                err = _flat_error(generator, z, target)  # at the current z, before this update
                err.sum().backward()
            else:  # each chunk's rows get their own gradients; the others' stay 0 until their chunk
                parts = []
                for r in rows:
                    part = _flat_error(generator, z[r], target[r])
                    part.sum().backward()
                    parts.append(part.detach())
                err = torch.cat(parts)
            with torch.no_grad():
                better = err < best_err  # NaN never is
                best_err = torch.where(better, err, best_err)
                best_z = torch.where(better[:, None], z, best_z)
            optimizer.step()
            schedule.step()
    with torch.no_grad():
        err = torch.cat([_flat_error(generator, z[r], target[r]) for r in rows])
        better = err < best_err
        best_err = torch.where(better, err, best_err)
        best_z = torch.where(better[:, None], z.detach(), best_z)
        errors = (best_err / D).view(R, B).T  # (B, R)
        pick = errors.argmin(1)  # NaN rows (all restarts NaN) stay inf and pick 0
        z_best = best_z.view(R, B, n)[pick, torch.arange(B, device=x.device)]
        reconstruction = torch.cat([generator(z_best[r]) for r in _chunks(z_best, chunk)])
        error = (reconstruction.reshape(B, -1) - xs).pow(2).mean(1)
    return Inversion(z_best, reconstruction, error, errors, initial_errors)
