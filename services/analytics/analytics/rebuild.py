"""Rebuild every read model by replaying the stream from its first message.

One rebuild is one database transaction: the read-model tables and the inbox are
emptied, every message of `MENTORING` that analytics listens to, from sequence 1 up
to the stream's last sequence when the rebuild began, is applied through the same
handlers and inbox as live delivery (`upward_common.consumer.apply_deliveries`), and
the whole commits at once. Readers see the old figures until the commit and the
rebuilt ones after it, never a half-built state; a failure rolls everything back.

- **No interleaving.** This process's live consumer is paused (its batch in hand is
  applied first) for the rebuild and resumed after it. On PostgreSQL the transaction
  also takes `EXCLUSIVE` locks on the inbox and the read-model tables, so another
  replica's consumer waits until the commit (readers are not held up) and then finds
  the replayed event ids in the inbox.
- **No double counting.** The replay writes an inbox row per event it applies, so a
  message the durable consumer had not yet delivered or acknowledged, arriving after
  the rebuild, is a duplicate; messages published after the rebuild began are past
  its last sequence and left to live delivery.
- **Nothing announced twice.** `milestone.reached` is not emitted while replaying
  (`REPLAYING` in the session's info): the milestones announced live are in the
  stream and are replayed like any event.
- **Skipped events.** A message that cannot be parsed, or whose handler fails alone
  (in a savepoint, after its batch failed), is skipped and counted: live delivery
  dead-letters such a message, so its effect is not in the live figures either.

Only tables built from events are rebuilt; the pulse surveys, their answers and the
imported past participations are written through the API, not by events, and are kept.
The stored retention reports are kept too, and go stale: the rebuild's commit moves
their inputs version on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import nats.errors
from fastapi import FastAPI
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from pydantic import BaseModel
from pydantic import Field as Described
from sqlalchemy import Table, delete, text
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from analytics.events import REPLAYING
from analytics.models import (
    Employee,
    EmployeeLevel,
    Goal,
    GroupSession,
    Invitation,
    MentoringSession,
    Milestone,
    Pair,
    PairMilestone,
    Participant,
    ParticipationHistory,
    Programme,
    PulseRespondent,
    PulseResponse,
    PulseSurvey,
    RetentionInputs,
    RetentionReport,
    SessionLog,
    Touchpoint,
    WorkforceBaseline,
)
from analytics.repository import retention_inputs_changed
from upward_common.bus import Bus
from upward_common.consumer import INBOX, Delivery, EventConsumer, apply_deliveries
from upward_common.db import Sessionmaker
from upward_common.events import STREAM, utcnow

log = logging.getLogger(__name__)

# Every table built from events alone: emptied and rebuilt.
READ_MODELS: tuple[type[SQLModel], ...] = (
    Programme, Employee, EmployeeLevel, Participant, Pair, MentoringSession, SessionLog,
    Goal, Touchpoint, GroupSession, Milestone, PairMilestone, Invitation,
)
# Written through the API, not from events: kept as they are. So are the stored retention
# reports and their inputs version, which the rebuild's commit moves on: the reports are
# stale from then on, recomputed by the refresher or the next request.
KEPT: tuple[type[SQLModel], ...] = (PulseSurvey, PulseRespondent, PulseResponse,
                                    ParticipationHistory, WorkforceBaseline, RetentionInputs,
                                    RetentionReport)
FETCH_BATCH = 500
FETCH_TIMEOUT_SECONDS = 2.0


def _table(model: type[SQLModel]) -> Table:
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table


class RebuildStatus(BaseModel):
    """The latest rebuild of this process (`idle` before any)."""

    state: Literal["idle", "running", "succeeded", "failed"] = "idle"
    started_at: datetime | None = None
    finished_at: datetime | None = None
    up_to_sequence: int | None = Described(
        default=None, description="The stream's last sequence when the rebuild began; "
                                  "later messages are left to live delivery.")
    events_applied: int = 0
    events_skipped: int = Described(
        default=0, description="Messages that could not be parsed or applied (live "
                               "delivery dead-letters those).")
    error: str | None = None


class RebuildRunning(Exception):
    """A rebuild is already running in this process."""


@dataclass
class Replay:
    up_to_sequence: int = 0
    applied: int = 0
    skipped: int = 0


async def replay(session: AsyncSession, js: JetStreamContext, consumer: EventConsumer,
                 progress: Replay | None = None) -> Replay:
    """Empty the read models and the inbox in `session` and replay the stream into them;
    the caller commits (or rolls back)."""
    progress = progress or Replay()
    session.info[REPLAYING] = True
    connection = await session.connection()
    tables = [_table(model) for model in READ_MODELS]
    if connection.dialect.name == "postgresql":
        quote = connection.dialect.identifier_preparer.quote
        names = ", ".join(quote(table.name) for table in [INBOX, *tables])
        await connection.execute(text(f"LOCK TABLE {names} IN EXCLUSIVE MODE"))
    progress.up_to_sequence = (await js.stream_info(STREAM)).state.last_seq
    for table in [INBOX, *tables]:
        await connection.execute(delete(table))
    # Emptied, whatever the replay brings back: every stored retention report is stale.
    retention_inputs_changed(session)
    if progress.up_to_sequence == 0:
        return progress
    subscription = await js.pull_subscribe(
        "", stream=STREAM, config=ConsumerConfig(
            filter_subjects=consumer.subjects, deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.NONE, inactive_threshold=300.0, mem_storage=True,
            max_waiting=1))
    try:
        while True:
            try:
                messages = await subscription.fetch(FETCH_BATCH, timeout=FETCH_TIMEOUT_SECONDS)
            except (nats.errors.TimeoutError, TimeoutError):
                # Slow, or nothing left of analytics' subjects up to the last sequence
                # (the stream's last messages may be of other subjects).
                if (await subscription.consumer_info()).num_pending == 0:
                    break
                continue
            batch = [m for m in messages if m.metadata.sequence.stream <= progress.up_to_sequence]
            await _apply(session, consumer, batch, progress)
            if len(batch) < len(messages) or (
                    messages[-1].metadata.sequence.stream >= progress.up_to_sequence):
                break
    finally:
        try:
            await subscription.unsubscribe()
        except Exception as exc:  # noqa: BLE001 - the ephemeral consumer expires anyway
            log.debug("unsubscribe failed", extra={"error": str(exc)})
    return progress


async def _apply(session: AsyncSession, consumer: EventConsumer, messages: list[Msg],
                 progress: Replay) -> None:
    deliveries: list[Delivery] = []
    for message in messages:
        try:
            deliveries.append(consumer.delivery(message))
        except Exception as exc:  # noqa: BLE001 - unparseable: dead-lettered live too
            log.warning("replay skips an unparseable message",
                        extra={"sequence": message.metadata.sequence.stream,
                               "error": repr(exc)})
            progress.skipped += 1
    if not deliveries:
        return
    try:
        async with session.begin_nested():
            outcomes = await apply_deliveries(session, deliveries)
    except Exception as exc:  # noqa: BLE001 - find the bad one, alone
        log.warning("replay batch failed; applying its events one by one",
                    extra={"events": len(deliveries), "error": repr(exc)})
        outcomes = []
        for delivery in deliveries:
            try:
                async with session.begin_nested():
                    outcomes += await apply_deliveries(session, [delivery])
            except Exception as one:  # noqa: BLE001 - dead-lettered live too
                log.warning("replay skips an event whose handler fails",
                            extra={"event_id": delivery.event_id, "error": repr(one)})
                progress.skipped += 1
    progress.applied += outcomes.count("applied")
    # Rows written so far live in the database (the transaction), not in memory.
    session.expunge_all()


async def rebuild(sessionmaker: Sessionmaker, js: JetStreamContext,
                  consumer: EventConsumer, progress: Replay | None = None) -> Replay:
    """One whole rebuild in one transaction (the caller pauses live delivery)."""
    async with sessionmaker() as session:
        done = await replay(session, js, consumer, progress)
        await session.commit()
    return done


class Rebuilds:
    """This process's rebuilds: one at a time, run in the background, status kept."""

    def __init__(self, *, sessionmaker: Sessionmaker, bus: Bus,
                 consumer: EventConsumer) -> None:
        self.sessionmaker = sessionmaker
        self.bus = bus
        self.consumer = consumer
        self.status = RebuildStatus()
        self.task: asyncio.Task[None] | None = None
        self._progress = Replay()

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    def current(self) -> RebuildStatus:
        if self.running:
            return self.status.model_copy(update={
                "events_applied": self._progress.applied,
                "events_skipped": self._progress.skipped,
                "up_to_sequence": self._progress.up_to_sequence or None})
        return self.status

    def start(self) -> RebuildStatus:
        """Begin a rebuild; RebuildRunning while one runs."""
        if self.running:
            raise RebuildRunning
        self._progress = Replay()
        self.status = RebuildStatus(state="running", started_at=utcnow())
        self.task = asyncio.create_task(self._run(), name="analytics-rebuild")
        return self.current()

    async def _run(self) -> None:
        progress = self._progress
        await self.consumer.pause()
        try:
            await self.bus.ready.wait()
            assert self.bus.js is not None
            await rebuild(self.sessionmaker, self.bus.js, self.consumer, progress)
        except asyncio.CancelledError:
            # The service is stopping (its consumer with it): rolled back, not resumed.
            self.status = self.status.model_copy(update={
                "state": "failed", "finished_at": utcnow(), "error": "cancelled"})
            raise
        except Exception as exc:
            log.exception("rebuild failed")
            self.status = self.status.model_copy(update={
                "state": "failed", "finished_at": utcnow(), "error": repr(exc)[:500],
                "events_applied": 0, "events_skipped": progress.skipped,
                "up_to_sequence": progress.up_to_sequence or None})
        else:
            log.info("rebuilt", extra={"events": progress.applied,
                                       "skipped": progress.skipped})
            self.status = self.status.model_copy(update={
                "state": "succeeded", "finished_at": utcnow(),
                "events_applied": progress.applied, "events_skipped": progress.skipped,
                "up_to_sequence": progress.up_to_sequence})
        self.consumer.resume()

    async def stop(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task  # cancelled: rolled back


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The service's rebuilds on `app.state.rebuilds`; a running one is cancelled
    (rolled back) at shutdown."""
    rebuilds = Rebuilds(sessionmaker=app.state.sessionmaker, bus=app.state.bus,
                        consumer=app.state.consumer)
    app.state.rebuilds = rebuilds
    try:
        yield
    finally:
        await rebuilds.stop()
