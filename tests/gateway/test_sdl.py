"""The committed SDL (docs/schema.graphql) is the schema the gateway serves, and a stale one
says which of its differences break clients."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from graphql import build_schema, find_breaking_changes, find_dangerous_changes

from gateway.__main__ import sdl

DOCS = Path(__file__).resolve().parents[2] / "docs" / "schema.graphql"


def staleness(committed: str, built: str) -> str | None:
    """None when the two SDLs agree, else what to do and what clients of `committed` would see."""
    if committed == built:
        return None
    old, new = build_schema(committed), build_schema(built)
    breaking = [f"  - {c.type.name}: {c.description}" for c in find_breaking_changes(old, new)]
    dangerous = [f"  - {c.type.name}: {c.description}" for c in find_dangerous_changes(old, new)]
    lines = ["docs/schema.graphql is not the schema the gateway builds: run `make schema` and "
             "commit it in the same change."]
    if breaking:
        lines += ["These changes break clients written against the committed schema:", *breaking]
    else:
        lines.append("No change breaks clients (find_breaking_changes found none).")
    if dangerous:
        lines += ["These may change what clients see:", *dangerous]
    return "\n".join(lines)


def test_the_committed_sdl_is_the_schema_the_gateway_builds() -> None:
    assert DOCS.exists(), "run `make schema` to write docs/schema.graphql"
    report = staleness(DOCS.read_text(), sdl())
    if report is not None:
        pytest.fail(report, pytrace=False)


def test_a_stale_sdl_names_the_changes_that_break_clients() -> None:
    built = sdl()
    removed = re.sub(r'  """Every programme."""\n  programmes\(.*?\): ProgrammeConnection!\n', "",
                     built, count=1, flags=re.DOTALL)
    narrowed = built.replace('"""How many entries of each list."""\n    limit: Int = null\n',
                             '"""How many entries of each list."""\n    limit: Int!\n')
    assert removed != built and narrowed != built

    assert staleness(built, built) is None
    report = staleness(built, removed)
    assert report is not None and "make schema" in report
    assert "  - FIELD_REMOVED: Field Query.programmes was removed." in report
    report = staleness(built, narrowed)
    assert report is not None
    assert ("  - ARG_CHANGED_KIND: Argument Query.matchRun(limit:) has changed type from Int "
            "to Int!.") in report


def test_a_stale_sdl_that_only_adds_says_nothing_breaks() -> None:
    built = sdl()
    grown = built.replace("  ): ProgrammeConnection!\n",
                          "  ): ProgrammeConnection!\n"
                          '  """How many programmes there are."""\n'
                          "  programmeCount: Int\n")
    assert grown != built
    report = staleness(built, grown)
    assert report is not None
    assert "No change breaks clients" in report
