"""The house rules of ``spark_jobs``, checked on the source: no import cycle, layers point one way.

Read with ``ast`` (nothing is imported), so these run in a second without a JVM.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from spark_jobs.stage import STAGES
from tests.support.paths import REPO

PACKAGE = REPO / "spark_jobs"
ENTRYPOINTS = set(STAGES)
#: Modules that may import the stage runner: the entrypoints, the runner itself and the CLI.
RUNNER_USERS = {f"spark_jobs.{name}" for name in ENTRYPOINTS} | {"spark_jobs.cli"}
MAX_LINES = 300


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every spark_jobs module (or airflow) this file imports, at any depth of the file."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            # ``from spark_jobs.x import y`` may name a module y as well as an attribute.
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
GRAPH = {
    name: {m for m in _imports(path) if m in MODULES and m != name}
    for name, path in MODULES.items()
}


def _parents(name: str) -> set[str]:
    """Importing a.b.c runs a/__init__ and a/b/__init__ too."""
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))} & set(MODULES)


def _find_cycle() -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(GRAPH[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for name in sorted(GRAPH):
        if name not in state and (cycle := visit(name)):
            return cycle
    return None


def test_the_package_has_no_import_cycle():
    cycle = _find_cycle()
    assert cycle is None, " -> ".join(cycle or [])


def test_the_graph_sees_the_imports_it_should():
    # Guard against a walker that finds nothing and so never fails.
    assert "spark_jobs.stage.runner" in GRAPH["spark_jobs.ingest"]
    assert "spark_jobs.parsing.selecting" in GRAPH["spark_jobs.ingest"]


@pytest.mark.parametrize("name", sorted(set(MODULES) - RUNNER_USERS - {"spark_jobs.stage.runner"}))
def test_domain_code_never_imports_the_stage_runner_or_an_entrypoint(name):
    banned = {"spark_jobs.stage.runner", *(f"spark_jobs.{e}" for e in ENTRYPOINTS)}
    if name == "spark_jobs.cli":
        banned.discard("spark_jobs.stage.runner")
    assert not (GRAPH[name] & banned), f"{name} imports {sorted(GRAPH[name] & banned)}"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_nothing_in_spark_jobs_imports_airflow(name):
    airflow = {m for m in _imports(MODULES[name]) if m.split(".")[0] == "airflow"}
    assert not airflow, f"{name} imports {sorted(airflow)}"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_stay_small(name):
    lines = len(MODULES[name].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{MODULES[name]} has {lines} lines (budget {MAX_LINES})"
