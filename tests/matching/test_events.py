"""Enrolment's events build the pool: idempotent, order-tolerant; pairs end with people."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import httpx

from tests.matching.conftest import (
    Feed,
    at,
    employee,
    participant,
    skills,
    wait_pool,
    wait_published,
    wishes,
)
from tests.support.nats import NatsServer
from tests.support.stack import Running, wait_until
from upward_common.events import (
    EmployeeErased,
    EmployeeUpdated,
    PairAtRisk,
    PairFitFlagged,
    ParticipantEnrolled,
    ParticipantUpdated,
    ParticipantWithdrawn,
)

PROGRAMME = "prog-events"


async def test_a_redelivered_event_id_changes_nothing(
    feed: Feed, admin: httpx.AsyncClient
) -> None:
    await feed.programme(PROGRAMME)
    mentor = participant(PROGRAMME, "mentor", employee(job_level=2), mentor_capacity=2)
    event = ParticipantEnrolled(participant=mentor, occurred_at=at(1))
    await feed.publish(event, event_id="evt-1")
    # The same id again is dropped by JetStream; a redelivery past it by the inbox.
    await feed.publish(event, event_id="evt-1")
    await feed.publish(ParticipantEnrolled(participant=mentor, occurred_at=at(1)))
    await wait_pool(admin, PROGRAMME, mentors=1)
    stats = (await admin.get(f"/api/v1/programmes/{PROGRAMME}/pool")).json()
    assert stats["mentors"] == 1 and stats["total_capacity"] == 2


async def test_an_older_survey_never_overwrites_a_newer_one(
    feed: Feed, admin: httpx.AsyncClient
) -> None:
    await feed.programme(PROGRAMME)
    person = employee(job_level=2)
    newer = participant(PROGRAMME, "mentor", person, "p-m", mentor_capacity=3, survey_version=2)
    older = newer.model_copy(update={"mentor_capacity": 1, "survey_version": 1})
    await feed.publish(ParticipantUpdated(participant=newer, occurred_at=at(5)))
    await wait_pool(admin, PROGRAMME, total_capacity=3)
    await feed.publish(ParticipantEnrolled(participant=older, occurred_at=at(1)))
    # A later marker proves the older event was consumed before we look.
    await feed.enrol(participant(PROGRAMME, "mentee", employee(job_level=9)), minutes=6)
    await wait_pool(admin, PROGRAMME, mentees=1)
    assert (await admin.get(f"/api/v1/programmes/{PROGRAMME}/pool")).json()[
        "total_capacity"] == 3


async def test_an_update_for_an_unknown_participant_creates_it(
    feed: Feed, admin: httpx.AsyncClient
) -> None:
    await feed.programme(PROGRAMME)
    await feed.publish(ParticipantUpdated(
        participant=participant(PROGRAMME, "mentee", employee(job_level=9)),
        occurred_at=at(2)))
    await wait_pool(admin, PROGRAMME, mentees=1)


async def test_participants_arriving_before_their_programme_wait_for_its_rules(
    feed: Feed, admin: httpx.AsyncClient
) -> None:
    mentee = participant(PROGRAMME, "mentee", employee(job_level=6), "p-e",
                         topics_learn=wishes("AI tools"))
    mentor = participant(PROGRAMME, "mentor", employee(job_level=5), "p-r",
                         topics_teach=skills("AI tools"))
    await feed.enrol(mentee)
    await feed.enrol(mentor)
    await wait_pool(admin, PROGRAMME, mentees=1, mentors=1, eligible_pairs=1)
    # The programme's rules then arrive: a gap of 2 levels makes the pair ineligible.
    await feed.programme(PROGRAMME, minutes=3, min_level_gap=2)
    await wait_pool(admin, PROGRAMME, eligible_pairs=0)


async def test_a_withdrawal_that_overtakes_the_enrolment_keeps_the_person_out(
    feed: Feed, admin: httpx.AsyncClient
) -> None:
    await feed.programme(PROGRAMME)
    late = participant(PROGRAMME, "mentee", employee(job_level=9), "p-late")
    await feed.publish(ParticipantWithdrawn(participant_id="p-late", programme_id=PROGRAMME,
                                            employee_id=late.employee.employee_id,
                                            occurred_at=at(5)))
    await feed.enrol(late, minutes=1)
    marker = participant(PROGRAMME, "mentor", employee(job_level=2))
    await feed.enrol(marker, minutes=6)
    await wait_pool(admin, PROGRAMME, mentors=1)
    assert (await admin.get(f"/api/v1/programmes/{PROGRAMME}/pool")).json()["mentees"] == 0


async def _paired(feed: Feed, admin: httpx.AsyncClient) -> tuple[dict[str, object], str, str]:
    await feed.programme(PROGRAMME)
    mentee = await feed.enrol(participant(PROGRAMME, "mentee", employee("emp-e", job_level=9),
                                          "p-e", topics_learn=wishes("AI tools")))
    mentor = await feed.enrol(participant(PROGRAMME, "mentor", employee("emp-r", job_level=2),
                                          "p-r", topics_teach=skills("AI tools")))
    await wait_pool(admin, PROGRAMME, mentees=1, mentors=1)
    response = await admin.post("/api/v1/pairs", json={
        "programme_id": PROGRAMME, "mentee_participant_id": mentee.participant_id,
        "mentor_participant_id": mentor.participant_id})
    assert response.status_code == 201, response.text
    return response.json(), mentee.participant_id, mentor.participant_id


async def test_a_withdrawal_ends_the_pair_with_pair_ended(
    feed: Feed, admin: httpx.AsyncClient, nats_server: NatsServer
) -> None:
    pair, mentee_id, _ = await _paired(feed, admin)
    await feed.publish(ParticipantWithdrawn(participant_id=mentee_id, programme_id=PROGRAMME,
                                            employee_id="emp-e", occurred_at=at(10)))
    [event] = await wait_published(nats_server.url, "mentoring.pair.ended", 1)
    assert event["data"]["pair_id"] == pair["id"]
    assert event["data"]["reason"] == "withdrawal"
    ended = (await admin.get(f"/api/v1/pairs/{pair['id']}")).json()
    assert ended["status"] == "ended" and ended["end_reason"] == "withdrawal"
    stats = (await admin.get(f"/api/v1/programmes/{PROGRAMME}/pool")).json()
    assert stats["mentees"] == 0 and stats["free_capacity"] == 1


async def test_a_leaver_ends_their_pairs_as_departure(
    feed: Feed, admin: httpx.AsyncClient, nats_server: NatsServer
) -> None:
    pair, _, _ = await _paired(feed, admin)
    leaver = employee("emp-r", job_level=2, active=False)
    await feed.publish(EmployeeUpdated(employee=leaver, occurred_at=at(10)))
    [event] = await wait_published(nats_server.url, "mentoring.pair.ended", 1)
    assert event["data"] == {**event["data"], "pair_id": pair["id"], "reason": "departure"}
    await wait_pool(admin, PROGRAMME, mentors=0)
    # An older snapshot saying they are active cannot bring the leaver back.
    await feed.publish(EmployeeUpdated(employee=employee("emp-r", job_level=2), occurred_at=at(3)))
    await feed.enrol(participant(PROGRAMME, "mentee", employee(job_level=9)), minutes=11)
    await wait_pool(admin, PROGRAMME, mentees=2)
    assert (await admin.get(f"/api/v1/programmes/{PROGRAMME}/pool")).json()["mentors"] == 0


async def test_a_burst_of_employee_updates_keeps_each_employees_newest_snapshot(
    feed: Feed, admin: httpx.AsyncClient
) -> None:
    await feed.programme(PROGRAMME)
    for name in ("a", "b", "c"):
        await feed.enrol(participant(PROGRAMME, "mentor", employee(f"emp-{name}", job_level=2)))
    await wait_pool(admin, PROGRAMME, mentors=3)
    # As an HRIS import sends them: out of order, some twice; the consumer takes
    # them in batches (their bulk form), and each employee ends at their newest.
    burst = [("emp-a", 20, False), ("emp-b", 20, True), ("emp-a", 5, True),
             ("emp-c", 30, True), ("emp-b", 21, False), ("emp-c", 25, False),
             ("emp-b", 21, False), ("emp-a", 19, True)]
    for employee_id, minutes, active in burst:
        await feed.publish(EmployeeUpdated(
            employee=employee(employee_id, job_level=2, active=active), occurred_at=at(minutes)))
    await feed.enrol(participant(PROGRAMME, "mentee", employee(job_level=9)), minutes=40)
    await wait_pool(admin, PROGRAMME, mentees=1)
    assert (await admin.get(f"/api/v1/programmes/{PROGRAMME}/pool")).json()["mentors"] == 1


async def test_an_erased_employee_leaves_the_pool_and_their_reasons_are_scrubbed(
    feed: Feed, admin: httpx.AsyncClient, nats_server: NatsServer
) -> None:
    pair, _, _ = await _paired(feed, admin)
    assert any("AI tools" in f["reason"] for f in pair["breakdown"])
    await feed.publish(EmployeeErased(employee_id="emp-e", occurred_at=at(10)))
    await wait_published(nats_server.url, "mentoring.pair.ended", 1)

    async def scrubbed() -> bool:
        body = (await admin.get(f"/api/v1/pairs/{pair['id']}")).json()
        return all("AI tools" not in f["reason"] for f in body["breakdown"])

    await wait_until(scrubbed)
    await wait_pool(admin, PROGRAMME, mentees=0)


async def test_a_fit_flag_from_scheduling_shows_hr_a_rematch_suggestion(
    feed: Feed, admin: httpx.AsyncClient, matching: Running, token: Callable[..., str],
) -> None:
    pair, _, _ = await _paired(feed, admin)
    await feed.publish(PairFitFlagged(pair_id=pair["id"], programme_id=PROGRAMME,
                                      poor_fit_reports=2, occurred_at=at(20)))
    await feed.publish(PairAtRisk(pair_id=pair["id"], programme_id=PROGRAMME,
                                  silent_since=at(0), cadence_days=14, occurred_at=at(30)))
    # A later report of the same flag keeps the first; an older at-risk flag loses.
    await feed.publish(PairFitFlagged(pair_id=pair["id"], programme_id=PROGRAMME,
                                      poor_fit_reports=3, occurred_at=at(40)))
    await feed.publish(PairAtRisk(pair_id=pair["id"], programme_id=PROGRAMME,
                                  silent_since=at(0), cadence_days=14, occurred_at=at(25)))

    async def flagged() -> dict[str, object] | None:
        body: dict[str, object] = (await admin.get(f"/api/v1/pairs/{pair['id']}")).json()
        return body if body.get("rematch_suggested_at") and body.get("at_risk_at") else None

    shown = await wait_until(flagged)
    assert datetime.fromisoformat(str(shown["rematch_suggested_at"])) == at(20)
    assert datetime.fromisoformat(str(shown["at_risk_at"])) == at(30)
    # Participants do not see HR's signals about their own pair.
    async with matching.client(token("participant", employee_id="emp-e")) as mentee:
        own = (await mentee.get(f"/api/v1/pairs/{pair['id']}")).json()
    assert own["rematch_suggested_at"] is None and own["at_risk_at"] is None
