"""The package's three layers: numerics <- workflows <- book, with no cycles between modules.

Above them sits the application: the ``gandensity`` command (``gandensity.cli``, run by ``python -m gandensity``
through ``gandensity.__main__``). It may import every layer, and nothing in the package imports it (only
``__main__`` imports ``cli``).

Walks every import statement of ``src/gandensity`` (module level and inside functions) with ``ast``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "gandensity"
RANK = {"numerics": 0, "workflows": 1, "book": 2, "application": 3}
APPLICATION = {"gandensity.cli", "gandensity.__main__"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """The gandensity modules that ``path`` imports (resolving relative imports)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names}
    modules = {module_name(p) for p in PACKAGE.rglob("*.py")}
    return {m for m in found if m in modules and m != name}


GRAPH = {module_name(p): imports(p) for p in sorted(PACKAGE.rglob("*.py"))}


def layer(module: str) -> str | None:
    if module in APPLICATION:
        return "application"
    parts = module.split(".")
    return parts[1] if len(parts) > 2 and parts[1] in RANK else None


def test_every_module_belongs_to_a_layer():
    loose = [m for m in GRAPH if layer(m) is None and m.count(".") > 1]
    loose += [m for m in GRAPH if m.count(".") == 1 and m.split(".")[1] not in RANK and m not in APPLICATION]
    assert not loose, f"modules outside numerics/, workflows/, book/ and the application {sorted(APPLICATION)}: {loose}"


def test_nothing_imports_the_application():
    importers = {m: sorted(GRAPH[m] & APPLICATION) for m in GRAPH if GRAPH[m] & APPLICATION}
    assert importers == {"gandensity.__main__": ["gandensity.cli"]}, (
        f"only gandensity.__main__ may import the command line: {importers}")


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if layer(m)))
def test_imports_point_down(module):
    bad = [m for m in GRAPH[module] if layer(m) and RANK[layer(m)] > RANK[layer(module)]]
    assert not bad, f"{module} ({layer(module)}) imports a higher layer: {bad}"


def test_no_import_cycles():
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for dep in sorted(GRAPH.get(m, ())):
            if layer(dep) is None:  # package __init__ files re-export; they are not part of a layer
                continue
            if state.get(dep) == 1:
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(dep):] + [dep]))
            if dep not in state:
                visit(dep)
        stack.pop()
        state[m] = 2

    for m in GRAPH:
        if m not in state and layer(m):
            visit(m)


def test_numerics_reach_no_private_name_of_another_module():
    offenders = []
    for path in (PACKAGE / "numerics").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.rsplit(".", 1)[-1] != "_checks":
                offenders += [f"{path.name}: {node.module}.{a.name}" for a in node.names
                              if a.name.startswith("_")]
    assert not offenders, f"private helpers imported across modules (share them in numerics/_checks.py): {offenders}"
