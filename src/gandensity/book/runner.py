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

``make chapter NB=<name> PROFILE=<profile> PARAMS="-p epochs 3"`` calls this module.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Sequence

__all__ = ["parse_value", "notebook_parameters", "check_parameters", "run_chapter", "main"]

EXIT_USAGE = 2
EXIT_FAILED = 1


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
    import jupytext
    import papermill

    notebooks, book = Path(notebooks), Path(book)
    source = notebooks / f"{chapter}.py"
    if not source.is_file():
        raise FileNotFoundError(f"no chapter {chapter!r}: {source} does not exist; chapters: "
                                f"{', '.join(_chapters(notebooks)) or '(none)'}")
    nb = jupytext.read(source)
    nb.metadata.setdefault("kernelspec", {"name": kernel, "language": "python",
                                        "display_name": "Python 3" if kernel == "python3" else kernel})
    valid = list(notebook_parameters(nb))
    if not valid:
        raise ValueError(f"{source} has no cell tagged 'parameters', so no parameter can be passed to it")
    check_parameters(list(parameters), valid, chapter)
    book.mkdir(parents=True, exist_ok=True)
    tmp, target = book / f".{chapter}.tmp.ipynb", book / f"{chapter}.ipynb"
    papermill.execute_notebook(nb, str(tmp), parameters=dict(parameters), kernel_name=kernel, cwd=str(book),
                               progress_bar=progress)
    os.replace(tmp, target)  # only now: a failed run raised above and left the published chapter alone
    return target


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m gandensity.book.runner",
        description="Execute notebooks/NB.py into book/NB.ipynb (replaced only when the run succeeds).")
    parser.add_argument("chapter", metavar="NB", help="chapter name, e.g. a1_exact_density (or notebooks/NB.py)")
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
