"""Density-tracking layers (LED, paper 003 section 2.1 and appendix A) and the 2-D mixtures of the mode benchmark.

References: every log-determinant against ``torch.linalg.slogdet`` of a dense Jacobian from
``torch.autograd.functional.jacobian`` (float64); noise layers as bijections of (x, eps); whole generators against
the change of variables of their flat inputs, and linear-Gaussian generators against
``torch.distributions.MultivariateNormal``. Deterministic comparisons to 1e-8 or tighter; Monte Carlo ones with a
tolerance from the binomial standard deviation.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch.autograd.functional import jacobian
from torch.distributions import MultivariateNormal

from gandensity.numerics import mixtures, tracked
from gandensity.numerics.priors import StandardNormal
from gandensity.numerics.tracked import (BatchNorm, CircularConv2d, CopyInflate, HalveReduce, Linear, NeighbourDownsample2d,
                                NeighbourUpsample2d, NoisePad, PixelShuffle, SmoothReLU, TrackedGenerator)

pytestmark = pytest.mark.usefixtures("float64")  # tests/conftest.py

TOL = 1e-8  # float64 brute-force comparisons


def standard_normal_log_prob(x: torch.Tensor) -> torch.Tensor:
    """log N(0, I) of each sample of x (B, ...) as one flat vector, (B,) float64 (numerics.priors' StandardNormal)."""
    return StandardNormal().log_prob(x.double().flatten(1))


def dense_logdet(f, x: torch.Tensor) -> float:
    """log|det J| of f at one flat point x (n,), f: (n,) -> (n,), by a dense Jacobian."""
    J = jacobian(f, x)
    assert J.shape == (x.numel(), x.numel()), f"Jacobian is {tuple(J.shape)}, not square"
    sign, logabs = torch.linalg.slogdet(J)
    assert sign != 0, "singular Jacobian"
    return float(logabs)


def layer_logdet_check(layer, x: torch.Tensor) -> None:
    """The tracked log-density change of a bijective ``layer`` on each sample of x equals -log|det J|."""
    ld0 = torch.randn(x.shape[0])
    y, ld1 = layer(x, ld0)
    assert y.shape[0] == x.shape[0] and ld1.shape == (x.shape[0],)
    for i in range(x.shape[0]):
        shape = x.shape[1:]
        f = lambda v: layer(v.view(1, *shape), torch.zeros(1))[0].flatten()  # noqa: E731
        want = dense_logdet(f, x[i].flatten())
        got = float((ld0[i] - ld1[i]).detach())
        assert abs(got - want) < TOL * max(1.0, abs(want)), f"sample {i}: tracked {got}, dense {want} (tol 1e-8 rel)"


def randomize(module: torch.nn.Module, scale: float = 0.3) -> None:
    """Perturb every parameter so that no test relies on a special initialisation."""
    with torch.no_grad():
        for p in module.parameters():
            p.add_(scale * torch.randn_like(p))


# ---------------------------------------------------------------------------------------------- bijective layers


def test_linear_logdet_matches_dense_jacobian():
    torch.manual_seed(0)
    layer = Linear(5)
    randomize(layer, 0.5)
    layer_logdet_check(layer, torch.randn(4, 5))
    assert torch.linalg.slogdet(layer.weight)[1].item() == pytest.approx(layer.logdet().item(), abs=1e-12)
    with pytest.raises(ValueError, match=r"\(B, 5\)"):
        layer(torch.randn(3, 4), torch.zeros(3))


def test_smooth_relu_logdet_and_shape():
    torch.manual_seed(1)
    layer = SmoothReLU(alpha=5.8, beta=1.0, u0=0.2)
    x = torch.cat([torch.randn(3, 6), torch.tensor([[-30.0, -5.0, 0.2, 0.0, 5.0, 30.0]])])
    layer_logdet_check(layer, x)
    layer_logdet_check(layer, torch.randn(2, 2, 3, 3))  # images: elementwise, summed over all coordinates


def test_smooth_relu_values():
    alpha, beta, u0 = 5.8, 1.0, 0.3
    layer = SmoothReLU(alpha, beta, u0)
    L = lambda u: layer(torch.tensor([[float(u)]]), torch.zeros(1))[0].item()  # noqa: E731
    assert abs(L(u0)) < 1e-14, f"L(u0) = {L(u0)}, want 0"
    assert L(40.0) - L(39.0) == pytest.approx(1.0, abs=1e-12), "slope -> 1 for large u"
    assert L(-40.0) - L(-41.0) == pytest.approx(beta / alpha, abs=1e-12), "slope -> beta / alpha for negative u"
    assert L(40.0) == pytest.approx(40.0 - u0 - math.log(2) / alpha, abs=1e-12), "L(u) ~ u - u0 - t0 for large u"
    u = torch.linspace(-20, 20, 4001)[:, None]
    y = layer(u, torch.zeros(len(u)))[0][:, 0]
    assert (y.diff() > 0).all(), "L must be strictly increasing"
    # Eq. 11 slope from finite differences, in between
    slope = (layer(u + 1e-6, torch.zeros(len(u)))[0] - layer(u - 1e-6, torch.zeros(len(u)))[0])[:, 0] / 2e-6
    _, ld = layer(u, torch.zeros(len(u)))
    torch.testing.assert_close(-ld, slope.log(), rtol=0, atol=1e-7)  # finite-difference error ~1e-9
    for a, b in ((1.0, 1.0), (1.0, 2.0), (5.8, 0.0)):
        with pytest.raises(ValueError, match="alpha > beta > 0"):
            SmoothReLU(a, b)


@pytest.mark.parametrize("c,h,w,k", [(1, 5, 5, 1), (2, 4, 6, 3), (3, 5, 3, 3), (2, 5, 7, 5), (1, 6, 5, 5),
                                     (3, 3, 4, 1)])
def test_circular_conv_logdet_matches_dense_jacobian(c, h, w, k):
    torch.manual_seed(c * 100 + h * 10 + w + k)
    layer = CircularConv2d(c, k)
    with torch.no_grad():
        layer.weight.copy_(torch.randn_like(layer.weight) / k)  # a generic kernel, not the near-identity init
        layer.bias.copy_(torch.randn(c))
    layer_logdet_check(layer, torch.randn(2, c, h, w))


def circulant_matrix(weight: torch.Tensor, h: int, w: int, mode: str) -> torch.Tensor:
    """The dense matrix of the (circular or zero-padded) convolution, by applying it to the basis vectors."""
    c = weight.shape[1]
    p = weight.shape[-1] // 2
    basis = torch.eye(c * h * w).view(-1, c, h, w)
    padded = F.pad(basis, (p, p, p, p), mode=mode) if mode == "circular" else F.pad(basis, (p, p, p, p))
    return F.conv2d(padded, weight).flatten(1).T


@pytest.mark.parametrize("c,h,w,k", [(2, 4, 6, 3), (1, 7, 5, 5), (3, 3, 3, 3)])
def test_circular_conv_logdet_matches_dense_circulant(c, h, w, k):
    torch.manual_seed(h * w + k)
    weight = torch.randn(c, c, k, k)
    want = torch.linalg.slogdet(circulant_matrix(weight, h, w, "circular"))[1].item()
    got = tracked.circular_conv_logdet(weight, h, w).item()
    assert abs(got - want) < TOL * max(1.0, abs(want)), f"FFT log-det {got}, dense {want} (tol 1e-8 rel)"
    # the circular padding matters: a zero-padded convolution has another determinant
    zero = torch.linalg.slogdet(circulant_matrix(weight, h, w, "constant"))[1].item()
    assert abs(zero - want) > 1e-3, "zero padding should give a different log-det than circular padding"


def test_circular_conv_errors():
    with pytest.raises(ValueError, match="channel count"):
        tracked.circular_conv_logdet(torch.randn(2, 3, 3, 3), 4, 4)
    with pytest.raises(ValueError, match="larger than"):
        tracked.circular_conv_logdet(torch.randn(2, 2, 5, 5), 4, 6)
    with pytest.raises(ValueError, match="odd"):
        CircularConv2d(2, 4)
    with pytest.raises(ValueError, match=r"\(B, 2, H, W\)"):
        CircularConv2d(2)(torch.randn(1, 3, 4, 4), torch.zeros(1))


def random_batchnorm(c: int) -> BatchNorm:
    layer = BatchNorm(c)
    with torch.no_grad():
        layer.running_mean.copy_(torch.randn(c))
        layer.running_var.copy_(torch.rand(c) * 2 + 0.1)
        weight = torch.randn(c)
        weight[0] = -abs(weight[0]) - 0.2  # at least one negative scale
        layer.weight.copy_(weight)
        layer.bias.copy_(torch.randn(c))
    return layer.eval()


@pytest.mark.parametrize("shape", [(4, 3), (3, 2, 3, 4)])
def test_batchnorm_eval_logdet_matches_dense_jacobian(shape):
    torch.manual_seed(len(shape))
    layer = random_batchnorm(shape[1])
    layer_logdet_check(layer, torch.randn(*shape))


def test_batchnorm_training_uses_batch_statistics():
    torch.manual_seed(3)
    layer = random_batchnorm(2).train()
    x = 2 * torch.randn(5, 2, 3, 3) + 1
    ld0 = torch.randn(5)
    y, ld1 = layer(x, ld0)
    var = x.var((0, 2, 3), unbiased=False)
    mean = x.mean((0, 2, 3))
    scale = layer.weight / torch.sqrt(var + layer.eps)
    want = 9 * scale.abs().log().sum()  # Eq. 13: H * W copies of each channel's log|scale|
    torch.testing.assert_close(ld0 - ld1, want.expand(5), rtol=0, atol=1e-12)
    torch.testing.assert_close(y, (x - mean.view(1, 2, 1, 1)) * scale.view(1, 2, 1, 1) + layer.bias.view(1, 2, 1, 1),
                               rtol=0, atol=1e-12)
    # the same affine map with the batch statistics frozen (an eval-mode layer holding them) has that Jacobian
    frozen = random_batchnorm(2)
    frozen.load_state_dict(layer.state_dict())
    with torch.no_grad():
        frozen.running_mean.copy_(mean)
        frozen.running_var.copy_(var)
    layer_logdet_check(frozen, x[:2])
    _, ld_frozen = frozen(x, ld0)
    torch.testing.assert_close(ld_frozen, ld1, rtol=0, atol=1e-12)
    # eval mode with the (different) running statistics tracks another density
    _, ld_eval = layer.eval()(x, ld0)
    assert (ld_eval - ld1).abs().min() > 1e-3, "training and eval mode should differ here"
    with pytest.raises(ValueError, match="at least 2"):
        layer.train()(x[:1], ld0[:1])
    with pytest.raises(ValueError, match=r"\(B, 2\)"):
        layer(torch.randn(4, 3), torch.zeros(4))


def test_batchnorm_running_statistics_update():
    torch.manual_seed(4)
    layer = BatchNorm(3, momentum=0.25)
    x = torch.randn(6, 3) * torch.tensor([1.0, 2.0, 3.0]) + 5
    layer(x, torch.zeros(6))
    torch.testing.assert_close(layer.running_mean, 0.75 * torch.zeros(3) + 0.25 * x.mean(0), rtol=0, atol=1e-12)
    torch.testing.assert_close(layer.running_var, 0.75 + 0.25 * x.var(0, unbiased=True), rtol=0, atol=1e-12)


def test_pixel_shuffle_is_a_permutation():
    torch.manual_seed(5)
    layer = PixelShuffle()
    x = torch.randn(2, 8, 3, 2)
    layer_logdet_check(layer, x)
    y, ld = layer(x, torch.tensor([1.5, -2.0]))
    assert y.shape == (2, 2, 6, 4) and layer.out_shape((8, 3, 2)) == (2, 6, 4)
    assert torch.equal(ld, torch.tensor([1.5, -2.0]))
    assert torch.equal(y.flatten(1).sort(1).values, x.flatten(1).sort(1).values)
    with pytest.raises(ValueError, match="4k"):
        layer(torch.randn(1, 6, 2, 2), torch.zeros(1))


# ---------------------------------------------------------------------------------------------- noise layers


def noise_layer_check(layer, x: torch.Tensor) -> torch.Tensor:
    """(x, eps) -> y is a bijection; log p(y) = log p(x) + log N(eps) - log|det d y / d(x, eps)|. Returns y."""
    ns = layer.noise_shape(tuple(x.shape[1:]))
    eps = torch.randn(x.shape[0], *ns)
    ld0 = torch.randn(x.shape[0])
    y, ld1 = layer(x, ld0, eps)
    out = layer.out_shape(tuple(x.shape[1:]))
    assert tuple(y.shape) == (x.shape[0], *out), f"output {tuple(y.shape)}, out_shape says {out}"
    nx, ne = x[0].numel(), eps[0].numel()
    assert nx + ne == math.prod(out), "inputs and outputs must have the same dimension"
    for i in range(x.shape[0]):
        def f(v):
            return layer(v[:nx].view(1, *x.shape[1:]), torch.zeros(1), v[nx:].view(1, *ns))[0].flatten()
        logdet = dense_logdet(f, torch.cat([x[i].flatten(), eps[i].flatten()]))
        want = ld0[i] + standard_normal_log_prob(eps[i:i + 1])[0] - logdet
        assert abs(ld1[i].item() - want.item()) < TOL * max(1.0, abs(want.item())), \
            f"sample {i}: tracked {ld1[i].item()}, brute force {want.item()} (tol 1e-8 rel)"
    return y


def test_noise_pad_density_and_layout():
    torch.manual_seed(6)
    layer = NoisePad((2, 3, 3), sigma=0.7)
    x = torch.randn(3, 5)
    y = noise_layer_check(layer, x)
    assert torch.equal(y.flatten(1)[:, :5], x), "the input is kept as the first coordinates"
    assert layer.noise_shape((5,)) == (13,)
    noise_layer_check(NoisePad((20,), sigma=2.0), torch.randn(2, 2, 2, 2))  # images can be padded too
    with pytest.raises(ValueError, match="cannot shrink"):
        layer(torch.randn(2, 19), torch.zeros(2))
    with pytest.raises(ValueError, match="noise of shape"):
        layer(x, torch.zeros(3), torch.randn(3, 12))


def test_copy_inflate_density_and_layout():
    torch.manual_seed(7)
    layer = CopyInflate(0.3)
    x = torch.randn(3, 4)
    y = noise_layer_check(layer, x)
    assert torch.equal(y[:, :4], x)
    with pytest.raises(ValueError, match=r"\(B, d\)"):
        layer(torch.randn(2, 1, 2, 2), torch.zeros(2))
    with pytest.raises(ValueError, match="noise of shape"):
        layer(x, torch.zeros(3), torch.randn(3, 5))


def test_neighbour_upsample_density_and_layout():
    torch.manual_seed(8)
    layer = NeighbourUpsample2d(0.4)
    x = torch.randn(2, 2, 3, 2)
    eps = torch.randn(2, 2, 3, 2, 3)
    y = noise_layer_check(layer, x)
    assert y.shape == (2, 2, 6, 4)
    y, _ = layer(x, torch.zeros(2), eps)
    assert torch.equal(y[:, :, ::2, ::2], x), "pixel (2i, 2j) is x[i, j]"
    torch.testing.assert_close(y[:, :, ::2, 1::2], x + 0.4 * eps[..., 0], rtol=0, atol=1e-15)  # right neighbour
    torch.testing.assert_close(y[:, :, 1::2, ::2], x + 0.4 * eps[..., 1], rtol=0, atol=1e-15)  # lower neighbour
    torch.testing.assert_close(y[:, :, 1::2, 1::2], x + 0.4 * eps[..., 2], rtol=0, atol=1e-15)  # diagonal
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        layer(torch.randn(2, 4), torch.zeros(2))
    with pytest.raises(ValueError, match="noise of shape"):
        layer(x, torch.zeros(2), torch.randn(2, 2, 3, 2, 4))


# ---------------------------------------------------------------------------------------------- reductions


def test_halve_reduce_inverts_copy_inflate():
    torch.manual_seed(9)
    x, ld = torch.randn(6, 3), torch.randn(6)
    y, ld_y = CopyInflate(0.2)(x, ld)
    back, ld_back = HalveReduce(0.2)(y, ld_y)
    assert torch.equal(back, x)
    torch.testing.assert_close(ld_back, ld, rtol=0, atol=1e-10)
    assert HalveReduce(0.2).out_shape((6,)) == (3,)
    with pytest.raises(ValueError, match=r"\(B, 2d\)"):
        HalveReduce(0.2)(torch.randn(2, 5), torch.zeros(2))


def test_neighbour_downsample_inverts_upsample():
    torch.manual_seed(10)
    x, ld = torch.randn(3, 2, 3, 4), torch.randn(3)
    y, ld_y = NeighbourUpsample2d(0.5)(x, ld)
    back, ld_back = NeighbourDownsample2d(0.5)(y, ld_y)
    assert torch.equal(back, x)
    torch.testing.assert_close(ld_back, ld, rtol=0, atol=1e-10)
    assert NeighbourDownsample2d(0.5).out_shape((2, 6, 8)) == (2, 3, 4)
    with pytest.raises(ValueError, match=r"\(B, C, 2H, 2W\)"):
        NeighbourDownsample2d(0.5)(torch.randn(1, 2, 5, 4), torch.zeros(1))


def test_halve_reduce_is_exact_for_the_linear_gaussian_case():
    # x ~ N(0, S) in R^3, y = [x, x + sigma eps] ~ N(0, [[S, S], [S, S + sigma^2 I]]): dropping x + sigma eps with
    # the right sigma gives exactly log N(x; 0, S); another sigma does not.
    torch.manual_seed(11)
    d, sigma = 3, 0.4
    A = torch.randn(d, d)
    S = A @ A.T + 0.5 * torch.eye(d)
    joint = torch.cat([torch.cat([S, S], 1), torch.cat([S, S + sigma ** 2 * torch.eye(d)], 1)])
    x = MultivariateNormal(torch.zeros(d), S).sample((200,))
    y = torch.cat([x, x + sigma * torch.randn(200, d)], 1)
    log_py = MultivariateNormal(torch.zeros(2 * d), joint).log_prob(y)
    want = MultivariateNormal(torch.zeros(d), S).log_prob(x)
    kept, ld = HalveReduce(sigma)(y, log_py)
    assert torch.equal(kept, x)
    torch.testing.assert_close(ld, want, rtol=0, atol=1e-10)
    _, wrong = HalveReduce(2 * sigma)(y, log_py)
    err = (wrong - want).abs().mean().item()
    assert err > 0.5, f"a mismatched sigma should be detectably wrong; mean |error| {err}"


# ---------------------------------------------------------------------------------------------- whole generators


def bijective_generator(final: str) -> TrackedGenerator:
    """A generator with no reduction layer, random (not near-identity) weights and random batch-norm statistics."""
    if final == "upsample":
        layers = [Linear(4), NoisePad((2, 3, 3), 0.7), CircularConv2d(2, 3), random_batchnorm(2), SmoothReLU(),
                  NeighbourUpsample2d(0.3)]
    else:
        layers = [Linear(4), NoisePad((4, 3, 3), 0.7), CircularConv2d(4, 3), random_batchnorm(4), SmoothReLU(),
                  PixelShuffle(), CircularConv2d(1, 3)]
    g = TrackedGenerator(4, layers)
    randomize(g, 0.3)
    with torch.no_grad():
        for layer in g.layers:
            if isinstance(layer, BatchNorm):
                layer.running_var.abs_().add_(0.1)
    return g.eval()


@pytest.mark.parametrize("final", ["upsample", "shuffle"])
def test_generator_log_density_matches_brute_force(final):
    torch.manual_seed(12)
    g = bijective_generator(final)
    assert g.latent_dim + g.noise_dim == math.prod(g.out_shape), "a generator without reduction is square"
    s = g.sample(3, rng=torch.Generator().manual_seed(0))
    assert s.x.shape == (3, *g.out_shape) and s.log_density.dtype == torch.float64
    inputs = torch.cat([s.z] + [e.flatten(1) for e in s.noises], 1)
    torch.testing.assert_close(g.inputs_to_output(inputs), s.x.flatten(1), rtol=0, atol=0)
    for i in range(3):
        logdet = dense_logdet(lambda v: g.inputs_to_output(v[None])[0], inputs[i])
        want = standard_normal_log_prob(inputs[i:i + 1])[0].item() - logdet
        got = s.log_density[i].item()
        assert abs(got - want) < 1e-8 * max(1.0, abs(want)), f"sample {i}: tracked {got}, brute force {want}"


def test_linear_gaussian_generator_matches_multivariate_normal():
    torch.manual_seed(13)
    d, sigma = 3, 0.25
    g = TrackedGenerator(d, [Linear(d), CopyInflate(sigma)])
    with torch.no_grad():
        g.layers[0].weight.copy_(torch.randn(d, d))
        g.layers[0].bias.copy_(torch.randn(d))
    W, b = g.layers[0].weight.detach(), g.layers[0].bias.detach()
    A = W @ W.T
    cov = torch.cat([torch.cat([A, A], 1), torch.cat([A, A + sigma ** 2 * torch.eye(d)], 1)])
    s = g.sample(500, rng=torch.Generator().manual_seed(1))
    want = MultivariateNormal(torch.cat([b, b]), cov).log_prob(s.x)
    torch.testing.assert_close(s.log_density, want, rtol=0, atol=1e-9)


def test_mlp_and_image_generators_build_and_replay():
    torch.manual_seed(14)
    mlp = tracked.mlp_generator(2, features=8, blocks=2)
    image = tracked.image_generator(16, channels=1, image_size=8, shuffles=2)
    assert mlp.out_shape == (2,) and image.out_shape == (1, 8, 8)
    assert tracked.image_generator(8, channels=3, image_size=8, shuffles=1).out_shape == (3, 8, 8)
    for g in (mlp, image):
        g.train()
        s = g.sample(6, rng=torch.Generator().manual_seed(0))
        assert torch.isfinite(s.log_density).all() and torch.isfinite(s.x).all()
        g.eval()
        s = g.sample(6, rng=torch.Generator().manual_seed(0))
        assert s.x.shape == (6, *g.out_shape) and s.log_density.shape == (6,)
        assert torch.isfinite(s.log_density).all()
        assert [tuple(e.shape[1:]) for e in s.noises] == g.noise_shapes
        x, ld = g(s.z, s.noises)
        assert torch.equal(x, s.x) and torch.equal(ld, s.log_density), "replaying the noises must reproduce"
        again = g.sample(6, rng=torch.Generator().manual_seed(0))
        assert torch.equal(again.x, s.x) and torch.equal(again.log_density, s.log_density)
        other = g.sample(6, rng=torch.Generator().manual_seed(1))
        assert not torch.equal(other.x, s.x)


def test_generator_argument_errors():
    for features in (6, 1, 12):
        with pytest.raises(ValueError, match="power of 2"):
            tracked.mlp_generator(2, features=features)
    with pytest.raises(ValueError, match="2 \\* image_size"):
        tracked.image_generator(16, image_size=8, shuffles=4)
    with pytest.raises(ValueError, match="smaller than latent_dim"):
        tracked.image_generator(300, image_size=8, shuffles=2)
    g = tracked.mlp_generator(2, features=4, blocks=1).eval()
    with pytest.raises(ValueError, match=r"expects z of shape \(B, 2\)"):
        g(torch.randn(3, 3))
    with pytest.raises(ValueError, match=r"expects z of shape \(B, 2\)"):
        g(torch.randn(2))
    with pytest.raises(ValueError, match="noise tensors given"):
        g(torch.randn(3, 2), [])
    with pytest.raises(ValueError, match="noise of shape"):
        g(torch.randn(3, 2), [torch.randn(3, 3)])


# ---------------------------------------------------------------------------------------------- mixtures


def test_ring_and_grid_modes():
    ring, grid = mixtures.ring8(), mixtures.grid25()
    assert ring.means.shape == (8, 2) and ring.std == 0.01
    torch.testing.assert_close(ring.means.norm(dim=1), torch.ones(8), rtol=0, atol=1e-15)
    gaps = torch.cdist(ring.means, ring.means) + 10 * torch.eye(8)
    assert gaps.min() > 0.76, "8 distinct modes, 45 degrees apart (chord 2 sin(pi/8) = 0.765)"
    angles = torch.atan2(ring.means[:, 1], ring.means[:, 0]).remainder(2 * math.pi).sort().values
    torch.testing.assert_close(angles, 2 * math.pi * torch.arange(8) / 8, rtol=0, atol=1e-12)
    assert grid.means.shape == (25, 2) and grid.std == 0.05
    want = {(float(a), float(b)) for a in range(-4, 5, 2) for b in range(-4, 5, 2)}
    assert {tuple(m.tolist()) for m in grid.means} == want
    assert mixtures.mixture("ring").name == "ring" and mixtures.mixture("grid").name == "grid"
    with pytest.raises(ValueError, match="unknown mixture"):
        mixtures.mixture("spiral")


@pytest.mark.parametrize("name,half,step", [("ring", 1.08, 0.004), ("grid", 4.4, 0.02)])
def test_mixture_log_prob_integrates_to_one(name, half, step):
    # Riemann sum on a grid of step <= std / 2.5: for Gaussians its error is exponentially small (Poisson
    # summation), so only the mass outside the box (> 8 std away) is missing.
    target = mixtures.mixture(name)
    axis = torch.arange(-half, half + step / 2, step)
    gx, gy = torch.meshgrid(axis, axis, indexing="ij")
    total = target.log_prob(torch.stack([gx.flatten(), gy.flatten()], 1)).exp().sum().item() * step ** 2
    assert abs(total - 1) < 1e-6, f"integral {total}, want 1 (tol 1e-6)"


@pytest.mark.parametrize("name", ["ring", "grid"])
def test_mode_coverage_of_the_mixture_itself(name):
    target = mixtures.mixture(name)
    n = 20000
    samples = target.sample(n, rng=torch.Generator().manual_seed(2))
    assert samples.shape == (n, 2) and samples.dtype == torch.float32
    cov = mixtures.mode_coverage(samples, target)
    p = 1 - math.exp(-4.5)  # P(chi2_2 <= 9): within 3 std in 2-D
    sd = math.sqrt(p * (1 - p) / n)
    assert cov.modes == len(target.means)
    assert abs(cov.high_quality - p) < 4 * sd, f"HQ share {cov.high_quality}, want {p:.4f} +- 4 sd ({4 * sd:.4f})"
    assert cov.per_mode.shape == (len(target.means),) and cov.per_mode.sum() == round(cov.high_quality * n)
    per = n * p / len(target.means)
    assert (cov.per_mode - per).abs().max() < 5 * math.sqrt(per), "modes equally weighted (5 sd)"


def test_mode_coverage_edge_cases():
    ring = mixtures.ring8()
    one_mode = ring.means[3] + 0.01 * torch.randn(500, 2, generator=torch.Generator().manual_seed(0))
    cov = mixtures.mode_coverage(one_mode, ring)
    assert cov.modes == 1 and cov.per_mode[3] == cov.per_mode.sum() > 0
    far = torch.full((100, 2), 5.0)
    cov = mixtures.mode_coverage(far, ring)
    assert cov.modes == 0 and cov.high_quality == 0.0
    with_nan = ring.means.clone()
    with_nan[:4] = float("nan")
    cov = mixtures.mode_coverage(with_nan, ring)
    assert cov.high_quality == 0.5 and cov.modes == 4, "NaN samples are low quality"
    # the threshold is 3 std: just inside counts, just outside does not
    edge = ring.means[:2] + torch.tensor([[0.0299, 0.0], [0.0301, 0.0]])
    assert mixtures.mode_coverage(edge, ring).per_mode.tolist() == [1] + [0] * 7
    for bad in (torch.zeros(5, 3), torch.zeros(5), torch.zeros(2, 5, 2)):
        with pytest.raises(ValueError, match=r"\(N, 2\)"):
            mixtures.mode_coverage(bad, ring)


# ---------------------------------------------------------------------------------------------- Eq. 8 gap bound


def test_reduction_residuals_layout():
    x = torch.arange(2 * 1 * 4 * 4, dtype=torch.float64).view(2, 1, 4, 4)
    r = NeighbourDownsample2d(0.5).residuals(x)
    assert r.shape == (2, 12)
    # pixel (0, 1), (1, 0), (1, 1) of the first quad minus pixel (0, 0): +1, +4, +5
    torch.testing.assert_close(r[0, :3], torch.tensor([1.0, 4.0, 5.0]), rtol=0, atol=0)
    v = torch.tensor([[1.0, 2.0, 5.0, 7.0]])
    torch.testing.assert_close(HalveReduce(0.3).residuals(v), torch.tensor([[4.0, 5.0]]), rtol=0, atol=0)


def test_reduction_gap_bound_closed_form_and_zero_when_the_assumption_holds():
    # t1 ~ N(0, 1), t2 = t1 + m + sqrt(v) eps: the gap of Eq. 8 with sigma is exactly d KL(N(m, v) || N(0, sigma^2))
    torch.manual_seed(3)
    n, d, sigma, m, v = 200_000, 3, 0.5, 0.2, 0.09
    t1 = torch.randn(n, d)
    t = torch.cat([t1, t1 + m + v ** 0.5 * torch.randn(n, d)], 1)
    want = d * 0.5 * (v / sigma ** 2 + m ** 2 / sigma ** 2 - 1 - math.log(v / sigma ** 2))
    got = tracked.reduction_gap_bound(HalveReduce(sigma).residuals(t), sigma).item()
    assert got == pytest.approx(want, rel=0.02), (got, want)
    # ... and the exact mean gap, tracked minus true log-density, equals it here (Gaussian residuals)
    joint_cov = torch.cat([torch.cat([torch.eye(d), torch.eye(d)], 1),
                           torch.cat([torch.eye(d), (1 + v) * torch.eye(d)], 1)])
    joint = MultivariateNormal(torch.full((2 * d,), 0.0), joint_cov)
    shift = torch.cat([torch.zeros(d), torch.full((d,), m)])
    _, tracked_ld = HalveReduce(sigma)(t, joint.log_prob(t - shift))
    gap = (tracked_ld - standard_normal_log_prob(t1)).mean().item()
    assert gap == pytest.approx(want, abs=0.02), (gap, want)
    # the assumption holds: the bound is ~0
    exact = torch.cat([t1, t1 + sigma * torch.randn(n, d)], 1)
    assert abs(tracked.reduction_gap_bound(HalveReduce(sigma).residuals(exact), sigma).item()) < 1e-3
    with pytest.raises(ValueError, match="residuals"):
        tracked.reduction_gap_bound(torch.randn(5), sigma)


def test_reduction_gap_bound_is_below_a_non_gaussian_gap():
    # residuals uniform on [-a, a] (not Gaussian): the exact gap is KL(U || N(0, sigma^2)) per coordinate, larger
    # than the moment-matched bound
    torch.manual_seed(4)
    n, sigma, a = 400_000, 0.5, 0.3
    r = (2 * torch.rand(n, 1) - 1) * a
    exact = -math.log(2 * a) + 0.5 * math.log(2 * math.pi * sigma ** 2) + (a ** 2 / 3) / (2 * sigma ** 2)
    bound = tracked.reduction_gap_bound(r, sigma).item()
    assert 0 < bound < exact, (bound, exact)


def test_final_reduction_residuals_of_generators():
    torch.manual_seed(5)
    g = tracked.image_generator(8, channels=1, image_size=8, shuffles=2, reduce_sigma=0.5).eval()
    r, sigma = tracked.final_reduction_residuals(g, 6, rng=torch.Generator().manual_seed(0))
    assert r.shape == (6, 3 * 8 * 8) and sigma == 0.5
    with pytest.raises(TypeError, match="not an Eq. 8 reduction"):
        tracked.final_reduction_residuals(TrackedGenerator(2, [Linear(2)]), 3)


def test_batchnorm_training_batch_map_has_two_zero_singular_values():
    # training mode: outputs of one feature always have mean beta and fixed variance, so the batch map is singular
    torch.manual_seed(6)
    batch = 16
    bn = BatchNorm(1, eps=0.0).train()
    x = torch.randn(batch, 1)
    jac = jacobian(lambda v: bn(v, torch.zeros(batch))[0].flatten(), x).reshape(batch, batch)
    s = torch.linalg.svdvals(jac)
    assert int((s < 1e-10 * s.max()).sum()) == 2
    torch.testing.assert_close(s[:-2], torch.full((batch - 2,), 1 / x.std(unbiased=False).item()),
                               rtol=1e-10, atol=0)


def test_uniform_log_density_and_mode_difference():
    assert mixtures.uniform_log_density((-1.0, 1.0, 0.0, 4.0)) == pytest.approx(-math.log(8.0))
    with pytest.raises(ValueError, match="bounds"):
        mixtures.uniform_log_density((1.0, 1.0, 0.0, 1.0))
    ring = mixtures.mixture("ring")
    a = ring.means.repeat(10, 1)  # all 8 modes
    b = ring.means[:1].repeat(80, 1)  # one mode
    pairs = torch.stack([a, b], 1).numpy()
    assert mixtures.mode_difference(ring)(pairs) == 7.0


def test_widened_box():
    assert mixtures.widened((0.0, 2.0, 0.0, 4.0), 2) == (-1.0, 3.0, -2.0, 6.0)
    assert mixtures.widened((-1.0, 1.0, -3.0, 3.0), 1.0) == (-1.0, 1.0, -3.0, 3.0)
    for factor in (0, -1.0, float("nan"), "2"):
        with pytest.raises(ValueError, match="factor"):
            mixtures.widened((0.0, 1.0, 0.0, 1.0), factor)
    with pytest.raises(ValueError, match="bounds"):
        mixtures.widened((1.0, 0.0, 0.0, 1.0), 2.0)


def test_ring_profile_reads_bumps_and_the_ring():
    ring = mixtures.mixture("ring")
    own = mixtures.ring_profile(ring.log_prob, ring)
    assert own.bumps == 8 and own.on_ring
    torch.testing.assert_close(own.at_modes, ring.log_prob(ring.means), rtol=1e-6, atol=1e-6)
    # Midpoints: 1/16 of a turn from the two nearest modes, at distance 2 sin(pi / 16); centre: distance 1.
    d2 = (2 * math.sin(math.pi / 16)) ** 2
    log_norm = -math.log(2 * math.pi * ring.std ** 2) - math.log(8)
    expected_between = -0.5 * d2 / ring.std ** 2 + math.log(2) + log_norm  # two equal nearest terms
    torch.testing.assert_close(own.between, torch.full((8,), expected_between, dtype=torch.float64),
                               rtol=1e-4, atol=0)
    assert own.centre == pytest.approx(-0.5 / ring.std ** 2 + math.log(8) + log_norm, rel=1e-6)

    # One broad Gaussian at the first mode: one bump, and its centre lies above the far side of the ring.
    mode0 = ring.means[0].float()
    one = mixtures.ring_profile(lambda x: -((x - mode0) ** 2).sum(1) / (2 * 0.5 ** 2), ring)
    assert one.bumps == 1 and not one.on_ring
    # A peak 60% of the way from mode 3 to the ring's midpoint after it: the midpoint lies above mode 3, so no
    # mode is above the ring on both of its sides (comparing a mode with the two midpoints after it would
    # count mode 4).
    peak = 2 * math.pi * (3 + 0.3) / 8

    def angular(x):
        gap = torch.remainder(torch.atan2(x[:, 1], x[:, 0]) - peak + math.pi, 2 * math.pi) - math.pi
        return -gap ** 2 / (2 * 0.2 ** 2)

    assert mixtures.ring_profile(angular, ring).bumps == 0

    # The modes' order does not matter; a mixture whose means are not on a circle is refused.
    shuffled = mixtures.GaussianMixture2d("ring", ring.means[torch.randperm(8)], ring.std)
    again = mixtures.ring_profile(ring.log_prob, shuffled)
    torch.testing.assert_close(again.between, own.between)
    assert again.bumps == 8
    with pytest.raises(ValueError, match="circle"):
        mixtures.ring_profile(ring.log_prob, mixtures.mixture("grid"))
