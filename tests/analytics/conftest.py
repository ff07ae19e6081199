"""Feeding analytics real events through this test's nats-server, as the other services would."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import nats
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from tests.support.nats import NatsServer
from upward_common.events import CloudEvent, EventData


@dataclass
class Stream:
    nc: Client
    js: JetStreamContext

    async def publish(
        self, data: EventData, *, source: str = "/upward/tests", event_id: str | None = None,
        msg_id: str | None = None,
    ) -> CloudEvent:
        """Publish `data` in a CloudEvent; `msg_id` differing from the event id defeats
        JetStream's de-duplication, so the consumer really receives it again."""
        envelope = data.envelope(source=source)
        if event_id is not None:
            envelope.id = event_id
        await self.js.publish(
            data.nats_subject(), envelope.model_dump_json(exclude_none=True).encode(),
            headers={"Nats-Msg-Id": msg_id or envelope.id},
        )
        return envelope


@pytest.fixture
async def stream(nats_server: NatsServer) -> AsyncIterator[Stream]:
    nc = await nats.connect(nats_server.url)
    try:
        yield Stream(nc, nc.jetstream())
    finally:
        await nc.close()
