"""Calls to the services: the caller's token and correlation id go along; problems come back."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from tests.gateway.conftest import Stack

PAIR_WITH_EVERYTHING = """
query ($id: ID!) {
  pair(pairId: $id) { id mentor { id } sessions { nodes { id } } }
  programmeSummary(programmeId: "prog1") { pairsFormed }
}
"""


def _errors(response: Any) -> list[dict[str, Any]]:
    body = response.json()
    # GraphQL over HTTP: a request refused before it ran has no `data` and a 4xx status.
    assert response.status_code == (200 if "data" in body else 400), body
    return list(body.get("errors") or [])


async def test_the_callers_token_and_correlation_id_reach_every_service(
    stack: Stack, token: Callable[..., str]
) -> None:
    admin = token("hr_admin")

    response = await stack.graphql(PAIR_WITH_EVERYTHING, {"id": "pair1"}, token=admin,
                                   headers={"X-Correlation-ID": "journey-42"})

    assert response.json()["data"]["pair"]["sessions"]["nodes"] == [{"id": "sess-pair1"}]
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


async def _refused(stack: Stack, mutation: str, variables: dict[str, Any] | None = None, *,
                   token: str) -> list[dict[str, Any]]:
    """The user errors of the request's one mutation, which must have done nothing."""
    response = await stack.graphql(mutation, variables, token=token)
    assert not _errors(response)
    [payload] = response.json()["data"].values()
    [result] = [value for key, value in payload.items() if key != "errors"]
    assert result is None
    return list(payload["errors"])


async def test_bad_input_names_the_input_path_in_the_payloads_errors(
    stack: Stack, token: Callable[..., str]
) -> None:
    mutation = """mutation ($input: ProgrammeInput!) {
      createProgramme(input: $input) { programme { id } errors { field code message } } }"""

    errors = await _refused(stack, mutation, {"input": {"name": "Digital", "mentorMaxLevel": 25}},
                            token=token("hr_admin"))

    assert errors == [{"field": "input.mentorMaxLevel", "code": "INVALID",
                       "message": "Must be less than or equal to 20"}]


async def test_a_rule_broken_in_the_service_names_its_field(
    stack: Stack, token: Callable[..., str]
) -> None:
    mutation = """mutation ($input: ProgrammeInput!) {
      createProgramme(input: $input) { programme { id } errors { field code message } } }"""

    errors = await _refused(
        stack, mutation,
        {"input": {"name": "Upside down", "mentorMaxLevel": 9, "menteeMinLevel": 3}},
        token=token("hr_admin"),
    )

    assert errors == [{"field": "input.menteeMinLevel", "code": "INVALID",
                       "message": "Mentees must be senior to mentors"}]


async def test_a_participant_enrolling_someone_else_gets_a_forbidden_user_error(
    stack: Stack, token: Callable[..., str]
) -> None:
    mutation = """mutation ($input: EnrolInput!) {
      enrol(programmeId: "prog1", input: $input) {
        participant { id } errors { field code message } } }"""

    [error] = await _refused(stack, mutation, {"input": {"role": "MENTOR", "employeeId": "e2"}},
                             token=token("participant", employee_id="e1"))

    assert error["code"] == "FORBIDDEN"
    assert "only for themselves" in error["message"]


async def test_one_missing_object_does_not_sink_the_rest_of_the_query(
    stack: Stack, token: Callable[..., str]
) -> None:
    query = """{ found: programme(programmeId: "prog1") { name }
                 missing: programme(programmeId: "nope") { name } }"""

    response = await stack.graphql(query, token=token("hr_admin"))

    [error] = _errors(response)
    assert response.json()["data"] == {"found": {"name": "Programme 1"}, "missing": None}
    assert error["path"] == ["missing"]
    assert error["extensions"]["status"] == 404
    assert error["extensions"]["type"].endswith("/not-found")
    assert error["extensions"]["code"] == "NOT_FOUND"


async def test_a_service_that_is_down_nulls_only_its_own_fields_with_a_503(
    start_stack: Callable[..., AbstractAsyncContextManager[Stack]],
    token: Callable[..., str],
) -> None:
    async with start_stack(analytics=None) as stack:
        response = await stack.graphql(
            '{ programme(programmeId: "prog1") { name summary { mentors } } }',
            token=token("hr_admin"),
        )

    [error] = _errors(response)
    assert response.json()["data"] == {"programme": {"name": "Programme 1", "summary": None}}
    assert error["path"] == ["programme", "summary"]
    assert error["extensions"]["status"] == 503
    assert error["extensions"]["code"] == "UNAVAILABLE"
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


async def test_survey_errors_name_the_input_path_down_to_the_list_item(
    stack: Stack, token: Callable[..., str]
) -> None:
    mutation = """mutation ($input: SurveyInput!) {
      updateSurvey(participantId: "m1", input: $input) {
        participant { id } errors { field code message } } }"""
    mentor = token("participant", employee_id="e1")

    [unknown] = await _refused(stack, mutation, {"input": {
        "topicsTeach": [{"topic": "AI tools", "level": 3}, {"topic": "knitting", "level": 2}]}},
        token=mentor)
    [unconsented] = await _refused(stack, mutation, {"input": {
        "diversity": [{"name": "generation", "value": "gen z"}]}}, token=mentor)
    [avoided] = await _refused(stack, mutation, {"input": {"avoidEmployeeIds": ["e1"]}},
                               token=mentor)
    [too_many] = await _refused(stack, mutation, {"input": {"mentorCapacity": 11}},
                                token=mentor)

    assert unknown["field"] == "input.topicsTeach.1.topic"
    assert unconsented["field"] == "input.diversityConsent"
    assert unconsented["message"] == "Diversity attributes are stored only with explicit consent"
    assert avoided["field"] == "input.avoidEmployeeIds"
    assert (too_many["field"], too_many["code"]) == ("input.mentorCapacity", "INVALID")


async def test_programme_errors_name_the_setting_in_camel_case(
    stack: Stack, token: Callable[..., str]
) -> None:
    mutation = """mutation ($input: ProgrammeUpdateInput!) {
      updateProgramme(programmeId: "prog1", input: $input) {
        programme { id } errors { field code message } } }"""
    admin = token("hr_admin")

    [window] = await _refused(stack, mutation, {"input": {"enrolmentOpensOn": "2026-03-01",
                                                          "enrolmentClosesOn": "2026-02-01"}},
                              token=admin)
    [length] = await _refused(stack, mutation, {"input": {"sessionMinutes": 50}}, token=admin)
    [status] = await _refused(stack, 'mutation { changeProgrammeStatus(programmeId: "prog1", '
                                     'status: DRAFT) { programme { id } '
                                     'errors { field code message } } }',
                              token=admin)
    [topic] = await _refused(stack, 'mutation { addProgrammeTopics(programmeId: "prog1", '
                                    'topics: ["ok", " "]) { programme { id } '
                                    'errors { field code message } } }', token=admin)
    [refused] = await _refused(stack, mutation, {"input": {"name": "Mine"}},
                               token=token("participant", employee_id="e1"))

    assert window["field"] == "input.enrolmentClosesOn"
    assert (length["code"], length["field"]) == ("INVALID", "input.sessionMinutes")
    assert (status["code"], status["field"]) == ("CONFLICT", "status")
    assert topic["field"] == "topics.1"
    assert (refused["code"], refused["field"]) == ("FORBIDDEN", None)


async def test_invitation_and_pair_answers_are_the_invited_persons_alone(
    stack: Stack, token: Callable[..., str]
) -> None:
    someone_else = token("participant", employee_id="e6")

    [accept] = await _refused(stack, 'mutation { acceptInvitation(invitationId: "inv1") '
                                     '{ participant { id } errors { field code message } } }',
                              token=someone_else)
    [invite] = await _refused(stack, 'mutation { invite(programmeId: "prog1", input: '
                                     '{employeeId: "nobody", role: MENTEE}) '
                                     '{ invitation { id } errors { field code message } } }',
                              token=token("hr_admin"))
    [pair] = await _refused(stack, 'mutation { acceptPair(pairId: "pair5") { pair { id } '
                                   'errors { field code message } } }', token=someone_else)
    [formed] = await _refused(stack, 'mutation { acceptPair(pairId: "pair1") '
                                     '{ pair { id } errors { field code message } } }',
                              token=token("hr_admin"))

    assert accept["code"] == "FORBIDDEN"
    assert "Only the invited employee" in accept["message"]
    assert (invite["code"], invite["field"]) == ("INVALID", "input.employeeId")
    assert pair["code"] == "FORBIDDEN"
    assert (formed["code"], formed["field"]) == ("CONFLICT", "status")


async def test_matching_errors_name_the_input_paths(
    stack: Stack, token: Callable[..., str]
) -> None:
    admin = token("hr_admin")
    config = """mutation ($input: MatchingConfigInput!) {
      updateMatchingConfig(programmeId: "prog1", input: $input) {
        matchingConfig { programmeId } errors { field code message } } }"""

    [far] = await _refused(stack, config, {"input": {"maxTimeZoneHours": 13}}, token=admin)
    [negative] = await _refused(stack, config, {"input": {"weights": [
        {"factor": "INTERESTS", "weight": -1}]}}, token=admin)
    [pick] = await _refused(stack, 'mutation { pickMentor(programmeId: "prog1", '
                                   'menteeParticipantId: "s1", mentorParticipantId: "s2") '
                                   '{ pair { id } errors { field code message } } }',
                            token=token("participant", employee_id="e6"))
    [published] = await _refused(stack, 'mutation { publishMatchRun(matchRunId: "run1") '
                                        '{ matchRun { id } errors { field code message } } }',
                                 token=admin)
    [bad_id] = await _refused(stack, 'mutation { publishMatchRun(matchRunId: "run/1") '
                                     '{ matchRun { id } errors { field code message } } }',
                              token=admin)
    pool = await _error(stack, '{ poolStats(programmeId: "prog1") { mentors } }',
                        token=token("participant", employee_id="e6"))

    assert far["field"] == "input.maxTimeZoneHours"
    assert negative["field"] == "input.weights"
    assert pick["field"] == "mentorParticipantId"
    assert (published["code"], published["field"]) == ("CONFLICT", "status")
    assert (bad_id["code"], bad_id["field"]) == ("INVALID", "matchRunId")
    assert (pool["extensions"]["status"], pool["extensions"]["code"]) == (403, "FORBIDDEN")


async def test_a_value_outside_an_enum_is_refused_by_validation_naming_the_argument(
    stack: Stack, token: Callable[..., str]
) -> None:
    error = await _error(stack, 'mutation { runMatching(programmeId: "prog1", '
                                'objective: max_fun) { matchRun { id } } }',
                         token=token("hr_admin"))

    assert "MatchObjective" in error["message"] and "max_fun" in error["message"]
    assert error["extensions"]["code"] == "QUERY_INVALID"
    assert not stack.recorders["matching"].calls


async def test_an_id_that_would_steer_the_call_elsewhere_is_refused_without_a_call(
    stack: Stack, token: Callable[..., str]
) -> None:
    admin = token("hr_admin")

    traversal = await _error(
        stack, '{ participant(participantId: "../../../openapi.json") { id } }', token=admin)
    control = await _error(stack, "query ($id: ID!) { participant(participantId: $id) { id } }",
                           {"id": "m1\n\u0000"}, token=admin)
    [slash] = await _refused(stack, 'mutation { withdraw(participantId: '
                                    '"m1/../../employees/e1") { participant { id } '
                                    'errors { field code message } } }', token=admin)
    nested = await _error(stack, '{ suggestions(programmeId: "prog1", '
                                 'menteeParticipantId: "s1?limit=1000") { score } }',
                          token=admin)
    query = await _error(stack, '{ pairs(participantId: "m1 OR 1=1") { nodes { id } } }',
                         token=admin)

    assert (traversal["extensions"]["status"], traversal["extensions"]["field"]) == (
        422, "participantId")
    assert traversal["extensions"]["code"] == "INVALID"
    assert traversal["message"].startswith("Invalid participantId: must be letters, digits")
    assert "openapi" not in traversal["message"]
    assert (control["extensions"]["status"], control["extensions"]["field"]) == (
        422, "participantId")
    assert (slash["field"], slash["code"]) == ("participantId", "INVALID")
    assert nested["extensions"]["field"] == "menteeParticipantId"
    assert query["extensions"]["field"] == "participantId"
    assert all(not recorder.calls for recorder in stack.recorders.values())


async def test_an_id_past_its_cap_is_refused(stack: Stack, token: Callable[..., str]) -> None:
    error = await _error(stack, "query ($id: ID!) { pair(pairId: $id) { id } }",
                         {"id": "p" * 65}, token=token("hr_admin"))

    assert (error["extensions"]["status"], error["extensions"]["field"]) == (422, "pairId")
    assert not stack.recorders["matching"].calls


async def test_an_answer_that_is_not_the_expected_shape_is_a_generic_502(
    stack: Stack, token: Callable[..., str]
) -> None:
    response = await stack.graphql('{ participant(participantId: "garbled") { id role } }',
                                   token=token("hr_admin"))

    [error] = _errors(response)
    assert error["message"] == "Unexpected answer from the enrolment service"
    assert error["extensions"]["status"] == 502
    assert error["extensions"]["service"] == "enrolment"
    for leak in ("validation", "pydantic", "boss", "Field required", "do-not-leak", "Input"):
        assert leak not in response.text
