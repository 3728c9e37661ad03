"""The published book matches its sources: every chapter executed, current, at the cpu profile, error-free."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jupytext
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CPU_BUDGET_S = 180  # DEVELOPERS.md: a chapter's cpu profile runs in at most 3 minutes on 2 cores
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
    assert any('NBVAL_CHECK_OUTPUT' in "".join(c["source"]) for c in out["cells"]), "no nbval-checked claim"


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
    assert match, "a chapter ends by printing 'profile <p>: chapter ran in <s> s'"
    assert int(match.group(1)) <= CPU_BUDGET_S
