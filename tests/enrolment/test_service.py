"""Voluntary enrolment, invitations, versioned survey, participant import, withdrawal, erasure."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import date, timedelta
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import text

from tests.support.databases import on_postgres, statements
from tests.support.stack import Running, wait_until

NDJSON = {"content-type": "application/x-ndjson"}


async def _no_pending(enrolment: Running) -> bool:
    return await enrolment.app.state.relay.count_pending() == 0


async def _count(pending: Any, count: int) -> Any:
    got = await pending
    return got if len(got) >= count else None


@pytest.fixture
async def people(
    hris: httpx.AsyncClient, events: Callable[[str], Any]
) -> dict[str, str]:
    """junior (level 2), senior (level 9), mid (level 5): employee ids by name."""
    records = [
        {"external_id": "junior", "email": "junior@corp.example", "given_name": "June",
         "family_name": "Ior", "job_level": 2, "time_zone": "Europe/Paris"},
        {"external_id": "senior", "email": "senior@corp.example", "given_name": "Sen",
         "family_name": "Ior", "job_level": 9, "time_zone": "America/New_York"},
        {"external_id": "mid", "email": "mid@corp.example", "given_name": "Mid",
         "family_name": "Dle", "job_level": 5},
    ]
    assert (await hris.post("/api/v1/employees/import", json=records)).status_code == 200
    published = await wait_until(lambda: _count(events("mentoring.employee.updated"), 3))
    return {e["data"]["employee"]["external_id"]: e["data"]["employee"]["employee_id"]
            for e in published}


@pytest.fixture
async def programme(hr: httpx.AsyncClient) -> dict[str, Any]:
    created = await hr.post("/api/v1/programmes", json={
        "name": "Reverse mentoring", "mentor_max_level": 4, "mentee_min_level": 7,
        "diversity_objective": True})
    assert created.status_code == 201
    return created.json()


@pytest.fixture
def as_employee(
    enrolment: Running, token: Callable[..., str]
) -> Callable[[str], httpx.AsyncClient]:
    def make(employee_id: str) -> httpx.AsyncClient:
        return enrolment.client(token("participant", employee_id=employee_id))

    return make


@pytest.fixture
async def junior(
    as_employee: Callable[[str], httpx.AsyncClient], people: dict[str, str]
) -> AsyncIterator[httpx.AsyncClient]:
    async with as_employee(people["junior"]) as client:
        yield client


SURVEY = {
    "topics_teach": [{"topic": "Social Media", "level": 5}, {"topic": "AI tools", "level": 4}],
    "topics_learn": [{"topic": "agile practices", "level": 1}],
    "interests": ["climbing"],
    "availability": [{"weekday": 1, "start": "09:00", "end": "11:00"}],
    "time_zone": "Europe/Paris",
    "meeting_formats": ["virtual"],
    "communication_preferences": ["chat"],
    "languages": ["fr", "en"],
    "mentor_capacity": 2,
}


async def test_an_employee_enrols_themselves_with_the_survey(
    junior: httpx.AsyncClient, people: dict[str, str], programme: dict[str, Any],
    events: Callable[[str], Any],
) -> None:
    body = {"employee_id": people["junior"], "role": "mentor", **SURVEY}
    response = await junior.post(f"/api/v1/programmes/{programme['id']}/participants",
                                 json=body)
    assert response.status_code == 201, response.text
    participant = response.json()
    assert participant["topics_teach"][0]["topic"] == "social media"  # catalogue spelling
    assert participant["survey_version"] == 1 and participant["source"] == "self"
    published = await wait_until(lambda: events("mentoring.participant.enrolled"))
    state = published[0]["data"]["participant"]
    assert state["availability"] == SURVEY["availability"]
    assert state["time_zone"] == "Europe/Paris" and state["mentor_capacity"] == 2
    assert state["employee"]["job_level"] == 2 and state["diversity"] is None


async def test_eligibility_window_and_roles_are_enforced(
    hr: httpx.AsyncClient, junior: httpx.AsyncClient, people: dict[str, str],
    programme: dict[str, Any],
) -> None:
    path = f"/api/v1/programmes/{programme['id']}/participants"
    senior_as_mentor = await hr.post(path, json={"employee_id": people["senior"],
                                                 "role": "mentor"})
    assert senior_as_mentor.status_code == 422 and senior_as_mentor.json()["field"] == "role"
    other = await junior.post(path, json={"employee_id": people["senior"], "role": "mentee"})
    assert other.status_code == 403
    assert (await junior.post(path, json={"employee_id": people["junior"],
                                          "role": "mentor"})).status_code == 201
    twice = await junior.post(path, json={"employee_id": people["junior"], "role": "mentor"})
    assert twice.status_code == 409
    closed = (await hr.post("/api/v1/programmes", json={
        "name": "Later", "enrolment_opens_on": "2099-01-01"})).json()["id"]
    early = await junior.post(f"/api/v1/programmes/{closed}/participants",
                              json={"employee_id": people["junior"], "role": "mentor"})
    assert early.status_code == 409 and "opens on" in early.json()["detail"]
    unknown = await hr.post(path, json={"employee_id": people["senior"], "role": "mentee",
                                        "topics_learn": [{"topic": "knitting", "level": 1}]})
    assert unknown.status_code == 422 and unknown.json()["field"] == "topics_learn.0.topic"
    zone = await hr.post(path, json={"employee_id": people["senior"], "role": "mentee",
                                     "time_zone": "Nowhere/Land"})
    assert zone.status_code == 422 and zone.json()["field"] == "time_zone"


async def test_both_roles_only_in_a_mutual_programme_and_capacity_holds(
    hr: httpx.AsyncClient, people: dict[str, str],
) -> None:
    plain = (await hr.post("/api/v1/programmes", json={"name": "Plain"})).json()["id"]
    mutual = (await hr.post("/api/v1/programmes", json={"name": "Mutual", "mutual": True,
                                                        "capacity": 2})).json()["id"]
    mid = people["mid"]
    for pid, second in ((plain, 409), (mutual, 201)):
        path = f"/api/v1/programmes/{pid}/participants"
        assert (await hr.post(path, json={"employee_id": mid, "role": "mentor"})).status_code \
            == 201
        assert (await hr.post(path, json={"employee_id": mid, "role": "mentee"})).status_code \
            == second
    full = await hr.post(f"/api/v1/programmes/{mutual}/participants",
                         json={"employee_id": people["junior"], "role": "mentor"})
    assert full.status_code == 409 and "full" in full.json()["detail"]


async def test_dei_topics_need_the_opt_in_and_diversity_needs_consent(
    junior: httpx.AsyncClient, hr: httpx.AsyncClient, people: dict[str, str],
    programme: dict[str, Any], events: Callable[[str], Any],
    as_employee: Callable[[str], httpx.AsyncClient],
) -> None:
    path = f"/api/v1/programmes/{programme['id']}/participants"
    base = {"employee_id": people["junior"], "role": "mentor"}
    dei = [{"topic": "DEI perspectives", "level": 4}]
    refused = await junior.post(path, json={**base, "topics_teach": dei})
    assert refused.status_code == 422 and refused.json()["field"] == "topics_teach.0.topic"
    no_consent = await junior.post(path, json={**base, "diversity": {"gender": "woman"}})
    assert no_consent.status_code == 422 and no_consent.json()["field"] == "diversity_consent"
    ok = await junior.post(path, json={**base, "topics_teach": dei, "dei_opt_in": True,
                                       "diversity": {"gender": "woman"},
                                       "diversity_consent": True})
    assert ok.status_code == 201 and ok.json()["diversity"] == {"gender": "woman"}
    pid = ok.json()["id"]
    assert (await hr.get(f"/api/v1/participants/{pid}")).json()["diversity"] == {
        "gender": "woman"}
    published = await wait_until(lambda: events("mentoring.participant.enrolled"))
    assert published[0]["data"]["participant"]["diversity"] == {"gender": "woman"}
    assert published[0]["data"]["participant"]["dei_opt_in"] is True


async def test_programme_managers_never_see_diversity_attributes(
    enrolment: Running, token: Callable[..., str], junior: httpx.AsyncClient,
    people: dict[str, str], programme: dict[str, Any],
) -> None:
    path = f"/api/v1/programmes/{programme['id']}/participants"
    await junior.post(path, json={"employee_id": people["junior"], "role": "mentor",
                                  "diversity": {"age_band": "18-24"},
                                  "diversity_consent": True})
    async with enrolment.client(token("programme_manager")) as manager:
        listed = (await manager.get(path)).json()
    assert listed[0]["diversity"] is None


async def test_survey_versions_reach_matching_in_order(
    junior: httpx.AsyncClient, people: dict[str, str], programme: dict[str, Any],
    events: Callable[[str], Any],
) -> None:
    created = await junior.post(f"/api/v1/programmes/{programme['id']}/participants",
                                json={"employee_id": people["junior"], "role": "mentor",
                                      **SURVEY})
    pid = created.json()["id"]
    changed = {**SURVEY, "mentor_capacity": 3, "avoid_employee_ids": [people["senior"]]}
    updated = await junior.put(f"/api/v1/participants/{pid}/survey", json=changed)
    assert updated.status_code == 200 and updated.json()["survey_version"] == 2
    same = await junior.put(f"/api/v1/participants/{pid}/survey", json=changed)
    assert same.json()["survey_version"] == 2
    versions = (await junior.get(f"/api/v1/participants/{pid}/survey/versions")).json()
    assert [v["version"] for v in versions] == [1, 2]
    assert versions[0]["answers"]["mentor_capacity"] == 2
    published = await wait_until(lambda: events("mentoring.participant.updated"))
    assert len(published) == 1
    state = published[0]["data"]["participant"]
    assert state["survey_version"] == 2 and state["avoid_employee_ids"] == [people["senior"]]


async def test_an_invitation_becomes_participation_only_when_accepted(
    hr: httpx.AsyncClient, people: dict[str, str], programme: dict[str, Any],
    as_employee: Callable[[str], httpx.AsyncClient], events: Callable[[str], Any],
) -> None:
    invited = await hr.post(f"/api/v1/programmes/{programme['id']}/invitations",
                            json={"employee_id": people["senior"], "role": "mentee",
                                  "message": "We would love you on board"})
    assert invited.status_code == 201
    iid = invited.json()["id"]
    assert (await hr.get(f"/api/v1/programmes/{programme['id']}/participants")).json() == []
    hr_accepts = await hr.post(f"/api/v1/invitations/{iid}/accept", json={})
    assert hr_accepts.status_code == 403
    async with as_employee(people["senior"]) as senior:
        mine = (await senior.get(f"/api/v1/employees/{people['senior']}/invitations")).json()
        assert [i["status"] for i in mine] == ["pending"]
        accepted = await senior.post(f"/api/v1/invitations/{iid}/accept",
                                     json={"topics_learn": [{"topic": "AI tools", "level": 1}]})
        assert accepted.status_code == 201 and accepted.json()["source"] == "invitation"
        again = await senior.post(f"/api/v1/invitations/{iid}/decline")
        assert again.status_code == 409
    assert (await wait_until(lambda: events("mentoring.participant.enrolled")))


async def test_an_invitation_is_announced_once_without_its_message_and_forgotten_on_erasure(
    enrolment: Running, hr: httpx.AsyncClient, people: dict[str, str],
    programme: dict[str, Any], as_employee: Callable[[str], httpx.AsyncClient],
    events: Callable[[str], Any],
) -> None:
    path = f"/api/v1/programmes/{programme['id']}/invitations"
    invited = await hr.post(path, json={"employee_id": people["senior"], "role": "mentee",
                                        "message": "Dear Sen, a private word"})
    assert invited.status_code == 201, invited.text
    invitation = invited.json()
    # A refused invitation (already pending) writes no event.
    again = await hr.post(path, json={"employee_id": people["senior"], "role": "mentee"})
    assert again.status_code == 409
    async with as_employee(people["senior"]) as senior:
        assert (await senior.post(f"/api/v1/invitations/{invitation['id']}/decline")
                ).status_code == 200
    await wait_until(lambda: _no_pending(enrolment))
    published = await events("mentoring.participant.invited")
    assert len(published) == 1
    assert published[0]["type"] == "participant.invited.v1"
    assert published[0]["subject"] == invitation["id"]
    assert published[0]["data"] == {
        "invitation_id": invitation["id"], "programme_id": programme["id"],
        "employee_id": people["senior"], "role": "mentee",
        "occurred_at": published[0]["data"]["occurred_at"]}
    assert published[0]["data"]["occurred_at"][:19] == invitation["invited_at"][:19]
    assert "private word" not in json.dumps(published[0])

    async def outbox_rows() -> int:
        async with enrolment.app.state.engine.connect() as connection:
            return int((await connection.execute(text(
                "SELECT count(*) FROM outbox_event WHERE ce_subject = :subject"),
                {"subject": invitation["id"]})).scalar())

    assert await outbox_rows() == 1
    assert (await hr.post(f"/api/v1/employees/{people['senior']}/erase")).status_code == 200
    assert await outbox_rows() == 0


async def test_participant_import_needs_consent_per_record(
    enrolment: Running, hr: httpx.AsyncClient, people: dict[str, str],
    programme: dict[str, Any], events: Callable[[str], Any],
) -> None:
    lines = [
        {"external_id": "junior", "role": "mentor", "consent_at": "2026-01-05T10:00:00Z",
         "topics_teach": [{"topic": "remote work", "level": 4}]},
        {"external_id": "senior", "role": "mentee"},
        {"employee_id": people["senior"], "role": "mentee", "consent_at": "2026-01-05T10:00:00Z",
         "topics_learn": [{"topic": "social media", "level": 1}]},
        {"external_id": "nobody", "role": "mentee", "consent_at": "2026-01-05T10:00:00Z"},
        {"external_id": "mid", "role": "mentee", "consent_at": "2026-01-05T10:00:00Z"},
    ]
    body = "\n".join(json.dumps(line) for line in lines)
    with statements(enrolment.app.state.engine) as seen:
        response = await hr.post(f"/api/v1/programmes/{programme['id']}/participants/import",
                                 content=body, headers=NDJSON)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["enrolled"] == 2 and report["rejected"] == 3
    # Its bulk writes run with SQLite's large page cache (`bulk_page_cache`).
    pragmas = [i for i, sql in enumerate(seen) if sql.startswith("PRAGMA cache_size=")]
    inserts = [i for i, sql in enumerate(seen)
               if sql.startswith("INSERT INTO enrolment_participant")]
    if on_postgres():
        assert pragmas == []
    else:
        assert len(pragmas) == 2 and inserts
        assert pragmas[0] < min(inserts) and max(inserts) < pragmas[1]
    assert [(e["row"], e["field"]) for e in report["errors"]] == [
        (2, "consent_at"), (4, "external_id"), (5, "role")]
    listed = (await hr.get(f"/api/v1/programmes/{programme['id']}/participants")).json()
    assert {p["source"] for p in listed} == {"import"}
    assert all(p["consent_at"].startswith("2026-01-05") for p in listed)
    await wait_until(lambda: _count(events("mentoring.participant.enrolled"), 2))


async def test_the_participant_import_is_idempotent_and_publishes_per_record_in_bulk(
    enrolment: Running, hr: httpx.AsyncClient, hris: httpx.AsyncClient,
    people: dict[str, str], programme: dict[str, Any], events: Callable[[str], Any],
) -> None:
    """Set-based: one report, one event per enrolled or changed record, nothing twice."""
    moved = {"external_id": "junior", "email": "junior@corp.example", "given_name": "June",
             "family_name": "Ior", "job_level": 2, "time_zone": "Europe/Paris",
             "manager_external_id": "senior"}
    assert (await hris.post("/api/v1/employees/import", json=[moved])).json()["updated"] == 1
    mentor = {"external_id": "junior", "role": "mentor", "consent_at": "2026-01-05T10:00:00Z",
              "topics_teach": [{"topic": "remote work", "level": 4}], "mentor_capacity": 2}
    lines = [
        mentor,
        {"employee_id": people["senior"], "role": "mentee", "consent_at": "2026-01-05T10:00:00Z",
         "topics_learn": [{"topic": "social media", "level": 1}]},
        {"external_id": "mid", "role": "mentee", "consent_at": "2026-01-05T10:00:00Z"},
        {**mentor, "mentor_capacity": 3},
        {"external_id": "senior", "role": "mentee", "consent_at": "2026-01-05T10:00:00Z",
         "topics_learn": [{"topic": "nope", "level": 1}]},
    ]
    path = f"/api/v1/programmes/{programme['id']}/participants/import"

    async def send(records: list[dict[str, Any]]) -> dict[str, Any]:
        response = await hr.post(path, content="\n".join(json.dumps(r) for r in records),
                                 headers=NDJSON)
        assert response.status_code == 200, response.text
        return dict(response.json())

    expected_errors = [(3, "role"), (4, "employee_id"), (5, "employee_id")]
    first = await send(lines)
    assert (first["enrolled"], first["updated"], first["rejected"]) == (2, 0, 3)
    assert [(e["row"], e["field"]) for e in first["errors"]] == expected_errors
    again = await send(lines)
    assert (again["enrolled"], again["updated"], again["rejected"]) == (0, 0, 3)
    assert [(e["row"], e["field"]) for e in again["errors"]] == expected_errors
    changed = await send([{**mentor, "mentor_capacity": 3}])
    assert (changed["enrolled"], changed["updated"], changed["rejected"]) == (0, 1, 0)

    listed = {p["employee_id"]: p for p in
              (await hr.get(f"/api/v1/programmes/{programme['id']}/participants")).json()}
    assert set(listed) == {people["junior"], people["senior"]}
    junior = listed[people["junior"]]
    assert (junior["survey_version"], junior["mentor_capacity"]) == (2, 3)
    versions = (await hr.get(f"/api/v1/participants/{junior['id']}/survey/versions")).json()
    assert [(v["version"], v["answers"]["mentor_capacity"]) for v in versions] == [(1, 2), (2, 3)]
    enrolled = await wait_until(lambda: _count(events("mentoring.participant.enrolled"), 2))
    updated = await wait_until(lambda: _count(events("mentoring.participant.updated"), 1))
    assert len(enrolled) == 2 and len(updated) == 1  # the unchanged re-import emitted nothing
    by_employee = {e["data"]["participant"]["employee"]["employee_id"]: e["data"]["participant"]
                   for e in enrolled}
    assert by_employee[people["junior"]]["employee"]["manager_chain"] == [people["senior"]]
    assert by_employee[people["senior"]]["topics_learn"] == [
        {"topic": "social media", "level": 1}]
    state = updated[0]["data"]["participant"]
    assert (state["participant_id"], state["survey_version"], state["mentor_capacity"]) == (
        junior["id"], 2, 3)
    assert state["employee"]["manager_chain"] == [people["senior"]]


async def test_withdrawal_is_published_once(
    junior: httpx.AsyncClient, people: dict[str, str], programme: dict[str, Any],
    events: Callable[[str], Any],
) -> None:
    pid = (await junior.post(f"/api/v1/programmes/{programme['id']}/participants",
                             json={"employee_id": people["junior"], "role": "mentor"})).json()["id"]
    left = await junior.post(f"/api/v1/participants/{pid}/withdraw", json={"reason": "busy"})
    assert left.status_code == 200 and left.json()["status"] == "withdrawn"
    assert (await junior.post(f"/api/v1/participants/{pid}/withdraw", json={})).status_code \
        == 409
    published = await wait_until(lambda: events("mentoring.participant.withdrawn"))
    assert published[0]["data"]["reason"] == "busy"


async def test_erasure_pseudonymises_keeps_aggregates_and_tells_everyone(
    enrolment: Running, hr: httpx.AsyncClient, hris: httpx.AsyncClient, junior: httpx.AsyncClient,
    people: dict[str, str], programme: dict[str, Any], events: Callable[[str], Any],
) -> None:
    pid = (await junior.post(f"/api/v1/programmes/{programme['id']}/participants",
                             json={"employee_id": people["junior"], "role": "mentor",
                                   **SURVEY})).json()["id"]
    # Everything about them has been sent before they ask to be forgotten.
    await wait_until(lambda: _no_pending(enrolment))
    erased = await hr.post(f"/api/v1/employees/{people['junior']}/erase")
    assert erased.status_code == 200, erased.text
    employee = erased.json()
    assert employee["erased"] is True and "junior" not in json.dumps(employee).lower()
    assert employee["job_level"] == 2  # aggregates keep level and department
    participant = (await hr.get(f"/api/v1/participants/{pid}")).json()
    assert participant["status"] == "withdrawn" and participant["topics_teach"] == []
    assert (await wait_until(lambda: events("mentoring.employee.erased")))[0]["data"][
        "employee_id"] == people["junior"]
    assert (await wait_until(lambda: events("mentoring.participant.withdrawn")))[0]["data"][
        "reason"] == "erased"
    resent = await hris.post("/api/v1/employees/import", json=[
        {"external_id": "junior", "email": "junior@corp.example", "given_name": "June",
         "family_name": "Ior"}])
    assert resent.status_code == 422 and resent.json()["errors"][0]["field"] == "external_id"
    assert (await hr.post(f"/api/v1/employees/{people['junior']}/erase")).status_code == 409
    async with enrolment.app.state.engine.connect() as connection:
        kept = (await connection.execute(text(
            "SELECT payload FROM outbox_event WHERE published_at IS NOT NULL "
            "AND payload LIKE '%junior@corp.example%'"
        ))).all()
    assert kept == []


def _sub(minted: str) -> str:
    return str(jwt.decode(minted, options={"verify_signature": False})["sub"])


async def _participants(enrolment: Running) -> int:
    async with enrolment.app.state.engine.connect() as connection:
        count = await connection.execute(text("SELECT count(*) FROM enrolment_participant"))
        return int(count.scalar())


async def test_an_admin_cannot_consent_or_declare_diversity_for_someone_else(
    enrolment: Running, token: Callable[..., str], junior: httpx.AsyncClient,
    hr: httpx.AsyncClient, people: dict[str, str], programme: dict[str, Any],
    events: Callable[[str], Any],
) -> None:
    own = await junior.post(f"/api/v1/programmes/{programme['id']}/participants", json={
        "employee_id": people["junior"], "role": "mentor", **SURVEY,
        "diversity": {"gender": "woman"}, "diversity_consent": True})
    pid = own.json()["id"]
    consented_at = (await hr.get(f"/api/v1/participants/{pid}")).json()
    path = f"/api/v1/participants/{pid}/survey"
    declared = await hr.put(path, json={**SURVEY, "diversity": {"gender": "man"},
                                        "diversity_consent": True})
    assert declared.status_code == 403, declared.text
    assert declared.headers["content-type"] == "application/problem+json"
    assert declared.json()["field"] == "diversity"
    async with enrolment.client(token("programme_manager")) as manager:
        consent = await manager.put(path, json={**SURVEY, "diversity_consent": True})
        assert consent.status_code == 403 and consent.json()["field"] == "diversity_consent"
        # An admin's own change is kept; the person's answers and consent stay theirs.
        changed = await manager.put(path, json={**SURVEY, "mentor_capacity": 3,
                                                "diversity": None})
        assert changed.status_code == 200, changed.text
        assert changed.json()["survey_version"] == 2
    after = (await hr.get(f"/api/v1/participants/{pid}")).json()
    assert after["diversity"] == {"gender": "woman"} and after["mentor_capacity"] == 3
    assert after["consent_at"] == consented_at["consent_at"]
    versions = (await hr.get(f"/api/v1/participants/{pid}/survey/versions")).json()
    assert [v["answers"]["diversity"] for v in versions] == [{"gender": "woman"}] * 2
    [updated] = await wait_until(lambda: events("mentoring.participant.updated"))
    assert updated["data"]["participant"]["diversity"] == {"gender": "woman"}
    # The person themselves still may change or withdraw them.
    mine = await junior.put(path, json={**SURVEY, "mentor_capacity": 3})
    assert mine.status_code == 200 and mine.json()["diversity"] is None


async def test_an_admin_enrolment_is_recorded_as_theirs_and_carries_no_consent(
    enrolment: Running, token: Callable[..., str], people: dict[str, str],
    programme: dict[str, Any], events: Callable[[str], Any],
) -> None:
    minted = token("hr_admin")
    path = f"/api/v1/programmes/{programme['id']}/participants"
    async with enrolment.client(minted) as hr:
        consented = await hr.post(path, json={"employee_id": people["senior"], "role": "mentee",
                                              "diversity": {"age_band": "45-54"},
                                              "diversity_consent": True})
        assert consented.status_code == 403 and consented.json()["field"] == "diversity"
        assert await _participants(enrolment) == 0
        enrolled = await hr.post(path, json={"employee_id": people["senior"],
                                             "role": "mentee"})
    assert enrolled.status_code == 201, enrolled.text
    participant = enrolled.json()
    assert participant["source"] == "admin" and participant["enrolled_by"] == _sub(minted)
    assert participant["consent_at"] is None and participant["diversity"] is None
    async with as_participant(enrolment, token, people["junior"]) as junior:
        mine = await junior.post(path, json={"employee_id": people["junior"], "role": "mentor"})
    assert mine.json()["source"] == "self" and mine.json()["enrolled_by"] is None
    assert mine.json()["consent_at"] is not None
    await wait_until(lambda: _count(events("mentoring.participant.enrolled"), 2))


def as_participant(enrolment: Running, token: Callable[..., str],
                   employee_id: str) -> httpx.AsyncClient:
    return enrolment.client(token("participant", employee_id=employee_id))


async def test_the_consented_import_keeps_its_consent_and_names_the_importer(
    enrolment: Running, token: Callable[..., str], people: dict[str, str],
    programme: dict[str, Any],
) -> None:
    minted = token("hr_admin")
    line = {"external_id": "junior", "role": "mentor", "consent_at": "2026-01-05T10:00:00Z",
            "diversity": {"gender": "woman"}, "diversity_consent": True}
    async with enrolment.client(minted) as hr:
        report = await hr.post(f"/api/v1/programmes/{programme['id']}/participants/import",
                               content=json.dumps(line), headers=NDJSON)
        assert report.status_code == 200 and report.json()["enrolled"] == 1
        [imported] = (await hr.get(f"/api/v1/programmes/{programme['id']}/participants")).json()
    assert imported["source"] == "import" and imported["enrolled_by"] == _sub(minted)
    assert imported["consent_at"].startswith("2026-01-05")
    assert imported["diversity"] == {"gender": "woman"}


async def test_a_consent_time_without_offset_is_a_row_error(
    hr: httpx.AsyncClient, people: dict[str, str], programme: dict[str, Any],
) -> None:
    lines = [
        {"external_id": "junior", "role": "mentor", "consent_at": "2026-01-05T10:00:00"},
        {"external_id": "senior", "role": "mentee", "consent_at": "2026-01-05T10:00:00+01:00"},
    ]
    response = await hr.post(f"/api/v1/programmes/{programme['id']}/participants/import",
                             content="\n".join(json.dumps(line) for line in lines),
                             headers=NDJSON)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["enrolled"] == 1 and report["rejected"] == 1
    assert [(e["row"], e["field"]) for e in report["errors"]] == [(1, "consent_at")]


async def test_survey_strings_and_lists_are_capped(
    enrolment: Running, junior: httpx.AsyncClient, people: dict[str, str],
    programme: dict[str, Any], events: Callable[[str], Any],
) -> None:
    path = f"/api/v1/programmes/{programme['id']}/participants"
    base = {"employee_id": people["junior"], "role": "mentor"}
    refused = {
        "interests.0": {"interests": ["x" * 30_000] * 50},
        "interests": {"interests": [f"i{n}" for n in range(51)]},
        "languages.0": {"languages": ["l" * 101]},
        "languages": {"languages": [f"l{n}" for n in range(21)]},
        "communication_preferences.0": {"communication_preferences": ["chat\nvideo"]},
        "avoid_employee_ids.0": {"avoid_employee_ids": ["a" * 65]},
        "topics_teach.0.topic": {"topics_teach": [{"topic": "t" * 101, "level": 3}]},
        "diversity": {"diversity": {f"k{n}": "v" for n in range(11)},
                      "diversity_consent": True},
        "diversity.gender": {"diversity": {"gender": "w" * 101}, "diversity_consent": True},
        "time_zone": {"time_zone": "Europe"},
        "meeting_formats": {"meeting_formats": ["virtual"] * 21},
    }
    for field, answers in refused.items():
        response = await junior.post(path, json={**base, **answers})
        assert response.status_code == 422, (field, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["field"].startswith(field), (field, response.json()["field"])
    assert await _participants(enrolment) == 0
    pid = (await junior.post(path, json={**base, **SURVEY})).json()["id"]
    for answers in ({"time_zone": "America"}, {"interests": ["climb\x00ing"]}):
        response = await junior.put(f"/api/v1/participants/{pid}/survey",
                                    json={**SURVEY, **answers})
        assert response.status_code == 422, response.text
    assert (await junior.get(f"/api/v1/participants/{pid}")).json()["survey_version"] == 1
    await wait_until(lambda: events("mentoring.participant.enrolled"))
    assert await events("mentoring.participant.updated") == []


async def test_ids_messages_and_reasons_are_capped(
    hr: httpx.AsyncClient, junior: httpx.AsyncClient, people: dict[str, str],
    programme: dict[str, Any],
) -> None:
    for path in ("/api/v1/participants/a%00b", f"/api/v1/employees/{'e' * 65}"):
        response = await hr.get(path)
        assert response.status_code == 422, response.text
        assert response.json()["field"] in ("participant_id", "employee_id")
    invite = await hr.post(f"/api/v1/programmes/{programme['id']}/invitations",
                           json={"employee_id": people["senior"], "role": "mentee",
                                 "message": "Join us\x00"})
    assert invite.status_code == 422 and invite.json()["field"] == "message"
    pid = (await junior.post(f"/api/v1/programmes/{programme['id']}/participants",
                             json={"employee_id": people["junior"],
                                   "role": "mentor"})).json()["id"]
    left = await junior.post(f"/api/v1/participants/{pid}/withdraw",
                             json={"reason": "r" * 4_001})
    assert left.status_code == 422 and left.json()["field"] == "reason"


async def test_programme_fields_are_capped(hr: httpx.AsyncClient) -> None:
    refused = {
        "name": {"name": "n" * 201},
        "description": {"description": "d" * 4_001},
        "topics.0": {"topics": ["t" * 101]},
        "guidelines.0.body": {"guidelines": [{"title": "Be kind", "body": "b\x00"}]},
        "guidelines.0.url": {"guidelines": [{"title": "Read", "url": "https://x.test/a b"}]},
        "goal_templates": {"goal_templates": [{"title": f"g{n}"} for n in range(51)]},
        "goal_templates.0.topic": {"goal_templates": [{"title": "g", "topic": "t" * 101}]},
    }
    for field, values in refused.items():
        response = await hr.post("/api/v1/programmes", json={"name": "Capped", **values})
        assert response.status_code == 422, (field, response.text)
        assert response.json()["field"].startswith(field), (field, response.json()["field"])
    assert (await hr.get("/api/v1/programmes")).json() == []
    created = (await hr.post("/api/v1/programmes", json={"name": "Capped"})).json()
    many = await hr.post(f"/api/v1/programmes/{created['id']}/topics",
                         json={"topics": [f"topic {n}" for n in range(50)]})
    assert many.status_code == 200, many.text
    over = await hr.post(f"/api/v1/programmes/{created['id']}/topics",
                         json={"topics": [f"more {n}" for n in range(50)]})
    assert over.status_code == 422 and over.json()["field"] == "topics"


async def test_a_json_body_nested_too_deep_is_a_400_naming_the_body(
    hr: httpx.AsyncClient,
) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    response = await hr.post("/api/v1/programmes", content=deep,
                             headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["field"] == "body"
    assert (await hr.get("/api/v1/programmes")).json() == []


async def test_a_survey_patch_changes_only_the_answers_sent(
    enrolment: Running, token: Callable[..., str], junior: httpx.AsyncClient,
    hr: httpx.AsyncClient, people: dict[str, str], programme: dict[str, Any],
    events: Callable[[str], Any],
) -> None:
    full = {**SURVEY, "mentor_capacity": 3, "time_zone": "Europe/Paris",
            "availability": [{"weekday": 1, "start": "09:00", "end": "11:00"}],
            "diversity": {"gender": "woman"}, "diversity_consent": True}
    created = await junior.post(f"/api/v1/programmes/{programme['id']}/participants",
                                json={"employee_id": people["junior"], "role": "mentor",
                                      **full})
    pid = created.json()["id"]
    path = f"/api/v1/participants/{pid}/survey"
    changed = await junior.patch(path, json={"time_zone": "Asia/Tokyo"})
    assert changed.status_code == 200, changed.text
    after = changed.json()
    assert after["time_zone"] == "Asia/Tokyo" and after["survey_version"] == 2
    for key in ("topics_teach", "languages", "interests", "availability", "mentor_capacity",
                "diversity"):
        assert after[key] == created.json()[key], key
    same = await junior.patch(path, json={"time_zone": "Asia/Tokyo"})
    assert same.json()["survey_version"] == 2
    # A null goes back to the default; a bad value is a 422 naming its field.
    reset = (await junior.patch(path, json={"availability": None})).json()
    assert reset["availability"] == [] and reset["mentor_capacity"] == 3
    bad = await junior.patch(path, json={"mentor_capacity": 0})
    assert bad.status_code == 422 and bad.json()["field"] == "mentor_capacity"
    unknown = await junior.patch(path, json={"shoe_size": 44})
    assert unknown.status_code == 422
    # An admin's change keeps the person's diversity answers; consent stays theirs.
    assert (await hr.patch(path, json={"languages": ["fr"]})).status_code == 200
    refused = await hr.patch(path, json={"diversity": None})
    assert refused.status_code == 403 and refused.json()["field"] == "diversity"
    kept = (await hr.get(f"/api/v1/participants/{pid}")).json()
    assert kept["diversity"] == {"gender": "woman"} and kept["languages"] == ["fr"]
    versions = (await junior.get(f"{path}/versions")).json()
    assert [v["answers"]["time_zone"] for v in versions] == [
        "Europe/Paris", "Asia/Tokyo", "Asia/Tokyo", "Asia/Tokyo"]


async def test_a_survey_patch_sets_the_card_bio_and_keeps_the_rest(
    junior: httpx.AsyncClient, people: dict[str, str], programme: dict[str, Any],
) -> None:
    created = await junior.post(f"/api/v1/programmes/{programme['id']}/participants",
                                json={"employee_id": people["junior"], "role": "mentor",
                                      **SURVEY, "time_zone": "Europe/Paris"})
    path = f"/api/v1/participants/{created.json()['id']}/survey"
    changed = await junior.patch(path, json={"bio": "Data analyst, loves dashboards"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["bio"] == "Data analyst, loves dashboards"
    assert changed.json()["time_zone"] == "Europe/Paris"
    too_long = await junior.patch(path, json={"bio": "x" * 1_001})
    assert too_long.status_code == 422 and too_long.json()["field"] == "bio"


async def test_a_leaver_no_longer_takes_part_nor_counts_as_enrolled(
    hris: httpx.AsyncClient, hr: httpx.AsyncClient, people: dict[str, str],
    as_employee: Callable[[str], httpx.AsyncClient], events: Callable[[str], Any],
) -> None:
    created = await hr.post("/api/v1/programmes", json={
        "name": "Small", "mentor_max_level": 4, "mentee_min_level": 7, "capacity": 1})
    programme_id = created.json()["id"]
    path = f"/api/v1/programmes/{programme_id}/participants"
    async with as_employee(people["junior"]) as junior:
        mine = await junior.post(path, json={"employee_id": people["junior"],
                                             "role": "mentor", **SURVEY})
        assert mine.status_code == 201, mine.text
    async with as_employee(people["senior"]) as senior:
        full = await senior.post(path, json={"employee_id": people["senior"],
                                             "role": "mentee", **SURVEY})
        assert full.status_code == 409
    # The HRIS export says the junior left yesterday.
    left = (date.today() - timedelta(days=1)).isoformat()
    leaver = {"external_id": "junior", "email": "junior@corp.example", "given_name": "June",
              "family_name": "Ior", "job_level": 2, "time_zone": "Europe/Paris",
              "leave_date": left}
    assert (await hris.post("/api/v1/employees/import", json=[leaver])).json()["updated"] == 1
    gone = (await hr.get(f"/api/v1/participants/{mine.json()['id']}")).json()
    assert gone["status"] == "left" and gone["withdrawn_at"] is not None
    # Every service hears it: the participation ended because the person left.
    [ended] = await wait_until(lambda: events("mentoring.participant.withdrawn"))
    assert ended["data"]["participant_id"] == mine.json()["id"]
    assert ended["data"]["reason"] == "departure"
    async with as_employee(people["senior"]) as senior:
        joined = await senior.post(path, json={"employee_id": people["senior"],
                                               "role": "mentee", **SURVEY})
        assert joined.status_code == 201, joined.text
    # A SCIM deactivation says the same.
    patch = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
             "Operations": [{"op": "replace", "value": {"active": False}}]}
    deactivated = await hris.patch(f"/scim/v2/Users/{people['senior']}", json=patch)
    assert deactivated.status_code == 200, deactivated.text
    assert (await hr.get(f"/api/v1/participants/{joined.json()['id']}")).json()[
        "status"] == "left"
    both = await wait_until(lambda: _count(events("mentoring.participant.withdrawn"), 2))
    assert [e["data"]["reason"] for e in both] == ["departure", "departure"]
