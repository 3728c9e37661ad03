"""One concern per numerics module, and each public name in one module.

- Every function or class that a numerics module lists in ``__all__`` is defined in that module (no re-exports),
  and no name is listed by two modules.
- The names split out of ais.py live only in their new modules (importing them from ais fails).
- validation.py holds references for tests and the book: no workflow imports it.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import gandensity.numerics as numerics

MODULES = {m.name: importlib.import_module(f"gandensity.numerics.{m.name}")
           for m in pkgutil.iter_modules(numerics.__path__)}
WORKFLOWS = Path(numerics.__file__).resolve().parents[1] / "workflows"

MOVED = {"hmc": ["HMCState", "HMCInfo", "hmc_step"],
         "annealing": ["sigmoid_schedule", "linear_schedule", "log_mean_exp"],
         "validation": ["gaussian_log_likelihood", "linear_gaussian_log_likelihood"],
         "operators": ["DenseMatvec", "dense_matvec"]}


@pytest.mark.parametrize("name", sorted(n for n in MODULES if not n.startswith("_")))
def test_public_names_are_defined_where_they_are_listed(name):
    module = MODULES[name]
    assert hasattr(module, "__all__"), f"numerics.{name} has no __all__"
    missing = [n for n in module.__all__ if not hasattr(module, n)]
    assert not missing, f"numerics.{name}.__all__ lists names it does not define: {missing}"
    objects = {n: getattr(module, n) for n in module.__all__}
    foreign = [n for n, obj in objects.items()
               if (inspect.isfunction(obj) or inspect.isclass(obj)) and obj.__module__ != module.__name__]
    assert not foreign, f"numerics.{name} re-exports {foreign}; import them from where they are defined"


def test_no_name_is_listed_by_two_modules():
    homes: dict[str, list[str]] = {}
    for name, module in MODULES.items():
        for n in getattr(module, "__all__", []):
            homes.setdefault(n, []).append(name)
    assert not {n: m for n, m in homes.items() if len(m) > 1}


@pytest.mark.parametrize("home", sorted(MOVED))
def test_split_names_live_only_in_their_module(home):
    for n in MOVED[home]:
        assert n in MODULES[home].__all__
        for other in ("ais", "validation", "density"):
            if other != home:
                assert not hasattr(MODULES[other], n), f"numerics.{other}.{n}: {n} lives in numerics.{home}"


def test_no_workflow_imports_the_references():
    offenders = []
    for path in WORKFLOWS.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            offenders += [f"{path.name}: {n}" for n in names if n == "gandensity.numerics.validation"]
    assert not offenders, f"workflows use the brute-force references of numerics.validation: {offenders}"
