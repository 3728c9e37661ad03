"""The DCGAN of papers 000 and 001, for 32x32 or 64x64 images.

At 32x32 (paper 000): four 4x4 (de)convolutions separated by batch norm; ReLU in the generator, LeakyReLU(0.2)
in the discriminator; a 100-dimensional latent (Radford et al. 2016, Krusinga et al. section 4). At 64x64
(paper 001 section 4, CelebA and LSUN): five layers each, one more doubling of the channels. ``width`` is the
channel count of the outermost hidden layer (64 in the papers).

A trained generator travels as one checkpoint file (:func:`save_generator`, :func:`load_generator`): its
architecture, its weights and batch-norm statistics, and the name of its latent prior, so the file alone rebuilds
the network (``gandensity density --model FILE`` reads it). The file is written like a cache entry (atomically,
with a checksum: :func:`gandensity.workflows.cache.save_entry`).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping, NamedTuple

import torch
from torch import nn

from gandensity.workflows import cache

__all__ = ["DCGANConfig", "Generator", "Discriminator", "init_dcgan_weights", "untrained_generator",
           "GeneratorCheckpoint", "PRIORS", "save_generator", "load_checkpoint", "load_generator"]


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


def untrained_generator(config: DCGANConfig, *, seed: int = 0) -> Generator:
    """A DCGAN generator with the DCGAN initialisation (:func:`init_dcgan_weights` on every layer) drawn from
    ``seed`` without touching the global random state, in evaluation mode: for timings and other experiments that
    need the architecture, not a trained model."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = Generator(config)
        net.apply(init_dcgan_weights)
    return net.eval()


# ------------------------------------------------------------------------------------------ checkpoints

CHECKPOINT_FORMAT = "gandensity-generator"
CHECKPOINT_VERSION = 1
PRIORS = ("normal", "uniform")  # as TrainConfig.prior: N(0, I), or uniform on [-1, 1]^n
_WRITE_ONE = "write one with gandensity.workflows.models.save_generator(G, path)"


class GeneratorCheckpoint(NamedTuple):
    """What :func:`load_checkpoint` returns.

    Attributes:
        generator: the rebuilt :class:`Generator`, in eval mode with frozen parameters.
        prior: ``"normal"`` (N(0, I)) or ``"uniform"`` (on [-1, 1]^n): the latent distribution it was trained with.
        metadata: the JSON-like dictionary given to :func:`save_generator` (e.g. where the model came from).
    """

    generator: Generator
    prior: str
    metadata: dict[str, Any]


def save_generator(generator: Generator, path: str | os.PathLike, *, prior: str = "normal",
                   metadata: Mapping[str, Any] | None = None) -> Path:
    """Write ``generator`` (architecture, weights, batch-norm statistics) and its prior's name to one file.

    The write is atomic (a temporary file renamed over ``path``) and the file carries the sha256 of its payload,
    so a reader sees the old file or the new one, never half, and a damaged file is detected. Missing parent
    directories are created.

    Args:
        generator: a :class:`Generator` (any device; stored on the CPU).
        path: the file to write (conventionally ``*.pt``).
        prior: the latent distribution it was trained with: ``"normal"`` or ``"uniform"``.
        metadata: small JSON-like extras (strings, numbers, lists, dicts), returned by :func:`load_checkpoint`.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    if not isinstance(generator, Generator):
        raise TypeError(f"save_generator stores a gandensity.workflows.models.Generator (the DCGAN built from a "
                        f"DCGANConfig), got {type(generator).__name__}; for another network save its state_dict "
                        "with torch.save and rebuild it yourself")
    if prior not in PRIORS:
        raise ValueError(f"prior must be one of {PRIORS} (the latent distribution the generator was trained with), "
                         f"got {prior!r}")
    if metadata is not None and not isinstance(metadata, Mapping):
        raise TypeError(f"metadata must be a dict (or None), got {type(metadata).__name__}")
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory; pass a file path such as {path / 'generator.pt'}")
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "architecture": "dcgan",
               "config": generator.config.as_dict(), "prior": prior, "metadata": dict(metadata or {}),
               "state_dict": {k: v.detach().cpu().clone() for k, v in generator.state_dict().items()}}
    cache.save_entry(path, payload)
    return path


def load_checkpoint(path: str | os.PathLike, *, device: str | torch.device = "cpu") -> GeneratorCheckpoint:
    """Rebuild the generator of a file written by :func:`save_generator`, with its prior and metadata.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file is not a generator checkpoint (another file, a plain ``torch.save`` of a state dict,
            another kind of gandensity file), is truncated or corrupted, or holds weights that do not fit its
            configuration; the message says which.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no generator checkpoint at {path}" + (" (it is a directory)" if path.is_dir()
                                                                         else "") + f"; {_WRITE_ONE}")
    try:
        payload = cache.load_entry(path)
    except cache.CorruptCacheEntry as err:
        raise ValueError(f"{path} is not a readable generator checkpoint ({err}); {_WRITE_ONE} (a plain "
                         "torch.save of a state_dict is not one: load it into Generator(DCGANConfig(...)) and save "
                         "that)") from err
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is a gandensity file but not a generator checkpoint (a cache entry?); {_WRITE_ONE}")
    if payload.get("version") != CHECKPOINT_VERSION:
        raise ValueError(f"{path} is a generator checkpoint of format version {payload.get('version')!r}; this "
                         f"gandensity reads version {CHECKPOINT_VERSION}")
    try:
        config = DCGANConfig(**payload["config"])
        generator = Generator(config)
        generator.load_state_dict(payload["state_dict"])
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        raise ValueError(f"{path}: the checkpoint's configuration and weights do not rebuild a Generator "
                         f"({type(err).__name__}: {str(err).splitlines()[0][:300]})") from err
    prior = payload.get("prior")
    if prior not in PRIORS:
        raise ValueError(f"{path}: the checkpoint names an unknown prior {prior!r} (known: {PRIORS})")
    generator.to(device).eval().requires_grad_(False)
    return GeneratorCheckpoint(generator, prior, dict(payload.get("metadata") or {}))


def load_generator(path: str | os.PathLike, *, device: str | torch.device = "cpu") -> Generator:
    """The :class:`Generator` of a file written by :func:`save_generator` (eval mode, frozen parameters, on
    ``device``); :func:`load_checkpoint` also returns its prior. Errors as :func:`load_checkpoint`."""
    return load_checkpoint(path, device=device).generator
