"""Mutations answer payloads: the result, or user errors naming the input at fault, so one
refusal never erases what else the request did; every error carries a code from one enum."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import pytest

from gateway.clients import ProblemError, gateway_problem
from gateway.schema.errors import ErrorCode, _input_path, camel_message, error_code, member
from gateway.schema.matching import PairStatus
from tests.gateway.conftest import Stack
from tests.support.logs import logged

FOUR = """mutation Setup {
  created: createProgramme(input: {name: "Digital first", status: DRAFT}) {
    programme { id status } errors { field code message } }
  topics: addProgrammeTopics(programmeId: "prog1", topics: ["remote work"]) {
    programme { id } errors { field code message } }
  status: changeProgrammeStatus(programmeId: "prog1", status: DRAFT) {
    programme { status } errors { field code message } }
  invited: invite(programmeId: "prog1", input: {employeeId: "e4", role: MENTOR}) {
    invitation { id status } errors { field code message } }
}"""


async def test_four_mutations_where_the_third_is_refused_answer_all_four(
    stack: Stack, token: Callable[..., str]
) -> None:
    response = await stack.graphql(FOUR, token=token("hr_admin"))

    body = response.json()
    assert response.status_code == 200
    assert "errors" not in body, body["errors"]
    assert body["data"] == {
        "created": {"programme": {"id": "prog-new", "status": "DRAFT"}, "errors": []},
        "topics": {"programme": {"id": "prog1"}, "errors": []},
        "status": {"programme": None, "errors": [{
            "field": "status", "code": "CONFLICT",
            "message": "A open programme cannot become draft (allowed: closed, running)"}]},
        "invited": {"invitation": {"id": "inv-new", "status": "PENDING"}, "errors": []},
    }
    # Each was sent to enrolment, in order; the fourth after the third's refusal.
    assert stack.recorders["enrolment"].paths("POST") == [
        "/api/v1/programmes", "/api/v1/programmes/prog1/topics",
        "/api/v1/programmes/prog1/status", "/api/v1/programmes/prog1/invitations"]


async def test_a_service_that_is_down_fails_only_its_own_mutation_with_an_error(
    start_stack: Callable[..., AbstractAsyncContextManager[Stack]],
    token: Callable[..., str],
) -> None:
    mutation = """mutation {
      createProgramme(input: {name: "Digital first"}) { programme { id } errors { code } }
      formPair(input: {programmeId: "prog1", menteeParticipantId: "s2",
                       mentorParticipantId: "m3"}) { pair { id } errors { code } } }"""

    async with start_stack(matching=None) as stack:
        response = await stack.graphql(mutation, token=token("hr_admin"))

    body = response.json()
    assert body["data"] == {"createProgramme": {"programme": {"id": "prog-new"}, "errors": []},
                            "formPair": None}
    [error] = body["errors"]
    assert error["path"] == ["formPair"]
    assert (error["extensions"]["status"], error["extensions"]["code"]) == (503, "UNAVAILABLE")


@pytest.mark.parametrize(("query", "says"), [
    ("{ programmes { id ", "Syntax Error"),
    ("{ programmes { nodes { nickname } } }", "Cannot query field 'nickname'"),
    ('{ pairs(status: "active") { nodes { id } } }',
     "Enum 'PairStatus' cannot represent non-enum value"),
    ('mutation { endPair(pairId: "pair1", reason: bored) { pair { id } } }',
     "Value 'bored' does not exist in 'PairEndReason' enum"),
])
async def test_a_query_that_does_not_parse_or_validate_is_a_client_error_logged_below_error(
    stack: Stack, token: Callable[..., str], query: str, says: str
) -> None:
    with logged() as records:
        response = await stack.graphql(query, token=token("hr_admin"))

    [error] = response.json()["errors"]
    assert says in error["message"]
    assert error["extensions"]["code"] == "QUERY_INVALID"
    assert all(not recorder.calls for recorder in stack.recorders.values())
    refused = [r for r in records if r.getMessage() == "query refused"]
    assert refused and all(r.levelno == logging.INFO for r in refused)
    assert not [r for r in records if r.levelno >= logging.WARNING]


# --- the pieces, on their own ---------------------------------------------------------


def test_codes_follow_the_status_and_the_query_limits_type() -> None:
    def problem(status: int, kind: str = "x") -> ProblemError:
        return gateway_problem(status, "no", kind=kind)

    assert [error_code(problem(s)) for s in (400, 401, 403, 404, 409, 413, 422, 429)] == [
        ErrorCode.INVALID, ErrorCode.UNAUTHENTICATED, ErrorCode.FORBIDDEN, ErrorCode.NOT_FOUND,
        ErrorCode.CONFLICT, ErrorCode.TOO_LARGE, ErrorCode.INVALID, ErrorCode.RATE_LIMITED]
    assert [error_code(problem(s)) for s in (500, 502, 503, 504, 507)] == [
        ErrorCode.INTERNAL, ErrorCode.BAD_GATEWAY, ErrorCode.UNAVAILABLE, ErrorCode.TIMEOUT,
        ErrorCode.INTERNAL]
    assert error_code(problem(418)) == ErrorCode.INVALID
    assert error_code(problem(413, "query-too-large")) == ErrorCode.QUERY_INVALID


def test_a_services_field_becomes_its_path_in_the_mutations_arguments() -> None:
    assert _input_path("sessionMinutes", written={"input"}, body="input") == (
        "input.sessionMinutes")
    assert _input_path("0.jobLevel", written={"records"}, body="records") == "records.0.jobLevel"
    assert _input_path("programmeId", written={"programmeId", "input"}, body="input") == (
        "programmeId")
    assert _input_path("input.employeeId", written={"input"}, body="input") == (
        "input.employeeId")
    assert _input_path("reason", written={"pairId", "reason"}, body=None) == "reason"
    assert _input_path("runId", written={"matchRunId"}, body=None) == "matchRunId"
    assert _input_path(None, written=set(), body="input") is None
    assert _input_path("body", written=set(), body="input") is None


def test_messages_use_the_schemas_camel_case_names() -> None:
    assert camel_message("Invalid value for mentor_max_level, session_minutes") == (
        "Invalid value for mentorMaxLevel, sessionMinutes")
    assert camel_message("Input should be less than or equal to 20") == (
        "Input should be less than or equal to 20")


def test_a_value_outside_an_enum_is_a_502_naming_the_service() -> None:
    assert member(PairStatus, "active", service="matching") is PairStatus.ACTIVE
    with pytest.raises(ProblemError) as refused:
        member(PairStatus, "paused", service="matching")
    assert (refused.value.status, refused.value.extensions["service"]) == (502, "matching")
