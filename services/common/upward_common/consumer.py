"""The consumer base: one durable pull consumer per service, shared by its replicas.

A fetched batch is applied in one transaction, together with an inbox row per
event id, and every message is acknowledged only after that commit, so a
redelivery (after a crash or a lost ack) finds the id and changes nothing. An
event id seen twice in a batch is applied once. When anything in the batch
fails (a handler, or the commit), the transaction rolls back and the batch is
applied again one message per transaction, so only the bad message is retried
with backoff a bounded number of times; then it goes to the dead-letter stream
with the error, and is terminated on the main stream.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter as Tally
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union

import nats.errors
import nats.js.errors
import psycopg
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from prometheus_client import CollectorRegistry, Counter
from pydantic import Field, TypeAdapter, ValidationError, create_model
from sqlalchemy import Table
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from upward_common.bus import Bus
from upward_common.db import Sessionmaker, bulk_insert, ids_in
from upward_common.events import (
    DEADLETTER_PREFIX,
    STREAM,
    CloudEvent,
    EventData,
    utcnow,
)
from upward_common.logs import correlation_id, event_id
from upward_common.pull import Pull
from upward_common.tables import InboxEvent

log = logging.getLogger(__name__)

INBOX: Table = InboxEvent.__table__  # type: ignore[attr-defined]

# A handler gets the event's data only: the envelope is the consumer's business.
Handler = Callable[[AsyncSession, Any], Awaitable[None]]
Handlers = Mapping[type[EventData], Handler]
# The bulk form of a handler: the same effect as applying each item in order.
ManyHandler = Callable[[AsyncSession, Sequence[Any]], Awaitable[None]]
_MANY = "apply_many"
# How long a fetch waits for the first message of a batch.
FETCH_TIMEOUT_SECONDS = 1.0


def applies_many(many: ManyHandler) -> Callable[[Handler], Handler]:
    """Give a handler a bulk form, used for each run of its events within a fetched batch.

    `many(session, items)` must leave the same state as calling the handler on
    each item in order; it exists so a projection can read and write a whole run
    with a few statements instead of a few per event.

    Handlers may share one bulk form (say, a thing's created, changed and removed
    events, folded by one rule): a run is then the consecutive deliveries whose
    handlers share it, whatever their types, so `many` gets mixed items in stream
    order and must apply each by its own type. Handlers without a bulk form run
    per handler, one event at a time.
    """

    def mark(handler: Handler) -> Handler:
        setattr(handler, _MANY, many)
        return handler

    return mark


class AppliedElsewhere(Exception):
    """Another replica committed one of these event ids first; this transaction rolls back."""


@dataclass(slots=True)
class Delivery:
    """A fetched message, parsed, with the handler of its type."""

    message: Msg
    event_id: str
    event_type: str
    correlation: str  # the envelope's correlation id, else its own id
    data: EventData
    handler: Handler


def envelope_parser(models: Collection[type[EventData]]) -> TypeAdapter[Any]:
    """Bytes to a CloudEvent whose `data` is already its typed event: one validation.

    Each model gets an envelope of its own (`type` its type name, `data` the
    model), and the envelopes form a union told apart by `type`, so pydantic
    reads the JSON once instead of into a dict and then again into the model.
    A type outside `models`, like any malformed message, fails validation.
    """
    envelopes = []
    for model in models:
        # Types made at run time, so they are Any to the type checker.
        tag: Any = Literal[model.type_name()]
        envelopes.append(create_model(f"{model.__name__}Envelope", __base__=CloudEvent,
                                      type=(tag, ...), data=(model, ...)))
    if len(envelopes) == 1:
        return TypeAdapter(envelopes[0])
    union: Any = Union[tuple(envelopes)]  # noqa: UP007 - X | Y cannot take a tuple
    tagged: Any = Annotated[union, Field(discriminator="type")]
    return TypeAdapter(tagged)


class EventConsumer:
    """Pulls this service's subjects from JetStream and applies each event exactly once."""

    def __init__(
        self,
        *,
        service: str,
        bus: Bus,
        sessionmaker: Sessionmaker,
        handlers: Handlers,
        batch_size: int,
        max_deliver: int,
        backoff_seconds: list[float],
        ack_wait_seconds: float,
        registry: CollectorRegistry,
        read_ahead: bool = False,
    ) -> None:
        self.service = service
        self.read_ahead = read_ahead
        self.bus = bus
        self.sessionmaker = sessionmaker
        self.handlers = {model.type_name(): handler for model, handler in handlers.items()}
        # A service that handles nothing never fetches, so it needs no parser.
        self.parser = envelope_parser(list(handlers)) if handlers else None
        self.subjects = sorted({model.nats_subject() for model in handlers})
        self.batch_size = batch_size
        self.max_deliver = max_deliver
        self.backoff_seconds = backoff_seconds
        self.ack_wait_seconds = ack_wait_seconds
        self._stopping = False
        self._paused = False
        self._task: asyncio.Task[None] | None = None
        self._subscription: Pull | None = None
        self.outcomes = Counter(
            "events_consumed_total", "Events consumed, by type and outcome",
            ["type", "outcome"], registry=registry,
        )

    @property
    def durable(self) -> str:
        return self.service

    def config(self) -> ConsumerConfig:
        return ConsumerConfig(
            durable_name=self.durable,
            filter_subjects=self.subjects,
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.ack_wait_seconds,
            # The server's own bound, one above ours so we always dead-letter first.
            max_deliver=self.max_deliver + 1,
            max_ack_pending=self.batch_size * 16,
        )

    def start(self) -> None:
        if self.handlers:
            self._task = asyncio.create_task(self._run(), name=f"{self.service}-consumer")

    async def stop(self) -> None:
        self._stopping = True
        self._paused = False  # stopped for good: a pending `resume` does nothing
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout=10)
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()
        await self._unsubscribe()

    async def _unsubscribe(self) -> None:
        if self._subscription is not None:
            subscription, self._subscription = self._subscription, None
            # An open subscription would hold up the connection's drain.
            try:
                await subscription.close()
            except Exception as exc:  # noqa: BLE001 - closing anyway
                log.debug("unsubscribe failed", extra={"error": str(exc)})

    async def _subscribe(self) -> Pull:
        js, nc = self.bus.js, self.bus.nc
        assert js is not None and nc is not None
        await self._unsubscribe()  # the one to a consumer that vanished, if any
        await js.add_consumer(STREAM, self.config())
        self._subscription = await Pull(nc, STREAM, self.durable).open()
        return self._subscription

    async def _run(self) -> None:
        subscription = None
        # With `read_ahead`, the next batch, fetched while this one is applied: the
        # database's round trips and NATS's deliveries overlap instead of taking turns.
        # One batch ahead at most, applied strictly after this one commits, so the order
        # of effects is unchanged.
        ahead: asyncio.Task[list[Msg]] | None = None
        try:
            while not self._stopping:
                if not self.bus.is_connected:
                    await asyncio.sleep(0.2)
                    continue
                try:
                    if subscription is None:
                        subscription = await self._subscribe()
                    if ahead is None:
                        messages = await subscription.fetch(self.batch_size,
                                                            timeout=FETCH_TIMEOUT_SECONDS)
                    else:
                        fetching, ahead = ahead, None
                        messages = await fetching
                except (nats.errors.TimeoutError, TimeoutError):
                    continue
                except nats.js.errors.NotFoundError:
                    subscription = None  # the consumer vanished (a new server): recreate
                    await asyncio.sleep(0.5)
                    continue
                except Exception as exc:  # noqa: BLE001 - NATS down or restarting
                    log.warning("fetch failed; retrying", extra={"error": str(exc)})
                    if isinstance(exc, nats.errors.ConnectionClosedError):
                        subscription = None
                    await asyncio.sleep(0.5)
                    continue
                if self.read_ahead and len(messages) == self.batch_size and \
                        not self._stopping:
                    # A full batch: more are likely waiting (a partial one means the
                    # consumer has caught up, and a fetch ahead would only linger).
                    ahead = asyncio.create_task(
                        subscription.fetch(self.batch_size, timeout=FETCH_TIMEOUT_SECONDS),
                        name=f"{self.service}-fetch-ahead")
                try:
                    await self.handle_batch(messages)
                except Exception as exc:  # noqa: BLE001 - unsettled: it will be redelivered
                    log.warning("could not handle messages", extra={"error": repr(exc)})
        finally:
            if ahead is not None:
                await self._release(ahead)

    async def _release(self, ahead: asyncio.Task[list[Msg]]) -> None:
        """Hand back a batch fetched ahead but never applied, for redelivery at once
        (to this process after a restart, or to another replica) rather than after
        `ack_wait`.

        A fetch still running is awaited, not cancelled: the server may already have
        delivered its messages to this connection, and a cancelled fetch would drop them
        unacknowledged until `ack_wait`. Its own timeout bounds the wait."""
        try:
            messages = await asyncio.wait_for(ahead, timeout=FETCH_TIMEOUT_SECONDS + 1.0)
        except BaseException:  # noqa: BLE001 - timed out, cancelled or failed: nothing held
            return
        await self._settle_all(message.nak() for message in messages)
        if messages and self.bus.nc is not None and self.bus.is_connected:
            try:  # the naks reach the server before the subscription goes
                await self.bus.nc.flush(timeout=2)
            except Exception as exc:  # noqa: BLE001 - then they wait out ack_wait
                log.debug("flush failed", extra={"error": str(exc)})

    async def handle_batch(self, messages: Sequence[Msg]) -> None:
        """Apply fetched messages in one transaction; one by one if any of them fails."""
        deliveries = []
        for message in messages:
            try:
                deliveries.append(self.delivery(message))
            except (ValidationError, ValueError) as exc:
                # Unparseable or of an unknown type: retrying cannot help.
                await self._dead_letter(message, f"cannot parse event: {exc!r}",
                                        event_type="unknown")
        if len(deliveries) > 1:
            try:
                outcomes = await self._apply_batch(deliveries)
            except Exception as exc:  # noqa: BLE001 - a handler or the commit: find out alone
                log.warning("batch failed; applying its events one by one",
                            extra={"events": len(deliveries), "error": repr(exc)})
                # Their ack_wait has been running since the fetch: restart it.
                await self._settle_all(d.message.in_progress() for d in deliveries)
            else:
                await self._settle_all(d.message.ack() for d in deliveries)
                tally = Tally((d.event_type, outcome)
                              for d, outcome in zip(deliveries, outcomes, strict=True))
                for (event_type, outcome), count in tally.items():
                    self.outcomes.labels(event_type, outcome).inc(count)
                return
        for delivery in deliveries:
            await self._handle_one(delivery)

    async def _apply_batch(self, deliveries: Sequence[Delivery]) -> list[str]:
        """Every delivery's effect and inbox row in one transaction; the outcome of each."""
        async with self.sessionmaker() as session:
            outcomes = await apply_deliveries(session, deliveries)
            if "applied" in outcomes:
                await session.commit()
        return outcomes

    def delivery(self, message: Msg) -> Delivery:
        """The message parsed into its event and handler; raises ValidationError if it
        cannot be (the live consumer then dead-letters it, a replay stops)."""
        assert self.parser is not None
        # The validator itself: the adapter's wrapper around it costs a tenth of the parse.
        envelope = self.parser.validator.validate_json(message.data)
        return Delivery(message, envelope.id, envelope.type,
                        envelope.correlationid or envelope.id, envelope.data,
                        self.handlers[envelope.type])

    async def pause(self) -> None:
        """Stop fetching once the batch in hand is applied (settled and committed);
        `resume` starts again. A replay applies the stream meanwhile."""
        await self.stop()
        self._task = None
        self._subscription = None
        self._paused = True

    def resume(self) -> None:
        """Fetch again after `pause`; nothing if the consumer was stopped meanwhile."""
        if not self._paused:
            return
        self._paused = False
        self._stopping = False
        self.start()

    async def _handle_one(self, delivery: Delivery) -> None:
        """Apply one message alone; ack, retry later, or dead-letter it."""
        message, event_type = delivery.message, delivery.event_type
        try:
            [outcome] = await self._apply_batch([delivery])
        except AppliedElsewhere:
            outcome = "duplicate"
        except Exception as exc:  # noqa: BLE001 - a handler failure of any kind
            delivered = message.metadata.num_delivered or 1
            token = correlation_id.set(delivery.correlation)
            try:
                if delivered >= self.max_deliver:
                    log.error("event failed for the last time; dead-lettering",
                              extra={"event_id": delivery.event_id, "type": event_type,
                                     "deliveries": delivered, "error": repr(exc)})
                    await self._dead_letter(message, repr(exc), event_type=event_type)
                    return
                delay = self.backoff_seconds[min(delivered - 1, len(self.backoff_seconds) - 1)]
                log.warning("event failed; will retry",
                            extra={"event_id": delivery.event_id, "type": event_type,
                                   "deliveries": delivered, "retry_in": delay,
                                   "error": repr(exc)})
            finally:
                correlation_id.reset(token)
            self.outcomes.labels(event_type, "retried").inc()
            await self._settle(message.nak(delay=delay))
            return
        self.outcomes.labels(event_type, outcome).inc()
        await self._settle(message.ack())

    async def _dead_letter(self, message: Msg, error: str, *, event_type: str) -> None:
        js = self.bus.js
        assert js is not None
        metadata = message.metadata
        headers = {
            "Nats-Msg-Id": f"{self.service}:{metadata.sequence.stream}",
            "Upward-Error": error[:2000].replace("\r", " ").replace("\n", " "),
            "Upward-Original-Subject": message.subject,
            "Upward-Stream-Sequence": str(metadata.sequence.stream),
            "Upward-Deliveries": str(metadata.num_delivered),
            "Upward-Consumer": self.service,
        }
        suffix = message.subject.split(".", 1)[-1]
        await js.publish(f"{DEADLETTER_PREFIX}.{self.service}.{suffix}", message.data,
                         headers=headers)
        self.outcomes.labels(event_type, "dead_lettered").inc()
        await self._settle(message.term())

    @classmethod
    async def _settle_all(cls, calls: Iterable[Awaitable[None]]) -> None:
        for call in calls:
            await cls._settle(call)

    @staticmethod
    async def _settle(call: Awaitable[None]) -> None:
        # A lost ack only means a redelivery, which the inbox absorbs.
        try:
            await call
        except Exception as exc:  # noqa: BLE001
            log.warning("could not settle message", extra={"error": str(exc)})


async def apply_deliveries(session: AsyncSession, deliveries: Sequence[Delivery]) -> list[str]:
    """Every delivery's effect and inbox row in `session`, uncommitted; the outcome of each
    (`applied`, or `duplicate` for an event id the inbox holds or the batch repeats)."""
    outcomes: list[str] = []
    inbox: list[dict[str, Any]] = []
    connection = await session.connection()
    seen = await ids_in(connection, INBOX.c.event_id, {d.event_id for d in deliveries})
    fresh: list[Delivery] = []
    for delivery in deliveries:
        if delivery.event_id in seen:
            outcomes.append("duplicate")
            continue
        seen.add(delivery.event_id)
        fresh.append(delivery)
        inbox.append({"event_id": delivery.event_id, "event_type": delivery.event_type})
        outcomes.append("applied")
    for run in _runs(fresh):
        await _apply_run(session, run)
    if inbox:
        # The handlers' own writes first, so a conflict below is the inbox's alone.
        await session.flush()
        processed_at = utcnow()
        try:
            await bulk_insert(session, INBOX, [
                {**row, "processed_at": processed_at} for row in inbox])
        except (IntegrityError, psycopg.IntegrityError) as exc:  # SQLite's, COPY's
            raise AppliedElsewhere from exc
    return outcomes


def _applier(delivery: Delivery) -> Callable[..., Awaitable[None]]:
    """What applies a delivery within a run: its handler's bulk form, else the handler."""
    many: ManyHandler | None = getattr(delivery.handler, _MANY, None)
    return many if many is not None else delivery.handler


def _runs(deliveries: Sequence[Delivery]) -> Iterable[list[Delivery]]:
    """Consecutive deliveries applied alike (one bulk form, or one handler without one),
    in stream order."""
    run: list[Delivery] = []
    for delivery in deliveries:
        if run and _applier(delivery) is not _applier(run[0]):
            yield run
            run = []
        run.append(delivery)
    if run:
        yield run


async def _apply_run(session: AsyncSession, run: Sequence[Delivery]) -> None:
    """Consecutive events of one bulk form in one call of it; else each by its handler."""
    many: ManyHandler | None = getattr(run[0].handler, _MANY, None)
    if many is not None and len(run) > 1:
        # The run's writes are one step; its first event's correlation stands for it.
        token = correlation_id.set(run[0].correlation)
        try:
            await many(session, [delivery.data for delivery in run])
        finally:
            correlation_id.reset(token)
        return
    for delivery in run:
        token = correlation_id.set(delivery.correlation)
        applying = event_id.set(delivery.event_id)
        try:
            await delivery.handler(session, delivery.data)
        finally:
            event_id.reset(applying)
            correlation_id.reset(token)
