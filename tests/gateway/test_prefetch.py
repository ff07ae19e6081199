"""A page's links load in one step per link: its items' fields then resolve without awaiting."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import pytest
from graphql.execution.executor import Executor
from strawberry.dataloader import DataLoader

from gateway.clients import ProblemError, missing_error
from gateway.prefetch import loaded_unless_refused
from tests.gateway.conftest import Stack
from tests.gateway.test_batching import DASHBOARD, _programme_of


@pytest.fixture
def awaited(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How many values each field's resolvers left for GraphQL to await, by field name."""
    counts: Counter[str] = Counter()
    original = Executor.complete_awaitable_value

    async def counting(self: Executor[Any], return_type: Any, field_details_list: Any,
                       info: Any, path: Any, result: Any, position_context: Any) -> Any:
        counts[info.field_name] += 1
        return await original(self, return_type, field_details_list, info, path, result,
                              position_context)

    monkeypatch.setattr(Executor, "complete_awaitable_value", counting)
    return counts


async def _run(stack: Stack, query: str, variables: dict[str, Any], token: str) -> Any:
    stack.clear()
    response = await stack.graphql(query, variables, token=token)
    body = response.json()
    assert "errors" not in body, body["errors"]
    return body["data"]


async def test_the_awaits_of_a_dashboard_do_not_grow_with_its_pairs(
    stack: Stack, token: Callable[..., str], monkeypatch: pytest.MonkeyPatch,
    awaited: Counter[str],
) -> None:
    admin = token("hr_admin")
    small, large = _programme_of(monkeypatch, 10), _programme_of(monkeypatch, 100)

    await _run(stack, DASHBOARD, {"p": small}, admin)
    at_10 = Counter(awaited)
    awaited.clear()
    data = await _run(stack, DASHBOARD, {"p": large}, admin)

    assert len(data["pairs"]["nodes"]) == 100
    last = data["pairs"]["nodes"][-1]
    assert last["mentor"]["employee"]["givenName"] == "G1"
    assert last["mentee"]["employee"]["manager"] is not None
    assert last["nextSession"]["status"] == "PLANNED"
    assert last["sessions"]["nodes"] == [{"id": last["nextSession"]["id"]}]
    # Only the list itself is awaited; its pairs' people, employees, managers and
    # sessions were loaded for the whole page first, so no item waits on its own.
    assert awaited == at_10 == Counter({"pairs": 1})


async def test_aliases_of_one_page_reuse_what_the_first_loaded(
    stack: Stack, token: Callable[..., str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    programme = _programme_of(monkeypatch, 20)
    selection = "pairs(programmeId: $p) { nodes { mentor { employee { id } } nextSession { id } } }"
    query = f"query Twice($p: ID!) {{ a: {selection} b: {selection} }}"

    data = await _run(stack, query, {"p": programme}, token("hr_admin"))

    assert data["a"] == data["b"] and len(data["a"]["nodes"]) == 20
    calls = Counter(f"{service} {call.path}" for service, recorder in stack.recorders.items()
                    for call in recorder.calls)
    assert calls == Counter({
        "matching /api/v1/pairs": 1,  # the same list under two aliases is one call
        "enrolment /api/v1/batch/participants": 1,
        "enrolment /api/v1/batch/employees": 1,
        "scheduling /api/v1/batch/pair-sessions": 1,
    })


async def test_lists_of_pairs_with_other_filters_are_called_for_apart(
    stack: Stack, token: Callable[..., str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    programme = _programme_of(monkeypatch, 5)
    query = """query Two($p: ID!) {
      all: pairs(programmeId: $p) { nodes { id } }
      active: pairs(programmeId: $p, status: ACTIVE) { nodes { id } }
      again: pairs(programmeId: $p) { nodes { id } }
    }"""

    data = await _run(stack, query, {"p": programme}, token("hr_admin"))

    assert data["all"] == data["again"] and len(data["all"]["nodes"]) == 5
    asked = [sorted(parse_qsl(call.query)) for call in stack.recorders["matching"].calls
             if call.path == "/api/v1/pairs"]
    assert sorted(asked) == [
        [("programme_id", programme)], [("programme_id", programme), ("status", "active")]]


@pytest.mark.parametrize(("directive", "loads"), [
    ("@skip(if: true)", False), ("@skip(if: false)", True),
    ("@include(if: $with)", False),
])
async def test_a_field_left_out_by_a_directive_is_not_prefetched(
    stack: Stack, token: Callable[..., str], monkeypatch: pytest.MonkeyPatch,
    directive: str, loads: bool,
) -> None:
    programme = _programme_of(monkeypatch, 5)
    with_ = ", $with: Boolean! = false" if "$with" in directive else ""
    query = (f"query Q($p: ID!{with_}) {{ pairs(programmeId: $p) {{ nodes "
             f"{{ id mentor {directive} {{ id }} }} }} }}")

    data = await _run(stack, query, {"p": programme}, token("hr_admin"))

    assert len(data["pairs"]["nodes"]) == 5
    assert ("mentor" in data["pairs"]["nodes"][0]) is loads
    asked = [call.path for call in stack.recorders["enrolment"].calls]
    assert asked == (["/api/v1/batch/participants"] if loads else [])


async def test_fields_asked_through_fragments_are_prefetched(
    stack: Stack, token: Callable[..., str], monkeypatch: pytest.MonkeyPatch,
    awaited: Counter[str],
) -> None:
    programme = _programme_of(monkeypatch, 5)
    query = """query Q($p: ID!) { pairs(programmeId: $p) { edges { node { ...People } } } }
    fragment People on Pair { mentor { ... on Participant { employee { id } } } }"""

    data = await _run(stack, query, {"p": programme}, token("hr_admin"))

    assert data["pairs"]["edges"][0]["node"]["mentor"]["employee"]["id"].endswith("-e")
    assert awaited == Counter({"pairs": 1})


async def test_a_key_refused_in_a_prefetch_fails_only_its_own_field(
    stack: Stack, token: Callable[..., str],
) -> None:
    # e6 (mentee s1 of pair m1-s1) may read their own participation, not their mentor's.
    query = """{ pairs(participantId: "s1") { nodes { id
        mentee { id employee { id } } mentor { id } } } }"""

    response = await stack.graphql(query, token=token("participant", employee_id="e6"))

    body = response.json()
    [node, *_] = body["data"]["pairs"]["nodes"]
    assert node["mentee"]["id"] == "s1" and node["mentee"]["employee"] == {"id": "e6"}
    assert node["mentor"] is None
    [error, *_] = body["errors"]
    assert error["path"][-1] == "mentor" and error["extensions"]["status"] == 403


async def test_a_refused_value_is_null_and_any_other_error_stays_an_error() -> None:
    """A partner's card enrolment does not show the caller (yet) is a null partner."""
    def problem(status: int) -> ProblemError:
        return missing_error("enrolment", "x", status, "")

    async def batch(keys: list[str]) -> list[Any]:
        return [{"refused": problem(403), "gone": problem(404)}.get(key, key.upper())
                for key in keys]

    loader: DataLoader[str, str] = DataLoader(batch)
    assert await loaded_unless_refused(loader, "refused", str.lower) is None
    assert await loaded_unless_refused(loader, "card", str.lower) == "card"
    with pytest.raises(ProblemError) as gone:
        await loaded_unless_refused(loader, "gone", str.lower)
    assert gone.value.status == 404
    # Loaded already (a prefetch), each answers at once.
    assert loaded_unless_refused(loader, "refused", str.lower) is None
    assert loaded_unless_refused(loader, "card", str.lower) == "card"
    with pytest.raises(ProblemError):
        loaded_unless_refused(loader, "gone", str.lower)
