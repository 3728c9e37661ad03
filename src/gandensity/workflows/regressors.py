"""Density regressors of paper 000 (sections 4 and 7): images in, log-densities out.

The exact density of :mod:`gandensity.numerics.density` exists only for generated images whose latent code is known.
Paper 000 extends it to any image with a *regressor*, trained on triplets sampled from the GAN:

1. train a GAN (:func:`gandensity.workflows.training.train_gan`; the InfoGAN variant with a Q network for latent densities, :func:`infogan_for`);
2. sample triplets ``(z, G(z), log p(G(z)))`` with the exact density (:func:`sample_triplets`, batched);
3. fit a network that maps the image to its label (:func:`train_regressor`).

Two labels give two regressors:

- the **pixel regressor** learns ``log p(G(z))``, the density of the image on the generator's manifold (Eq. 3);
- the **latent regressor** learns ``log N(z; 0, I)``, the density of the image's pre-image, without the
  Jacobian term; its GAN is trained with the InfoGAN-style objective (Eq. 5) so that z is recoverable from G(z).

The regressor has the DCGAN discriminator's architecture without a sigmoid, and is trained with Adam
(lr 1e-4, betas (0.5, 0.999)) on an L2 loss (smooth L1 selectable). Targets are standardised by the training
labels' mean and standard deviation, which the model stores and undoes, so it predicts nats.

Every trained model goes through the content-addressed cache (:mod:`gandensity.workflows.cache`), keyed by the
configuration, the data's fingerprint (or the generator's weights) and the source code that produced it (the
modules it uses and the functions of this module that train it), so that chapters share them and each chapter
still runs alone.
"""

from __future__ import annotations

import sys
import textwrap
import time
from dataclasses import asdict, dataclass
from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from gandensity.workflows import cache, models, training
from gandensity.numerics import density
from gandensity.workflows.cache import generator_fingerprint
from gandensity.workflows.data import ImageData, fingerprint, without_label
from gandensity.workflows.models import DCGANConfig, Discriminator, Generator, init_dcgan_weights
from gandensity.numerics.priors import StandardNormal
from gandensity.workflows.training import GANSpec, TrainConfig, TrainedGAN, progress_enabled, train_gan

__all__ = [
    "QNetwork", "InfoGAN", "train_infogan", "infogan_for",
    "Triplets", "sample_triplets", "generator_fingerprint",
    "RegressorConfig", "Regressor", "TrainedRegressor", "train_regressor", "regressor_for", "predict",
    "score_samples", "pixel_regressor_for", "latent_regressor_for", "recalibrate_regressor_batchnorm",
]


Label = Literal["pixel", "latent"]
LABELS = ("pixel", "latent")




def _wrap_lines(text: str, width: int = 80) -> str:
    """Each line of ``text`` wrapped to ``width`` characters (continuations indented), for the book's pages."""
    return "\n".join(textwrap.fill(line, width, subsequent_indent="  ") for line in text.splitlines())


# ------------------------------------------------------------------------------------------ data and GANs


# ------------------------------------------------------------------------------------------ InfoGAN


class QNetwork(nn.Module):
    """InfoGAN's Q head (paper 000 section 4): reads the output of the discriminator's third convolutional
    layer, (B, 4w, 4, 4), and returns a (B, latent_dim) reconstruction of z.

    One convolution and two linear layers, separated by LeakyReLU(0.2).
    """

    def __init__(self, config: DCGANConfig) -> None:
        super().__init__()
        self.config = config
        c = 4 * config.width
        self.net = nn.Sequential(
            nn.Conv2d(c, c, 4, 1, 0), nn.LeakyReLU(0.2, True),  # 4 -> 1
            nn.Flatten(), nn.Linear(c, c), nn.LeakyReLU(0.2, True),
            nn.Linear(c, config.latent_dim),
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        expected = (4 * self.config.width, 4, 4)
        if features.ndim != 4 or tuple(features.shape[1:]) != expected:
            raise ValueError(f"QNetwork expects discriminator features of shape (B, {expected[0]}, 4, 4), "
                             f"got {tuple(features.shape)}")
        return self.net(features)


class InfoGAN(NamedTuple):
    """A DCGAN trained with the InfoGAN-style objective, and its Q network (eval mode, frozen)."""

    gan: TrainedGAN
    q: QNetwork

    @property
    def generator(self) -> Generator:
        return self.gan.generator

    def summary(self) -> str:
        h = self.gan.history
        text = (self.gan.summary().replace("DCGAN", "InfoGAN-style DCGAN", 1)
                + f", Q error {h['q_error'][-1]:.2f} (mean squared error per latent dimension; 1.0 = chance)")
        return _wrap_lines(text)


def _train_infogan(images: torch.Tensor, model: DCGANConfig, config: TrainConfig, info_weight: float,
                   device: torch.device, progress: bool) -> dict:
    """The DCGAN loop of :mod:`gandensity.workflows.training` with a Q network: the generator step minimises
    GAN loss + info_weight * mean_i (Q_i - z_i)^2, and Q is updated in that step (paper 000, section 4)."""
    return training.train_loop(images, model, config, device, progress, make_q=QNetwork, info_weight=info_weight)


def train_infogan(data: ImageData, model: DCGANConfig, config: TrainConfig, *, info_weight: float = 1.0,
                  device: str | torch.device = "cpu", use_cache: bool = True, progress: bool | None = None,
                  verbose: bool = True) -> InfoGAN:
    """Train (or load from the cache) a DCGAN with the InfoGAN-style objective of paper 000 (Eq. 5).

    The discriminator step is the DCGAN's. The generator step minimises the non-saturating GAN loss plus
    ``info_weight`` times the mean squared error between Q(features of G(z)) and z (mean over the latent
    dimensions, i.e. lambda ||Q - z||^2 with lambda = info_weight / latent_dim; the paper gives no value);
    G and Q share that step's optimiser.

    Returns:
        :class:`InfoGAN` with the generator in eval mode (batch norm recalibrated) and Q.
    """
    images = data.images
    if images.ndim != 4 or tuple(images.shape[1:]) != (model.channels, 32, 32):
        raise ValueError(f"InfoGAN with {model.channels} channel(s) trains on images of shape (N, {model.channels}, "
                         f"32, 32); {data.name} has shape {tuple(images.shape)}")
    if not torch.isfinite(images).all():
        raise ValueError(f"{data.name} contains NaN or inf pixels")
    if info_weight < 0:
        raise ValueError(f"info_weight must be >= 0, got {info_weight}")
    device = torch.device(device)
    parts = {"model": model.as_dict(), "train": asdict(config), "info_weight": float(info_weight),
             "data": fingerprint(data), "code": cache.code_version(models, training, QNetwork, _train_infogan),
             "device": device.type}
    result, hit, path = cache.cached(
        "infogan", parts, lambda: _train_infogan(images, model, config, float(info_weight), device,
                                                 progress_enabled() if progress is None else progress),
        enabled=use_cache)
    g_net, d_net, q_net = Generator(model), Discriminator(model), QNetwork(model)
    g_net.load_state_dict(result["generator"])
    d_net.load_state_dict(result["discriminator"])
    q_net.load_state_dict(result["q"])
    for net in (g_net, d_net, q_net):
        net.to(device).eval().requires_grad_(False)
    trained = InfoGAN(TrainedGAN(g_net, d_net, result["history"], float(result["seconds"]), hit, str(path)), q_net)
    if verbose:
        print(trained.summary())
    return trained


def infogan_for(spec: GANSpec, *, info_weight: float = 1.0, exclude: int | None = None,
                device: str | torch.device = "cpu", verbose: bool = True) -> tuple[InfoGAN, ImageData]:
    """:func:`gandensity.workflows.training.train_gan` with the InfoGAN-style objective (:func:`train_infogan`):
    same data, same settings. Returns ``(InfoGAN, training data)``."""
    train = spec.data.load("train")
    if exclude is not None:
        train = without_label(train, exclude)
    info = train_infogan(train, spec.model, spec.train, info_weight=info_weight, device=device, verbose=verbose)
    return info, train


# ------------------------------------------------------------------------------------------ triplets


class Triplets(NamedTuple):
    """Samples of a generator with their labels."""

    z: torch.Tensor  # (N, n) float32 latents
    images: torch.Tensor  # (N, C, H, W) float32, G(z) in eval mode
    log_prior: torch.Tensor  # (N,) float64: log N(z; 0, I), the latent regressor's label
    log_density: torch.Tensor | None  # (N,) float64: exact log p(G(z)) (Eq. 3), the pixel regressor's label
    seconds: float  # time spent on the exact densities (0 when not computed)

    def labels(self, label: Label) -> torch.Tensor:
        """``log_density`` for ``"pixel"``, ``log_prior`` for ``"latent"``."""
        if label not in LABELS:
            raise ValueError(f"label must be one of {LABELS}, got {label!r}")
        if label == "pixel":
            if self.log_density is None:
                raise ValueError("these triplets were sampled without exact densities (exact=False)")
            return self.log_density
        return self.log_prior


@torch.no_grad()
def _generate(generator: Generator, z: torch.Tensor, batch_size: int) -> torch.Tensor:
    return torch.cat([generator(zc) for zc in z.split(batch_size)])


def sample_triplets(generator: Generator, num: int, *, seed: int = 0, exact: bool = True, chunk_size: int = 8,
                    batch_size: int = 256) -> Triplets:
    """``num`` triplets ``(z, G(z), log p(G(z)))`` of a generator in eval mode, batched.

    Args:
        generator: the GAN's generator (eval mode); its device is used.
        num: number of samples.
        seed: seed of the latents (a private ``torch.Generator``; the global RNG is untouched).
        exact: compute the exact log-density (Jacobian + QR, :func:`gandensity.generator_log_density`);
            ``False`` gives only ``log_prior``, all that the latent regressor needs.
        chunk_size: samples per vectorised Jacobian call.
        batch_size: samples per generator call for the images.

    Returns:
        :class:`Triplets` on the CPU.
    """
    if num < 1:
        raise ValueError(f"num must be >= 1, got {num}")
    device = next(generator.parameters()).device
    n = generator.config.latent_dim
    z = torch.randn(num, n, generator=torch.Generator().manual_seed(seed))
    images = _generate(generator, z.to(device), batch_size).cpu()
    log_prior = StandardNormal().log_prob(z.double())
    log_density, seconds = None, 0.0
    if exact:
        start = time.perf_counter()
        log_density = density.generator_log_density(generator, z.to(device), chunk_size=chunk_size,
                                                    on_singular="raise").cpu()
        seconds = time.perf_counter() - start
    return Triplets(z, images, log_prior, log_density, seconds)


# ------------------------------------------------------------------------------------------ regressors


@dataclass(frozen=True)
class RegressorConfig:
    """A regressor's architecture (the DCGAN discriminator's, at ``width``) and optimisation settings."""

    width: int = 64
    epochs: int = 20
    batch_size: int = 64
    lr: float = 1e-4
    beta1: float = 0.5
    beta2: float = 0.999
    loss: Literal["l2", "smooth_l1"] = "l2"
    holdout: float = 0.1  # share of the triplets held out to measure the error against the labels
    seed: int = 0

    def __post_init__(self) -> None:
        if self.width < 1 or self.epochs < 1 or self.batch_size < 2:
            raise ValueError(f"need width >= 1, epochs >= 1 and batch_size >= 2, got {self.width}, {self.epochs}, "
                             f"{self.batch_size}")
        if self.loss not in ("l2", "smooth_l1"):
            raise ValueError(f"loss must be 'l2' or 'smooth_l1', got {self.loss!r}")
        if not 0 < self.holdout < 1:
            raise ValueError(f"holdout must be in (0, 1), got {self.holdout}")


class Regressor(nn.Module):
    """image (B, C, 32, 32) -> log-density (B,) in nats: the DCGAN discriminator without a sigmoid, whose
    output is rescaled by the training labels' standard deviation and shifted by their mean."""

    def __init__(self, config: DCGANConfig) -> None:
        super().__init__()
        self.config = config
        self.net = Discriminator(config)
        self.register_buffer("offset", torch.zeros((), dtype=torch.float64))
        self.register_buffer("scale", torch.ones((), dtype=torch.float64))

    def standardized(self, x: torch.Tensor) -> torch.Tensor:
        """The network's raw output: (log-density - offset) / scale."""
        return self.net(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).double() * self.scale + self.offset


class TrainedRegressor(NamedTuple):
    model: Regressor  # eval mode, frozen
    label: str  # "pixel" or "latent"
    history: dict[str, list[float]]  # per-epoch mean training loss (standardised units), held-out RMSE (nats)
    heldout_labels: torch.Tensor  # (K,) float64 labels of the held-out triplets
    heldout_predictions: torch.Tensor  # (K,) float64 predictions on them
    triplets: int  # triplets sampled (training + held out)
    triplet_seconds: float  # time of the exact densities, in the run that built the entry
    seconds: float  # time of the whole build (triplets + training)
    from_cache: bool
    path: str

    @property
    def rmse(self) -> float:
        """Root mean squared error on the held-out triplets, in nats."""
        return float((self.heldout_predictions - self.heldout_labels).pow(2).mean().sqrt())

    @property
    def bias(self) -> float:
        """Mean of prediction - label on the held-out triplets, in nats: a shift of level, which ranks ignore."""
        return float((self.heldout_predictions - self.heldout_labels).mean())

    @property
    def error_sd(self) -> float:
        """Standard deviation of prediction - label on the held-out triplets (the RMSE around ``bias``), nats;
        ``rmse ** 2 == bias ** 2 + error_sd ** 2``."""
        return float((self.heldout_predictions - self.heldout_labels).std(unbiased=False))

    @property
    def r2(self) -> float:
        """1 - MSE / variance of the held-out labels: the share of the labels' variance explained."""
        err = (self.heldout_predictions - self.heldout_labels).pow(2).mean()
        return float(1 - err / self.heldout_labels.var(unbiased=False))

    @property
    def spearman(self) -> float:
        from gandensity.workflows.evaluation import spearman
        return spearman(self.heldout_predictions, self.heldout_labels)

    def summary(self) -> str:
        how = "loaded from cache" if self.from_cache else "trained"
        what = "log p(G(z))" if self.label == "pixel" else "log N(z; 0, I)"
        line = (f"{self.label} regressor ({what}) {how}: {self.triplets} triplets, {len(self.history['loss'])} epochs, "
                f"built in {self.seconds:.0f} s")
        if self.triplet_seconds > 0:
            line += (f"; exact densities at {self.triplets / self.triplet_seconds:.0f} samples/s "
                     f"({self.triplet_seconds:.0f} s)")
        return _wrap_lines(line + f"\nheld-out error on {len(self.heldout_labels)} triplets: RMSE {self.rmse:.2f} "
                           f"nats (labels' std {float(self.heldout_labels.std()):.2f}), R^2 {self.r2:.2f}, "
                           f"Spearman {self.spearman:.2f}")


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, *, batch_size: int = 1024) -> torch.Tensor:
    """A regressor's log-densities of (N, C, 32, 32) images, batched, without autograd -> (N,) float64 on the CPU."""
    if images.ndim != 4:
        raise ValueError(f"images must have shape (N, C, 32, 32), got {tuple(images.shape)}")
    if model.training:
        raise ValueError("the regressor is in training mode (batch norm would couple the batch); call .eval()")
    device = next(model.parameters()).device
    return torch.cat([model(x.to(device)).cpu() for x in images.split(batch_size)]).double()


@torch.no_grad()
def score_samples(generator: Generator, model: nn.Module, num: int, *, seed: int = 0,
                  batch_size: int = 1024) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw ``num`` latents, generate and score them with a regressor, a batch at a time, keeping no image.

    A pool of 50,000 generated images (paper 000 section 5.2) then needs only a batch of images in memory; the
    images worth showing are regenerated from their latents.

    Returns:
        ``(z, scores)``: (num, n) float32 latents and (num,) float64 predicted log-densities, on the CPU.
    """
    if num < 1:
        raise ValueError(f"num must be >= 1, got {num}")
    device = next(generator.parameters()).device
    z = torch.randn(num, generator.config.latent_dim, generator=torch.Generator().manual_seed(seed))
    scores = [predict(model, generator(zc.to(device)), batch_size=batch_size) for zc in z.split(batch_size)]
    return z, torch.cat(scores)


@torch.no_grad()
def recalibrate_regressor_batchnorm(model: nn.Module, images: torch.Tensor, *, batch_size: int,
                                    device: str | torch.device = "cpu") -> nn.Module:
    """Set every batch-norm layer's running statistics to their average over ``images`` (N, C, H, W) in batches
    of ``batch_size``, and leave ``model`` in evaluation mode.

    Why: training keeps exponential averages (momentum 0.1) of statistics from weights that changed at every step,
    so a network evaluated right after its last epoch normalizes with statistics of earlier weights. The digit
    latent regressor of A4's 50,000-triplet page ended with every held-out prediction shifted by -15 nats for this
    reason (RMSE 15.7; 4.3 with the statistics recomputed). Each layer's mean and variance become the mean over
    batches of the batch statistics that it normalized with during training (momentum None = cumulative
    average); only batch-norm layers run in training mode, so nothing else (e.g. dropout) changes. The
    generator's counterpart, from fresh latents, is :func:`gandensity.workflows.training.recalibrate_batchnorm`.
    """
    if images.ndim != 4 or len(images) < 2:
        raise ValueError(f"images must have shape (N >= 2, C, H, W), got {tuple(images.shape)}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 2:
        raise ValueError(f"batch_size must be an int >= 2 (batch norm needs a batch), got {batch_size!r}")
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    model.eval()
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
        m.train()
    try:
        batches = list(images.split(batch_size))
        if len(batches) > 1 and len(batches[-1]) < batch_size:
            batches.pop()  # as in training, where every batch is full
        for x in batches:
            model(x.to(device))
    finally:
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
        model.eval()
    return model


def _fit(triplets: Triplets, label: Label, model_cfg: DCGANConfig, config: RegressorConfig, device: torch.device,
         progress: bool) -> dict:
    start = time.perf_counter()
    y_all = triplets.labels(label)
    if not torch.isfinite(y_all).all():
        raise ValueError("some labels are not finite; the regressor needs finite log-densities")
    num = len(y_all)
    gen = torch.Generator().manual_seed(config.seed)
    perm = torch.randperm(num, generator=gen)
    k = max(1, round(num * config.holdout))
    test_idx, train_idx = perm[:k], perm[k:]
    if len(train_idx) < config.batch_size:
        raise ValueError(f"{len(train_idx)} training triplets are fewer than one batch of {config.batch_size}")
    x_train, y_train = triplets.images[train_idx], y_all[train_idx]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = Regressor(model_cfg)
        model.net.apply(init_dcgan_weights)
    model.offset.fill_(float(y_train.mean()))
    model.scale.fill_(float(y_train.std()) if len(y_train) > 1 and float(y_train.std()) > 0 else 1.0)
    model.to(device)
    target = ((y_train - model.offset.cpu()) / model.scale.cpu()).float()
    opt = torch.optim.Adam(model.net.parameters(), config.lr, betas=(config.beta1, config.beta2))
    loss_fn = F.mse_loss if config.loss == "l2" else F.smooth_l1_loss
    b, n_train = config.batch_size, len(train_idx)
    steps = n_train // b
    history: dict[str, list[float]] = {"loss": [], "heldout_rmse": []}
    epochs = range(config.epochs)
    if progress:
        from tqdm import tqdm
        epochs = tqdm(epochs, desc=f"{label} regressor", unit="epoch", file=sys.stderr)
    x_test, y_test = triplets.images[test_idx], y_all[test_idx]
    for _ in epochs:
        model.train()
        order = torch.randperm(n_train, generator=gen)
        total = torch.zeros(())
        for i in range(steps):
            idx = order[i * b:(i + 1) * b]
            loss = loss_fn(model.standardized(x_train[idx].to(device)), target[idx].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach().cpu()
        recalibrate_regressor_batchnorm(model, x_train, batch_size=b, device=device)
        rmse = float((predict(model, x_test) - y_test).pow(2).mean().sqrt())
        history["loss"].append(float(total / steps))
        history["heldout_rmse"].append(rmse)
        if progress:
            epochs.set_postfix(loss=history["loss"][-1], heldout_rmse=rmse)
    model.eval()
    return {"model": {k: v.cpu() for k, v in model.state_dict().items()}, "history": history,
            "heldout_labels": y_test.clone(), "heldout_predictions": predict(model, x_test),
            "seconds": time.perf_counter() - start}


def train_regressor(triplets: Triplets, label: Label, model: DCGANConfig, config: RegressorConfig, *,
                    device: str | torch.device = "cpu", progress: bool | None = None) -> TrainedRegressor:
    """Fit a regressor (uncached) to ``triplets``: ``label="pixel"`` learns log p(G(z)), ``"latent"`` log N(z).

    A random ``config.holdout`` share of the triplets (seeded) is kept out of training; the returned
    :class:`TrainedRegressor` holds its labels and predictions (``rmse``, ``r2``, ``spearman``).
    """
    if label not in LABELS:
        raise ValueError(f"label must be one of {LABELS}, got {label!r}")
    if tuple(triplets.images.shape[1:]) != (model.channels, 32, 32):
        raise ValueError(f"a regressor with {model.channels} channel(s) needs images (N, {model.channels}, 32, 32), "
                         f"got {tuple(triplets.images.shape)}")
    device = torch.device(device)
    result = _fit(triplets, label, model, config, device, progress_enabled() if progress is None else progress)
    return _wrap(result, label, model, len(triplets.z), triplets.seconds, device, False, "")


def _wrap(result: dict, label: str, model_cfg: DCGANConfig, num: int, triplet_seconds: float,
          device: torch.device, hit: bool, path: str) -> TrainedRegressor:
    model = Regressor(model_cfg)
    model.load_state_dict(result["model"])
    model.to(device).eval().requires_grad_(False)
    return TrainedRegressor(model, label, result["history"], result["heldout_labels"], result["heldout_predictions"],
                            num, float(triplet_seconds), float(result["seconds"]), hit, path)


def _regressor_code() -> str:
    """The source a regressor depends on: the architecture, the exact density's numerics (all of density.py),
    the prior, the sampling and the fitting."""
    return cache.code_version(models, density, StandardNormal, sample_triplets, _generate, Regressor, _fit,
                              recalibrate_regressor_batchnorm)


def regressor_for(generator: Generator, label: Label, *, triplets: int, config: RegressorConfig,
                  triplet_seed: int = 1, chunk_size: int = 8, device: str | torch.device = "cpu",
                  use_cache: bool = True, progress: bool | None = None, verbose: bool = True) -> TrainedRegressor:
    """Sample ``triplets`` triplets of ``generator`` and fit a ``label`` regressor, through the cache.

    The cache key holds the generator's weights (:func:`generator_fingerprint`), the label, the number and seed
    of the triplets, the regressor's settings and the code, so any chapter asking for the same regressor of the
    same GAN gets the same entry. The latents are drawn with ``triplet_seed`` (1 by default, not the GAN's
    training seed 0). The architecture is the DCGAN discriminator at ``config.width`` with the generator's
    channels.
    """
    if label not in LABELS:
        raise ValueError(f"label must be one of {LABELS}, got {label!r}")
    device = torch.device(device)
    model = DCGANConfig(latent_dim=generator.config.latent_dim, channels=generator.config.channels,
                        width=config.width)
    parts = {"generator": generator_fingerprint(generator), "label": label, "triplets": int(triplets),
             "triplet_seed": int(triplet_seed), "regressor": asdict(config), "model": model.as_dict(),
             "code": _regressor_code(), "device": device.type}
    show = progress_enabled() if progress is None else progress

    def build() -> dict:
        start = time.perf_counter()
        data = sample_triplets(generator, triplets, seed=triplet_seed, exact=label == "pixel", chunk_size=chunk_size)
        result = _fit(data, label, model, config, device, show)
        result["triplet_seconds"] = data.seconds
        result["seconds"] = time.perf_counter() - start
        return result

    result, hit, path = cache.cached(f"regressor-{label}", parts, build, enabled=use_cache)
    trained = _wrap(result, label, model, triplets, result["triplet_seconds"], device, hit, str(path))
    if verbose:
        print(trained.summary())
    return trained


def pixel_regressor_for(spec: GANSpec, regressor: RegressorConfig, *, triplets: int,
                        chunk_size: int = 8, exclude: int | None = None, device: str | torch.device = "cpu",
                        verbose: bool = True) -> tuple[TrainedGAN, ImageData, TrainedRegressor]:
    """A spec's DCGAN (:func:`gandensity.workflows.training.train_gan`) and its pixel regressor (:func:`regressor_for`), both
    through the cache: ``(trained GAN, training data, trained regressor)``. With ``verbose`` both print their
    summaries."""
    gan, train = train_gan(spec, exclude=exclude, device=device, verbose=verbose)
    reg = regressor_for(gan.generator, "pixel", triplets=triplets, config=regressor, chunk_size=chunk_size,
                        device=device, verbose=verbose)
    return gan, train, reg


def latent_regressor_for(spec: GANSpec, regressor: RegressorConfig, *, triplets: int,
                         info_weight: float, device: str | torch.device = "cpu",
                         verbose: bool = True) -> tuple[InfoGAN, ImageData, TrainedRegressor]:
    """A spec's InfoGAN-style DCGAN (:func:`infogan_for`) and its latent regressor, both through
    the cache: ``(InfoGAN, training data, trained regressor)``."""
    info, train = infogan_for(spec, info_weight=info_weight, device=device, verbose=verbose)
    reg = regressor_for(info.generator, "latent", triplets=triplets, config=regressor, device=device,
                        verbose=verbose)
    return info, train, reg
