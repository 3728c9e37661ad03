"""The pins of requirements.txt and environment.yml agree, and the project's files hang together."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def pins(lines: list[str]) -> dict[str, str]:
    out = {}
    for line in lines:
        line = line.split("#")[0].strip()
        if line:
            name, sep, version = line.partition("==")
            assert sep, f"not an exact pin: {line!r}"
            out[name.strip().lower()] = version.strip()
    return out


def test_conda_environment_matches_pip_pins():
    req = pins((ROOT / "requirements.txt").read_text().splitlines())
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert pins(pip_section) == req
    assert "python=3.11" in env["dependencies"]
    assert req["jupyter-book"].startswith("1."), "Jupyter Book 2 cannot build HTML offline"


def test_readme_commands_exist_in_makefile_and_ci():
    makefile = (ROOT / "Makefile").read_text()
    readme = (ROOT / "README.md").read_text()
    for target in re.findall(r"make (\w[\w-]*)", readme):
        assert re.search(rf"^{target}:", makefile, re.M), f"README mentions `make {target}`, Makefile lacks it"
    assert "make test" in (ROOT / ".ci" / "run").read_text()
