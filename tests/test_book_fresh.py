"""The published book matches its sources: every chapter executed, current, at the cpu profile, error-free,
with the package code of this repository, within its time budget, and the scorecard up to date."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jupytext
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
from gandensity.book import scorecard
from gandensity.book.chapter import package_version

CPU_BUDGET_S = 240  # a chapter's cpu profile runs in at most 4 minutes on this project's 2-core machines
BOOK_BUDGET_S = 45 * 60  # the whole book at the cpu profile, at most 45 minutes
SOURCES = sorted((ROOT / "notebooks").glob("*.py"))


def code_cells(cells: list[dict]) -> list[str]:
    return ["".join(c["source"]).strip() for c in cells
            if c["cell_type"] == "code" and "injected-parameters" not in c.get("metadata", {}).get("tags", [])]


def test_there_are_chapters():
    assert SOURCES, "notebooks/ holds no chapter"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_published_chapter_is_current(source: Path):
    published = ROOT / "book" / f"{source.stem}.ipynb"
    assert published.exists(), f"{published} missing: run `make chapter NB={source.stem}`"
    src = jupytext.read(source)
    out = json.loads(published.read_text())
    assert code_cells(out["cells"]) == code_cells(src.cells), (
        f"{published.name} is stale against notebooks/{source.name}: run `make chapter NB={source.stem}`")
    tags = [c.get("metadata", {}).get("tags", []) for c in src.cells]
    assert sum("parameters" in t for t in tags) == 1, "a chapter needs exactly one cell tagged 'parameters'"
    injected = [c for c in out["cells"] if "injected-parameters" in c.get("metadata", {}).get("tags", [])]
    assert injected and 'profile = "cpu"' in "".join(injected[0]["source"]), "the book is published at profile cpu"
    errors = [o for c in out["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{published.name} holds error outputs"
    checked = [c for c in out["cells"] if "NBVAL_CHECK_OUTPUT" in "".join(c["source"])]
    assert any("run.verdicts()" in "".join(c["source"]) for c in checked), (
        "a chapter ends with a `# NBVAL_CHECK_OUTPUT` cell that prints run.verdicts()")
    assert scorecard.chapter_claims(published), f"{published.name} shows no claims (run.show_claims())"


def test_every_chapter_is_in_the_table_of_contents():
    toc = (ROOT / "_toc.yml").read_text()
    yaml.safe_load(toc)
    for source in SOURCES:
        assert f"book/{source.stem}" in toc, f"{source.stem} is not in _toc.yml"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_published_chapter_states_its_runtime_within_budget(source: Path):
    out = json.loads((ROOT / "book" / f"{source.stem}.ipynb").read_text())
    text = "".join("".join(o.get("text", "")) for c in out["cells"] for o in c.get("outputs", []))
    match = re.search(r"profile cpu: chapter ran in (\d+) s", text)
    assert match, "a chapter ends with run.finish(), which prints 'profile <p>: chapter ran in <s> s'"
    assert int(match.group(1)) <= CPU_BUDGET_S, f"{source.stem} ran {match.group(1)} s > {CPU_BUDGET_S} s"


def runtime_s(source: Path) -> int:
    out = json.loads((ROOT / "book" / f"{source.stem}.ipynb").read_text())
    text = "".join("".join(o.get("text", "")) for c in out["cells"] for o in c.get("outputs", []))
    match = re.search(r"profile cpu: chapter ran in (\d+) s", text)
    return int(match.group(1)) if match else 0


def test_the_whole_book_runs_within_budget():
    total = sum(runtime_s(s) for s in SOURCES)
    assert total <= BOOK_BUDGET_S, f"the published chapters ran {total} s in all > {BOOK_BUDGET_S} s"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_published_chapter_ran_with_this_package_code(source: Path):
    out = json.loads((ROOT / "book" / f"{source.stem}.ipynb").read_text())
    text = "".join("".join(o.get("text", "")) for c in out["cells"] for o in c.get("outputs", []))
    match = re.search(r"gandensity code ([0-9a-f]{12})", text)
    assert match, f"{source.stem} does not print its package code version (run.start prints it)"
    assert match.group(1) == package_version(), (
        f"{source.stem} ran with package code {match.group(1)}, the repository's is {package_version()}: "
        "republish the book (`make book`) so that every chapter ran with the same code")


def test_scorecard_is_current():
    claims = scorecard.scorecard_claims(ROOT / "book")
    for name, expected in (("scorecard.json", scorecard.scorecard_json(claims)),
                           ("scorecard.md", scorecard.scorecard_markdown(claims))):
        path = ROOT / "book" / name
        assert path.exists() and path.read_text() == expected, (
            f"book/{name} is stale against the published chapters: run `python -m gandensity.book.scorecard`")
    records = json.loads((ROOT / "book" / "scorecard.json").read_text())
    assert records and all(set(r) == set(scorecard.JSON_KEYS) for r in records)
    assert {r["paper"] for r in records} == {"000", "001", "002", "003"}


def test_chapters_that_share_the_mnist_dcgan_print_the_same_training_summary():
    # A1's DCGAN at the cpu profile (width 32, 1 channel, 20 epochs) is shared by A1-A4, B1, B3, C1-C3.
    summaries = {}
    for source in SOURCES:
        out = json.loads((ROOT / "book" / f"{source.stem}.ipynb").read_text())
        text = "".join("".join(o.get("text", "")) for c in out["cells"] for o in c.get("outputs", []))
        for line in re.findall(r"DCGAN \(width 32, 1 channel\(s\), latent 100\) [a-z ]+: 20 epochs.*\n.*last epoch: [^\n]*", text):
            summaries[source.stem] = line.split("last epoch:")[1].strip()
    assert len(set(summaries.values())) <= 1, f"chapters print different MNIST DCGANs: {summaries}"


PUBLISHED = [ROOT / "book" / f"{s.stem}.ipynb" for s in SOURCES] + sorted((ROOT / "book" / "scale").glob("*.ipynb"))


@pytest.mark.parametrize("published", PUBLISHED, ids=lambda p: p.stem)
def test_printed_lines_fit_the_page(published: Path):
    # What the browser test measures, without a browser: printed lines of at most 88 characters fit a code
    # block at a 1600 px window, and at most 80 inside a collapsed (hide-cell) cell, which is padded more.
    # Pages at the papers' scale (book/scale/) print other numbers with the same code: checked too.
    out = json.loads(published.read_text())
    wide = []
    for cell in out["cells"]:
        limit = 80 if "hide-cell" in cell.get("metadata", {}).get("tags", []) else 88
        for o in cell.get("outputs", []):
            if "text/html" in o.get("data", {}) or "image/png" in o.get("data", {}):
                continue
            text = "".join(o.get("text", "")) or "".join(o.get("data", {}).get("text/plain", ""))
            wide += [line[:60] for line in text.splitlines() if len(line) > limit]
    assert not wide, f"{published.stem}: printed lines wider than the page: {wide[:3]}"


@pytest.mark.parametrize("published", PUBLISHED, ids=lambda p: p.stem)
def test_no_cell_prints_a_stray_out(published: Path):
    # A cell whose last line is an expression shows its value as "Out[...]" (e.g. a call that returns what it
    # was given): noise on the page. Chapters show tables with display() and hand numbers to the prose by glue.
    out = json.loads(published.read_text())
    stray = [("".join(c["source"]).strip().splitlines() or [""])[-1][:60] for c in out["cells"]
             if any(o.get("output_type") == "execute_result" for o in c.get("outputs", []))]
    assert not stray, f"{published.stem}: cells print an Out[] value; end them with a statement: {stray[:3]}"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_chapter_code_fits_the_page_and_uses_only_public_names(source: Path):
    cells = [c for c in jupytext.read(source).cells if c.cell_type == "code"]
    long = [line for c in cells for line in c.source.splitlines() if len(line) > 88]
    assert not long, f"{source.name}: code lines over 88 characters: {long[:3]}"
    # A collapsed cell (hide-input, hide-cell) is padded more: an 88-character line scrolls there (A2 did).
    hidden = [c for c in cells if {"hide-input", "hide-cell"} & set(c.metadata.get("tags", []))]
    long = [line for c in hidden for line in c.source.splitlines() if len(line) > 87]
    assert not long, f"{source.name}: lines over 87 characters in collapsed cells: {long[:3]}"
    private = [m for c in cells for m in re.findall(r"(?:import [^\n]*\b_[a-z]\w*|\b[a-z]\w*\._[a-z]\w*)",
                                                      c.source)]
    assert not private, f"{source.name} reaches private names: {private[:5]}"
    setup = [c for c in cells if "start(" in c.source and "parameters" not in c.metadata.get("tags", [])]
    assert setup and "hide-cell" in setup[0].metadata.get("tags", []), (
        f"{source.name}: the set-up cell (the one calling start(...)) is tagged hide-cell")


# Pages at the papers' scale (gandensity.book.pages): not re-executed by nbval (up to an hour each), so these
# tests hold them to the chapters' standard of freshness without running them.
from gandensity.book.pages import PAGE_BUDGET_S, PAGES
from gandensity.book.runner import PAGE_TAG


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_page_at_the_papers_scale_is_current(page):
    path = ROOT / "book" / "scale" / f"{page.name}.ipynb"
    assert path.exists(), f"{path} missing: run `{page.command()}`"
    assert f"book/scale/{page.name}" in (ROOT / "_toc.yml").read_text(), f"{page.name} is not in _toc.yml"
    out = json.loads(path.read_text())
    own = [c for c in out["cells"] if PAGE_TAG not in c.get("metadata", {}).get("tags", [])]
    source = jupytext.read(ROOT / "notebooks" / f"{page.chapter}.py")
    assert code_cells(own) == code_cells(source.cells), (
        f"{path.name} is stale against notebooks/{page.chapter}.py: run `{page.command()}`")
    injected = "".join(next(c["source"] for c in out["cells"]
                            if "injected-parameters" in c.get("metadata", {}).get("tags", [])))
    for key, value in {"profile": page.profile, **page.parameters}.items():
        assert f"{key} = {value!r}".replace("'", '"') in injected.replace("'", '"'), (
            f"{path.name} did not run with {key}={value!r}: run `{page.command()}`")
    errors = [o for c in out["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{path.name} holds error outputs"
    assert scorecard.chapter_claims(path), f"{path.name} shows no claims"
    text = "".join("".join(o.get("text", "")) for c in out["cells"] for o in c.get("outputs", []))
    version = re.search(r"gandensity code ([0-9a-f]{12})", text)
    assert version and version.group(1) == package_version(), (
        f"{path.name} ran with package code {version and version.group(1)}, the repository's is "
        f"{package_version()}: run `{page.command()}`")
    runtime = re.search(rf"profile {page.profile}: chapter ran in (\d+) s", text)
    assert runtime and int(runtime.group(1)) <= PAGE_BUDGET_S, f"{path.name}: runtime missing or over an hour"
