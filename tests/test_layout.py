"""The layout's rules (docs/architecture.md), checked on the source: imports go one way
down the rooms, only ``search/`` talks to Optuna, only ``tracking/`` writes to MLflow
and ``report/`` only reads it, the training code knows neither, no import cycle, no
module name twice and no module much over 400 lines; the report's entry modules and the
methods' registry load no torch."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "benchmark"
# Rooms from the top down: a module imports from its own room or from rooms below it.
# ``base`` is the package's top-level modules (errors, config, the selection rule).
ROOMS = (
    "jobs",
    "search",
    "report",
    "tracking",
    "methods",
    "training",
    "data",
    "models",
    "metrics",
    "system",
    "base",
)
# rooms on one level that must not import each other
SIBLINGS = (("search", "report"),)
MAX_LINES = 425  # "about 400"
# MLflow calls that write; the report only reads
MLFLOW_WRITES = {
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_artifact",
    "log_artifacts",
    "log_figure",
    "log_image",
    "log_dict",
    "log_text",
    "log_table",
    "log_batch",
    "set_tag",
    "set_tags",
    "delete_tag",
    "start_run",
    "end_run",
    "create_run",
    "set_terminated",
    "update_run",
    "delete_run",
    "create_experiment",
    "set_experiment",
}


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


MODULES = _modules()


def room(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1 or (len(parts) == 2 and not (PACKAGE / parts[1]).is_dir()):
        return "base"
    return parts[1]


def _imports(path: Path) -> list[tuple[str, int]]:
    """Every imported module name (module level, inside functions, under TYPE_CHECKING)
    with its line, ``from a import b`` giving ``a.b`` where that is a module."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.module, node.lineno))
            out += [
                (f"{node.module}.{a.name}", node.lineno)
                for a in node.names
                if f"{node.module}.{a.name}" in MODULES
            ]
    return out


def _own_imports(path: Path) -> set[str]:
    return {m for m, _ in _imports(path) if m in MODULES}


def test_every_module_is_in_a_room():
    assert {room(m) for m in MODULES} <= set(ROOMS)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_go_down(module):
    here = ROOMS.index(room(module))
    up = [
        f"{target} ({room(target)}) at line {line}"
        for target, line in _imports(MODULES[module])
        if target in MODULES and ROOMS.index(room(target)) < here
    ]
    assert not up, f"{module} ({room(module)}) imports upward: {', '.join(up)}"
    for a, b in SIBLINGS:
        if room(module) in (a, b):
            other = b if room(module) == a else a
            assert not [t for t in _own_imports(MODULES[module]) if room(t) == other]


def _uses(module: str, library: str) -> bool:
    return any(m == library or m.startswith(library + ".") for m, _ in _imports(MODULES[module]))


def test_only_search_imports_optuna():
    users = sorted(m for m in MODULES if _uses(m, "optuna"))
    assert users and all(room(m) == "search" for m in users), users


def test_only_tracking_and_report_import_mlflow():
    users = sorted(m for m in MODULES if _uses(m, "mlflow"))
    assert users and all(room(m) in ("tracking", "report") for m in users), users


def test_training_and_models_know_neither_mlflow_nor_optuna():
    for m in MODULES:
        if room(m) in ("training", "models"):
            assert not _uses(m, "mlflow") and not _uses(m, "optuna"), m


def test_the_report_only_reads_mlflow():
    for m, path in MODULES.items():
        if room(m) != "report":
            continue
        calls = {
            node.attr
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Attribute) and node.attr in MLFLOW_WRITES
        }
        assert not calls, f"{m} calls {sorted(calls)}"


def test_no_import_cycle():
    graph = {m: _own_imports(p) - {m} for m, p in MODULES.items()}
    # a package's own __init__ importing its submodules is no cycle of the code
    state: dict[str, int] = defaultdict(int)  # 0 new, 1 on the path, 2 done
    path: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        path.append(m)
        for t in sorted(graph[m]):
            if m.startswith(t + ".") or t.startswith(m + "."):
                continue
            if state[t] == 1:
                raise AssertionError(" -> ".join(path[path.index(t) :] + [t]))
            if state[t] == 0:
                visit(t)
        path.pop()
        state[m] = 2

    for m in sorted(graph):
        if state[m] == 0:
            visit(m)


def test_no_two_modules_share_a_name():
    names = defaultdict(list)
    for m in MODULES:
        if not str(MODULES[m]).endswith("__init__.py"):
            names[m.rsplit(".", 1)[-1]].append(m)
    assert not {n: ms for n, ms in names.items() if len(ms) > 1}


def test_no_module_is_much_over_400_lines():
    long = {m: n for m, p in MODULES.items() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long


@pytest.mark.parametrize(
    "entry", ["benchmark.report.write", "pipelines.report", "benchmark.methods"]
)
def test_the_report_and_the_registry_load_no_torch(entry):
    # a fresh interpreter: this one has torch loaded by other tests
    code = (
        f"import sys, {entry}; "
        "heavy = [m for m in ('torch', 'sklearn', 'optuna', 'skdim') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "", f"importing {entry} loads {out.stdout.strip()}"
