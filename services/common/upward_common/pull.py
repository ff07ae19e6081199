"""Batches of a durable JetStream pull consumer, fetched on an inbox of the consumer's own.

The protocol is JetStream's: a request on `$JS.API.CONSUMER.MSG.NEXT.<stream>.<durable>`
asks for up to `batch` messages, which the server delivers to the request's reply
subject, ending a request it could not fill with a status message (404 "No Messages"
for one that does not wait, 408 "Request Timeout" when a waiting one expires).
nats-py's `fetch` speaks the same protocol, but awaits every message in tasks of its
own (two tasks and a uuid4 a message; bench/README.md, "Consumers", has what that cost).
Here the inbox's subscription appends each message to a deque, and a fetch takes them
from it as they come.

A fetch has `fetch`'s semantics, in one request: `no_wait` with `expires` takes what is
pending at once, or waits until the timeout for the first messages to come, and the
server ends it as soon as nothing more is pending; `nats.errors.TimeoutError` if nothing
came. The messages are nats-py's own, acked, nak'ed and terminated as usual.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from typing import Any

import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

log = logging.getLogger(__name__)

API_PREFIX = "$JS.API"  # JetStream's default, as the bus's context uses
STATUS = "Status"
DESCRIPTION = "Description"
# A request's end: "No Messages" (one that does not wait), "Request Timeout" (a waiting
# one expired), and 409s ("Exceeded MaxWaiting", "Leadership Change", ...).
ENDS = frozenset({"404", "408", "409"})
# The consumer is gone (a new server, or deleted): it must be created again.
GONE = ("consumer deleted", "consumer not found")
HEARTBEAT = "100"
# A waiting request expires this long before the fetch's own timeout, so that the server
# ends it (with a 408) before the fetch stops listening.
EXPIRES_MARGIN_NS = 100_000


class Pull:
    """Fetches batches of one durable consumer of one stream; `open` before, `close` after."""

    def __init__(self, nc: Client, stream: str, durable: str) -> None:
        self._nc = nc
        self._next = f"{API_PREFIX}.CONSUMER.MSG.NEXT.{stream}.{durable}"
        self._inbox = nc.new_inbox()
        self._arrived: deque[Msg] = deque()
        self._wake = asyncio.Event()
        self._subscription: Subscription | None = None

    async def open(self) -> Pull:
        self._subscription = await self._nc.subscribe(self._inbox, cb=self._on_message)
        return self

    async def _on_message(self, message: Msg) -> None:
        self._arrived.append(message)
        self._wake.set()

    async def close(self) -> None:
        """Unsubscribe; a message that arrived after the last fetch is handed back (nak)."""
        if self._subscription is not None:
            subscription, self._subscription = self._subscription, None
            await subscription.unsubscribe()
        while self._arrived:
            message = self._arrived.popleft()
            if _status(message) is None:
                try:
                    await message.nak()
                except Exception as exc:  # noqa: BLE001 - it waits out ack_wait instead
                    log.debug("nak failed", extra={"error": str(exc)})

    async def fetch(self, batch: int, timeout: float) -> list[Msg]:  # noqa: ASYNC109
        """Up to `batch` messages; raises `nats.errors.TimeoutError` if none came in
        `timeout` seconds. (A timeout argument, not a scope around the call: the server
        is told when the waiting request expires.)"""
        if self._subscription is None or self._nc.is_closed:
            raise nats.errors.ConnectionClosedError
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        messages: list[Msg] = []
        # What came after an earlier fetch stopped listening is this fetch's; a status
        # ended a request that is over.
        while self._arrived and len(messages) < batch:
            message = self._arrived.popleft()
            if _status(message) is None:
                messages.append(message)
        if len(messages) == batch:
            return messages
        request: dict[str, Any] = {"batch": batch - len(messages), "no_wait": True}
        if not messages:
            # With nothing in hand, wait: a request that may wait and must not linger
            # takes the first messages to come, then ends once none is pending.
            expires = int((deadline - loop.time()) * 1_000_000_000) - EXPIRES_MARGIN_NS
            if expires <= 0:
                raise nats.errors.TimeoutError
            request["expires"] = expires
        await self._nc.publish(self._next, json.dumps(request).encode(), reply=self._inbox)
        await self._collect(messages, batch, deadline)
        if not messages:
            raise nats.errors.TimeoutError
        return messages

    async def _collect(self, messages: list[Msg], batch: int, deadline: float) -> None:
        """Take arriving messages into `messages` until the batch is full, the request
        ends, or the deadline passes."""
        arrived = self._arrived
        while len(messages) < batch:
            if not arrived:
                self._wake.clear()
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    return
                try:
                    async with asyncio.timeout(remaining):
                        await self._wake.wait()
                except TimeoutError:
                    return
                continue
            message = arrived.popleft()
            status = _status(message)
            if status is None:
                messages.append(message)
            elif status in ENDS:
                _raise_if_gone(message)
                return
            elif status == "503":  # no responders: JetStream has no such consumer
                raise nats.js.errors.NotFoundError(code=503, description="no responders")
            elif status != HEARTBEAT:
                raise nats.js.errors.APIError.from_msg(message)


def _status(message: Msg) -> str | None:
    headers = message.headers
    return None if headers is None else headers.get(STATUS)


def _raise_if_gone(message: Msg) -> None:
    description = ((message.headers or {}).get(DESCRIPTION) or "").lower()
    if any(gone in description for gone in GONE):
        raise nats.js.errors.NotFoundError(code=409, description=description)
