"""Pages at the papers' scale: a chapter executed once more with a setting of its paper (a step count, the
prior, a training length, a sample count), published beside it.

A :class:`ScalePage` names a chapter, a profile and the parameters that differ from it. ``make page
PAGE=<name>`` (``python -m gandensity.book.runner --page <name>``) executes the chapter's own source with
them into ``book/scale/<name>.ipynb``, with a note under its title that says what this page changes and that
CI does not re-execute it (its last line, as every chapter's, states its runtime), and a last cell that sets
its verdicts beside the published chapter's. Such a run takes up to an hour on this project's 2-core machines,
so ``make test`` does not re-execute it (nbval runs ``book/*.ipynb`` only); ``tests/test_book_fresh.py`` checks
that it is current all the same: the chapter's code cells, the registered profile and parameters, the package
code version, no error output, claims, and a runtime within :data:`PAGE_BUDGET_S`.

A page's claims join the scorecard with the page as their chapter, so a claim tested at both scales has two
rows, one per scale.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gandensity.book.profiles import CHAPTERS, SHARED

_B2 = CHAPTERS["b2_implicit_densities"]["cpu"]
_LATENT_TRIPLETS = SHARED["regressors"]["cpu"]["latent_triplets"]
_B4_EPOCHS = CHAPTERS["b4_explanatory_factors"]["cpu"]["epochs"]

__all__ = ["PAGES", "PAGE_BUDGET_S", "ScalePage", "page"]

PAGE_BUDGET_S = 3600  # a page at the papers' scale runs in at most an hour on this project's 2-core machines


@dataclass(frozen=True)
class ScalePage:
    """A chapter at the papers' scale.

    Attributes:
        name: the page's file name in ``book/scale/`` (without ``.ipynb``).
        chapter: the chapter whose source it executes (``notebooks/<chapter>.py``).
        profile: the profile it runs at.
        parameters: notebook parameters beyond the profile (what the page changes, with the reason in ``why``).
        title: the page's title (replaces the chapter's).
        why: what the page changes against the published chapter, and why at this setting (markdown).
    """

    name: str
    chapter: str
    profile: str
    title: str
    why: str
    parameters: dict[str, Any] = field(default_factory=dict)

    def command(self) -> str:
        """The command that executes the page."""
        return f"make page PAGE={self.name}"


PAGES: tuple[ScalePage, ...] = (
    ScalePage(
        name="b2_paper_steps",
        chapter="b2_implicit_densities",
        profile="paper",
        parameters={"matvec": "dense", "threads": 1},
        title="B2 at the paper's steps: 50,000 per model at learning rate $10^{-4}$",
        why=("Chapter B2 at the `paper` profile: every model trains 50,000 Adam steps at the paper's learning "
             f"rate $10^{{-4}}$ (the published chapter: {_B2['reverse_steps']:,} steps at learning rates "
             f"{_B2['reverse_lr']:g} and {_B2['forward_lr']:g}). Two settings differ "
             "from the profile: the metric's products are formed from the $2 \\times 2$ matrix (`matvec "
             "\"dense\"`), the same estimator as the paper's Jacobian-vector route, which B2 checks to agree "
             "to rounding, at a small part of its cost on a CPU (the page prints both routes' times); and "
             "torch runs on one thread, as the "
             "published chapters do (the networks are too small to gain from a second)."),
    ),
    ScalePage(
        name="b3_uniform_prior",
        chapter="b3_likelihood_maximization",
        profile="cpu",
        parameters={"prior": "uniform"},
        title="B3 with the paper's uniform prior",
        why=("Chapter B3 with the prior of the paper's CelebA DCGAN, uniform on $[-1, 1]^{100}$: an MNIST DCGAN "
             "trained with that prior (architecture, data and epochs of A1's) and every likelihood ascent "
             "of the chapter run under it, so that the prior term no longer pulls $z$ towards the origin "
             "inside the box. Everything else is the `cpu` profile's."),
    ),
    ScalePage(
        name="b4_longer_training",
        chapter="b4_explanatory_factors",
        profile="cpu",
        parameters={"epochs": 4 * _B4_EPOCHS},
        title="B4 with the family trained four times longer",
        why=(f"Chapter B4 with every DCGAN of the family trained for {4 * _B4_EPOCHS} epochs instead of the "
             f"published chapter's {_B4_EPOCHS}, to see whether its findings hold for models whose losses "
             "have settled (their curves are in the chapter's training section). The paper trains its "
             "CelebA family for about 120 epochs on a GPU; everything else is the `cpu` profile's."),
    ),
    ScalePage(
        name="a4_paper_triplets",
        chapter="a4_latent_densities",
        profile="cpu",
        parameters={"latent_triplets": 50000},
        title="A4 with 50,000 latent triplets",
        why=("Chapter A4 with 50,000 triplets $(z, G(z), \\log\\mathcal N(z))$ per latent "
             f"regressor instead of the published chapter's {_LATENT_TRIPLETS:,}. The paper samples \"many\" "
             "triplets without giving their number; 50,000 is the size of the sample pool of its section 5.2. "
             "Everything else, the InfoGANs and the regressors' width and epochs included, is the `cpu` "
             "profile's, so the two pages differ in the latent regressors' training data, and with the same "
             "epochs over more data, in their number of gradient steps. CIFAR-10, the paper's natural "
             "images, needs a local data_root: the photo patches stand in, as in the chapter."),
    ),
    ScalePage(
        name="d2_paper_table1",
        chapter="d2_mixtures",
        profile="cpu",
        parameters={"features": 256, "blocks": 8, "steps": 20000, "snapshots": [1000, 5000, 20000]},
        title="D2 at the paper's scale: 256 features, 8 blocks, 20,000 steps",
        why=("Chapter D2 with the paper's generator, 256 features and 8 blocks (appendix C.2), trained for "
             "20,000 steps per run (the paper does not state its training length; 20,000 is the `paper` "
             "profile's), and the normalizer study's snapshots after 1,000, 5,000 and 20,000 steps. Everything "
             "else is the `cpu` profile's: 5 runs per mixture, batch 128, K = 256, k = 0.5, the capacity "
             "sweep's sizes. Its 16 LED runs take about 9 CPU-hours on this project's 2-core machines: they "
             "were trained once into the model cache, in the background, and this page read them from there "
             "(its last lines print the runs' training times; the runtime below is the page's own)."),
    ),
)


def page(name: str) -> ScalePage:
    """The registered page ``name``; ``ValueError`` listing the pages when there is none."""
    for p in PAGES:
        if p.name == name:
            return p
    raise ValueError(f"no page {name!r} at the papers' scale; pages: {', '.join(p.name for p in PAGES)}")
