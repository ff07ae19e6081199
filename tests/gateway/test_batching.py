"""Downstream calls do not grow with a list: every cross-service field is a batch read."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any
from urllib.parse import parse_qs

import pytest

from tests.gateway import fakes
from tests.gateway.conftest import Stack

StartStack = Callable[..., AbstractAsyncContextManager[Stack]]

DASHBOARD = """query Dashboard($p: ID!) { pairs(programmeId: $p, first: 200) { nodes {
    id status
    mentor { id role employee { givenName jobTitle } }
    mentee { id role employee { givenName manager { id } } }
    nextSession { id startsAt status }
    sessions { nodes { id } }
} } }"""


def _programme_of(monkeypatch: pytest.MonkeyPatch, pairs: int) -> str:
    """A programme of `pairs` pairs of people seen nowhere else (so nothing is cached)."""
    programme = f"big{pairs}"
    monkeypatch.setitem(fakes.PROGRAMMES, programme, {**fakes.PROGRAMMES["prog2"],
                                                      "id": programme})
    for n in range(pairs):
        mentor, mentee = f"{programme}-m{n}", f"{programme}-s{n}"
        for pid, role in ((mentor, "mentor"), (mentee, "mentee")):
            employee = f"{pid}-e"
            monkeypatch.setitem(fakes.EMPLOYEES, employee, {**fakes.EMPLOYEES["e1"],
                                                            "id": employee})
            monkeypatch.setitem(fakes.PARTICIPANTS, pid,
                                fakes._participant(pid, employee, role, programme))
        pair = {**fakes._pair(0, "m1", "s1"), "id": f"{programme}-pair{n}",
                "programme_id": programme, "mentor_participant_id": mentor,
                "mentee_participant_id": mentee, "mentor_employee_id": f"{mentor}-e",
                "mentee_employee_id": f"{mentee}-e"}
        monkeypatch.setitem(fakes.PAIRS, pair["id"], pair)
    return programme


async def _calls_for(stack: Stack, admin: str, programme: str) -> tuple[Counter[str], Any]:
    stack.clear()
    response = await stack.graphql(DASHBOARD, {"p": programme}, token=admin)
    body = response.json()
    assert "errors" not in body, body["errors"]
    calls = Counter(f"{service} {call.method} {call.path}"
                    for service, recorder in stack.recorders.items() for call in recorder.calls)
    return calls, body["data"]


async def test_a_dashboard_of_n_pairs_makes_the_same_calls_for_10_and_100_pairs(
    stack: Stack, token: Callable[..., str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    admin = token("hr_admin")
    small, large = _programme_of(monkeypatch, 10), _programme_of(monkeypatch, 100)

    calls_10, data_10 = await _calls_for(stack, admin, small)
    calls_100, data_100 = await _calls_for(stack, admin, large)

    assert len(data_10["pairs"]["nodes"]) == 10 and len(data_100["pairs"]["nodes"]) == 100
    last = data_100["pairs"]["nodes"][-1]
    assert last["mentor"]["employee"]["givenName"] == "G1"
    assert last["nextSession"] == {"id": f"sess-{large}-pair99",
                                   "startsAt": "2026-02-02T10:00:00+00:00", "status": "PLANNED"}
    # The same calls whatever the length: one per service and kind of thing, 200 people
    # and their 200 employees included, and the managers they share once more.
    assert calls_100 == calls_10
    assert calls_10 == Counter({
        "matching GET /api/v1/pairs": 1,
        "enrolment GET /api/v1/batch/participants": 1,
        "enrolment GET /api/v1/batch/employees": 2,  # the people's, then their managers'
        "scheduling GET /api/v1/batch/pair-sessions": 1,
    })
    asked = [parse_qs(call.query)["id"] for call in stack.recorders["enrolment"].calls
             if call.path == "/api/v1/batch/participants"]
    assert [len(ids) for ids in asked] == [200]


async def test_a_next_session_alone_is_read_alone_and_beside_the_sessions_from_them(
    stack: Stack, token: Callable[..., str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    admin = token("hr_admin")
    programme = _programme_of(monkeypatch, 10)
    next_only = DASHBOARD.replace("sessions { nodes { id } }", "")

    def scheduling_asked() -> list[dict[str, list[str]]]:
        return [parse_qs(call.query) for call in stack.recorders["scheduling"].calls
                if call.path == "/api/v1/batch/pair-sessions"]

    _, alone = await _calls_for(stack, admin, programme)
    [both] = scheduling_asked()
    stack.clear()
    response = await stack.graphql(next_only, {"p": programme}, token=admin)
    data = response.json()["data"]
    [only] = scheduling_asked()
    stack.clear()
    single = await stack.graphql("query One($id: ID!) { pair(pairId: $id) { nextSession { id } } }",
                                 {"id": f"{programme}-pair3"}, token=admin)
    [one] = scheduling_asked()

    # With the sessions asked for too, the next one comes from them: one call, every session.
    assert "next_only" not in both and len(both["id"]) == 10
    # Asked alone, scheduling answers each pair's next session only: one call still.
    assert only["next_only"] == ["true"] and len(only["id"]) == 10
    assert [p["nextSession"] for p in data["pairs"]["nodes"]] == [
        p["nextSession"] for p in alone["pairs"]["nodes"]]
    assert (one["next_only"], one["id"]) == (["true"], [f"{programme}-pair3"])
    assert single.json()["data"]["pair"]["nextSession"] == {"id": f"sess-{programme}-pair3"}


async def test_more_ids_than_one_batch_takes_are_split_into_capped_calls(
    stack: Stack, token: Callable[..., str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    programme = _programme_of(monkeypatch, 150)  # 300 people: over the 200-id cap

    calls, data = await _calls_for(stack, token("hr_admin"), programme)

    assert len(data["pairs"]["nodes"]) == 150
    sizes = sorted(len(parse_qs(call.query)["id"]) for call in stack.recorders["enrolment"].calls
                   if call.path == "/api/v1/batch/participants")
    assert sizes == [100, 200]
    assert calls["enrolment GET /api/v1/batch/participants"] == 2


async def test_an_id_a_batch_lists_as_missing_fails_only_its_own_field(
    stack: Stack, token: Callable[..., str],
) -> None:
    # e6 may read their own participation (s1), not their partner's (m1).
    query = ('{ a: participant(participantId: "s1") { id } '
             'b: participant(participantId: "m1") { id } '
             'c: participant(participantId: "nobody") { id } }')

    response = await stack.graphql(query, token=token("participant", employee_id="e6"))

    body = response.json()
    assert body["data"] == {"a": {"id": "s1"}, "b": None, "c": None}
    errors = {e["path"][0]: e["extensions"] for e in body["errors"]}
    assert (errors["b"]["status"], errors["b"]["service"]) == (403, "enrolment")
    assert errors["b"]["type"].endswith("/forbidden")
    assert errors["c"]["status"] == 404 and errors["c"]["type"].endswith("/not-found")
    [call] = stack.recorders["enrolment"].calls  # all three in one call
    assert sorted(parse_qs(call.query)["id"]) == ["m1", "nobody", "s1"]


async def test_an_id_that_is_no_identifier_fails_alone_before_the_batch_call(
    stack: Stack, token: Callable[..., str],
) -> None:
    query = ('{ a: participant(participantId: "s1") { id } '
             'b: participant(participantId: "../../openapi.json") { id } }')

    response = await stack.graphql(query, token=token("hr_admin"))

    body = response.json()
    assert body["data"] == {"a": {"id": "s1"}, "b": None}
    [error] = body["errors"]
    assert (error["extensions"]["status"], error["extensions"]["field"]) == (422, "participantId")
    [call] = stack.recorders["enrolment"].calls
    assert parse_qs(call.query)["id"] == ["s1"]
