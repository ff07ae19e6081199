"""The relay never lets one row block the others: a row it cannot publish is set aside."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from nats.js.api import StreamConfig
from sqlmodel import col, select

from tests.common.conftest import recording_handler
from tests.support.nats import NatsServer
from tests.support.stack import Running, wait_until
from tests.support.stream import Stream
from upward_common import outbox
from upward_common.events import STREAM, PairEnded, utcnow
from upward_common.outbox import emit
from upward_common.tables import OutboxEvent

MAX_PAYLOAD = 64 * 1024


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    """A server that takes smaller messages than the event cap allows (the relay must cope)."""
    server = NatsServer(tmp_path / "jetstream", max_payload=MAX_PAYLOAD)
    server.start()
    try:
        yield server
    finally:
        server.stop()


class Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def relay_log() -> Iterator[list[logging.LogRecord]]:
    # On the relay's own logger: the service replaces the root handlers when it starts.
    handler = Recorder()
    logger = logging.getLogger("upward_common.outbox")
    logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)


def ending(reason: str) -> PairEnded:
    return PairEnded(pair_id="p-1", programme_id="prog-1", reason=reason, occurred_at=utcnow())


def raw_row(event_id: str, *, subject: str = "mentoring.pair.ended",
            payload_bytes: int = 100, message_bytes: int | None = None) -> OutboxEvent:
    """A row written past `emit` (as a bulk writer or an older build might have).

    `message_bytes` pads the payload so that payload and header together weigh
    exactly that much, as the server counts them against its max_payload.
    """
    envelope = ending(event_id).envelope(source="/tests")
    envelope.id = event_id
    if message_bytes is not None:
        header = len(f"NATS/1.0\r\nNats-Msg-Id: {event_id}\r\n\r\n")
        bare = len(envelope.model_dump_json(exclude_none=True))
        payload_bytes = message_bytes - header - bare
    envelope.data["reason"] = event_id + "x" * payload_bytes
    return OutboxEvent(event_id=event_id, subject=subject,
                       payload=envelope.model_dump_json(exclude_none=True),
                       created_at=envelope.time)


async def commit_in_order(running: Running, *items: PairEnded | OutboxEvent) -> None:
    """One transaction, rows in the given order (so the relay sees them in one batch)."""
    async with running.app.state.sessionmaker() as session:
        for item in items:
            if isinstance(item, OutboxEvent):
                session.add(item)
            else:
                emit(session, item)
            await session.flush()  # seq follows the order given
        await session.commit()


async def rows(running: Running) -> dict[str, OutboxEvent]:
    async with running.app.state.sessionmaker() as session:
        found = (await session.exec(select(OutboxEvent).order_by(col(OutboxEvent.seq)))).all()
        return {row.event_id: row for row in found}


async def settled(running: Running) -> bool:
    return all(row.published_at is not None or row.failed_at is not None
               for row in (await rows(running)).values())


async def test_an_unpublishable_row_is_dead_lettered_and_the_rows_after_it_are_published(
    start_kernel_service: Any, stream: Stream, relay_log: list[logging.LogRecord]
) -> None:
    async with start_kernel_service(recording_handler()) as running:
        await commit_in_order(
            running,
            ending("before"),
            raw_row("too-large", payload_bytes=MAX_PAYLOAD + 1),
            # Under max_payload alone, over it with the header: the server would drop
            # the connection (an outage for every row) if the relay sent it.
            raw_row("over-with-its-header", message_bytes=MAX_PAYLOAD + 1),
            raw_row("fits-exactly", message_bytes=MAX_PAYLOAD),
            raw_row("bad-subject", subject="mentoring.pair ended"),
            raw_row("outside-the-stream", subject="elsewhere.pair.ended"),
            ending("after"),
        )
        await wait_until(lambda: settled(running))
        published = await stream.events("mentoring.pair.ended", at_least=3)
        assert [event.data["reason"].rstrip("x") for event in published] == [
            "before", "fits-exactly", "after"]

        stored = await rows(running)
        dead = {event_id: row for event_id, row in stored.items() if row.failed_at is not None}
        assert set(dead) == {"too-large", "over-with-its-header", "bad-subject",
                             "outside-the-stream"}
        assert "max_payload of 65536 bytes" in (dead["too-large"].last_error or "")
        assert f"message of {MAX_PAYLOAD + 1} bytes" in (
            dead["over-with-its-header"].last_error or "")
        assert "is not one the MENTORING stream captures" in (dead["bad-subject"].last_error or "")
        assert all(row.published_at is None and row.attempts == 1 for row in dead.values())
        assert await running.app.state.relay.count_pending() == 0

        logged = {record.__dict__["event_id"]: record for record in relay_log
                  if record.getMessage().startswith("outbox event dead-lettered")}
        assert set(logged) == set(dead)
        assert logged["too-large"].__dict__["subject"] == "mentoring.pair.ended"
        assert logged["too-large"].__dict__["error"] == dead["too-large"].last_error

        async def metrics_show_the_dead_letters() -> bool:
            async with running.client() as client:
                text = (await client.get("/metrics")).text
            return ("outbox_dead_lettered_total 4.0" in text
                    and "outbox_dead_letters 4.0" in text and "outbox_pending 0.0" in text)

        await wait_until(metrics_show_the_dead_letters)  # the relay measures once a second


async def test_a_message_jetstream_refuses_is_dead_lettered_and_the_rest_go_on(
    start_kernel_service: Any, stream: Stream
) -> None:
    async with start_kernel_service(recording_handler()) as running:
        # The stream takes smaller messages than the server does: JetStream refuses one.
        info = await stream.js.stream_info(STREAM)
        config: StreamConfig = info.config
        config.max_msg_size = 4096
        await stream.js.update_stream(config)
        await commit_in_order(running, ending("before"), raw_row("refused", payload_bytes=8000),
                              ending("after"))
        await wait_until(lambda: settled(running))
        published = await stream.events("mentoring.pair.ended", at_least=2)
        assert [event.data["reason"] for event in published] == ["before", "after"]
        refused = (await rows(running))["refused"]
        assert refused.failed_at is not None
        assert "message size exceeds maximum" in (refused.last_error or "")


async def test_a_lost_stream_is_an_outage_not_a_bad_row(
    start_kernel_service: Any, stream: Stream
) -> None:
    """No responders means the stream is gone: the relay recreates it and sends every row."""
    async with start_kernel_service(recording_handler()) as running:
        await stream.js.delete_stream(STREAM)
        await commit_in_order(running, ending("one"), ending("two"))
        await wait_until(lambda: settled(running))
        assert all(row.failed_at is None for row in (await rows(running)).values())
        published = await stream.events("mentoring.pair.ended", at_least=2)
        assert [event.data["reason"] for event in published] == ["one", "two"]


async def test_a_server_that_stops_answering_is_an_outage_not_a_bad_row(
    start_kernel_service: Any, stream: Stream, nats_server: NatsServer,
    relay_log: list[logging.LogRecord], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(outbox, "ACK_SECONDS", 0.5)
    async with start_kernel_service(recording_handler()) as running:
        nats_server.pause()
        try:
            await commit_in_order(running, ending("one"), ending("two"))
            await wait_until(lambda: any(r.getMessage().startswith("outbox publish failed")
                                         for r in relay_log))
            assert all(row.published_at is None and row.failed_at is None
                       for row in (await rows(running)).values())
        finally:
            nats_server.resume()
        await wait_until(lambda: settled(running))
        assert all(row.failed_at is None for row in (await rows(running)).values())
        published = await stream.events("mentoring.pair.ended", at_least=2)
        assert [event.data["reason"] for event in published] == ["one", "two"]
