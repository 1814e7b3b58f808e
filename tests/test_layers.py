"""The layout's floors, read from the import statements themselves (type-checking imports count):
no two folders of the package import each other, directly or round a longer circle, the doctor
does not reach up into the command line, and no module of the conformance checker imports one
that imports it back. A newcomer can then read a folder knowing only the floors below it."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The package's own modules that ``path`` imports (``from . import x`` counts as importing x)."""
    name = module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            target = ".".join([*base, node.module] if node.module else base)
            if node.module:  # "from . import x" imports x, not the package's own __init__
                found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return {target for target in found if target in known}


def graph(top: str, depth: int) -> dict[str, set[str]]:
    """Who imports whom, each module counted as the folder (or module) ``depth`` names deep."""
    paths = [path for path in (REPO / top).rglob("*.py") if "__pycache__" not in path.parts]
    known = {module_name(path) for path in paths}
    unit = lambda name: ".".join(name.split(".")[:depth])
    edges: dict[str, set[str]] = {}
    for path in paths:
        source = unit(module_name(path))
        for target in imports_of(path, known):
            if unit(target) != source:
                edges.setdefault(source, set()).add(unit(target))
    return edges


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every group of units that import one another round a circle (strongly connected components)."""
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        order[node] = low[node] = len(order)
        stack.append(node)
        for after in sorted(edges.get(node, ())):
            if after not in order:
                visit(after)
                low[node] = min(low[node], low[after])
            elif after in stack:
                low[node] = min(low[node], order[after])
        if low[node] == order[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(edges):
        if node not in order:
            visit(node)
    return found


def test_no_two_folders_of_the_package_import_each_other() -> None:
    assert circles(graph("alpaca_focuser", 2)) == []


def test_the_doctor_does_not_import_the_command_line() -> None:
    assert "alpaca_focuser.cli" not in graph("alpaca_focuser", 2).get("alpaca_focuser.doctor", set())



def test_the_conformance_checkers_modules_import_no_circle() -> None:
    assert circles(graph("conformance", 2)) == []
