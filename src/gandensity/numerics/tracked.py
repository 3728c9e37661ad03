"""Density-tracking layers: LED's generator as a "non-invertible flow" (paper 003, section 2.1 and appendix A).

Every layer maps ``(x, log_density)`` to ``(y, log_density of y)``: ``x`` is a batch (B, ...) of one random
variable's values and ``log_density`` (B,) its log-density at them, in float64. A layer that is a bijection applies
the change of variables (paper Eq. 6), ``log p(y) = log p(x) - log|det dy/dx|``; a layer that adds dimensions
appends independent noise and adds the noise's log-density (Eq. 7); a layer that drops dimensions divides by the
density of the dropped part given its kept neighbour, assumed Gaussian (Eq. 8; exact only when that assumption
holds). Batch normalization treats the batch statistics as constants (appendix A.4): exact in evaluation mode
(running statistics), an approximation in training mode.

Noise enters through standard-normal draws ``eps`` that a layer scales by its ``sigma``; passing them explicitly
(``TrackedGenerator.forward(z, noises)``) makes the generator a deterministic function of ``(z, eps)``, which is how
the tests compare the tracked density with a brute-force Jacobian.

Inputs are checked at the door: latents and noises must be finite float32/float64 batches (B >= 1) of the
parameters' dtype, and every sigma finite and > 0. A bijective layer whose log|det| is not finite (a singular
weight, a zero batch-norm scale) is not invertible, so the density of its output is undefined: it raises
rather than return an infinite log-density.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gandensity.numerics._checks import check_positive_int, check_positive_number
from gandensity.numerics.priors import StandardNormal

__all__ = ["TrackedLayer", "Linear", "SmoothReLU", "CircularConv2d", "BatchNorm", "NoisePad", "CopyInflate",
           "NeighbourUpsample2d", "PixelShuffle", "HalveReduce", "NeighbourDownsample2d", "TrackedGenerator",
           "TrackedSample", "circular_conv_logdet", "mlp_generator", "image_generator", "reduction_gap_bound",
           "final_reduction_residuals"]

_STANDARD_NORMAL = StandardNormal()
_FLOAT_DTYPES = (torch.float32, torch.float64)


def _standard_normal_log_prob(x: Tensor) -> Tensor:
    """Log-density of N(0, I) at each sample of ``x`` (B, ...), all but the batch axis as one vector; (B,) float64."""
    return _STANDARD_NORMAL.log_prob(x.double().flatten(1))


def standard_normal_log_prob(x: Tensor) -> Tensor:
    """Deprecated: ``StandardNormal().log_prob(x.double().flatten(1))`` of :mod:`gandensity.numerics.priors`."""
    return _standard_normal_log_prob(x)


def _gaussian_log_prob(eps: Tensor, sigma: float) -> Tensor:
    """Log-density of ``sigma * eps`` under N(0, sigma^2 I), from the standard draws ``eps`` (B, ...); (B,)."""
    return _standard_normal_log_prob(eps) - math.prod(eps.shape[1:]) * math.log(sigma)


def _sigma(layer: str, sigma: float) -> float:
    return check_positive_number(sigma, f"{layer} sigma (the standard deviation of its Gaussian noise)",
                                 "pass e.g. sigma=0.1")


def _check_input(layer: str, x: Tensor, log_density: Tensor) -> None:
    """``x`` a float32/float64 batch (B >= 1, ...) and ``log_density`` its (B,) log-densities (no sync: no values)."""
    if not isinstance(x, Tensor) or x.ndim < 1 or x.shape[0] < 1:
        raise ValueError(f"{layer} expects a batch x of shape (B, ...) with B >= 1, got "
                         f"{type(x).__name__} {tuple(getattr(x, 'shape', ()))}")
    if x.dtype not in _FLOAT_DTYPES:
        raise TypeError(f"{layer} expects float32 or float64 inputs, got {x.dtype}; pass x.float() or x.double() "
                        "(log-determinants need at least single precision)")
    if not isinstance(log_density, Tensor) or tuple(log_density.shape) != (x.shape[0],):
        raise ValueError(f"{layer} expects log_density of shape (B,) = ({x.shape[0]},), one per sample of x, got "
                         f"{tuple(getattr(log_density, 'shape', ()))}")


def _invertible(layer: str, logdet: Tensor, why: str) -> Tensor:
    """``logdet`` if finite; else the layer is not invertible (or its weights are not finite): an error."""
    if not bool(torch.isfinite(logdet)):
        raise ValueError(f"{layer}: log|det| = {logdet.item()} because {why}, so the layer is not invertible and "
                         "the density of its output is undefined (the change of variables needs a non-zero, finite "
                         "determinant); re-initialise or retrain the layer so that it is invertible")
    return logdet


class TrackedLayer(nn.Module):
    """Base class: ``forward(x, log_density, eps=None) -> (y, log_density)``.

    ``noise_shape(x_shape)`` is the per-sample shape of the standard-normal draws the layer consumes, or None
    when it uses none.
    """

    def noise_shape(self, shape: tuple[int, ...]) -> tuple[int, ...] | None:
        return None

    def out_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        return shape


def _check_vector(name: str, x: Tensor, dim: int) -> None:
    if not isinstance(x, Tensor) or x.ndim != 2 or x.shape[1] != dim:
        raise ValueError(f"{name} expects (B, {dim}) inputs, got {tuple(x.shape)}")


class Linear(TrackedLayer):
    """Square fully connected layer ``y = x W^T + b`` on (B, dim); log|det W| by slogdet in float64 (appendix A.1).

    W is initialised orthogonal, hence full rank; the entropy term of LED's generator objective keeps it away from
    singular matrices.
    """

    def __init__(self, dim: int, bias: bool = True) -> None:
        super().__init__()
        check_positive_int(dim=dim)
        self.dim = dim
        self.weight = nn.Parameter(nn.init.orthogonal_(torch.empty(dim, dim)))
        self.bias = nn.Parameter(torch.zeros(dim)) if bias else None

    def logdet(self) -> Tensor:
        """log|det W|, a float64 scalar (differentiable)."""
        return torch.linalg.slogdet(self.weight.double())[1]

    def forward(self, x: Tensor, log_density: Tensor, eps: Tensor | None = None) -> tuple[Tensor, Tensor]:
        _check_vector("Linear", x, self.dim)
        _check_input("Linear", x, log_density)
        logdet = _invertible("Linear", self.logdet(), "its weight W is singular (det W = 0) or not finite")
        return F.linear(x, self.weight, self.bias), log_density - logdet


class SmoothReLU(TrackedLayer):
    """The paper's ReLU-like bijection (Eq. 10): ``L(u) = log(e^{a(u-u0)} + e^{b(u-u0)}) / a - t0``.

    Slope 1 for large u and b / a for very negative u (a = 5.8, b = 1 in the paper); ``t0 = log(2) / a`` puts
    L(u0) = 0. Its Jacobian is diagonal with entries L'(u) = s + (b / a)(1 - s), s = sigmoid((a - b)(u - u0))
    (Eq. 11, rewritten to be stable for any u).
    """

    def __init__(self, alpha: float = 5.8, beta: float = 1.0, u0: float = 0.0) -> None:
        super().__init__()
        if not (math.isfinite(alpha) and alpha > beta > 0):
            raise ValueError(f"SmoothReLU needs alpha > beta > 0 to be increasing and ReLU-like; got {alpha}, {beta}")
        self.alpha, self.beta, self.u0 = alpha, beta, u0
        self.t0 = math.log(2.0) / alpha

    def forward(self, x: Tensor, log_density: Tensor, eps: Tensor | None = None) -> tuple[Tensor, Tensor]:
        _check_input("SmoothReLU", x, log_density)
        v = x - self.u0
        y = torch.logaddexp(self.alpha * v, self.beta * v) / self.alpha - self.t0
        s = torch.sigmoid((self.alpha - self.beta) * v.double())
        ratio = self.beta / self.alpha
        log_slope = torch.log(ratio + (1 - ratio) * s)
        return y, log_density - log_slope.flatten(1).sum(1)


def circular_conv_logdet(weight: Tensor, height: int, width: int) -> Tensor:
    """log|det| of the circular 2-D convolution with ``weight`` (C, C, kh, kw) on C x height x width inputs.

    Circular convolution is block-diagonalized by the 2-D DFT (Sedghi et al. 2019): at each of the height x width
    frequencies it acts as the C x C matrix ``fft2(weight, (height, width))[:, :, u, v]``, so the log-determinant
    is the sum of their log|det|. Cost: one FFT and height * width slogdets of C x C, instead of one of a
    (C height width)^2 matrix. Float64 scalar, differentiable in ``weight``.
    """
    c_out, c_in, kh, kw = weight.shape
    if c_out != c_in:
        raise ValueError(f"a density-tracking convolution must keep the channel count; weight is {tuple(weight.shape)}")
    if kh > height or kw > width:
        raise ValueError(f"kernel {kh}x{kw} is larger than the {height}x{width} image it wraps around")
    blocks = torch.fft.fft2(weight.double(), s=(height, width)).permute(2, 3, 0, 1)  # (H, W, C, C) complex
    return torch.linalg.slogdet(blocks)[1].sum()


class CircularConv2d(TrackedLayer):
    """Channel-preserving convolution with circular padding (appendix A.3), on (B, C, H, W); odd kernel.

    Initialised near an orthogonal 1x1 mixing of the channels (the centre tap) so that it starts well conditioned.
    """

    def __init__(self, channels: int, kernel_size: int = 3, bias: bool = True) -> None:
        super().__init__()
        check_positive_int(channels=channels, kernel_size=kernel_size)
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd (centred circular padding); got {kernel_size}")
        self.channels, self.kernel_size = channels, kernel_size
        weight = 0.02 * torch.randn(channels, channels, kernel_size, kernel_size)
        centre = kernel_size // 2
        weight[:, :, centre, centre] += nn.init.orthogonal_(torch.empty(channels, channels))
        self.weight = nn.Parameter(weight)
        self.bias = nn.Parameter(torch.zeros(channels)) if bias else None

    def forward(self, x: Tensor, log_density: Tensor, eps: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if x.ndim != 4 or x.shape[1] != self.channels:
            raise ValueError(f"CircularConv2d expects (B, {self.channels}, H, W), got {tuple(x.shape)}")
        _check_input("CircularConv2d", x, log_density)
        logdet = _invertible("CircularConv2d", circular_conv_logdet(self.weight, x.shape[2], x.shape[3]),
                             "the circular convolution is singular (its C x C block at some frequency of the DFT "
                             "has det 0) or its weight is not finite")
        p = self.kernel_size // 2
        y = F.conv2d(F.pad(x, (p, p, p, p), mode="circular"), self.weight, self.bias)
        return y, log_density - logdet


class BatchNorm(TrackedLayer):
    """Batch normalization (paper Eq. 12) on (B, C) or (B, C, H, W), tracked with a diagonal Jacobian (Eq. 13).

    In training mode it normalizes by the batch's mean and (biased) variance and, as the paper does, treats
    them as constants: the tracked density is then that of the affine map *given* the batch statistics (the map
    of the whole batch is not even invertible: its outputs have zero mean and fixed variance). In evaluation mode
    it uses running statistics and the tracked density is exact.
    """

    def __init__(self, num_features: int, momentum: float = 0.1, eps: float = 1e-5) -> None:
        super().__init__()
        check_positive_int(num_features=num_features)
        if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) or not 0 <= momentum <= 1:
            raise ValueError(f"BatchNorm momentum must be a number in [0, 1], got {momentum!r}; pass e.g. 0.1")
        if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not (math.isfinite(eps) and eps >= 0):
            raise ValueError(f"BatchNorm eps (added to the variance) must be finite and >= 0, got {eps!r}; pass e.g. "
                             "eps=1e-5")
        self.num_features, self.momentum, self.eps = num_features, momentum, eps
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def forward(self, x: Tensor, log_density: Tensor, eps: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if x.ndim not in (2, 4) or x.shape[1] != self.num_features:
            raise ValueError(f"BatchNorm expects (B, {self.num_features}) or (B, {self.num_features}, H, W), "
                             f"got {tuple(x.shape)}")
        _check_input("BatchNorm", x, log_density)
        axes = [0] + list(range(2, x.ndim))
        if self.training:
            if x.shape[0] < 2:
                raise ValueError("BatchNorm in training mode needs a batch of at least 2 samples (their variance); "
                                 "call .eval() to use the running statistics for single samples")
            mean, var = x.mean(axes), x.var(axes, unbiased=False)
            with torch.no_grad():
                n = x.numel() // self.num_features
                self.running_mean.lerp_(mean.detach(), self.momentum)
                self.running_var.lerp_(var.detach() * n / max(n - 1, 1), self.momentum)
        else:
            mean, var = self.running_mean, self.running_var
        shape = (1, -1) + (1,) * (x.ndim - 2)
        scale = self.weight / torch.sqrt(var + self.eps)  # (C,)
        y = (x - mean.view(shape)) * scale.view(shape) + self.bias.view(shape)
        pixels = math.prod(x.shape[2:])  # H * W (1 for vectors)
        logdet = pixels * torch.log(scale.double().abs()).sum()
        if not bool(torch.isfinite(logdet)):
            dead = (~(torch.isfinite(scale) & (scale != 0))).nonzero().flatten().tolist()
            _invertible("BatchNorm", logdet, f"its scale weight / sqrt(var + eps) is zero or not finite in channels "
                                             f"{dead[:10]}")
        return y, log_density - logdet


class NoisePad(TrackedLayer):
    """Raise (B, d) to (B, prod(out_shape)) by appending ``sigma * eps`` (Eq. 7), reshaped to ``out_shape``.

    The new coordinates are independent N(0, sigma^2) noise, so the joint log-density is the old one plus theirs.
    """

    def __init__(self, out_shape: tuple[int, ...], sigma: float = 1.0) -> None:
        super().__init__()
        self.out_shape_ = tuple(out_shape)
        if not self.out_shape_ or any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in self.out_shape_):
            raise ValueError(f"NoisePad out_shape must be a tuple of positive ints, got {out_shape!r}")
        self.sigma = _sigma("NoisePad", sigma)

    def noise_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        extra = math.prod(self.out_shape_) - math.prod(shape)
        if extra < 0:
            raise ValueError(f"NoisePad to {self.out_shape_} cannot shrink an input of shape {shape}")
        return (extra,)

    def out_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        return self.out_shape_

    def forward(self, x: Tensor, log_density: Tensor, eps: Tensor | None = None) -> tuple[Tensor, Tensor]:
        _check_input("NoisePad", x, log_density)
        eps = _draw(eps, x, self.noise_shape(tuple(x.shape[1:])))
        y = torch.cat([x.flatten(1), self.sigma * eps], 1).view(x.shape[0], *self.out_shape_)
        return y, log_density + _gaussian_log_prob(eps, self.sigma)


class CopyInflate(TrackedLayer):
    """Double a vector (B, d) -> (B, 2d) as ``[x, x + sigma * eps]``: each new coordinate copies its neighbour
    and adds noise (Eq. 7 with neighbour copying). The map (x, eps) -> y has unit-determinant Jacobian in x and
    the new part, so log p(y) = log p(x) + log N(sigma eps; 0, sigma^2)."""

    def __init__(self, sigma: float) -> None:
        super().__init__()
        self.sigma = _sigma(type(self).__name__, sigma)

    def noise_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        return shape

    def out_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        return (2 * shape[0],)

    def forward(self, x: Tensor, log_density: Tensor, eps: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if x.ndim != 2:
            raise ValueError(f"CopyInflate expects (B, d) vectors, got {tuple(x.shape)}")
        _check_input("CopyInflate", x, log_density)
        eps = _draw(eps, x, tuple(x.shape[1:]))
        return torch.cat([x, x + self.sigma * eps], 1), log_density + _gaussian_log_prob(eps, self.sigma)


class NeighbourUpsample2d(TrackedLayer):
    """Nearest-neighbour upsampling with noise (appendix A.5): (B, C, H, W) -> (B, C, 2H, 2W).

    Pixel (2i, 2j) is x[i, j]; its three new neighbours are x[i, j] + sigma * eps. Tracked like
    :class:`CopyInflate`; the output is a permutation of [x, copies], which does not change the density.
    """

    def __init__(self, sigma: float) -> None:
        super().__init__()
        self.sigma = _sigma(type(self).__name__, sigma)

    def noise_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        c, h, w = shape
        return (c, h, w, 3)

    def out_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        c, h, w = shape
        return (c, 2 * h, 2 * w)

    def forward(self, x: Tensor, log_density: Tensor, eps: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if x.ndim != 4:
            raise ValueError(f"NeighbourUpsample2d expects (B, C, H, W), got {tuple(x.shape)}")
        _check_input("NeighbourUpsample2d", x, log_density)
        b, c, h, w = x.shape
        eps = _draw(eps, x, (c, h, w, 3))
        quads = torch.cat([x[..., None], x[..., None] + self.sigma * eps], -1)  # (B, C, H, W, 4): tl, tr, bl, br
        y = quads.view(b, c, h, w, 2, 2).permute(0, 1, 2, 4, 3, 5).reshape(b, c, 2 * h, 2 * w)
        return y, log_density + _gaussian_log_prob(eps, self.sigma)


class PixelShuffle(TrackedLayer):
    """(B, 4C, H, W) -> (B, C, 2H, 2W): trade channels for resolution (paper appendix C.1). A permutation of
    coordinates: |det| = 1, the density is unchanged."""

    def out_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        c, h, w = shape
        return (c // 4, 2 * h, 2 * w)

    def forward(self, x: Tensor, log_density: Tensor, eps: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if x.ndim != 4 or x.shape[1] % 4:
            raise ValueError(f"PixelShuffle expects (B, 4k, H, W), got {tuple(x.shape)}")
        _check_input("PixelShuffle", x, log_density)
        return F.pixel_shuffle(x, 2), log_density


class HalveReduce(TrackedLayer):
    """Halve a vector (B, 2d) -> (B, d) by dropping ``x2 = x[:, d:]`` (Eq. 8): ``log p(x1) = log p(x1, x2) -
    log N(x2; x1, sigma^2 I)``, assuming each dropped coordinate is Gaussian around its kept neighbour. Exact
    when that holds (e.g. after :class:`CopyInflate` with the same sigma); otherwise an approximation."""

    def __init__(self, sigma: float) -> None:
        super().__init__()
        self.sigma = _sigma(type(self).__name__, sigma)

    def out_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        return (shape[0] // 2,)

    def forward(self, x: Tensor, log_density: Tensor, eps: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if x.ndim != 2 or x.shape[1] % 2:
            raise ValueError(f"HalveReduce expects (B, 2d) vectors, got {tuple(x.shape)}")
        _check_input("HalveReduce", x, log_density)
        x1, x2 = x.chunk(2, 1)
        return x1, log_density - _gaussian_log_prob((x2 - x1) / self.sigma, self.sigma)

    def residuals(self, x: Tensor) -> Tensor:
        """(B, d) dropped minus kept coordinates, ``x2 - x1``: what Eq. 8 assumes to be N(0, sigma^2 I)."""
        x1, x2 = x.chunk(2, 1)
        return x2 - x1


class NeighbourDownsample2d(TrackedLayer):
    """(B, C, 2H, 2W) -> (B, C, H, W) keeping pixel (2i, 2j) and marginalizing its three neighbours with Eq. 8,
    each assumed N(kept pixel, sigma^2). The inverse of :class:`NeighbourUpsample2d` with the same sigma."""

    def __init__(self, sigma: float) -> None:
        super().__init__()
        self.sigma = _sigma(type(self).__name__, sigma)

    def out_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        c, h, w = shape
        return (c, h // 2, w // 2)

    def forward(self, x: Tensor, log_density: Tensor, eps: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if x.ndim != 4 or x.shape[2] % 2 or x.shape[3] % 2:
            raise ValueError(f"NeighbourDownsample2d expects (B, C, 2H, 2W), got {tuple(x.shape)}")
        _check_input("NeighbourDownsample2d", x, log_density)
        b, c, h2, w2 = x.shape
        quads = x.view(b, c, h2 // 2, 2, w2 // 2, 2).permute(0, 1, 2, 4, 3, 5).reshape(b, c, h2 // 2, w2 // 2, 4)
        kept, dropped = quads[..., :1], quads[..., 1:]
        return kept[..., 0], log_density - _gaussian_log_prob((dropped - kept) / self.sigma, self.sigma)

    def residuals(self, x: Tensor) -> Tensor:
        """(B, 3 C H W) each dropped pixel minus its kept neighbour: what Eq. 8 assumes to be N(0, sigma^2)."""
        b, c, h2, w2 = x.shape
        quads = x.view(b, c, h2 // 2, 2, w2 // 2, 2).permute(0, 1, 2, 4, 3, 5).reshape(b, c, h2 // 2, w2 // 2, 4)
        return (quads[..., 1:] - quads[..., :1]).flatten(1)


def _draw(eps: Tensor | None, x: Tensor, shape: tuple[int, ...], name: str = "noise") -> Tensor:
    """The given standard-normal draws (checked), or fresh ones from torch's global generator."""
    if eps is None:
        return torch.randn(x.shape[0], *shape, dtype=x.dtype, device=x.device)
    if not isinstance(eps, Tensor) or tuple(eps.shape) != (x.shape[0], *shape):
        raise ValueError(f"noise of shape {tuple(getattr(eps, 'shape', ()))} given as {name} where "
                         f"{(x.shape[0], *shape)} is needed")
    if eps.dtype != x.dtype:
        raise TypeError(f"{name} has dtype {eps.dtype} but the layer's input has {x.dtype}; pass "
                        f"{name}.to({x.dtype})")
    if not bool(torch.isfinite(eps).all()):
        bad = (~torch.isfinite(eps.reshape(eps.shape[0], -1))).any(1).nonzero().flatten().tolist()
        raise ValueError(f"{name} contains NaN or inf in samples {bad[:10]}; pass finite standard-normal draws")
    return eps


class TrackedSample(NamedTuple):
    """Generated points and their tracked log-density.

    x: (B, *out_shape) samples. log_density: (B,) float64 log P_G(x). z: (B, latent_dim) latents.
    noises: the standard-normal draws of each noise-consuming layer, in order (replaying them reproduces x).
    """

    x: Tensor
    log_density: Tensor
    z: Tensor
    noises: list[Tensor]


class TrackedGenerator(nn.Module):
    """A sequence of :class:`TrackedLayer` from a standard-normal latent (B, latent_dim) to data (B, *out_shape).

    ``forward(z, noises=None) -> (x, log P_G(x))`` starts from log N(z; 0, I) and lets every layer update it.
    """

    def __init__(self, latent_dim: int, layers: list[TrackedLayer]) -> None:
        super().__init__()
        check_positive_int(latent_dim=latent_dim)
        wrong = [type(layer).__name__ for layer in layers if not isinstance(layer, TrackedLayer)]
        if wrong:
            raise TypeError(f"layers must be TrackedLayer instances (they track the density), got {wrong}")
        self.latent_dim = latent_dim
        self.layers = nn.ModuleList(layers)
        shape: tuple[int, ...] = (latent_dim,)
        self.noise_shapes: list[tuple[int, ...]] = []
        for layer in layers:
            ns = layer.noise_shape(shape)
            if ns is not None:
                self.noise_shapes.append(ns)
            shape = layer.out_shape(shape)
        self.out_shape = shape

    @property
    def noise_dim(self) -> int:
        """Number of noise coordinates per sample (the generator is a map of latent_dim + noise_dim inputs)."""
        return sum(math.prod(s) for s in self.noise_shapes)

    def forward(self, z: Tensor, noises: list[Tensor] | None = None) -> tuple[Tensor, Tensor]:
        x, log_density, _ = self._run(z, noises)
        return x, log_density

    def _check_z(self, z: Tensor) -> None:
        if not isinstance(z, Tensor) or z.ndim != 2 or z.shape[1] != self.latent_dim or z.shape[0] < 1:
            raise ValueError(f"TrackedGenerator expects z of shape (B, {self.latent_dim}) with B >= 1, got "
                             f"{type(z).__name__} {tuple(getattr(z, 'shape', ()))}; for one latent pass z[None]")
        param = next(self.parameters(), None)
        want = param.dtype if param is not None else torch.get_default_dtype()
        if z.dtype not in _FLOAT_DTYPES or (param is not None and z.dtype != want):
            raise TypeError(f"z has dtype {z.dtype} but the generator's parameters are {want}; pass z.to({want}) "
                            "(or convert the generator with .double() for float64; float16 and integer latents are "
                            "not supported)")
        if param is not None and z.device != param.device:
            raise ValueError(f"z is on {z.device} but the generator's parameters are on {param.device}; move one")
        if not bool(torch.isfinite(z).all()):
            bad = (~torch.isfinite(z)).any(1).nonzero().flatten().tolist()
            raise ValueError(f"z contains NaN or inf in rows {bad[:10]}; their density is undefined: pass finite "
                             "latents")

    def _run(self, z: Tensor, noises: list[Tensor] | None) -> tuple[Tensor, Tensor, list[Tensor]]:
        self._check_z(z)
        if noises is not None and (not isinstance(noises, (list, tuple)) or len(noises) != len(self.noise_shapes)):
            raise ValueError(f"{len(noises) if isinstance(noises, (list, tuple)) else type(noises).__name__} noise "
                             f"tensors given; this generator consumes {len(self.noise_shapes)}: pass a list of that "
                             "many (or None to draw them)")
        x, log_density, used = z, _standard_normal_log_prob(z), []
        for layer in self.layers:
            eps, shape = None, layer.noise_shape(tuple(x.shape[1:]))
            if shape is not None:
                eps = _draw(noises[len(used)] if noises is not None else None, x, shape, f"noises[{len(used)}]")
                used.append(eps)
            x, log_density = layer(x, log_density, eps)
        return x, log_density, used

    def sample(self, n: int, *, rng: torch.Generator | None = None) -> TrackedSample:
        """``n`` samples with their log-densities; all randomness from ``rng`` (seeded) if given."""
        check_positive_int(n=n)
        device = next(self.parameters(), torch.empty(0)).device
        z = torch.randn(n, self.latent_dim, generator=rng, device=device)
        noises = [torch.randn(n, *s, generator=rng, device=device) for s in self.noise_shapes]
        x, log_density, used = self._run(z, noises)
        return TrackedSample(x, log_density, z, used)

    def inputs_to_output(self, inputs: Tensor) -> Tensor:
        """The generator as a plain function of the flat inputs (B, latent_dim + noise_dim) -> (B, prod(out_shape)):
        the map whose Jacobian the change of variables is about (for brute-force checks)."""
        sizes = [self.latent_dim] + [math.prod(s) for s in self.noise_shapes]
        if not isinstance(inputs, Tensor) or inputs.ndim != 2 or inputs.shape[1] != sum(sizes):
            raise ValueError(f"inputs must have shape (B, latent_dim + noise_dim) = (B, {sum(sizes)}), got "
                             f"{tuple(getattr(inputs, 'shape', ()))}")
        parts = inputs.split(sizes, 1)
        noises = [p.reshape(p.shape[0], *s) for p, s in zip(parts[1:], self.noise_shapes)]
        return self(parts[0], noises)[0].flatten(1)


def reduction_gap_bound(residuals: Tensor, sigma: float) -> Tensor:
    """A lower bound (nats, float64 scalar) on the mean overestimate of log P by one Eq. 8 reduction.

    Eq. 8 replaces P(t2 | t1) by N(t2; t1, sigma^2 I), so the tracked log-density exceeds the true one by
    E_{t1} KL(P(t2 | t1) || N(t1, sigma^2 I)) on average. With r = t2 - t1 this is at least KL(P(r) || N(0,
    sigma^2 I)) (marginalizing over t1 cannot raise a KL), which is at least the sum over coordinates of
    KL(P(r_i) || N(0, sigma^2)) (the reference is a product), each at least the KL of the Gaussian with r_i's
    mean m_i and variance v_i (a Gaussian has the largest entropy for given moments):

        bound = sum_i (v_i / sigma^2 + m_i^2 / sigma^2 - 1 - log(v_i / sigma^2)) / 2 >= 0.

    ``residuals``: (N, d) samples of r (e.g. :meth:`HalveReduce.residuals`); moments are estimated from them.
    """
    if not isinstance(residuals, Tensor) or residuals.ndim != 2 or residuals.shape[0] < 2:
        raise ValueError(f"residuals must be (N >= 2, d), got {tuple(getattr(residuals, 'shape', ()))}")
    sigma = check_positive_number(sigma, "sigma (the reduction's noise standard deviation)", "pass the layer's sigma")
    if not bool(torch.isfinite(residuals).all()):
        raise ValueError("residuals contain NaN or inf; pass finite residuals (from HalveReduce.residuals)")
    r = residuals.double()
    m, v = r.mean(0), r.var(0).clamp_min(1e-300)
    ratio = v / sigma ** 2
    return 0.5 * (ratio + m.pow(2) / sigma ** 2 - 1 - ratio.log()).sum()


@torch.no_grad()
def final_reduction_residuals(generator: "TrackedGenerator", n: int, *,
                              rng: torch.Generator | None = None) -> tuple[Tensor, float]:
    """(n, d) residuals of the generator's last layer, an Eq. 8 reduction, at n fresh samples, and its sigma.

    Runs every layer but the last on n latents and noises drawn from ``rng``, then asks the reduction for its
    dropped-minus-kept residuals (feed them to :func:`reduction_gap_bound`)."""
    check_positive_int(n=n)
    last = generator.layers[-1]
    if not isinstance(last, (HalveReduce, NeighbourDownsample2d)):
        raise TypeError(f"the generator's last layer is {type(last).__name__}, not an Eq. 8 reduction")
    before = TrackedGenerator(generator.latent_dim, list(generator.layers)[:-1])
    return last.residuals(before.sample(n, rng=rng).x), last.sigma


def mlp_generator(data_dim: int = 2, *, features: int = 256, blocks: int = 8, copy_sigma: float = 0.1,
                  reduce_sigma: float = 0.1, alpha: float = 5.8, beta: float = 1.0) -> TrackedGenerator:
    """LED's generator for 2-D data (appendix C.2).

    A ``data_dim`` latent is doubled (copy + noise, then a square linear layer) up to ``features`` coordinates,
    passed through ``blocks`` blocks of (square linear, batch norm, smooth ReLU), then halved (square linear, drop
    half with Eq. 8) back to ``data_dim``. The paper uses 256 features and 8 blocks.
    """
    check_positive_int(data_dim=data_dim, features=features, blocks=blocks)
    for name, value in (("copy_sigma", copy_sigma), ("reduce_sigma", reduce_sigma)):
        check_positive_number(value, name, f"pass e.g. {name}=0.1")
    if features < data_dim or features % data_dim or (features // data_dim) & (features // data_dim - 1):
        raise ValueError(f"features must be data_dim times a power of 2 (e.g. {data_dim * 128}); got {features}")
    layers: list[TrackedLayer] = []
    d = data_dim
    while d < features:
        layers += [CopyInflate(copy_sigma), Linear(2 * d)]
        d *= 2
    for _ in range(blocks):
        layers += [Linear(d), BatchNorm(d), SmoothReLU(alpha, beta)]
    while d > data_dim:
        layers += [Linear(d), HalveReduce(reduce_sigma)]
        d //= 2
    layers.append(Linear(d))
    return TrackedGenerator(data_dim, layers)


def image_generator(latent_dim: int = 64, *, channels: int = 1, image_size: int = 32, shuffles: int = 3,
                    noise_sigma: float = 1.0, reduce_sigma: float = 0.1, kernel_size: int = 3,
                    alpha: float = 5.8, beta: float = 1.0) -> TrackedGenerator:
    """LED's DCGAN-like generator for images (appendix C.1).

    z (B, latent_dim) -> square linear -> padded with N(0, noise_sigma^2) noise to a (channels * 4^shuffles,
    s, s) tensor, s = 2 image_size / 2^shuffles -> ``shuffles`` stages of (circular convolution, batch norm,
    smooth ReLU, pixel shuffle), each doubling the side at the expense of channels -> a final circular
    convolution at (channels, 2 image_size, 2 image_size) -> 2x neighbour downsampling (Eq. 8) to
    (B, channels, image_size, image_size).
    """
    check_positive_int(latent_dim=latent_dim, channels=channels, image_size=image_size, shuffles=shuffles,
                       kernel_size=kernel_size)
    for name, value in (("noise_sigma", noise_sigma), ("reduce_sigma", reduce_sigma)):
        check_positive_number(value, name, f"pass e.g. {name}=0.1")
    side = 2 * image_size // 2 ** shuffles
    if side * 2 ** shuffles != 2 * image_size or side < kernel_size:
        raise ValueError(f"2 * image_size = {2 * image_size} must be 2^shuffles times a side >= kernel_size; "
                         f"got shuffles={shuffles}")
    width = channels * 4 ** shuffles
    if width * side * side < latent_dim:
        raise ValueError(f"the first tensor ({width}x{side}x{side}) is smaller than latent_dim={latent_dim}")
    layers: list[TrackedLayer] = [Linear(latent_dim), NoisePad((width, side, side), noise_sigma)]
    for _ in range(shuffles):
        layers += [CircularConv2d(width, kernel_size), BatchNorm(width), SmoothReLU(alpha, beta), PixelShuffle()]
        width //= 4
    layers += [CircularConv2d(width, kernel_size), NeighbourDownsample2d(reduce_sigma)]
    return TrackedGenerator(latent_dim, layers)
