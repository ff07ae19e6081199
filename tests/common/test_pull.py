"""The consumer's fetch: JetStream's pull protocol on an inbox of its own (a real server)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import nats
import nats.errors
import nats.js.errors
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig

from tests.support.nats import NatsServer
from tests.support.stack import wait_until
from upward_common.pull import Pull

STREAM, SUBJECT, DURABLE = "PULLTEST", "pulltest.event", "reader"


@pytest.fixture
async def nc(nats_server: NatsServer) -> AsyncIterator[Client]:
    connection = await nats.connect(nats_server.url)
    js = connection.jetstream()
    await js.add_stream(name=STREAM, subjects=["pulltest.>"])
    await js.add_consumer(STREAM, ConsumerConfig(durable_name=DURABLE,
                                                 ack_policy=AckPolicy.EXPLICIT, ack_wait=60))
    try:
        yield connection
    finally:
        await js.delete_stream(STREAM)
        await connection.close()


@pytest.fixture
async def pull(nc: Client) -> AsyncIterator[Pull]:
    opened = await Pull(nc, STREAM, DURABLE).open()
    try:
        yield opened
    finally:
        await opened.close()


async def publish(nc: Client, *bodies: str) -> None:
    js = nc.jetstream()
    for body in bodies:
        await js.publish(SUBJECT, body.encode())


def bodies(messages: list[Msg]) -> list[str]:
    return [message.data.decode() for message in messages]


async def test_a_fetch_returns_what_is_there_in_order_without_waiting_for_a_full_batch(
        nc: Client, pull: Pull) -> None:
    await publish(nc, "a", "b", "c")
    # The timeout is far longer than the test may take: a fetch that waited for ten
    # messages would hang the test until its own timeout, and fail it.
    messages = await asyncio.wait_for(pull.fetch(10, timeout=30), timeout=10)
    assert bodies(messages) == ["a", "b", "c"]
    assert all(message.metadata.num_delivered == 1 for message in messages)


async def test_batches_are_taken_in_turn_and_each_is_at_most_the_batch_size(
        nc: Client, pull: Pull) -> None:
    await publish(nc, *"abcde")
    seen = [bodies(await pull.fetch(2, timeout=5)) for _ in range(3)]
    assert seen == [["a", "b"], ["c", "d"], ["e"]]


async def test_a_fetch_waits_for_a_message_sent_after_it_asked_and_returns_it_at_once(
        nc: Client, pull: Pull) -> None:
    fetching = asyncio.create_task(pull.fetch(5, timeout=30))
    await asyncio.sleep(0.3)  # the fetch has found nothing and is waiting
    assert not fetching.done()
    await publish(nc, "late")
    # Not after the batch fills or the request expires (30 s): a consumer that is caught
    # up applies each event as it comes.
    assert bodies(await asyncio.wait_for(fetching, timeout=10)) == ["late"]


async def test_a_fetch_that_gets_nothing_raises_timeout(pull: Pull) -> None:
    with pytest.raises(nats.errors.TimeoutError):
        await pull.fetch(5, timeout=0.5)


async def test_a_message_acked_is_not_delivered_again_and_one_nakked_is(
        nc: Client, pull: Pull) -> None:
    await publish(nc, "kept", "handed back")
    kept, handed_back = await pull.fetch(2, timeout=5)
    await kept.ack()
    await handed_back.nak()
    [again] = await pull.fetch(2, timeout=5)
    assert again.data == b"handed back"
    assert again.metadata.num_delivered == 2


async def test_close_hands_back_what_arrived_after_the_last_fetch(
        nc: Client, pull: Pull) -> None:
    """A waiting request can be answered after its fetch stopped listening; closing
    must hand such messages back at once rather than leave them to ack_wait (60 s)."""
    await publish(nc, "stray")
    # A request on the pull's inbox, as a fetch's last one would be answered too late.
    await nc.publish(f"$JS.API.CONSUMER.MSG.NEXT.{STREAM}.{DURABLE}",
                     b'{"batch": 1, "no_wait": true}', reply=pull._inbox)
    await wait_until(lambda: len(pull._arrived) > 0)
    await pull.close()
    other = await Pull(nc, STREAM, DURABLE).open()
    try:
        [message] = await other.fetch(1, timeout=5)
    finally:
        await other.close()
    assert message.data == b"stray"
    assert message.metadata.num_delivered == 2


async def test_a_consumer_that_is_gone_raises_not_found_so_it_is_created_again(
        nc: Client, pull: Pull) -> None:
    await nc.jetstream().delete_consumer(STREAM, DURABLE)
    with pytest.raises(nats.js.errors.NotFoundError):
        await pull.fetch(1, timeout=2)


async def test_a_consumer_deleted_while_a_fetch_waits_raises_not_found(
        nc: Client, pull: Pull) -> None:
    fetching = asyncio.create_task(pull.fetch(1, timeout=5))
    await asyncio.sleep(0.3)  # waiting on the server
    await nc.jetstream().delete_consumer(STREAM, DURABLE)
    with pytest.raises(nats.js.errors.NotFoundError):
        await fetching


async def test_a_closed_pull_refuses_to_fetch(pull: Pull) -> None:
    await pull.close()
    with pytest.raises(nats.errors.ConnectionClosedError):
        await pull.fetch(1, timeout=1)
