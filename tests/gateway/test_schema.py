"""The journey's queries and mutations, and how many calls a nested query costs."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import Any

from tests.gateway.conftest import Stack
from tests.gateway.fakes import PAIRS


def _data(response: Any) -> dict[str, Any]:
    body = response.json()
    assert response.status_code == 200, body
    assert "errors" not in body, body["errors"]
    return dict(body["data"])


def _sent(stack: Stack, service: str) -> Any:
    return json.loads(stack.recorders[service].bodies[-1][1])


async def test_five_pairs_cost_one_call_per_distinct_participant_and_per_pair(
    stack: Stack, token: Callable[..., str]
) -> None:
    query = """{ pairs(programmeId: "prog1") {
        id status formedAt mentor { id employeeId } mentee { id role } sessions { id status }
    } }"""

    data = _data(await stack.graphql(query, token=token("hr_admin")))

    assert [p["id"] for p in data["pairs"]] == list(PAIRS)
    # A mentee's pick awaiting the mentor's answer is listed, though not formed yet.
    assert (data["pairs"][4]["status"], data["pairs"][4]["formedAt"]) == ("proposed", None)
    assert data["pairs"][4]["mentor"] == {"id": "m2", "employeeId": "e2"}
    assert data["pairs"][4]["mentee"] == {"id": "s1", "role": "MENTEE"}
    distinct = {p[k] for p in PAIRS.values()
                for k in ("mentor_participant_id", "mentee_participant_id")}
    assert len(distinct) == 7  # 10 mentor/mentee slots, 7 different people
    enrolment = Counter(stack.recorders["enrolment"].paths())
    assert enrolment == Counter(f"/api/v1/participants/{pid}" for pid in distinct)
    assert stack.recorders["matching"].paths() == ["/api/v1/pairs"]
    assert Counter(stack.recorders["scheduling"].paths()) == Counter(
        f"/api/v1/pairs/{pid}/sessions" for pid in PAIRS)


async def test_participants_listed_earlier_in_a_request_are_not_fetched_again(
    stack: Stack, token: Callable[..., str]
) -> None:
    query = """{ programme(id: "prog1") {
        participants { id }
        pairs { mentor { id } mentee { id } } } }"""

    data = _data(await stack.graphql(query, token=token("hr_admin")))

    assert len(data["programme"]["participants"]) == 7
    assert len(data["programme"]["pairs"]) == 5
    assert not [p for p in stack.recorders["enrolment"].paths()
                if p.startswith("/api/v1/participants/")]


async def test_a_programmes_participants_and_summary_are_fetched_only_when_asked(
    stack: Stack, token: Callable[..., str]
) -> None:
    admin = token("hr_admin")

    plain = _data(await stack.graphql("{ programmes { id name status } }", token=admin))
    assert [p["id"] for p in plain["programmes"]] == ["prog1", "prog2", "prog3"]
    assert stack.recorders["enrolment"].paths() == ["/api/v1/programmes"]
    assert not stack.recorders["analytics"].calls
    stack.clear()

    full = _data(await stack.graphql(
        "{ programmes { id participants { id role } summary { pairsFormed sessionsHeld } } }",
        token=admin,
    ))

    assert [len(p["participants"]) for p in full["programmes"]] == [7, 1, 1]
    assert full["programmes"][0]["summary"] == {"pairsFormed": 5, "sessionsHeld": 0}
    assert Counter(stack.recorders["enrolment"].paths()) == Counter(
        ["/api/v1/programmes"] + [f"/api/v1/programmes/prog{i}/participants" for i in (1, 2, 3)])
    assert Counter(stack.recorders["analytics"].paths()) == Counter(
        f"/api/v1/programmes/prog{i}/summary" for i in (1, 2, 3))


async def test_nested_lookups_follow_ids_across_services(
    stack: Stack, token: Callable[..., str]
) -> None:
    query = """{ participant(id: "s4") {
        employee { givenName jobLevel manager { id managerId } }
        programme { name } } }"""

    data = _data(await stack.graphql(query, token=token("hr_admin")))

    assert data["participant"] == {
        "employee": {"givenName": "G9", "jobLevel": 9, "manager": None},
        "programme": {"name": "Programme 1"},
    }


async def test_suggestions_pass_the_limit_and_carry_the_score_breakdown(
    stack: Stack, token: Callable[..., str]
) -> None:
    query = """{ suggestions(programmeId: "prog1", menteeParticipantId: "s1", limit: 2) {
        mentorParticipantId score breakdown { factor points reason } mentor { role } } }"""

    data = _data(await stack.graphql(query, token=token("hr_admin")))

    assert [s["mentorParticipantId"] for s in data["suggestions"]] == ["m1", "m2"]
    assert data["suggestions"][0]["breakdown"] == [
        {"factor": "topics", "points": 50.0, "reason": "tiktok"}]
    assert data["suggestions"][0]["mentor"] == {"role": "MENTOR"}
    assert stack.recorders["matching"].calls[0].query == "limit=2"


async def test_import_employees_sends_the_hris_records_and_returns_the_report(
    stack: Stack, token: Callable[..., str]
) -> None:
    mutation = """mutation ($records: [EmployeeInput!]!) {
      importEmployees(records: $records) { created rejected errors { row field reason } } }"""
    records = [{"externalId": "W1", "email": "ana@example.com", "givenName": "Ana",
                "familyName": "Lima", "jobLevel": 3, "department": "Sales",
                "managerExternalId": "W9", "hireDate": "2024-09-01"}]

    data = _data(await stack.graphql(mutation, {"records": records}, token=token("hris")))

    assert data["importEmployees"]["created"] == 1
    assert data["importEmployees"]["errors"] == [
        {"row": 2, "field": "jobLevel", "reason": "must be 1-20"}]
    content_type, _ = stack.recorders["enrolment"].bodies[-1]
    assert content_type == "application/json"
    assert _sent(stack, "enrolment") == [{
        "external_id": "W1", "email": "ana@example.com", "given_name": "Ana",
        "family_name": "Lima", "job_level": 3, "department": "Sales",
        "manager_external_id": "W9", "hire_date": "2024-09-01", "active": True,
    }]


async def test_enrol_defaults_to_the_callers_own_employee(
    stack: Stack, token: Callable[..., str]
) -> None:
    mutation = """mutation { enrol(programmeId: "prog1", input: {
        role: MENTOR, topicsTeach: [{topic: "tiktok", level: 5}], mentorCapacity: 2 }) {
        programmeId employeeId role topicsTeach { topic level } mentorCapacity } }"""

    data = _data(await stack.graphql(mutation, token=token("participant", employee_id="e1")))

    assert data["enrol"] == {"programmeId": "prog1", "employeeId": "e1", "role": "MENTOR",
                             "topicsTeach": [{"topic": "tiktok", "level": 5}],
                             "mentorCapacity": 2}
    assert _sent(stack, "enrolment") == {"employee_id": "e1", "role": "mentor",
                                         "topics_teach": [{"topic": "tiktok", "level": 5}],
                                         "mentor_capacity": 2}


async def test_enrolling_with_a_token_that_names_no_employee_says_which_field_is_missing(
    stack: Stack, token: Callable[..., str]
) -> None:
    response = await stack.graphql(
        'mutation { enrol(programmeId: "prog1", input: {role: MENTEE}) { id } }',
        token=token("hr_admin"),
    )

    [error] = response.json()["errors"]
    assert error["extensions"]["status"] == 422
    assert error["extensions"]["field"] == "employeeId"
    assert not stack.recorders["enrolment"].calls


async def test_pair_mutations_reach_matching_with_their_bodies(
    stack: Stack, token: Callable[..., str]
) -> None:
    admin = token("hr_admin")
    form = """mutation { formPair(input: {programmeId: "prog1", menteeParticipantId: "s2",
        mentorParticipantId: "m3", overrideReason: "same floor"}) {
        id mentorEmployeeId menteeEmployeeId status } }"""

    formed = _data(await stack.graphql(form, token=admin))["formPair"]
    assert formed == {"id": "pair-new", "mentorEmployeeId": "e3", "menteeEmployeeId": "e7",
                      "status": "active"}
    assert _sent(stack, "matching") == {"programme_id": "prog1", "mentee_participant_id": "s2",
                                        "mentor_participant_id": "m3",
                                        "override_reason": "same floor"}

    ended = _data(await stack.graphql(
        """mutation { endPair(pairId: "pair1", reason: "completed", note: "six months done") {
            status endReason } }""",
        token=admin,
    ))["endPair"]
    assert ended == {"status": "ended", "endReason": "completed"}
    assert _sent(stack, "matching") == {"reason": "completed", "note": "six months done"}


async def test_a_conflict_from_matching_names_the_field(
    stack: Stack, token: Callable[..., str]
) -> None:
    form = """mutation { formPair(input: {programmeId: "prog1", menteeParticipantId: "m1",
        mentorParticipantId: "m1"}) { id } }"""

    [error] = (await stack.graphql(form, token=token("hr_admin"))).json()["errors"]

    assert error["extensions"]["status"] == 409
    assert error["extensions"]["field"] == "mentorParticipantId"


async def test_a_participant_logs_a_session_and_sees_their_own_sessions(
    stack: Stack, token: Callable[..., str]
) -> None:
    mentor = token("participant", employee_id="e1")
    log = """mutation { logSession(sessionId: "sess-pair1", input: {
        heldAt: "2026-02-02T10:05:00+00:00", durationMinutes: 50,
        recap: "Set up a LinkedIn newsletter", privateNote: "ask about budget" }) {
        status heldAt recap myPrivateNote } }"""

    logged = _data(await stack.graphql(log, token=mentor))["logSession"]
    assert logged == {"status": "held", "heldAt": "2026-02-02T10:05:00+00:00",
                      "recap": "Set up a LinkedIn newsletter",
                      "myPrivateNote": "ask about budget"}
    assert _sent(stack, "scheduling") == {
        "held_at": "2026-02-02T10:05:00Z", "duration_minutes": 50,
        "recap": "Set up a LinkedIn newsletter", "private_note": "ask about budget"}

    mine = _data(await stack.graphql("{ mySessions { pairId } }", token=mentor))
    assert [s["pairId"] for s in mine["mySessions"]] == ["pair1", "pair2"]
    assert stack.recorders["scheduling"].calls[-1].query == "employee_id=e1"

    one = _data(await stack.graphql('{ session(id: "sess-pair2") { pair { menteeEmployeeId } } }',
                                    token=mentor))
    assert one["session"] == {"pair": {"menteeEmployeeId": "e7"}}


async def test_withdraw_returns_the_withdrawn_participant(
    stack: Stack, token: Callable[..., str]
) -> None:
    mutation = 'mutation { withdraw(participantId: "m3", reason: "new job") { id status } }'

    data = _data(await stack.graphql(mutation, token=token("participant", employee_id="e3")))

    assert data["withdraw"] == {"id": "m3", "status": "withdrawn"}
    assert _sent(stack, "enrolment") == {"reason": "new job"}
