"""Hostile inputs to AIS, HMC, inversion, the AIS references and the density-tracking layers (issue 13, groups 7, 8,
10 and the chunking of group 13): each is an error of the stated type whose message names the argument and the
fix, never a silent NaN, infinite or mixed-up number. Valid inputs keep their results: chunked runs equal
unchunked ones, and the default chunk is one generator call at the book's sizes."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from gandensity.numerics import ais, annealing, hmc, inversion, tracked, validation
from gandensity.numerics.ais import ais_bounds, ais_log_likelihood, bdmc_upper_bound
from gandensity.numerics.inversion import invert, nearest_samples
from gandensity.numerics.priors import StandardNormal, UniformBox
from gandensity.numerics.tracked import (BatchNorm, CircularConv2d, CopyInflate, HalveReduce, Linear,
                                         NeighbourDownsample2d, NeighbourUpsample2d, NoisePad, SmoothReLU)
from gandensity.numerics.validation import gaussian_log_likelihood, linear_gaussian_log_likelihood, logdet_metric

pytestmark = pytest.mark.usefixtures("float64")  # tests/conftest.py

SIGMA2 = 0.1


class Affine(nn.Module):
    """G(z) = W z + b, (B, 2) -> (B, 6): the linear-Gaussian model whose likelihood is known exactly."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.latent_dim = 2
        self.weight = nn.Parameter(torch.randn(6, 2, generator=g), requires_grad=False)
        self.bias = nn.Parameter(0.5 * torch.randn(6, generator=g), requires_grad=False)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z @ self.weight.T + self.bias


class Images(nn.Module):
    """A small nonlinear generator, 3 latents -> (2, 4, 4) images, that records the batch size of every call."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.latent_dim = 3
        self.net = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 32)).requires_grad_(False)
        self.calls: list[int] = []

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        self.calls.append(z.shape[0])
        return self.net(z).reshape(-1, 2, 4, 4)


def images(b: int, seed: int = 1) -> torch.Tensor:
    return torch.randn(b, 2, 4, 4, generator=torch.Generator().manual_seed(seed))


RUN = dict(sigma2=SIGMA2, steps=2, leapfrog=1)


# ------------------------------------------------------------------------------------- group 7: AIS schedules


@pytest.mark.parametrize("betas, message", [
    ([0.0, math.nan, 1.0], r"schedule \(the betas\) contains NaN or inf at positions \[1\]"),
    ([0.0, math.inf, 1.0], r"schedule \(the betas\) contains NaN or inf at positions \[1\]"),
    ([0.0, 0.5, math.nan], r"schedule \(the betas\) contains NaN or inf at positions \[2\]"),
    ([0.1, 0.5, 1.0], r"schedule \(the betas\) must start at beta_0 = 0 and end at beta_T = 1, got beta_0 = 0.1"),
    ([0.0, 0.5, 0.9], r"must start at beta_0 = 0 and end at beta_T = 1, got beta_0 = 0.0 and beta_T = 0.9"),
    ([0.0, 0.7, 0.5, 1.0], r"must rise \(non-decreasing\) .* falls after positions \[1\]"),
])
def test_bad_schedules_are_refused_with_the_fix(betas, message):
    steps = len(betas) - 1
    fix = (rf"pass steps \+ 1 = {steps + 1} finite betas rising from 0 to 1, "
           rf"e\.g\. annealing\.sigmoid_schedule\({steps}\)")
    with pytest.raises(ValueError, match=message + ".*" + fix):
        ais_log_likelihood(Affine(), torch.zeros(2, 6), **{**RUN, "steps": steps}, schedule=torch.tensor(betas))
    z = torch.zeros(2, 2)
    with pytest.raises(ValueError, match=message):  # the reverse chain checks the same schedule
        bdmc_upper_bound(Affine(), z, torch.zeros(2, 6), **{**RUN, "steps": steps}, schedule=betas)


def test_schedule_of_the_wrong_length_or_type():
    with pytest.raises(ValueError, match=r"needs steps \+ 1 = 3 betas, got 4; pass steps \+ 1 = 3 finite betas"):
        ais_log_likelihood(Affine(), torch.zeros(2, 6), **RUN, schedule=[0.0, 0.2, 0.6, 1.0])
    with pytest.raises(TypeError, match=r"schedule must be 'sigmoid', 'linear' or a sequence of betas, got dict"):
        ais_log_likelihood(Affine(), torch.zeros(2, 6), **RUN, schedule={"a": 1})


def test_a_valid_explicit_schedule_with_a_repeated_beta_is_accepted():
    est = ais_log_likelihood(Affine(), torch.zeros(2, 6), **RUN, schedule=[0.0, 0.0, 1.0], seed=0)
    assert torch.isfinite(est).all()


@pytest.mark.parametrize("radius", [0.0, -1.0, math.nan, math.inf])
def test_sigmoid_schedule_radius_and_steps(radius):
    with pytest.raises(ValueError, match=r"radius must be a finite number > 0 .* pass e\.g\. radius=4\.0"):
        annealing.sigmoid_schedule(10, radius)
    for steps in (0, 2.5, True):
        with pytest.raises(ValueError, match="steps must be >= 1.*an int >= 1"):
            annealing.linear_schedule(steps)


def dropout_generator() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 8), nn.Dropout(0.2), nn.Linear(8, 6)).requires_grad_(False)  # training mode


@pytest.mark.parametrize("call", ["ais_log_likelihood", "bdmc_upper_bound", "ais_bounds"])
def test_train_mode_dropout_is_refused_by_every_ais_entry_point(call):
    G, x, z = dropout_generator(), torch.zeros(2, 6), torch.zeros(2, 2)
    run = {"ais_log_likelihood": lambda: ais_log_likelihood(G, x, **RUN),
           "bdmc_upper_bound": lambda: bdmc_upper_bound(G, z, x, **RUN),
           "ais_bounds": lambda: ais_bounds(G, z, x, **RUN)}[call]
    with pytest.raises(ValueError, match=r"training mode and has dropout layers.*call generator\.eval\(\) first"):
        run()
    G.eval()
    run()  # eval mode: dropout is the identity and AIS runs


def test_ais_argument_types():
    x = torch.zeros(2, 6)
    for chunk in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match=r"chunk must be a positive int \(rows of latents .*\) or None"):
            ais_log_likelihood(Affine(), x, **RUN, chunk=chunk)
    with pytest.raises(TypeError, match=r"prior must have log_prob\(z\) and sample\(b, dim\) methods.*prior=None"):
        ais_log_likelihood(Affine(), x, **RUN, prior="normal")
    with pytest.raises(ValueError, match=r"step_size must be in \[0.0001, 0.5\], got True"):
        ais_log_likelihood(Affine(), x, **RUN, step_size=True)


@pytest.mark.parametrize("low, high", [(1.0, 1.0), (1.0, -1.0), (math.nan, 1.0), (-math.inf, 1.0), (0.0, math.inf)])
def test_uniform_box_needs_finite_ordered_bounds(low, high):
    with pytest.raises(ValueError, match=r"UniformBox needs finite bounds with high > low.*UniformBox\(-1\.0, 1\.0\)"):
        UniformBox(low, high)


def test_hmc_step_arguments():
    def target(q):
        return hmc.HMCState(q, -0.5 * q.pow(2).sum(1), -q)

    state = target(torch.zeros(3, 2))
    with pytest.raises(ValueError, match="leapfrog must be a positive int, got 0"):
        hmc.hmc_step(state, target, 0.1, 0)
    for bad in (0.0, -0.1, math.nan, math.inf, torch.tensor([0.1, math.nan, 0.1])):
        with pytest.raises(ValueError, match=r"step_size must be finite and > 0 .*pass e\.g\. 0\.05"):
            hmc.hmc_step(state, target, bad, 2)
    with pytest.raises(ValueError, match=r"step_size must be a number or a \(N,\) = \(3,\) tensor"):
        hmc.hmc_step(state, target, torch.full((2,), 0.1), 2)
    with pytest.raises(TypeError, match="step_size must be a positive number"):
        hmc.hmc_step(state, target, "0.1", 2)


# ------------------------------------------------------------------------------------- group 8: references


def test_gaussian_log_likelihood_pairs_rows_and_never_broadcasts():
    G = Affine()
    z = torch.randn(4, 2, generator=torch.Generator().manual_seed(2))
    x = torch.randn(1, 6, generator=torch.Generator().manual_seed(3))
    with pytest.raises(ValueError, match=r"z has 4 latents but x has 1 images.*x\.expand\(4, \*x\.shape\[1:\]\)"):
        gaussian_log_likelihood(G, z, x, sigma2=SIGMA2)
    with pytest.raises(ValueError, match=r"z has 1 latents but x has 4 images"):
        gaussian_log_likelihood(G, z[:1], x.expand(4, -1), sigma2=SIGMA2)
    # the fix the message names: one image scored under every latent, row by row against torch.distributions
    got = gaussian_log_likelihood(G, z, x.expand(4, -1), sigma2=SIGMA2)
    want = torch.distributions.Normal(G(z), SIGMA2 ** 0.5).log_prob(x).sum(1)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-10)
    with pytest.raises(ValueError, match=r"x has shape \(4, 7\) but the generator maps z to \(4, 6\): shape mismatch"):
        gaussian_log_likelihood(G, z, torch.zeros(4, 7), sigma2=SIGMA2)
    with pytest.raises(ValueError, match=r"x has shape \(4, 2, 3\) but the generator maps z to \(4, 6\)"):
        gaussian_log_likelihood(G, z, torch.zeros(4, 2, 3), sigma2=SIGMA2)
    bad = z.clone()
    bad[2, 1] = math.nan
    with pytest.raises(ValueError, match=r"z contains NaN or inf in rows \[2\]; pass finite latents"):
        gaussian_log_likelihood(G, bad, x.expand(4, -1), sigma2=SIGMA2)
    with pytest.raises(ValueError, match=r"z must have shape \(B, n\) .*pass z\[None\]"):
        gaussian_log_likelihood(G, z[0], x, sigma2=SIGMA2)


def test_linear_gaussian_log_likelihood_refuses_a_1d_x():
    G = Affine()
    x = torch.randn(6, generator=torch.Generator().manual_seed(4))
    with pytest.raises(ValueError, match=r"x must have shape \(B, \.\.\.\) with B >= 1 .*pass x\[None\]"):
        linear_gaussian_log_likelihood(G.weight, G.bias, x, sigma2=SIGMA2)
    got = linear_gaussian_log_likelihood(G.weight, G.bias, x[None], sigma2=SIGMA2)
    cov = G.weight @ G.weight.T + SIGMA2 * torch.eye(6)
    want = torch.distributions.MultivariateNormal(G.bias, covariance_matrix=cov).log_prob(x)
    assert got.shape == (1,)
    torch.testing.assert_close(got[0], want, rtol=0, atol=1e-10)
    with pytest.raises(ValueError, match=r"x has images of 5 values .*shape mismatch; pass x of shape \(B, 6\)"):
        linear_gaussian_log_likelihood(G.weight, G.bias, torch.zeros(3, 5), sigma2=SIGMA2)
    with pytest.raises(ValueError, match=r"bias must hold D = 6 values"):
        linear_gaussian_log_likelihood(G.weight, G.bias[:5], torch.zeros(3, 6), sigma2=SIGMA2)
    with pytest.raises(ValueError, match=r"weight must be the \(D, n\) matrix W"):
        linear_gaussian_log_likelihood(G.weight[:, 0], G.bias, torch.zeros(3, 6), sigma2=SIGMA2)


def test_nearest_samples_refuses_images_of_another_shape():
    G = Images()
    cand = torch.randn(10, 3, generator=torch.Generator().manual_seed(5))
    # same number of values (32) in another layout: formerly compared value by value without a word
    for shape in ((3, 4, 2, 4), (3, 32), (3, 2, 4, 5)):
        with pytest.raises(ValueError, match=rf"x has images of shape {re_shape(shape[1:])} but the generator "
                                             r"outputs \(2, 4, 4\): shape mismatch"):
            nearest_samples(G, torch.zeros(shape), cand)
    with pytest.raises(ValueError, match=r"candidates must have shape \(B, n\) with B >= 1"):
        nearest_samples(G, images(2), cand[:0])
    with pytest.raises(ValueError, match=r"candidates must have shape \(B, n\)"):
        nearest_samples(G, images(2), cand[0])
    with pytest.raises(ValueError, match="chunk_size must be a positive int"):
        nearest_samples(G, images(2), cand, chunk_size=0)
    bad = cand.clone()
    bad[4, 0] = math.inf
    with pytest.raises(ValueError, match=r"candidates contains NaN or inf in rows \[4\]"):
        nearest_samples(G, images(2), bad)


def re_shape(shape: tuple[int, ...]) -> str:
    return "\\(" + ", ".join(map(str, shape)) + ",?\\)"


def test_invert_argument_errors():
    G = Images()
    for chunk in (0, 1.5, False):
        with pytest.raises(ValueError, match=r"chunk must be a positive int \(rows of latents \(restart x image"):
            invert(G, images(2), steps=1, chunk=chunk)
    with pytest.raises(TypeError, match="prior must have log_prob"):
        invert(G, images(2), steps=1, prior=object())


def test_logdet_metric_is_the_brute_force_logdet_and_the_old_name_is_an_alias():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 7), nn.Tanh(), nn.Linear(7, 5))
    z = torch.randn(4, 3, generator=torch.Generator().manual_seed(6))
    want = torch.stack([torch.linalg.slogdet(J.T @ J)[1] for J in
                        (torch.autograd.functional.jacobian(lambda v: net(v[None])[0], zi) for zi in z)])
    torch.testing.assert_close(logdet_metric(net, z), want, rtol=0, atol=1e-10)
    assert validation.metric_logdet is logdet_metric and "logdet_metric" in validation.__all__
    assert "metric_logdet" not in validation.__all__


# ------------------------------------------------------------------------------------- group 10: tracked layers


def log0(b: int) -> torch.Tensor:
    return torch.zeros(b, dtype=torch.float64)


def test_a_singular_linear_layer_is_not_invertible():
    layer = Linear(3)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0, 2.0, 0.0], [2.0, 4.0, 0.0], [0.0, 0.0, 1.0]]))  # rank 2
    message = (r"Linear: log\|det\| = -inf because its weight W is singular .* not invertible and the density of "
               r"its output is undefined .*re-initialise or retrain the layer")
    with pytest.raises(ValueError, match=message):
        layer(torch.randn(4, 3), log0(4))
    with torch.no_grad():
        layer.weight[0, 0] = math.nan
    with pytest.raises(ValueError, match=r"Linear: log\|det\| = nan because .*not finite"):
        layer(torch.randn(4, 3), log0(4))
    # inside a generator the same error, not an infinite log-density
    torch.manual_seed(0)
    g = tracked.mlp_generator(2, features=4, blocks=1).eval()
    with torch.no_grad():
        g.layers[1].weight.zero_()
    with pytest.raises(ValueError, match=r"Linear: log\|det\| = -inf .*not invertible"):
        g.sample(3, rng=torch.Generator().manual_seed(0))


def test_a_zero_batch_norm_scale_is_not_invertible():
    bn = BatchNorm(3).eval()
    with torch.no_grad():
        bn.weight[1] = 0.0
    with pytest.raises(ValueError, match=r"BatchNorm: log\|det\| = -inf because its scale .* is zero or not finite "
                                         r"in channels \[1\], so the layer is not invertible"):
        bn(torch.randn(4, 3), log0(4))
    bn2d = BatchNorm(2).eval()
    with torch.no_grad():
        bn2d.weight[0] = 0.0
    with pytest.raises(ValueError, match=r"in channels \[0\]"):
        bn2d(torch.randn(2, 2, 3, 3), log0(2))


def test_a_singular_circular_convolution_is_not_invertible():
    conv = CircularConv2d(2, 3)
    with torch.no_grad():
        conv.weight.zero_()
    with pytest.raises(ValueError, match=r"CircularConv2d: log\|det\| = -inf because the circular convolution is "
                                         r"singular"):
        conv(torch.randn(2, 2, 4, 4), log0(2))


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_latents_and_noises_are_refused_at_the_door(value):
    torch.manual_seed(0)
    g = tracked.mlp_generator(2, features=8, blocks=1).eval()  # two noise layers
    s = g.sample(3, rng=torch.Generator().manual_seed(0))
    z = s.z.clone()
    z[1, 0] = value
    with pytest.raises(ValueError, match=r"z contains NaN or inf in rows \[1\]; their density is undefined: pass "
                                         r"finite latents"):
        g(z, s.noises)
    noises = [n.clone() for n in s.noises]
    noises[1][2, 0] = value
    with pytest.raises(ValueError, match=r"noises\[1\] contains NaN or inf in samples \[2\]; pass finite "
                                         r"standard-normal draws"):
        g(s.z, noises)
    eps = torch.randn(3, 2)
    eps[0, 1] = value
    with pytest.raises(ValueError, match=r"noise contains NaN or inf in samples \[0\]"):
        CopyInflate(0.1)(torch.randn(3, 2), log0(3), eps)
    # the same draws without the bad value reproduce the sample exactly
    x, ld = g(s.z, s.noises)
    assert torch.equal(x, s.x) and torch.equal(ld, s.log_density)


SIGMA_LAYERS = {"NoisePad": lambda sigma: NoisePad((2, 2, 2), sigma), "CopyInflate": CopyInflate,
                "NeighbourUpsample2d": NeighbourUpsample2d, "HalveReduce": HalveReduce,
                "NeighbourDownsample2d": NeighbourDownsample2d}


@pytest.mark.parametrize("layer", sorted(SIGMA_LAYERS))
def test_sigma_must_be_finite_and_positive(layer):
    for bad in (0.0, -1.0, math.nan, math.inf):
        with pytest.raises(ValueError, match=rf"{layer} sigma \(the standard deviation of its Gaussian noise\) must be "
                                             r"finite and > 0, got .*; pass e\.g\. sigma=0\.1"):
            SIGMA_LAYERS[layer](bad)
    with pytest.raises(TypeError, match=rf"{layer} sigma .* must be a positive number, got str"):
        SIGMA_LAYERS[layer]("0.1")
    assert SIGMA_LAYERS[layer](torch.tensor(0.5)).sigma == 0.5


def test_builders_name_their_sigma():
    with pytest.raises(ValueError, match=r"copy_sigma must be finite and > 0, got 0; pass e\.g\. copy_sigma=0\.1"):
        tracked.mlp_generator(2, features=4, copy_sigma=0)
    with pytest.raises(ValueError, match=r"reduce_sigma must be finite and > 0, got -0\.1"):
        tracked.mlp_generator(2, features=4, reduce_sigma=-0.1)
    with pytest.raises(ValueError, match=r"noise_sigma must be finite and > 0, got nan"):
        tracked.image_generator(8, image_size=8, shuffles=2, noise_sigma=math.nan)
    with pytest.raises(ValueError, match="blocks must be a positive int, got 0"):
        tracked.mlp_generator(2, features=4, blocks=0)
    with pytest.raises(ValueError, match=r"sigma \(the reduction's noise standard deviation\) must be finite and > 0"):
        tracked.reduction_gap_bound(torch.randn(5, 2), 0.0)
    with pytest.raises(ValueError, match="residuals contain NaN or inf"):
        tracked.reduction_gap_bound(torch.tensor([[0.0], [math.nan]]), 0.1)


def test_empty_batches_are_errors_naming_the_argument():
    torch.manual_seed(0)
    g = tracked.mlp_generator(2, features=4, blocks=1).eval()
    with pytest.raises(ValueError, match="n must be a positive int, got 0"):
        g.sample(0)
    with pytest.raises(ValueError, match=r"expects z of shape \(B, 2\) with B >= 1, got Tensor \(0, 2\)"):
        g(torch.zeros(0, 2))
    with pytest.raises(ValueError, match=r"CopyInflate expects a batch x of shape \(B, \.\.\.\) with B >= 1"):
        CopyInflate(0.1)(torch.zeros(0, 2), log0(0))
    with pytest.raises(ValueError, match="n must be a positive int"):
        tracked.final_reduction_residuals(g, 0)


def test_integer_and_half_precision_inputs_name_the_dtype_fix():
    torch.set_default_dtype(torch.float32)  # restored by the float64 fixture
    torch.manual_seed(0)
    g = tracked.mlp_generator(2, features=4, blocks=1).eval()  # float32 parameters
    for dtype in (torch.int64, torch.float16, torch.bfloat16, torch.float64):
        with pytest.raises(TypeError, match=rf"z has dtype {dtype} but the generator's parameters are torch.float32; "
                                            r"pass z\.to\(torch\.float32\)"):
            g(torch.ones(3, 2, dtype=dtype))
    with pytest.raises(TypeError, match=r"noise has dtype torch.float64 but the layer's input has torch.float32; "
                                        r"pass noise\.to\(torch\.float32\)"):
        CopyInflate(0.1)(torch.ones(3, 2), log0(3), torch.ones(3, 2, dtype=torch.float64))
    for layer in (Linear(2), SmoothReLU(), BatchNorm(2).eval()):
        with pytest.raises(TypeError, match=r"expects float32 or float64 inputs, got torch.int64; pass x\.float\(\)"):
            layer(torch.ones(3, 2, dtype=torch.long), log0(3))
    with pytest.raises(ValueError, match=r"expects log_density of shape \(B,\) = \(3,\)"):
        Linear(2)(torch.ones(3, 2), log0(2))


def test_the_standard_normal_log_density_is_the_priors_one():
    x = torch.randn(5, 2, 3, generator=torch.Generator().manual_seed(7))
    flat = x.flatten(1)
    old = -0.5 * (flat.pow(2).sum(1) + flat.shape[1] * math.log(2 * math.pi))  # tracked's former own formula
    assert torch.equal(tracked.standard_normal_log_prob(x), old)  # the deprecated name: bit for bit
    assert torch.equal(StandardNormal().log_prob(flat), old)
    torch.testing.assert_close(old, torch.distributions.Normal(0.0, 1.0).log_prob(flat).sum(1), rtol=0, atol=1e-12)
    assert "standard_normal_log_prob" not in tracked.__all__


# ------------------------------------------------------------------------------------- group 13: chunking


@pytest.mark.parametrize("chunk", [1, 4, 7])
def test_chunked_ais_equals_unchunked_and_bounds_the_generator_batch(chunk):
    G, x = Images(), images(5)
    kwargs = dict(sigma2=SIGMA2, steps=6, chains=3, leapfrog=2, seed=3, return_diagnostics=True)
    whole = ais_log_likelihood(G, x, chunk=None, **kwargs)
    assert max(G.calls) == 15  # B * chains rows in one call
    G.calls.clear()
    parts = ais_log_likelihood(G, x, chunk=chunk, **kwargs)
    assert max(G.calls) == chunk  # never more rows than chunk (the first call is the (1, n) shape check)
    for name in ("log_likelihood", "log_weights", "step_size", "acceptance_trace"):
        torch.testing.assert_close(getattr(parts, name), getattr(whole, name), rtol=1e-12, atol=1e-12)
    z_true = torch.randn(5, 3, generator=torch.Generator().manual_seed(4))
    up = bdmc_upper_bound(G, z_true, x, chunk=chunk, **kwargs).log_likelihood
    torch.testing.assert_close(up, bdmc_upper_bound(G, z_true, x, chunk=None, **kwargs).log_likelihood,
                               rtol=1e-12, atol=1e-12)


def test_default_chunks_are_one_call_at_the_books_sizes():
    G, x = Images(), images(4)
    kwargs = dict(sigma2=SIGMA2, steps=3, chains=2, leapfrog=2, seed=0)
    assert torch.equal(ais_log_likelihood(G, x, **kwargs), ais_log_likelihood(G, x, chunk=None, **kwargs))
    assert ais.CHUNK >= 1000 * 4 and inversion.CHUNK >= 1000 * 4  # the paper profile's largest calls
    a = invert(G, x, steps=3, restarts=2, candidates=8, seed=0)
    b = invert(G, x, steps=3, restarts=2, candidates=8, seed=0, chunk=None)
    assert all(torch.equal(u, v) for u, v in zip(a, b))


@pytest.mark.parametrize("chunk", [1, 4])
def test_chunked_inversion_equals_unchunked_and_bounds_the_generator_batch(chunk):
    G, x = Images(), images(5, seed=8)
    kwargs = dict(steps=15, restarts=3, candidates=12, seed=2, lr=0.05, chunk_size=4)
    whole = invert(G, x, chunk=None, **kwargs)
    G.calls.clear()
    parts = invert(G, x, chunk=chunk, **kwargs)
    assert max(G.calls) == 4  # candidates (chunk_size) and rows (chunk) alike
    assert max(G.calls[-5:]) <= chunk  # the optimization's calls
    for u, v in zip(parts, whole):
        torch.testing.assert_close(u, v, rtol=1e-12, atol=1e-12)
