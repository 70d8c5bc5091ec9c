"""The project's modules and what each imports, read from source (function-local imports included).

Shared by the tests that guard the architecture: the layers of edge_app and the absence of import circles.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

PROJECT_PACKAGES = ("edge_app", "lab", "train", "quantize", "benchmarks")
GENERATED = frozenset({"quantize.metadata_schema_py_generated"})


def project_modules(root: Path, packages: Iterable[str] = PROJECT_PACKAGES) -> dict[str, Path]:
    """Dotted module name -> source file, for every module of `packages` under `root`."""
    modules = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            if name not in GENERATED:
                modules[name] = path
    return modules


def imported_names(source: str, module: str, is_package: bool) -> set[str]:
    """Every dotted name `source` imports, anywhere in the file; relative imports made absolute.
    `from a import b` gives both `a` and `a.b`, since b may be a module."""
    package = module if is_package else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def resolve(name: str, modules: Mapping[str, object]) -> str | None:
    """The project module a dotted name lands in (its longest known prefix), or None for outside modules."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def import_graph(root: Path, packages: Iterable[str] = PROJECT_PACKAGES) -> dict[str, set[str]]:
    """Module -> the project modules it imports. A package's `__init__` is not counted as imported by its own
    modules (importing edge_app.scan.scanner runs edge_app/scan/__init__.py, but that is Python, not a choice)."""
    modules = project_modules(root, packages)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        names = imported_names(path.read_text(encoding="utf-8"), name, path.name == "__init__.py")
        targets = {resolve(imported, modules) for imported in names}
        graph[name] = {t for t in targets if t is not None and t != name and not name.startswith(t + ".")}
    return graph


def circles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Every group of modules that import each other, directly or through others (Tarjan's strongly connected
    components of two or more modules), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(start: str) -> None:
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph.get(successor, ())))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def package_circles(graph: Mapping[str, Iterable[str]]) -> list[tuple[str, str]]:
    """Pairs of top-level packages that import each other, through any of their modules."""
    between = {(a.split(".")[0], b.split(".")[0]) for a, imported in graph.items() for b in imported}
    return sorted({tuple(sorted(pair)) for pair in between if pair[0] != pair[1] and pair[::-1] in between})
