"""Seeded, cached DCGAN training (paper 000 section 4: Adam, lr 2e-4, betas (0.5, 0.999); paper 001 section 4:
RMSProp, lr 1e-4, decay 0.9, uniform prior on [-1, 1]^n).

``train_dcgan`` is deterministic on the CPU for a given seed and thread count, and stores its result
in the content-addressed cache (:mod:`gandensity.workflows.cache`) under a key made of the architecture, the
training configuration, the data's fingerprint and this module's source, so that chapters share
trained models while each chapter can still run alone.
"""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import asdict, dataclass
from typing import Callable, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from gandensity.workflows import cache, models
from gandensity.workflows.data import DataSpec, ImageData, fingerprint, without_label
from gandensity.workflows.models import DCGANConfig, Discriminator, Generator, init_dcgan_weights
from gandensity.numerics.priors import Prior, StandardNormal, UniformBox

__all__ = ["TrainConfig", "TrainedGAN", "GANSpec", "train_loop", "train_dcgan", "train_gan", "recalibrate_batchnorm",
           "progress_enabled"]


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings of a DCGAN run.

    ``optimizer`` is ``"adam"`` (betas ``beta1``, ``beta2``) or ``"rmsprop"`` (decay ``rmsprop_alpha``);
    ``prior`` is the latent distribution, ``"normal"`` (N(0, I)) or ``"uniform"`` (on [-1, 1]^n).
    """

    epochs: int
    batch_size: int = 64
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    seed: int = 0
    calibration_samples: int = 4096
    optimizer: str = "adam"
    rmsprop_alpha: float = 0.9
    prior: str = "normal"

    def __post_init__(self) -> None:
        for name, low in (("epochs", 1), ("batch_size", 2), ("seed", 0), ("calibration_samples", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                # calibration_samples = 0 would reset the batch-norm statistics to their initial values
                raise ValueError(f"TrainConfig.{name} must be an int >= {low}, got {value!r}")
        for name in ("lr", "beta1", "beta2", "rmsprop_alpha"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"TrainConfig.{name} must be a finite number, got {value!r}")
        if not self.lr > 0 or not 0 <= self.beta1 < 1 or not 0 <= self.beta2 < 1:
            raise ValueError(f"TrainConfig needs lr > 0 and betas in [0, 1), got lr={self.lr}, "
                             f"betas=({self.beta1}, {self.beta2})")
        if self.optimizer not in ("adam", "rmsprop"):
            raise ValueError(f"optimizer must be 'adam' or 'rmsprop', got {self.optimizer!r}")
        if self.prior not in ("normal", "uniform"):
            raise ValueError(f"prior must be 'normal' or 'uniform', got {self.prior!r}")

    def latent_prior(self) -> Prior:
        return StandardNormal() if self.prior == "normal" else UniformBox(-1.0, 1.0)


class TrainedGAN(NamedTuple):
    generator: Generator  # eval mode, parameters frozen, on the requested device
    discriminator: Discriminator  # eval mode
    history: dict[str, list[float]]  # per-epoch means: loss_d, loss_g, d_real, d_fake (sigmoid outputs)
    seconds: float  # training time (of the run that built the cache entry)
    from_cache: bool
    path: str  # cache file

    def summary(self) -> str:
        cfg = self.generator.config
        h = self.history
        how = "loaded from cache" if self.from_cache else "trained"
        return (f"DCGAN (width {cfg.width}, {cfg.channels} channel(s), latent {cfg.latent_dim}) {how}: "
                f"{len(h['loss_d'])} epochs in {self.seconds:.0f} s\n"
                f"last epoch: loss D {h['loss_d'][-1]:.2f}, loss G {h['loss_g'][-1]:.2f}, "
                f"D(real) {h['d_real'][-1]:.2f}, D(fake) {h['d_fake'][-1]:.2f}")


def progress_enabled() -> bool:
    """Progress bars for people, not for executed notebooks: ``GANDENSITY_PROGRESS=0/1`` decides, else a tty."""
    flag = os.environ.get("GANDENSITY_PROGRESS")
    if flag is not None:
        return flag not in ("0", "false", "False", "")
    return sys.stderr.isatty() or "ipykernel" in sys.modules


@torch.no_grad()
def recalibrate_batchnorm(generator: Generator, num_samples: int, *, batch_size: int = 256,
                          seed: int = 0, prior: Prior | None = None) -> None:
    """Set the generator's batch-norm statistics to exact averages over ``num_samples`` fresh latents.

    Densities need G in eval mode (per-sample), but the running averages kept during training mix
    statistics of many past weights; re-estimating them for the final weights makes eval-mode samples
    match training-mode ones. Latents are drawn from ``prior`` (default standard normal).
    """
    prior = prior if prior is not None else StandardNormal()
    device = next(generator.parameters()).device
    gen = torch.Generator().manual_seed(seed)
    bns = [m for m in generator.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    generator.train()
    for start in range(0, num_samples, batch_size):
        b = min(batch_size, num_samples - start)
        generator(prior.sample(b, generator.config.latent_dim, rng=gen).to(device))
    for m, momentum in zip(bns, momenta):
        m.momentum = momentum
    generator.eval()


def train_loop(images: torch.Tensor, model: DCGANConfig, config: TrainConfig, device: torch.device, progress: bool,
           make_q: Callable[[DCGANConfig], nn.Module] | None = None, info_weight: float = 0.0) -> dict:
    """The GAN loop, uncached: returns the networks' states, the history and the seconds it took. With ``make_q`` (paper 000's InfoGAN-style objective, :mod:`gandensity.workflows.regressors`), a Q network
    on the discriminator's features is trained in the generator's step, which then minimises the GAN loss plus
    ``info_weight`` * mean_i (Q_i - z_i)^2; its state and per-epoch ``q_error`` are returned too."""
    start = time.perf_counter()
    gen = torch.Generator().manual_seed(config.seed)
    with torch.random.fork_rng(devices=[]):  # leave the caller's global RNG untouched
        torch.manual_seed(config.seed)
        g_net, d_net = Generator(model), Discriminator(model)
        q_net = make_q(model) if make_q is not None else None
        g_net.apply(init_dcgan_weights)
        d_net.apply(init_dcgan_weights)
    nets = [g_net, d_net] + ([q_net] if q_net is not None else [])
    for net in nets:
        net.to(device).train()
    g_params = [*g_net.parameters(), *(q_net.parameters() if q_net is not None else [])]  # Q steps with G
    if config.optimizer == "adam":
        betas = (config.beta1, config.beta2)
        opt_g = torch.optim.Adam(g_params, config.lr, betas=betas)
        opt_d = torch.optim.Adam(d_net.parameters(), config.lr, betas=betas)
    else:
        opt_g = torch.optim.RMSprop(g_params, config.lr, alpha=config.rmsprop_alpha)
        opt_d = torch.optim.RMSprop(d_net.parameters(), config.lr, alpha=config.rmsprop_alpha)
    prior = config.latent_prior()
    n, b = images.shape[0], config.batch_size
    steps = n // b
    if steps < 1:
        raise ValueError(f"batch_size {b} exceeds the number of training images {n}")
    history: dict[str, list[float]] = {"loss_d": [], "loss_g": [], "d_real": [], "d_fake": []}
    if q_net is not None:
        history["q_error"] = []
    epochs = range(config.epochs)
    if progress:
        from tqdm import tqdm
        epochs = tqdm(epochs, desc="DCGAN" if q_net is None else "InfoGAN", unit="epoch", file=sys.stderr)
    for _ in epochs:
        perm = torch.randperm(n, generator=gen)
        sums = torch.zeros(len(history))
        for i in range(steps):
            real = images[perm[i * b:(i + 1) * b]].to(device)
            z = prior.sample(b, model.latent_dim, rng=gen).to(device)
            fake = g_net(z)
            ones, zeros = torch.ones(b, device=device), torch.zeros(b, device=device)
            logit_real, logit_fake = d_net(real), d_net(fake.detach())
            loss_d = (F.binary_cross_entropy_with_logits(logit_real, ones)
                      + F.binary_cross_entropy_with_logits(logit_fake, zeros))
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            features = d_net.features(fake)
            loss_gan = F.binary_cross_entropy_with_logits(d_net.head(features).flatten(), ones)  # non-saturating
            stats = [loss_d, loss_gan, torch.sigmoid(logit_real).mean(), torch.sigmoid(logit_fake).mean()]
            loss_g = loss_gan
            if q_net is not None:
                q_error = (q_net(features) - z).pow(2).mean()
                loss_g = loss_gan + info_weight * q_error
                stats.append(q_error)
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()  # also leaves gradients in D, which its next step clears unused
            opt_g.step()
            sums += torch.stack([v.detach() for v in stats]).cpu()
        for key, value in zip(history, (sums / steps).tolist()):
            history[key].append(value)
        if progress:
            epochs.set_postfix({key: values[-1] for key, values in history.items() if key != "d_real"})
    recalibrate_batchnorm(g_net, config.calibration_samples, seed=config.seed, prior=prior)
    for net in nets[1:]:
        net.eval()
    result = {"generator": {k: v.cpu() for k, v in g_net.state_dict().items()},
              "discriminator": {k: v.cpu() for k, v in d_net.state_dict().items()},
              "history": history, "seconds": time.perf_counter() - start}
    if q_net is not None:
        result["q"] = {k: v.cpu() for k, v in q_net.state_dict().items()}
    return result


def train_dcgan(data: ImageData, model: DCGANConfig, config: TrainConfig, *,
                device: str | torch.device = "cpu", use_cache: bool = True,
                progress: bool | None = None, verbose: bool = True) -> TrainedGAN:
    """Train (or load from the cache) a DCGAN on ``data.images`` (N, C, S, S) in [-1, 1], S = model.image_size.

    Args:
        data: training images; their channel count must match ``model.channels``.
        model: architecture.
        config: optimisation settings, including the seed.
        device: where to train and where the returned networks live.
        use_cache: look up and store the result in :func:`gandensity.workflows.cache.cache_dir`.
        progress: a per-epoch progress bar; default :func:`progress_enabled`.
        verbose: print a one-line summary when done.

    Returns:
        :class:`TrainedGAN` whose generator is in eval mode with recalibrated batch norm.
    """
    images = data.images
    if images.ndim != 4 or tuple(images.shape[1:]) != model.image_shape:
        size = model.image_size
        raise ValueError(f"DCGAN with {model.channels} channel(s) trains on images of shape (N, {model.channels}, "
                         f"{size}, {size}); {data.name} has shape {tuple(images.shape)} (load it with channels="
                         f"{model.channels}, size={size})")
    if not torch.isfinite(images).all():
        raise ValueError(f"{data.name} contains NaN or inf pixels")
    device = torch.device(device)
    parts = {"model": model.as_dict(), "train": asdict(config), "data": fingerprint(data),
             "code": cache.code_version(models, sys.modules[__name__]), "device": device.type}
    result, hit, path = cache.cached(
        "dcgan", parts, lambda: train_loop(images, model, config, device,
                                       progress_enabled() if progress is None else progress),
        enabled=use_cache)
    g_net, d_net = Generator(model), Discriminator(model)
    g_net.load_state_dict(result["generator"])
    d_net.load_state_dict(result["discriminator"])
    for net in (g_net, d_net):
        net.to(device).eval().requires_grad_(False)
    trained = TrainedGAN(g_net, d_net, result["history"], float(result["seconds"]), hit, str(path))
    if verbose:
        print(trained.summary())
    return trained


@dataclass(frozen=True)
class GANSpec:
    """Everything that determines a trained DCGAN: its data, its architecture and its optimisation.

    Chapters build one from their profile (:func:`gandensity.book.specs.gan_spec`); equal specs share one cache
    entry, whichever chapter trains it first."""

    data: DataSpec
    model: DCGANConfig
    train: TrainConfig

    def __post_init__(self) -> None:
        for name, kind in (("data", DataSpec), ("model", DCGANConfig), ("train", TrainConfig)):
            if not isinstance(getattr(self, name), kind):
                raise TypeError(f"GANSpec.{name} must be a {kind.__name__}, got {type(getattr(self, name)).__name__}")
        if (self.data.channels, self.data.size) != (self.model.channels, self.model.image_size):
            raise ValueError(f"GANSpec: the data are {self.data.channels}x{self.data.size}x{self.data.size} but the "
                             f"model makes {self.model.channels}x{self.model.image_size}x{self.model.image_size} "
                             "images; make DataSpec.channels/size match DCGANConfig.channels/image_size")


def train_gan(spec: GANSpec, *, exclude: int | None = None, device: str | torch.device = "cpu",
              use_cache: bool = True, verbose: bool = True) -> tuple[TrainedGAN, ImageData]:
    """Load a spec's training data and train (or fetch from the cache) its DCGAN.

    ``exclude`` drops one class from the training data (e.g. MNIST without 1s, paper 000 section 6.1).

    Returns:
        ``(trained GAN, training data)``.
    """
    if not isinstance(spec, GANSpec):
        raise TypeError(f"spec must be a GANSpec (gandensity.book.specs.gan_spec builds one from a chapter's "
                        f"configuration), got {type(spec).__name__}")
    train = spec.data.load("train")
    if exclude is not None:
        train = without_label(train, exclude)
    return train_dcgan(train, spec.model, spec.train, device=device, use_cache=use_cache, verbose=verbose), train
