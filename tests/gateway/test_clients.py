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
    assert error["message"] == "Unexpected answer from the analytics service"
    assert error["extensions"]["status"] == 502
    assert error["extensions"]["service"] == "analytics"


async def _error(stack: Stack, query: str, variables: dict[str, Any] | None = None, *,
                 token: str) -> dict[str, Any]:
    [error] = _errors(await stack.graphql(query, variables, token=token))
    return error


async def test_survey_errors_name_the_graphql_fields_down_to_the_list_item(
    stack: Stack, token: Callable[..., str]
) -> None:
    mutation = """mutation ($input: SurveyInput!) {
      updateSurvey(participantId: "m1", input: $input) { id } }"""
    mentor = token("participant", employee_id="e1")

    unknown = await _error(stack, mutation, {"input": {
        "topicsTeach": [{"topic": "AI tools", "level": 3}, {"topic": "knitting", "level": 2}]}},
        token=mentor)
    unconsented = await _error(stack, mutation, {"input": {
        "diversity": [{"name": "generation", "value": "gen z"}]}}, token=mentor)
    avoided = await _error(stack, mutation, {"input": {"avoidEmployeeIds": ["e1"]}},
                           token=mentor)
    too_many = await _error(stack, mutation, {"input": {"mentorCapacity": 11}}, token=mentor)

    assert unknown["extensions"]["field"] == "topicsTeach.1.topic"
    assert unconsented["extensions"]["field"] == "diversityConsent"
    assert unconsented["message"] == "Diversity attributes are stored only with explicit consent"
    assert avoided["extensions"]["field"] == "avoidEmployeeIds"
    assert too_many["extensions"]["status"] == 422
    assert too_many["extensions"]["field"] == "mentorCapacity"
    assert too_many["extensions"]["errors"][0]["field"] == "mentorCapacity"


async def test_programme_errors_name_the_setting_in_camel_case(
    stack: Stack, token: Callable[..., str]
) -> None:
    mutation = """mutation ($input: ProgrammeUpdateInput!) {
      updateProgramme(programmeId: "prog1", input: $input) { id } }"""
    admin = token("hr_admin")

    window = await _error(stack, mutation, {"input": {"enrolmentOpensOn": "2026-03-01",
                                                      "enrolmentClosesOn": "2026-02-01"}},
                          token=admin)
    length = await _error(stack, mutation, {"input": {"sessionMinutes": 50}}, token=admin)
    status = await _error(stack, 'mutation { changeProgrammeStatus(programmeId: "prog1", '
                                 'status: "draft") { id } }', token=admin)
    topic = await _error(stack, 'mutation { addProgrammeTopics(programmeId: "prog1", '
                                'topics: ["ok", " "]) { id } }', token=admin)
    refused = await _error(stack, mutation, {"input": {"name": "Mine"}},
                           token=token("participant", employee_id="e1"))

    assert window["extensions"]["field"] == "enrolmentClosesOn"
    assert (length["extensions"]["status"], length["extensions"]["field"]) == (
        422, "sessionMinutes")
    assert (status["extensions"]["status"], status["extensions"]["field"]) == (409, "status")
    assert topic["extensions"]["field"] == "topics.1"
    assert refused["extensions"]["status"] == 403


async def test_invitation_and_pair_answers_are_the_invited_persons_alone(
    stack: Stack, token: Callable[..., str]
) -> None:
    someone_else = token("participant", employee_id="e6")

    accept = await _error(stack, 'mutation { acceptInvitation(invitationId: "inv1") { id } }',
                          token=someone_else)
    invite = await _error(stack, 'mutation { invite(programmeId: "prog1", input: '
                                 '{employeeId: "nobody", role: MENTEE}) { id } }',
                          token=token("hr_admin"))
    pair = await _error(stack, 'mutation { acceptPair(pairId: "pair5") { id } }',
                        token=someone_else)
    formed = await _error(stack, 'mutation { acceptPair(pairId: "pair1") { id } }',
                          token=token("hr_admin"))

    assert (accept["extensions"]["status"], accept["extensions"]["service"]) == (
        403, "enrolment")
    assert "Only the invited employee" in accept["message"]
    assert (invite["extensions"]["status"], invite["extensions"]["field"]) == (
        422, "employeeId")
    assert (pair["extensions"]["status"], pair["extensions"]["service"]) == (403, "matching")
    assert (formed["extensions"]["status"], formed["extensions"]["field"]) == (409, "status")


async def test_matching_errors_name_the_graphql_fields(
    stack: Stack, token: Callable[..., str]
) -> None:
    admin = token("hr_admin")
    config = """mutation ($input: MatchingConfigInput!) {
      updateMatchingConfig(programmeId: "prog1", input: $input) { programmeId } }"""

    far = await _error(stack, config, {"input": {"maxTimeZoneHours": 13}}, token=admin)
    negative = await _error(stack, config, {"input": {"weights": [
        {"factor": "interests", "weight": -1}]}}, token=admin)
    objective = await _error(stack, 'mutation { runMatching(programmeId: "prog1", '
                                    'objective: "max_fun") { id } }', token=admin)
    pick = await _error(stack, 'mutation { pickMentor(programmeId: "prog1", '
                               'menteeParticipantId: "s1", mentorParticipantId: "s2") { id } }',
                        token=token("participant", employee_id="e6"))
    published = await _error(stack, 'mutation { publishMatchRun(runId: "run1") { id } }',
                             token=admin)
    pool = await _error(stack, '{ poolStats(programmeId: "prog1") { mentors } }',
                        token=token("participant", employee_id="e6"))

    assert far["extensions"]["field"] == "maxTimeZoneHours"
    assert negative["extensions"]["field"] == "weights"
    assert objective["extensions"]["field"] == "objective"
    assert pick["extensions"]["field"] == "mentorParticipantId"
    assert (published["extensions"]["status"], published["extensions"]["field"]) == (
        409, "status")
    assert pool["extensions"]["status"] == 403


async def test_an_id_that_would_steer_the_call_elsewhere_is_refused_without_a_call(
    stack: Stack, token: Callable[..., str]
) -> None:
    admin = token("hr_admin")

    traversal = await _error(stack, '{ participant(id: "../../../openapi.json") { id } }',
                             token=admin)
    control = await _error(stack, "query ($id: ID!) { participant(id: $id) { id } }",
                           {"id": "m1\n\u0000"}, token=admin)
    slash = await _error(stack, 'mutation { withdraw(participantId: "m1/../../employees/e1") '
                                "{ id } }", token=admin)
    nested = await _error(stack, '{ suggestions(programmeId: "prog1", '
                                 'menteeParticipantId: "s1?limit=1000") { score } }',
                          token=admin)
    query = await _error(stack, '{ pairs(participantId: "m1 OR 1=1") { id } }', token=admin)

    assert (traversal["extensions"]["status"], traversal["extensions"]["field"]) == (422, "id")
    assert traversal["message"].startswith("Invalid id: must be letters, digits")
    assert "openapi" not in traversal["message"]
    assert (control["extensions"]["status"], control["extensions"]["field"]) == (422, "id")
    assert slash["extensions"]["field"] == "participantId"
    assert nested["extensions"]["field"] == "menteeParticipantId"
    assert query["extensions"]["field"] == "participantId"
    assert all(not recorder.calls for recorder in stack.recorders.values())


async def test_an_id_past_its_cap_is_refused(stack: Stack, token: Callable[..., str]) -> None:
    error = await _error(stack, "query ($id: ID!) { pair(id: $id) { id } }", {"id": "p" * 65},
                         token=token("hr_admin"))

    assert (error["extensions"]["status"], error["extensions"]["field"]) == (422, "id")
    assert not stack.recorders["matching"].calls


async def test_an_answer_that_is_not_the_expected_shape_is_a_generic_502(
    stack: Stack, token: Callable[..., str]
) -> None:
    response = await stack.graphql('{ participant(id: "garbled") { id role } }',
                                   token=token("hr_admin"))

    [error] = _errors(response)
    assert error["message"] == "Unexpected answer from the enrolment service"
    assert error["extensions"]["status"] == 502
    assert error["extensions"]["service"] == "enrolment"
    for leak in ("validation", "pydantic", "boss", "Field required", "do-not-leak", "Input"):
        assert leak not in response.text
