"""Stored retention reports: computed once per key, served while their inputs are unchanged.

A retention report reads every employee, participation, imported participation and
level observation, so each one computed is kept (`analytics_retention_report`), per
programme (or every programme together), window and as-of day, with the version of
the inputs it was computed from and a digest of the rules that computed it
(`METHOD`). Every transaction that writes those inputs moves the version
(`analytics_retention_inputs`) on as it commits (`repository.retention_inputs_changed`),
so a stored report of the current version and method is exactly what computing it
again would give; a request gets it, and otherwise gets the report computed then,
which is stored for the next one.

The version is read before the inputs: PostgreSQL reads committed data and SQLite
reads outside a transaction, one statement at a time, so every later read sees at
least the writes the version counts, and a report is never labelled with a version
newer than what it read. One labelled older is stale, and recomputed.

The refresher (`lifespan`) keeps the stored reports warm: it looks at the version
every `retention_refresh_seconds`, and once it has held still since the previous look
(or after `MAX_WAITS` looks, if it never does) recomputes the most recently requested
stale reports, `retention_refresh_reports` at most, and drops the reports beyond the
`retention_reports_kept` most recently requested and those nobody requested for
`UNREQUESTED_FOR`. A round runs in one replica at a time, as scheduling's sweep: on
PostgreSQL under a transaction-scoped advisory lock, on SQLite under a process lock.
A round that fails is logged, and the next look tries again.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy
import scipy
from fastapi import FastAPI
from pydantic import ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from analytics import models, repository, retention, service
from analytics.config import AnalyticsSettings
from analytics.models import ProgrammeRetention
from upward_common.db import Sessionmaker, is_sqlite, try_advisory_lock
from upward_common.events import utcnow
from upward_common.periodic import periodically

log = logging.getLogger(__name__)

# The key of the report across every programme (a programme id is never empty).
ALL_PROGRAMMES = ""
# The advisory lock of a refresh round: any constant no other part of the database uses.
LOCK_KEY = 0x414E5254  # "ANRT"
# A served report's `requested_at` moves on at most this often, so a read rarely writes.
REQUESTED_RESOLUTION = timedelta(hours=1)
# A stored report nobody requested for this long is dropped.
UNREQUESTED_FOR = timedelta(days=30)
# Inputs that change at every look would hold the refresh back for good: it runs after
# this many looks that saw a change all the same.
MAX_WAITS = 12

Clock = Callable[[], datetime]


def _method() -> str:
    """A digest of what computes a report (its rules, queries and shapes, and the numerical
    libraries), so another build never serves a report this one would compute otherwise."""
    digest = hashlib.sha256()
    for module in (retention, service, repository, models):
        digest.update(Path(inspect.getfile(module)).read_bytes())
    digest.update(f"numpy {numpy.__version__} scipy {scipy.__version__}".encode())
    return digest.hexdigest()


METHOD = _method()


@dataclass(frozen=True)
class Key:
    """What a stored report is kept by."""

    programme_id: str  # ALL_PROGRAMMES for every programme together
    window_months: int
    as_of: date

    def values(self) -> dict[str, Any]:
        return {"programme_id": self.programme_id, "window_months": self.window_months,
                "as_of": self.as_of}


async def _compute_and_store(session: AsyncSession, key: Key, version: int | None, *,
                             requested_at: datetime, requested: bool) -> ProgrammeRetention:
    report = await service.programme_retention(
        session, programme_id=key.programme_id or None, window_months=key.window_months,
        as_of=key.as_of)
    if version is not None:
        await repository.store_report(session, {
            **key.values(), "inputs_version": version, "method": METHOD,
            "report": report.model_dump_json(), "requested_at": requested_at},
            requested=requested)
    return report


async def retention_report(session: AsyncSession, *, programme_id: str | None,
                           window_months: int, as_of: date,
                           now: datetime) -> ProgrammeRetention:
    """The retention report of a programme (every programme's with None): the stored one
    while its inputs are unchanged, else computed now and stored; the caller commits."""
    key = Key(programme_id or ALL_PROGRAMMES, window_months, as_of)
    version = await repository.retention_inputs_version(session)
    stored = await repository.stored_report(session, **key.values())
    if (stored is not None and version is not None and stored.inputs_version == version
            and stored.method == METHOD):
        try:
            report = ProgrammeRetention.model_validate_json(stored.report)
        except ValidationError as exc:  # a value JSON cannot carry (not a finite number)
            log.warning("a stored retention report does not read back; computing it",
                        extra={"programme_id": programme_id, "error": repr(exc)})
        else:
            if now - stored.requested_at >= REQUESTED_RESOLUTION:
                await repository.touch_report(session, **key.values(), at=now)
            return report
    return await _compute_and_store(session, key, version, requested_at=now, requested=True)


@dataclass(frozen=True)
class RefreshRound:
    """What one round did; `ran` is False when it waited or another replica held the lock."""

    ran: bool
    refreshed: int = 0
    dropped: int = 0


@dataclass
class Refresher:
    """Recomputes stale stored reports in the background, one replica at a time."""

    sessionmaker: Sessionmaker
    postgres: bool
    reports: int = 20
    kept: int = 500
    clock: Clock = utcnow
    _seen: int | None = None
    _waits: int = 0
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def look(self) -> RefreshRound:
        """A round if the inputs version held still since the previous look (or the
        refresh has waited `MAX_WAITS` looks); otherwise wait for the next look."""
        async with self.sessionmaker() as session:
            version = await repository.retention_inputs_version(session)
        changing, self._seen = version != self._seen, version
        if changing and self._waits < MAX_WAITS:
            self._waits += 1
            return RefreshRound(ran=False)
        self._waits = 0
        return await self.refresh()

    async def refresh(self) -> RefreshRound:
        """Drop the reports nobody asks for, and recompute the most recently requested
        ones whose inputs or rules changed; each stored in a transaction of its own."""
        if self._lock.locked():
            return RefreshRound(ran=False)
        async with self._lock, self.sessionmaker() as guard:
            if self.postgres and not await try_advisory_lock(guard, LOCK_KEY):
                return RefreshRound(ran=False)
            now = self.clock()
            version = await repository.retention_inputs_version(guard)
            stored = await repository.stored_reports(guard)
            dropped = {row[:3] for n, row in enumerate(stored)
                       if n >= self.kept or now - row[5] > UNREQUESTED_FOR}
            if dropped:
                async with self.sessionmaker() as session:
                    await repository.drop_reports(session, dropped)
                    await session.commit()
            if version is None:
                return RefreshRound(ran=True, dropped=len(dropped))
            stale = [row for row in stored[:self.reports]
                     if row[:3] not in dropped and (row[3] != version or row[4] != METHOD)]
            refreshed = 0
            for programme_id, window_months, as_of, _, _, requested_at in stale:
                async with self.sessionmaker() as session:
                    if await repository.retention_inputs_version(session) != version:
                        break  # changing again: the next looks wait for it to settle
                    await _compute_and_store(session, Key(programme_id, window_months, as_of),
                                             version, requested_at=requested_at,
                                             requested=False)
                    await session.commit()
                refreshed += 1
            if refreshed or dropped:
                log.info("stored retention reports refreshed",
                         extra={"refreshed": refreshed, "dropped": len(dropped),
                                "inputs_version": version})
            return RefreshRound(ran=True, refreshed=refreshed, dropped=len(dropped))


def refresher_of(app: FastAPI) -> Refresher:
    """The app's refresher (built in its lifespan)."""
    refresher: Refresher = app.state.refresher
    return refresher


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Build the refresher and let it look every `retention_refresh_seconds` while the app
    runs (0: never); it stops with the app."""
    settings: AnalyticsSettings = app.state.settings
    refresher = Refresher(
        sessionmaker=app.state.sessionmaker, postgres=not is_sqlite(settings.database_url),
        reports=settings.retention_refresh_reports, kept=settings.retention_reports_kept)
    app.state.refresher = refresher
    async with periodically(
            refresher.look, interval_seconds=settings.retention_refresh_seconds,
            name="analytics-retention-refresh",
            failure="refreshing the stored retention reports failed; the next look tries again"):
        yield
