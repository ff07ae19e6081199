"""A pulse survey through the gateway: created by HR, answered once by each participant,
closed, and read only where the group is 5 or more; the celebration feed beside it."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from tests.analytics.test_surveys import Person, enrol
from tests.e2e.conftest import Platform
from tests.support.stack import wait_until
from tests.support.stream import Stream

CREATE = """mutation ($p: ID!, $i: CreatePulseSurveyInput!) {
  createPulseSurvey(programmeId: $p, input: $i) {
    pulseSurvey { id status questions { id kind choices } }
    errors { field code message } } }"""
ANSWER = """mutation ($p: ID!, $s: ID!, $a: [PulseAnswerInput!]!) {
  answerPulseSurvey(programmeId: $p, pulseSurveyId: $s, answers: $a) {
    answered errors { field code } } }"""
CLOSE = """mutation ($p: ID!, $s: ID!) {
  closePulseSurvey(programmeId: $p, pulseSurveyId: $s) {
    pulseSurvey { status closedAt } errors { code } } }"""
RESULTS = """query ($p: ID!, $s: ID!, $role: ParticipantRole) {
  pulseSurveyResults(programmeId: $p, pulseSurveyId: $s, role: $role) {
    suppressed respondents minGroup
    questions { kind answered mean nps distribution { value count } texts } } }"""
LIST = """query ($p: ID!) { pulseSurveys(programmeId: $p) {
  totalCount nodes { id title status } } }"""
CELEBRATIONS = """query ($p: ID!) { celebrations(programmeId: $p) {
  totalCount nodes { milestone reachedOn pairs named } } }"""


def answers(value: int, text: str | None = None) -> list[dict[str, Any]]:
    given: list[dict[str, Any]] = [{"questionId": "q1", "value": value},
                                   {"questionId": "q2", "choice": "yes"}]
    return given + ([{"questionId": "q3", "text": text}] if text else [])


async def test_a_pulse_survey_through_the_gateway(
    platform: Platform, stream: Stream, token: Callable[..., str],
) -> None:
    programme_id = str(uuid.uuid4())
    people = [Person(f"emp-{uuid.uuid4().hex[:8]}", "mentor", "Digital", 2) for _ in range(5)]
    await enrol(stream, programme_id, people)
    admin = token("hr_admin")

    async def heard() -> bool:
        async with platform.services["analytics"].client(admin) as client:
            summary = (await client.get(f"/api/v1/programmes/{programme_id}/summary")).json()
        return bool(summary["participants_enrolled"] == 5)

    await wait_until(heard)
    async with platform.client(admin) as hr:
        created = await hr.done(CREATE, "createPulseSurvey", "pulseSurvey", p=programme_id, i={
            "title": "November pulse", "questions": [
                {"kind": "NPS", "prompt": "Would you recommend it?"},
                {"kind": "CHOICE", "prompt": "Worth your time?", "choices": ["yes", "no"]},
                {"kind": "TEXT", "prompt": "One thing to change?"}]})
        assert created["status"] == "OPEN"
        assert [q["kind"] for q in created["questions"]] == ["NPS", "CHOICE", "TEXT"]
        survey = created["id"]
        refused = (await hr.data(CREATE, p=programme_id, i={
            "title": "x", "questions": [{"kind": "CHOICE", "prompt": "?",
                                         "choices": ["one"]}]}))["createPulseSurvey"]
        assert refused["pulseSurvey"] is None
        assert refused["errors"][0]["code"] == "INVALID"
        assert refused["errors"][0]["field"].startswith("input.questions.0")
        # HR is not a participant: it cannot answer.
        as_hr = (await hr.data(ANSWER, p=programme_id, s=survey,
                               a=answers(9)))["answerPulseSurvey"]
        assert as_hr == {"answered": False, "errors": [{"field": None, "code": "FORBIDDEN"}]}

    for index, person in enumerate(people):
        async with platform.client(token("participant", employee_id=person.employee_id)) as me:
            done = await me.done(ANSWER, "answerPulseSurvey", "answered", p=programme_id,
                                 s=survey, a=answers(10 - index, f"idea {index}"))
            assert done is True
            again = (await me.data(ANSWER, p=programme_id, s=survey,
                                   a=answers(0)))["answerPulseSurvey"]
            assert again["answered"] is False and again["errors"][0]["code"] == "CONFLICT"
            listed = (await me.data(LIST, p=programme_id))["pulseSurveys"]
            assert listed["totalCount"] == 1
            # Results are for admins.
            body = await me.execute(RESULTS, p=programme_id, s=survey)
            assert body["data"]["pulseSurveyResults"] is None
            assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    async with platform.client(admin) as hr:
        early = await hr.execute(RESULTS, p=programme_id, s=survey)
        assert early["errors"][0]["extensions"]["code"] == "CONFLICT"
        closed = await hr.done(CLOSE, "closePulseSurvey", "pulseSurvey", p=programme_id,
                               s=survey)
        assert closed["status"] == "CLOSED" and closed["closedAt"]
        results = (await hr.data(RESULTS, p=programme_id, s=survey))["pulseSurveyResults"]
        assert results["suppressed"] is False and results["respondents"] == 5
        assert results["minGroup"] == 5
        nps, choice, text = results["questions"]
        assert nps["kind"] == "NPS" and nps["nps"] == 20  # 10, 9, 8, 7, 6: (2 - 1) / 5
        assert {d["value"]: d["count"] for d in choice["distribution"]} == {"yes": 5, "no": 0}
        assert text["texts"] == [f"idea {i}" for i in range(5)]
        mentees = (await hr.data(RESULTS, p=programme_id, s=survey,
                                 role="MENTEE"))["pulseSurveyResults"]
        assert mentees == {"suppressed": True, "respondents": None, "minGroup": 5,
                           "questions": []}
        feed = (await hr.data(CELEBRATIONS, p=programme_id))["celebrations"]
        assert feed == {"totalCount": 0, "nodes": []}
