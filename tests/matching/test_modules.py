"""Matching's modules depend one way: events.py emits, the rules import it, never the reverse."""

from __future__ import annotations

import ast
from pathlib import Path

import matching

PACKAGE = Path(matching.__file__).parent


def matching_imports(module: str) -> set[str]:
    """The matching modules `module` imports (`from matching import x`, `matching.x`)."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module is not None:
            if node.module == "matching":
                found.update(alias.name for alias in node.names)
            elif node.module.startswith("matching."):
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found.update(alias.name.split(".")[1] for alias in node.names
                         if alias.name.startswith("matching."))
    return found - {module}


def modules() -> list[str]:
    return sorted(path.stem for path in PACKAGE.glob("*.py") if path.stem != "__init__")


def test_events_holds_only_emitters_and_imports_no_rules() -> None:
    assert matching_imports("events") <= {"models"}
    tree = ast.parse((PACKAGE / "events.py").read_text())
    functions = {node.name for node in tree.body
                 if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}
    assert functions == {"pair_proposed", "pair_formed", "pair_declined", "pair_ended",
                         "shortlist_offered", "match_run_finished"}


def test_no_matching_module_imports_one_that_imports_it_back() -> None:
    graph = {name: matching_imports(name) for name in modules()}
    for start in graph:
        reached: set[str] = set()
        todo = list(graph[start])
        while todo:
            name = todo.pop()
            assert name != start, f"{start} imports itself back through {sorted(reached)}"
            if name not in reached:
                reached.add(name)
                todo.extend(graph.get(name, ()))
