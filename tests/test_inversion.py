"""GAN inversion against least squares (linear generators), recovery of generated images, batching and errors."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from gandensity.numerics.inversion import invert, nearest_samples
from gandensity.workflows.models import DCGANConfig, Generator, init_dcgan_weights


pytestmark = pytest.mark.usefixtures("float64")  # tests/conftest.py


class Linear(nn.Module):
    def __init__(self, out_dim: int = 12, latent_dim: int = 3, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.latent_dim = latent_dim
        self.weight = nn.Parameter(torch.randn(out_dim, latent_dim, generator=g), requires_grad=False)
        self.bias = nn.Parameter(torch.randn(out_dim, generator=g), requires_grad=False)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z @ self.weight.T + self.bias


class MLP(nn.Module):
    """A small nonlinear generator: 4 latents -> 2 x 4 x 4 images through tanh layers."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.latent_dim = 4
        self.net = nn.Sequential(nn.Linear(4, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 32))
        self.requires_grad_(False)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).reshape(-1, 2, 4, 4)


def test_linear_generator_reaches_the_least_squares_optimum():
    G = Linear()
    x = torch.randn(5, 12, generator=torch.Generator().manual_seed(1))  # off the manifold
    inv = invert(G, x, steps=300, restarts=2, candidates=50, lr=0.1, seed=0)
    z_ls = torch.linalg.lstsq(G.weight, (x - G.bias).T).solution.T
    best = (G(z_ls) - x).pow(2).mean(1)
    assert inv.z.shape == (5, 3) and inv.reconstruction.shape == (5, 12) and inv.error.shape == (5,)
    torch.testing.assert_close(inv.error, best, rtol=1e-6, atol=1e-10)
    torch.testing.assert_close(inv.z, z_ls, rtol=0, atol=1e-3)
    # the starting points were the nearest generated samples, and optimization improved on them
    assert (inv.initial_errors > inv.errors + 1e-6).all()


def test_generated_images_are_recovered_by_a_nonlinear_generator():
    G = MLP()
    z_true = torch.randn(6, 4, generator=torch.Generator().manual_seed(2))
    x = G(z_true)
    inv = invert(G, x, steps=400, restarts=3, candidates=200, lr=0.05, seed=0)
    assert inv.reconstruction.shape == x.shape
    assert (inv.error < 1e-8).all(), inv.error
    assert (inv.error < 1e-3 * inv.initial_errors.min(1).values).all()


def test_best_restart_is_kept_and_outputs_are_consistent():
    G = MLP()
    x = torch.randn(4, 2, 4, 4, generator=torch.Generator().manual_seed(3))  # not generated: restarts differ
    inv = invert(G, x, steps=60, restarts=4, candidates=30, seed=1)
    assert inv.errors.shape == (4, 4) and inv.initial_errors.shape == (4, 4)
    torch.testing.assert_close(inv.error, inv.errors.min(1).values, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(inv.reconstruction, G(inv.z))
    torch.testing.assert_close(inv.error, (G(inv.z) - x).pow(2).mean((1, 2, 3)))
    assert (inv.errors <= inv.initial_errors + 1e-12).all()  # the best iterate includes the start


def test_batch_equals_one_image_at_a_time():
    # The candidates depend only on the seed, and rows never interact: a batch gives each image's own result.
    G = MLP()
    x = torch.randn(3, 2, 4, 4, generator=torch.Generator().manual_seed(4))
    batched = invert(G, x, steps=50, restarts=2, candidates=40, seed=5)
    for i in range(3):
        single = invert(G, x[i:i + 1], steps=50, restarts=2, candidates=40, seed=5)
        torch.testing.assert_close(single.z[0], batched.z[i], rtol=1e-7, atol=1e-9)
        torch.testing.assert_close(single.errors[0], batched.errors[i], rtol=1e-7, atol=1e-12)


def test_nearest_samples_is_brute_force_nearest():
    G = MLP()
    g = torch.Generator().manual_seed(6)
    cand = torch.randn(70, 4, generator=g)
    x = torch.randn(5, 2, 4, 4, generator=g)
    index, dist = nearest_samples(G, x, cand, chunk_size=16)  # several chunks
    d = torch.cdist(x.reshape(5, -1), G(cand).reshape(70, -1)).pow(2)
    assert torch.equal(index, d.argmin(1))
    torch.testing.assert_close(dist, d.min(1).values)


def test_dcgan_in_float32():
    torch.manual_seed(0)
    G = Generator(DCGANConfig(latent_dim=8, channels=1, width=4)).apply(init_dcgan_weights).eval().float()
    x = torch.rand(2, 1, 32, 32, dtype=torch.float32) * 2 - 1
    inv = invert(G, x, steps=5, restarts=2, candidates=10, seed=0)
    assert inv.z.dtype == torch.float32 and inv.z.shape == (2, 8) and torch.isfinite(inv.error).all()


def test_bad_inputs_get_clear_errors():
    G = Linear()
    with pytest.raises(ValueError, match="shape mismatch"):
        invert(G, torch.zeros(2, 11), steps=2)
    bad = torch.zeros(3, 12)
    bad[2, 0] = math.nan
    with pytest.raises(ValueError, match=r"NaN or inf in images \[2\]"):
        invert(G, bad, steps=2)
    for name in ("steps", "restarts", "candidates"):
        with pytest.raises(ValueError, match=name):
            invert(G, torch.zeros(2, 12), **{name: 0})
    with pytest.raises(ValueError, match="lr"):
        invert(G, torch.zeros(2, 12), lr=-1.0)
    with pytest.raises(ValueError, match="latent_dim=n"):
        invert(lambda v: v, torch.zeros(2, 12))
    with pytest.raises(ValueError, match="eval"):
        invert(Generator(DCGANConfig(latent_dim=4, width=2)), torch.zeros(1, 1, 32, 32, dtype=torch.float32))
