"""The chapters' heavy steps as the jobs that ``gandensity density`` and ``gandensity likelihood`` run.

Chapter A1's exact log-densities of many samples and chapters C2 and C3's AIS log-likelihoods go through
:func:`gandensity.workflows.jobs.run_density` and :func:`~gandensity.workflows.jobs.run_likelihood`, in the
chapter's own process and at every profile, so that the book, the command and a multi-GPU run are one code
path. Each job writes to a result directory in the package cache, ``<cache>/jobs/<kind>-<label>-<key>``, where
``key`` is a hash of what the job's manifest holds as its identity (settings, model weights, images, prior,
device type, dtype and the code that computes the numbers). Hence:

- rerunning a chapter resumes its jobs: finished shards are skipped, and the chapter prints how many;
- chapters that run the same job (C2 and C3 on the same image groups) share one directory; a lock file makes
  a chapter that reaches it while another is computing it wait, then read the finished shards;
- with several GPUs visible, the chapter prints the ``torchrun`` command that runs the same job over all of
  them into the same directory (the generator and the images are written next to it for the command to read).
  Run it and rerun the chapter: every shard is then finished and the chapter reads the table. The manifest's
  identity check (:class:`gandensity.workflows.jobs.JobConfigError`) refuses a directory that holds another
  job's results, so a stale or mismatched directory is never read as this job's.
"""

from __future__ import annotations

import contextlib
import math
import re
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn

from gandensity.workflows import cache, jobs, models

__all__ = ["Densities", "GroupLikelihoods", "densities", "likelihoods", "job_dir", "launch_command", "gpu_count",
           "JOBS_DIR"]

JOBS_DIR = "jobs"  # under the cache directory


def _facts(generator: nn.Module) -> tuple[torch.device, torch.dtype]:
    if not isinstance(generator, nn.Module):
        raise TypeError(f"generator must be an nn.Module (the chapter's G), got {type(generator).__name__}")
    param = next(generator.parameters(), None)
    if param is None:
        raise ValueError("generator has no parameters, so its device and dtype are unknown; pass a network "
                         "with weights (the chapter's G)")
    return param.device, param.dtype


def _prior_name(prior: str) -> str:
    if prior not in models.PRIORS:
        raise ValueError(f"prior must be one of {models.PRIORS} (the generator's training prior, "
                         f"gan_spec(cfg).train.prior), got {prior!r}")
    return prior


def job_dir(kind: str, label: str, generator: nn.Module, job: Any, *, prior: str = "normal",
            images: jobs.ImageSource | None = None) -> Path:
    """The result directory of a job in the cache: ``<cache>/jobs/<kind>-<label>-<key>`` (not created).

    ``key`` (16 hex digits) hashes the job's settings, the generator's weights, the prior, the device type and
    dtype of the generator, the images' fingerprint and :func:`gandensity.workflows.jobs.code_version`: the
    parts of the identity that the job's manifest checks, so that different jobs get different directories.
    ``label`` is a readable tag (e.g. the group of images); it does not enter the key.
    """
    device, dtype = _facts(generator)
    parts = {"kind": kind, "job": asdict(job), "model": cache.generator_fingerprint(generator), "prior": prior,
             "device": device.type, "dtype": str(dtype), "code": jobs.code_version(),
             "images": images.fingerprint() if images is not None else None}
    slug = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-") or "job"
    return cache.cache_dir() / JOBS_DIR / f"{kind}-{slug}-{cache.cache_key(parts)[:16]}"


def gpu_count() -> int:
    """CUDA GPUs visible to this process (0 without CUDA)."""
    return torch.cuda.device_count()


def launch_command(arguments: list[str], processes: int) -> str:
    """The shell command that runs ``gandensity <arguments>`` under ``torchrun`` with ``processes`` processes
    on this node (one per GPU)."""
    if isinstance(processes, bool) or not isinstance(processes, int) or processes < 1:
        raise ValueError(f"processes must be an int >= 1, got {processes!r}")
    return shlex.join(["torchrun", "--standalone", f"--nproc_per_node={processes}", "-m", "gandensity",
                       *arguments])


@contextlib.contextmanager
def _locked(out: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``<out>.lock`` (POSIX; no lock elsewhere): one chapter computes a shared job,
    another that needs it waits and then finds its shards finished."""
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: two chapters at once would compute the same shards twice
        yield
        return
    with open(out.with_name(out.name + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _checkpoint(generator: nn.Module, prior: str, gpus: int) -> str | None:
    """The generator as a checkpoint file for the command's ``--model``, named by its weights; None (said in a
    printed line) for a network that :func:`gandensity.workflows.models.save_generator` cannot write."""
    if not isinstance(generator, models.Generator):
        print(f"{gpus} GPUs are visible, but the gandensity command reads its generator from a checkpoint, which "
              f"save_generator writes for a models.Generator only (this is a {type(generator).__name__}); the "
              "job runs here, in this process.", flush=True)
        return None
    path = cache.cache_dir() / JOBS_DIR / f"generator-{cache.generator_fingerprint(generator)[:16]}.pt"
    if not path.exists():
        models.save_generator(generator, path, prior=prior)
    return str(path)


def _announce(commands: list[str], gpus: int, device: torch.device) -> None:
    """Print the torchrun command(s) of a job when several GPUs are visible."""
    note = ("" if device.type == "cuda" else
            f" (this chapter runs on {device.type}, so the command does too; run the chapter with device "
            "cuda to use the GPUs)")
    print(f"{gpus} GPUs are visible{note}. To run this step over all of them, interrupt the chapter, run\n\n"
          + "\n".join(f"  {c}" for c in commands)
          + "\n\nand rerun the chapter: it reads the finished table (and keeps the shards this process "
          "finished).", flush=True)


def _run_label(run: Any) -> dict[str, Any]:
    config = getattr(run, "config", None)
    return {"chapter": getattr(run, "name", None), "profile": getattr(config, "profile", None)}


class Densities(NamedTuple):
    """The result of :func:`densities`.

    Attributes:
        table: the job's table, one row per sample: ``index``, ``z`` (the latent), ``log_density`` (nats).
        z: (N, n) the latents, in the generator's dtype, on the CPU.
        log_density: (N,) float64 exact log-densities log p(G(z)) (nats), on the CPU.
        report: what this call's run of the job did (:class:`gandensity.workflows.jobs.JobReport`).
        seconds_per_item: compute time per sample over every run of the job (the first one included), or NaN.
    """

    table: Any
    z: torch.Tensor
    log_density: torch.Tensor
    report: jobs.JobReport
    seconds_per_item: float

    def summary(self) -> str:
        """One line: how many shards were finished before, how many were computed now, the cost per sample."""
        return _summary(self.report, "sample", self.seconds_per_item)


class GroupLikelihoods(NamedTuple):
    """The result of :func:`likelihoods`.

    Attributes:
        log_likelihood: {group: (B,) float64 AIS estimates of log p(x) in nats, on the CPU}, in the groups' order.
        tables: {group: the job's table} (``index``, ``log_likelihood``, ``upper_bound``, ``bits_per_dim``,
            ``acceptance``, ``ess``).
        reports: {group: what this call's run of that group's job did}.
    """

    log_likelihood: dict[str, torch.Tensor]
    tables: dict[str, Any]
    reports: dict[str, jobs.JobReport]

    def summary(self) -> str:
        """One line over all groups: shards already finished, computed now, and their time."""
        shards = sum(r.shards for r in self.reports.values())
        skipped = sum(r.skipped for r in self.reports.values())
        computed = sum(r.computed for r in self.reports.values())
        seconds = sum(r.seconds for r in self.reports.values())
        line = f"{len(self.reports)} job(s), {skipped} of {shards} shard(s) already finished"
        return line + (f", {computed} computed now in {seconds:.1f} s" if computed else "")


def _summary(report: jobs.JobReport, item: str, seconds_per_item: float) -> str:
    line = f"{report.skipped} of {report.shards} shard(s) already finished"
    if report.computed:
        line += f", {report.computed} computed now in {report.seconds:.1f} s"
    if math.isfinite(seconds_per_item) and seconds_per_item > 0:  # over every run, this one or earlier ones
        line += f" ({1 / seconds_per_item:.1f} {item}s/s of compute)"
    return line


def _seconds_per_item(out: Path) -> float:
    """Worker compute seconds per item over every run recorded in the job's manifest (NaN if none computed)."""
    seconds = items = 0.0
    for record in jobs.read_manifest(out).get("runs", []):
        items += record.get("computed_items", 0)
        seconds += sum(w.get("seconds", 0.0) for w in record.get("workers", []))
    return seconds / items if items else float("nan")


def _column(table: Any, name: str, dtype: torch.dtype) -> torch.Tensor:
    """A table column as a tensor: (N,) for numbers, (N, n) for a column of lists."""
    values = table[name].to_numpy()
    if len(values) and isinstance(values[0], (list, np.ndarray)):
        values = np.stack([np.asarray(v) for v in values])
    return torch.from_numpy(np.array(values, dtype=np.float64)).to(dtype)


def densities(run: Any, generator: nn.Module, *, samples: int, seed: int, batch: int | None = None,
              shard_size: int = 64, prior: str = "normal", gpus: int | None = None) -> Densities:
    """Exact log-densities of ``samples`` latents drawn from the prior: the job ``gandensity density`` runs.

    Runs :func:`gandensity.workflows.jobs.run_density` in this process into :func:`job_dir` (resuming it if an
    earlier run, or a ``torchrun`` of the printed command, finished shards) and reads the table back. Sample
    i's latent depends on (``seed``, i) alone.

    Args:
        run: the chapter (``gandensity.book.chapter.Chapter``; its name and profile go to the manifest).
        generator: (B, n) -> (B, C, H, W) network in eval mode, on the chapter's device.
        samples: N, the number of latents.
        seed: the seed of every sample's latent.
        batch: latents per vectorised Jacobian call; None: 8 on a CPU, 64 on a GPU.
        shard_size: samples per shard file.
        prior: the generator's latent prior, ``"normal"`` or ``"uniform"``.
        gpus: GPUs to launch over in the printed command; None: all visible. The command is printed when it
            is more than one.

    Returns:
        :class:`Densities`: the table, z (N, n), log_density (N,) float64, the run's report.
    """
    device, dtype = _facts(generator)
    prior = _prior_name(prior)
    job = jobs.DensityJob(samples=samples, seed=seed, shard_size=shard_size,
                          batch=batch or (8 if device.type == "cpu" else 64))
    out = job_dir("density", "samples", generator, job, prior=prior)
    gpus = gpu_count() if gpus is None else gpus
    model = _checkpoint(generator, prior, gpus) if gpus > 1 else None
    if model is not None:
        arguments = ["density", "--model", model, "--samples", str(job.samples),
                     "--seed", str(job.seed), "--shard-size", str(job.shard_size), "--batch", str(job.batch),
                     "--logdet", job.logdet, "--device", device.type, "--out", str(out)]
        _announce([launch_command(arguments, gpus)], gpus, device)
    with _locked(out):
        report = jobs.run_density(generator, job, out, prior=prior, info=_run_label(run), verbose=False)
    table = jobs.read_table(out)
    return Densities(table, _column(table, "z", dtype), _column(table, "log_density", torch.float64), report,
                     _seconds_per_item(out))


def likelihoods(run: Any, generator: nn.Module, groups: Mapping[str, torch.Tensor | jobs.ImageSource],
                job: jobs.LikelihoodJob, *, prior: str = "normal", gpus: int | None = None) -> GroupLikelihoods:
    """AIS log-likelihoods of groups of images: one job of ``gandensity likelihood`` per group.

    Each group runs :func:`gandensity.workflows.jobs.run_likelihood` in this process into its own
    :func:`job_dir` (resumed if finished shards are there) with the same :class:`~gandensity.workflows.jobs.
    LikelihoodJob` settings. Chapters that pass equal groups and settings share the directories.

    Args:
        run: the chapter (its name and profile go to the manifests).
        generator: (B, n) -> (B, C, H, W) network in eval mode, on the chapter's device.
        groups: {name: (B, C, H, W) images on the model's scale, or an ImageSource}.
        job: the AIS settings (sigma2, steps, chains, leapfrog, seed, shard size).
        prior: the generator's latent prior, ``"normal"`` or ``"uniform"``.
        gpus: GPUs to launch over in the printed commands; None: all visible. Printed when more than one.

    Returns:
        :class:`GroupLikelihoods`: per group, (B,) float64 log-likelihoods (nats), the table and the report.
    """
    if not isinstance(job, jobs.LikelihoodJob):
        raise TypeError(f"job must be a gandensity.workflows.jobs.LikelihoodJob, got {type(job).__name__}; build "
                        "it from the chapter's AIS settings (sigma2, steps, chains, leapfrog, seed)")
    if not isinstance(groups, Mapping) or not groups:
        raise ValueError("groups must be a non-empty dict {name: (B, C, H, W) images}")
    device, dtype = _facts(generator)
    prior = _prior_name(prior)
    sources = {}
    for name, images in groups.items():
        if isinstance(images, torch.Tensor):
            images = jobs.ImageSource(f"group {name!r}", images.detach().cpu().to(dtype))
        elif not isinstance(images, jobs.ImageSource):
            raise TypeError(f"groups[{name!r}] must be a (B, C, H, W) tensor or an ImageSource, got "
                            f"{type(images).__name__}")
        sources[name] = images
    gpus = gpu_count() if gpus is None else gpus
    outs = {name: job_dir("likelihood", name, generator, job, prior=prior, images=source)
            for name, source in sources.items()}
    model = _checkpoint(generator, prior, gpus) if gpus > 1 else None
    if model is not None:
        commands = []
        for name, source in sources.items():
            out = outs[name]
            images = _images_file(out, source)
            commands.append(launch_command(
                ["likelihood", "--model", model, "--images", images, "--sigma2", repr(job.sigma2), "--steps",
                 str(job.steps), "--chains", str(job.chains), "--leapfrog", str(job.leapfrog), "--seed",
                 str(job.seed), "--shard-size", str(job.shard_size), "--scale", repr(job.scale), "--levels",
                 str(job.levels), "--device", device.type, "--out", str(out)], gpus))
        _announce(commands, gpus, device)
    tables, reports, ll = {}, {}, {}
    for name, source in sources.items():
        with _locked(outs[name]):
            reports[name] = jobs.run_likelihood(generator, source, job, outs[name], prior=prior,
                                                info=_run_label(run), verbose=False)
        tables[name] = jobs.read_table(outs[name])
        ll[name] = _column(tables[name], "log_likelihood", torch.float64)
    return GroupLikelihoods(ll, tables, reports)


def _images_file(out: Path, source: jobs.ImageSource) -> str:
    """``--images`` for a group: ``simulated:N``, or the images (and latents) saved next to the job directory."""
    if source.simulate:
        return f"simulated:{source.simulate}"
    path = out.with_name(out.name + ".images.pt")
    if not path.exists():
        payload = {"images": source.images.contiguous()}
        if source.latents is not None:
            payload["latents"] = source.latents.contiguous()
        cache.atomic_write(path, lambda f: torch.save(payload, f), hidden=True)  # never half a file
    return str(path)
