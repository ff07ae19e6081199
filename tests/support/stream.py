"""A test client of JetStream: publish events as another service would, read them back."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass

from nats.aio.client import Client
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext

from upward_common.events import STREAM, CloudEvent, EventData


@dataclass
class Stream:
    """A client of the test's JetStream: publish events as another service would, read them back."""

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

    async def events(self, subject: str, *, at_least: int = 1,
                     within: float = 20.0) -> list[CloudEvent]:
        """Every event on `subject` so far, waiting until there are `at_least` of them."""
        deadline = asyncio.get_running_loop().time() + within
        while True:
            found = await self._read(subject)
            if len(found) >= at_least or asyncio.get_running_loop().time() > deadline:
                return found
            await asyncio.sleep(0.1)

    async def _read(self, subject: str) -> list[CloudEvent]:
        info = await self.js.stream_info(STREAM)
        if not info.state.messages:
            return []
        subscription = await self.js.pull_subscribe(subject, stream=STREAM)
        found: list[CloudEvent] = []
        try:
            while True:
                try:
                    batch = await subscription.fetch(100, timeout=0.3)
                except (NatsTimeout, TimeoutError):
                    break
                for message in batch:
                    found.append(CloudEvent.model_validate_json(message.data))
                    await message.ack()
        finally:
            await subscription.unsubscribe()
        return found


