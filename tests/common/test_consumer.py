"""The consumer base: at-least-once delivery made exactly-once in effect."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import nats
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from tests.common.conftest import applied_count, recording_handler
from tests.support.nats import NatsServer
from tests.support.stack import wait_until
from upward_common.events import DEADLETTER_STREAM, PairEnded, utcnow


@pytest.fixture
async def js(nats_server: NatsServer) -> AsyncIterator[JetStreamContext]:
    nc: Client = await nats.connect(nats_server.url)
    try:
        yield nc.jetstream()
    finally:
        await nc.close()


def pair_ended() -> PairEnded:
    return PairEnded(pair_id="p-1", programme_id="prog-1", reason="admin", occurred_at=utcnow())


async def publish(js: JetStreamContext, data: PairEnded, *, msg_id: str | None = None,
                  envelope_id: str | None = None) -> str:
    envelope = data.envelope(source="/tests")
    if envelope_id:
        envelope.id = envelope_id
    await js.publish(data.nats_subject(), envelope.model_dump_json().encode(),
                     headers={"Nats-Msg-Id": msg_id or envelope.id})
    return envelope.id


async def consumed(running: Any, outcome: str) -> float:
    total = 0.0
    for metric in running.app.state.consumer.outcomes.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total") and sample.labels.get("outcome") == outcome:
                total += sample.value
    return total


async def test_a_handler_that_fails_once_is_retried_and_applies_once(
    start_kernel_service: Any, js: JetStreamContext
) -> None:
    failures: dict[str, int] = {}
    async with start_kernel_service(recording_handler(failures)) as running:
        data = pair_ended()
        envelope = data.envelope(source="/tests")
        failures[envelope.id] = 1
        await js.publish(data.nats_subject(), envelope.model_dump_json().encode(),
                         headers={"Nats-Msg-Id": envelope.id})
        await wait_until(lambda: consumed(running, "applied"))
        assert await consumed(running, "retried") == 1
        assert await applied_count(running, envelope.id) == 1
        assert failures[envelope.id] == 0


async def test_a_second_delivery_of_the_same_event_id_changes_nothing(
    start_kernel_service: Any, js: JetStreamContext
) -> None:
    async with start_kernel_service(recording_handler()) as running:
        event_id = await publish(js, pair_ended())
        # The same event again under another message id: JetStream delivers it again.
        await publish(js, pair_ended(), msg_id="another-message-id", envelope_id=event_id)
        await wait_until(lambda: consumed(running, "duplicate"))
        assert await consumed(running, "applied") == 1
        assert await applied_count(running, event_id) == 1


async def test_a_poison_message_is_dead_lettered_with_its_error_and_not_applied(
    start_kernel_service: Any, js: JetStreamContext
) -> None:
    failures: dict[str, int] = {}
    async with start_kernel_service(recording_handler(failures),
                                    consumer_max_deliver=3) as running:
        data = pair_ended()
        envelope = data.envelope(source="/tests")
        failures[envelope.id] = 99
        await js.publish(data.nats_subject(), envelope.model_dump_json().encode(),
                         headers={"Nats-Msg-Id": envelope.id})
        await wait_until(lambda: consumed(running, "dead_lettered"))
        subscription = await js.pull_subscribe("mentoring-deadletter.>", stream=DEADLETTER_STREAM)
        [message] = await subscription.fetch(1, timeout=5)
        assert message.subject == "mentoring-deadletter.kerneltest.pair.ended"
        assert message.headers is not None
        assert "simulated handler failure" in message.headers["Upward-Error"]
        assert message.headers["Upward-Deliveries"] == "3"
        assert json.loads(message.data)["id"] == envelope.id
        assert failures[envelope.id] == 96  # three attempts, then no more
        assert await applied_count(running, envelope.id) == 0


async def test_an_unparseable_message_goes_straight_to_the_dead_letter_stream(
    start_kernel_service: Any, js: JetStreamContext
) -> None:
    async with start_kernel_service(recording_handler()) as running:
        await js.publish("mentoring.pair.ended", b"{not json", headers={"Nats-Msg-Id": "bad-1"})
        await wait_until(lambda: consumed(running, "dead_lettered"))
        info = await js.stream_info(DEADLETTER_STREAM)
        assert info.state.messages == 1
        assert await consumed(running, "retried") == 0
