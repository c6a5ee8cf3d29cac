"""The package's layering (ARCHITECTURE.md): the library never imports the entry points,
its modules import one another without cycles, and the search and report packages
import in a fresh interpreter."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from commands import REPO

LIBRARY = REPO / "benchmark"


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at the top or inside a function."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            # `from benchmark import tracking` imports the module benchmark.tracking
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def _library_graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in LIBRARY.rglob("*.py")}
    return {name: _imports(path) & set(modules) - {name} for name, path in modules.items()}


def test_the_library_never_imports_the_entry_points():
    offenders = {
        _module_name(p): sorted(m for m in _imports(p) if m.split(".")[0] == "pipelines")
        for p in LIBRARY.rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_library_modules_import_one_another_without_cycles():
    graph = _library_graph()
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            raise AssertionError("import cycle: " + " -> ".join([*path[path.index(name) :], name]))
        if name in done:
            return
        for dep in sorted(graph[name]):
            visit(dep, [*path, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])


def test_search_and_report_packages_import_in_a_fresh_interpreter():
    subprocess.run(
        [sys.executable, "-c", "import benchmark.search, benchmark.report"],
        cwd=REPO,
        check=True,
    )
