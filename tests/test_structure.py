"""Every service has one shape: events flow one way, and no service imports another.

A service's `events.py` holds what it emits and never imports its `service.py`,
nor any other module of its service that imports `events.py` (the rules call
the emitters, not the reverse: matching's rules live in modules named for their
concept, such as `projection.py` and `pairs.py`); the handlers of what it
consumes live with the rules and are listed in `main.py`, named `on_<event>`.
A service reaches another only through events and HTTP, never an import, and
no service imports the gateway.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from upward_common.events import PairFormed

SERVICES = ("enrolment", "matching", "scheduling", "analytics")
# What no service may import, except itself.
PARTS = (*SERVICES, "gateway")
ROOT = Path(__file__).resolve().parents[1]


def package_of(name: str) -> Path:
    return ROOT / "services" / name / name


def modules_of(package: Path, name: str) -> Iterator[tuple[str, Path]]:
    """(dotted name, path) of every module of a service package, migrations included."""
    for path in sorted(package.rglob("*.py")):
        parts = [name, *path.relative_to(package).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        yield ".".join(parts), path


def imports_of(path: Path, module: str) -> set[str]:
    """Every module an import statement of the file may name, relative imports resolved.

    `from a import b` counts as `a` and `a.b`: `b` may be a module or a name in `a`.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            origin = node.module or ""
            if node.level:
                base = package[: len(package) - node.level + 1]
                origin = ".".join([*base, *([node.module] if node.module else [])])
            found.add(origin)
            found.update(f"{origin}.{alias.name}" for alias in node.names)
    return found


def events_importing_the_rules(package: Path, name: str) -> list[str]:
    """`<name>/events.py` importing `<name>.service`, or a module that imports the emitters.

    A module of the service that imports `<name>.events` uses the emitters: it
    holds rules, so the emitters must not import it back.
    """
    events = package / "events.py"
    if not events.exists():
        return []
    modules = dict(modules_of(package, name))
    rules = {f"{name}.service"} | {
        module for module, path in modules.items()
        if module != f"{name}.events" and f"{name}.events" in imports_of(path, module)}
    return [f"{name}/events.py imports {imported}"
            for imported in sorted(imports_of(events, f"{name}.events"))
            if any(imported == rule or imported.startswith(f"{rule}.") for rule in rules)]


def imports_of_other_parts(package: Path, name: str) -> list[str]:
    """Modules of the service that import another service's package, or the gateway's."""
    problems: list[str] = []
    for module, path in modules_of(package, name):
        others = {imported.split(".")[0] for imported in imports_of(path, module)}
        problems.extend(f"{path.relative_to(package.parent)} imports {other}"
                        for other in sorted(others & set(PARTS) - {name}))
    return problems


def source_constants(package: Path, name: str) -> list[str]:
    """An `events.py` that sets `SOURCE`: the source is the service definition's."""
    events = package / "events.py"
    if not events.exists():
        return []
    tree = ast.parse(events.read_text(encoding="utf-8"), filename=str(events))
    return [f"{name}/events.py:{node.lineno} sets SOURCE" for node in ast.walk(tree)
            if isinstance(node, ast.Name) and node.id == "SOURCE"
            and isinstance(node.ctx, ast.Store)]


def misplaced_handlers(name: str, handlers: Mapping[type, Any]) -> list[str]:
    """Handlers that are no `on_<event>` function, or that live in `events.py`."""
    problems: list[str] = []
    for event, handler in handlers.items():
        called = getattr(handler, "__name__", repr(handler))
        if not (inspect.isfunction(handler) and called.startswith("on_")):
            problems.append(f"{name}: {event.__name__} is handled by {called}, "
                            "not an on_<event> function")
        elif handler.__module__ == f"{name}.events":
            problems.append(f"{name}: {called} is in {name}.events; handlers live with the rules")
    return problems


@pytest.mark.parametrize("name", SERVICES)
def test_every_service_package_is_read(name: str) -> None:
    modules = dict(modules_of(package_of(name), name))
    assert {f"{name}.main", f"{name}.api", f"{name}.models"} <= set(modules), name


@pytest.mark.parametrize("name", SERVICES)
def test_events_never_import_the_rules(name: str) -> None:
    assert events_importing_the_rules(package_of(name), name) == []


@pytest.mark.parametrize("name", SERVICES)
def test_no_service_imports_another_nor_the_gateway(name: str) -> None:
    assert imports_of_other_parts(package_of(name), name) == []


@pytest.mark.parametrize("name", SERVICES)
def test_no_events_module_repeats_the_source(name: str) -> None:
    assert source_constants(package_of(name), name) == []


@pytest.mark.parametrize("name", SERVICES)
def test_main_lists_on_event_handlers_from_the_rules(name: str) -> None:
    definition = importlib.import_module(f"{name}.main").SERVICE
    assert misplaced_handlers(name, definition.handlers) == []


# --- each check fails on code that breaks it ------------------------------------


def _package(tmp_path: Path, name: str, files: Mapping[str, str]) -> Path:
    package = tmp_path / name
    for relative, source in {"__init__.py": "", **files}.items():
        path = package / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
    return package


@pytest.mark.parametrize("statement", [
    "from demo import service",
    "import demo.service",
    "import demo.service as rules",
    "from demo.service import pair_formed",
    "from . import service",
    "from .service import pair_formed",
])
def test_the_one_way_check_catches_every_form_of_import(tmp_path: Path, statement: str) -> None:
    package = _package(tmp_path, "demo", {"events.py": f"{statement}\n", "service.py": ""})
    assert events_importing_the_rules(package, "demo") != []


def test_the_one_way_check_catches_a_rules_module_of_another_name(tmp_path: Path) -> None:
    package = _package(tmp_path, "demo", {
        "events.py": "from demo.projection import on_employee_updated\n",
        "projection.py": "from demo import events\n",
    })
    assert events_importing_the_rules(package, "demo") == [
        "demo/events.py imports demo.projection",
        "demo/events.py imports demo.projection.on_employee_updated"]


def test_the_one_way_check_lets_events_import_the_rest(tmp_path: Path) -> None:
    package = _package(tmp_path, "demo", {
        "events.py": "from demo import models, repository\nfrom demo.models import Pair\n"
                     "from upward_common.outbox import emit\nimport demo.services_of_others\n",
        "service.py": "from demo import events\n",
    })
    assert events_importing_the_rules(package, "demo") == []


@pytest.mark.parametrize(("where", "statement"), [
    ("service.py", "from matching.models import Pair"),
    ("service.py", "import analytics"),
    ("api.py", "from gateway import main"),
    ("migrations/versions/0001_x.py", "import enrolment.models"),
    ("repository.py", "def f():\n    from scheduling import service\n"),
])
def test_the_boundary_check_catches_an_import_of_another_part(
    tmp_path: Path, where: str, statement: str
) -> None:
    package = _package(tmp_path, "demo", {where: f"{statement}\n"})
    assert imports_of_other_parts(package, "demo") != []


def test_the_boundary_check_lets_a_service_import_itself_and_the_kernel(tmp_path: Path) -> None:
    package = _package(tmp_path, "scheduling", {
        "service.py": "from scheduling import events\nfrom upward_common.db import SessionDep\n"
                      "from . import repository\nimport matchingish\n",
    })
    assert imports_of_other_parts(package, "scheduling") == []


@pytest.mark.parametrize("source", [
    'SOURCE = "/upward/demo"\n',
    'SOURCE: str = "/upward/demo"\n',
    'SOURCE, OTHER = "/upward/demo", 1\n',
])
def test_the_source_check_catches_a_source_constant(tmp_path: Path, source: str) -> None:
    package = _package(tmp_path, "demo", {"events.py": source})
    assert source_constants(package, "demo") != []


def test_the_source_check_lets_other_names_and_reads_pass(tmp_path: Path) -> None:
    package = _package(tmp_path, "demo", {
        "events.py": "from demo.models import SOURCE\nsource = SOURCES = len(SOURCE)\n",
    })
    assert source_constants(package, "demo") == []


async def on_pair_formed(session: Any, data: PairFormed) -> None:
    """A handler as the rules define it."""


async def handle_pair_formed(session: Any, data: PairFormed) -> None:
    """A handler under another name."""


async def on_pair_formed_in_events(session: Any, data: PairFormed) -> None:
    """A handler left in events.py."""


on_pair_formed_in_events.__module__ = "demo.events"


@pytest.mark.parametrize("handler", [
    handle_pair_formed,
    on_pair_formed_in_events,
    lambda session, data: on_pair_formed(session, data),
])
def test_the_handler_check_catches_a_misnamed_or_misplaced_handler(handler: Any) -> None:
    assert misplaced_handlers("demo", {PairFormed: handler}) != []


def test_the_handler_check_lets_an_on_event_function_of_the_rules_pass() -> None:
    assert misplaced_handlers("demo", {PairFormed: on_pair_formed}) == []
