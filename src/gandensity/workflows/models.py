"""The DCGAN of papers 000 and 001, for 32x32 or 64x64 images.

At 32x32 (paper 000): four 4x4 (de)convolutions separated by batch norm; ReLU in the generator, LeakyReLU(0.2)
in the discriminator; a 100-dimensional latent (Radford et al. 2016, Krusinga et al. section 4). At 64x64
(paper 001 section 4, CelebA and LSUN): five layers each, one more doubling of the channels. ``width`` is the
channel count of the outermost hidden layer (64 in the papers).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

__all__ = ["DCGANConfig", "Generator", "Discriminator", "init_dcgan_weights"]


@dataclass(frozen=True)
class DCGANConfig:
    """Architecture of a DCGAN for ``image_size`` x ``image_size`` images (32 or 64)."""

    latent_dim: int = 100
    channels: int = 1
    width: int = 64
    image_size: int = 32

    def __post_init__(self) -> None:
        if self.latent_dim < 1 or self.width < 1:
            raise ValueError(f"latent_dim and width must be positive, got {self.latent_dim}, {self.width}")
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 (gray) or 3 (colour), got {self.channels}")
        if self.image_size not in (32, 64):
            raise ValueError(f"image_size must be 32 (four layers) or 64 (five layers), got {self.image_size}")

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (self.channels, self.image_size, self.image_size)

    def as_dict(self) -> dict:
        return asdict(self)


class Generator(nn.Module):
    """z (B, latent_dim) -> image (B, channels, image_size, image_size) in [-1, 1]."""

    def __init__(self, config: DCGANConfig) -> None:
        super().__init__()
        self.config = config
        w, c = config.width, config.channels
        mult = config.image_size // 8  # channels of the 4x4 layer, in units of w: 4 at 32x32, 8 at 64x64
        layers: list[nn.Module] = [nn.ConvTranspose2d(config.latent_dim, mult * w, 4, 1, 0, bias=False),  # 1 -> 4
                                   nn.BatchNorm2d(mult * w), nn.ReLU(True)]
        while mult > 1:  # each layer doubles the side and halves the channels
            layers += [nn.ConvTranspose2d(mult * w, mult // 2 * w, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(mult // 2 * w), nn.ReLU(True)]
            mult //= 2
        layers += [nn.ConvTranspose2d(w, c, 4, 2, 1, bias=False), nn.Tanh()]  # -> image_size
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.ndim != 2 or z.shape[-1] != self.config.latent_dim:
            raise ValueError(f"Generator expects z of shape (B, {self.config.latent_dim}), got {tuple(z.shape)}")
        return self.net(z[:, :, None, None])


class Discriminator(nn.Module):
    """image (B, channels, image_size, image_size) -> logit (B,). Without a sigmoid it doubles as paper 000's
    regressor. ``features`` maps the image to the (B, image_size // 8 * width, 4, 4) activations before the head
    (at 32x32: the third convolution, where paper 000 attaches its Q network)."""

    def __init__(self, config: DCGANConfig) -> None:
        super().__init__()
        self.config = config
        w, c = config.width, config.channels
        layers: list[nn.Module] = [nn.Conv2d(c, w, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]  # -> size / 2
        mult = 1
        while mult < config.image_size // 8:  # each layer halves the side and doubles the channels, down to 4x4
            layers += [nn.Conv2d(mult * w, 2 * mult * w, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * mult * w),
                       nn.LeakyReLU(0.2, True)]
            mult *= 2
        self.features = nn.Sequential(*layers)
        self.head = nn.Conv2d(mult * w, 1, 4, 1, 0, bias=False)  # 4 -> 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        expected = self.config.image_shape
        if x.ndim != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(f"Discriminator expects images of shape (B, {', '.join(map(str, expected))}), "
                             f"got {tuple(x.shape)}")
        return self.head(self.features(x)).flatten()


def init_dcgan_weights(module: nn.Module) -> None:
    """DCGAN initialisation: conv weights N(0, 0.02), batch-norm scales N(1, 0.02), shifts 0."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)
