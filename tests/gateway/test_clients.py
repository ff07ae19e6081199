"""Calls to the services: the caller's token and correlation id go along; problems come back."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from tests.gateway.conftest import Stack

PAIR_WITH_EVERYTHING = """
query ($id: ID!) {
  pair(id: $id) { id mentor { id } sessions { id } }
  programmeSummary(programmeId: "prog1") { pairsFormed }
}
"""


def _errors(response: Any) -> list[dict[str, Any]]:
    body = response.json()
    assert response.status_code == 200, body
    return list(body.get("errors") or [])


async def test_the_callers_token_and_correlation_id_reach_every_service(
    stack: Stack, token: Callable[..., str]
) -> None:
    admin = token("hr_admin")

    response = await stack.graphql(PAIR_WITH_EVERYTHING, {"id": "pair1"}, token=admin,
                                   headers={"X-Correlation-ID": "journey-42"})

    assert response.json()["data"]["pair"]["sessions"] == [{"id": "sess-pair1"}]
    assert response.headers["x-correlation-id"] == "journey-42"
    calls = [call for name in ("enrolment", "matching", "scheduling", "analytics")
             for call in stack.recorders[name].calls]
    assert len(calls) == 4
    assert {call.headers["authorization"] for call in calls} == {f"Bearer {admin}"}
    assert {call.headers["x-correlation-id"] for call in calls} == {"journey-42"}


async def test_without_a_correlation_id_one_is_minted_and_shared_by_every_call(
    stack: Stack, token: Callable[..., str]
) -> None:
    response = await stack.graphql(PAIR_WITH_EVERYTHING, {"id": "pair2"},
                                   token=token("hr_admin"))

    minted = response.headers["x-correlation-id"]
    ids = {call.headers["x-correlation-id"]
           for recorder in stack.recorders.values() for call in recorder.calls}
    assert ids == {minted}


async def test_bad_input_names_the_graphql_field_in_the_error_extensions(
    stack: Stack, token: Callable[..., str]
) -> None:
    mutation = """mutation ($input: ProgrammeInput!) {
      createProgramme(input: $input) { id } }"""

    response = await stack.graphql(mutation, {"input": {"name": "Digital", "mentorMaxLevel": 25}},
                                   token=token("hr_admin"))

    [error] = _errors(response)
    assert response.json()["data"] is None
    assert error["path"] == ["createProgramme"]
    extensions = error["extensions"]
    assert extensions["status"] == 422
    assert extensions["type"].endswith("/validation-error")
    assert extensions["field"] == "mentorMaxLevel"
    assert extensions["errors"][0]["field"] == "mentorMaxLevel"
    assert extensions["service"] == "enrolment"


async def test_a_rule_broken_in_the_service_names_its_field(
    stack: Stack, token: Callable[..., str]
) -> None:
    mutation = """mutation ($input: ProgrammeInput!) {
      createProgramme(input: $input) { id } }"""

    response = await stack.graphql(
        mutation, {"input": {"name": "Upside down", "mentorMaxLevel": 9, "menteeMinLevel": 3}},
        token=token("hr_admin"),
    )

    [error] = _errors(response)
    assert error["message"] == "Mentees must be senior to mentors"
    assert error["extensions"]["field"] == "menteeMinLevel"


async def test_a_participant_enrolling_someone_else_gets_a_403_error(
    stack: Stack, token: Callable[..., str]
) -> None:
    mutation = """mutation ($input: EnrolInput!) {
      enrol(programmeId: "prog1", input: $input) { id } }"""

    response = await stack.graphql(mutation, {"input": {"role": "MENTOR", "employeeId": "e2"}},
                                   token=token("participant", employee_id="e1"))

    [error] = _errors(response)
    assert error["extensions"]["status"] == 403
    assert error["extensions"]["type"].endswith("/forbidden")
    assert "only for themselves" in error["message"]


async def test_one_missing_object_does_not_sink_the_rest_of_the_query(
    stack: Stack, token: Callable[..., str]
) -> None:
    query = '{ found: programme(id: "prog1") { name } missing: programme(id: "nope") { name } }'

    response = await stack.graphql(query, token=token("hr_admin"))

    [error] = _errors(response)
    assert response.json()["data"] == {"found": {"name": "Programme 1"}, "missing": None}
    assert error["path"] == ["missing"]
    assert error["extensions"]["status"] == 404
    assert error["extensions"]["type"].endswith("/not-found")


async def test_a_service_that_is_down_nulls_only_its_own_fields_with_a_503(
    start_stack: Callable[..., AbstractAsyncContextManager[Stack]],
    token: Callable[..., str],
) -> None:
    async with start_stack(analytics=None) as stack:
        response = await stack.graphql(
            '{ programme(id: "prog1") { name summary { mentors } } }', token=token("hr_admin"),
        )

    [error] = _errors(response)
    assert response.json()["data"] == {"programme": {"name": "Programme 1", "summary": None}}
    assert error["path"] == ["programme", "summary"]
    assert error["extensions"]["status"] == 503
    assert error["extensions"]["service"] == "analytics"


async def test_an_answer_that_is_not_json_is_a_502_not_a_crash(
    stack: Stack, token: Callable[..., str]
) -> None:
    response = await stack.graphql('{ programmeSummary(programmeId: "prog-broken") { mentors } }',
                                   token=token("hr_admin"))

    [error] = _errors(response)
    assert error["extensions"]["status"] == 502
    assert error["extensions"]["service"] == "analytics"
