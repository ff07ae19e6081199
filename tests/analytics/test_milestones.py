"""Pairs' milestones are announced once each, from the events analytics folds, and the
celebration feed counts them without naming anyone."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support.stack import Running, wait_until
from tests.support.stream import Stream
from upward_common.events import (
    EventData,
    GoalUpdated,
    MilestoneReached,
    PairEnded,
    PairFormed,
    SessionLogged,
)

StartService = Callable[..., AbstractAsyncContextManager[Running]]
T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)


def at(days: float) -> datetime:
    return T0 + timedelta(days=days)


def logged(session_id: str, pair_id: str, programme_id: str, day: float) -> SessionLogged:
    return SessionLogged(session_id=session_id, pair_id=pair_id, programme_id=programme_id,
                         held_at=at(day), duration_minutes=45, logged_by_employee_id="emp-m",
                         occurred_at=at(day))


async def feed(svc: Running, token: str, programme_id: str) -> list[dict[str, Any]]:
    async with svc.client(token) as client:
        response = await client.get(f"/api/v1/programmes/{programme_id}/celebrations")
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_each_milestone_of_a_pair_is_announced_once(
    start_service: StartService, stream: Stream, token: Callable[..., str],
) -> None:
    programme_id, pair, other = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    async with start_service("analytics") as svc:
        admin = token("hr_admin")
        events: list[EventData] = [
            PairFormed(pair_id=pair, programme_id=programme_id, mentor_participant_id="m",
                       mentee_participant_id="s", mentor_employee_id="emp-m",
                       mentee_employee_id="emp-s", score=0.5, occurred_at=at(0)),
            # Out of order: the fifth session held arrives before the first.
            *[logged(f"s{n}-{pair}", pair, programme_id, day=n) for n in (5, 2, 3, 4, 1)],
            # A sixth and a repeated session announce nothing new.
            logged(f"s6-{pair}", pair, programme_id, day=6),
            logged(f"s1-{pair}", pair, programme_id, day=1),
            GoalUpdated(goal_id="g1", pair_id=pair, programme_id=programme_id, status="open",
                        progress_percent=50, occurred_at=at(7)),
            GoalUpdated(goal_id="g1", pair_id=pair, programme_id=programme_id,
                        status="achieved", progress_percent=100, occurred_at=at(8)),
            GoalUpdated(goal_id="g2", pair_id=pair, programme_id=programme_id,
                        status="achieved", progress_percent=100, occurred_at=at(9)),
            PairEnded(pair_id=pair, programme_id=programme_id, reason="completed",
                      occurred_at=at(10)),
            # Another pair of the programme: held one session, then ended for a poor fit.
            logged(f"s1-{other}", other, programme_id, day=1),
            PairEnded(pair_id=other, programme_id=programme_id, reason="poor_fit",
                      occurred_at=at(3)),
        ]
        for event in events:
            await stream.publish(event)
        milestones = await stream.events("mentoring.milestone.reached", at_least=5)

        async def fed() -> bool:
            return sum(item["pairs"] for item in await feed(svc, admin, programme_id)) == 5

        await wait_until(fed)
        # Nothing more is on its way: apply a repeat of everything and count again.
        for event in events:
            await stream.publish(event, msg_id=str(uuid.uuid4()))
        items = await feed(svc, admin, programme_id)
        again = await stream.events("mentoring.milestone.reached", at_least=6, within=3)

    reached = [MilestoneReached.model_validate(envelope.data) for envelope in milestones]
    assert len(again) == len(reached) == 5
    assert Counter((m.pair_id, m.milestone) for m in reached) == {
        (pair, "first_session_held"): 1, (pair, "five_sessions_held"): 1,
        (pair, "goal_achieved"): 1, (pair, "programme_completed"): 1,
        (other, "first_session_held"): 1}
    when = {(m.pair_id, m.milestone): m.occurred_at for m in reached}
    # The time the milestone was reached, from the events (the fifth session held).
    assert when[(pair, "five_sessions_held")] == at(5)
    assert when[(pair, "first_session_held")] in {at(1), at(5)}
    assert when[(pair, "goal_achieved")] == at(8)
    assert when[(pair, "programme_completed")] == at(10)
    # `value`: how many of the programme's pairs have reached it so far.
    assert sorted(m.value for m in reached if m.milestone == "first_session_held") == [1, 2]
    assert all(envelope.source.endswith("analytics") for envelope in milestones)
    # The feed names nobody: no consent to being named travels to analytics.
    assert all(item["named"] == [] for item in items)
    assert {(item["milestone"], item["reached_on"]): item["pairs"] for item in items}[
        ("programme_completed", "2026-11-12")] == 1


async def test_only_admins_pull_the_celebration_feed(
    start_service: StartService, token: Callable[..., str],
) -> None:
    path = f"/api/v1/programmes/{uuid.uuid4()}/celebrations"
    async with start_service("analytics") as svc:
        for caller in [token("participant", employee_id="emp-1"), token("hris")]:
            async with svc.client(caller) as client:
                assert (await client.get(path)).status_code == 403
        async with svc.client() as client:
            assert (await client.get(path)).status_code == 401
        async with svc.client(token("programme_manager")) as client:
            response = await client.get(path)
        assert response.status_code == 200
        assert response.json() == {"items": []}
