"""The transactional outbox: no event without its change, none lost, none twice."""

from __future__ import annotations

import asyncio
from collections import namedtuple
from collections.abc import AsyncIterator
from datetime import timedelta
from itertools import groupby
from typing import Any, cast

import nats
import pytest
from nats.js import JetStreamContext
from sqlalchemy import update
from sqlmodel import select

from tests.common.conftest import recording_handler
from tests.support.nats import NatsServer
from tests.support.stack import Running, wait_until
from upward_common.events import STREAM, PairEnded, utcnow
from upward_common.outbox import YIELD_EVERY, OutboxRelay, emit
from upward_common.tables import OutboxEvent


@pytest.fixture
async def js(nats_server: NatsServer) -> AsyncIterator[JetStreamContext]:
    nc = await nats.connect(nats_server.url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
    try:
        yield nc.jetstream()
    finally:
        await nc.close()


def event() -> PairEnded:
    return PairEnded(pair_id="p-1", programme_id="prog-1", reason="admin", occurred_at=utcnow())


async def emit_and_commit(running: Running, count: int = 1, *, commit: bool = True) -> None:
    async with running.app.state.sessionmaker() as session:
        for _ in range(count):
            emit(session, event())
        if commit:
            await session.commit()
        else:
            await session.rollback()


async def stream_count(js: JetStreamContext) -> int:
    return int((await js.stream_info(STREAM)).state.messages)


async def pending(running: Running) -> int:
    count: int = await running.app.state.relay.count_pending()
    return count


async def test_a_rolled_back_change_leaves_no_event(
    start_kernel_service: Any, js: JetStreamContext
) -> None:
    async with start_kernel_service(recording_handler()) as running:
        await emit_and_commit(running, 3, commit=False)
        async with running.app.state.sessionmaker() as session:
            assert (await session.exec(select(OutboxEvent))).all() == []
        await emit_and_commit(running, 1)
        await wait_until(lambda: stream_count(js))
        assert await stream_count(js) == 1


async def test_the_relay_wakes_on_commit_rather_than_waiting_for_its_poll(
    start_kernel_service: Any, js: JetStreamContext
) -> None:
    # With a one-minute poll, only the commit hook can deliver within the wait below.
    async with start_kernel_service(recording_handler(), outbox_poll_seconds=60) as running:
        await emit_and_commit(running)
        await wait_until(lambda: stream_count(js), timeout=10)


async def test_events_wait_while_nats_is_down_and_are_published_once_when_it_returns(
    start_kernel_service: Any, js: JetStreamContext, nats_server: NatsServer
) -> None:
    async with start_kernel_service(recording_handler()) as running:
        await emit_and_commit(running, 5)
        await wait_until(lambda: _count_is(js, 5))
        nats_server.stop()
        await emit_and_commit(running, 20)
        assert await pending(running) == 20
        nats_server.start()
        await wait_until(lambda: running.app.state.bus.is_connected)
        await wait_until(lambda: _drained(running))
        await wait_until(lambda: _count_is(js, 25))
        assert await stream_count(js) == 25


async def _drained(running: Running) -> bool:
    return await pending(running) == 0


async def _count_is(js: JetStreamContext, expected: int) -> bool:
    try:
        return await stream_count(js) == expected
    except Exception:  # noqa: BLE001 - the test client may still be reconnecting
        return False


async def test_a_republished_event_is_dropped_by_jetstream_deduplication(
    start_kernel_service: Any, js: JetStreamContext
) -> None:
    """A relay that crashed after publishing but before marking sends again: no duplicate."""
    async with start_kernel_service(recording_handler()) as running:
        await emit_and_commit(running, 3)
        await wait_until(lambda: _drained(running))
        assert await stream_count(js) == 3
        async with running.app.state.sessionmaker() as session:
            await session.exec(update(OutboxEvent).values(published_at=None))  # type: ignore[call-overload]
            await session.commit()
        running.app.state.relay.wake()
        await wait_until(lambda: _drained(running))
        assert await stream_count(js) == 3


async def test_sent_rows_past_retention_are_purged_and_unsent_ones_never_are(
    start_kernel_service: Any, js: JetStreamContext, nats_server: NatsServer
) -> None:
    async with start_kernel_service(recording_handler()) as running:
        await emit_and_commit(running, 2)
        await wait_until(lambda: _drained(running))
        nats_server.stop()
        await emit_and_commit(running, 1)  # stays unsent while NATS is down
        async with running.app.state.sessionmaker() as session:
            await session.exec(update(OutboxEvent)  # type: ignore[call-overload]
                               .where(OutboxEvent.published_at.is_not(None))  # type: ignore[union-attr]
                               .values(published_at=utcnow() - timedelta(days=30)))
            await session.commit()
        assert await running.app.state.relay.purge() == 2
        async with running.app.state.sessionmaker() as session:
            [left] = (await session.exec(select(OutboxEvent))).all()
        assert left.published_at is None


async def test_a_window_of_publishes_gives_the_event_loop_turns() -> None:
    """A draining backlog must not hold the loop for a whole window: the requests the same
    process serves run between every `YIELD_EVERY` publishes."""
    Row = namedtuple("Row", "seq event_id subject payload")
    rows = [Row(n, f"e-{n}", "mentoring.pair.ended", '{"data": {}}') for n in range(200)]
    ticks = {"n": 0}
    seen: list[int] = []
    loop = asyncio.get_running_loop()

    class Publisher:
        async def publish_async(self, subject: str, data: bytes, headers: Any) -> Any:
            seen.append(ticks["n"])  # how often the other task ran so far
            done = loop.create_future()
            done.set_result(None)
            return done

    async def ticker() -> None:
        while True:
            ticks["n"] += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    try:
        window = await OutboxRelay._publish_window(cast(Any, Publisher()), rows,
                                                   max_payload=1 << 20)
    finally:
        task.cancel()
    assert window.sent == [row.seq for row in rows] and window.dead == []
    # The other task ran between the chunks of the window, not only once it was over:
    # never more than 64 publishes in a row without a turn for it.
    runs = [len(list(run)) for _, run in groupby(seen)]
    assert max(runs) <= min(YIELD_EVERY, 64) and len(runs) >= len(rows) // 64
