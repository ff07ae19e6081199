"""Transactional outbox: events commit with the change, a relay publishes them.

`emit` adds the event row to the caller's session, so it commits (or rolls
back) with the change; an event over `MAX_EVENT_BYTES` is refused (413) before
anything is written. The relay publishes unsent rows in order with
`Nats-Msg-Id` = event id, so JetStream drops a re-publish after a crash, and
marks them sent. It wakes on every commit that wrote an event and polls
slowly for commits made by other replicas.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from nats.js import JetStreamContext
from nats.js.errors import NoStreamResponseError
from prometheus_client import CollectorRegistry, Counter, Gauge
from sqlalchemy import delete, event, update
from sqlalchemy.orm import Session
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from upward_common.bus import Bus, ensure_streams
from upward_common.db import Sessionmaker
from upward_common.events import MAX_EVENT_BYTES, CloudEvent, EventData, utcnow
from upward_common.problems import Problem
from upward_common.tables import OutboxEvent

log = logging.getLogger(__name__)

WAKE_KEY = "outbox_wake"
PURGE_EVERY_SECONDS = 3600.0
# Below nats-py's limit of in-flight async publishes (4000), so a window never stalls.
PUBLISH_WINDOW = 1000
_PENDING_KEY = "outbox_pending"


def check_event_size(payload: str, *, event_type: str, subject: str | None = None) -> None:
    """Refuse (413) an event whose JSON exceeds `MAX_EVENT_BYTES`.

    Cheap enough for every row of a bulk write: UTF-8 takes at most four bytes
    a character, so only a payload near the cap is ever encoded to be measured.
    """
    if len(payload) <= MAX_EVENT_BYTES // 4:
        return
    size = len(payload.encode("utf-8", "surrogatepass"))
    if size <= MAX_EVENT_BYTES:
        return
    about = f" about {subject}" if subject else ""
    raise Problem(
        413,
        f"This change would emit a {event_type} event{about} of {size} bytes; events are "
        f"limited to {MAX_EVENT_BYTES} bytes of JSON, so nothing was written. "
        "Send smaller values (shorter lists or texts).",
        kind="event-too-large", title="Event too large", field="body",
        event_type=event_type, size_bytes=size, limit_bytes=MAX_EVENT_BYTES,
    )


def emit(session: AsyncSession, data: EventData, *, source: str) -> CloudEvent:
    """Record `data` as an event in the current transaction; returns its envelope."""
    envelope = data.envelope(source=source)
    add_envelope(session, envelope, subject=data.nats_subject())
    return envelope


def add_envelope(session: AsyncSession, envelope: CloudEvent, *, subject: str) -> None:
    payload = envelope.model_dump_json(exclude_none=True)
    check_event_size(payload, event_type=envelope.type, subject=envelope.subject)
    session.add(
        OutboxEvent(
            event_id=envelope.id,
            subject=subject,
            payload=payload,
            created_at=envelope.time,
        )
    )
    wake_after_commit(session)


def wake_after_commit(session: AsyncSession) -> None:
    """Wake the relay when this session commits (bulk writers inserting rows themselves)."""
    session.sync_session.info[_PENDING_KEY] = True


@event.listens_for(Session, "after_commit")
def _wake_relay(session: Session) -> None:
    if session.info.pop(_PENDING_KEY, False):
        wake: Callable[[], None] | None = session.info.get(WAKE_KEY)
        if wake is not None:
            wake()


@event.listens_for(Session, "after_rollback")
def _forget_pending(session: Session) -> None:
    session.info.pop(_PENDING_KEY, None)


class OutboxRelay:
    """Publishes committed outbox rows to JetStream and marks them sent."""

    def __init__(
        self,
        *,
        sessionmaker: Sessionmaker,
        bus: Bus,
        batch_size: int,
        poll_seconds: float,
        registry: CollectorRegistry,
        is_postgres: bool,
        retention: timedelta = timedelta(days=7),
    ) -> None:
        self.sessionmaker = sessionmaker
        self.retention = retention
        self._purged_at = 0.0
        self.bus = bus
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.is_postgres = is_postgres
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self.published = Counter(
            "outbox_published_total", "Events published from the outbox", registry=registry
        )
        self.pending = Gauge(
            "outbox_pending", "Outbox events waiting to be published", registry=registry
        )

    def wake(self) -> None:
        self._wakeup.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        self._stopping = True
        self._wakeup.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout=10)
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()

    async def _run(self) -> None:
        failures = 0
        while not self._stopping:
            self._wakeup.clear()
            try:
                sent = await self.publish_batch() if self.bus.is_connected else 0
                failures = 0
            except Exception as exc:  # noqa: BLE001 - rows stay unsent; try again later
                failures += 1
                sent = 0
                log.warning("outbox publish failed; will retry", extra={"error": str(exc)})
                await asyncio.sleep(min(0.2 * 2**failures, 5.0))
                continue
            if sent >= self.batch_size:
                continue  # more waiting: no pause
            if time.monotonic() - self._purged_at > PURGE_EVERY_SECONDS:
                await self._purge_quietly()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout=self.poll_seconds)

    async def publish_batch(self) -> int:
        """Publish one batch of unsent events in order; returns how many were sent."""
        js = self.bus.js
        assert js is not None
        async with self.sessionmaker() as session:
            query = (
                select(col(OutboxEvent.seq), col(OutboxEvent.event_id),
                       col(OutboxEvent.subject), col(OutboxEvent.payload))
                .where(col(OutboxEvent.published_at).is_(None))
                .order_by(col(OutboxEvent.seq))
                .limit(self.batch_size)
            )
            if self.is_postgres:
                # Replicas share the table: each row goes to one relay at a time.
                query = query.with_for_update(skip_locked=True)
            rows = (await session.exec(query)).all()
            if not rows:
                self.pending.set(0)
                return 0
            try:
                for start in range(0, len(rows), PUBLISH_WINDOW):
                    await self._publish_window(js, rows[start : start + PUBLISH_WINDOW])
            except NoStreamResponseError:
                # A server that lost its streams (new, or wiped): recreate and retry.
                await ensure_streams(js, self.bus.replicas)
                raise
            await session.exec(
                update(OutboxEvent)
                .where(col(OutboxEvent.seq).in_([row[0] for row in rows]))
                .values(published_at=utcnow())
            )
            await session.commit()
        self.published.inc(len(rows))
        return len(rows)

    @staticmethod
    async def _publish_window(js: JetStreamContext, rows: Sequence[Any]) -> None:
        """Publish rows pipelined on the one connection (so in order), then await every ack.

        No stall timeout on the client's in-flight semaphore: with one, each publish
        yields to the loop and the connection flushes once per message (about 3x
        slower); a window below the client's in-flight limit never waits on it.
        """
        futures: list[asyncio.Future[Any]] = []
        try:
            for _seq, event_id, subject, payload in rows:
                futures.append(await js.publish_async(
                    subject, payload.encode(), headers={"Nats-Msg-Id": event_id}))
            await asyncio.wait_for(asyncio.gather(*futures), timeout=10)
        except BaseException:
            for future in futures:
                future.cancel()
            raise

    async def purge(self) -> int:
        """Delete rows sent longer ago than the retention; JetStream keeps the events."""
        cutoff = utcnow() - self.retention
        async with self.sessionmaker() as session:
            result = await session.exec(
                delete(OutboxEvent).where(col(OutboxEvent.published_at) < cutoff)
            )
            await session.commit()
        self._purged_at = time.monotonic()
        return int(result.rowcount or 0)

    async def _purge_quietly(self) -> None:
        try:
            await self.purge()
        except Exception as exc:  # noqa: BLE001 - housekeeping; next time then
            self._purged_at = time.monotonic()
            log.warning("outbox purge failed", extra={"error": str(exc)})

    async def count_pending(self) -> int:
        async with self.sessionmaker() as session:
            result = await session.exec(
                select(func.count()).select_from(OutboxEvent)
                .where(col(OutboxEvent.published_at).is_(None))
            )
            return int(result.one())
