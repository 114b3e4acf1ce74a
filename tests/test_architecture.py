"""The shape of the package: layered folders, no import cycles, nothing importing the root.

The layers themselves are an import-linter contract in pyproject.toml (``lint-imports``, run
by .ci/run and below); these tests add what a layers contract cannot see: cycles between
files of one folder, and imports of the package's own ``__init__``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from optional_parts import require_module

grimp = require_module("grimp", 'pip install -e ".[test]"')

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "src" / "knnvision"
# The top of the package is its public face and what every layer may use; all else is in the
# layered folders (docs/architecture.md).
TOP_LEVEL_MODULES = {"__init__.py", "__main__.py", "_version.py", "cli.py", "progress.py"}
LAYER_FOLDERS = {
    "search",
    "neighbors",
    "transforms",
    "selection",
    "results",
    "experiments",
    "report",
    "web",
    "io",
    "datasets",
}


@pytest.fixture(scope="module")
def graph():
    return grimp.build_graph("knnvision", include_external_packages=False)


def strongly_connected_components(graph) -> list[set[str]]:
    """Tarjan's algorithm over the modules' direct imports, iteratively (no recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components = []
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append(
                        (child, iter(sorted(graph.find_modules_directly_imported_by(child))))
                    )
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                components.append(component)
    return components


def test_cycle_finder_finds_a_planted_cycle():
    class Planted:  # a -> b -> c -> a, and d -> a outside the loop
        modules = {"a", "b", "c", "d"}
        edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}

        def find_modules_directly_imported_by(self, module):
            return self.edges[module]

    cycles = [c for c in strongly_connected_components(Planted()) if len(c) > 1]
    assert cycles == [{"a", "b", "c"}]


def test_no_import_cycles_between_files(graph):
    """Imports inside functions count too: grimp reads every import statement."""
    cycles = [sorted(c) for c in strongly_connected_components(graph) if len(c) > 1]
    assert cycles == []


def test_nothing_imports_the_package_root(graph):
    """So importing any module never depends on the order in which ``__init__`` runs."""
    assert sorted(graph.find_modules_that_directly_import("knnvision")) == []


def test_top_of_the_package_holds_only_its_face_and_the_layer_folders():
    entries = {p.name for p in PACKAGE_DIR.iterdir() if p.name != "__pycache__"}
    modules = {name for name in entries if name.endswith(".py")}
    folders = {name for name in entries if (PACKAGE_DIR / name).is_dir()}
    assert modules == TOP_LEVEL_MODULES
    assert folders == LAYER_FOLDERS


def test_import_linter_contracts_are_kept():
    require_module("importlinter", 'pip install -e ".[test]"')
    result = subprocess.run(
        [sys.executable, "-c", "from importlinter.cli import lint_imports_command as c; c()"],
        cwd=PACKAGE_DIR.parents[1],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
