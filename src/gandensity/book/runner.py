"""Run one chapter into the book, safely: ``python -m gandensity.book.runner NB [--profile P] [-p KEY VALUE ...]``.

The chapter ``notebooks/<NB>.py`` (Jupytext percent format) is converted to a notebook and executed by
papermill into ``book/.<NB>.tmp.ipynb``, which replaces ``book/<NB>.ipynb`` (``os.replace``) only when every
cell ran: a failed run never overwrites the published chapter, and its partial output stays in the temporary
file to inspect.

Before anything runs, the names given with ``-p``/``-r`` are compared with the notebook's parameters cell
(``papermill.inspect_notebook``): a misspelt name is an error (exit status 2) that lists the valid ones, rather
than a parameter papermill would inject and the chapter would silently ignore. Values given with ``-p`` are read
as papermill reads them (``True``/``False``/``None``, then integers, then floats, else the string); ``-r``
passes the value as a string (``-r data_root 2024``).

``make chapter NB=<name> PROFILE=<profile> PARAMS="-p epochs 3"`` calls this module. ``--page NAME`` executes a
page at the papers' scale (:mod:`gandensity.book.pages`) into ``book/scale/NAME.ipynb`` instead, with the
registered profile and parameters (``make page PAGE=NAME``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Sequence

__all__ = ["parse_value", "notebook_parameters", "check_parameters", "run_chapter", "run_page", "main",
           "PAGE_TAG"]

EXIT_USAGE = 2
EXIT_FAILED = 1
PAGE_TAG = "scale-page"  # cells a page adds to its chapter's (tests compare the others with the chapter)


def parse_value(value: str) -> Any:
    """A ``-p`` value as papermill's command line reads it: bool, None, int, float, else the string."""
    if value == "True":
        return True
    if value == "False":
        return False
    if value == "None":
        return None
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def notebook_parameters(notebook: Any) -> dict[str, dict[str, Any]]:
    """The parameters cell of ``notebook`` (a path or an nbformat node): name -> papermill's description."""
    import papermill
    return dict(papermill.inspect_notebook(notebook))


def check_parameters(given: Sequence[str], valid: Sequence[str], chapter: str) -> None:
    """Raise ``ValueError`` naming the unknown parameters of ``given`` and listing ``valid``."""
    unknown = [name for name in given if name not in valid]
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown} for chapter {chapter}; its parameters cell defines: "
                         f"{', '.join(valid)}")


def _chapters(notebooks: Path) -> list[str]:
    return sorted(p.stem for p in notebooks.glob("*.py"))


def run_chapter(chapter: str, parameters: dict[str, Any], *, notebooks: str | os.PathLike = "notebooks",
                book: str | os.PathLike = "book", kernel: str = "python3", progress: bool = False) -> Path:
    """Execute ``notebooks/<chapter>.py`` with ``parameters`` into ``book/<chapter>.ipynb``; return that path.

    Raises:
        FileNotFoundError: no such chapter (the message lists the chapters).
        ValueError: a parameter the notebook's parameters cell does not define (the message lists them).
        papermill.PapermillExecutionError: a cell failed; ``book/<chapter>.ipynb`` is left as it was and the
            partial run stays in ``book/.<chapter>.tmp.ipynb``.
    """
    notebooks, book = Path(notebooks), Path(book)
    source = notebooks / f"{chapter}.py"
    if not source.is_file():
        raise FileNotFoundError(f"no chapter {chapter!r}: {source} does not exist; chapters: "
                                f"{', '.join(_chapters(notebooks)) or '(none)'}")
    nb = _read(source, chapter, parameters, kernel)
    return _execute(nb, parameters, book, book, chapter, kernel, progress)


def _read(source: Path, chapter: str, parameters: dict[str, Any], kernel: str) -> Any:
    """The chapter's source as a notebook, its parameters checked against ``parameters``."""
    import jupytext

    nb = jupytext.read(source)
    nb.metadata.setdefault("kernelspec", {"name": kernel, "language": "python",
                                        "display_name": "Python 3" if kernel == "python3" else kernel})
    valid = list(notebook_parameters(nb))
    if not valid:
        raise ValueError(f"{source} has no cell tagged 'parameters', so no parameter can be passed to it")
    check_parameters(list(parameters), valid, chapter)
    return nb


def _execute(nb: Any, parameters: dict[str, Any], folder: Path, cwd: Path, name: str, kernel: str,
             progress: bool) -> Path:
    """Execute ``nb`` into ``folder/.<name>.tmp.ipynb`` (in ``cwd``), then move it to ``folder/<name>.ipynb``."""
    import papermill

    folder.mkdir(parents=True, exist_ok=True)
    tmp, target = folder / f".{name}.tmp.ipynb", folder / f"{name}.ipynb"
    papermill.execute_notebook(nb, str(tmp), parameters=dict(parameters), kernel_name=kernel, cwd=str(cwd),
                               progress_bar=progress)
    os.replace(tmp, target)  # only now: a failed run raised above and left the published notebook alone
    return target


def run_page(name: str, *, notebooks: str | os.PathLike = "notebooks", book: str | os.PathLike = "book",
             kernel: str = "python3", progress: bool = False) -> Path:
    """Execute the page at the papers' scale ``name`` (see :mod:`gandensity.book.pages`) into
    ``book/scale/<name>.ipynb``; return that path.

    The page is the chapter's source with the page's title, a note under it (what the page changes, the
    command, that CI does not re-execute it) and, at the end, its verdicts beside the published chapter's
    (``book/<chapter>.ipynb`` as it is when the page runs); the cells it adds are tagged :data:`PAGE_TAG`.
    It runs in ``book/``, as the chapters do. Raises as :func:`run_chapter` (``ValueError`` for an unknown
    page, listing the pages).
    """
    import nbformat

    from gandensity.book.pages import page as find_page

    spec = find_page(name)
    notebooks, book = Path(notebooks), Path(book)
    source = notebooks / f"{spec.chapter}.py"
    if not source.is_file():
        raise FileNotFoundError(f"page {name} executes chapter {spec.chapter}, but {source} does not exist")
    parameters = {"profile": spec.profile, **spec.parameters}
    nb = _read(source, spec.chapter, parameters, kernel)
    title = next((c for c in nb.cells if c.cell_type == "markdown"), None)
    if title is None or not title.source.startswith("# "):
        raise ValueError(f"{source} does not open with a markdown cell holding its '# ' title")
    rest = title.source.split("\n", 1)
    title.source = f"# {spec.title}" + (f"\n{rest[1]}" if len(rest) > 1 else "")
    settings = ", ".join(f"`{k}={v!r}`" for k, v in spec.parameters.items()) or "none"
    label = spec.chapter.split("_")[0].upper()
    note = (f"```{{note}}\nThis page is chapter {{doc}}`{label} </book/{spec.chapter}>` executed by "
            f"`{spec.command()}`: profile `{spec.profile}`, parameters {settings}.\n\n{spec.why}\n\n"
            f"It runs for up to an hour on this project's 2-core machines (its last line states its runtime), "
            f"so CI does not re-execute it (`make test` re-executes the published chapters); tests check "
            f"that it ran the chapter's code with this repository's package code, without errors. The "
            f"chapter's prose below reads this run's numbers; its last section sets this page's verdicts "
            f"beside the chapter's.\n```")
    _relabel(nb, name)
    tag = {"tags": [PAGE_TAG]}
    position = nb.cells.index(title) + 1
    nb.cells.insert(position, nbformat.v4.new_markdown_cell(note, metadata=tag))
    nb.cells += [
        nbformat.v4.new_markdown_cell(
            f"## Beside the published chapter\n\nEach claim of this page with its verdict and value in "
            f"{{doc}}`chapter {label} </book/{spec.chapter}>`, read from the chapter's notebook when this page "
            f"ran.", metadata=tag),
        nbformat.v4.new_code_cell(
            "from IPython.display import Markdown, display\n\nfrom gandensity.book.scorecard import verdicts_beside\n\n"
            f"display(Markdown(verdicts_beside(run.claims, {spec.chapter + '.ipynb'!r})))", metadata=tag),
    ]
    return _execute(nb, parameters, book / "scale", book, name, kernel, progress)


def _relabel(nb: Any, prefix: str) -> None:
    """Prefix the targets that ``nb``'s markdown defines (``:name: fig-x``), and its references to them
    (``{numref}`fig-x```, ``{ref}`text <fig-x>```), with ``prefix``: Sphinx labels are global to the book, and a
    page repeats its chapter's. Relative ``{doc}`` targets become absolute (``/book/<target>``)."""
    import re

    cells = [c for c in nb.cells if c.cell_type == "markdown"]
    for cell in cells:  # a chapter's relative {doc} targets are siblings in book/; the page is in book/scale/
        cell.source = re.sub(r"(\{doc\}`[^`<]*<)(?!/)([^`>]+>`)", r"\g<1>/book/\g<2>", cell.source)
        cell.source = re.sub(r"(\{doc\}`)(?![/`])([^`<]+`)", r"\g<1>/book/\g<2>", cell.source)
    labels = {m for c in cells for m in re.findall(r":name:\s*(\S+)", c.source)}
    if not labels:
        return
    names = "|".join(re.escape(label) for label in sorted(labels, key=len, reverse=True))
    for cell in cells:
        cell.source = re.sub(rf"(:name:\s*)({names})\b", rf"\g<1>{prefix}-\g<2>", cell.source)
        cell.source = re.sub(rf"(\{{(?:numref|ref)\}}`(?:[^`<]*<)?)({names})(>?`)", rf"\g<1>{prefix}-\g<2>\g<3>",
                             cell.source)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m gandensity.book.runner",
        description="Execute notebooks/NB.py into book/NB.ipynb (replaced only when the run succeeds).")
    parser.add_argument("chapter", metavar="NB", nargs="?",
                        help="chapter name, e.g. a1_exact_density (or notebooks/NB.py)")
    parser.add_argument("--page", default=None,
                        help="a page at the papers' scale (gandensity.book.pages), instead of NB")
    parser.add_argument("--profile", default=None, help="smoke | cpu | paper (default: the notebook's, cpu)")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("KEY", "VALUE"),
                        help="a notebook parameter, read as papermill reads -p (True/False/None, int, float, str)")
    parser.add_argument("-r", "--raw", nargs=2, action="append", default=[], metavar=("KEY", "VALUE"),
                        help="a notebook parameter passed as a string (e.g. -r data_root 2024)")
    parser.add_argument("--notebooks", default="notebooks", help="folder of the chapters' sources")
    parser.add_argument("--book", default="book", help="folder of the executed chapters")
    parser.add_argument("--kernel", default="python3", help="Jupyter kernel (default python3)")
    parser.add_argument("--progress", action="store_true", help="show papermill's progress bar")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command line; returns the exit status (0 success, 1 the chapter failed, 2 a usage error)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.page is not None:
        if args.chapter or args.parameter or args.raw or args.profile:
            parser.error("--page runs a registered page with its own profile and parameters; give no NB, "
                         "--profile, -p or -r with it (gandensity.book.pages lists them)")
        try:
            target = run_page(args.page, notebooks=args.notebooks, book=args.book, kernel=args.kernel,
                              progress=args.progress)
        except (FileNotFoundError, ValueError) as err:
            print(f"{parser.prog}: error: {err}", file=sys.stderr)
            return EXIT_USAGE
        except Exception as err:  # noqa: BLE001 - papermill's execution error: report and keep the page
            tmp = Path(args.book) / "scale" / f".{args.page}.tmp.ipynb"
            print(f"{parser.prog}: page {args.page} failed ({type(err).__name__}); the published page is "
                  f"unchanged; the partial run is in {tmp}\n{err}", file=sys.stderr)
            return EXIT_FAILED
        print(f"wrote {target}")
        return 0
    if not args.chapter:
        parser.error("give a chapter (NB) or --page NAME")
    chapter = Path(args.chapter).name.removesuffix(".py").removesuffix(".ipynb")
    parameters: dict[str, Any] = {}
    for key, value in args.parameter:
        parameters[key] = parse_value(value)
    for key, value in args.raw:
        parameters[key] = value
    profile = args.profile
    if "profile" in parameters:
        if profile is not None:
            parser.error("the profile is given twice (--profile and -p profile); pass it once, with --profile")
        profile = parameters.pop("profile")
    if profile is not None:
        from gandensity.book.profiles import PROFILES
        if profile not in PROFILES:
            parser.error(f"unknown profile {profile!r}; valid profiles: {', '.join(PROFILES)}")
        parameters = {"profile": profile, **parameters}
    try:
        target = run_chapter(chapter, parameters, notebooks=args.notebooks, book=args.book, kernel=args.kernel,
                             progress=args.progress)
    except (FileNotFoundError, ValueError) as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as err:  # noqa: BLE001 - papermill's execution error: report and keep the published chapter
        tmp = Path(args.book) / f".{chapter}.tmp.ipynb"
        print(f"{parser.prog}: chapter {chapter} failed ({type(err).__name__}); {Path(args.book) / chapter}.ipynb "
              f"is unchanged; the partial run is in {tmp}\n{err}", file=sys.stderr)
        return EXIT_FAILED
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
