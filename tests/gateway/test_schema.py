"""The journey's queries and mutations, and how many calls a nested query costs."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from tests.gateway.conftest import Stack
from tests.gateway.fakes import PAIRS


def _data(response: Any) -> dict[str, Any]:
    body = response.json()
    assert response.status_code == 200, body
    assert "errors" not in body, body["errors"]
    return dict(body["data"])


def _sent(stack: Stack, service: str) -> Any:
    return json.loads(stack.recorders[service].bodies[-1][1])


def _done(data: dict[str, Any], mutation: str, result: str) -> Any:
    """A mutation's result from its payload, which must carry no user errors."""
    payload = data[mutation]
    assert payload["errors"] == [], payload["errors"]
    return payload[result]


async def test_five_pairs_cost_one_batch_call_per_service(
    stack: Stack, token: Callable[..., str]
) -> None:
    query = """{ pairs(programmeId: "prog1") { nodes {
        id status formedAt mentor { id employeeId } mentee { id role }
        sessions { nodes { id status } } nextSession { id }
    } } }"""

    data = _data(await stack.graphql(query, token=token("hr_admin")))

    assert [p["id"] for p in data["pairs"]["nodes"]] == list(PAIRS)
    # A mentee's pick awaiting the mentor's answer is listed, though not formed yet.
    fifth = data["pairs"]["nodes"][4]
    assert (fifth["status"], fifth["formedAt"]) == ("PROPOSED", None)
    assert data["pairs"]["nodes"][4]["mentor"] == {"id": "m2", "employeeId": "e2"}
    assert data["pairs"]["nodes"][4]["mentee"] == {"id": "s1", "role": "MENTEE"}
    # It has no sessions, and scheduling (which never heard of it) is not asked.
    assert (fifth["sessions"], fifth["nextSession"]) == ({"nodes": []}, None)
    assert data["pairs"]["nodes"][0]["nextSession"] is not None
    distinct = {p[k] for p in PAIRS.values()
                for k in ("mentor_participant_id", "mentee_participant_id")}
    assert len(distinct) == 7  # 10 mentor/mentee slots, 7 different people
    # One batch read per service, each distinct id asked once.
    [people] = stack.recorders["enrolment"].calls
    assert people.path == "/api/v1/batch/participants"
    assert sorted(parse_qs(people.query)["id"]) == sorted(distinct)
    assert stack.recorders["matching"].paths() == ["/api/v1/pairs"]
    [sessions] = stack.recorders["scheduling"].calls
    assert sessions.path == "/api/v1/batch/pair-sessions"
    assert sorted(parse_qs(sessions.query)["id"]) == sorted(set(PAIRS) - {"pair5"})


async def test_participants_listed_earlier_in_a_request_are_not_fetched_again(
    stack: Stack, token: Callable[..., str]
) -> None:
    query = """{ programme(programmeId: "prog1") {
        participants { nodes { id } }
        pairs { nodes { mentor { id } mentee { id } } } } }"""

    data = _data(await stack.graphql(query, token=token("hr_admin")))

    assert len(data["programme"]["participants"]["nodes"]) == 7
    assert len(data["programme"]["pairs"]["nodes"]) == 5
    assert not [p for p in stack.recorders["enrolment"].paths()
                if p.startswith("/api/v1/participants/")]


async def test_a_programmes_participants_and_summary_are_fetched_only_when_asked(
    stack: Stack, token: Callable[..., str]
) -> None:
    admin = token("hr_admin")

    plain = _data(await stack.graphql("{ programmes { nodes { id name status } } }", token=admin))
    assert [p["id"] for p in plain["programmes"]["nodes"]] == ["prog1", "prog2", "prog3"]
    assert stack.recorders["enrolment"].paths() == ["/api/v1/programmes"]
    assert not stack.recorders["analytics"].calls
    stack.clear()

    full = _data(await stack.graphql(
        "{ programmes { nodes { id participants { nodes { id role } }"
        " summary { pairsFormed sessionsHeld } } } }",
        token=admin,
    ))

    assert [len(p["participants"]["nodes"]) for p in full["programmes"]["nodes"]] == [7, 1, 1]
    assert full["programmes"]["nodes"][0]["summary"] == {"pairsFormed": 5, "sessionsHeld": 0}
    assert Counter(stack.recorders["enrolment"].paths()) == Counter(
        ["/api/v1/programmes"] + [f"/api/v1/programmes/prog{i}/participants" for i in (1, 2, 3)])
    [summaries] = stack.recorders["analytics"].calls
    assert summaries.path == "/api/v1/batch/programme-summaries"
    assert parse_qs(summaries.query)["id"] == ["prog1", "prog2", "prog3"]


async def test_nested_lookups_follow_ids_across_services(
    stack: Stack, token: Callable[..., str]
) -> None:
    query = """{ participant(participantId: "s4") {
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
        {"factor": "COMPLEMENTARITY", "points": 50.0, "reason": "tiktok"}]
    assert data["suggestions"][0]["mentor"] == {"role": "MENTOR"}
    assert stack.recorders["matching"].calls[0].query == "limit=2"


async def test_import_employees_sends_the_hris_records_and_returns_the_report(
    stack: Stack, token: Callable[..., str]
) -> None:
    mutation = """mutation ($records: [EmployeeInput!]!) {
      importEmployees(records: $records) {
        report { created rejected errors { row field reason } } errors { field } } }"""
    records = [{"externalId": "W1", "email": "ana@example.com", "givenName": "Ana",
                "familyName": "Lima", "jobLevel": 3, "department": "Sales",
                "managerExternalId": "W9", "hireOn": "2024-09-01"}]

    data = _data(await stack.graphql(mutation, {"records": records}, token=token("hris")))

    report = _done(data, "importEmployees", "report")
    assert report["created"] == 1
    assert report["errors"] == [
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
        participant { programmeId employeeId role topicsTeach { topic level } mentorCapacity }
        errors { field } } }"""

    data = _data(await stack.graphql(mutation, token=token("participant", employee_id="e1")))

    assert _done(data, "enrol", "participant") == {
        "programmeId": "prog1", "employeeId": "e1", "role": "MENTOR",
        "topicsTeach": [{"topic": "tiktok", "level": 5}], "mentorCapacity": 2}
    assert _sent(stack, "enrolment") == {"employee_id": "e1", "role": "mentor",
                                         "topics_teach": [{"topic": "tiktok", "level": 5}],
                                         "mentor_capacity": 2}


async def test_enrolling_with_a_token_that_names_no_employee_says_which_field_is_missing(
    stack: Stack, token: Callable[..., str]
) -> None:
    response = await stack.graphql(
        """mutation { enrol(programmeId: "prog1", input: {role: MENTEE}) {
             participant { id } errors { field code message } } }""",
        token=token("hr_admin"),
    )

    assert response.json()["data"]["enrol"] == {"participant": None, "errors": [
        {"field": "input.employeeId", "code": "INVALID",
         "message": "The token carries no employeeId; give input.employeeId explicitly"}]}
    assert not stack.recorders["enrolment"].calls


async def test_pair_mutations_reach_matching_with_their_bodies(
    stack: Stack, token: Callable[..., str]
) -> None:
    admin = token("hr_admin")
    form = """mutation { formPair(input: {programmeId: "prog1", menteeParticipantId: "s2",
        mentorParticipantId: "m3", overrideReason: "same floor"}) {
        pair { id mentorEmployeeId menteeEmployeeId status } errors { field } } }"""

    formed = _done(_data(await stack.graphql(form, token=admin)), "formPair", "pair")
    assert formed == {"id": "pair-new", "mentorEmployeeId": "e3", "menteeEmployeeId": "e7",
                      "status": "ACTIVE"}
    assert _sent(stack, "matching") == {"programme_id": "prog1", "mentee_participant_id": "s2",
                                        "mentor_participant_id": "m3",
                                        "override_reason": "same floor"}

    ended = _data(await stack.graphql(
        """mutation { endPair(pairId: "pair1", reason: COMPLETED, note: "six months done") {
            pair { status endReason } errors { field } } }""",
        token=admin,
    ))["endPair"]["pair"]
    assert ended == {"status": "ENDED", "endReason": "COMPLETED"}
    assert _sent(stack, "matching") == {"reason": "completed", "note": "six months done"}


async def test_a_conflict_from_matching_names_the_field(
    stack: Stack, token: Callable[..., str]
) -> None:
    form = """mutation { formPair(input: {programmeId: "prog1", menteeParticipantId: "m1",
        mentorParticipantId: "m1"}) { pair { id } errors { field code } } }"""

    body = (await stack.graphql(form, token=token("hr_admin"))).json()

    assert "errors" not in body
    assert body["data"]["formPair"] == {"pair": None, "errors": [
        {"field": "input.mentorParticipantId", "code": "CONFLICT"}]}


async def test_a_participant_logs_a_session_and_sees_their_own_sessions(
    stack: Stack, token: Callable[..., str]
) -> None:
    mentor = token("participant", employee_id="e1")
    log = """mutation { logSession(sessionId: "sess-pair1", input: {
        heldAt: "2026-02-02T10:05:00+00:00", durationMinutes: 50,
        recap: "Set up a LinkedIn newsletter", privateNote: "ask about budget" }) {
        session { status heldAt recap myPrivateNote } errors { field } } }"""

    logged = _done(_data(await stack.graphql(log, token=mentor)), "logSession", "session")
    assert logged == {"status": "HELD", "heldAt": "2026-02-02T10:05:00+00:00",
                      "recap": "Set up a LinkedIn newsletter",
                      "myPrivateNote": "ask about budget"}
    assert _sent(stack, "scheduling") == {
        "held_at": "2026-02-02T10:05:00Z", "duration_minutes": 50,
        "recap": "Set up a LinkedIn newsletter", "private_note": "ask about budget"}

    mine = _data(await stack.graphql("{ mySessions { nodes { pairId } } }", token=mentor))
    assert [s["pairId"] for s in mine["mySessions"]["nodes"]] == ["pair1", "pair2"]
    assert stack.recorders["scheduling"].calls[-1].query == "employee_id=e1"

    one = _data(await stack.graphql(
        '{ session(sessionId: "sess-pair2") { pair { menteeEmployeeId } } }', token=mentor))
    assert one["session"] == {"pair": {"menteeEmployeeId": "e7"}}


async def test_a_pairs_plan_and_a_refused_then_overridden_reschedule(
    stack: Stack, token: Callable[..., str]
) -> None:
    mentor = token("participant", employee_id="e1")
    plan = _data(await stack.graphql(
        '{ pairPlan(pairId: "pair1") { status cadence anchorTimeZone series { localStart } '
        'occurrences { sessionId conflictSide alternativeStartsAt } } }', token=mentor))
    assert plan["pairPlan"] == {
        "status": "PROPOSED", "cadence": "WEEKLY", "anchorTimeZone": "Europe/London",
        "series": [{"localStart": "14:00"}],
        "occurrences": [{"sessionId": "sess-pair1", "conflictSide": "MENTOR",
                         "alternativeStartsAt": "2026-03-09T13:00:00+00:00"}]}

    move = """mutation($o: Boolean!) { rescheduleSession(sessionId: "sess-pair1", input: {
        startsAt: "2026-03-09T13:00:00+00:00", scope: FOLLOWING, override: $o }) {
        plan { occurrences { startsAt sequence } } errors { field code } } }"""
    refused = _data(await stack.graphql(move, token=mentor, variables={"o": False}))
    assert refused["rescheduleSession"] == {
        "plan": None, "errors": [{"field": "input.startsAt", "code": "INVALID"}]}
    moved = _done(_data(await stack.graphql(move, token=mentor, variables={"o": True})),
                  "rescheduleSession", "plan")
    assert moved["occurrences"] == [{"startsAt": "2026-03-09T13:00:00+00:00", "sequence": 1}]
    assert _sent(stack, "scheduling") == {
        "starts_at": "2026-03-09T13:00:00Z", "scope": "following", "override": True}


async def test_withdraw_returns_the_withdrawn_participant(
    stack: Stack, token: Callable[..., str]
) -> None:
    mutation = """mutation { withdraw(participantId: "m3", reason: "new job") {
        participant { id status } errors { field } } }"""

    data = _data(await stack.graphql(mutation, token=token("participant", employee_id="e3")))

    assert _done(data, "withdraw", "participant") == {"id": "m3", "status": "WITHDRAWN"}
    assert _sent(stack, "enrolment") == {"reason": "new job"}


# --- programmes: settings and lifecycle -------------------------------------------------


def _last(stack: Stack, service: str, method: str = "POST") -> str:
    return [c.path for c in stack.recorders[service].calls if c.method == method][-1]


async def test_a_programme_shows_every_setting(
    stack: Stack, token: Callable[..., str]
) -> None:
    query = """{ programme(programmeId: "prog1") {
        objectives goalTemplates { title topic measure targetChangePercent withinMonths }
        mentorMaxLevel menteeMinLevel minLevelGap enrolmentOpensOn enrolmentClosesOn capacity
        sessionCadence sessionMinutes durationWeeks meetingFormat topics
        guidelines { kind title url } mutual matchingMode diversityObjective status } }"""

    data = _data(await stack.graphql(query, token=token("participant", employee_id="e1")))

    assert data["programme"] == {
        "objectives": "Seniors fluent in the tools their teams use",
        "goalTemplates": [{"title": "Data visualisation +30 %", "topic": "data analytics",
                           "measure": "self-assessed proficiency", "targetChangePercent": 30.0,
                           "withinMonths": 6}],
        "mentorMaxLevel": 4, "menteeMinLevel": 6, "minLevelGap": 2,
        "enrolmentOpensOn": "2026-01-05", "enrolmentClosesOn": "2026-02-01", "capacity": 40,
        "sessionCadence": "BIWEEKLY", "sessionMinutes": 45, "durationWeeks": 24,
        "meetingFormat": "HYBRID", "topics": ["social media", "AI tools", "DEI perspectives"],
        "guidelines": [{"kind": "CONFIDENTIALITY", "title": "What is said stays", "url": None}],
        "mutual": True, "matchingMode": "SHORTLIST", "diversityObjective": False,
        "status": "OPEN",
    }


async def test_create_programme_sends_every_setting_given_and_nothing_else(
    stack: Stack, token: Callable[..., str]
) -> None:
    mutation = """mutation ($input: ProgrammeInput!) { createProgramme(input: $input) {
        programme { id status capacity sessionMinutes topics goalTemplates { title withinMonths } }
        errors { field } } }"""
    given = {"name": "Digital first", "status": "DRAFT", "objectives": "Fluency",
             "goalTemplates": [{"title": "AI +30 %", "targetChangePercent": 30,
                                "withinMonths": 6}],
             "enrolmentOpensOn": "2026-03-01", "capacity": 12, "sessionCadence": "MONTHLY",
             "sessionMinutes": 30, "meetingFormat": "IN_PERSON", "topics": ["AI tools"],
             "guidelines": [{"kind": "FEEDBACK", "title": "Be kind"}], "mutual": True,
             "matchingMode": "AUTOMATIC", "diversityObjective": True}

    data = _data(await stack.graphql(mutation, {"input": given}, token=token("hr_admin")))

    assert _done(data, "createProgramme", "programme") == {
        "id": "prog-new", "status": "DRAFT", "capacity": 12, "sessionMinutes": 30,
        "topics": ["AI tools"], "goalTemplates": [{"title": "AI +30 %", "withinMonths": 6}]}
    assert _sent(stack, "enrolment") == {
        "name": "Digital first", "status": "draft", "objectives": "Fluency",
        "goal_templates": [{"title": "AI +30 %", "target_change_percent": 30.0,
                            "within_months": 6}],
        "enrolment_opens_on": "2026-03-01", "capacity": 12, "session_cadence": "monthly",
        "session_minutes": 30, "meeting_format": "in_person", "topics": ["AI tools"],
        "guidelines": [{"kind": "feedback", "title": "Be kind"}], "mutual": True,
        "matching_mode": "automatic", "diversity_objective": True}


async def test_update_programme_patches_only_the_settings_given_and_null_clears_one(
    stack: Stack, token: Callable[..., str]
) -> None:
    mutation = """mutation ($input: ProgrammeUpdateInput!) {
      updateProgramme(programmeId: "prog1", input: $input) {
        programme { name capacity sessionMinutes guidelines { kind title body } }
        errors { field } } }"""

    data = _data(await stack.graphql(mutation, {"input": {
        "name": "Digital second", "capacity": None, "sessionMinutes": 60,
        "guidelines": [{"title": "Channels", "body": "Use chat"}]}}, token=token("hr_admin")))

    assert _done(data, "updateProgramme", "programme") == {
        "name": "Digital second", "capacity": None, "sessionMinutes": 60,
        "guidelines": [{"kind": "OTHER", "title": "Channels", "body": "Use chat"}]}
    assert _last(stack, "enrolment", "PATCH") == "/api/v1/programmes/prog1"
    assert _sent(stack, "enrolment") == {"name": "Digital second", "capacity": None,
                                         "session_minutes": 60,
                                         "guidelines": [{"title": "Channels",
                                                         "body": "Use chat"}]}


async def test_change_programme_status_and_add_topics_reach_their_routes(
    stack: Stack, token: Callable[..., str]
) -> None:
    admin = token("hr_admin")

    moved = _data(await stack.graphql(
        """mutation { changeProgrammeStatus(programmeId: "prog1", status: RUNNING) {
             programme { status } errors { field } } }""",
        token=admin))
    assert _done(moved, "changeProgrammeStatus", "programme") == {"status": "RUNNING"}
    assert _last(stack, "enrolment") == "/api/v1/programmes/prog1/status"
    assert _sent(stack, "enrolment") == {"status": "running"}

    added = _data(await stack.graphql(
        """mutation { addProgrammeTopics(programmeId: "prog1",
             topics: ["remote work", "agile practices"]) {
             programme { topics } errors { field } } }""", token=admin))
    assert _done(added, "addProgrammeTopics", "programme")["topics"][-2:] == [
        "remote work", "agile practices"]
    assert _last(stack, "enrolment") == "/api/v1/programmes/prog1/topics"
    assert _sent(stack, "enrolment") == {"topics": ["remote work", "agile practices"]}


# --- invitations, the survey, participant import, erasure ---------------------------


async def test_hr_invites_and_lists_invitations_with_the_people_behind_them(
    stack: Stack, token: Callable[..., str]
) -> None:
    admin = token("hr_admin")

    invited = _data(await stack.graphql(
        """mutation { invite(programmeId: "prog1", input: {employeeId: "e4", role: MENTOR,
             message: "Teach us AI"}) {
             invitation { id programmeId employeeId role status message } errors { field } } }""",
        token=admin))["invite"]["invitation"]
    assert invited == {"id": "inv-new", "programmeId": "prog1", "employeeId": "e4",
                       "role": "MENTOR", "status": "PENDING", "message": "Teach us AI"}
    assert _last(stack, "enrolment") == "/api/v1/programmes/prog1/invitations"
    assert _sent(stack, "enrolment") == {"employee_id": "e4", "role": "mentor",
                                         "message": "Teach us AI"}

    listed = _data(await stack.graphql(
        """{ invitations(programmeId: "prog1") { nodes { id status employee { givenName } } }
             programme(programmeId: "prog1") { invitations { nodes { id } } } }""", token=admin))
    assert listed["invitations"]["nodes"] == [{"id": "inv1", "status": "PENDING",
                                      "employee": {"givenName": "G5"}}]
    assert listed["programme"]["invitations"]["nodes"] == [{"id": "inv1"}]
    # The root field and the nested one share the request's loader: one call.
    assert stack.recorders["enrolment"].paths().count(
        "/api/v1/programmes/prog1/invitations") == 1


async def test_an_invited_employee_sees_accepts_and_declines_their_invitation(
    stack: Stack, token: Callable[..., str]
) -> None:
    invited = token("participant", employee_id="e5")

    mine = _data(await stack.graphql("{ myInvitations { nodes { id role programme { name } } } }",
                                     token=invited))
    assert mine["myInvitations"]["nodes"] == [{"id": "inv1", "role": "MENTOR",
                                      "programme": {"name": "Programme 1"}}]
    assert "/api/v1/employees/e5/invitations" in stack.recorders["enrolment"].paths()

    accepted = _data(await stack.graphql(
        """mutation { acceptInvitation(invitationId: "inv1", input: {
             topicsTeach: [{topic: "AI tools", level: 5}], timeZone: "Europe/Lisbon",
             mentorCapacity: 2}) {
             participant { id source role timeZone mentorCapacity } errors { field } } }""",
        token=invited))["acceptInvitation"]["participant"]
    assert accepted == {"id": "p-new", "source": "INVITATION", "role": "MENTOR",
                        "timeZone": "Europe/Lisbon", "mentorCapacity": 2}
    assert _last(stack, "enrolment") == "/api/v1/invitations/inv1/accept"
    assert _sent(stack, "enrolment") == {"topics_teach": [{"topic": "AI tools", "level": 5}],
                                         "time_zone": "Europe/Lisbon", "mentor_capacity": 2}

    # Accepting without answers sends an empty survey: the service's defaults apply.
    _data(await stack.graphql(
        'mutation { acceptInvitation(invitationId: "inv1") { participant { id } } }',
        token=invited))
    assert _sent(stack, "enrolment") == {}

    declined = _data(await stack.graphql(
        """mutation { declineInvitation(invitationId: "inv1") {
             invitation { status respondedAt } errors { field } } }""",
        token=invited))["declineInvitation"]["invitation"]
    assert declined == {"status": "DECLINED", "respondedAt": "2026-01-05T09:00:00+00:00"}
    assert _last(stack, "enrolment") == "/api/v1/invitations/inv1/decline"


async def test_my_invitations_without_an_employee_in_the_token_is_empty(
    stack: Stack, token: Callable[..., str]
) -> None:
    data = _data(await stack.graphql("{ myInvitations { nodes { id } } }", token=token("hr_admin")))

    assert data["myInvitations"]["nodes"] == []
    assert not stack.recorders["enrolment"].calls


SURVEY = """mutation ($input: SurveyInput!) { updateSurvey(participantId: "m1", input: $input) {
    participant { surveyVersion surveyUpdatedAt topicsTeach { topic level }
    topicsLearn { topic level } interests availability { weekday start end } timeZone
    meetingFormats communicationPreferences languages mentorCapacity deiOptIn avoidEmployeeIds
    diversity { name value } } errors { field } } }"""

FULL_SURVEY = {
    "topicsTeach": [{"topic": "DEI perspectives", "level": 4}],
    "topicsLearn": [{"topic": "negotiation", "level": 1}], "interests": ["climbing"],
    "availability": [{"weekday": 0, "start": "08:00", "end": "10:00"}],
    "timeZone": "Asia/Tokyo", "meetingFormats": ["VIRTUAL", "HYBRID"],
    "communicationPreferences": ["video"], "languages": ["en", "ja"], "mentorCapacity": 3,
    "deiOptIn": True, "avoidEmployeeIds": ["e9"],
    "diversity": [{"name": "generation", "value": "gen z"}], "diversityConsent": True,
}


async def test_update_survey_puts_every_answer_and_returns_the_new_version(
    stack: Stack, token: Callable[..., str]
) -> None:
    data = _data(await stack.graphql(SURVEY, {"input": FULL_SURVEY},
                                     token=token("participant", employee_id="e1")))

    answers = {k: v for k, v in FULL_SURVEY.items() if k != "diversityConsent"}
    assert _done(data, "updateSurvey", "participant") == {**answers, "surveyVersion": 2,
                                    "surveyUpdatedAt": "2026-01-06T09:00:00+00:00"}
    assert _last(stack, "enrolment", "PATCH") == "/api/v1/participants/m1/survey"
    assert _sent(stack, "enrolment") == {
        "topics_teach": [{"topic": "DEI perspectives", "level": 4}],
        "topics_learn": [{"topic": "negotiation", "level": 1}], "interests": ["climbing"],
        "availability": [{"weekday": 0, "start": "08:00", "end": "10:00"}],
        "time_zone": "Asia/Tokyo", "meeting_formats": ["virtual", "hybrid"],
        "communication_preferences": ["video"], "languages": ["en", "ja"],
        "mentor_capacity": 3, "dei_opt_in": True, "avoid_employee_ids": ["e9"],
        "diversity": {"generation": "gen z"}, "diversity_consent": True,
    }


async def test_update_survey_sends_only_the_answers_given(
    stack: Stack, token: Callable[..., str]
) -> None:
    mentor = token("participant", employee_id="e1")
    data = _data(await stack.graphql(SURVEY, {"input": {"timeZone": "Asia/Tokyo"}},
                                     token=mentor))
    assert _done(data, "updateSurvey", "participant")["timeZone"] == "Asia/Tokyo"
    assert _sent(stack, "enrolment") == {"time_zone": "Asia/Tokyo"}
    assert not stack.recorders["matching"].calls  # no capacity given: no pairs read
    _data(await stack.graphql(SURVEY, {"input": {"timeZone": None, "mentorCapacity": 2}},
                              token=mentor))
    assert _sent(stack, "enrolment") == {"time_zone": None, "mentor_capacity": 2}


async def test_a_capacity_below_the_mentors_active_pairs_is_refused(
    stack: Stack, token: Callable[..., str]
) -> None:
    data = _data(await stack.graphql(SURVEY, {"input": {"mentorCapacity": 1}},
                                     token=token("participant", employee_id="e1")))
    payload = data["updateSurvey"]
    assert payload["participant"] is None
    assert payload["errors"] == [{"field": "input.mentorCapacity"}]
    assert not [c for c in stack.recorders["enrolment"].calls if c.method == "PATCH"]


async def test_survey_versions_show_each_version_and_hide_diversity_from_managers(
    stack: Stack, token: Callable[..., str]
) -> None:
    query = """{ surveyVersions(participantId: "m1") {
        version submittedAt answers { timeZone availability { weekday } diversity { name value } }
    } }"""

    own = _data(await stack.graphql(query, token=token("participant", employee_id="e1")))
    managed = _data(await stack.graphql(query, token=token("programme_manager")))

    assert [v["answers"]["timeZone"] for v in own["surveyVersions"]] == [
        "Europe/Paris", "Asia/Tokyo"]
    assert own["surveyVersions"][1]["answers"]["diversity"] == [
        {"name": "generation", "value": "gen z"}]
    assert [v["answers"]["diversity"] for v in managed["surveyVersions"]] == [None, None]
    assert _last(stack, "enrolment", "GET") == "/api/v1/participants/m1/survey/versions"


async def test_import_participants_sends_the_records_and_maps_the_report(
    stack: Stack, token: Callable[..., str]
) -> None:
    mutation = """mutation ($records: [ParticipantImportInput!]!) {
      importParticipants(programmeId: "prog1", records: $records) {
        report { enrolled updated rejected errors { row field reason } } errors { field } } }"""
    records = [{"externalId": "X4", "role": "MENTOR", "consentAt": "2026-01-02T08:00:00Z",
                "languages": ["en"]},
               {"employeeId": "e8", "role": "MENTEE", "consentAt": "2027-01-02T08:00:00Z"}]

    data = _data(await stack.graphql(mutation, {"records": records}, token=token("hr_admin")))

    assert _done(data, "importParticipants", "report") == {
        "enrolled": 1, "updated": 0, "rejected": 1,
        "errors": [{"row": 2, "field": "consentAt", "reason": "consent_at is in the future"}]}
    assert _last(stack, "enrolment") == "/api/v1/programmes/prog1/participants/import"
    assert _sent(stack, "enrolment") == [
        {"external_id": "X4", "role": "mentor", "consent_at": "2026-01-02T08:00:00Z",
         "languages": ["en"]},
        {"employee_id": "e8", "role": "mentee", "consent_at": "2027-01-02T08:00:00Z"}]


async def test_erase_employee_answers_the_pseudonymised_person(
    stack: Stack, token: Callable[..., str]
) -> None:
    data = _data(await stack.graphql(
        """mutation { eraseEmployee(employeeId: "e3") {
             employee { id givenName erased } errors { field } } }""",
        token=token("hr_admin")))

    assert _done(data, "eraseEmployee", "employee") == {"id": "e3", "givenName": "Erased",
                                                        "erased": True}
    assert _last(stack, "enrolment") == "/api/v1/employees/e3/erase"


async def test_enrol_sends_the_whole_survey_with_the_role(
    stack: Stack, token: Callable[..., str]
) -> None:
    mutation = """mutation ($input: EnrolInput!) { enrol(programmeId: "prog1", input: $input) {
        participant { role timeZone availability { weekday start end } } errors { field } } }"""
    given = {"role": "MENTEE", "timeZone": "Europe/Rome",
             "availability": [{"weekday": 4, "start": "14:00", "end": "15:00"}],
             "avoidEmployeeIds": ["e2"]}

    data = _data(await stack.graphql(mutation, {"input": given},
                                     token=token("participant", employee_id="e6")))

    assert _done(data, "enrol", "participant")["role"] == "MENTEE"
    assert _sent(stack, "enrolment") == {
        "employee_id": "e6", "role": "mentee", "time_zone": "Europe/Rome",
        "availability": [{"weekday": 4, "start": "14:00", "end": "15:00"}],
        "avoid_employee_ids": ["e2"]}


# --- matching: shortlist picks, configuration, pool, whole-cohort runs -----------------


async def test_a_mentee_picks_and_the_mentor_accepts_or_declines(
    stack: Stack, token: Callable[..., str]
) -> None:
    picked = _data(await stack.graphql(
        """mutation { pickMentor(programmeId: "prog1", menteeParticipantId: "s2",
             mentorParticipantId: "m3") {
             pair { id status origin formedAt mentorEmployeeId } errors { field } } }""",
        token=token("participant", employee_id="e7")))["pickMentor"]["pair"]
    assert picked == {"id": "pair-picked", "status": "PROPOSED", "origin": "SHORTLIST",
                      "formedAt": None, "mentorEmployeeId": "e3"}
    assert _last(stack, "matching") == "/api/v1/programmes/prog1/mentees/s2/pick"
    assert _sent(stack, "matching") == {"mentor_participant_id": "m3"}

    mentor = token("participant", employee_id="e2")  # pair5 proposes m2 (e2) to s1
    accepted = _data(await stack.graphql(
        'mutation { acceptPair(pairId: "pair5") { pair { status formedAt } errors { field } } }',
        token=mentor))
    assert _done(accepted, "acceptPair", "pair") == {"status": "ACTIVE",
                                                     "formedAt": "2026-01-06T09:00:00+00:00"}
    assert _last(stack, "matching") == "/api/v1/pairs/pair5/accept"

    declined = _data(await stack.graphql(
        """mutation { declinePair(pairId: "pair5", note: "no time this quarter") {
             pair { status } errors { field } } }""",
        token=mentor))
    assert _done(declined, "declinePair", "pair") == {"status": "DECLINED"}
    assert _last(stack, "matching") == "/api/v1/pairs/pair5/decline"
    assert _sent(stack, "matching") == {"note": "no time this quarter"}


async def test_pairs_filter_by_status(stack: Stack, token: Callable[..., str]) -> None:
    data = _data(await stack.graphql(
        '{ pairs(programmeId: "prog1", status: PROPOSED) { nodes { id } } }',
        token=token("hr_admin")))

    assert data["pairs"]["nodes"] == [{"id": "pair5"}]
    assert stack.recorders["matching"].calls[-1].query == "programme_id=prog1&status=proposed"


async def test_matching_config_reads_and_replaces_weights_and_limits(
    stack: Stack, token: Callable[..., str]
) -> None:
    admin = token("hr_admin")

    read = _data(await stack.graphql(
        """{ matchingConfig(programmeId: "prog1") { weights { factor weight } idealLevelGap
             maxTimeZoneHours diversityApplies } }""", token=admin))["matchingConfig"]
    assert read == {"weights": [{"factor": "COMPLEMENTARITY", "weight": 40.0},
                                {"factor": "INTERESTS", "weight": 10.0}],
                    "idealLevelGap": 4, "maxTimeZoneHours": None, "diversityApplies": False}

    put = _data(await stack.graphql(
        """mutation { updateMatchingConfig(programmeId: "prog1", input: {
             weights: [{factor: DEPARTMENT, weight: 0}, {factor: LEVEL_GAP, weight: 25}],
             maxTimeZoneHours: 6, allowSharedManager: true, deiTopics: ["DEI perspectives"]}) {
             matchingConfig { weights { factor weight } maxTimeZoneHours allowSharedManager }
             errors { field } } }""",
        token=admin))["updateMatchingConfig"]["matchingConfig"]
    assert put == {"weights": [{"factor": "DEPARTMENT", "weight": 0.0},
                               {"factor": "LEVEL_GAP", "weight": 25.0}],
                   "maxTimeZoneHours": 6.0, "allowSharedManager": True}
    assert _last(stack, "matching", "PATCH") == "/api/v1/programmes/prog1/matching-config"
    assert _sent(stack, "matching") == {"weights": {"department": 0.0, "level_gap": 25.0},
                                        "max_time_zone_hours": 6.0,
                                        "allow_shared_manager": True,
                                        "dei_topics": ["DEI perspectives"]}


async def test_pool_stats_answer_at_the_root_and_on_a_programme(
    stack: Stack, token: Callable[..., str]
) -> None:
    query = """{ poolStats(programmeId: "prog1") { mentors mentees totalCapacity freeCapacity
                   unpairedMentees eligiblePairs }
                 programme(programmeId: "prog1") { poolStats { eligiblePairs } } }"""

    data = _data(await stack.graphql(query, token=token("hr_admin")))

    assert data["poolStats"] == {"mentors": 3, "mentees": 4, "totalCapacity": 6,
                                 "freeCapacity": 2, "unpairedMentees": 1, "eligiblePairs": 9}
    assert data["programme"]["poolStats"] == {"eligiblePairs": 9}
    assert stack.recorders["matching"].paths() == ["/api/v1/programmes/prog1/pool"]


async def test_run_matching_is_a_dry_run_by_default_and_answers_the_whole_result(
    stack: Stack, token: Callable[..., str]
) -> None:
    mutation = """mutation { runMatching(programmeId: "prog1") { matchRun {
        id objective dryRun status totalScore matched unmatched optimal stats
        pairs { menteeParticipantId mentorParticipantId score breakdown { factor points }
                mentor { employeeId } }
        unmatchedMentees { menteeParticipantId reason mentee { employeeId } }
        pairIds } errors { field } } }"""

    data = _data(await stack.graphql(mutation, token=token("hr_admin")))

    assert _last(stack, "matching") == "/api/v1/programmes/prog1/match-runs"
    assert _sent(stack, "matching") == {"objective": "max_score", "dry_run": True}
    run = _done(data, "runMatching", "matchRun")
    assert (run["objective"], run["dryRun"], run["status"]) == ("MAX_SCORE", True, "DRAFT")
    assert (run["totalScore"], run["matched"], run["unmatched"], run["optimal"]) == (
        151.5, 2, 1, True)
    assert run["stats"] == {"eligible_pairs": 9, "rounds": 2}
    assert run["pairs"] == [
        {"menteeParticipantId": "s1", "mentorParticipantId": "m1", "score": 80.0,
         "breakdown": [], "mentor": {"employeeId": "e1"}},
        {"menteeParticipantId": "s2", "mentorParticipantId": "m2", "score": 71.5,
         "breakdown": [{"factor": "COMPLEMENTARITY", "points": 40.0}],
         "mentor": {"employeeId": "e2"}}]
    assert run["unmatchedMentees"] == [{"menteeParticipantId": "s3", "reason": "CAPACITY_TAKEN",
                                        "mentee": {"employeeId": "e8"}}]
    assert run["pairIds"] == []


async def test_match_runs_are_listed_read_and_published(
    stack: Stack, token: Callable[..., str]
) -> None:
    admin = token("hr_admin")

    real = _data(await stack.graphql(
        """mutation { runMatching(programmeId: "prog1", objective: MAX_PARTICIPATION,
             dryRun: false) { matchRun { status } errors { field } } }""", token=admin))
    assert _done(real, "runMatching", "matchRun") == {"status": "PUBLISHED"}
    assert _sent(stack, "matching") == {"objective": "max_participation", "dry_run": False}

    listed = _data(await stack.graphql(
        """{ matchRuns(programmeId: "prog1") { nodes { id objective } }
             matchRun(matchRunId: "run1") { publishedAt formedPairs { id status } } }""",
        token=admin))
    assert listed["matchRuns"]["nodes"] == [{"id": "run2", "objective": "MAX_PARTICIPATION"},
                                   {"id": "run1", "objective": "MAX_SCORE"}]
    assert listed["matchRun"] == {"publishedAt": "2026-01-05T09:00:00+00:00",
                                  "formedPairs": [{"id": "pair1", "status": "ACTIVE"},
                                                  {"id": "pair2", "status": "ACTIVE"}]}

    page = _data(await stack.graphql(
        '{ matchRun(matchRunId: "run1", offset: 1, limit: 1) { offset formed matched } }',
        token=admin))
    assert page["matchRun"] == {"offset": 1, "formed": 2, "matched": 2}
    (asked,) = [c.query for c in stack.recorders["matching"].calls
                if c.path == "/api/v1/match-runs/run1" and "offset=1" in c.query]
    assert asked == "offset=1&limit=1"

    published = _data(await stack.graphql(
        """mutation { publishMatchRun(matchRunId: "run2") {
             matchRun { id status pairIds } errors { field } } }""", token=admin))
    assert _done(published, "publishMatchRun", "matchRun") == {"id": "run2", "status": "PUBLISHED",
                                            "pairIds": ["pair1", "pair2"]}
    assert _last(stack, "matching") == "/api/v1/match-runs/run2/publish"


async def test_blackout_dates_goal_templates_and_upcoming_changes_through_the_gateway(
    stack: Stack, token: Callable[..., str]
) -> None:
    create = """mutation ($input: ProgrammeInput!) { createProgramme(input: $input) {
        programme { blackoutDates goalTemplates { id title unit baseline } }
        errors { field } } }"""
    given = {"name": "Holidays", "blackoutDates": ["2027-12-25", "2027-01-01"],
             "goalTemplates": [{"id": "dataviz", "title": "Dataviz", "unit": "points",
                                "baseline": 50, "targetChangePercent": 30}]}
    data = _data(await stack.graphql(create, {"input": given}, token=token("hr_admin")))
    assert _done(data, "createProgramme", "programme") == {
        "blackoutDates": ["2027-12-25", "2027-01-01"],
        "goalTemplates": [{"id": "dataviz", "title": "Dataviz", "unit": "points",
                           "baseline": 50.0}]}
    sent = _sent(stack, "enrolment")
    assert sent["blackout_dates"] == ["2027-12-25", "2027-01-01"]
    assert sent["goal_templates"] == [{"id": "dataviz", "title": "Dataviz", "unit": "points",
                                       "baseline": 50.0, "target_change_percent": 30.0}]

    mentor = token("participant", employee_id="e1")
    goal = """mutation ($i: CreateGoalInput!) { createGoal(pairId: "pair1", input: $i) {
        goal { text target templateId } errors { field code } } }"""
    made = _data(await stack.graphql(goal, {"i": {"templateId": "dataviz"}}, token=mentor))
    assert _done(made, "createGoal", "goal") == {
        "text": "Data visualisation +30 %", "target": 65.0, "templateId": "dataviz"}
    assert _sent(stack, "scheduling") == {"template_id": "dataviz"}
    unknown = _data(await stack.graphql(goal, {"i": {"templateId": "nope"}}, token=mentor))
    assert unknown["createGoal"]["goal"] is None
    assert unknown["createGoal"]["errors"][0]["field"] == "input.templateId"

    changes = _data(await stack.graphql(
        "{ myUpcomingChanges(withinHours: 48) { pairId planId "
        "occurrence { sessionId status cancelReason blackout } } }", token=mentor))
    assert changes["myUpcomingChanges"] == [{
        "pairId": "pair1", "planId": "plan-pair1",
        "occurrence": {"sessionId": "sess-pair1", "status": "CANCELLED",
                       "cancelReason": "blackout", "blackout": True}}]
    assert _sent(stack, "scheduling") == {"within_hours": 48}
