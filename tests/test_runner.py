"""The chapter runner: unknown parameters refused before running, the published chapter replaced only on success."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from gandensity.book import runner

CHAPTER = '''# %% tags=["parameters"]
profile = "cpu"  # smoke | cpu | paper
epochs = None  # training epochs
data_root = None  # a path
fail = False  # raise, to test a failed run

# %%
print(f"profile={profile!r} epochs={epochs!r} data_root={data_root!r}")

# %%
if fail:
    raise RuntimeError("the chapter failed on purpose")
'''


@pytest.fixture
def tree(tmp_path, monkeypatch):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "book").mkdir()
    (tmp_path / "notebooks" / "z1_test.py").write_text(CHAPTER)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _printed(path: Path) -> str:
    nb = json.loads(path.read_text())
    return "".join("".join(o.get("text", "")) for c in nb["cells"] if c["cell_type"] == "code"
                   for o in c.get("outputs", []))


@pytest.mark.parametrize("text", ["True", "False", "None", "3", "-2", "1.5", "1e-3", "2024", "abc", "cpu", "'x'", ""])
def test_values_are_read_as_papermill_reads_them(text):
    from papermill.cli import _resolve_type
    value = runner.parse_value(text)
    assert value == _resolve_type(text) and type(value) is type(_resolve_type(text))


def test_check_parameters_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['epoch'\] for chapter a1.*profile, epochs"):
        runner.check_parameters(["epoch"], ["profile", "epochs"], "a1")
    runner.check_parameters(["epochs"], ["profile", "epochs"], "a1")


def test_unknown_parameter_exits_2_before_running(tree, capsys):
    published = tree / "book" / "z1_test.ipynb"
    published.write_text("{}")
    assert runner.main(["z1_test", "--profile", "smoke", "-p", "epoch", "3"]) == 2
    err = capsys.readouterr().err
    assert "unknown parameter(s) ['epoch'] for chapter z1_test" in err
    assert "profile, epochs, data_root, fail" in err
    assert published.read_text() == "{}" and not (tree / "book" / ".z1_test.tmp.ipynb").exists()


def test_unknown_chapter_and_profile_exit_2(tree, capsys):
    assert runner.main(["z9_nothing"]) == 2
    err = capsys.readouterr().err
    assert "no chapter 'z9_nothing'" in err and "chapters: z1_test" in err
    with pytest.raises(SystemExit) as exit_info:
        runner.main(["z1_test", "--profile", "fast"])
    assert exit_info.value.code == 2
    assert "unknown profile 'fast'; valid profiles: smoke, cpu, paper" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        runner.main(["z1_test", "--profile", "smoke", "-p", "profile", "cpu"])
    assert "given twice" in capsys.readouterr().err


def test_success_replaces_the_published_chapter(tree, capsys):
    published = tree / "book" / "z1_test.ipynb"
    published.write_text("{}")
    status = runner.main(["notebooks/z1_test.py", "--profile", "smoke", "-p", "epochs", "3",
                          "-r", "data_root", "2024"])
    assert status == 0, capsys.readouterr().err
    assert "profile='smoke' epochs=3 data_root='2024'" in _printed(published)
    assert not (tree / "book" / ".z1_test.tmp.ipynb").exists()


def test_failed_run_keeps_the_published_chapter(tree, capsys):
    published = tree / "book" / "z1_test.ipynb"
    published.write_text("{}")
    assert runner.main(["z1_test", "-p", "fail", "True"]) == 1
    err = capsys.readouterr().err
    assert "chapter z1_test failed" in err and "is unchanged" in err and ".z1_test.tmp.ipynb" in err
    assert published.read_text() == "{}"  # untouched
    partial = tree / "book" / ".z1_test.tmp.ipynb"
    assert "the chapter failed on purpose" in partial.read_text()  # kept to inspect


def test_module_runs_from_the_command_line(tree):
    import subprocess
    out = subprocess.run([sys.executable, "-m", "gandensity.book.runner", "z1_test", "-p", "epoch", "1"],
                         capture_output=True, text=True)
    assert out.returncode == 2 and "unknown parameter(s) ['epoch']" in out.stderr


PAGE_CHAPTER = '''# %% [markdown]
# # Z2. A chapter
#
# Its text, with {numref}`fig-z2-a`, {numref}`Figure %s <fig-z2-a>` and {numref}`fig-elsewhere`.
# See {doc}`intro`, {doc}`the scale page </book/scale/z2_big>` and {doc}`chapter A1 <a1_exact_density>`.
#
# ```{glue:figure} z2-a
# :name: fig-z2-a
# ```

# %% tags=["parameters"]
profile = "cpu"  # smoke | cpu | paper
steps = None  # steps
fail = False  # raise, to test a failed run

# %%
from gandensity.book.claims import Claim, above

print(f"profile={profile!r} steps={steps!r}")
if fail:
    raise RuntimeError("the page failed on purpose")


class Run:  # what a chapter's run holds for the page's last cell
    claims = [Claim(paper="000", where="Fig. 1", claim="c", paper_value="v", ours=str(steps),
                    verdict=above(float(steps or 0), 1.0, what="steps"), scale="s", chapter="z2_test")]


run = Run()
'''


@pytest.fixture
def page_tree(tree, monkeypatch):
    from gandensity.book import pages

    (tree / "notebooks" / "z2_test.py").write_text(PAGE_CHAPTER)
    registered = (pages.ScalePage(name="z2_big", chapter="z2_test", profile="smoke", title="Z2 at scale",
                                  why="It trains longer.", parameters={"steps": 5}),
                  pages.ScalePage(name="z2_broken", chapter="z2_test", profile="smoke", title="Z2 broken",
                                  why="It fails.", parameters={"fail": True}),
                  pages.ScalePage(name="z2_typo", chapter="z2_test", profile="smoke", title="Z2 typo",
                                  why="A parameter the chapter lacks.", parameters={"step": 5}))
    monkeypatch.setattr(pages, "PAGES", registered)
    return tree


def test_page_runs_the_chapter_with_its_parameters_into_book_scale(page_tree, capsys):
    assert runner.main(["--page", "z2_big"]) == 0, capsys.readouterr().err
    path = page_tree / "book" / "scale" / "z2_big.ipynb"
    assert "profile='smoke' steps=5" in _printed(path)
    cells = json.loads(path.read_text())["cells"]
    assert "".join(cells[0]["source"]).startswith("# Z2 at scale\n")  # the page's title, the chapter's text
    text = "".join(cells[0]["source"])
    # its own labels are the page's (Sphinx labels are global); labels of other pages are left alone
    assert "Its text, with {numref}`z2_big-fig-z2-a`, {numref}`Figure %s <z2_big-fig-z2-a>` and " \
           "{numref}`fig-elsewhere`." in text and ":name: z2_big-fig-z2-a" in text
    # the page lives in book/scale/: the chapter's relative {doc} targets are made absolute
    assert "See {doc}`/book/intro`, {doc}`the scale page </book/scale/z2_big>` and {doc}`chapter A1 " \
           "</book/a1_exact_density>`." in text
    added = [c for c in cells if runner.PAGE_TAG in c["metadata"].get("tags", [])]
    assert len(added) == 3 and "make page PAGE=z2_big" in "".join(added[0]["source"])
    assert "It trains longer." in "".join(added[0]["source"])
    table = added[-1]["outputs"][0]["data"]["text/markdown"]
    assert "| 000 | Fig. 1 | reproduced | 5 | — | — |" in "".join(table)  # no published chapter: "—"
    assert not (page_tree / "book" / "scale" / ".z2_big.tmp.ipynb").exists()


def test_page_failure_keeps_the_published_page_and_bad_pages_are_refused(page_tree, capsys):
    published = page_tree / "book" / "scale" / "z2_broken.ipynb"
    published.parent.mkdir()
    published.write_text("{}")
    assert runner.main(["--page", "z2_broken"]) == 1
    assert "page z2_broken failed" in capsys.readouterr().err and published.read_text() == "{}"
    assert runner.main(["--page", "z2_typo"]) == 2
    assert "unknown parameter(s) ['step']" in capsys.readouterr().err
    assert runner.main(["--page", "nope"]) == 2
    assert "pages: z2_big, z2_broken, z2_typo" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        runner.main(["--page", "z2_big", "--profile", "cpu"])  # a page brings its own profile
