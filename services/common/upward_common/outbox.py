"""Transactional outbox: events commit with the change, a relay publishes them.

`emit` adds the event row to the caller's session, so it commits (or rolls
back) with the change; `emit_many` writes many events in one INSERT, for bulk
writes (`emit_many_dumped` from values already validated); an event over
`MAX_EVENT_BYTES` is refused (413) before anything is written. `forget`
deletes the published rows about one subject (erasure). The relay publishes
unsent rows in order with `Nats-Msg-Id` = event id, so JetStream drops a
re-publish after a crash, and marks them sent. A row no retry could publish
(too large for the server, a subject outside the stream, refused by JetStream)
is set aside as a dead letter, so it never holds back the rows after it; a
NATS outage is not a bad row, and every row waits for NATS to return. The
relay wakes on every commit that wrote an event and polls slowly for commits
made by other replicas.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from nats.errors import BadHeaderError, BadSubjectError, MaxPayloadError
from nats.js import JetStreamContext
from nats.js.errors import APIError, NoStreamResponseError, NotFoundError
from prometheus_client import CollectorRegistry, Counter, Gauge
from pydantic_core import to_json
from sqlalchemy import delete, event, update
from sqlalchemy.orm import Session
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from upward_common.bus import Bus, ensure_streams
from upward_common.db import Sessionmaker, bulk_insert
from upward_common.events import (
    MAX_EVENT_BYTES,
    STREAM,
    SUBJECT_PREFIX,
    CloudEvent,
    EventData,
    utcnow,
)
from upward_common.ids import time_ordered_ids
from upward_common.logs import current_correlation_id
from upward_common.problems import Problem
from upward_common.tables import OutboxEvent

log = logging.getLogger(__name__)

WAKE_KEY = "outbox_wake"
# The CloudEvents `source` of what this session emits, set by the service's sessionmaker.
SOURCE_KEY = "event_source"
PURGE_EVERY_SECONDS = 3600.0
# Below nats-py's limit of in-flight async publishes (4000), so a window never stalls.
PUBLISH_WINDOW = 1000
# Publishes between two turns given back to the event loop: a window is published in
# one go otherwise, and the requests the same process serves would wait behind it.
YIELD_EVERY = 16
# How long a window's acknowledgements may take before the server counts as unreachable.
ACK_SECONDS = 10.0
_PENDING_KEY = "outbox_pending"
# The gauges are refreshed at most this often while the relay drains a backlog.
MEASURE_EVERY_SECONDS = 1.0
# How much of a publish error a dead-lettered row keeps.
MAX_ERROR_CHARS = 2000
# A subject the MENTORING stream captures (`mentoring.>`); NATS refuses blanks in any.
_STREAM_SUBJECT = re.compile(rf"{re.escape(SUBJECT_PREFIX)}(\.[^. \t\r\n*>]+)+")
# The relay's one header, as the client frames it: `NATS/1.0\r\nNats-Msg-Id: <id>\r\n\r\n`.
_HEADER_BYTES = len(b"NATS/1.0\r\nNats-Msg-Id: \r\n\r\n")


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


def event_source(session: AsyncSession) -> str:
    """The `source` of this session's events: the service whose sessionmaker made it."""
    source: str | None = session.info.get(SOURCE_KEY)
    if source is None:
        raise RuntimeError("this session cannot emit: its sessionmaker names no event source")
    return source


def emit(session: AsyncSession, data: EventData) -> CloudEvent:
    """Record `data` as an event in the current transaction; returns its envelope."""
    envelope = data.envelope(source=event_source(session))
    add_envelope(session, envelope, subject=data.nats_subject())
    return envelope


def add_envelope(session: AsyncSession, envelope: CloudEvent, *, subject: str) -> None:
    payload = envelope.model_dump_json(exclude_none=True)
    check_event_size(payload, event_type=envelope.type, subject=envelope.subject)
    session.add(
        OutboxEvent(
            event_id=envelope.id,
            subject=subject,
            ce_subject=envelope.subject,
            payload=payload,
            created_at=envelope.time,
        )
    )
    wake_after_commit(session)


_OUTBOX = OutboxEvent.__table__  # type: ignore[attr-defined]
_ID, _SUBJECT, _DATA = "\x00id\x00", "\x00subject\x00", "\x00data\x00"
# Characters a JSON string holds as they are (ids, CloudEvents subjects of ours).
_PLAIN = re.compile(r"[A-Za-z0-9_.:@+-]*")


async def emit_many(session: AsyncSession, events: Sequence[EventData]) -> int:
    """Record many events in the current transaction with one INSERT; returns how many.

    The rows are those `emit` would write for the same events, except that the
    batch shares one `time` and its ids are time-ordered (UUID version 7, in
    list order, so the unique index grows at its end). An event over the size
    cap refuses the whole batch (413) before anything is written.
    """
    if not events:
        return 0
    source, now = event_source(session), utcnow()
    templates: dict[tuple[type[EventData], bool], _Template] = {}
    rows: list[dict[str, Any]] = []
    for event_id, data in zip(_event_ids(len(events)), events, strict=True):
        ce_subject = data.subject_id()
        key = (type(data), ce_subject is not None)
        template = templates.get(key)
        if template is None:
            template = templates[key] = _Template(data, source=source, time=now)
        payload = template.fill(event_id, ce_subject, data)
        check_event_size(payload, event_type=template.type, subject=ce_subject)
        rows.append({"event_id": event_id, "subject": template.nats_subject,
                     "ce_subject": ce_subject, "payload": payload, "created_at": now})
    # Events `emit` added before keep their place ahead of these: the relay sends by seq.
    await session.flush()
    await bulk_insert(session, _OUTBOX, rows)
    wake_after_commit(session)
    return len(rows)


async def emit_many_dumped(
    session: AsyncSession, event_type: type[EventData],
    items: Sequence[tuple[Mapping[str, Any], str | None]],
) -> int:
    """`emit_many` for events given as (the dict their model dumps, CloudEvents subject).

    For bulk writes of values the caller holds validated already (an import's
    rows): each event's data is serialised straight from its dict, in one C
    call, instead of being validated into a model and dumped again. The first
    item is validated into `event_type` and must serialise to the same JSON,
    with the same subject; otherwise every item takes `emit_many`'s path
    through the model. The rows written are those `emit_many` would write.
    """
    if not items:
        return 0
    first_data, first_subject = items[0]
    first = event_type.model_validate(first_data)
    if (first.subject_id() != first_subject
            or any((subject is None) != (first_subject is None) for _, subject in items)
            or to_json(first_data) != first.model_dump_json().encode()):
        return await emit_many(session, [event_type.model_validate(d) for d, _ in items])
    source, now = event_source(session), utcnow()
    template = _Template(first, source=source, time=now)
    ids = _event_ids(len(items))
    payload = template.fill(ids[0], first_subject, first)
    if not template.trusted:
        return await emit_many(session, [event_type.model_validate(d) for d, _ in items])
    fill = template.formatter()
    subjects = [subject for _, subject in items]
    # Our ids need no JSON escaping; a batch with any other subject has each one dumped.
    plain = first_subject is None or _PLAIN.fullmatch("".join(map(str, subjects))) is not None
    quoted = (["" if first_subject is None else f'"{s}"' for s in subjects] if plain
              else [to_json(s).decode() for s in subjects])
    cheap = MAX_EVENT_BYTES // 4
    rows: list[dict[str, Any]] = []
    for index, (event_id, (data, ce_subject), subject_json) in enumerate(
            zip(ids, items, quoted, strict=True)):
        if index:
            payload = fill(event_id, subject_json, to_json(data).decode())
        if len(payload) > cheap:  # a short payload is under the cap: no call for it
            check_event_size(payload, event_type=template.type, subject=ce_subject)
        rows.append({"event_id": event_id, "subject": template.nats_subject,
                     "ce_subject": ce_subject, "payload": payload, "created_at": now})
    await session.flush()
    await bulk_insert(session, _OUTBOX, rows)
    wake_after_commit(session)
    return len(rows)


class _Template:
    """One event type's envelope, serialised once and cut around its id, subject and data.

    Each event then only fills in its own pieces. The first event is checked
    against a real envelope's serialisation; any difference (a model whose
    JSON differs from its dumped dict's) sends that type down the real path.
    """

    def __init__(self, data: EventData, *, source: str, time: Any) -> None:
        self.source, self.time = source, time
        self.type, self.nats_subject = data.type_name(), data.nats_subject()
        self.correlation_id = current_correlation_id()
        has_subject = data.subject_id() is not None
        text = CloudEvent(
            id=_ID, source=source, type=self.type, time=time,
            subject=_SUBJECT if has_subject else None,
            correlationid=self.correlation_id, data={_DATA: None},
        ).model_dump_json(exclude_none=True)
        text = text.replace(to_json({_DATA: None}).decode(), json.dumps(_DATA), 1)
        marks = sorted((text.index(json.dumps(mark)), mark)
                       for mark in (_ID, _SUBJECT, _DATA) if json.dumps(mark) in text)
        self.pieces: list[str] = []
        self.order: list[str] = []
        last = 0
        for position, mark in marks:
            self.pieces.append(text[last:position])
            self.order.append(mark)
            last = position + len(json.dumps(mark))
        self.pieces.append(text[last:])
        self.trusted: bool | None = None

    def real(self, event_id: str, ce_subject: str | None, data: EventData) -> str:
        return CloudEvent(
            id=event_id, source=self.source, type=self.type, time=self.time,
            subject=ce_subject, correlationid=self.correlation_id,
            data=data.model_dump(mode="json"),
        ).model_dump_json(exclude_none=True)

    def join(self, event_id: str, ce_subject: str | None, data_json: str) -> str:
        """The envelope's pieces around this event's id, subject and data JSON."""
        # The ids are generated here: nothing in them needs JSON escaping.
        values = {_ID: f'"{event_id}"', _DATA: data_json,
                  _SUBJECT: "" if ce_subject is None else to_json(ce_subject).decode()}
        parts = [self.pieces[0]]
        for mark, piece in zip(self.order, self.pieces[1:], strict=True):
            parts += (values[mark], piece)
        return "".join(parts)

    def formatter(self) -> Callable[[str, str, str], str]:
        """`join` as one `str.format`: (event id, subject JSON or "", data JSON) -> payload."""
        number = {_ID: '"{0}"', _SUBJECT: "{1}", _DATA: "{2}"}
        pieces = [piece.replace("{", "{{").replace("}", "}}") for piece in self.pieces]
        text = pieces[0] + "".join(number[mark] + piece
                                   for mark, piece in zip(self.order, pieces[1:], strict=True))
        return text.format

    def fill(self, event_id: str, ce_subject: str | None, data: EventData) -> str:
        if self.trusted is False:
            return self.real(event_id, ce_subject, data)
        payload = self.join(event_id, ce_subject, data.model_dump_json())
        if self.trusted is None:
            real = self.real(event_id, ce_subject, data)
            self.trusted = payload == real
            return real
        return payload


def _event_ids(count: int) -> list[str]:
    """`count` time-ordered UUIDs (version 7, RFC 9562), increasing in list order."""
    return time_ordered_ids(count)


async def forget(session: AsyncSession, *, subject: str) -> int:
    """Delete the published rows whose CloudEvents `subject` is `subject`; returns how many.

    For erasure: the service's own copies of what it sent about someone go.
    Unsent rows and dead letters stay: other services still need the former,
    and an erasure event that follows tells them to forget the person.
    """
    result = await session.exec(delete(OutboxEvent).where(
        col(OutboxEvent.ce_subject) == subject, col(OutboxEvent.published_at).is_not(None)))
    return int(result.rowcount or 0)


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


class UnpublishableRow(Exception):
    """A row that no retry could publish; it becomes a dead letter with this reason."""


def encode_row(subject: str, event_id: str, payload: str, *, max_payload: int) -> bytes:
    """The bytes to publish for a row, or UnpublishableRow saying why there are none.

    The size counts the header too: the server measures both against its
    max_payload and, for a message over it, closes the connection (an outage
    for every row) where the client would only have refused the one message.
    """
    if not _STREAM_SUBJECT.fullmatch(subject):
        raise UnpublishableRow(f"subject {subject!r} is not one the {STREAM} stream captures")
    try:
        data = payload.encode()
    except UnicodeEncodeError as exc:
        raise UnpublishableRow(f"payload is not valid UTF-8 text: {exc}") from exc
    size = len(data) + _HEADER_BYTES + len(event_id.encode("utf-8", "replace"))
    if size > max_payload:
        raise UnpublishableRow(
            f"message of {size} bytes (payload and header) exceeds the NATS server's "
            f"max_payload of {max_payload} bytes")
    return data


def is_message_error(exc: BaseException) -> bool:
    """Did JetStream refuse this one message (not the server being unable to store any)?

    It answers 400 for what is wrong with the message itself (over the stream's
    max_msg_size, a bad header); 5xx (storage full, no quorum), a missing stream
    and no responders are the server's state, and every row waits them out.
    """
    return (isinstance(exc, APIError) and not isinstance(exc, NotFoundError)
            and exc.code is not None and 400 <= exc.code < 500)


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]


@dataclass(frozen=True)
class OutboxBacklog:
    """What the outbox holds: rows to send, how long the first has waited, dead letters."""

    pending: int
    oldest_age_seconds: float
    dead_letters: int


@dataclass
class _Window:
    sent: list[int]
    dead: list[tuple[Any, str]]


class OutboxRelay:
    """Publishes committed outbox rows to JetStream and marks them sent (or dead)."""

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
        self._measured_at = 0.0
        self.published = Counter(
            "outbox_published_total", "Events published from the outbox", registry=registry
        )
        self.dead_lettered = Counter(
            "outbox_dead_lettered_total",
            "Outbox rows set aside because they cannot be published", registry=registry,
        )
        self.pending = Gauge(
            "outbox_pending", "Outbox events waiting to be published (dead letters excluded)",
            registry=registry,
        )
        self.oldest_age = Gauge(
            "outbox_oldest_pending_age_seconds",
            "How long the first outbox event waiting to be published has waited",
            registry=registry,
        )
        self.dead_letters = Gauge(
            "outbox_dead_letters", "Outbox rows set aside as dead letters, kept for inspection",
            registry=registry,
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
            if time.monotonic() - self._measured_at >= MEASURE_EVERY_SECONDS:
                await self._measure_quietly()
            try:
                handled = await self.publish_batch() if self.bus.is_connected else 0
                failures = 0
            except Exception as exc:  # noqa: BLE001 - an outage: rows stay unsent; try again
                failures += 1
                log.warning("outbox publish failed; will retry", extra={"error": str(exc)})
                await asyncio.sleep(min(0.2 * 2**failures, 5.0))
                continue
            if handled >= self.batch_size:
                continue  # more waiting: no pause
            if time.monotonic() - self._purged_at > PURGE_EVERY_SECONDS:
                await self._purge_quietly()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout=self.poll_seconds)

    async def publish_batch(self) -> int:
        """Publish one batch of unsent events in order; returns how many rows it settled.

        Each row ends sent or, when it can never be published, dead-lettered; an
        outage (connection lost, acknowledgements not back in time, no stream)
        raises and leaves the whole batch unsent, to be published again.
        """
        js, nc = self.bus.js, self.bus.nc
        assert js is not None and nc is not None
        async with self.sessionmaker() as session:
            query = (
                select(col(OutboxEvent.seq), col(OutboxEvent.event_id),
                       col(OutboxEvent.subject), col(OutboxEvent.payload))
                .where(col(OutboxEvent.published_at).is_(None),
                       col(OutboxEvent.failed_at).is_(None))
                .order_by(col(OutboxEvent.seq))
                .limit(self.batch_size)
            )
            if self.is_postgres:
                # Replicas share the table: each row goes to one relay at a time.
                query = query.with_for_update(skip_locked=True)
            rows = (await session.exec(query)).all()
            if not rows:
                return 0
            settled = _Window(sent=[], dead=[])
            try:
                for start in range(0, len(rows), PUBLISH_WINDOW):
                    window = await self._publish_window(
                        js, rows[start : start + PUBLISH_WINDOW], max_payload=nc.max_payload)
                    settled.sent += window.sent
                    settled.dead += window.dead
            except NoStreamResponseError:
                # A server that lost its streams (new, or wiped): recreate and retry.
                await ensure_streams(js, self.bus.replicas)
                raise
            now = utcnow()
            if settled.sent:
                await session.exec(
                    update(OutboxEvent)
                    .where(col(OutboxEvent.seq).in_(settled.sent))
                    .values(published_at=now)
                )
            for row, error in settled.dead:
                await session.exec(
                    update(OutboxEvent)
                    .where(col(OutboxEvent.seq) == row.seq)
                    .values(failed_at=now, last_error=error,
                            attempts=col(OutboxEvent.attempts) + 1)
                )
            await session.commit()
        self.published.inc(len(settled.sent))
        for row, error in settled.dead:
            self.dead_lettered.inc()
            log.error("outbox event dead-lettered: it cannot be published",
                      extra={"event_id": row.event_id, "subject": row.subject,
                             "error": error})
        return len(rows)

    @staticmethod
    async def _publish_window(
        js: JetStreamContext, rows: Sequence[Any], *, max_payload: int
    ) -> _Window:
        """Publish rows pipelined on the one connection (so in order), then await every ack.

        A row that cannot be published is left out and reported dead; the rows
        after it go on. No stall timeout on the client's in-flight semaphore:
        with one, each publish yields to the loop and the connection flushes
        once per message (about 3x slower); a window below the client's
        in-flight limit never waits on it. Instead the loop gets a turn every
        `YIELD_EVERY` publishes, so a draining backlog holds it for a short
        stretch at a time.
        """
        window = _Window(sent=[], dead=[])
        futures: list[tuple[Any, bytes, asyncio.Future[Any]]] = []
        try:
            for index, row in enumerate(rows):
                if index and not index % YIELD_EVERY:
                    await asyncio.sleep(0)
                _seq, event_id, subject, payload = row
                try:
                    data = encode_row(subject, event_id, payload, max_payload=max_payload)
                    futures.append((row, data, await js.publish_async(
                        subject, data, headers={"Nats-Msg-Id": event_id})))
                except UnpublishableRow as exc:
                    window.dead.append((row, str(exc)[:MAX_ERROR_CHARS]))
                except (MaxPayloadError, BadSubjectError, BadHeaderError) as exc:
                    # encode_row catches these first; the client's own word is final.
                    window.dead.append((row, describe(exc)))
            if futures:
                # Acks come back in publishing order: once the last is in, every ack that
                # will ever come is in, and a row still waiting had its error reply dropped.
                await asyncio.wait([futures[-1][2]], timeout=ACK_SECONDS)
        finally:
            for *_, future in futures:
                future.cancel()  # a no-op once done; frees the client's in-flight slot
        for row, data, future in futures:
            error = None if future.cancelled() else future.exception()
            if future.cancelled():
                # No ack in time. The client drops JetStream's error replies to async
                # publishes (nats.py #985), so ask again, synchronously: a stored event
                # is acknowledged as a duplicate, a refused one says why, and silence
                # is an outage that leaves every row of the batch to wait.
                try:
                    await js.publish(row.subject, data, headers={"Nats-Msg-Id": row.event_id},
                                     timeout=ACK_SECONDS)
                except APIError as exc:
                    error = exc
            if error is None:
                window.sent.append(row.seq)
            elif is_message_error(error):
                window.dead.append((row, describe(error)))
            else:
                raise error
        return window

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
        """Rows waiting to be published (dead letters are not waiting)."""
        return (await self.measure()).pending

    async def measure(self) -> OutboxBacklog:
        """Read the backlog (one query over the partial indexes) and set the gauges."""
        unsent = (col(OutboxEvent.published_at).is_(None), col(OutboxEvent.failed_at).is_(None))
        pending = select(func.count()).select_from(OutboxEvent).where(*unsent)
        # The first row in the relay's order: the one every other unsent row waits behind.
        first = (select(col(OutboxEvent.created_at)).where(*unsent)
                 .order_by(col(OutboxEvent.seq)).limit(1))
        dead = (select(func.count()).select_from(OutboxEvent)
                .where(col(OutboxEvent.failed_at).is_not(None)))
        async with self.sessionmaker() as session:
            count, oldest, dead_count = (await session.exec(select(
                pending.scalar_subquery(), first.scalar_subquery(), dead.scalar_subquery()
            ))).one()
        age = 0.0 if oldest is None else max(0.0, (utcnow() - oldest).total_seconds())
        backlog = OutboxBacklog(pending=int(count), oldest_age_seconds=age,
                                dead_letters=int(dead_count))
        self.pending.set(backlog.pending)
        self.oldest_age.set(backlog.oldest_age_seconds)
        self.dead_letters.set(backlog.dead_letters)
        self._measured_at = time.monotonic()
        return backlog

    async def _measure_quietly(self) -> None:
        try:
            await self.measure()
        except Exception as exc:  # noqa: BLE001 - a gauge; the next loop measures again
            self._measured_at = time.monotonic()
            log.warning("outbox backlog could not be measured", extra={"error": str(exc)})
