"""The ``gandensity`` command (also ``python -m gandensity``): exact densities and AIS likelihoods at scale.

::

    gandensity density    --model MODEL --samples N [--seed S] --out DIR [--batch B] [--shard-size K] [--device D]
    gandensity likelihood --model MODEL --images IMAGES --sigma2 V [--steps 500 --chains 4 --leapfrog 10] --out DIR

The same command runs as one process or under ``torchrun`` (one process per GPU, on one node or many); see
:mod:`gandensity.workflows.jobs` for the sharding, the result directory and resumption, and the book's page
"Running at paper scale" for recipes.

This module sits above the book layer (it resolves the book's models, ``book:NAME@PROFILE``, from the book's
profiles); nothing in the package imports it (``tests/test_layers.py``).
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple, Sequence

import torch

from gandensity.workflows import jobs, models

__all__ = ["main", "build_parser", "resolve_model", "load_images", "book_models", "ResolvedModel"]

_BOOK = re.compile(r"book:(?P<name>[A-Za-z0-9_-]+)(?:\.(?P<gan>[A-Za-z0-9_]+))?@(?P<profile>[A-Za-z0-9_]+)")
# Short names of the book's models: the chapter (and sub-configuration) whose settings define them.
BOOK_ALIASES: dict[str, tuple[str, str | None]] = {
    "dcgan-mnist": ("a1_exact_density", None),  # paper 000's MNIST DCGAN, shared by chapters A1-A4, B1, C1-C3
    "dcgan-natural": ("a2_sanity_checks", "natural"),  # paper 000's natural-image DCGAN (chapters A2-A4)
}
_GAN_KEYS = ("data", "channels", "width", "epochs", "batch_size")
_MODEL_HELP = ("a generator checkpoint written by gandensity.workflows.models.save_generator, or a model of the book, "
               "book:NAME@PROFILE (e.g. book:dcgan-mnist@cpu)")


# ----------------------------------------------------------------------------------------------------------------
# Models


class ResolvedModel(NamedTuple):
    """A generator ready for a job: in eval mode on the requested device, its prior's name and a description."""

    generator: models.Generator
    prior: str
    info: dict[str, Any]


def book_models() -> list[str]:
    """The names ``book:NAME@PROFILE`` accepts: the aliases, every chapter whose settings define a DCGAN, and
    ``CHAPTER.GAN`` for chapters that train several."""
    from gandensity.book.profiles import CHAPTERS
    names = list(BOOK_ALIASES)
    for chapter, profiles in CHAPTERS.items():
        settings = profiles["cpu"]
        if all(k in settings for k in _GAN_KEYS):
            names.append(chapter)
        names += [f"{chapter}.{k}" for k, v in settings.items()
                  if isinstance(v, Mapping) and all(key in v for key in _GAN_KEYS)]
    return names


def _book_generator(config: Mapping[str, Any], gan: str | None, device: torch.device) -> tuple[Any, str, str]:
    """(generator, prior name, cache file) of a chapter configuration's DCGAN (the sub-configuration ``gan``, if
    given), as the chapters get it: ``train_gan(gan_spec(config))``, from the cache or trained and cached now."""
    from gandensity.book.specs import gan_spec
    from gandensity.workflows.training import train_gan
    spec = gan_spec(config, gan)
    trained, _ = train_gan(spec, device=device, verbose=False)
    return trained.generator, spec.train.prior, trained.path


def resolve_model(spec: str, *, device: torch.device, data_root: str | None = None) -> ResolvedModel:
    """The generator named by ``spec``: a checkpoint file, or ``book:NAME@PROFILE`` (trained with the book's
    settings at that profile, from the cache when a chapter or an earlier run trained it, else trained now and
    cached). Raises ``ValueError`` / ``FileNotFoundError`` whose message says what to pass."""
    if spec.startswith("book:"):
        from gandensity.book.profiles import PROFILES, chapter_config
        match = _BOOK.fullmatch(spec)
        if match is None:
            raise ValueError(f"{spec!r} is not of the form book:NAME@PROFILE (e.g. book:dcgan-mnist@cpu)")
        name, gan, profile = match["name"], match["gan"], match["profile"]
        known = book_models()
        full = name if gan is None else f"{name}.{gan}"
        if full not in known:
            raise ValueError(f"unknown book model {full!r}; choose one of: {', '.join(known)}")
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r} in {spec!r}; choose one of {list(PROFILES)}")
        chapter, gan = BOOK_ALIASES.get(full, (name, gan))
        config = chapter_config(chapter, profile, data_root=data_root)
        threads = torch.get_num_threads()
        if config.get("threads"):  # the cache key holds the thread count the book trains with
            torch.set_num_threads(int(config["threads"]))
        try:
            generator, prior, path = _book_generator(config, gan, device)
        finally:
            torch.set_num_threads(threads)
        generator = generator.to(device).eval().requires_grad_(False)
        return ResolvedModel(generator, prior, {"model": spec, "cache_entry": str(path)})
    checkpoint = models.load_checkpoint(spec, device=device)
    return ResolvedModel(checkpoint.generator, checkpoint.prior,
                         {"model": str(Path(spec).expanduser().absolute()), "metadata": checkpoint.metadata})


# ----------------------------------------------------------------------------------------------------------------
# Images


def load_images(spec: str, *, image_shape: tuple[int, int, int], data_root: str | None = None, split: str = "test",
                count: int | None = None) -> jobs.ImageSource:
    """The images a likelihood job reads: ``simulated:N``, a ``.pt`` file (a (N, C, H, W) tensor, or a dict with
    ``images`` and optionally ``latents``), or a data set name (:func:`gandensity.workflows.data.load`, converted to
    ``image_shape``). ``count`` keeps the first ``count`` images. Raises ``ValueError`` saying what to pass."""
    from gandensity.workflows import data
    if spec.startswith("simulated:"):
        number = spec.partition(":")[2]
        if not number.isdigit() or int(number) < 1:
            raise ValueError(f"{spec!r}: write simulated:N with N a positive integer (e.g. simulated:500)")
        if count is not None:
            raise ValueError("--count does not apply to simulated:N; put the number of images in N")
        return jobs.ImageSource.simulated(int(number))
    path = Path(spec).expanduser()
    if path.suffix == ".pt" or path.is_file():
        if not path.is_file():
            raise ValueError(f"no such file {spec!r}")
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # noqa: BLE001 - any failure: not a tensor file
            raise ValueError(f"{spec} is not a tensor file torch.load(weights_only=True) reads ({type(err).__name__}: "
                             f"{str(err).splitlines()[0][:200]}); save the images with torch.save(images, path)") \
                from err
        latents = None
        if isinstance(payload, Mapping):
            if "images" not in payload:
                raise ValueError(f"{spec} holds a dict without an 'images' entry (keys: {sorted(payload)}); save "
                                 "{'images': (N, C, H, W) tensor, 'latents': (N, n) tensor (optional)}")
            images, latents = payload["images"], payload.get("latents")
        else:
            images = payload
        if not isinstance(images, torch.Tensor):
            raise ValueError(f"{spec} holds a {type(images).__name__}, not a (N, C, H, W) tensor of images")
        name = str(path.absolute())
    elif spec in data.EMBEDDED + data.TORCHVISION + ("sklearn_digits",):
        channels, size, _ = image_shape
        if spec in data.TORCHVISION and data_root is None:
            raise ValueError(f"{spec} is read from disk: pass --data-root DIR (torchvision's layout), or use an "
                             f"embedded set {data.EMBEDDED}")
        loaded = data.load(spec, data_root=data_root, split=split, channels=channels, size=size)
        images, latents, name = loaded.images, None, f"{loaded.name} (split {split})"
    else:
        raise ValueError(f"{spec!r} is neither simulated:N, a .pt file, nor a data set; data sets: "
                         f"{', '.join(data.EMBEDDED + data.TORCHVISION)}")
    if count is not None:
        if count > len(images):
            raise ValueError(f"--count {count} but {name} holds {len(images)} images")
        images = images[:count]
        latents = latents[:count] if latents is not None else None
    if images.is_floating_point() and images.dtype != torch.float32:
        images = images.float()
    if isinstance(latents, torch.Tensor) and latents.dtype != torch.float32:
        latents = latents.float()
    return jobs.ImageSource(name, images, latents)


# ----------------------------------------------------------------------------------------------------------------
# Arguments


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}")
    return value


def _model(text: str) -> str:
    if text.startswith("book:"):
        if _BOOK.fullmatch(text) is None:
            raise argparse.ArgumentTypeError(f"{text!r} is not of the form book:NAME@PROFILE (e.g. "
                                             "book:dcgan-mnist@cpu)")
        return text
    if not Path(text).expanduser().is_file():
        raise argparse.ArgumentTypeError(f"no such file {text!r}; pass {_MODEL_HELP}")
    return text


def _device(text: str) -> str:
    if text in ("auto", "cpu", "cuda", "mps") or re.fullmatch(r"cuda:\d+", text):
        return text
    raise argparse.ArgumentTypeError(f"unknown device {text!r}; pass auto, cpu, cuda, cuda:N or mps")


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    pass


_EPILOG = """\
Several processes (the same command under torchrun; RANK, WORLD_SIZE and LOCAL_RANK are read from torchrun):
  torchrun --standalone --nproc_per_node=gpu -m gandensity density --model G.pt --samples 50000 --out dens/
  torchrun --nnodes=4 --nproc_per_node=gpu --rdzv_backend=c10d --rdzv_endpoint=HEAD:29500 \\
      -m gandensity likelihood --model G.pt --images cifar10 --data-root DATA --sigma2 0.01 --out ll/

Results: Parquet shards in --out; pandas.read_parquet(DIR) reads them as one table (one row per item).
Rerunning the same command skips finished shards and recomputes damaged ones; --out must be on a filesystem
that all nodes share. GANDENSITY_PROGRESS=0 turns the progress display off."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gandensity", formatter_class=_Formatter, epilog=_EPILOG,
        description="Exact log-densities of a generator's samples (paper 000) and AIS log-likelihoods of images "
                    "(paper 002), sharded and resumable, on one process or under torchrun.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{density,likelihood}")

    def common(p: argparse.ArgumentParser, shard_default: int, shard_help: str) -> None:
        p.add_argument("--model", required=True, type=_model, metavar="MODEL", help=_MODEL_HELP + ". Book models "
                       "are trained with the book's settings if no chapter or earlier run has cached them (train it "
                       "once, in one process, before a multi-GPU run)")
        p.add_argument("--out", required=True, type=Path, metavar="DIR",
                       help="result directory (created): Parquet shards and _manifest.json; rerunning the same "
                            "command into it resumes; another job's directory is refused")
        p.add_argument("--seed", type=_seed, default=0, metavar="S", help="seed of every item's random numbers")
        p.add_argument("--shard-size", type=_positive_int, default=shard_default, metavar="K", help=shard_help)
        p.add_argument("--device", type=_device, default="auto", metavar="D",
                       help="auto (CUDA if available), cpu, cuda (one GPU per process: LOCAL_RANK), cuda:N or mps")
        p.add_argument("--data-root", default=None, metavar="DIR",
                       help="directory of the torchvision data sets (MNIST, CIFAR-10, SVHN, CelebA) for book models "
                            "at the paper profile and for --images NAME")

    density = sub.add_parser(
        "density", formatter_class=_Formatter, epilog=_EPILOG,
        help="exact log-densities of N samples drawn from the model's prior",
        description="Exact log-densities log p(G(z)) = log p(z) - 1/2 log det(J^T J) (paper 000, Eq. 3) of N latents "
                    "z drawn from the model's prior. Table columns: index, z (the latent), log_density (nats). "
                    "Item i's latent depends only on (--seed, i).")
    density.add_argument("--samples", required=True, type=_positive_int, metavar="N", help="number of samples")
    density.add_argument("--batch", type=_positive_int, default=None, metavar="B",
                         help="latents per vectorised Jacobian call (default: 8 on a CPU, 64 on a GPU); memory grows "
                              "with B times the latent size")
    density.add_argument("--logdet", choices=("qr", "cholesky", "svd"), default="qr",
                         help="how 1/2 log det(J^T J) is computed (float64)")
    common(density, 64, "samples per shard file (the unit of work and of resumption)")

    lik = sub.add_parser(
        "likelihood", formatter_class=_Formatter, epilog=_EPILOG,
        help="AIS log-likelihoods of images, with BDMC upper bounds on simulated images, and bits/dim",
        description="AIS estimates of log p(x) under x = G(z) + N(0, sigma2 I) (paper 002, section 4.1): a stochastic "
                    "lower bound. On simulated images (simulated:N, or a .pt file with their latents) reverse AIS "
                    "from the true latent also gives BDMC's stochastic upper bound. Table columns: index (the "
                    "image's row), log_likelihood, upper_bound (NaN for real images), bits_per_dim, acceptance, ess, "
                    "and z (the true latent) when known.")
    lik.add_argument("--images", required=True, metavar="IMAGES",
                     help="simulated:N (N images drawn from the model with noise sigma2), a .pt file (a (N, C, H, W) "
                          "tensor in the model's [-1, 1] scale, or {'images': ..., 'latents': ...}), or a data set "
                          "name (mnist5k, digits, photo_patches, solid_colours; mnist, cifar10, svhn, celeba with "
                          "--data-root), converted to the model's channels and size")
    lik.add_argument("--sigma2", required=True, type=_positive_float, metavar="V",
                     help="observation noise variance (paper 002 fits it per model, 0.008-0.021 in its Table 3)")
    lik.add_argument("--steps", type=_positive_int, default=500, metavar="T", help="annealing steps (paper: 500)")
    lik.add_argument("--chains", type=_positive_int, default=4, metavar="C", help="AIS chains per image (paper: 4)")
    lik.add_argument("--leapfrog", type=_positive_int, default=10, metavar="L",
                     help="leapfrog steps per HMC step (paper: 10)")
    lik.add_argument("--split", default="test", choices=("train", "test", "all"), help="split of a data set")
    lik.add_argument("--count", type=_positive_int, default=None, metavar="N",
                     help="use the first N images of the file or data set (default: all)")
    lik.add_argument("--scale", type=_positive_float, default=jobs.DATA_SCALE, metavar="W",
                     help="width of the data range in model units for bits/dim: 2*256/255 for 8-bit images mapped "
                          "to k/127.5 - 1 (the book's loaders), 2 for -1 + 2(k + u)/256")
    lik.add_argument("--levels", type=_positive_int, default=256, metavar="Q", help="quantization levels for bits/dim")
    common(lik, 8, "images per shard: one AIS run each. The shard size is part of the result (the images of a "
                   "shard share one random stream): a directory is resumed only with the same shard size")
    parser.subcommands = {"density": density, "likelihood": lik}  # type: ignore[attr-defined]
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status (0: complete; 2: bad options, with a message naming the option)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    sub = parser.subcommands[args.command]  # errors print the subcommand's usage

    import torch.distributed as dist
    joined = dist.is_available() and dist.is_initialized()  # a caller's process group is used and left alone
    try:
        world = jobs.init_world(args.device)
    except ValueError as err:
        sub.error(f"argument --device: {err}")
    try:
        model = resolve_model(args.model, device=world.device, data_root=args.data_root)
    except (ValueError, FileNotFoundError, TypeError) as err:
        sub.error(f"argument --model: {err}")
    generator = model.generator
    try:
        if args.command == "density":
            job = jobs.DensityJob(samples=args.samples, seed=args.seed, shard_size=args.shard_size, batch=args.batch,
                                  logdet=args.logdet)
            report = jobs.run_density(generator, job, args.out, prior=model.prior, world=world, info=model.info)
        else:
            shape = tuple(generator.config.image_shape)
            try:
                images = load_images(args.images, image_shape=shape, data_root=args.data_root, split=args.split,
                                     count=args.count)
                if images.images is not None and tuple(images.images.shape[1:]) != shape:
                    raise ValueError(f"{images.name} holds images of shape {tuple(images.images.shape[1:])}; the "
                                     f"model makes {shape}")
                if images.latents is not None and images.latents.shape[1] != generator.config.latent_dim:
                    raise ValueError(f"the latents in {images.name} have {images.latents.shape[1]} dimensions; the "
                                     f"model takes {generator.config.latent_dim}")
            except (ValueError, FileNotFoundError) as err:
                sub.error(f"argument --images: {err}")
            job = jobs.LikelihoodJob(sigma2=args.sigma2, steps=args.steps, chains=args.chains, leapfrog=args.leapfrog,
                                     seed=args.seed, shard_size=args.shard_size, scale=args.scale, levels=args.levels)
            report = jobs.run_likelihood(generator, images, job, args.out, prior=model.prior, world=world,
                                         info=model.info)
    except jobs.JobConfigError as err:
        sub.error(f"argument --out: {err}")
    finally:
        if world.distributed and not joined:
            dist.destroy_process_group()
    return 0 if report.complete else 1


if __name__ == "__main__":  # pragma: no cover - python -m gandensity is the entry point
    sys.exit(main())
