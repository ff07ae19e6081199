"""Scheduling reacts to matching's pairs: it plans, cancels, and forgets as events say."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
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


async def test_a_formed_pair_gets_its_first_session_planned_and_announced(
    start_service: StartService, stream: Stream, token: Callable[..., str],
) -> None:
    programme_id, pair_id = str(uuid.uuid4()), str(uuid.uuid4())
    async with start_service("scheduling") as svc:
        await stream.publish(ProgrammeUpdated(
            programme=ProgrammeSnapshot(programme_id=programme_id, name="Digital 2026",
                                        status="open", session_minutes=45),
            occurred_at=FORMED_AT - timedelta(days=1)))
        await stream.publish(pair_formed(pair_id, programme_id))
        mentor = token("participant", employee_id="emp-mentor")
        sessions = await wait_until(lambda: sessions_of(svc, mentor, pair_id))

        assert len(sessions) == 1
        planned = sessions[0]
        assert planned["status"] == "planned"
        assert planned["programme_id"] == programme_id
        # Next week's same weekday (Wednesday) at 09:00 UTC, at the programme's length.
        assert datetime.fromisoformat(planned["starts_at"]) == datetime(2026, 11, 25, 9, 0,
                                                                        tzinfo=UTC)
        assert planned["duration_minutes"] == 45

        announced = await stream.events("mentoring.session.scheduled")
        assert [e.data["session_id"] for e in announced] == [planned["id"]]
        assert announced[0].type == "session.scheduled.v1"
        assert announced[0].data["pair_id"] == pair_id
        assert announced[0].data["duration_minutes"] == 45


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

        assert len(await sessions_of(svc, admin, pair_id)) == 1
        assert len(await stream.events("mentoring.session.scheduled", at_least=2)) == 2


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
                                       occurred_at=FORMED_AT + timedelta(days=2)))

        async def cancelled() -> bool:
            return [s["status"] for s in await sessions_of(svc, admin, pair_id)] == ["cancelled"]

        await wait_until(cancelled)
        # Analytics learns of it too: the cancellation is announced.
        [announced] = await stream.events("mentoring.session.cancelled")
        assert announced.data["pair_id"] == pair_id
        assert announced.data["reason"] == "pair ended: poor fit"


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
                                            occurred_at=FORMED_AT + timedelta(days=1)))

        async def forgotten() -> bool:
            async with svc.client(mentor) as client:
                response = await client.get(f"/api/v1/pairs/{pair_id}/sessions")
            return response.status_code == 403

        await wait_until(forgotten)
        sessions = await sessions_of(svc, token("hr_admin"), pair_id)
        assert [s["status"] for s in sessions] == ["cancelled"]
