"""The consumer base: at-least-once delivery made exactly-once in effect."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast

import nats
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from prometheus_client import CollectorRegistry
from pydantic import ValidationError
from sqlalchemy import event
from sqlalchemy.orm import Session
from sqlmodel import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from enrolment.main import SERVICE as ENROLMENT
from enrolment.models import Programme
from tests.common.conftest import applied_count, recording_handler
from tests.support.databases import DatabaseFactory
from tests.support.nats import NatsServer
from tests.support.stack import Running, wait_until
from upward_common.bus import ensure_streams
from upward_common.consumer import EventConsumer, applies_many, envelope_parser
from upward_common.db import create_engine, make_sessionmaker, upgrade_async
from upward_common.events import (
    DEADLETTER_STREAM,
    STREAM,
    CloudEvent,
    EventData,
    PairEnded,
    PairFormed,
    PairProposed,
    utcnow,
)
from upward_common.logs import event_id as current_event
from upward_common.tables import InboxEvent


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


async def test_a_message_of_another_type_or_with_unfit_data_is_dead_lettered_at_once(
    start_kernel_service: Any, js: JetStreamContext
) -> None:
    unknown = envelope_of(pair_ended())
    unknown.type = "pair.ended.v9"  # a version this build does not know
    unfit = envelope_of(pair_ended())
    unfit.data = {"pair_id": "p-1"}  # the type's required fields are missing
    async with start_kernel_service(recording_handler()) as running:
        for envelope in (unknown, unfit):
            await publish_envelope(js, envelope, msg_id=envelope.id)
        await wait_until(lambda: _at_least(consumed(running, "dead_lettered"), 2))
        assert (await js.stream_info(DEADLETTER_STREAM)).state.messages == 2
        assert await consumed(running, "retried") == 0
        assert await inbox_count(running) == 0


def test_one_validation_turns_a_message_into_the_typed_event_its_type_names() -> None:
    parser = envelope_parser([PairEnded, PairFormed])
    ended, formed = pair_ended(), PairFormed(
        pair_id="p-2", programme_id="prog-1", mentor_participant_id="a",
        mentee_participant_id="b", mentor_employee_id="c", mentee_employee_id="d", score=0.5,
        occurred_at=utcnow())
    for data in (ended, formed):
        envelope = data.envelope(source="/tests")
        parsed = parser.validate_json(envelope.model_dump_json())
        assert isinstance(parsed, CloudEvent)
        assert (parsed.id, parsed.type, parsed.data) == (envelope.id, data.type_name(), data)
    wrong = formed.envelope(source="/tests")
    wrong.type = PairEnded.type_name()  # PairFormed's data under PairEnded's type
    with pytest.raises(ValidationError):
        parser.validate_json(wrong.model_dump_json())
    with pytest.raises(ValidationError):
        parser.validate_json(ended.envelope(source="").model_copy(
            update={"specversion": "0.3"}).model_dump_json())


# --- batches -------------------------------------------------------------------------


class BatchRecorder:
    """Applies an event by writing a row, remembering the session (transaction) of each call.

    Events in `poison` always fail; the handler of `gate_id` waits for `gate`,
    so the test can line up what the consumer's next fetch will find.
    """

    def __init__(self, *, poison: frozenset[str] = frozenset(), gate_id: str | None = None) -> None:
        self.poison = poison
        self.gate_id = gate_id
        self.entered = asyncio.Event()
        self.gate = asyncio.Event()
        self.sessions: dict[str, list[int]] = defaultdict(list)

    async def __call__(self, session: AsyncSession, data: Any) -> None:
        event_id = current_event.get()  # the kernel names the event being applied
        # hash_key is unique per session, never reused the way id() can be.
        self.sessions[event_id].append(session.sync_session.hash_key)
        if event_id == self.gate_id:
            self.entered.set()
            await self.gate.wait()
        session.add(Programme(name=f"applied {event_id}", created_at=utcnow()))
        await session.flush()
        if event_id in self.poison:
            raise RuntimeError("simulated handler failure")


def envelope_of(data: PairEnded, event_id: str | None = None) -> CloudEvent:
    envelope = data.envelope(source="/tests")
    if event_id is not None:
        envelope.id = event_id
    return envelope


async def publish_envelope(js: JetStreamContext, envelope: CloudEvent, *, msg_id: str) -> None:
    await js.publish(PairEnded.nats_subject(), envelope.model_dump_json().encode(),
                     headers={"Nats-Msg-Id": msg_id})


async def backlog(js: JetStreamContext, count: int) -> list[str]:
    """Publish `count` events before any consumer runs, so its first fetch takes them all."""
    await ensure_streams(js, 1)
    ids = []
    for _ in range(count):
        envelope = envelope_of(pair_ended())
        await publish_envelope(js, envelope, msg_id=envelope.id)
        ids.append(envelope.id)
    return ids


async def settled(js: JetStreamContext) -> bool:
    """Nothing left for the kernel test service's durable consumer: all delivered and acked."""
    info = await js.consumer_info(STREAM, "kerneltest")
    return info.num_pending == 0 and info.num_ack_pending == 0


async def inbox_count(running: Running) -> int:
    async with running.app.state.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(InboxEvent)) or 0)


async def test_a_fetched_batch_is_applied_in_one_transaction_and_every_message_acked(
    start_kernel_service: Any, js: JetStreamContext
) -> None:
    ids = await backlog(js, 5)
    recorder = BatchRecorder()
    async with start_kernel_service(recorder) as running:
        await wait_until(lambda: consumed(running, "applied"))
        await wait_until(lambda: settled(js))
        assert await consumed(running, "applied") == 5
        assert {event_id: len(calls) for event_id, calls in recorder.sessions.items()} == {
            event_id: 1 for event_id in ids}
        assert len({calls[0] for calls in recorder.sessions.values()}) == 1  # one transaction
        for event_id in ids:
            assert await applied_count(running, event_id) == 1
        assert await inbox_count(running) == 5
        assert (await js.consumer_info(STREAM, "kerneltest")).num_redelivered == 0


async def test_a_batch_with_a_poison_message_and_duplicates_applies_every_effect_once(
    start_kernel_service: Any, js: JetStreamContext
) -> None:
    await ensure_streams(js, 1)
    gate, first, poison, second = (envelope_of(pair_ended()) for _ in range(4))
    recorder = BatchRecorder(poison=frozenset({poison.id}), gate_id=gate.id)
    async with start_kernel_service(recorder, consumer_max_deliver=3) as running:
        # The gate's handler holds the consumer while the next batch queues up behind it.
        await publish_envelope(js, gate, msg_id=gate.id)
        await asyncio.wait_for(recorder.entered.wait(), timeout=20)
        for envelope in (first, poison, second):
            await publish_envelope(js, envelope, msg_id=envelope.id)
        # The same event id twice in the batch, and one that is already in the inbox by then.
        await publish_envelope(js, first, msg_id="first-again")
        await publish_envelope(js, gate, msg_id="gate-again")
        recorder.gate.set()

        await wait_until(lambda: consumed(running, "dead_lettered"))
        await wait_until(lambda: settled(js))
        for envelope in (gate, first, second):
            assert await applied_count(running, envelope.id) == 1
        assert await applied_count(running, poison.id) == 0
        assert await inbox_count(running) == 3
        assert await consumed(running, "applied") == 3
        assert await consumed(running, "duplicate") == 2
        assert await consumed(running, "retried") == 2
        # The batch was tried in one transaction up to the poison, then each event alone.
        batch = recorder.sessions[first.id][0]
        assert recorder.sessions[poison.id][0] == batch
        assert len(recorder.sessions[first.id]) == 2 and recorder.sessions[first.id][1] != batch
        assert len(recorder.sessions[second.id]) == 1 and recorder.sessions[second.id][0] != batch

        subscription = await js.pull_subscribe("mentoring-deadletter.>", stream=DEADLETTER_STREAM)
        [message] = await subscription.fetch(1, timeout=5)
        assert json.loads(message.data)["id"] == poison.id
        assert message.headers is not None
        assert message.headers["Upward-Deliveries"] == "3"
        assert (await js.stream_info(DEADLETTER_STREAM)).state.messages == 1


@contextmanager
def failing_commits(running: Running) -> Iterator[dict[str, bool]]:
    """While `state["broken"]`, every commit on the service's database fails."""
    state = {"broken": True}
    engine = running.app.state.engine.sync_engine

    def refuse(session: Session) -> None:
        if state["broken"] and session.bind is engine:
            raise RuntimeError("simulated commit failure")

    event.listen(Session, "before_commit", refuse)
    try:
        yield state
    finally:
        event.remove(Session, "before_commit", refuse)


async def test_a_failed_batch_commit_applies_nothing_and_every_message_comes_again(
    start_kernel_service: Any, js: JetStreamContext
) -> None:
    ids = await backlog(js, 5)
    recorder = BatchRecorder()
    async with start_kernel_service(recorder, consumer_max_deliver=20) as running:
        with failing_commits(running) as state:
            await wait_until(lambda: _at_least(consumed(running, "retried"), 5))
            assert await inbox_count(running) == 0
            for event_id in ids:
                assert await applied_count(running, event_id) == 0
            state["broken"] = False
            await wait_until(lambda: _at_least(consumed(running, "applied"), 5))
        await wait_until(lambda: settled(js))
        for event_id in ids:
            assert await applied_count(running, event_id) == 1
            assert len(recorder.sessions[event_id]) >= 3  # the batch, alone, and again later
        assert await inbox_count(running) == 5
        assert await consumed(running, "duplicate") == 0
        assert (await js.stream_info(DEADLETTER_STREAM)).state.messages == 0


async def test_an_event_another_replica_commits_first_is_acked_without_applying_it_again(
    start_kernel_service: Any, js: JetStreamContext
) -> None:
    holder: list[Running] = []

    async def raced(session: AsyncSession, data: Any) -> None:
        event_id = current_event.get()  # the kernel names the event being applied
        # Another replica got the same event (say, after an ack timeout) and commits it now.
        async with holder[0].app.state.sessionmaker() as other:
            other.add(Programme(name=f"applied {event_id}", created_at=utcnow()))
            other.add(InboxEvent(event_id=event_id, event_type=data.type_name(),
                                 processed_at=utcnow()))
            await other.commit()
        session.add(Programme(name=f"applied {event_id}", created_at=utcnow()))
        await session.flush()

    async with start_kernel_service(raced) as running:
        holder.append(running)
        event_id = await publish(js, pair_ended())
        await wait_until(lambda: consumed(running, "duplicate"))
        await wait_until(lambda: settled(js))
        assert await applied_count(running, event_id) == 1
        assert await consumed(running, "applied") == 0
        assert await consumed(running, "retried") == 0


async def _at_least(value: Any, minimum: float) -> bool:
    return bool(await value >= minimum)


async def publish_pairs(js: JetStreamContext, pair_ids: Sequence[str]) -> None:
    await ensure_streams(js, 1)
    for pair_id in pair_ids:
        envelope = envelope_of(PairEnded(pair_id=pair_id, programme_id="prog-1", reason="admin",
                                         occurred_at=utcnow()))
        await publish_envelope(js, envelope, msg_id=envelope.id)


class BulkRecorder:
    """A handler with a bulk form; records each call of either, by pair id."""

    def __init__(self, poison: str | None = None) -> None:
        self.poison = poison
        self.bulk_calls: list[list[str]] = []
        self.single_calls: list[str] = []

        @applies_many(self.many)
        async def handler(session: AsyncSession, data: PairEnded) -> None:
            await self.one(session, data)

        self.handler = handler

    async def many(self, session: AsyncSession, items: Sequence[PairEnded]) -> None:
        self.bulk_calls.append([item.pair_id for item in items])
        for item in items:
            self.apply(session, item)
        await session.flush()

    async def one(self, session: AsyncSession, data: PairEnded) -> None:
        self.single_calls.append(data.pair_id)
        self.apply(session, data)
        await session.flush()

    def apply(self, session: AsyncSession, data: PairEnded) -> None:
        if data.pair_id == self.poison:
            raise RuntimeError("simulated handler failure")
        session.add(Programme(name=f"applied {data.pair_id}", created_at=utcnow()))


async def test_a_handler_with_a_bulk_form_gets_the_run_of_its_events_in_one_call(
    start_kernel_service: Any, js: JetStreamContext
) -> None:
    pairs = ["p-1", "p-2", "p-3", "p-4"]
    await publish_pairs(js, pairs)
    recorder = BulkRecorder()
    async with start_kernel_service(recorder.handler) as running:
        await wait_until(lambda: consumed(running, "applied"))
        await wait_until(lambda: settled(js))
        assert recorder.bulk_calls == [pairs]
        assert recorder.single_calls == []
        for pair_id in pairs:
            assert await applied_count(running, pair_id) == 1
        assert await inbox_count(running) == 4


class Fetched:
    """A fetched message as the consumer reads it (no NATS): its bytes, and its acks."""

    def __init__(self, data: EventData) -> None:
        self.data = data.envelope(source="/tests").model_dump_json().encode()
        self.acked = 0

    async def ack(self) -> None:
        self.acked += 1


async def test_handlers_sharing_a_bulk_form_get_their_mixed_run_in_one_call_in_order(
    databases: DatabaseFactory,
) -> None:
    bulk_calls: list[list[str]] = []
    single_calls: list[str] = []

    async def pairs_changed(session: AsyncSession, items: Sequence[Any]) -> None:
        bulk_calls.append([f"{item.name} {item.pair_id}" for item in items])

    @applies_many(pairs_changed)
    async def on_formed(session: AsyncSession, data: PairFormed) -> None:
        await pairs_changed(session, [data])

    @applies_many(pairs_changed)
    async def on_ended(session: AsyncSession, data: PairEnded) -> None:
        await pairs_changed(session, [data])

    async def on_proposed(session: AsyncSession, data: PairProposed) -> None:
        single_calls.append(data.pair_id)  # no bulk form: one call per event

    def formed(pair_id: str) -> PairFormed:
        return PairFormed(pair_id=pair_id, programme_id="prog-1", mentor_participant_id="m",
                          mentee_participant_id="s", mentor_employee_id="e-m",
                          mentee_employee_id="e-s", score=0.5, occurred_at=utcnow())

    def ended(pair_id: str) -> PairEnded:
        return PairEnded(pair_id=pair_id, programme_id="prog-1", reason="admin",
                         occurred_at=utcnow())

    def proposed(pair_id: str) -> PairProposed:
        return PairProposed(pair_id=pair_id, programme_id="prog-1", mentor_participant_id="m",
                            mentee_participant_id="s", mentor_employee_id="e-m",
                            mentee_employee_id="e-s", occurred_at=utcnow())

    url = databases.new("runs")
    await upgrade_async(ENROLMENT.migrations_dir, url)
    engine = create_engine(url)
    consumer = EventConsumer(
        service="kerneltest", bus=cast(Any, None), sessionmaker=make_sessionmaker(engine),
        handlers={PairFormed: on_formed, PairEnded: on_ended, PairProposed: on_proposed},
        batch_size=16, max_deliver=3, backoff_seconds=[0.1], ack_wait_seconds=30,
        registry=CollectorRegistry())
    batch = [Fetched(event) for event in (
        formed("p-1"), ended("p-1"), formed("p-2"), proposed("p-3"), proposed("p-4"),
        ended("p-2"), formed("p-5"))]
    try:
        await consumer.handle_batch(batch)  # type: ignore[arg-type]
    finally:
        await engine.dispose()
    # Formed and ended share one bulk form: each run of them, mixed, is one call in order.
    assert bulk_calls == [["pair.formed p-1", "pair.ended p-1", "pair.formed p-2"],
                          ["pair.ended p-2", "pair.formed p-5"]]
    assert single_calls == ["p-3", "p-4"]
    assert [message.acked for message in batch] == [1] * 7


async def test_a_bulk_run_that_fails_is_applied_one_event_at_a_time(
    start_kernel_service: Any, js: JetStreamContext
) -> None:
    pairs = ["p-1", "poison", "p-2"]
    await publish_pairs(js, pairs)
    recorder = BulkRecorder(poison="poison")
    async with start_kernel_service(recorder.handler, consumer_max_deliver=2) as running:
        await wait_until(lambda: consumed(running, "dead_lettered"))
        await wait_until(lambda: settled(js))
        assert recorder.bulk_calls == [pairs]
        # Alone, each event goes through the one-event form; the poison is tried twice.
        assert recorder.single_calls[:3] == pairs
        assert recorder.single_calls.count("poison") == 2
        assert await applied_count(running, "p-1") == 1
        assert await applied_count(running, "p-2") == 1
        assert await applied_count(running, "poison") == 0
        assert await inbox_count(running) == 2


async def test_a_full_batch_is_read_ahead_while_applied_and_handed_back_at_stop(
    start_kernel_service: Any, js: JetStreamContext
) -> None:
    entered = asyncio.Event()
    release = asyncio.Event()
    applied: list[str] = []

    async def slow(session: AsyncSession, data: Any) -> None:
        entered.set()
        await release.wait()
        applied.append(current_event.get())

    async with start_kernel_service(slow, consumer_batch_size=2, consumer_ack_wait_seconds=60,
                                    consumer_read_ahead=True) as running:
        for _ in range(6):
            await publish(js, pair_ended())
        await asyncio.wait_for(entered.wait(), timeout=10)

        # The first batch is being applied and the next one is already fetched.
        async def unacked() -> int:
            return int((await js.consumer_info(STREAM, "kerneltest")).num_ack_pending)

        await wait_until(lambda: _equals(unacked(), 4))
        consumer = running.app.state.consumer
        stopping = asyncio.create_task(consumer.stop())
        release.set()
        await stopping

        # The batch being applied was committed and acked; the one read ahead was
        # handed back at once, not left to wait out the 60 s ack_wait: another replica
        # pulling now gets it again within seconds, beside the two never delivered. (The
        # server settles a nak on its own time, after the flush: a first pull may come
        # back with the two new ones alone, so the replica pulls until it has all four.)
        assert len(applied) == 2
        replica = await js.pull_subscribe_bind("kerneltest", STREAM)
        received: list[tuple[int, int]] = []
        deadline = asyncio.get_running_loop().time() + 5
        while len(received) < 4 and asyncio.get_running_loop().time() < deadline:
            try:
                messages = await replica.fetch(4 - len(received), timeout=1)
            except nats.errors.TimeoutError:
                continue
            received += [(m.metadata.sequence.stream, m.metadata.num_delivered)
                         for m in messages]
        assert sorted(received) == [(3, 2), (4, 2), (5, 1), (6, 1)]
        await replica.unsubscribe()


async def test_reading_ahead_is_off_on_either_database_unless_set(
    start_kernel_service: Any,
) -> None:
    async with start_kernel_service(recording_handler()) as running:
        assert running.app.state.consumer.read_ahead is False
    async with start_kernel_service(recording_handler(), consumer_read_ahead=True) as running:
        assert running.app.state.consumer.read_ahead is True


async def _equals(value: Any, expected: int) -> bool:
    return bool(await value == expected)
