"""Time-driven work: pairs gone silent, and goals past their due date.

A pair with no session held for twice its programme's cadence is at risk
(`pair.atrisk`); silent longer than its programme allows (`close_after_days`,
per programme in `close_after_days_by_programme`), closing it is proposed to HR
(`pair.closureproposed`). Each is announced once per silence: a session held
later starts a new silence. Active goals past their due date become missed.

The sweep runs in one place at a time across replicas: on PostgreSQL under a
transaction-scoped advisory lock (`pg_try_advisory_xact_lock`, released by the
commit, so a crashed replica never keeps it); on SQLite, whose file one process
owns, under the sweeper's own process lock. A replica that finds the lock taken
skips that round. The clock is injected, so tests sweep at exact instants.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from fastapi import FastAPI
from sqlmodel.ext.asyncio.session import AsyncSession

from scheduling import events, goals, repository
from upward_common.db import Sessionmaker, is_sqlite, try_advisory_lock
from upward_common.events import utcnow
from upward_common.periodic import periodically

log = logging.getLogger(__name__)

# The advisory lock's key: any constant no other part of the database uses ("SCHD").
LOCK_KEY = 0x53434844
CADENCE_DAYS = {"weekly": 7, "biweekly": 14, "monthly": 30}
DEFAULT_CADENCE = "biweekly"  # a programme scheduling has not seen yet: enrolment's default

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class SweepResult:
    """What one round did; `ran` is False when another replica held the lock."""

    ran: bool
    at_risk: int = 0
    closure_proposed: int = 0
    goals_missed: int = 0


@dataclass
class Sweeper:
    """Runs the sweep, alone across replicas, at the clock's time."""

    sessionmaker: Sessionmaker
    postgres: bool
    close_after_days: int = 90
    close_after_days_by_programme: Mapping[str, int] = field(default_factory=dict)
    clock: Clock = utcnow
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def sweep(self, now: datetime | None = None) -> SweepResult:
        """One round at `now` (default: the clock); it commits what it found."""
        now = now or self.clock()
        if self._lock.locked():
            return SweepResult(ran=False)
        async with self._lock, self.sessionmaker() as session:
            if self.postgres and not await try_advisory_lock(session, LOCK_KEY):
                await session.rollback()
                return SweepResult(ran=False)
            result = await self._sweep(session, now)
            await session.commit()
            return result

    async def _sweep(self, session: AsyncSession, now: datetime) -> SweepResult:
        at_risk = proposed = 0
        cadences: dict[str, int] = {}  # per programme, read once a round
        for pair, last_held in await repository.active_pairs_with_last_held(session):
            assert pair.formed_at is not None
            silent_since = max(last_held or pair.formed_at, pair.formed_at)
            silence = now - silent_since
            if pair.programme_id not in cadences:
                programme = await repository.get_programme(session, pair.programme_id)
                cadences[pair.programme_id] = CADENCE_DAYS.get(
                    programme.session_cadence if programme else DEFAULT_CADENCE, 14)
            cadence = cadences[pair.programme_id]
            if silence >= timedelta(days=2 * cadence) and pair.at_risk_silent_since != silent_since:
                pair.at_risk_silent_since = silent_since
                await repository.add(session, pair)
                events.pair_at_risk(session, pair, silent_since=silent_since,
                                    cadence_days=cadence, at=now)
                at_risk += 1
            limit = self.close_after_days_by_programme.get(pair.programme_id,
                                                           self.close_after_days)
            if silence >= timedelta(days=limit) and pair.closure_silent_since != silent_since:
                pair.closure_silent_since = silent_since
                await repository.add(session, pair)
                events.pair_closure_proposed(session, pair, silent_since=silent_since,
                                             silent_days=silence.days, at=now)
                proposed += 1
        missed = await goals.miss_overdue(session, today=now.date(), now=now)
        return SweepResult(ran=True, at_risk=at_risk, closure_proposed=proposed,
                           goals_missed=missed)


def sweeper_of(app: FastAPI) -> Sweeper:
    """The app's sweeper (built in its lifespan)."""
    sweeper: Sweeper = app.state.sweeper
    return sweeper


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Build the sweeper and run it every `sweep_interval_seconds` while the app runs."""
    settings = app.state.settings
    sweeper = Sweeper(
        sessionmaker=app.state.sessionmaker, postgres=not is_sqlite(settings.database_url),
        close_after_days=settings.close_after_days,
        close_after_days_by_programme=dict(settings.close_after_days_by_programme),
    )
    app.state.sweeper = sweeper
    async with periodically(sweeper.sweep, interval_seconds=float(settings.sweep_interval_seconds),
                            name="scheduling-inactivity-sweep",
                            failure="the inactivity sweep failed; it runs again next round"):
        yield
