"""A chapter's start and finish: one call each.

``run = start("a1_exact_density", profile, epochs=epochs, ...)`` resolves the profile's settings into the
chapter's config, picks the device, applies the thread policy, seeds torch, sets the book's figure style
and prints a header that names the package code version the chapter ran with. During the chapter,
``run.claim(...)`` records the papers' claims with computed verdicts, ``run.glue(...)`` hands numbers to the
prose, ``run.figure(...)`` gives a figure a caption-able name. ``run.finish(dcgan=gan, ...)`` shows the
claims and prints the runtime line with the models used.

Thread policy: at the ``smoke`` and ``cpu`` profiles every chapter runs torch on one thread. A model
trained in one chapter is then the same bits whichever chapter trains it first (training is
deterministic for a fixed thread count, not across thread counts; the cache key records the count), and
a busy machine does not slow a chapter several-fold through thread contention.
"""

from __future__ import annotations

import hashlib
import textwrap
import time
from pathlib import Path
from typing import Any

import torch

from gandensity.book import claims as claims_module
from gandensity.book import plotting
from gandensity.book.claims import Claim, Estimate, Verdict
from gandensity.book.profiles import ChapterConfig, chapter_config, resolve_device

__all__ = ["Chapter", "start", "package_version", "CLAIMS_KEY", "LINE_WIDTH"]

CLAIMS_KEY = "gandensity_claims"  # output metadata key that holds the claims as JSON records
# Printed lines on the book's pages: output blocks are padded more than code blocks, so an 88-character
# output line (the code limit) scrolls sideways at a 1600 px window; 80 leaves room.
LINE_WIDTH = 80
_PACKAGE = Path(__file__).resolve().parents[1]


def package_version() -> str:
    """sha256 (12 hex digits) of every source file of the package and torch's version.

    Chapters print it; ``tests/test_book_fresh.py`` fails when a published chapter ran with other code.
    """
    h = hashlib.sha256(torch.__version__.encode())
    for path in sorted(_PACKAGE.rglob("*.py")):
        h.update(str(path.relative_to(_PACKAGE)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:12]


class _Text:
    """A string that IPython shows without quotes (so that ``{glue:text}`` renders it as prose)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _display(obj: Any, **kwargs: Any) -> None:
    from IPython.display import display

    display(obj, **kwargs)


class Chapter:
    """A running chapter: its config, device, seeded generator, claims and clock. Made by :func:`start`."""

    def __init__(self, config: ChapterConfig, device: torch.device, threads: int) -> None:
        self.config = config
        self.name = config.chapter
        self.device = device
        self.threads = threads
        self.claims: list[Claim] = []
        self._started = time.perf_counter()

    @property
    def label(self) -> str:
        """The chapter's short label, e.g. "A1"."""
        return self.name.split("_")[0].upper()

    def rng(self, offset: int = 0) -> torch.Generator:
        """A CPU torch generator seeded with the chapter's seed plus ``offset`` (never the global RNG)."""
        return torch.Generator().manual_seed(int(self.config.seed) + offset)

    def claim(self, paper: str, where: str, claim: str, *, paper_value: str, ours: Estimate | float | str,
              verdict: Verdict, scale: str, fmt: str = ".3g") -> None:
        """Record a claim of ``paper`` (see :class:`gandensity.book.claims.Claim`) and return it."""
        text = ours if isinstance(ours, str) else format(ours, fmt)
        record = Claim(paper=paper, where=where, claim=claim, paper_value=paper_value, ours=text,
                       verdict=verdict, scale=scale, chapter=self.name)
        self.claims.append(record)
        return None

    def verdicts(self) -> str:
        """One line per claim, ``<paper> <where>: <verdict>``: what nbval checks (numbers may vary)."""
        return "\n".join(f"{c.paper} {c.where}: {c.verdict.label}" for c in self.claims)

    def show_claims(self) -> None:
        """Display the claims as a table (with the records in the output's metadata, for the scorecard)."""
        if not self.claims:
            raise RuntimeError(f"{self.name} recorded no claims; call run.claim(...) first")
        table = claims_module.claims_markdown(self.claims)
        _display({"text/markdown": table, "text/plain": self.verdicts()},
                 metadata={CLAIMS_KEY: [c.record() for c in self.claims]}, raw=True)

    def glue(self, name: str, value: Any, fmt: str | None = None) -> None:
        """Hand ``value`` to the prose: ``{glue:text}`name``` in a markdown cell renders it.

        With ``fmt`` the value is formatted here (``run.glue("auc", 0.8123, ".2f")`` renders 0.81);
        strings render without quotes. Returns nothing, so that a glue that ends a cell prints no ``Out``.
        """
        from myst_nb import glue

        shown = _Text(value if isinstance(value, str) else format(value, fmt or ""))
        glue(name, shown if (fmt or isinstance(value, str)) else value, display=False)

    def figure(self, name: str, fig: Any) -> None:
        """Glue a matplotlib figure under ``name`` for a ``{glue:figure}`` directive with a caption."""
        import matplotlib.pyplot as plt
        from myst_nb import glue

        glue(name, fig, display=False)
        plt.close(fig)

    def finish(self, **models: Any) -> None:
        """Print the runtime line: profile, seconds, device, threads, and each model's provenance.

        ``models`` maps a short name to a result with ``from_cache`` (and ``seconds``, its training time).
        """
        seconds = time.perf_counter() - self._started
        parts = []
        for name, model in models.items():
            if not hasattr(model, "from_cache"):
                raise TypeError(f"finish({name}=...) needs a result with .from_cache, got {type(model).__name__}")
            trained = getattr(model, "seconds", None)
            took = f" ({trained:.0f} s)" if isinstance(trained, (int, float)) and trained > 0 else ""
            parts.append(f"{name} {'from the cache' if model.from_cache else 'trained in this run'}{took}")
        line = (f"profile {self.config.profile}: chapter ran in {seconds:.0f} s on {self.device}, "
                f"{self.threads} thread(s)")
        print(textwrap.fill(line + ("; " + ", ".join(parts) if parts else ""), LINE_WIDTH,
                            subsequent_indent="  "))


def _threads(config: ChapterConfig) -> int:
    threads = config.get("threads")
    if threads:
        torch.set_num_threads(int(threads))
    return torch.get_num_threads()


def start(chapter: str, profile: str = "cpu", **overrides: Any) -> Chapter:
    """Start ``chapter`` at ``profile`` with the notebook's parameter ``overrides`` (``None`` = profile's).

    Prints the header (chapter, profile, device, threads, seed, package code version) and the settings.
    """
    config = chapter_config(chapter, profile, **overrides)
    device = resolve_device(config.device)
    threads = _threads(config)
    torch.manual_seed(int(config.seed))
    plotting.use_book_style()
    run = Chapter(config, device, threads)
    print(f"{run.label} at profile {profile}: device {device}, torch {torch.__version__}, "
          f"{threads} thread(s), seed {config.seed}")
    print(f"gandensity code {package_version()}")
    print(config)
    return run


def wrap(text: str, width: int = LINE_WIDTH) -> str:
    """Wrap printed text to the page width."""
    return "\n".join(textwrap.fill(line, width, subsequent_indent="  ") for line in text.splitlines())

