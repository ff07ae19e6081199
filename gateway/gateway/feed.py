"""The live feed: events from the MENTORING stream, fanned out to GraphQL subscriptions.

Each gateway process holds one NATS connection with one core subscription per subject
the schema serves (`SUBJECTS`), however many clients subscribe: an event is parsed once
and offered to every in-process `Subscriber` whose filter admits it. Core subscriptions
rather than JetStream consumers, because a live notification needs no replay and no
acknowledgement: they keep no state on the server, so a replica that dies or scales
away leaves nothing behind, and every replica sees every event (events published
while a replica is disconnected are not replayed to it; clients re-read with a query
after they reconnect). The services are never polled.

Each subscriber has a bounded queue. One that falls behind (its client reads more
slowly than events arrive) is dropped with an error rather than slowing the others or
holding events without bound.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from pydantic import ValidationError

from gateway.clients import ProblemError, gateway_problem
from gateway.config import GatewaySettings
from upward_common.bus import Bus
from upward_common.events import (
    CloudEvent,
    EventData,
    MatchRunFinished,
    PairEnded,
    PairFormed,
    SessionCancelled,
    SessionLogged,
    SessionScheduled,
    parse_event,
)

log = logging.getLogger(__name__)

# What GraphQL subscriptions serve, each its own NATS subject (the rest of the stream,
# an HRIS import's employee updates first, never reaches the gateway).
EVENTS: tuple[type[EventData], ...] = (
    PairFormed, PairEnded, SessionScheduled, SessionLogged, SessionCancelled, MatchRunFinished,
)
SUBJECTS = tuple(model.nats_subject() for model in EVENTS)

Filter = Callable[[EventData], bool]


class _Ended:
    """Put in a subscriber's queue in place of what it held: the subscription is over."""

    def __init__(self, error: ProblemError) -> None:
        self.error = error


class Subscriber:
    """One GraphQL subscription's view of the feed: the events its filter admits, in order."""

    def __init__(self, admits: Filter, size: int) -> None:
        self.admits = admits
        self.size = size
        # One place more than `size`, kept for the end marker.
        self._queue: asyncio.Queue[EventData | _Ended] = asyncio.Queue(maxsize=size + 1)
        self.ended = False

    def offer(self, event: EventData) -> bool:
        """Queue `event` if the filter admits it; False when the queue is full."""
        if self.ended or not self.admits(event):
            return True
        if self._queue.qsize() >= self.size:
            return False
        self._queue.put_nowait(event)
        return True

    def end(self, error: ProblemError) -> None:
        """End the subscription with `error`, dropping what it had not read yet."""
        if self.ended:
            return
        self.ended = True
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(_Ended(error))

    async def next(self) -> EventData:
        """The next admitted event; raises the error the subscription ended with."""
        item = await self._queue.get()
        if isinstance(item, _Ended):
            raise item.error
        return item


class EventFeed:
    """The process's NATS subscriptions and the subscribers they feed (made in the lifespan)."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.bus = Bus(settings.nats_url, name="gateway",
                       reconnect_wait=settings.nats_reconnect_wait_seconds,
                       replicas=settings.stream_replicas, manage_streams=False)
        self.queue_size = settings.subscription_queue_size
        self.subscribers: set[Subscriber] = set()
        self.subscriptions: list[Subscription] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Connect in the background: the gateway serves queries whether or not NATS is up."""
        self.bus.start()
        self._task = asyncio.create_task(self._subscribe(), name="gateway-feed")

    async def _subscribe(self) -> None:
        await self.bus.ready.wait()
        assert self.bus.nc is not None
        for subject in SUBJECTS:
            # The client re-subscribes by itself after a reconnect.
            self.subscriptions.append(await self.bus.nc.subscribe(subject, cb=self._on_message))
        log.info("live feed subscribed", extra={"subjects": list(SUBJECTS)})

    @property
    def is_live(self) -> bool:
        return self.bus.is_connected and len(self.subscriptions) == len(SUBJECTS)

    async def _on_message(self, message: Msg) -> None:
        try:
            event = parse_event(CloudEvent.model_validate_json(message.data))
        except (ValidationError, KeyError) as exc:
            # A type this build does not know yet, or a malformed message: nobody can use it.
            log.warning("event not understood; not forwarded",
                        extra={"subject": message.subject, "error": str(exc)})
            return
        for subscriber in list(self.subscribers):
            if not subscriber.offer(event):
                self.subscribers.discard(subscriber)
                log.info("subscriber fell behind; dropped", extra={"queued": subscriber.size})
                subscriber.end(gateway_problem(
                    503, f"This subscription fell {subscriber.size} events behind and was "
                         "ended; subscribe again (and read what you missed with a query)",
                    kind="subscription-behind"))

    @asynccontextmanager
    async def subscribe(self, admits: Filter) -> AsyncIterator[Subscriber]:
        """A subscriber for the block's duration; a 503 error when the feed is not live."""
        if not self.is_live:
            raise gateway_problem(
                503, "Live events are unavailable for now (the gateway is not connected to "
                     "NATS); queries and mutations still work", kind="events-unavailable")
        subscriber = Subscriber(admits, self.queue_size)
        self.subscribers.add(subscriber)
        try:
            yield subscriber
        finally:
            self.subscribers.discard(subscriber)

    async def close(self) -> None:
        """End every subscription, then drain the NATS connection (it unsubscribes)."""
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
        closing = gateway_problem(503, "The gateway is shutting down; subscribe again",
                                  kind="shutting-down")
        for subscriber in list(self.subscribers):
            subscriber.end(closing)
        await self.bus.close()
        self.subscriptions.clear()
