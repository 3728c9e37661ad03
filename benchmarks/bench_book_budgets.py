"""Runtimes the published chapters recorded (cpu profile), against the book's budgets.

Reads the "profile cpu: chapter ran in <s> s" line that run.finish() prints in each book/<chapter>.ipynb:
measured when the chapter was published, not while tests run.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHAPTER_BUDGET_S, BOOK_BUDGET_S = 240, 45 * 60


def main() -> None:
    total = 0
    print(f"{'chapter':<28} {'recorded s':>10} {'budget share':>12}")
    for nb in sorted((ROOT / "book").glob("[a-z][0-9]_*.ipynb")):
        cells = json.loads(nb.read_text())["cells"]
        text = "".join("".join(o.get("text", "")) for c in cells for o in c.get("outputs", []))
        match = re.search(r"profile (\w+): chapter ran in (\d+) s", text)
        seconds = int(match.group(2)) if match else 0
        total += seconds
        print(f"{nb.stem:<28} {seconds:>10} {seconds / CHAPTER_BUDGET_S:>11.0%}")
    print(f"{'book':<28} {total:>10} {total / BOOK_BUDGET_S:>11.0%}")


if __name__ == "__main__":
    main()
