"""Sharded, resumable jobs: exact log-densities of generated samples and AIS log-likelihoods of images, from one
process on a laptop to ``torchrun`` on many GPUs and nodes, with one code path.

A job is a list of items (latent samples for :func:`run_density`, images for :func:`run_likelihood`) cut into
shards of a fixed ``shard_size``: shard s holds items s * shard_size ... (s + 1) * shard_size - 1. Of the shards
not finished yet, rank r of K takes the r-th, (r + K)-th, ...; each finished shard is one Parquet file
``<out>/shard-<s>.parquet`` with one row per item, so ``pandas.read_parquet(out)`` (or :func:`read_table`) reads
the whole result as one table. The job's description lives in ``<out>/_manifest.json``: pyarrow's directory reader
skips names that start with ``_`` or ``.`` (it would fail on a ``manifest.json``), so the manifest, the temporary
files (``.shard-*.tmp``) and the folder of damaged shards (``_corrupt/``) stay out of the table.

Results do not depend on the number of workers:

- a density item's latent is drawn from its own ``torch.Generator`` seeded by a hash of (seed, item index)
  (:func:`item_seed`, :func:`item_latents`), on the CPU, so the latents are the same for any world size, shard size
  or device; the Jacobians are then computed in batches;
- an AIS shard is one call of :func:`gandensity.numerics.ais.ais_log_likelihood` (and of
  :func:`~gandensity.numerics.ais.bdmc_upper_bound`) on the shard's images, seeded by a hash of (seed, shard
  index). Those functions take one seed for a whole batch (the chains' starting points, momenta and
  accept/reject draws of all images come from one stream), so a shard's numbers depend on which images share it:
  **the shard size is part of a likelihood result's identity.** It is recorded in the manifest, and resuming with
  another shard size is refused.

Nothing is lost: a shard is written to a temporary file and renamed into place (``os.replace``), so a killed
worker leaves finished shards and no half-written one. Rerunning the same job skips finished shards and says how
many; a shard that does not read back with exactly its rows (truncated, damaged, rows of other items) is moved to
``<out>/_corrupt/`` and computed again. The manifest holds the job's *identity* (the job settings, the model's
and the inputs' fingerprints, the prior, the device type and dtype, and the version of the code that computes the
numbers): rerunning into a directory that holds another job's results is an error (:class:`JobConfigError`) that
says to use another ``out``. It also records each run: world size, hosts, devices and timings.

Distributed runs read ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` (set by ``torchrun``) in :func:`init_world`, which
joins the process group (NCCL for GPUs, gloo on CPUs) only when ``WORLD_SIZE > 1``. ``out`` must be a directory
that every rank sees (a shared filesystem on several nodes); each rank checks that it sees the manifest rank 0
wrote. Rank 0 shows progress, counting the shard files in ``out`` (so it counts every rank's work): a ``tqdm`` bar
when interactive (or ``GANDENSITY_PROGRESS=1``), one line every ``GANDENSITY_PROGRESS_INTERVAL`` seconds (60)
otherwise, nothing with ``GANDENSITY_PROGRESS=0``.

Test hook: ``GANDENSITY_JOBS_FAIL_AFTER=k`` makes a process exit (status 75, without cleanup, as a killed worker)
right after it has written k shards.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import math
import os
import socket
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, NamedTuple, Sequence

import numpy as np
import torch
from torch import nn

from gandensity.numerics import ais, annealing, density, hmc, priors
from gandensity.numerics.priors import Prior, StandardNormal, UniformBox
from gandensity.workflows import cache, models

__all__ = ["World", "init_world", "resolve_device", "DensityJob", "LikelihoodJob", "ImageSource", "JobReport",
           "JobConfigError", "run_density", "run_likelihood", "read_table", "read_manifest", "item_seed",
           "item_latents", "prior_from_name", "code_version", "package_code_version", "MANIFEST", "DATA_SCALE"]

MANIFEST = "_manifest.json"
CORRUPT_DIR = "_corrupt"
FORMAT = "gandensity-job"
FORMAT_VERSION = 1
FAIL_AFTER_ENV = "GANDENSITY_JOBS_FAIL_AFTER"
FAIL_EXIT = 75
TIMEOUT_ENV = "GANDENSITY_JOBS_TIMEOUT_MIN"
INTERVAL_ENV = "GANDENSITY_PROGRESS_INTERVAL"
# workflows.data maps an 8-bit value k to k / 127.5 - 1: levels 2/255 apart, so the 256 bins of bits/dim span
# 2 * 256 / 255 model units (see gandensity.numerics.ais.bits_per_dim).
DATA_SCALE = 2 * 256 / 255
_PACKAGE = Path(__file__).resolve().parents[1]


class JobConfigError(ValueError):
    """``out`` holds another job's results (or something else): the fix is another ``out``."""


# ----------------------------------------------------------------------------------------------------------------
# Versions and per-item randomness


def code_version() -> str:
    """sha256 (16 hex digits) of the code that computes a job's numbers (the density, AIS, HMC, annealing, prior,
    model and job modules) and torch's version: part of a job's identity."""
    return cache.code_version(density, ais, hmc, annealing, priors, models, sys.modules[__name__])


def package_code_version() -> str:
    """sha256 (12 hex digits) of every source file of the package and torch's version: the same hash as
    ``gandensity.book.chapter.package_version`` (which chapters print); computed here because the workflows layer
    does not import the book. Recorded in the manifest (informational: :func:`code_version` is the identity)."""
    h = hashlib.sha256(torch.__version__.encode())
    for path in sorted(_PACKAGE.rglob("*.py")):
        h.update(str(path.relative_to(_PACKAGE)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:12]


def item_seed(seed: int, stream: str, index: int) -> int:
    """A 63-bit seed from a hash of (``seed``, ``stream``, ``index``): independent streams per item (or shard),
    the same whichever process computes it."""
    digest = hashlib.sha256(f"gandensity.jobs/{stream}/{int(seed)}/{int(index)}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def item_latents(seed: int, stream: str, indices: Sequence[int], dim: int, prior: Prior,
                 dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Latents of the given items, each drawn from ``prior`` by its own CPU generator (:func:`item_seed`).

    Only the draws are per row (a loop of ``prior.sample(1, dim)`` into a preallocated tensor); what is computed
    from the latents is batched. Row i depends on (seed, stream, indices[i]) alone.

    Returns:
        (len(indices), dim) tensor of ``dtype`` on the CPU.
    """
    out = torch.empty(len(indices), dim, dtype=dtype)
    rng = torch.Generator()
    for row, index in enumerate(indices):
        rng.manual_seed(item_seed(seed, stream, index))
        out[row] = prior.sample(1, dim, rng=rng)[0].to(dtype)
    return out


def _item_normal(seed: int, stream: str, indices: Sequence[int], shape: tuple[int, ...],
                 dtype: torch.dtype) -> torch.Tensor:
    """(len(indices), *shape) standard normal draws on the CPU, row i from the generator of item indices[i]."""
    out = torch.empty(len(indices), *shape, dtype=dtype)
    rng = torch.Generator()
    for row, index in enumerate(indices):
        rng.manual_seed(item_seed(seed, stream, index))
        out[row] = torch.randn(shape, generator=rng).to(dtype)
    return out


def prior_from_name(name: str) -> Prior:
    """``"normal"`` -> N(0, I), ``"uniform"`` -> uniform on [-1, 1]^n (as ``TrainConfig.latent_prior``)."""
    if name == "normal":
        return StandardNormal()
    if name == "uniform":
        return UniformBox(-1.0, 1.0)
    raise ValueError(f"unknown prior {name!r}; choose one of {models.PRIORS}")


# ----------------------------------------------------------------------------------------------------------------
# Processes


def resolve_device(device: str | torch.device, local_rank: int = 0) -> torch.device:
    """``"auto"`` (CUDA if available, else CPU), ``"cpu"``, ``"cuda"`` (GPU ``local_rank``: one per process under
    torchrun), ``"cuda:N"`` or ``"mps"``; an absent accelerator is a ``ValueError`` saying what to pass."""
    name = str(device)
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(name)
    except (RuntimeError, ValueError) as err:
        raise ValueError(f"unknown device {name!r}; pass auto, cpu, cuda, cuda:N or mps") from err
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {name!r} was requested but torch sees no CUDA GPU here; pass cpu (or auto)")
        count = torch.cuda.device_count()
        if dev.index is None:
            if local_rank >= count:
                raise ValueError(f"process with LOCAL_RANK {local_rank} needs GPU {local_rank} but {count} are "
                                 "visible; start at most one process per GPU (torchrun --nproc_per_node=gpu)")
            dev = torch.device("cuda", local_rank)
        elif dev.index >= count:
            raise ValueError(f"device {name!r}: only {count} GPU(s) visible (cuda:0 ... cuda:{count - 1})")
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError("device 'mps' was requested but is not available here; pass cpu (or auto)")
    elif dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"unsupported device {name!r}; pass auto, cpu, cuda, cuda:N or mps")
    return dev


def _env_int(name: str, default: int | None) -> int | None:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"environment variable {name}={value!r} is not an integer (torchrun sets it)") from None


@dataclass(frozen=True)
class World:
    """This process's place among the job's processes, and its device.

    Attributes:
        rank: 0 ... world_size - 1 (``RANK``).
        world_size: number of processes (``WORLD_SIZE``).
        local_rank: index on this node (``LOCAL_RANK``); picks the GPU.
        device: where this process computes.
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def distributed(self) -> bool:
        import torch.distributed as dist
        return self.world_size > 1 and dist.is_available() and dist.is_initialized()

    def _device_ids(self) -> list[int] | None:
        return [self.device.index] if self.device.type == "cuda" and self.device.index is not None else None

    def barrier(self) -> None:
        if self.distributed:
            import torch.distributed as dist
            ids = self._device_ids()
            if ids:
                dist.barrier(device_ids=ids)
            else:
                dist.barrier()

    def all_gather(self, obj: Any) -> list[Any]:
        """Every rank's ``obj`` (picklable), in rank order."""
        if not self.distributed:
            return [obj]
        import torch.distributed as dist
        out: list[Any] = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank."""
        if not self.distributed:
            return obj
        import torch.distributed as dist
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]


def init_world(device: str | torch.device = "auto") -> World:
    """This process's :class:`World` from torchrun's environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``; one
    process without them), joining the process group when ``WORLD_SIZE > 1``: NCCL on GPUs, gloo otherwise.
    The collective timeout is ``GANDENSITY_JOBS_TIMEOUT_MIN`` minutes (60): ranks wait at most that long for each
    other (at the end of a run, for the slowest shard)."""
    world_size = _env_int("WORLD_SIZE", 1)
    rank, local_rank = _env_int("RANK", 0), _env_int("LOCAL_RANK", 0)
    if world_size < 1 or not 0 <= rank < world_size or local_rank < 0:
        raise ValueError(f"inconsistent torchrun environment: RANK={rank}, WORLD_SIZE={world_size}, "
                         f"LOCAL_RANK={local_rank}")
    dev = resolve_device(device, local_rank)
    if dev.type == "cuda" and str(device) not in ("auto", "cuda") and (_env_int("LOCAL_WORLD_SIZE", 1) or 1) > 1:
        raise ValueError(f"device {str(device)!r} would put every process of this node on one GPU; pass cuda (or "
                         "auto): each process then takes the GPU of its LOCAL_RANK")
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if world_size > 1:
        import torch.distributed as dist
        if not dist.is_initialized():
            if dev.type == "mps":
                raise ValueError("several processes on MPS are not supported; run one process (no torchrun)")
            minutes = _env_int(TIMEOUT_ENV, 60)
            dist.init_process_group("nccl" if dev.type == "cuda" else "gloo",
                                    timeout=datetime.timedelta(minutes=minutes))
        rank, world_size = dist.get_rank(), dist.get_world_size()
    return World(rank, world_size, local_rank, dev)


def _current_world(device: torch.device) -> World:
    """The world of an already joined process group (a caller that ran :func:`init_world`), else one process."""
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size(), _env_int("LOCAL_RANK", 0) or 0, device)
    return World(0, 1, 0, device)


# ----------------------------------------------------------------------------------------------------------------
# Job settings and inputs


def _check_int(owner: str, name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{owner}.{name} must be an int >= {low}, got {value!r}")


@dataclass(frozen=True)
class DensityJob:
    """Exact log-densities (paper 000, Eq. 3) of ``samples`` latents drawn from the prior.

    Attributes:
        samples: number of items (latents); item i's latent depends on (seed, i) only.
        seed: the seed of every item's latent.
        shard_size: items per shard file (the unit of work and of resumption).
        batch: latents per vectorised Jacobian call (``chunk_size`` of
            :func:`~gandensity.numerics.density.generator_log_density`); None: 8 on a CPU, 64 on a GPU.
        logdet: ``"qr"``, ``"cholesky"`` or ``"svd"``.
    """

    samples: int
    seed: int = 0
    shard_size: int = 64
    batch: int | None = None
    logdet: str = "qr"

    def __post_init__(self) -> None:
        _check_int("DensityJob", "samples", self.samples, 1)
        _check_int("DensityJob", "seed", self.seed, 0)
        _check_int("DensityJob", "shard_size", self.shard_size, 1)
        if self.batch is not None:
            _check_int("DensityJob", "batch", self.batch, 1)
        if self.logdet not in density.LOGDET_METHODS:
            raise ValueError(f"DensityJob.logdet must be one of {density.LOGDET_METHODS}, got {self.logdet!r}")


@dataclass(frozen=True)
class LikelihoodJob:
    """AIS log-likelihoods (paper 002, section 4.1) of images under x = G(z) + N(0, sigma2 I).

    Attributes:
        sigma2: observation noise variance.
        steps, chains, leapfrog: AIS settings (paper: 500, 4, 10).
        seed: seeds shard s's AIS with :func:`item_seed` (seed, "ais", s) (and reverse AIS with "bdmc").
        shard_size: images per shard: one AIS call each. Part of the result's identity (see the module notes).
        scale, levels: the bits/dim convention of :func:`gandensity.numerics.ais.bits_per_dim`; default
            :data:`DATA_SCALE` (8-bit images mapped to k / 127.5 - 1, as ``workflows.data`` does) and 256 levels.
    """

    sigma2: float
    steps: int = 500
    chains: int = 4
    leapfrog: int = 10
    seed: int = 0
    shard_size: int = 8
    scale: float = DATA_SCALE
    levels: int = 256

    def __post_init__(self) -> None:
        for name, value in (("sigma2", self.sigma2), ("scale", self.scale)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value)
                                                                                        and value > 0):
                raise ValueError(f"LikelihoodJob.{name} must be a finite number > 0, got {value!r}")
        for name in ("steps", "chains", "leapfrog", "shard_size", "levels"):
            _check_int("LikelihoodJob", name, getattr(self, name), 1)
        _check_int("LikelihoodJob", "seed", self.seed, 0)


@dataclass(frozen=True, eq=False)
class ImageSource:
    """The images of a likelihood job: a tensor (with the latents that generated them, if known), or images
    simulated from the model itself.

    Attributes:
        name: a description (a file name, a data set and split, ``simulated``); recorded in the manifest.
        images: (N, C, H, W) floating-point images on the model's scale, or None when simulated.
        latents: (N, n) the latents that generated the images (x = G(z) + N(0, sigma2 I)), or None. With them,
            reverse AIS gives BDMC's upper bound (the ``upper_bound`` column); without, that column is NaN.
        simulate: N > 0 to simulate N images: item i is x_i = G(z_i) + sqrt(sigma2) e_i with z_i and e_i drawn
            from item i's own generators (:func:`item_seed` with the job's seed), so its latent is known.
    """

    name: str
    images: torch.Tensor | None = None
    latents: torch.Tensor | None = None
    simulate: int = 0

    def __post_init__(self) -> None:
        if (self.images is None) == (self.simulate == 0):
            raise ValueError("ImageSource needs either images (a (N, C, H, W) tensor) or simulate=N > 0, not both")
        if self.simulate:
            _check_int("ImageSource", "simulate", self.simulate, 1)
            if self.latents is not None:
                raise ValueError("ImageSource: simulated images bring their own latents; do not pass latents")
            return
        x = self.images
        if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[0] < 1 or not x.is_floating_point():
            raise ValueError(f"ImageSource.images must be a floating-point (N, C, H, W) tensor with N >= 1, got "
                             f"{type(x).__name__} {tuple(getattr(x, 'shape', ()))} {getattr(x, 'dtype', '')}")
        if not torch.isfinite(x).all():
            bad = (~torch.isfinite(x.reshape(len(x), -1))).any(1).nonzero().flatten().tolist()
            raise ValueError(f"ImageSource.images contains NaN or inf in images {bad[:10]}")
        z = self.latents
        if z is not None and (not isinstance(z, torch.Tensor) or z.ndim != 2 or z.shape[0] != x.shape[0]
                              or not z.is_floating_point() or not torch.isfinite(z).all()):
            raise ValueError(f"ImageSource.latents must be a finite floating-point (N, n) tensor with N = "
                             f"{x.shape[0]} rows (one per image), got {tuple(getattr(z, 'shape', ()))}")

    @classmethod
    def simulated(cls, count: int) -> "ImageSource":
        return cls("simulated", simulate=count)

    @property
    def count(self) -> int:
        return self.simulate or int(self.images.shape[0])

    @property
    def has_latents(self) -> bool:
        return bool(self.simulate) or self.latents is not None

    def fingerprint(self) -> dict[str, Any]:
        if self.simulate:
            return {"simulate": self.simulate}
        fp = {"images": cache.tensor_fingerprint(self.images)}
        if self.latents is not None:
            fp["latents"] = cache.tensor_fingerprint(self.latents)
        return fp


class JobReport(NamedTuple):
    """What a run did (the same on every rank).

    Attributes:
        kind: ``"density"`` or ``"likelihood"``.
        out: the result directory.
        items, shards: of the whole job.
        skipped: shards finished by earlier runs (not recomputed).
        corrupt: shards found damaged, moved to ``_corrupt/`` and recomputed.
        computed: shards computed by this run (all ranks).
        seconds: wall-clock time of this run.
        world_size: processes of this run.
        complete: every shard is in ``out``.
    """

    kind: str
    out: Path
    items: int
    shards: int
    skipped: int
    corrupt: int
    computed: int
    seconds: float
    world_size: int
    complete: bool

    def summary(self) -> str:
        per = f", {self.seconds / max(1, self.computed):.2f} s per shard" if self.computed else ""
        return (f"gandensity {self.kind}: {self.shards} shard(s), {self.items} item(s) in {self.out}: skipped "
                f"{self.skipped} finished shard(s), recomputed {self.corrupt} corrupt, computed {self.computed} with "
                f"{self.world_size} process(es) in {self.seconds:.1f} s{per}; "
                + ("complete" if self.complete else "INCOMPLETE: rerun the same command to finish"))


# ----------------------------------------------------------------------------------------------------------------
# Files


def _shard_path(out: Path, shard: int) -> Path:
    return out / f"shard-{shard:06d}.parquet"


def _atomic_write(path: Path, write: Callable[[Any], None]) -> None:
    """Write ``path`` atomically (:func:`gandensity.workflows.cache.atomic_write`), as a hidden file while it is
    written, so that a listing of the result directory never shows a half-written shard."""
    cache.atomic_write(path, write, hidden=True)


def _write_json(path: Path, obj: Any) -> None:
    _atomic_write(path, lambda f: f.write((json.dumps(obj, indent=1, sort_keys=True) + "\n").encode()))


def _write_shard(path: Path, columns: Mapping[str, Any], schema: Any) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq
    table = pa.Table.from_pydict(dict(columns), schema=schema)
    _atomic_write(path, lambda f: pq.write_table(table, f))


def _check_shard(path: Path, indices: range, schema: Any) -> str | None:
    """None if ``path`` reads back with exactly ``schema`` and the rows of ``indices``, else what is wrong."""
    import pyarrow.parquet as pq
    try:
        table = pq.read_table(path)
    except Exception as err:  # noqa: BLE001 - any failure to read means the shard must be recomputed
        return f"unreadable ({type(err).__name__}: {str(err).splitlines()[0][:200]})"
    if not table.schema.equals(schema, check_metadata=False):
        return f"columns {table.schema.names} ({table.schema.types}) instead of {schema.names} ({schema.types})"
    index = table.column("index").to_numpy()
    if not np.array_equal(index, np.arange(indices.start, indices.stop)):
        return (f"rows for items {index[:5].tolist()}{'...' if len(index) > 5 else ''} ({len(index)} rows) instead "
                f"of items {indices.start} ... {indices.stop - 1}")
    return None


def _move_aside(out: Path, path: Path) -> Path:
    folder = out / CORRUPT_DIR
    folder.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = folder / f"{path.name}.{stamp}"
    i = 1
    while target.exists():
        target = folder / f"{path.name}.{stamp}-{i}"
        i += 1
    os.replace(path, target)
    return target


def read_manifest(out: str | os.PathLike) -> dict[str, Any]:
    """The manifest of a result directory (``<out>/_manifest.json``)."""
    path = Path(out) / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{out} has no {MANIFEST}: not a gandensity job directory") from None
    except (OSError, ValueError) as err:
        raise JobConfigError(f"{path} cannot be read as a job manifest ({err}); use another output directory") \
            from err
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise JobConfigError(f"{path} is not a gandensity job manifest; use another output directory")
    return manifest


def read_table(out: str | os.PathLike, *, allow_partial: bool = False) -> Any:
    """The result of a job as one ``pandas.DataFrame``, one row per item, sorted by ``index``.

    Raises ``ValueError`` when shards are missing (an unfinished job: rerun the same command), unless
    ``allow_partial``.
    """
    import pandas as pd
    manifest = read_manifest(out)
    if not any(Path(out).glob("shard-*.parquet")):
        table = pd.DataFrame(columns=manifest["columns"])
    else:
        table = pd.read_parquet(out).sort_values("index").reset_index(drop=True)
    if len(table) != manifest["items"] and not allow_partial:
        raise ValueError(f"{out} holds {len(table)} of the job's {manifest['items']} rows: it is unfinished; rerun "
                         "the same command to complete it (finished shards are skipped), or pass allow_partial=True")
    return table


def _flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, Mapping):
            flat.update(_flatten(v, f"{prefix}{k}."))
        else:
            flat[f"{prefix}{k}"] = v
    return flat


def _differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    a, b = _flatten(old), _flatten(new)
    return [f"{k}: {a.get(k, '(absent)')!r} there, {b.get(k, '(absent)')!r} now" for k in sorted(set(a) | set(b))
            if a.get(k) != b.get(k)]


def _normalized(obj: Any) -> Any:
    return json.loads(json.dumps(obj, sort_keys=True))


# ----------------------------------------------------------------------------------------------------------------
# Progress (rank 0)


def _progress_mode(progress: bool | None) -> str:
    flag = os.environ.get("GANDENSITY_PROGRESS")
    if progress is False or (progress is None and flag is not None and flag in ("0", "false", "False", "")):
        return "off"
    from gandensity.workflows.training import progress_enabled
    return "bar" if progress is True or progress_enabled() else "lines"


class _Progress:
    """Finished shards of the whole job, counted as shard files in ``out`` (every rank's work)."""

    def __init__(self, kind: str, out: Path, total: int, mode: str) -> None:
        self.kind, self.out, self.total, self.mode = kind, out, total, mode
        self.start = self.last = time.monotonic()
        self.first = self.count()
        self.interval = float(os.environ.get(INTERVAL_ENV) or 60)
        self.bar = None
        if mode == "bar":
            from tqdm.auto import tqdm
            self.bar = tqdm(total=total, initial=self.first, desc=f"gandensity {kind}", unit="shard",
                            file=sys.stderr, dynamic_ncols=True)

    def count(self) -> int:
        return sum(1 for _ in self.out.glob("shard-*.parquet"))

    def update(self, final: bool = False) -> None:
        if self.mode == "off":
            return
        done = self.count()
        if self.bar is not None:
            self.bar.n = done
            self.bar.refresh()
            if final:
                self.bar.close()
            return
        now = time.monotonic()
        if final or now - self.last < self.interval:  # the final state is the run's summary line
            return
        self.last = now
        rate = (done - self.first) / max(now - self.start, 1e-9)
        left = f", about {(self.total - done) / rate / 60:.1f} min left" if rate > 0 and done < self.total else ""
        print(f"gandensity {self.kind}: {done}/{self.total} shards ({100 * done / self.total:.0f}%), "
              f"{rate * 60:.1f} shards/min{left}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------------------------------
# The engine


def _prepare(out: Path, kind: str, identity: dict[str, Any], manifest: dict[str, Any], n_shards: int,
             shard_range: Callable[[int], range], schema: Any) -> tuple[list[int], list[str]]:
    """Rank 0: create or check the manifest; find the finished shards, moving damaged ones aside.

    Returns (finished shard indices, descriptions of the shards moved aside)."""
    if out.exists() and not out.is_dir():
        raise JobConfigError(f"{out} exists and is not a directory; pass a directory for the results")
    out.mkdir(parents=True, exist_ok=True)
    path = out / MANIFEST
    if path.exists():
        old = read_manifest(out)
        if old.get("identity") != identity:
            diffs = _differences(old.get("identity") or {}, identity)
            hint = (" (the shard size is part of a likelihood result: rerun with the shard size recorded there)"
                    if any(d.startswith("job.shard_size") for d in diffs) else "")
            raise JobConfigError(f"{out} holds the results of a different {old.get('kind', '?')} job: "
                                 + "; ".join(diffs[:8]) + (" ..." if len(diffs) > 8 else "") + hint
                                 + f". Use another output directory (--out), or delete {out} to start over")
        manifest = {**old, "package_version": manifest["package_version"], "info": manifest["info"]}
    else:
        others = sorted(p.name for p in out.iterdir() if not p.name.startswith((".", "_")))
        if others:
            raise JobConfigError(f"{out} is not empty ({', '.join(others[:5])}{' ...' if len(others) > 5 else ''}) "
                                 "and holds no job manifest; pass a new or empty directory (--out)")
    # A killed writer leaves its hidden temporary file: never a result, always safe to drop before anyone writes.
    for tmp in out.glob(".shard-*.tmp"):
        tmp.unlink(missing_ok=True)
    _write_json(path, manifest)
    done, moved = [], []
    for s in range(n_shards):
        p = _shard_path(out, s)
        if not p.exists():
            continue
        problem = _check_shard(p, shard_range(s), schema)
        if problem is None:
            done.append(s)
        else:
            target = _move_aside(out, p)
            moved.append(f"{p.name}: {problem}; moved to {target.relative_to(out)}")
    return done, moved


def _run(kind: str, out: str | os.PathLike, identity: dict[str, Any], info: Mapping[str, Any] | None, items: int,
         shard_size: int, schema: Any, compute: Callable[[int, range], Mapping[str, Any]], world: World,
         progress: bool | None, verbose: bool) -> JobReport:
    """Compute the missing shards of a job on this rank; see the module notes."""
    start_wall, started = time.monotonic(), datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    out = Path(out).expanduser().absolute()
    n_shards = math.ceil(items / shard_size)

    def shard_range(s: int) -> range:
        return range(s * shard_size, min((s + 1) * shard_size, items))

    identity = _normalized(identity)
    manifest = {"format": FORMAT, "version": FORMAT_VERSION, "kind": kind, "identity": identity, "items": items,
                "shard_size": shard_size, "shards": n_shards, "columns": schema.names,
                "created": started, "package_version": package_code_version(),
                "info": _normalized(dict(info or {})), "runs": [], "complete": False}
    # Rank 0 prepares the directory; every rank then learns the outcome, so that all raise together (a rank that
    # raised alone would leave the others waiting in a collective).
    status: tuple[tuple[str, str] | None, list[int], list[str]] = (None, [], [])
    if world.rank == 0:
        try:
            done, moved = _prepare(out, kind, identity, manifest, n_shards, shard_range, schema)
            status = (None, done, moved)
        except (JobConfigError, OSError) as err:
            status = (("config" if isinstance(err, JobConfigError) else "os", str(err)), [], [])
    error, done, moved = world.broadcast(status)
    if error is None and world.rank != 0:  # every rank must see rank 0's directory (a shared filesystem)
        where = f"rank {world.rank} on {socket.gethostname()}"
        try:
            if read_manifest(out).get("identity") != identity:
                error = ("config", f"{where} sees another job's manifest in {out}; do the ranks agree on --out?")
        except (FileNotFoundError, JobConfigError) as err:
            error = ("config", f"{where} cannot read the manifest that rank 0 wrote in {out} ({err}); the output "
                               "directory must be on a filesystem shared by all nodes")
    errors = [e for e in world.all_gather(error) if e]
    if errors:
        what, message = errors[0]
        raise JobConfigError(message) if what == "config" else OSError(message)

    finished = set(done)
    remaining = [s for s in range(n_shards) if s not in finished]
    mine = remaining[world.rank::world.world_size]
    if world.rank == 0 and verbose:
        line = f"gandensity {kind}: {n_shards} shard(s) of up to {shard_size} item(s) ({items} in all) in {out}"
        if done:
            line += f"; skipping {len(done)} finished shard(s)"
        print(line + f"; {len(remaining)} to compute with {world.world_size} process(es)", flush=True)
        for m in moved:
            print(f"  corrupt shard {m}; recomputing it", flush=True)
    bar = _Progress(kind, out, n_shards, _progress_mode(progress)) if world.rank == 0 else None
    fail_after = _env_int(FAIL_AFTER_ENV, None)
    seconds, computed_items = 0.0, 0
    for count, s in enumerate(mine, 1):
        t0 = time.perf_counter()
        columns = compute(s, shard_range(s))
        _write_shard(_shard_path(out, s), columns, schema)
        seconds += time.perf_counter() - t0
        computed_items += len(shard_range(s))
        if bar is not None:
            bar.update()
        if fail_after is not None and count >= fail_after:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(FAIL_EXIT)  # test hook: a worker killed right after writing its k-th shard
    worker = {"rank": world.rank, "host": socket.gethostname(), "device": str(world.device), "shards": len(mine),
              "items": computed_items, "seconds": round(seconds, 3)}
    if bar is not None and world.distributed:  # rank 0 keeps the progress moving while the others finish
        import torch.distributed as dist
        ids = world._device_ids()
        work = dist.barrier(async_op=True, device_ids=ids) if ids else dist.barrier(async_op=True)
        while not work.is_completed():
            time.sleep(0.5)
            bar.update()
        work.wait()
    else:
        world.barrier()
    workers = world.all_gather(worker)
    wall = time.monotonic() - start_wall
    complete = all(_shard_path(out, s).exists() for s in range(n_shards))
    if world.rank == 0:
        if bar is not None:
            bar.update(final=True)
        record = {"started": started, "seconds": round(wall, 3), "world_size": world.world_size,
                  "skipped": len(done), "corrupt": len(moved), "computed": len(remaining),
                  "computed_items": sum(w["items"] for w in workers), "complete": complete, "workers": workers}
        if record["computed_items"]:
            record["seconds_per_item"] = round(sum(w["seconds"] for w in workers) / record["computed_items"], 6)
        current = read_manifest(out)
        current["runs"] = [*current.get("runs", []), record]
        current["complete"] = complete
        _write_json(out / MANIFEST, current)
    world.barrier()
    report = JobReport(kind, out, items, n_shards, len(done), len(moved), len(remaining), wall, world.world_size,
                       complete)
    if world.rank == 0 and verbose:
        print(report.summary(), flush=True)
    return report


# ----------------------------------------------------------------------------------------------------------------
# The two jobs


def _model_facts(generator: nn.Module) -> tuple[int, torch.device, torch.dtype]:
    """(latent dimension, device, dtype) of a generator module in eval mode."""
    if not isinstance(generator, nn.Module):
        raise TypeError(f"generator must be an nn.Module (e.g. models.Generator), got {type(generator).__name__}")
    n = getattr(getattr(generator, "config", None), "latent_dim", None) or getattr(generator, "latent_dim", None)
    if not isinstance(n, int):
        raise ValueError(f"cannot tell the latent dimension of {type(generator).__name__}: give it a "
                         "config.latent_dim or latent_dim attribute")
    param = next(generator.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    dtype = param.dtype if param is not None and param.is_floating_point() else torch.get_default_dtype()
    return n, device, dtype


def _prior(prior: Prior | str | None) -> Prior:
    if prior is None:
        return StandardNormal()
    return prior_from_name(prior) if isinstance(prior, str) else prior


def _identity(kind: str, job: Any, generator: nn.Module, prior: Prior, device: torch.device,
              dtype: torch.dtype) -> dict[str, Any]:
    return {"kind": kind, "job": asdict(job), "model": cache.generator_fingerprint(generator), "prior": repr(prior),
            "device": device.type, "dtype": str(dtype).replace("torch.", ""), "code": code_version()}


def _list_column(rows: torch.Tensor) -> Any:
    """(B, n) tensor -> a pyarrow list column (one list of n numbers per row)."""
    import pyarrow as pa
    values = rows.detach().cpu().contiguous()
    b, n = values.shape
    return pa.ListArray.from_arrays(pa.array(np.arange(0, b * n + 1, n, dtype=np.int32)),
                                    pa.array(values.reshape(-1).numpy()))


def _float_type(dtype: torch.dtype) -> Any:
    import pyarrow as pa
    return {torch.float16: pa.float16(), torch.float32: pa.float32(), torch.float64: pa.float64()}.get(
        dtype, pa.float32())


def run_density(generator: nn.Module, job: DensityJob, out: str | os.PathLike, *, prior: Prior | str | None = None,
                world: World | None = None, info: Mapping[str, Any] | None = None, progress: bool | None = None,
                verbose: bool = True) -> JobReport:
    """Exact log-densities of ``job.samples`` latents drawn from ``prior``, written to ``out`` in shards.

    Columns: ``index`` (int64), ``z`` (the latent, a list of n numbers in the generator's dtype), ``log_density``
    (float64, nats: :func:`~gandensity.numerics.density.generator_log_density`; +inf where J^T J is singular,
    with a warning). Rerunning skips finished shards; see the module notes.

    Args:
        generator: (B, n) -> (B, ...) module in eval mode, on this process's device.
        job: the settings (:class:`DensityJob`).
        out: result directory (created; shared by all ranks).
        prior: the latent distribution: a :class:`~gandensity.numerics.priors.Prior` or ``"normal"`` / ``"uniform"``
            (default normal).
        world: this process's :class:`World` (default: the joined process group, else one process).
        info: JSON-like facts for the manifest that are not part of the identity (e.g. the model's file name).
        progress: True / False forces the progress display; None follows ``GANDENSITY_PROGRESS`` and the terminal.
        verbose: rank 0 prints a line at the start and the :meth:`JobReport.summary` at the end.

    Returns:
        :class:`JobReport`; read the table with :func:`read_table`.
    """
    import pyarrow as pa
    if not isinstance(job, DensityJob):
        raise TypeError(f"job must be a DensityJob, got {type(job).__name__}")
    n, device, dtype = _model_facts(generator)
    prior = _prior(prior)
    world = world or _current_world(device)
    job = dataclasses.replace(job, batch=job.batch or (8 if device.type == "cpu" else 64))
    schema = pa.schema([("index", pa.int64()), ("z", pa.list_(_float_type(dtype))), ("log_density", pa.float64())])

    def compute(shard: int, indices: range) -> dict[str, Any]:
        z = item_latents(job.seed, "density", indices, n, prior, dtype)
        log_density = density.generator_log_density(generator, z.to(device), prior=prior, chunk_size=job.batch,
                                                    logdet=job.logdet)
        return {"index": np.arange(indices.start, indices.stop, dtype=np.int64), "z": _list_column(z),
                "log_density": log_density.detach().cpu().double().numpy()}

    identity = _identity("density", job, generator, prior, device, dtype)
    return _run("density", out, identity, info, job.samples, job.shard_size, schema, compute, world, progress,
                verbose)


def run_likelihood(generator: nn.Module, images: ImageSource, job: LikelihoodJob, out: str | os.PathLike, *,
                   prior: Prior | str | None = None, world: World | None = None,
                   info: Mapping[str, Any] | None = None, progress: bool | None = None,
                   verbose: bool = True) -> JobReport:
    """AIS log-likelihoods of ``images`` under x = G(z) + N(0, sigma2 I), written to ``out`` in shards.

    Columns: ``index`` (int64, the image's row in ``images``), ``log_likelihood`` (float64 nats, the forward AIS
    estimate: a stochastic lower bound), ``upper_bound`` (float64 nats, reverse AIS from the true latent, BDMC's
    stochastic upper bound; NaN when the latents are unknown), ``bits_per_dim`` (of ``log_likelihood``, with the
    job's scale and levels), ``acceptance`` (mean HMC acceptance) and ``ess`` (effective sample size of the
    chains' weights) of the forward run, and ``z`` (the true latent) when known. Arguments as
    :func:`run_density`, plus ``images`` (:class:`ImageSource`).
    """
    import pyarrow as pa
    if not isinstance(job, LikelihoodJob):
        raise TypeError(f"job must be a LikelihoodJob, got {type(job).__name__}")
    if not isinstance(images, ImageSource):
        raise TypeError(f"images must be an ImageSource, got {type(images).__name__}")
    n, device, dtype = _model_facts(generator)
    prior = _prior(prior)
    world = world or _current_world(device)
    with torch.no_grad():
        shape = tuple(generator(torch.zeros(1, n, dtype=dtype, device=device)).shape[1:])
    if images.images is not None and tuple(images.images.shape[1:]) != shape:
        raise ValueError(f"the images ({images.name}) have shape {tuple(images.images.shape[1:])} but the generator "
                         f"makes {shape}; load them at the model's channels and size")
    if images.latents is not None and images.latents.shape[1] != n:
        raise ValueError(f"the latents of {images.name} have {images.latents.shape[1]} dimensions but the "
                         f"generator takes {n}")
    dims = math.prod(shape)
    fields = [("index", pa.int64()), ("log_likelihood", pa.float64()), ("upper_bound", pa.float64()),
              ("bits_per_dim", pa.float64()), ("acceptance", pa.float64()), ("ess", pa.float64())]
    if images.has_latents:
        fields.append(("z", pa.list_(_float_type(dtype))))
    schema = pa.schema(fields)
    settings = dict(sigma2=job.sigma2, steps=job.steps, chains=job.chains, leapfrog=job.leapfrog, prior=prior,
                    latent_dim=n, return_diagnostics=True)

    def batch(indices: range) -> tuple[torch.Tensor, torch.Tensor | None]:
        if images.simulate:
            z = item_latents(job.seed, "simulate-z", indices, n, prior, dtype)
            noise = _item_normal(job.seed, "simulate-noise", indices, shape, dtype)
            with torch.no_grad():
                x = generator(z.to(device)) + math.sqrt(job.sigma2) * noise.to(device)
            return x, z
        x = images.images[indices.start:indices.stop].to(device=device, dtype=dtype)
        z = images.latents[indices.start:indices.stop].to(dtype) if images.latents is not None else None
        return x, z

    def compute(shard: int, indices: range) -> dict[str, Any]:
        x, z = batch(indices)
        forward = ais.ais_log_likelihood(generator, x, seed=item_seed(job.seed, "ais", shard), **settings)
        if z is not None:
            upper = ais.bdmc_upper_bound(generator, z.to(device), x, seed=item_seed(job.seed, "bdmc", shard),
                                         **settings).log_likelihood.cpu().double()
        else:
            upper = torch.full((len(indices),), math.nan, dtype=torch.float64)
        lower = forward.log_likelihood.detach().cpu().double()
        columns = {"index": np.arange(indices.start, indices.stop, dtype=np.int64), "log_likelihood": lower.numpy(),
                   "upper_bound": upper.numpy(),
                   "bits_per_dim": ais.bits_per_dim(lower, dims, scale=job.scale, levels=job.levels).numpy(),
                   "acceptance": forward.acceptance.detach().cpu().double().numpy(),
                   "ess": forward.ess.detach().cpu().double().numpy()}
        if z is not None:
            columns["z"] = _list_column(z)
        return columns

    identity = {**_identity("likelihood", job, generator, prior, device, dtype), "images": images.fingerprint()}
    info = {"images": images.name, "dims": dims, **dict(info or {})}
    return _run("likelihood", out, identity, info, images.count, job.shard_size, schema, compute, world, progress,
                verbose)
