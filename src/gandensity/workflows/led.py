"""LED (paper 003): a critic that is a normalized density, trained against a density-tracking generator.

The critic outputs ``log N_theta(x)`` (its last activation is the exponential, so N > 0). Its normalizing
constant is estimated by importance sampling with the generator as the proposal (paper Eq. 2),

    alpha_theta = E_{y ~ P_G}[N_theta(y) / P_G(y)] ~ (1/K) sum_j N_theta(y_j) / P_G(y_j),

with P_G(y_j) tracked through the generator's layers (:mod:`gandensity.numerics.tracked`). The critic maximizes the
normalized log-likelihood of the data (Eq. 3; K = 1 is Eq. 4, the WGAN critic plus a constant); the generator
maximizes k H(P_G) + E log N_theta(G(z)) (Eq. 5 with the entropy weight k of appendix B.4). During training a
share of the proposal samples is replaced by N(0, I) draws (appendix B.3), so that the proposal has mass
everywhere; each sample is weighted by the density of the component that drew it, which keeps the estimate of
alpha unbiased.
"""

from __future__ import annotations

import copy
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gandensity.workflows import cache
from gandensity.numerics import ais, importance, mixtures, tracked
from gandensity.numerics.priors import StandardNormal
from gandensity.workflows.training import progress_enabled

__all__ = ["Critic", "mlp_critic", "dcgan_critic", "perpendicular_energy", "log_normalizer", "critic_loss",
           "generator_loss", "normal_replacement", "LEDConfig", "MixtureLED", "ImageLED", "FittedLED", "train_led", "build", "fit_led",
           "fit_mixture", "mixture_generator", "fit_images", "snapshot_models", "fit_generator_to_density", "estimate_log_normalizer",
           "normalizer_estimates", "bits_per_pixel", "raise_critic_score", "dequantize", "critic_bits_per_dim",
           "critic_kernel_normalizer",
           "ImageScores", "score_images", "interpolate", "rank_correlation", "CriticCheck", "critic_density_check",
           "NormalizerSnapshot", "normalizer_study", "gan_critic_loss", "gan_generator_loss", "FittedGAN",
           "train_gan_baseline", "fit_mixture_gan"]


def perpendicular_energy(x: Tensor, layer: nn.Linear | nn.Conv2d, t: Tensor | None = None) -> Tensor:
    """The paper's perpendicular component at one linear layer (section 2.2): ||t_perp||^2 per sample, (B,).

    With t = W x (the layer without its bias) and v = W^T t, the paper removes from x its projection on v:
    t_perp = x - v (v^T x) / ||v||^2, so ||t_perp||^2 = ||x||^2 - ||W x||^4 / ||W^T W x||^2. For a convolution,
    W^T is the transposed convolution (appendix B.2). Note that this removes one direction, W^T W x, not the
    whole row space of W (that would need a pseudo-inverse); it is what the paper's formula computes.
    ``t`` may pass W x if the caller has it (the layer's output minus its bias), saving one product.
    """
    if isinstance(layer, nn.Conv2d):
        args = (layer.stride, layer.padding, layer.dilation, layer.groups)
        t = F.conv2d(x, layer.weight, None, *args) if t is None else t
        v = torch.nn.grad.conv2d_input(x.shape, layer.weight, t, *args)  # exactly W^T t, at x's size
    elif isinstance(layer, nn.Linear):
        t = F.linear(x, layer.weight) if t is None else t
        v = F.linear(t, layer.weight.t())
    else:
        raise TypeError(f"perpendicular_energy needs nn.Linear or nn.Conv2d, got {type(layer).__name__}")
    x2 = x.double().flatten(1).pow(2).sum(1)
    t2 = t.double().flatten(1).pow(2).sum(1)
    v2 = v.double().flatten(1).pow(2).sum(1)
    return (x2 - t2.pow(2) / v2.clamp_min(1e-30)).clamp_min(0.0)


class Critic(nn.Module):
    """log N_theta(x) (B,) = f_theta(x) - weight * sum_k ||t_perp,k||^2 over the ``penalized`` layers.

    ``body`` is a list of modules applied in order; ``penalized`` names the indices of linear or convolution
    layers whose input's perpendicular component is penalized (empty: a plain critic). No batch normalization:
    a density must not depend on which other images share the batch.
    """

    def __init__(self, body: Sequence[nn.Module], penalized: Sequence[int] = (), weight: float = 1.0,
                 in_shape: tuple[int, ...] = ()) -> None:
        super().__init__()
        self.body = nn.ModuleList(body)
        self.penalized = tuple(penalized)
        self.weight = weight
        self.in_shape = tuple(in_shape)

    def forward(self, x: Tensor) -> Tensor:
        if self.in_shape and tuple(x.shape[1:]) != self.in_shape:
            raise ValueError(f"Critic expects inputs (B, {', '.join(map(str, self.in_shape))}), got {tuple(x.shape)}")
        energy = torch.zeros(x.shape[0], dtype=torch.float64, device=x.device)
        for i, module in enumerate(self.body):
            out = module(x)
            if i in self.penalized:
                bias = module.bias  # type: ignore[union-attr]
                t = out if bias is None else out - bias.view(1, -1, *([1] * (out.ndim - 2)))
                energy = energy + perpendicular_energy(x, module, t)  # type: ignore[arg-type]
            x = out
        return x.flatten().double() - self.weight * energy


def mlp_critic(data_dim: int = 2, *, hidden: int = 128, depth: int = 3, perpendicular: bool = False) -> Critic:
    """An MLP critic for 2-D data: ``depth`` hidden layers of ``hidden`` units, LeakyReLU(0.2), a scalar head."""
    body: list[nn.Module] = []
    d = data_dim
    for _ in range(depth):
        body += [nn.Linear(d, hidden), nn.LeakyReLU(0.2)]
        d = hidden
    body.append(nn.Linear(d, 1))
    penalized = [i for i, m in enumerate(body[:-1]) if isinstance(m, nn.Linear)] if perpendicular else []
    return Critic(body, penalized, in_shape=(data_dim,))


def dcgan_critic(*, channels: int = 1, image_size: int = 32, width: int = 32, perpendicular: bool = True) -> Critic:
    """The DCGAN discriminator as a density (paper section 2.3): strided 4x4 convolutions halving the side down
    to 4x4, LeakyReLU(0.2), no batch norm, a 4x4 head to one number, log N_theta. With ``perpendicular`` the
    input of every strided convolution pays its perpendicular energy (section 2.2); the head does not."""
    body: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2)]
    side, w = image_size // 2, width
    while side > 4:
        body += [nn.Conv2d(w, 2 * w, 4, 2, 1), nn.LeakyReLU(0.2)]
        side, w = side // 2, 2 * w
    if side != 4:
        raise ValueError(f"image_size must be 4 times a power of 2 (e.g. 32 or 64); got {image_size}")
    body.append(nn.Conv2d(w, 1, 4, 1, 0))
    penalized = [i for i, m in enumerate(body[:-1]) if isinstance(m, nn.Conv2d)] if perpendicular else []
    return Critic(body, penalized, in_shape=(channels, image_size, image_size))


def log_normalizer(log_n: Tensor, log_q: Tensor) -> Tensor:
    """log alpha-hat = log((1/K) sum_j N(y_j) / q(y_j)) from log N (K,) and the proposal's log q (K,); scalar."""
    return torch.logsumexp(log_n - log_q, 0) - math.log(log_n.shape[0])


def critic_loss(log_n_real: Tensor, log_n_fake: Tensor, log_q_fake: Tensor) -> Tensor:
    """Negative of paper Eq. 3 per data point: -mean log N(x) + log alpha-hat (q is a constant for the critic)."""
    return -log_n_real.mean() + log_normalizer(log_n_fake, log_q_fake.detach())


def generator_loss(log_n_fake: Tensor, log_pg_fake: Tensor, entropy_weight: float) -> Tensor:
    """Negative of paper Eq. 5 with the entropy weight k: k mean log P_G(y) - mean log N(y) (H ~ -mean log P_G)."""
    return entropy_weight * log_pg_fake.mean() - log_n_fake.mean()


def normal_replacement(y: Tensor, log_q: Tensor, prob: float, *,
                       rng: torch.Generator | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """Replace each sample of y (B, ...) by an N(0, I) draw with probability ``prob`` (appendix B.3).

    Returns (y', log q', replaced): a replaced sample's log q is its standard-normal log-density, so that
    N(y)/q(y) uses the density of the component that drew it (unbiased for alpha as both components have full
    support). ``replaced`` is a (B,) bool mask.
    """
    replaced = torch.rand(y.shape[0], generator=rng, device=y.device) < prob
    if not replaced.any():
        return y, log_q, replaced
    noise = torch.randn(y.shape, generator=rng, device=y.device, dtype=y.dtype)
    mask = replaced.view(-1, *([1] * (y.ndim - 1)))
    y = torch.where(mask, noise, y)
    log_q = torch.where(replaced, StandardNormal().log_prob(noise.double().flatten(1)), log_q)
    return y, log_q, replaced


@dataclass(frozen=True)
class LEDConfig:
    """LED training settings. ``normalizer_samples`` is K of Eq. 3 (K = 1: Eq. 4); the generator always draws
    ``max(batch_size, K)`` samples per step and its loss uses ``batch_size`` of them. ``entropy_weight`` is k
    (appendix B.4); ``replace_prob`` the share of proposal samples replaced by N(0, I) (appendix B.3). Adam with
    lr 1e-3 for both networks is appendix B.1. ``snapshots`` are the steps after which the networks' states are
    kept (for the normalizer's behaviour over training, appendix D). ``dequantize`` > 0 adds uniform noise of that
    width to every data batch (for 8-bit images in [-1, 1]: 2 / 256), so that the data have a bounded density."""

    steps: int = 2000
    batch_size: int = 64
    normalizer_samples: int = 64
    entropy_weight: float = 1.0
    replace_prob: float = 0.0
    critic_steps: int = 1
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    snapshots: tuple[int, ...] = ()
    dequantize: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        for name, low in (("steps", 1), ("batch_size", 1), ("normalizer_samples", 1), ("critic_steps", 1),
                          ("seed", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"LEDConfig.{name} must be an int >= {low}, got {value!r}")
        for name in ("entropy_weight", "replace_prob", "lr", "dequantize"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"LEDConfig.{name} must be a finite number, got {value!r}")
        if not 0 <= self.replace_prob <= 1:
            raise ValueError(f"LEDConfig.replace_prob is a probability: it must lie in [0, 1], got {self.replace_prob}")
        if self.dequantize < 0:
            raise ValueError(f"LEDConfig.dequantize is the width of the uniform noise: it must be >= 0 (0: none), "
                             f"got {self.dequantize}")
        if not self.lr > 0:
            raise ValueError(f"LEDConfig.lr must be positive, got {self.lr}")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"LEDConfig.betas must be two numbers in [0, 1), got {self.betas!r}")
        snapshots = tuple(self.snapshots)
        bad = [k for k in snapshots if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= self.steps]
        if bad:
            raise ValueError(f"LEDConfig.snapshots must be steps in 1..steps={self.steps}, got {bad}")
        object.__setattr__(self, "snapshots", snapshots)


class FittedLED(NamedTuple):
    """A trained pair, in evaluation mode. history: per-step float64 tensors ``critic_loss``, ``generator_loss``,
    ``log_alpha`` (the training estimate of log alpha) and ``log_pg`` (mean log P_G of the generator's batch).
    snapshots: {step: (generator state, critic state)}. from_cache: loaded rather than trained. seconds: training
    time (of the original run when loaded from the cache)."""

    generator: tracked.TrackedGenerator
    critic: Critic
    history: dict[str, Tensor]
    snapshots: dict[int, tuple[dict[str, Tensor], dict[str, Tensor]]]
    from_cache: bool
    seconds: float


def _training_setup(data: Tensor, generator: tracked.TrackedGenerator, critic: Critic, config: LEDConfig
                    ) -> tuple[torch.Generator, torch.optim.Adam, torch.optim.Adam]:
    """Check ``data`` against the generator, and return the seeded torch.Generator and one Adam per network
    (appendix B.1) that LED and its GAN baseline train with."""
    if data.ndim < 2 or tuple(data.shape[1:]) != tuple(generator.out_shape):
        raise ValueError(f"data of shape {tuple(data.shape)} does not match the generator's output "
                         f"(N, {', '.join(map(str, generator.out_shape))})")
    if not torch.isfinite(data).all():
        raise ValueError("data contains NaN or infinite values; clean them before training")
    rng = torch.Generator(device=data.device).manual_seed(config.seed)
    opt_g = torch.optim.Adam(generator.parameters(), lr=config.lr, betas=config.betas)
    opt_c = torch.optim.Adam(critic.parameters(), lr=config.lr, betas=config.betas)
    return rng, opt_g, opt_c


def _data_batch(data: Tensor, config: LEDConfig, rng: torch.Generator) -> Tensor:
    """A batch of ``config.batch_size`` rows of ``data`` drawn with replacement, dequantized if configured."""
    real = data[torch.randint(0, len(data), (config.batch_size,), generator=rng, device=data.device)]
    if config.dequantize:
        real = real + config.dequantize * (torch.rand(real.shape, generator=rng, device=data.device) - 0.5)
    return real


def train_led(data: Tensor, generator: tracked.TrackedGenerator, critic: Critic, config: LEDConfig, *,
              progress: bool = False) -> tuple[dict[str, Tensor], dict[int, tuple[dict, dict]]]:
    """Train ``generator`` and ``critic`` in place on ``data`` (N, *shape); returns (history, snapshots).

    Seeded by ``config.seed``: batches, latents, noise and replacements come from one torch.Generator.
    """
    rng, opt_g, opt_c = _training_setup(data, generator, critic, config)
    n_fake = max(config.batch_size, config.normalizer_samples)
    history: dict[str, list[float]] = {k: [] for k in ("critic_loss", "generator_loss", "log_alpha", "log_pg")}
    snapshots: dict[int, tuple[dict, dict]] = {}
    generator.train()
    critic.train()
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=config.steps, desc="LED", unit="step", file=sys.stderr)
    for step in range(1, config.steps + 1):
        for _ in range(config.critic_steps):
            real = _data_batch(data, config, rng)
            with torch.no_grad():
                s = generator.sample(n_fake, rng=rng)
            y, log_q, _ = normal_replacement(s.x[:config.normalizer_samples], s.log_density[:config.normalizer_samples],
                                             config.replace_prob, rng=rng)
            loss_c = critic_loss(critic(real), critic(y), log_q)
            opt_c.zero_grad(set_to_none=True)
            loss_c.backward()
            opt_c.step()
        s = generator.sample(n_fake, rng=rng)
        x, log_pg = s.x[:config.batch_size], s.log_density[:config.batch_size]
        for p in critic.parameters():
            p.requires_grad_(False)
        log_n = critic(x)
        loss_g = generator_loss(log_n, log_pg, config.entropy_weight)
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        for p in critic.parameters():
            p.requires_grad_(True)
        history["critic_loss"].append(float(loss_c.detach()))
        history["generator_loss"].append(float(loss_g.detach()))
        history["log_alpha"].append(float(log_normalizer(log_n.detach(), log_pg.detach())))
        history["log_pg"].append(float(log_pg.detach().mean()))
        if not math.isfinite(history["critic_loss"][-1] + history["generator_loss"][-1]):
            raise FloatingPointError(f"LED training diverged at step {step} (loss is not finite); lower lr or "
                                     f"raise entropy_weight")
        if step in config.snapshots:
            snapshots[step] = ({k: v.detach().clone() for k, v in generator.state_dict().items()},
                               {k: v.detach().clone() for k, v in critic.state_dict().items()})
        if bar is not None:
            bar.update(1)
            bar.set_postfix(critic=f"{history['critic_loss'][-1]:.3f}", generator=f"{history['generator_loss'][-1]:.3f}",
                            refresh=False)
    if bar is not None:
        bar.close()
    generator.eval()
    critic.eval()
    return {k: torch.tensor(v, dtype=torch.float64) for k, v in history.items()}, snapshots


def fit_generator_to_density(generator: tracked.TrackedGenerator, log_target: Callable[[Tensor], Tensor], *,
                             steps: int, batch_size: int, entropy_weight: float, lr: float = 1e-3,
                             seed: int = 0) -> Tensor:
    """Train ``generator`` alone on Eq. 5 against a fixed log-density ``log_target`` (B, ...) -> (B,) in place of
    a critic: k mean log P_G(y) - mean log_target(y), i.e. d_KL(P_G || target) for k = 1. Isolates the generator's
    objective from the adversarial game. Returns the (steps,) float64 loss history; the generator ends in eval mode.
    """
    rng = torch.Generator(device=next(generator.parameters()).device).manual_seed(seed)
    opt = torch.optim.Adam(generator.parameters(), lr=lr)
    generator.train()
    losses = []
    for _ in range(steps):
        s = generator.sample(batch_size, rng=rng)
        loss = generator_loss(log_target(s.x), s.log_density, entropy_weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    generator.eval()
    return torch.tensor(losses, dtype=torch.float64)


_BUILDERS = {"mlp": (tracked.mlp_generator, mlp_critic), "image": (tracked.image_generator, dcgan_critic)}


def build(kind: str, generator: dict[str, Any], critic: dict[str, Any],
          seed: int) -> tuple[tracked.TrackedGenerator, Critic]:
    """Fresh networks of ``kind`` ("mlp" or "image") from keyword settings, initialised with ``seed``."""
    if kind not in _BUILDERS:
        raise ValueError(f"unknown LED kind {kind!r}; choose one of {sorted(_BUILDERS)}")
    make_g, make_c = _BUILDERS[kind]
    # Initialise from ``seed`` without touching the caller's global random state.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return make_g(**generator), make_c(**critic)


def fit_led(data: Tensor, *, kind: str, generator: dict[str, Any], critic: dict[str, Any], config: LEDConfig,
            data_fingerprint: str, device: str | torch.device = "cpu", use_cache: bool = True) -> FittedLED:
    """Train (or load from the cache) an LED pair of ``kind`` on ``data`` (N, *shape).

    The cache key holds the settings, ``data_fingerprint`` and the code of this module and
    :mod:`gandensity.numerics.tracked`, so any change retrains.
    """
    device = torch.device(device)
    parts = {"kind": kind, "generator": generator, "critic": critic, "config": asdict(config),
             "data": data_fingerprint, "code": cache.code_version(tracked, sys.modules[__name__])}

    def run() -> dict[str, Any]:
        g, c = build(kind, generator, critic, config.seed)
        g, c = g.to(device), c.to(device)
        start = time.perf_counter()
        history, snaps = train_led(data.to(device), g, c, config, progress=progress_enabled())
        seconds = time.perf_counter() - start
        cpu = lambda sd: {k: v.cpu() for k, v in sd.items()}  # noqa: E731
        return {"generator": cpu(g.state_dict()), "critic": cpu(c.state_dict()), "history": history,
                "snapshots": {int(k): (cpu(a), cpu(b)) for k, (a, b) in snaps.items()}, "seconds": seconds}

    entry, hit, _ = cache.cached(f"led-{kind}", parts, run, enabled=use_cache)
    g, c = build(kind, generator, critic, config.seed)
    g.load_state_dict(entry["generator"])
    c.load_state_dict(entry["critic"])
    g, c = g.to(device).eval(), c.to(device).eval()
    return FittedLED(g, c, entry["history"], entry["snapshots"], hit, float(entry["seconds"]))


_LED_FIELDS = frozenset(LEDConfig.__dataclass_fields__)


def _replace(spec: Any, changes: dict[str, Any]) -> Any:
    """``spec`` with ``changes``: names of :class:`LEDConfig` fields go to ``spec.training``, the others to
    ``spec``; an unknown name is an error listing the valid ones."""
    own = set(spec.__dataclass_fields__) - {"training"}
    unknown = sorted(set(changes) - own - _LED_FIELDS)
    if unknown:
        raise ValueError(f"unknown setting(s) {unknown} of {type(spec).__name__}; valid: {sorted(own | _LED_FIELDS)}")
    training = replace(spec.training, **{k: v for k, v in changes.items() if k in _LED_FIELDS})
    return replace(spec, training=training, **{k: v for k, v in changes.items() if k in own})


@dataclass(frozen=True)
class MixtureLED:
    """LED on a 2-D mixture (paper 003, section 3.1): the 2-D tracked generator of appendix C.2 (``features``
    wide, ``blocks`` deep, noise scales ``copy_sigma``/``reduce_sigma``), an MLP critic of ``critic_hidden``
    units, ``train_points`` training points drawn with ``training.seed``, and the training settings."""

    features: int
    blocks: int
    copy_sigma: float
    reduce_sigma: float
    critic_hidden: int
    train_points: int
    training: LEDConfig

    def __post_init__(self) -> None:
        for name in ("features", "blocks", "critic_hidden", "train_points"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"MixtureLED.{name} must be an int >= 1, got {value!r}")
        if not isinstance(self.training, LEDConfig):
            raise TypeError(f"MixtureLED.training must be an LEDConfig, got {type(self.training).__name__}")

    def replace(self, **changes: Any) -> MixtureLED:
        """A copy with some settings changed (those of :class:`LEDConfig` included, e.g. ``seed=1``)."""
        return _replace(self, changes)

    def generator_settings(self) -> dict[str, Any]:
        return {"features": self.features, "blocks": self.blocks, "copy_sigma": self.copy_sigma,
                "reduce_sigma": self.reduce_sigma}


@dataclass(frozen=True)
class ImageLED:
    """LED on images (paper 003, sections 3.2-3.3): the DCGAN-like tracked generator of appendix C.1 (``latent_dim``,
    ``shuffles``, noise scales ``noise_sigma``/``reduce_sigma``), the DCGAN critic (``critic_width``, with the
    perpendicular term when ``perpendicular``), and the training settings."""

    latent_dim: int
    shuffles: int
    noise_sigma: float
    reduce_sigma: float
    critic_width: int
    perpendicular: bool
    training: LEDConfig

    def __post_init__(self) -> None:
        for name in ("latent_dim", "critic_width"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"ImageLED.{name} must be an int >= 1, got {value!r}")
        if not isinstance(self.perpendicular, bool):
            raise TypeError(f"ImageLED.perpendicular must be a bool, got {self.perpendicular!r}")
        if not isinstance(self.training, LEDConfig):
            raise TypeError(f"ImageLED.training must be an LEDConfig, got {type(self.training).__name__}")

    def replace(self, **changes: Any) -> ImageLED:
        """A copy with some settings changed (those of :class:`LEDConfig` included, e.g. ``normalizer_samples=1``)."""
        return _replace(self, changes)


def mixture_generator(spec: MixtureLED) -> tracked.TrackedGenerator:
    """A fresh 2-D generator as :func:`fit_mixture` builds it (same settings, same initialisation)."""
    return build("mlp", spec.generator_settings(), {"hidden": spec.critic_hidden}, spec.training.seed)[0]


def fit_mixture(target: mixtures.GaussianMixture2d, spec: MixtureLED) -> FittedLED:
    """LED on ``spec.train_points`` samples of a 2-D mixture (drawn with ``spec.training.seed``), trained or
    loaded from the cache."""
    if not isinstance(spec, MixtureLED):
        raise TypeError(f"spec must be a MixtureLED, got {type(spec).__name__}")
    seed = spec.training.seed
    data = target.sample(spec.train_points, torch.Generator().manual_seed(seed))
    fingerprint = f"{target.name}:{target.means.tolist()}:{target.std}:{spec.train_points}:{seed}"
    return fit_led(data, kind="mlp", generator=spec.generator_settings(), critic={"hidden": spec.critic_hidden},
                   config=spec.training, data_fingerprint=fingerprint)


def gan_critic_loss(d_real: Tensor, d_fake: Tensor) -> Tensor:
    """The standard GAN discriminator loss on logits d (B,): mean softplus(-d_real) + mean softplus(d_fake),
    i.e. -mean log sigmoid(d_real) - mean log(1 - sigmoid(d_fake)) (Goodfellow et al. 2014, Eq. 1)."""
    return F.softplus(-d_real).mean() + F.softplus(d_fake).mean()


def gan_generator_loss(d_fake: Tensor) -> Tensor:
    """The non-saturating generator loss on logits d (B,): mean softplus(-d_fake) = -mean log sigmoid(d_fake)."""
    return F.softplus(-d_fake).mean()


class FittedGAN(NamedTuple):
    """A generator and critic trained as a standard GAN, in evaluation mode. The critic's output is the logit
    of the discriminator (not a density); the generator's tracked density was not used in training.
    history: per-step float64 tensors ``critic_loss`` and ``generator_loss``. from_cache / seconds as in
    :class:`FittedLED`."""

    generator: tracked.TrackedGenerator
    critic: Critic
    history: dict[str, Tensor]
    from_cache: bool
    seconds: float


def train_gan_baseline(data: Tensor, generator: tracked.TrackedGenerator, critic: Critic,
                       config: LEDConfig) -> dict[str, Tensor]:
    """Train ``generator`` and ``critic`` in place on ``data`` (N, *shape) as a standard GAN with the
    non-saturating generator loss: the baseline of LED with the same networks (paper 003, Table 1's "GAN" row).

    Uses ``steps``, ``batch_size``, ``critic_steps``, ``lr``, ``betas``, ``dequantize`` and ``seed`` of
    ``config``, with one Adam per network as in :func:`train_led`; ``entropy_weight``, ``normalizer_samples``,
    ``replace_prob`` and ``snapshots`` have no role in a GAN and are ignored. Per step: ``critic_steps`` critic
    updates on a data batch and ``batch_size`` generator samples, then one generator update on ``batch_size``
    fresh samples; all randomness from one torch.Generator seeded by ``config.seed``. Returns the history.
    """
    rng, opt_g, opt_c = _training_setup(data, generator, critic, config)
    history: dict[str, list[float]] = {"critic_loss": [], "generator_loss": []}
    generator.train()
    critic.train()
    for step in range(1, config.steps + 1):
        for _ in range(config.critic_steps):
            real = _data_batch(data, config, rng)
            with torch.no_grad():
                fake = generator.sample(config.batch_size, rng=rng).x
            loss_c = gan_critic_loss(critic(real), critic(fake))
            opt_c.zero_grad(set_to_none=True)
            loss_c.backward()
            opt_c.step()
        x = generator.sample(config.batch_size, rng=rng).x  # the tracked density is not used
        for p in critic.parameters():
            p.requires_grad_(False)
        loss_g = gan_generator_loss(critic(x))
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        for p in critic.parameters():
            p.requires_grad_(True)
        history["critic_loss"].append(float(loss_c.detach()))
        history["generator_loss"].append(float(loss_g.detach()))
        if not math.isfinite(history["critic_loss"][-1] + history["generator_loss"][-1]):
            raise FloatingPointError(f"GAN training diverged at step {step} (loss is not finite); lower lr")
    generator.eval()
    critic.eval()
    return {k: torch.tensor(v, dtype=torch.float64) for k, v in history.items()}


def fit_mixture_gan(target: mixtures.GaussianMixture2d, spec: MixtureLED) -> FittedGAN:
    """The GAN baseline of :func:`fit_mixture`: the same generator and critic networks (same initialisation),
    the same data, steps, batch and Adam settings, trained by :func:`train_gan_baseline`; trained or loaded from the
    cache. The cache key holds only the settings a GAN uses, so specs that differ in LED-only settings (k, K,
    replacement, snapshots) share one entry."""
    if not isinstance(spec, MixtureLED):
        raise TypeError(f"spec must be a MixtureLED, got {type(spec).__name__}")
    cfg = spec.training
    data = target.sample(spec.train_points, torch.Generator().manual_seed(cfg.seed))
    fingerprint = f"{target.name}:{target.means.tolist()}:{target.std}:{spec.train_points}:{cfg.seed}"
    generator, critic = spec.generator_settings(), {"hidden": spec.critic_hidden}
    used = {k: getattr(cfg, k) for k in ("steps", "batch_size", "critic_steps", "lr", "betas", "dequantize", "seed")}
    parts = {"kind": "mlp", "generator": generator, "critic": critic, "config": used, "data": fingerprint,
             "code": cache.code_version(tracked, sys.modules[__name__])}

    def run() -> dict[str, Any]:
        g, c = build("mlp", generator, critic, cfg.seed)
        start = time.perf_counter()
        history = train_gan_baseline(data, g, c, cfg)
        return {"generator": g.state_dict(), "critic": c.state_dict(), "history": history,
                "seconds": time.perf_counter() - start}

    entry, hit, _ = cache.cached("gan-mlp", parts, run)
    g, c = build("mlp", generator, critic, cfg.seed)
    g.load_state_dict(entry["generator"])
    c.load_state_dict(entry["critic"])
    return FittedGAN(g.eval(), c.eval(), entry["history"], hit, float(entry["seconds"]))


def fit_images(images: Tensor, data_fingerprint: str, spec: ImageLED, *,
               device: str | torch.device = "cpu") -> FittedLED:
    """LED on images (N, C, S, S) with the DCGAN-like tracked generator and the DCGAN critic of ``spec``, trained
    or loaded from the cache."""
    if not isinstance(spec, ImageLED):
        raise TypeError(f"spec must be an ImageLED, got {type(spec).__name__}")
    if images.ndim != 4 or images.shape[2] != images.shape[3]:
        raise ValueError(f"images must be (N, C, S, S), got {tuple(images.shape)}")
    _, channels, size, _ = images.shape
    generator = {"latent_dim": spec.latent_dim, "channels": channels, "image_size": size, "shuffles": spec.shuffles,
                 "noise_sigma": spec.noise_sigma, "reduce_sigma": spec.reduce_sigma}
    critic = {"channels": channels, "image_size": size, "width": spec.critic_width,
              "perpendicular": spec.perpendicular}
    return fit_led(images, kind="image", generator=generator, critic=critic, config=spec.training,
                   data_fingerprint=data_fingerprint, device=device)


def snapshot_models(fit: FittedLED, step: int) -> tuple[tracked.TrackedGenerator, Critic]:
    """Copies of ``fit``'s networks with the weights they had after ``step`` training steps (evaluation mode)."""
    if step not in fit.snapshots:
        raise ValueError(f"no snapshot at step {step}; this run kept {sorted(fit.snapshots)} "
                         f"(LEDConfig.snapshots)")
    generator, critic = copy.deepcopy(fit.generator), copy.deepcopy(fit.critic)
    generator.load_state_dict(fit.snapshots[step][0])
    critic.load_state_dict(fit.snapshots[step][1])
    return generator.eval(), critic.eval()


@torch.no_grad()
def estimate_log_normalizer(critic: Critic, generator: tracked.TrackedGenerator, num_samples: int, *,
                            chunk: int = 1024, rng: torch.Generator | None = None) -> Tensor:
    """log alpha-hat from ``num_samples`` generator samples (evaluation mode, no replacement); float64 scalar.

    Computed in chunks of ``chunk`` samples with a running log-sum-exp, so its memory does not grow with
    ``num_samples``.
    """
    _check_count("num_samples", num_samples)
    _check_count("chunk", chunk)
    total = torch.tensor(-math.inf, dtype=torch.float64)
    for start in range(0, num_samples, chunk):
        s = generator.sample(min(chunk, num_samples - start), rng=rng)
        total = torch.logaddexp(total, torch.logsumexp((critic(s.x) - s.log_density).cpu(), 0))
    return total - math.log(num_samples)


def _check_count(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an int >= 1, got {value!r}")


def normalizer_estimates(critic: Critic, generator: tracked.TrackedGenerator, sample_counts: Sequence[int],
                         repeats: int, *, seed: int = 0, chunk: int = 65536) -> dict[int, Tensor]:
    """{n: (repeats,) float64 estimates of log alpha with n samples each}: the spread of paper Fig. 7.

    The n * repeats inputs of one n are drawn at once (as :meth:`TrackedGenerator.sample` draws them) and go
    through the networks in batches of at most ``chunk`` samples, so the networks' memory stays bounded and the
    result does not depend on ``chunk``."""
    _check_count("repeats", repeats)
    _check_count("chunk", chunk)
    for n in sample_counts:
        _check_count("each of sample_counts", n)
    rng = torch.Generator(device=next(generator.parameters(), torch.empty(0)).device).manual_seed(seed)
    out: dict[int, Tensor] = {}
    with torch.no_grad():
        for n in sample_counts:
            total, device = n * repeats, rng.device
            z = torch.randn(total, generator.latent_dim, generator=rng, device=device)
            noises = [torch.randn(total, *shape, generator=rng, device=device) for shape in generator.noise_shapes]
            parts = []
            for start in range(0, total, chunk):
                rows = slice(start, start + chunk)
                x, log_density = generator(z[rows], [e[rows] for e in noises])
                parts.append((critic(x) - log_density).cpu())
            w = torch.cat(parts).view(repeats, n)
            out[int(n)] = torch.logsumexp(w, 1) - math.log(n)
    return out


def bits_per_pixel(log_density: Tensor, dims: int) -> Tensor:
    """Continuous bits per pixel -log p(x) / (D ln 2) of a density in the data's own units (paper section 3.2);
    see :func:`gandensity.numerics.ais.bits_per_dim` for the discrete 8-bit convention. Same shape as ``log_density``."""
    return ais.bits_per_dim(log_density, dims, scale=1.0, levels=1)


def raise_critic_score(generator: tracked.TrackedGenerator, critic: Critic, z: Tensor, noises: list[Tensor], *,
                       steps: int, lr: float = 0.01) -> tuple[Tensor, Tensor]:
    """Gradient ascent on log N_theta(G(z, noise)) over z with the noise held fixed (appendix E.4).

    Returns (z_final (B, latent_dim), log N trace (steps + 1, B) float64)."""
    z = z.detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr)
    trace = []
    params = [*generator.parameters(), *critic.parameters()]
    flags = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        for _ in range(steps + 1):
            log_n = critic(generator(z, noises)[0])
            trace.append(log_n.detach().cpu())
            if len(trace) > steps:
                break
            opt.zero_grad(set_to_none=True)
            (-log_n.sum()).backward()
            opt.step()
    finally:
        for p, flag in zip(params, flags):
            p.requires_grad_(flag)
    return z.detach(), torch.stack(trace)


def dequantize(images: Tensor, level: float, *, rng: torch.Generator | None = None) -> Tensor:
    """Spread each value of 8-bit ``images`` uniformly over its quantization bin of width ``level``
    (2/256 in [-1, 1]): images + level (U - 1/2), U ~ U(0, 1) drawn from ``generator``. Same shape."""
    noise = torch.rand(images.shape, generator=rng, dtype=images.dtype)
    return images + level * (noise.to(images.device) - 0.5)


@torch.no_grad()
def critic_bits_per_dim(critic: Critic, images: Tensor, log_alpha: float, *, chunk: int = 500) -> Tensor:
    """Bits per dimension (8-bit convention, images in [-1, 1]) of (N, C, H, W) images under the critic's
    density N_theta / alpha: bits_per_dim(log N_theta(x) - log_alpha); (N,) float64 on the CPU."""
    dims = math.prod(images.shape[1:])
    return torch.cat([ais.bits_per_dim((critic(x) - log_alpha).cpu(), dims, scale=2.0)
                      for x in images.split(chunk)])


@torch.no_grad()
def critic_kernel_normalizer(critic: Critic, centers: Tensor, bandwidth: float, samples: int, *,
                             seed: int = 0) -> importance.LogNormalizer:
    """log alpha-hat of an image critic by importance sampling from a proposal whose density is exact: the Gaussian
    kernel mixture on ``centers`` (N, C, H, W) (e.g. dequantized training images) with standard deviation
    ``bandwidth`` (:func:`gandensity.numerics.importance.kernel_proposal_log_normalizer`), ``samples`` draws
    seeded by ``seed``. E[alpha-hat] = alpha, so log alpha-hat exceeds log alpha by t nats with probability at
    most e^-t (Markov): a lower bound on log alpha, up to a few nats, however small the effective sample size."""
    if not isinstance(centers, Tensor) or centers.ndim != 4:
        raise ValueError(f"centers must be (N, C, H, W) images, got {getattr(centers, 'shape', type(centers))}")
    shape = tuple(centers.shape[1:])
    device = next(critic.parameters()).device

    def log_n(y: Tensor) -> Tensor:
        return critic(y.float().reshape(-1, *shape).to(device))

    return importance.kernel_proposal_log_normalizer(log_n, centers.flatten(1).double().cpu(), bandwidth, samples,
                                                     rng=torch.Generator().manual_seed(seed), chunk=512)


class ImageScores(NamedTuple):
    """Table 2 for one model. log_alpha: log alpha-hat from generator samples. test: (N,) critic bits/dim of the
    test images. sample: generated samples (TrackedSample). sample_generator / sample_critic: (n,) bits/dim of
    the samples under the generator's tracked density and under the critic. All bits/dim in the 8-bit convention."""

    log_alpha: float
    test: Tensor
    sample: tracked.TrackedSample
    sample_generator: Tensor
    sample_critic: Tensor


@torch.no_grad()
def score_images(fit: FittedLED, test_images: Tensor, *, alpha_samples: int, samples: int = 500,
                 seed: int = 0) -> ImageScores:
    """Table 2 of paper 003 for one trained model: the normalizer from ``alpha_samples`` generator samples, the
    critic's bits/dim of ``test_images`` (dequantized, in [-1, 1]) and of ``samples`` generated images under both
    densities. Randomness from one generator seeded with ``seed`` (on the model's device)."""
    device = next(fit.generator.parameters()).device
    rng = torch.Generator(device=device).manual_seed(seed)
    log_alpha = estimate_log_normalizer(fit.critic, fit.generator, alpha_samples, chunk=512,
                                        rng=rng).item()
    test = critic_bits_per_dim(fit.critic, test_images.to(device), log_alpha)
    sample = fit.generator.sample(samples, rng=rng)
    dims = math.prod(sample.x.shape[1:])
    return ImageScores(log_alpha, test, sample, ais.bits_per_dim(sample.log_density.cpu(), dims, scale=2.0),
                       critic_bits_per_dim(fit.critic, sample.x, log_alpha))


@torch.no_grad()
def interpolate(generator: tracked.TrackedGenerator, start: Tensor, end: Tensor, noises: list[Tensor],
                steps: int) -> Tensor:
    """Images along straight latent paths (appendix E.3): row i goes from ``start[i]`` to ``end[i]`` (R, d) in
    ``steps`` points, with row i's noises (each (R, ...)) held fixed; (R * steps, C, H, W), row-major."""
    t = torch.linspace(0, 1, steps, device=start.device)
    z = ((1 - t)[None, :, None] * start[:, None] + t[None, :, None] * end[:, None]).reshape(-1, start.shape[1])
    return generator(z, [n.repeat_interleave(steps, 0) for n in noises])[0]


def rank_correlation(pairs: Any) -> float:
    """Spearman's rank correlation of the two columns of ``pairs`` (N, 2) (ties broken by order): a statistic
    for :func:`gandensity.book.claims.bootstrap`."""
    a = np.asarray(pairs, dtype=float)
    ranks = a.argsort(0).argsort(0).astype(float)
    return float(np.corrcoef(ranks[:, 0], ranks[:, 1])[0, 1])


class CriticCheck(NamedTuple):
    """The critic of a 2-D LED against the truth. log_alpha_quadrature: log of the integral of N_theta on a grid.
    log_alpha_importance: log alpha-hat from generator samples (Eq. 2). critic / true: (M,) log-densities of
    held-out data under N_theta / alpha (quadrature) and under the mixture. uniform: the log-density of a uniform
    density on the box. exact_proposal: log alpha-hat by importance sampling from a Gaussian (whose density is
    exact) with the held-out data's mean and twice its standard deviations
    (:func:`gandensity.numerics.importance.gaussian_proposal_log_normalizer`)."""

    log_alpha_quadrature: float
    log_alpha_importance: float
    critic: Tensor
    true: Tensor
    uniform: float
    exact_proposal: importance.LogNormalizer | None = None


@torch.no_grad()
def critic_density_check(fit: FittedLED, target: mixtures.GaussianMixture2d,
                         bounds: tuple[float, float, float, float], *, quadrature: int, held_out: int = 5000,
                         importance_samples: int = 4096, exact_samples: int = 200_000,
                         quadrature_bounds: tuple[float, float, float, float] | None = None,
                         seed: int = 0) -> CriticCheck:
    """Normalize a 2-D critic by quadrature on ``quadrature`` x ``quadrature`` cells of ``quadrature_bounds``
    (default ``bounds``; a critic with mass outside the box needs a wider one), score ``held_out`` fresh data
    points with it, estimate its normalizer with the generator as LED does (``importance_samples`` draws), and with
    ``exact_samples`` draws of a Gaussian proposal whose density is exact (the held-out data's mean, covariance
    scaled by 4). ``uniform`` is the uniform density on ``bounds``."""
    box = bounds if quadrature_bounds is None else quadrature_bounds
    _, _, log_n = mixtures.log_density_grid(fit.critic, box, quadrature)
    log_alpha = mixtures.grid_log_integral(log_n, box)
    x = target.sample(held_out, torch.Generator().manual_seed(seed))
    log_alpha_is = estimate_log_normalizer(fit.critic, fit.generator, importance_samples,
                                           rng=torch.Generator().manual_seed(seed + 1)).item()
    xd = x.double().cpu()
    scale_tril = torch.linalg.cholesky(4.0 * torch.cov(xd.T))
    exact = importance.gaussian_proposal_log_normalizer(fit.critic, xd.mean(0).to(x.dtype), scale_tril.to(x.dtype),
                                                        exact_samples, rng=torch.Generator().manual_seed(seed + 2))
    return CriticCheck(log_alpha, log_alpha_is, (fit.critic(x) - log_alpha).cpu(), target.log_prob(x).cpu(),
                       mixtures.uniform_log_density(bounds), exact)


class NormalizerSnapshot(NamedTuple):
    """Paper Fig. 7 at one snapshot: estimates {n: (repeats,) log alpha-hat from n samples} and the quadrature
    value log_alpha_quadrature of the same critic."""

    estimates: dict[int, Tensor]
    log_alpha_quadrature: float


def normalizer_study(fit: FittedLED, bounds: tuple[float, float, float, float], *, sample_counts: Sequence[int],
                     repeats: int, quadrature: int, seed: int = 0) -> dict[int, NormalizerSnapshot]:
    """{step: NormalizerSnapshot} for every snapshot of a 2-D ``fit`` (appendix D, Fig. 7, with the quadrature
    value of each snapshot's critic as the truth)."""
    out = {}
    for step in sorted(fit.snapshots):
        generator, critic = snapshot_models(fit, step)
        estimates = normalizer_estimates(critic, generator, sample_counts, repeats, seed=seed)
        _, _, log_n = mixtures.log_density_grid(critic, bounds, quadrature)
        out[step] = NormalizerSnapshot(estimates, mixtures.grid_log_integral(log_n, bounds))
    return out
