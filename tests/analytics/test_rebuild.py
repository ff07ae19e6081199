"""Rebuilding the read models by replay gives every analytics answer exactly as live delivery
did, announces no milestone again, and live delivery resumes without double counting."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

import pytest
from nats.js.errors import NotFoundError
from prometheus_client import CollectorRegistry
from sqlalchemy import text
from sqlmodel import SQLModel

from analytics import __main__ as analytics_cli
from analytics import models as analytics_models
from analytics.__main__ import run_rebuild
from analytics.config import AnalyticsSettings
from analytics.main import SERVICE
from analytics.rebuild import KEPT, READ_MODELS, RebuildRunning
from tests.analytics.test_surveys import QUESTIONS, answers
from tests.support.stack import Running, wait_until
from tests.support.stream import Stream
from upward_common.bus import Bus, ensure_streams
from upward_common.consumer import EventConsumer
from upward_common.db import create_engine
from upward_common.events import (
    STREAM,
    EmployeeErased,
    EmployeeSnapshot,
    EmployeeUpdated,
    EventData,
    GoalUpdated,
    PairAtRisk,
    PairEnded,
    PairFitFlagged,
    PairFormed,
    ParticipantEnrolled,
    ParticipantInvited,
    ParticipantRole,
    ParticipantState,
    ParticipantWithdrawn,
    ProgrammeSnapshot,
    ProgrammeUpdated,
    SessionCancelled,
    SessionLogged,
    SessionScheduled,
)

StartService = Callable[..., AbstractAsyncContextManager[Running]]
T0 = datetime(2024, 1, 8, 9, tzinfo=UTC)
AS_OF = "2026-06-30"


def at(days: float) -> datetime:
    return T0 + timedelta(days=days)


def person(employee_id: str, rng: random.Random, *, leave: bool) -> EmployeeSnapshot:
    hire = date(2017, 1, 2) + timedelta(days=rng.randrange(0, 6 * 365))
    return EmployeeSnapshot(
        employee_id=employee_id, external_id=f"x-{employee_id}",
        email=f"{employee_id}@example.com", given_name="Ada", family_name="Lovelace",
        job_level=rng.choice([2, 3, 4]), department=rng.choice(["Sales", "Engineering"]),
        hire_on=hire, leave_on=date(2025, 1, 6) + timedelta(days=rng.randrange(0, 400))
        if leave else None, active=not leave)


def history(prefix: str) -> tuple[list[EventData], list[str]]:
    """A realistic mix: a workforce with leavers and a promotion, two programmes, enrolments
    and a withdrawal, pairs that end, sessions planned, held and cancelled, goals, flags,
    an erasure; some events late. The employee ids of the participants."""
    rng = random.Random(14)
    workforce = [f"{prefix}-e{n}" for n in range(80)]
    people = {e: person(e, rng, leave=rng.random() < 0.3) for e in workforce}
    events: list[EventData] = [EmployeeUpdated(employee=people[e], occurred_at=at(-30))
                               for e in workforce]
    promoted = people[workforce[3]].model_copy(update={"job_level": 5})
    events.append(EmployeeUpdated(employee=promoted, occurred_at=at(200)))
    programmes = {"P": f"{prefix}-P", "Q": f"{prefix}-Q"}
    for day, programme_id in enumerate(programmes.values()):
        events.append(ProgrammeUpdated(programme=ProgrammeSnapshot(
            programme_id=programme_id, name="Reverse mentoring", status="running"),
            occurred_at=at(day)))
    participants = workforce[:28]
    for n, employee_id in enumerate(participants):
        programme_id = programmes["P"] if n < 24 else programmes["Q"]
        role: ParticipantRole = "mentor" if n % 2 == 0 else "mentee"
        events.append(ParticipantEnrolled(participant=ParticipantState(
            participant_id=f"pt-{employee_id}", programme_id=programme_id, role=role,
            employee=people[employee_id]), occurred_at=at(n % 40)))
    events.append(ParticipantWithdrawn(participant_id=f"pt-{participants[5]}",
                                       programme_id=programmes["P"],
                                       employee_id=participants[5], occurred_at=at(50)))
    for p in range(12):
        programme_id = programmes["P"] if p < 11 else programmes["Q"]
        pair_id = f"{prefix}-pair{p}"
        mentor, mentee = participants[2 * p], participants[2 * p + 1]
        events.append(PairFormed(pair_id=pair_id, programme_id=programme_id,
                                 mentor_participant_id=f"pt-{mentor}",
                                 mentee_participant_id=f"pt-{mentee}",
                                 mentor_employee_id=mentor, mentee_employee_id=mentee,
                                 score=0.5 + p / 100, occurred_at=at(45 + p)))
        for s in range(p % 7):
            session_id = f"{pair_id}-s{s}"
            events.append(SessionScheduled(
                session_id=session_id, pair_id=pair_id, programme_id=programme_id,
                starts_at=at(60 + 14 * s), duration_minutes=60, occurred_at=at(50 + 14 * s)))
            if s == 3:
                events.append(SessionCancelled(session_id=session_id, pair_id=pair_id,
                                               programme_id=programme_id, reason="ill",
                                               occurred_at=at(59 + 14 * s)))
            else:
                events.append(SessionLogged(
                    session_id=session_id, pair_id=pair_id, programme_id=programme_id,
                    held_at=at(60 + 14 * s), duration_minutes=45 + s,
                    logged_by_employee_id=mentor, occurred_at=at(61 + 14 * s)))
        if p % 3 == 0:
            events.append(GoalUpdated(goal_id=f"{pair_id}-g", pair_id=pair_id,
                                      programme_id=programme_id, status="active",
                                      progress_percent=40, occurred_at=at(90)))
            events.append(GoalUpdated(goal_id=f"{pair_id}-g", pair_id=pair_id,
                                      programme_id=programme_id, status="achieved",
                                      progress_percent=100, occurred_at=at(120)))
        if p % 4 == 1:
            events.append(PairAtRisk(pair_id=pair_id, programme_id=programme_id,
                                     silent_since=at(70), cadence_days=14, occurred_at=at(100)))
            events.append(PairFitFlagged(pair_id=pair_id, programme_id=programme_id,
                                         poor_fit_reports=2, occurred_at=at(101)))
        if p % 4 == 2:
            events.append(PairEnded(pair_id=pair_id, programme_id=programme_id,
                                    reason="completed" if p % 8 == 2 else "poor_fit",
                                    occurred_at=at(180)))
    events.append(EmployeeErased(employee_id=workforce[79], occurred_at=at(300)))
    # Some events arrive late: the rules are order-tolerant, and so must the replay be.
    late = events[-20:-10]
    del events[-20:-10]
    events[100:100] = late
    # HR's invitations, just before the erasure (the last event): some became
    # participations, the last went to the employee erased.
    events[-1:-1] = [ParticipantInvited(
        invitation_id=f"{prefix}-inv{n}", programme_id=programmes["P"],
        role="mentor" if n % 2 == 0 else "mentee", employee_id=employee_id,
        occurred_at=at(n % 40))
        for n, employee_id in enumerate([*participants[:6], workforce[79]])]
    return events, participants


async def idle(svc: Running, stream: Stream) -> None:
    """Until analytics applied everything, its own milestones included."""
    consumer = svc.app.state.consumer

    async def caught_up() -> bool:
        try:
            info = await stream.js.consumer_info(STREAM, consumer.durable)
        except NotFoundError:  # not created yet
            return False
        backlog = await svc.app.state.relay.measure()
        return bool(info.num_pending == 0 and info.num_ack_pending == 0
                    and backlog.pending == 0)

    for _ in range(3):  # a milestone published just now has a moment to be fetched
        await wait_until(caught_up, timeout=60)
        await asyncio.sleep(0.5)


async def answers_of(svc: Running, admin: str, programme_ids: list[str],
                     survey_id: str) -> dict[str, Any]:
    """Every analytics GET route's answer."""
    p, q = programme_ids
    paths: dict[str, dict[str, Any]] = {}
    for programme_id in programme_ids:
        base = f"/api/v1/programmes/{programme_id}"
        paths |= {f"{base}/summary": {}, f"{base}/health": {}, f"{base}/celebrations": {},
                  f"{base}/health/report": {},
                  f"{base}/retention": {"as_of": AS_OF},
                  f"{base}/retention#12": {"as_of": AS_OF, "window_months": "12"},
                  f"{base}/pulse-surveys": {}}
    survey = f"/api/v1/programmes/{p}/pulse-surveys/{survey_id}"
    paths |= {
        "/api/v1/batch/programme-summaries": {"id": [p, q]},
        "/api/v1/batch/programme-health": {"id": [p, q]},
        "/api/v1/retention": {"as_of": AS_OF},
        survey: {}, f"{survey}/results": {},
        f"{survey}/results#mentor": {"role": "mentor"},
        f"{survey}/results#sales": {"department": "Sales"},
    }
    found: dict[str, Any] = {}
    async with svc.client(admin) as client:
        for key, params in paths.items():
            response = await client.get(key.split("#")[0], params=params)
            assert response.status_code == 200, (key, response.text)
            found[key] = response.json()
    return found


async def rebuilt(svc: Running, admin: str) -> dict[str, Any]:
    async with svc.client(admin) as client:
        response = await client.post("/api/v1/admin/rebuild")
        assert response.status_code == 202, response.text
        assert response.json()["state"] == "running"

        async def done() -> bool:
            status = (await client.get("/api/v1/admin/rebuild")).json()
            return bool(status["state"] != "running")

        await wait_until(done, timeout=120)
        status: dict[str, Any] = (await client.get("/api/v1/admin/rebuild")).json()
    assert status["state"] == "succeeded", status
    return status


async def test_a_rebuild_gives_every_answer_the_live_read_models_gave(
    start_service: StartService, stream: Stream, token: Callable[..., str],
) -> None:
    prefix = uuid.uuid4().hex[:8]
    events, participants = history(prefix)
    programme_ids = [f"{prefix}-P", f"{prefix}-Q"]
    async with start_service("analytics") as svc:
        admin = token("hr_admin")
        envelopes = [await stream.publish(event) for event in events]
        # A redelivery under a new message id (the inbox skips it) and the same fact
        # announced twice under different event ids (counted once).
        envelope = await stream.publish(events[-1])
        await stream.publish(events[-1], event_id=envelope.id, msg_id=str(uuid.uuid4()))
        await stream.publish(events[150])
        await idle(svc, stream)
        # State that no event carries: a closed pulse survey and an imported cohort.
        async with svc.client(admin) as client:
            created = await client.post(
                f"/api/v1/programmes/{programme_ids[0]}/pulse-surveys",
                json={"title": "Pulse", "questions": QUESTIONS})
            assert created.status_code == 201, created.text
            survey_id = created.json()["id"]
            imported = await client.post("/api/v1/participation-history", json=[{
                "employee_id": f"{prefix}-e{n}", "programme_id": "past", "role": "mentee",
                "started_on": "2021-03-01", "ended_on": "2021-12-01"} for n in range(40, 50)])
            assert imported.status_code == 200, imported.text
        survey = f"/api/v1/programmes/{programme_ids[0]}/pulse-surveys/{survey_id}"
        for n, employee_id in enumerate(participants[:24]):
            if n == 5 or employee_id.endswith("e79"):
                continue  # withdrew
            async with svc.client(token("participant", employee_id=employee_id)) as client:
                response = await client.post(f"{survey}/responses",
                                             json=answers(1 + n % 5, n % 11, "weekly"))
                assert response.status_code == 201, response.text
        async with svc.client(admin) as client:
            assert (await client.post(f"{survey}/close")).status_code == 200

        live = await answers_of(svc, admin, programme_ids, survey_id)
        milestones_live = await stream.events("mentoring.milestone.reached", at_least=1)
        assert sum(i["pairs"] for i in live[f"/api/v1/programmes/{programme_ids[0]}"
                                             "/celebrations"]["items"]) > 5
        assert live[f"/api/v1/programmes/{programme_ids[0]}/retention"]["groups"][0][
            "people"] is not None
        # Seven invitations: four to mentor (one of them erased since), three to mentee.
        assert [step["invited"] for step in live[
            f"/api/v1/programmes/{programme_ids[0]}/health/report"]["funnel"]] == [4, 3]

        status = await rebuilt(svc, admin)
        assert status["events_applied"] >= len(events) and status["events_skipped"] == 0
        assert await answers_of(svc, admin, programme_ids, survey_id) == live
        # Twice over: a rebuild of a rebuild changes nothing either.
        await rebuilt(svc, admin)
        assert await answers_of(svc, admin, programme_ids, survey_id) == live
        await asyncio.sleep(1.0)
        assert len(await stream.events("mentoring.milestone.reached")) == len(milestones_live)
        async with svc.app.state.engine.connect() as connection:
            unsent = (await connection.execute(text(
                "SELECT count(*) FROM outbox_event WHERE published_at IS NULL"))).scalar()
        assert unsent == 0

        # Live delivery resumes: a new event counts once, an old one redelivered not at all.
        late_pair = f"{prefix}-pair-late"
        await stream.publish(PairFormed(
            pair_id=late_pair, programme_id=programme_ids[0], mentor_participant_id="m",
            mentee_participant_id="s", mentor_employee_id=participants[0],
            mentee_employee_id=participants[1], score=0.5, occurred_at=at(400)))
        await stream.publish(events[150], event_id=envelopes[150].id, msg_id=str(uuid.uuid4()))
        await idle(svc, stream)
        after = await answers_of(svc, admin, programme_ids, survey_id)
        summary = f"/api/v1/programmes/{programme_ids[0]}/summary"
        assert after[summary]["pairs_formed"] == live[summary]["pairs_formed"] + 1
        assert after[summary]["pairs_active"] == live[summary]["pairs_active"] + 1


async def test_a_second_rebuild_while_one_runs_is_a_conflict(
    start_service: StartService, token: Callable[..., str],
) -> None:
    async with start_service("analytics") as svc:
        rebuilds = svc.app.state.rebuilds
        hold = asyncio.Event()
        real = rebuilds._run

        async def held() -> None:
            await hold.wait()
            await real()

        rebuilds._run = held
        admin = token("hr_admin")
        async with svc.client(admin) as client:
            first = await client.post("/api/v1/admin/rebuild")
            assert first.status_code == 202, first.text
            second = await client.post("/api/v1/admin/rebuild")
            assert second.status_code == 409, second.text
            assert second.headers["content-type"].startswith("application/problem+json")
            assert (await client.get("/api/v1/admin/rebuild")).json()["state"] == "running"
            with pytest.raises(RebuildRunning):
                rebuilds.start()
            hold.set()

            async def done() -> bool:
                return bool((await client.get("/api/v1/admin/rebuild")).json()["state"]
                            == "succeeded")

            await wait_until(done, timeout=60)
        # Live delivery came back after it.
        assert svc.app.state.consumer._task is not None
        assert not svc.app.state.consumer._task.done()


async def test_the_status_is_idle_before_any_rebuild_and_only_hr_admins_start_one(
    start_service: StartService, token: Callable[..., str],
) -> None:
    async with start_service("analytics") as svc:
        async with svc.client(token("hr_admin")) as client:
            status = (await client.get("/api/v1/admin/rebuild")).json()
        assert status["state"] == "idle" and status["events_applied"] == 0
        for role in ("programme_manager", "participant", "hris"):
            async with svc.client(token(role)) as client:
                assert (await client.post("/api/v1/admin/rebuild")).status_code == 403
                assert (await client.get("/api/v1/admin/rebuild")).status_code == 403
        assert not svc.app.state.rebuilds.running


def test_every_analytics_table_is_rebuilt_or_kept() -> None:
    """A new table must say whether events build it (rebuilt) or the API writes it (kept)."""
    tables = {table.name for table in SQLModel.metadata.sorted_tables
              if table.name.startswith("analytics_")}
    assert analytics_models  # the models are registered in the metadata
    rebuilt_names = {model.__tablename__ for model in READ_MODELS}
    kept_names = {model.__tablename__ for model in KEPT}
    assert not rebuilt_names & kept_names
    assert tables == rebuilt_names | kept_names


async def test_a_consumer_stopped_while_paused_stays_stopped() -> None:
    """A rebuild resumes live delivery after it, unless the service stopped meanwhile."""
    bus = Bus("nats://127.0.0.1:1", name="paused", reconnect_wait=1.0, replicas=1)
    consumer = EventConsumer(
        service="analytics", bus=bus, sessionmaker=cast(Any, None),
        handlers=SERVICE.handlers, batch_size=8, max_deliver=2, backoff_seconds=[0.1],
        ack_wait_seconds=5.0, registry=CollectorRegistry())
    consumer.start()
    await consumer.pause()
    assert consumer._task is None
    consumer.resume()
    assert consumer._task is not None and not consumer._task.done()
    await consumer.pause()
    await consumer.stop()  # the service stops while a rebuild runs
    consumer.resume()
    assert consumer._task is None


async def test_the_rebuild_command_replays_the_stream_into_a_database(
    stream: Stream, settings_for: Callable[..., Any],
) -> None:
    """`python -m analytics rebuild` (make rebuild-analytics) fills an empty database."""
    settings = settings_for(AnalyticsSettings, "analytics")
    events, _ = history(uuid.uuid4().hex[:8])
    await ensure_streams(stream.js, 1)  # as the services create them
    for event in events:
        await stream.publish(event)
    done = await run_rebuild(settings)
    assert (done.applied, done.skipped) == (len(events), 0)
    assert done.up_to_sequence == len(events)
    engine = create_engine(settings.database_url)
    try:
        async with engine.connect() as connection:
            pairs = (await connection.execute(text(
                "SELECT count(*) FROM analytics_pair"))).scalar()
            inbox = (await connection.execute(text(
                "SELECT count(*) FROM inbox_event"))).scalar()
            outbox = (await connection.execute(text(
                "SELECT count(*) FROM outbox_event"))).scalar()
    finally:
        await engine.dispose()
    assert (pairs, inbox, outbox) == (12, len(events), 0)
    assert analytics_cli.main(["something"]) == 2
