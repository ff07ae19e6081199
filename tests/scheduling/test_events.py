"""Scheduling reacts to matching's pairs: it plans, cancels, and forgets as events say."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

from tests.support.stack import Running, wait_until
from tests.support.stream import Stream
from upward_common.events import (
    EmployeeErased,
    PairEnded,
    PairFormed,
    ProgrammeSnapshot,
    ProgrammeUpdated,
)

StartService = Callable[..., AbstractAsyncContextManager[Running]]

FORMED_AT = datetime(2026, 11, 18, 14, 30, tzinfo=UTC)  # a Wednesday


def pair_formed(pair_id: str, programme_id: str, *, mentor: str = "emp-mentor",
                mentee: str = "emp-mentee", at: datetime = FORMED_AT) -> PairFormed:
    return PairFormed(
        pair_id=pair_id, programme_id=programme_id,
        mentor_participant_id=f"part-{mentor}", mentee_participant_id=f"part-{mentee}",
        mentor_employee_id=mentor, mentee_employee_id=mentee, score=0.8, occurred_at=at,
    )


async def sessions_of(svc: Running, token: str, pair_id: str) -> list[dict[str, Any]]:
    async with svc.client(token) as client:
        response = await client.get(f"/api/v1/pairs/{pair_id}/sessions")
    return response.json() if response.status_code == 200 else []


async def test_a_formed_pair_gets_a_proposed_plan_at_the_programmes_cadence_announced(
    start_service: StartService, stream: Stream, token: Callable[..., str],
) -> None:
    programme_id, pair_id = str(uuid.uuid4()), str(uuid.uuid4())
    async with start_service("scheduling") as svc:
        await stream.publish(ProgrammeUpdated(
            programme=ProgrammeSnapshot(programme_id=programme_id, name="Digital 2026",
                                        status="open", session_minutes=45,
                                        session_cadence="biweekly", duration_weeks=24),
            occurred_at=FORMED_AT - timedelta(days=1)))
        await stream.publish(pair_formed(pair_id, programme_id))
        mentor = token("participant", employee_id="emp-mentor")
        sessions = await wait_until(lambda: sessions_of(svc, mentor, pair_id))

        # 24 weeks every other week; nobody's availability known yet: office hours in UTC,
        # the earliest slot a day after the pair formed (Thursday 14:30 UTC).
        assert len(sessions) == 12
        assert {s["status"] for s in sessions} == {"planned"}
        assert {s["programme_id"] for s in sessions} == {programme_id}
        starts = [datetime.fromisoformat(s["starts_at"]) for s in sessions]
        assert starts[0] == datetime(2026, 11, 19, 14, 30, tzinfo=UTC)
        assert all(b - a == timedelta(weeks=2) for a, b in pairwise(starts))
        assert {s["duration_minutes"] for s in sessions} == {45}

        async with svc.client(mentor) as client:
            plan = (await client.get(f"/api/v1/pairs/{pair_id}/plan")).json()
        assert plan["status"] == "proposed" and plan["cadence"] == "biweekly"
        assert [o["session_id"] for o in plan["occurrences"]] == [s["id"] for s in sessions]

        announced = await stream.events("mentoring.session.scheduled", at_least=12)
        assert sorted(e.data["session_id"] for e in announced) == sorted(s["id"] for s in sessions)
        assert announced[0].type == "session.scheduled.v1"
        assert {e.data["pair_id"] for e in announced} == {pair_id}
        assert {e.data["duration_minutes"] for e in announced} == {45}
        # Planned from the event's time: a replay announces the same.
        assert {datetime.fromisoformat(e.data["occurred_at"]) for e in announced} == {FORMED_AT}


async def test_without_programme_rules_the_first_session_lasts_an_hour(
    start_service: StartService, stream: Stream, token: Callable[..., str],
) -> None:
    pair_id = str(uuid.uuid4())
    async with start_service("scheduling") as svc:
        await stream.publish(pair_formed(pair_id, str(uuid.uuid4())))
        mentee = token("participant", employee_id="emp-mentee")
        sessions = await wait_until(lambda: sessions_of(svc, mentee, pair_id))
        assert sessions[0]["duration_minutes"] == 60


async def test_a_second_delivery_of_pair_formed_plans_nothing_more(
    start_service: StartService, stream: Stream, token: Callable[..., str],
) -> None:
    pair_id = str(uuid.uuid4())
    formed = pair_formed(pair_id, str(uuid.uuid4()))
    async with start_service("scheduling") as svc:
        first = await stream.publish(formed)
        # The same event again under another message id: JetStream delivers it twice.
        await stream.publish(formed, event_id=first.id, msg_id=str(uuid.uuid4()))
        # And the same pair announced by a different event.
        await stream.publish(formed)
        marker = str(uuid.uuid4())
        await stream.publish(pair_formed(marker, str(uuid.uuid4())))
        admin = token("hr_admin")
        await wait_until(lambda: sessions_of(svc, admin, marker))

        assert len(await sessions_of(svc, admin, pair_id)) == 12
        assert len(await stream.events("mentoring.session.scheduled", at_least=24)) == 24


async def test_an_ended_pair_has_its_planned_sessions_cancelled(
    start_service: StartService, stream: Stream, token: Callable[..., str],
) -> None:
    pair_id, programme_id = str(uuid.uuid4()), str(uuid.uuid4())
    async with start_service("scheduling") as svc:
        await stream.publish(pair_formed(pair_id, programme_id))
        admin = token("hr_admin")
        await wait_until(lambda: sessions_of(svc, admin, pair_id))
        await stream.publish(PairEnded(pair_id=pair_id, programme_id=programme_id,
                                       reason="poor fit",
                                       occurred_at=FORMED_AT + timedelta(weeks=5)))

        async def cancelled() -> bool:
            statuses = [s["status"] for s in await sessions_of(svc, admin, pair_id)]
            return statuses == ["planned"] * 3 + ["cancelled"] * 9

        # Every occurrence from the end on is cancelled; the ones before it stay.
        await wait_until(cancelled)
        # Analytics learns of it too: the cancellations are announced.
        announced = await stream.events("mentoring.session.cancelled", at_least=9)
        assert len(announced) == 9
        assert {e.data["pair_id"] for e in announced} == {pair_id}
        assert {e.data["reason"] for e in announced} == {"pair ended: poor fit"}


async def test_a_pair_ended_before_its_formation_arrives_is_never_planned(
    start_service: StartService, stream: Stream, token: Callable[..., str],
) -> None:
    pair_id, programme_id = str(uuid.uuid4()), str(uuid.uuid4())
    async with start_service("scheduling") as svc:
        await stream.publish(PairEnded(pair_id=pair_id, programme_id=programme_id,
                                       reason="withdrawal", occurred_at=FORMED_AT))
        await stream.publish(pair_formed(pair_id, programme_id))
        marker = str(uuid.uuid4())
        await stream.publish(pair_formed(marker, programme_id))
        admin = token("hr_admin")
        await wait_until(lambda: sessions_of(svc, admin, marker))

        assert await sessions_of(svc, admin, pair_id) == []


async def test_an_erased_employee_loses_access_and_their_future_sessions(
    start_service: StartService, stream: Stream, token: Callable[..., str],
) -> None:
    pair_id = str(uuid.uuid4())
    async with start_service("scheduling") as svc:
        await stream.publish(pair_formed(pair_id, str(uuid.uuid4())))
        mentor = token("participant", employee_id="emp-mentor")
        await wait_until(lambda: sessions_of(svc, mentor, pair_id))
        await stream.publish(EmployeeErased(employee_id="emp-mentor",
                                            occurred_at=FORMED_AT + timedelta(hours=1)))

        async def forgotten() -> bool:
            async with svc.client(mentor) as client:
                response = await client.get(f"/api/v1/pairs/{pair_id}/sessions")
            return response.status_code == 403

        await wait_until(forgotten)
        sessions = await sessions_of(svc, token("hr_admin"), pair_id)
        assert {s["status"] for s in sessions} == {"cancelled"}
