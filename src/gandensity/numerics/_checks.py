"""Argument checks shared by the numerics modules (private: the modules of this package import it, users do not).

The module is private; its names have no leading underscore so that other numerics modules can import them
(``tests/test_layers.py`` allows imports of this module only). Each check raises a ``ValueError`` or
``TypeError`` that names the argument and says what to pass instead.
"""

from __future__ import annotations

import math
import numbers
from typing import Callable

import torch
from torch import nn

Generator = Callable[[torch.Tensor], torch.Tensor]

# Layers whose output in training mode is not a function of one sample's input alone.
_BATCH_NORM = nn.modules.batchnorm._BatchNorm
_DROPOUT = nn.modules.dropout._DropoutNd


def check_generator(generator: Generator) -> None:
    """The generator is callable and, if an ``nn.Module``, has no batch-norm or dropout layer in training mode.

    Batch norm in training mode normalizes with the statistics of the batch, so G(z) depends on the other
    latents of the batch; dropout in training mode zeroes random units, so G(z) is random. Either way G is not
    a function of z, and no density of it exists: the fix is ``generator.eval()``.
    """
    if not callable(generator):
        raise TypeError(f"generator must be callable (B, n) -> (B, ...), got {type(generator).__name__}")
    if not isinstance(generator, nn.Module):
        return
    training = [m for m in generator.modules() if m.training and isinstance(m, (_BATCH_NORM, _DROPOUT))]
    if any(isinstance(m, _BATCH_NORM) for m in training):
        raise ValueError("the generator is in training mode and has batch-norm layers, so its output for one z "
                         "depends on the rest of the batch; call generator.eval() first")
    if training:
        raise ValueError("the generator is in training mode and has dropout layers, so its output for one z is "
                         "random; call generator.eval() first")


def check_images(x: torch.Tensor, name: str = "x") -> None:
    """``x`` is a finite floating-point (B, ...) tensor with B >= 1."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (B, ...) (a batch of images), "
                        f"got {type(x).__name__}")
    if x.ndim < 2 or x.shape[0] < 1:
        raise ValueError(f"{name} must have shape (B, ...) with B >= 1 (a batch of images), got shape "
                         f"{tuple(x.shape)}; for a single image pass x[None]")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    if not torch.isfinite(x).all():
        bad = (~torch.isfinite(x.reshape(x.shape[0], -1))).any(1).nonzero().flatten().tolist()
        raise ValueError(f"{name} contains NaN or inf in images {bad[:10]}; their likelihood is undefined")


def check_positive_int(**values: int) -> None:
    """Each keyword's value is an int >= 1 (not a bool); the error names the keyword."""
    for name, v in values.items():
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")


def check_sigma2(sigma2: float) -> float:
    """The observation-noise variance as a float: one finite number > 0 (a one-element tensor is accepted)."""
    if isinstance(sigma2, torch.Tensor):
        if sigma2.numel() != 1:
            raise ValueError(f"sigma2 must be one number (the same noise variance for every image), got a tensor "
                             f"of shape {tuple(sigma2.shape)}")
        sigma2 = sigma2.item()
    if isinstance(sigma2, bool) or not isinstance(sigma2, (int, float)):
        raise TypeError(f"sigma2 must be a positive number, got {type(sigma2).__name__}")
    if not (math.isfinite(sigma2) and sigma2 > 0):
        raise ValueError(f"sigma2 (the observation noise variance) must be finite and > 0, got {sigma2}")
    return float(sigma2)


def check_positive_number(value: float, name: str, fix: str = "") -> float:
    """``value`` as a float: one finite real number > 0 (not a bool; a one-element tensor is accepted).

    ``fix`` ends the message of a ValueError (e.g. ``"pass e.g. sigma=0.1"``)."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a positive number, got {type(value).__name__} {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be finite and > 0, got {value!r}" + (f"; {fix}" if fix else ""))
    return float(value)


def check_chunk(chunk: int | None, what: str = "rows") -> None:
    """``chunk`` is ``None`` (no bound: everything in one call) or a positive int (``what`` per call)."""
    if chunk is not None and (isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1):
        raise ValueError(f"chunk must be a positive int ({what} per call) or None (all in one call), got {chunk!r}")


def check_latents(z: torch.Tensor, name: str = "z", dim: int | None = None) -> None:
    """``z`` is a finite floating-point (B, n) tensor with B >= 1 (and n == ``dim`` if given)."""
    if not isinstance(z, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (B, n) (a batch of latents), got {type(z).__name__}")
    if z.ndim != 2 or z.shape[0] < 1 or (dim is not None and z.shape[1] != dim):
        want = "(B, n)" if dim is None else f"(B, {dim})"
        raise ValueError(f"{name} must have shape {want} with B >= 1 (a batch of latents), got shape "
                         f"{tuple(z.shape)}; for a single latent pass {name}[None]")
    if not z.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {z.dtype}; pass {name}.float()")
    if not torch.isfinite(z).all():
        bad = (~torch.isfinite(z)).any(1).nonzero().flatten().tolist()
        raise ValueError(f"{name} contains NaN or inf in rows {bad[:10]}; pass finite latents")


def check_prior(prior: object) -> None:
    """``prior`` has the ``log_prob(z)`` and ``sample(b, dim, generator=, device=)`` methods of a latent prior."""
    if not (callable(getattr(prior, "log_prob", None)) and callable(getattr(prior, "sample", None))):
        raise TypeError(f"prior must have log_prob(z) and sample(b, dim) methods (a numerics.priors.Prior such as "
                        f"StandardNormal()), got {type(prior).__name__}; pass prior=None for the standard normal")


def infer_latent_dim(generator: Generator, latent_dim: int | None) -> int:
    """n from ``latent_dim`` if given, else the generator's ``latent_dim`` (``z_dim``, ``nz``) or
    ``config.latent_dim`` attribute, else the ``in_features`` of its first ``nn.Linear`` (e.g. a Sequential
    starting with one); :func:`check_output_shape` then runs G on a (1, n) latent."""
    if latent_dim is None:
        first_linear = next((m for m in generator.modules() if isinstance(m, nn.Linear)), None) \
            if isinstance(generator, nn.Module) else None
        for source in (*(getattr(generator, name, None) for name in ("latent_dim", "z_dim", "nz")),
                       getattr(getattr(generator, "config", None), "latent_dim", None),
                       first_linear.in_features if first_linear is not None else None):
            if isinstance(source, int) and not isinstance(source, bool):
                latent_dim = source
                break
        else:
            raise ValueError(f"cannot tell the latent dimension of {type(generator).__name__}: it has no "
                             "latent_dim or config.latent_dim attribute and no nn.Linear layer; pass latent_dim=n")
    if isinstance(latent_dim, bool) or not isinstance(latent_dim, int) or latent_dim < 1:
        raise ValueError(f"latent_dim must be a positive int, got {latent_dim!r}")
    return latent_dim


def latent_dtype(generator: Generator, x: torch.Tensor) -> torch.dtype:
    """The dtype the latents get: the generator's parameters' if it has any, else x's (the parameters must be on
    x's device)."""
    if isinstance(generator, nn.Module):
        param = next(generator.parameters(), None)
        if param is not None:
            if param.device != x.device:
                raise ValueError(f"x is on {x.device} but the generator's parameters are on {param.device}; "
                                 "move one of them")
            if param.is_floating_point():
                return param.dtype
    return x.dtype


def check_output_shape(generator: Generator, x: torch.Tensor, n: int, dtype: torch.dtype) -> None:
    """G maps a (1, n) latent of ``dtype`` to one image of x's per-image shape (runs G once, without autograd)."""
    with torch.no_grad():
        try:
            out = generator(torch.zeros(1, n, dtype=dtype, device=x.device))
        except Exception as err:  # noqa: BLE001 - re-raised with the likely cause
            raise ValueError(f"the generator failed on a (1, {n}) latent ({type(err).__name__}: {err}); "
                             "is latent_dim right?") from err
    if not isinstance(out, torch.Tensor) or out.ndim < 1 or out.shape[0] != 1:
        raise ValueError("the generator must map a (B, n) batch of latents to a (B, ...) tensor; for B=1 it "
                         f"returned {type(out).__name__} of shape {tuple(getattr(out, 'shape', ()))}")
    if tuple(out.shape[1:]) != tuple(x.shape[1:]):
        raise ValueError(f"x has images of shape {tuple(x.shape[1:])} but the generator outputs "
                         f"{tuple(out.shape[1:])}: shape mismatch")


def seeded_rng(seed: int | None, device: torch.device | str) -> torch.Generator | None:
    """A ``torch.Generator`` on ``device`` seeded with ``seed``, or ``None`` (the global RNG) for no seed."""
    return None if seed is None else torch.Generator(device=device).manual_seed(seed)
