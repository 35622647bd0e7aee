"""Import boundaries between the packages, read from the source (every import, a lazy one
inside a function included), so a cycle between layers cannot come back unnoticed."""

import ast
from pathlib import Path

import pytest

import perfect_nb
from perfect_nb.core import seam
from perfect_nb.core import task as core_task

PACKAGE = Path(perfect_nb.__file__).parent


def imported_modules(path: Path) -> set[str]:
    """Every perfect_nb module that ``path`` imports, wherever the import stands."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name.split(".")[0] == "perfect_nb"}


def offending(folder: str, forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    out = {}
    for path in sorted((PACKAGE / folder).rglob("*.py")):
        bad = sorted(m for m in imported_modules(path) if m.startswith(forbidden))
        if bad:
            out[str(path.relative_to(PACKAGE))] = bad
    return out


def test_core_imports_nothing_above_it():
    """core/ reaches the engine, viz and client only through core/seam.py, by name."""
    above = tuple(f"perfect_nb.{p}" for p in ("engine", "viz", "client", "tasks", "notebook", "cache",
                                                 "executors", "server", "agent", "cli", "backend"))
    assert offending("core", above) == {}


def test_engine_does_not_import_the_cache_or_the_layers_above():
    above = tuple(f"perfect_nb.{p}" for p in ("cache", "viz", "notebook", "client", "server", "agent", "cli", "tasks"))
    assert offending("engine", above) == {}


def test_only_viz_and_above_read_the_colour_helpers():
    """The one colour table is State.color; the notifiers read it without importing viz."""
    assert offending("utilities", ("perfect_nb.viz",)) == {}


def test_every_seam_target_exists():
    for name, (module, attr) in seam._TARGETS.items():
        assert callable(seam._load(name)), name


def test_the_implicit_task_table_is_full():
    """perfect_nb.core fills Task's table of the tasks it builds, and the Prefect 1 paths
    (tasks.core.*) give the same classes."""
    from perfect_nb.tasks.core import collections, constants, operators

    assert core_task.IMPLICIT["Constant"] is constants.Constant
    assert core_task.IMPLICIT["List"] is collections.List and core_task.IMPLICIT["Dict"] is collections.Dict
    names = ["Add", "Sub", "Mul", "Div", "FloorDiv", "Mod", "Pow", "And", "Or", "Equal", "NotEqual",
             "GreaterThan", "GreaterThanOrEqual", "LessThan", "LessThanOrEqual", "GetItem", "Not"]
    for name in names:
        assert core_task.IMPLICIT[name] is getattr(operators, name), name


@pytest.mark.parametrize("method, target", [("run", "run_flow"), ("visualize", "visualize"), ("register", "register")])
def test_flow_methods_hand_over_through_the_seam(monkeypatch, method, target):
    from perfect_nb import Flow

    calls = []
    monkeypatch.setattr(seam, "_load", lambda name: (lambda *a, **k: calls.append(name) or "handed over"))
    assert getattr(Flow("f"), method)() == "handed over"
    assert calls == [target]
