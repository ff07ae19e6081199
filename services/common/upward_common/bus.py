"""The NATS connection of a process: connects in the background, reconnects forever."""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlsplit, urlunsplit

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError

from upward_common.events import DEADLETTER_PREFIX, DEADLETTER_STREAM, STREAM, SUBJECT_PREFIX

log = logging.getLogger(__name__)

# JetStream drops a re-published event id seen within this window; the relay
# retries well inside it, so an outage never produces a duplicate.
DUPLICATE_WINDOW_SECONDS = 15 * 60.0


def stream_configs(replicas: int) -> list[StreamConfig]:
    return [
        # Kept without age limit: analytics rebuilds its read models by replay.
        StreamConfig(
            name=STREAM,
            subjects=[f"{SUBJECT_PREFIX}.>"],
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            discard=DiscardPolicy.OLD,
            duplicate_window=DUPLICATE_WINDOW_SECONDS,
            num_replicas=replicas,
        ),
        StreamConfig(
            name=DEADLETTER_STREAM,
            subjects=[f"{DEADLETTER_PREFIX}.>"],
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            duplicate_window=DUPLICATE_WINDOW_SECONDS,
            num_replicas=replicas,
        ),
    ]


async def ensure_streams(js: JetStreamContext, replicas: int) -> None:
    """Create the streams, or bring an existing one's config up to date."""
    for config in stream_configs(replicas):
        try:
            await js.stream_info(config.name or "")
        except NotFoundError:
            try:
                await js.add_stream(config)
                continue
            except BadRequestError:
                pass  # another replica created it first
        await js.update_stream(config)


def redacted(url: str) -> str:
    """The URL without its password, for logs (production URLs carry credentials)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


class Bus:
    """Owns the process's NATS connection; `connected` is set once JetStream is usable."""

    def __init__(self, url: str, *, name: str, reconnect_wait: float, replicas: int,
                 manage_streams: bool = True) -> None:
        self.url = url
        self.name = name
        self.reconnect_wait = reconnect_wait
        self.replicas = replicas
        # A process that only listens (the gateway) neither needs nor may be allowed to
        # create or update streams: it is ready once connected.
        self.manage_streams = manage_streams
        self.nc: Client | None = None
        self.js: JetStreamContext | None = None
        self.ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    @property
    def is_connected(self) -> bool:
        return self.nc is not None and self.nc.is_connected and self.ready.is_set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._connect_forever(), name=f"{self.name}-nats")

    async def _connect_forever(self) -> None:
        # A service starts even when NATS is down: its outbox holds the events.
        while True:
            try:
                nc = await nats.connect(
                    self.url,
                    name=self.name,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=self.reconnect_wait,
                    connect_timeout=2,
                    error_cb=self._on_error,
                    disconnected_cb=self._on_disconnected,
                    reconnected_cb=self._on_reconnected,
                )
                js = nc.jetstream(timeout=5)
                if self.manage_streams:
                    await ensure_streams(js, self.replicas)
            except Exception as exc:  # noqa: BLE001 - any failure means "try again later"
                log.warning("NATS not reachable yet",
                            extra={"url": redacted(self.url), "error": str(exc)})
                await asyncio.sleep(self.reconnect_wait)
                continue
            self.nc, self.js = nc, js
            self.ready.set()
            log.info("connected to NATS", extra={"url": redacted(self.url)})
            return

    async def _on_error(self, exc: Exception) -> None:
        log.debug("NATS error", extra={"error": str(exc)})

    async def _on_disconnected(self) -> None:
        if not self._closing:
            log.warning("NATS disconnected")

    async def _on_reconnected(self) -> None:
        log.info("NATS reconnected")

    async def close(self) -> None:
        """Drain on shutdown so in-flight acks and publishes reach the server."""
        self._closing = True
        if self._task is not None and not self._task.done():
            self._task.cancel()
        if self.nc is not None and not self.nc.is_closed:
            try:
                await asyncio.wait_for(self.nc.drain(), timeout=5)
            except Exception:  # noqa: BLE001 - shutting down regardless
                await self.nc.close()
