"""The DCGAN of paper 000 for 32x32 images.

Four 4x4 (de)convolutions separated by batch norm; ReLU in the generator, LeakyReLU(0.2) in the
discriminator; a 100-dimensional standard-normal latent (Radford et al. 2016, Krusinga et al. section 4).
``width`` is the channel count of the outermost hidden layer (64 in the paper).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

__all__ = ["DCGANConfig", "Generator", "Discriminator", "init_dcgan_weights"]


@dataclass(frozen=True)
class DCGANConfig:
    """Architecture of a 32x32 DCGAN."""

    latent_dim: int = 100
    channels: int = 1
    width: int = 64

    def __post_init__(self) -> None:
        if self.latent_dim < 1 or self.width < 1:
            raise ValueError(f"latent_dim and width must be positive, got {self.latent_dim}, {self.width}")
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 (gray) or 3 (colour), got {self.channels}")

    def as_dict(self) -> dict:
        return asdict(self)


class Generator(nn.Module):
    """z (B, latent_dim) -> image (B, channels, 32, 32) in [-1, 1]."""

    def __init__(self, config: DCGANConfig) -> None:
        super().__init__()
        self.config = config
        w, c = config.width, config.channels
        self.net = nn.Sequential(
            nn.ConvTranspose2d(config.latent_dim, 4 * w, 4, 1, 0, bias=False),  # 1 -> 4
            nn.BatchNorm2d(4 * w), nn.ReLU(True),
            nn.ConvTranspose2d(4 * w, 2 * w, 4, 2, 1, bias=False),  # 4 -> 8
            nn.BatchNorm2d(2 * w), nn.ReLU(True),
            nn.ConvTranspose2d(2 * w, w, 4, 2, 1, bias=False),  # 8 -> 16
            nn.BatchNorm2d(w), nn.ReLU(True),
            nn.ConvTranspose2d(w, c, 4, 2, 1, bias=False),  # 16 -> 32
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.ndim != 2 or z.shape[-1] != self.config.latent_dim:
            raise ValueError(f"Generator expects z of shape (B, {self.config.latent_dim}), got {tuple(z.shape)}")
        return self.net(z[:, :, None, None])


class Discriminator(nn.Module):
    """image (B, channels, 32, 32) -> logit (B,). Without a sigmoid it doubles as paper 000's regressor."""

    def __init__(self, config: DCGANConfig) -> None:
        super().__init__()
        self.config = config
        w, c = config.width, config.channels
        self.features = nn.Sequential(
            nn.Conv2d(c, w, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True),  # 32 -> 16
            nn.Conv2d(w, 2 * w, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * w), nn.LeakyReLU(0.2, True),  # 16 -> 8
            nn.Conv2d(2 * w, 4 * w, 4, 2, 1, bias=False), nn.BatchNorm2d(4 * w), nn.LeakyReLU(0.2, True),  # 8 -> 4
        )
        self.head = nn.Conv2d(4 * w, 1, 4, 1, 0, bias=False)  # 4 -> 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        expected = (self.config.channels, 32, 32)
        if x.ndim != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(f"Discriminator expects images of shape (B, {expected[0]}, 32, 32), got {tuple(x.shape)}")
        return self.head(self.features(x)).flatten()


def init_dcgan_weights(module: nn.Module) -> None:
    """DCGAN initialisation: conv weights N(0, 0.02), batch-norm scales N(1, 0.02), shifts 0."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)
