"""The time-driven sweep: silent pairs at risk, closing proposed, goals missed; one at a time."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from scheduling.inactivity import LOCK_KEY, Sweeper
from tests.scheduling.test_api import FORMED_AT, HELD_AT, MENTEE, MENTOR, StartService, planned_pair
from tests.support.stream import Stream
from upward_common.db import is_sqlite

WEEK = timedelta(days=7)  # the test programme's cadence is weekly


async def test_a_silent_pair_is_flagged_at_risk_once_then_closing_it_is_proposed(
    start_service: StartService, stream: Stream, token: Callable[..., str],
) -> None:
    async with planned_pair(start_service, stream, token, sweep_interval_seconds=0,
                            close_after_days=30) as p:
        sweeper: Sweeper = p.svc.app.state.sweeper
        just_before = await sweeper.sweep(FORMED_AT + 2 * WEEK - timedelta(seconds=1))
        assert just_before.ran and just_before.at_risk == 0
        assert (await sweeper.sweep(FORMED_AT + 2 * WEEK)).at_risk == 1
        # Announced once per silence.
        assert (await sweeper.sweep(FORMED_AT + 3 * WEEK)).at_risk == 0
        flagged = await stream.events("mentoring.pair.atrisk")
        assert len(flagged) == 1
        assert flagged[0].data["pair_id"] == p.pair_id
        assert flagged[0].data["cadence_days"] == 7
        assert datetime.fromisoformat(flagged[0].data["silent_since"]) == FORMED_AT
        assert datetime.fromisoformat(flagged[0].data["occurred_at"]) == FORMED_AT + 2 * WEEK

        closing = await sweeper.sweep(FORMED_AT + timedelta(days=30))
        assert closing.closure_proposed == 1
        (proposed,) = await stream.events("mentoring.pair.closureproposed")
        assert proposed.data["silent_days"] == 30

        # A session held starts a new silence, flagged in its turn.
        logged = await p.log(MENTEE, {"held_at": HELD_AT, "duration_minutes": 30})
        assert logged.status_code == 200, logged.text
        held = datetime.fromisoformat(HELD_AT)
        assert (await sweeper.sweep(held + 2 * WEEK - timedelta(minutes=1))).at_risk == 0
        assert (await sweeper.sweep(held + 2 * WEEK)).at_risk == 1
        assert len(await stream.events("mentoring.pair.atrisk")) == 2


async def test_a_goal_past_its_due_date_is_missed_by_the_sweep(
    start_service: StartService, stream: Stream, token: Callable[..., str],
) -> None:
    async with planned_pair(start_service, stream, token, sweep_interval_seconds=0) as p:
        due = datetime.now(UTC).date() + timedelta(days=10)
        created = await p.call(MENTOR, "POST", f"/api/v1/pairs/{p.pair_id}/goals", json={
            "text": "Post weekly on LinkedIn", "measure": "posts", "unit": "posts a month",
            "baseline": 0, "target": 4, "due_on": due.isoformat()})
        assert created.status_code == 201, created.text
        sweeper: Sweeper = p.svc.app.state.sweeper
        on_the_day = datetime.combine(due, datetime.max.time(), tzinfo=UTC)
        assert (await sweeper.sweep(on_the_day)).goals_missed == 0
        assert (await sweeper.sweep(on_the_day + timedelta(microseconds=1))).goals_missed == 1
        assert (await sweeper.sweep(on_the_day + WEEK)).goals_missed == 0
        (goal,) = (await p.call(MENTEE, "GET", f"/api/v1/pairs/{p.pair_id}/goals")).json()
        assert goal["status"] == "missed"
        updates = await stream.events("mentoring.goal.updated")
        assert [e.data["status"] for e in updates] == ["active", "missed"]


async def test_one_sweep_runs_at_a_time(
    start_service: StartService, stream: Stream, token: Callable[..., str],
) -> None:
    async with planned_pair(start_service, stream, token, sweep_interval_seconds=0) as p:
        sweeper: Sweeper = p.svc.app.state.sweeper
        at = FORMED_AT + 2 * WEEK
        if is_sqlite(p.svc.app.state.settings.database_url):
            # One process owns the file: the sweeper's own lock keeps a second round out.
            first, second = await asyncio.gather(sweeper.sweep(at), sweeper.sweep(at))
            assert sorted([first.ran, second.ran]) == [False, True]
            assert first.at_risk + second.at_risk == 1
            return
        # PostgreSQL: another replica holds the advisory lock, so this one skips the round.
        async with p.svc.app.state.sessionmaker() as other:
            connection = await other.connection()
            taken = await connection.execute(text("SELECT pg_try_advisory_xact_lock(:k)"),
                                             {"k": LOCK_KEY})
            assert taken.scalar() is True
            assert (await sweeper.sweep(at)).ran is False
            await other.rollback()
        assert (await sweeper.sweep(at)).at_risk == 1


@pytest.mark.parametrize("interval", [0.2])
async def test_the_app_runs_the_sweep_by_itself(
    start_service: StartService, stream: Stream, token: Callable[..., str], interval: float,
) -> None:
    # The pair formed weeks before the clock's now: the first round flags it.
    async with planned_pair(start_service, stream, token, sweep_interval_seconds=interval):
        for _ in range(100):
            if await stream.events("mentoring.pair.atrisk"):
                break
            await asyncio.sleep(0.1)
        assert len(await stream.events("mentoring.pair.atrisk")) == 1
