"""A normalizing flow as a likelihood-model baseline (paper 002, Table 1): seeded, cached maximum-likelihood training.

The flow is a masked autoregressive flow (MAF, Papamakarios et al. 2017) or a neural spline flow (NSF, Durkan et
al. 2019) from the maintained library ``zuko``, on flattened images. Training maximizes the log-density of
uniformly dequantized images (Theis et al. 2016): each value x is replaced by x + bin_width (U - 1/2), U ~ U(0, 1),
a fresh draw every epoch, so that the model's density over a bin integrates to the bin's probability and its
log-likelihood converts to discrete bits per dimension by :func:`gandensity.numerics.ais.bits_per_dim` with the
same ``scale`` as the GAN's (bin width = scale / 256). A share ``validation`` of the images is held out; the
weights of the epoch with the best held-out log-likelihood are kept (early stopping), so that the flow does not
overfit a small training set.

:func:`train_flow` is deterministic on the CPU for a given seed and thread count, and stores its result in the
content-addressed cache (:mod:`gandensity.workflows.cache`) under a key made of the configuration, the images'
fingerprint, zuko's version and this module's source.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import torch
import zuko
from torch import Tensor

from gandensity.workflows import cache

__all__ = ["FlowConfig", "FittedFlow", "build_flow", "train_flow", "flow_log_prob", "dequantize"]

_KINDS = ("maf", "nsf")


@dataclass(frozen=True)
class FlowConfig:
    """Architecture and optimisation of a flow baseline.

    Attributes:
        kind: ``"maf"`` (affine autoregressive transforms) or ``"nsf"`` (rational-quadratic spline transforms).
        transforms: number of autoregressive transforms (their orders alternate, as zuko does by default).
        hidden: hidden widths of each transform's masked MLP.
        epochs: passes over the training images.
        batch_size: images per Adam step.
        lr: Adam learning rate.
        validation: share of the images held out for early stopping, in [0, 1); 0 keeps the last epoch.
        bin_width: width of the uniform dequantization noise in the images' units (2/255 for 8-bit images
            mapped to k / 127.5 - 1); 0 trains on the images as they are.
        seed: seeds the initial weights, the split, the batches and the noise.
    """

    kind: str = "maf"
    transforms: int = 3
    hidden: tuple[int, ...] = (256,)
    epochs: int = 20
    batch_size: int = 128
    lr: float = 1e-3
    validation: float = 0.1
    bin_width: float = 2 / 255
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"kind must be one of {_KINDS}, got {self.kind!r}; pass kind='maf' or kind='nsf'")
        for name in ("transforms", "epochs", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}; pass {name} >= 1")
        hidden = self.hidden
        if isinstance(hidden, list):
            hidden = tuple(hidden)
            object.__setattr__(self, "hidden", hidden)
        if (not isinstance(hidden, tuple) or not hidden
                or any(isinstance(h, bool) or not isinstance(h, int) or h < 1 for h in hidden)):
            raise ValueError(f"hidden must be a non-empty tuple of positive ints, got {self.hidden!r}; "
                             "pass e.g. hidden=(256,)")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be an int >= 0, got {self.seed!r}")
        for name, low, high, closed in (("lr", 0.0, math.inf, False), ("validation", 0.0, 1.0, True),
                                        ("bin_width", 0.0, math.inf, True)):
            value = getattr(self, name)
            ok = (not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
                  and (value >= low if closed else value > low) and value < high)
            if not ok:
                bound = f"in [{low:g}, {high:g})" if name == "validation" else (
                    f">= {low:g}" if closed else f"> {low:g}")
                raise ValueError(f"{name} must be a finite number {bound}, got {value!r}")


class FittedFlow(NamedTuple):
    """A trained flow and its record.

    Attributes:
        flow: the zuko flow (eval mode); ``flow().log_prob(x)`` is log p(x) in nats for (B, D) inputs.
        config: the :class:`FlowConfig` it was trained with.
        dims: D, the number of values per image.
        history: {"train": per-epoch mean log p of the training batches, "validation": of the held-out images}
            in nats per image (validation empty when ``config.validation`` is 0).
        best_epoch: the epoch (1-based) whose weights were kept.
        from_cache: True when the weights came from the cache.
        seconds: training time when it was trained.
    """

    flow: zuko.flows.Flow
    config: FlowConfig
    dims: int
    history: dict[str, list[float]]
    best_epoch: int
    from_cache: bool
    seconds: float


def build_flow(dims: int, config: FlowConfig) -> zuko.flows.Flow:
    """An untrained zuko flow on (B, ``dims``) inputs with ``config``'s architecture, seeded by ``config.seed``
    (the global torch RNG is left as it was)."""
    if isinstance(dims, bool) or not isinstance(dims, int) or dims < 2:
        raise ValueError(f"dims must be an int >= 2 (an autoregressive flow needs two features), got {dims!r}")
    if not isinstance(config, FlowConfig):
        raise TypeError(f"config must be a FlowConfig, got {type(config).__name__}")
    maker = zuko.flows.MAF if config.kind == "maf" else zuko.flows.NSF
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        return maker(features=dims, transforms=config.transforms, hidden_features=config.hidden)


def dequantize(x: Tensor, bin_width: float, *, rng: torch.Generator | None = None) -> Tensor:
    """x + bin_width (U - 1/2), U ~ U(0, 1) elementwise from ``rng``: each value spread over its bin. Same shape."""
    if bin_width == 0:
        return x
    noise = torch.rand(x.shape, generator=rng, dtype=x.dtype)
    return x + bin_width * (noise.to(x.device) - 0.5)


def _flat(images: Tensor, what: str = "images") -> Tensor:
    if not isinstance(images, Tensor):
        raise TypeError(f"{what} must be a torch.Tensor of shape (N, ...), got {type(images).__name__}")
    if images.ndim < 2 or images.shape[0] < 1:
        raise ValueError(f"{what} must have shape (N, ...) with N >= 1, got {tuple(images.shape)}")
    x = images.detach().reshape(images.shape[0], -1).float().cpu()
    if not torch.isfinite(x).all():
        raise ValueError(f"{what} contain NaN or inf; pass finite images")
    return x


@torch.no_grad()
def _mean_log_prob(flow: zuko.flows.Flow, x: Tensor, chunk: int = 1024) -> float:
    return float(torch.cat([flow().log_prob(b).double().cpu() for b in x.split(chunk)]).mean())


def _fit(x: Tensor, config: FlowConfig, device: torch.device) -> dict[str, Any]:
    rng = torch.Generator().manual_seed(config.seed)
    order = torch.randperm(len(x), generator=rng)
    held = int(round(config.validation * len(x)))
    if held >= len(x):
        raise ValueError(f"validation={config.validation} holds out all {len(x)} images; pass a smaller share")
    val, fit = x[order[:held]], x[order[held:]]
    # The held-out images get one fixed noise draw, so that epochs are compared on the same inputs.
    val = dequantize(val, config.bin_width, rng=rng).to(device)
    fit = fit.to(device)
    flow = build_flow(x.shape[1], config).to(device)
    opt = torch.optim.Adam(flow.parameters(), lr=config.lr)
    history: dict[str, list[float]] = {"train": [], "validation": []}
    best, best_state, best_epoch = -math.inf, None, config.epochs
    start = time.perf_counter()
    for epoch in range(1, config.epochs + 1):
        flow.train()
        total = 0.0
        for idx in torch.randperm(len(fit), generator=rng).to(device).split(config.batch_size):
            batch = dequantize(fit[idx], config.bin_width, rng=rng)
            loss = -flow().log_prob(batch).mean()
            if not torch.isfinite(loss):
                raise FloatingPointError(f"the flow's loss became {loss.item()} in epoch {epoch}; pass a smaller "
                                         f"lr (now {config.lr})")
            opt.zero_grad()
            loss.backward()
            # Clipping keeps the first steps of an affine flow on near-constant pixels from diverging.
            torch.nn.utils.clip_grad_norm_(flow.parameters(), 100.0)
            opt.step()
            total += -loss.item() * len(idx)
        history["train"].append(total / len(fit))
        if held:
            flow.eval()
            score = _mean_log_prob(flow, val)
            if not math.isfinite(score):
                raise FloatingPointError(f"the held-out log-likelihood became {score} in epoch {epoch}; pass a "
                                         f"smaller lr (now {config.lr})")
            history["validation"].append(score)
            if score > best:
                best, best_epoch = score, epoch
                best_state = {k: v.detach().cpu().clone() for k, v in flow.state_dict().items()}
    if best_state is None:
        best_state = {k: v.detach().cpu().clone() for k, v in flow.state_dict().items()}
    return {"state": best_state, "history": history, "best_epoch": best_epoch,
            "seconds": time.perf_counter() - start}


def train_flow(images: Tensor, config: FlowConfig, *, device: str | torch.device = "cpu", use_cache: bool = True,
               verbose: bool = True) -> FittedFlow:
    """Train (or load from the cache) a flow on ``images`` (N, ...), flattened to (N, D), by maximum likelihood
    on dequantized values (see the module notes), on ``device`` (the batches, noise and split are drawn on the
    CPU, so a run's draws do not depend on the device). Returns the flow in eval mode on ``device``."""
    if not isinstance(config, FlowConfig):
        raise TypeError(f"config must be a FlowConfig, got {type(config).__name__}; build one with FlowConfig(...)")
    x = _flat(images)
    if x.shape[1] < 2:
        raise ValueError(f"images must have at least 2 values each, got {x.shape[1]}")
    device = torch.device(device)
    parts = {"config": asdict(config), "data": cache.tensor_fingerprint(x), "zuko": zuko.__version__,
             "device": device.type, "code": cache.code_version(sys.modules[__name__])}
    entry, hit, _ = cache.cached(f"flow-{config.kind}", parts, lambda: _fit(x, config, device), enabled=use_cache)
    flow = build_flow(x.shape[1], config)
    flow.load_state_dict(entry["state"])
    flow = flow.to(device).eval()
    fitted = FittedFlow(flow, config, x.shape[1], entry["history"], int(entry["best_epoch"]), hit,
                        float(entry["seconds"]))
    if verbose:
        how = "from the cache" if fitted.from_cache else f"trained in {fitted.seconds:.0f} s"
        print(f"{config.kind.upper()} flow ({config.transforms} transforms, hidden {list(config.hidden)}) on "
              f"{len(x)} images of {x.shape[1]} values, {how}; kept epoch {fitted.best_epoch} of {config.epochs}")
    return fitted


@torch.no_grad()
def flow_log_prob(flow: zuko.flows.Flow | FittedFlow, images: Tensor, *, chunk: int = 512, bin_width: float = 0.0,
                  rng: torch.Generator | None = None) -> Tensor:
    """log p(x) in nats, (N,) float64, of images (N, ...) under ``flow``, in batches of ``chunk`` images.

    With ``bin_width`` > 0 each image is first dequantized (one uniform draw per value from ``rng``): the mean
    of the result is then an unbiased estimate of E_u log p(x + u), a lower bound on the log-probability of
    the discrete image minus D log(bin_width) (Jensen), the estimate a dequantized flow is evaluated by.
    """
    model = flow.flow if isinstance(flow, FittedFlow) else flow
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"chunk must be a positive int, got {chunk!r}; pass chunk >= 1")
    if (isinstance(bin_width, bool) or not isinstance(bin_width, (int, float))
            or not (math.isfinite(bin_width) and bin_width >= 0)):
        raise ValueError(f"bin_width must be a number >= 0, got {bin_width!r}")
    x = _flat(images)
    device = next(model.parameters()).device
    out = [model().log_prob(dequantize(b, bin_width, rng=rng).to(device)).double().cpu() for b in x.split(chunk)]
    return torch.cat(out)
