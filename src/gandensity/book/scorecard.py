"""The scorecard: every experimental claim of the four papers, with our value and verdict.

Generated from the published chapters (the claims each chapter displayed with ``run.show_claims()``), the
pages at the papers' scale (:mod:`gandensity.book.pages`) and :data:`gandensity.book.catalogue.NOT_RUN` (the
claims no chapter runs yet, with the reason), into
``book/scorecard.md`` (the page after the introduction) and ``book/scorecard.json`` (a list of objects
with the keys of :data:`JSON_KEYS`). ``python -m gandensity.book.scorecard`` rewrites both;
``tests/test_book_fresh.py`` fails when they are stale against the published chapters.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections import Counter
from pathlib import Path

from gandensity.book.catalogue import NOT_RUN
from gandensity.book.chapter import CLAIMS_KEY
from gandensity.book.claims import PAPERS, VERDICTS, Claim, claims_markdown
from gandensity.book.pages import PAGES

__all__ = ["JSON_KEYS", "chapter_claims", "scorecard_claims", "scorecard_json", "scorecard_markdown",
           "verdicts_beside", "write"]

JSON_KEYS = ("paper", "where", "claim", "paper_value", "ours", "verdict", "scale", "chapter")
ROOT = Path(__file__).resolve().parents[3]


def chapter_claims(notebook: Path) -> list[Claim]:
    """The claims a published chapter displayed (empty when it displayed none)."""
    nb = json.loads(Path(notebook).read_text())
    found: list[Claim] = []
    for cell in nb["cells"]:
        for output in cell.get("outputs", []):
            records = output.get("metadata", {}).get(CLAIMS_KEY)
            if records:
                found += [Claim.from_record(r) for r in records]
    return found


def scorecard_claims(book: Path | None = None) -> list[Claim]:
    """Chapter claims in book order (paper, then chapter; pages at the papers' scale after the chapters, as
    ``scale/<page>``), then the catalogue's claims that no chapter runs."""
    book = Path(book) if book is not None else ROOT / "book"
    claims = [c for nb in sorted(book.glob("[a-z][0-9]_*.ipynb")) for c in chapter_claims(nb)]
    for page in PAGES:  # pages at the papers' scale: their claims link to the page
        path = book / "scale" / f"{page.name}.ipynb"
        if path.exists():
            claims += [dataclasses.replace(c, chapter=f"scale/{page.name}") for c in chapter_claims(path)]
    claims += list(NOT_RUN)
    return sorted(claims, key=lambda c: (c.paper, c.chapter == "", c.chapter))


def verdicts_beside(here: list[Claim], published: Path | str) -> str:
    """A markdown table: each claim of a page at the papers' scale with its verdict beside the published chapter's.

    ``published`` is the chapter's executed notebook (``book/<chapter>.ipynb``); a claim it does not show (or a
    missing chapter) reads "—".
    """
    path = Path(published)
    theirs = {(c.paper, c.where): c for c in chapter_claims(path)} if path.exists() else {}
    lines = ["| paper | where | verdict here | ours here | verdict in the chapter | ours in the chapter |",
             "|---|---|---|---|---|---|"]
    for c in here:
        other = theirs.get((c.paper, c.where))
        cells = [c.paper, c.where, c.verdict.label, c.ours,
                 other.verdict.label if other else "—", other.ours if other else "—"]
        lines.append("| " + " | ".join(x.replace("|", "\\|").replace("\n", " ") for x in cells) + " |")
    return "\n".join(lines)


def scorecard_json(claims: list[Claim]) -> str:
    return json.dumps([{k: c.record()[k] for k in JSON_KEYS} for c in claims], indent=1, ensure_ascii=False) + "\n"


def scorecard_markdown(claims: list[Claim]) -> str:
    counts = Counter((c.paper, c.verdict.label) for c in claims)
    lines = [
        "# Scorecard",
        "",
        "Every experimental claim of the four papers that this book knows of, with the paper's value exactly",
        "as the paper prints it, ours as the chapter computed it, and a verdict that a rule in the chapter's",
        "code computes (the rule column states it with its numbers). `inconclusive` means our interval over",
        "seeds or resamples contains the threshold: a retrained model could land on either side. `not run`",
        "says why. Our runs are smaller than the papers' (the scale column says how); a verdict is about",
        "our scale. Rows whose chapter is `scale/...` come from a page that runs a chapter once more with a",
        "setting of its paper (its step count, prior, training length or sample count; the page says which),",
        "listed beside the chapter in the table of contents.",
        "This page is generated from the published chapters by",
        "`python -m gandensity.book.scorecard`, also as `book/scorecard.json`.",
        "",
        "| paper | " + " | ".join(VERDICTS) + " |",
        "|---|" + "---|" * len(VERDICTS),
    ]
    for paper, name in PAPERS.items():
        lines.append(f"| {paper} {name} | " + " | ".join(str(counts[(paper, v)]) for v in VERDICTS) + " |")
    for paper, name in PAPERS.items():
        rows = [c for c in claims if c.paper == paper]
        lines += ["", f"## Paper {paper}: {name}", ""]
        lines.append(claims_markdown(rows, chapter_links=True) if rows else "No claim recorded yet.")
    return "\n".join(lines) + "\n"


def write(book: Path | None = None) -> tuple[Path, Path]:
    """Regenerate ``scorecard.md`` and ``scorecard.json`` in ``book`` (default: the repository's)."""
    book = Path(book) if book is not None else ROOT / "book"
    claims = scorecard_claims(book)
    md, js = book / "scorecard.md", book / "scorecard.json"
    md.write_text(scorecard_markdown(claims))
    js.write_text(scorecard_json(claims))
    return md, js


if __name__ == "__main__":
    for path in write(Path(sys.argv[1]) if len(sys.argv) > 1 else None):
        print(f"wrote {path}")
