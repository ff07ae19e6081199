"""A flood of events applied in bulk leaves exactly what applying them one by one leaves."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

from analytics import repository
from analytics.main import SERVICE
from analytics.models import TABLES, Employee
from tests.support.databases import DatabaseFactory, statements
from upward_common.consumer import EventConsumer
from upward_common.db import Sessionmaker, create_engine, make_sessionmaker, upgrade_async
from upward_common.events import (
    EmployeeErased,
    EmployeeSnapshot,
    EmployeeUpdated,
    EventData,
    GoalUpdated,
    PairEnded,
    PairFormed,
    ParticipantEnrolled,
    ParticipantRole,
    ParticipantState,
    ParticipantUpdated,
    ParticipantWithdrawn,
    ProgrammeSnapshot,
    ProgrammeUpdated,
    SessionCancelled,
    SessionLogged,
    SessionRescheduled,
    SessionScheduled,
)
from upward_common.outbox import SOURCE_KEY

T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def person(employee_id: str, *, department: str = "Sales", level: int = 3,
           active: bool = True) -> EmployeeSnapshot:
    return EmployeeSnapshot(employee_id=employee_id, external_id=f"x-{employee_id}",
                            email=f"{employee_id}@example.com", given_name="Ada",
                            family_name="Lovelace", job_level=level, department=department,
                            hire_on=date(2020, 1, 6), active=active)


def updated(employee_id: str, minute: int, **values: Any) -> EmployeeUpdated:
    return EmployeeUpdated(employee=person(employee_id, **values), occurred_at=at(minute))


def programme(programme_id: str, minute: int, name: str) -> ProgrammeUpdated:
    return ProgrammeUpdated(programme=ProgrammeSnapshot(programme_id=programme_id, name=name,
                                                        status="open"),
                            occurred_at=at(minute))


def participant(participant_id: str, employee_id: str, role: ParticipantRole = "mentor",
                status: str = "active") -> ParticipantState:
    return ParticipantState.model_validate({
        "participant_id": participant_id, "programme_id": "prog-1", "role": role,
        "status": status, "employee": person(employee_id).model_dump()})


def enrolled(participant_id: str, employee_id: str, minute: int,
             role: ParticipantRole = "mentor") -> ParticipantEnrolled:
    return ParticipantEnrolled(participant=participant(participant_id, employee_id, role),
                               occurred_at=at(minute))


def changed(participant_id: str, employee_id: str, minute: int,
            status: str = "active") -> ParticipantUpdated:
    return ParticipantUpdated(participant=participant(participant_id, employee_id,
                                                      status=status),
                              occurred_at=at(minute))


def withdrawn(participant_id: str, employee_id: str, minute: int) -> ParticipantWithdrawn:
    return ParticipantWithdrawn(participant_id=participant_id, programme_id="prog-1",
                                employee_id=employee_id, occurred_at=at(minute))


def formed(pair_id: str, minute: int) -> PairFormed:
    return PairFormed(pair_id=pair_id, programme_id="prog-1", mentor_participant_id="p-1",
                      mentee_participant_id="p-3", mentor_employee_id="e-1",
                      mentee_employee_id="e-3", score=0.5, occurred_at=at(minute))


def ended(pair_id: str, minute: int, reason: str = "completed") -> PairEnded:
    return PairEnded(pair_id=pair_id, programme_id="prog-1", reason=reason, occurred_at=at(minute))


def scheduled(session_id: str, pair_id: str, minute: int, *, starts: int = 60,
              duration: int = 30) -> SessionScheduled:
    return SessionScheduled(session_id=session_id, pair_id=pair_id, programme_id="prog-1",
                            starts_at=at(starts), duration_minutes=duration,
                            occurred_at=at(minute))


def logged(session_id: str, pair_id: str, minute: int, *, held: int | None = None,
           author: ParticipantRole | None = None, rating: int | None = None,
           topics: Sequence[str] = ()) -> SessionLogged:
    """Held at `held` (else at `minute`), logged at `minute`."""
    return SessionLogged(session_id=session_id, pair_id=pair_id, programme_id="prog-1",
                         held_at=at(minute if held is None else held), duration_minutes=45,
                         logged_by_employee_id="e-1", occurred_at=at(minute),
                         author_role=author, rating=rating, topics=list(topics))


def cancelled(session_id: str, pair_id: str, minute: int) -> SessionCancelled:
    return SessionCancelled(session_id=session_id, pair_id=pair_id, programme_id="prog-1",
                            reason="pair ended", occurred_at=at(minute))


def rescheduled(session_id: str, pair_id: str, minute: int, *, starts: int) -> SessionRescheduled:
    return SessionRescheduled(session_id=session_id, pair_id=pair_id, programme_id="prog-1",
                              starts_at=at(starts), duration_minutes=50, occurred_at=at(minute))


def goal(goal_id: str, pair_id: str, minute: int, status: str) -> GoalUpdated:
    return GoalUpdated(goal_id=goal_id, pair_id=pair_id, programme_id="prog-1", status=status,
                       progress_percent=100 if status == "achieved" else 40,
                       occurred_at=at(minute))


@dataclass
class Message:
    """What the consumer reads of a fetched JetStream message; settling it is recorded."""

    data: bytes
    settled: list[str] = field(default_factory=list)

    async def ack(self) -> None:
        self.settled.append("ack")

    async def in_progress(self) -> None:
        self.settled.append("in_progress")


def messages(events: Sequence[EventData | Message]) -> list[Message]:
    """A message per event; a Message given again stands for a redelivery of the same id."""
    return [item if isinstance(item, Message)
            else Message(item.envelope(source="/tests").model_dump_json().encode())
            for item in events]


@asynccontextmanager
async def analytics_database(databases: DatabaseFactory,
                             name: str) -> AsyncIterator[tuple[AsyncEngine, EventConsumer]]:
    """A migrated analytics database and the analytics consumer over it (no NATS needed)."""
    url = databases.new(name)
    await upgrade_async(SERVICE.migrations_dir, url)
    engine = create_engine(url)
    # Analytics emits (milestones), so its sessions name their event source.
    sessionmaker: Sessionmaker = make_sessionmaker(engine, **{SOURCE_KEY: SERVICE.source})
    consumer = EventConsumer(service="analytics", bus=cast(Any, None),
                             sessionmaker=sessionmaker, handlers=SERVICE.handlers,
                             batch_size=64, max_deliver=3, backoff_seconds=[0.1],
                             ack_wait_seconds=30, registry=CollectorRegistry())
    try:
        yield engine, consumer
    finally:
        await engine.dispose()


async def tables(engine: AsyncEngine) -> dict[str, dict[Any, dict[str, Any]]]:
    """Every analytics table: each row's columns, by its key."""
    dumped = {}
    async with engine.connect() as connection:
        for name in TABLES:
            table = SQLModel.metadata.tables[name]
            keys = list(table.primary_key.columns)
            rows = (await connection.execute(sa.select(table).order_by(*keys))).all()
            dumped[name] = {tuple(row._mapping[key] for key in keys): dict(row._mapping)
                            for row in rows}
    return dumped


def flood() -> tuple[list[EventData | Message], list[EventData | Message]]:
    """Two fetched batches with late, tied, repeated and redelivered events within runs."""
    again = messages([updated("e-1", 7, department="Ops")])[0]
    first: list[EventData | Message] = [
        programme("prog-1", 2, "Digital"), programme("prog-1", 1, "Older"),
        programme("prog-2", 1, "Other"), programme("prog-1", 2, "Digital, tied"),
        updated("e-1", 5, department="Sales"), updated("e-2", 1),
        updated("e-1", 3, department="Older"),  # late: e-1 stays as of minute 5
        again, updated("e-3", 2, level=4),
        Message(again.data),  # the same event id again, in the same batch
        updated("e-1", 7, department="Ops, tied"),  # same time as `again`, arrives last
        EmployeeErased(employee_id="e-4", occurred_at=at(4)),
        updated("e-4", 9, department="Back"),  # after the erasure: the tombstone stays
        updated("e-5", 1), updated("e-6", 1),
        withdrawn("p-3", "e-3", 6),  # ahead of its enrolment
        enrolled("p-1", "e-1", 1), enrolled("p-2", "e-4", 1),  # e-4 was erased
        enrolled("p-3", "e-3", 2, role="mentee"), enrolled("p-1", "e-1", 0),
        changed("p-1", "e-1", 8, status="withdrawn"), changed("p-1", "e-1", 3),
    ]
    second: list[EventData | Message] = [
        updated("e-2", 0, department="Older"), updated("e-3", 3, level=5),
        updated("e-2", 4, department="Newer"), updated("e-3", 2, level=1),
        updated("e-5", 1, department="Tied across batches"),
        updated("e-1", 6, department="Late"),  # older than what the first batch left
        Message(again.data),  # a redelivery of an event applied in the first batch
        EmployeeErased(employee_id="e-6", occurred_at=at(0)),
        updated("e-6", 5),  # newer than the erasure, still not brought back
        withdrawn("p-1", "e-1", 8),  # ties with the update to withdrawn
        changed("p-2", "e-4", 9, status="withdrawn"), withdrawn("p-2", "e-4", 2),
        enrolled("p-4", "e-6", 3), programme("prog-2", 0, "Older"),
    ]
    twice = messages([logged("s-5", "pr-2", 4, author="mentor", rating=2)])[0]
    first += [
        formed("pr-1", 0), ended("pr-3", 5), formed("pr-3", 1),  # ended before it formed
        formed("pr-2", 0),
        scheduled("s-1", "pr-1", 1), logged("s-1", "pr-1", 2, author="mentor", rating=4,
                                            topics=["career", "career", "craft"]),
        logged("s-2", "pr-1", 3, author="mentee"),  # ahead of its plan
        scheduled("s-2", "pr-1", 1, duration=60),  # the held length stays
        scheduled("s-3", "pr-1", 2), cancelled("s-3", "pr-1", 3),
        rescheduled("s-3", "pr-1", 4, starts=90),  # cancelled, then moved
        logged("s-4", "pr-1", 9, held=1),  # held first, logged late: the first stays as is
        twice, Message(twice.data),  # the same event id twice in a batch
        logged("s-5", "pr-2", 4, author="mentor", rating=5),  # a tie: the last one stands
        logged("s-5", "pr-2", 1, held=3, author="mentor", rating=1),  # an older log
        goal("g-1", "pr-1", 2, "active"), goal("g-1", "pr-1", 6, "achieved"),
        goal("g-1", "pr-1", 4, "active"),  # late: the goal stays achieved
        goal("g-2", "pr-2", 5, "achieved"), goal("g-3", "pr-1", 7, "achieved"),
    ]
    second += [
        # pr-1's fourth and fifth held sessions; the fifth earliest was held at minute 11.
        logged("s-6", "pr-1", 11), logged("s-7", "pr-1", 12, held=0),
        Message(twice.data),  # a redelivery across batches
        scheduled("s-8", "pr-1", 13), logged("s-8", "pr-1", 14),  # a sixth: nothing new
        scheduled("s-9", "pr-2", 13, duration=20), rescheduled("s-9", "pr-2", 14, starts=95),
        scheduled("s-9", "pr-2", 15, starts=99), cancelled("s-9", "pr-2", 16),
        ended("pr-1", 20), ended("pr-1", 21, "poor_fit"), ended("pr-1", 19),  # the first counts
        formed("pr-3", 2), ended("pr-2", 22, "poor_fit"),
    ]
    return first, second


async def announced(engine: AsyncEngine) -> list[tuple[Any, ...]]:
    """The events written to the outbox, in order: subject, type and data (their ids,
    times and correlation are their own)."""
    async with engine.connect() as connection:
        rows = (await connection.execute(sa.text(
            "SELECT subject, ce_subject, payload FROM outbox_event ORDER BY seq"))).all()
    return [(subject, ce_subject, payload["type"], payload["data"])
            for subject, ce_subject, text in rows for payload in [json.loads(text)]]


async def test_runs_applied_in_bulk_leave_the_tables_one_by_one_leaves(
    databases: DatabaseFactory,
) -> None:
    first, second = flood()
    batches = [messages(first), messages(second)]
    async with analytics_database(databases, "bulk") as (bulk, consumer):
        for batch in batches:
            await consumer.handle_batch(cast(Any, batch))
        in_bulk, sent_in_bulk = await tables(bulk), await announced(bulk)
    async with analytics_database(databases, "single") as (single, consumer):
        for batch in batches:
            for message in batch:
                await consumer.handle_batch(cast(Any, [Message(message.data)]))
        one_by_one, sent_one_by_one = await tables(single), await announced(single)
    assert all(message.settled == ["ack"] for batch in batches for message in batch)
    # Retention's inputs version counts the transactions that wrote its inputs, not facts:
    # one per batch in bulk (both write employees), one per such event one by one.
    assert in_bulk.pop("analytics_retention_inputs") == {(1,): {"id": 1, "version": 2}}
    assert one_by_one.pop("analytics_retention_inputs")[1,]["version"] > 2
    assert in_bulk == one_by_one
    assert sent_in_bulk == sent_one_by_one
    # And what they both hold is right.
    employees = {key[0]: row for key, row in in_bulk["analytics_employee"].items()}
    assert employees["e-1"]["department"] == "Ops, tied"  # the last of the latest
    assert employees["e-1"]["occurred_at"] == at(7)
    assert employees["e-2"]["department"] == "Newer" and employees["e-3"]["job_level"] == 5
    assert employees["e-5"]["department"] == "Tied across batches"
    for tombstone in ("e-4", "e-6"):
        assert employees[tombstone]["erased_at"] is not None
        assert employees[tombstone]["department"] is None
    assert {key[0]: row["name"] for key, row in in_bulk["analytics_programme"].items()} == {
        "prog-1": "Digital, tied", "prog-2": "Other"}
    participants = {key[0]: row for key, row in in_bulk["analytics_participant"].items()}
    assert participants["p-1"]["status"] == "withdrawn"
    assert participants["p-1"]["enrolled_at"] == at(0)
    assert participants["p-2"]["employee_id"] is None  # e-4 was erased
    assert participants["p-2"]["status"] == "withdrawn"
    assert participants["p-3"]["role"] == "mentee" and participants["p-3"]["status"] == "withdrawn"
    assert participants["p-4"]["employee_id"] is None  # enrolled after the erasure of e-6

    pairs = {key[0]: row for key, row in in_bulk["analytics_pair"].items()}
    assert pairs["pr-3"]["formed_at"] == at(1) and pairs["pr-3"]["ended_at"] == at(5)
    assert pairs["pr-1"]["ended_at"] == at(20) and pairs["pr-1"]["ended_reason"] == "completed"
    assert pairs["pr-2"]["ended_reason"] == "poor_fit" and pairs["pr-2"]["score"] == 0.5
    sessions = {key[0]: row for key, row in in_bulk["analytics_session"].items()}
    assert sessions["s-2"]["scheduled_at"] == at(1) and sessions["s-2"]["duration_minutes"] == 45
    assert sessions["s-3"]["cancelled_at"] == at(3) and sessions["s-3"]["starts_at"] == at(90)
    assert sessions["s-9"]["duration_minutes"] == 20 and sessions["s-9"]["starts_at"] == at(99)
    assert sessions["s-9"]["cancelled_at"] == at(16)
    assert sessions["s-5"]["held_at"] == at(3)  # the last log to arrive says when
    logs = in_bulk["analytics_session_log"]
    assert logs["s-1", "mentor"]["topics"] == ["career", "craft"]
    assert logs["s-5", "mentor"]["rating"] == 5 and logs["s-5", "mentor"]["occurred_at"] == at(4)
    assert in_bulk["analytics_goal"]["g-1",]["status"] == "achieved"
    # Each milestone once, when it was reached, counting the programme's pairs as it goes.
    assert [(data["pair_id"], data["milestone"], data["value"],
             datetime.fromisoformat(data["occurred_at"]))
            for _, _, kind, data in sent_in_bulk if kind == "milestone.reached.v1"] == [
        ("pr-3", "programme_completed", 1, at(5)),
        ("pr-1", "first_session_held", 1, at(2)),
        ("pr-2", "first_session_held", 2, at(4)),
        ("pr-1", "goal_achieved", 1, at(6)),
        ("pr-2", "goal_achieved", 2, at(5)),
        ("pr-1", "five_sessions_held", 1, at(11)),
        ("pr-1", "programme_completed", 2, at(20)),
    ]
    assert len(in_bulk["analytics_pair_milestone"]) == 7


async def test_a_run_of_employee_updates_is_written_in_a_few_statements(
    databases: DatabaseFactory,
) -> None:
    events: list[EventData | Message] = [updated(f"e-{n}", n % 7) for n in range(300)]
    events += [updated(f"e-{n}", 3, department="Later") for n in range(0, 300, 2)]
    table = SQLModel.metadata.tables["analytics_employee"]
    async with analytics_database(databases, "bulk") as (engine, consumer):
        async with engine.connect():
            pass  # the first connection's own setup queries are not the batch's
        with statements(engine) as seen:
            await consumer.handle_batch(cast(Any, messages(events)))
        async with engine.connect() as connection:
            later = await connection.scalar(sa.select(sa.func.count()).select_from(table)
                                            .where(table.c.department == "Later"))
    # One to read the inbox, one upsert, one inbox insert (plus the transaction's own), and
    # for the level history promotion reads: one to find erased employees, one upsert.
    written = [sql for sql in seen if "INTO analytics_employee " in sql]
    assert len(written) == 1, written
    levels = [sql for sql in seen if "analytics_employee_level" in sql]
    assert len(levels) == 1, levels
    assert len(seen) <= 8, seen
    # Those whose first update was older than minute 3 took the later one.
    assert later == len([n for n in range(0, 300, 2) if n % 7 <= 3])


async def test_a_run_of_session_events_is_written_in_a_few_statements(
    databases: DatabaseFactory,
) -> None:
    # Ten sessions of each of five pairs planned; then a run of 100: 50 logged (ten new),
    # 30 moved and 20 new ones cancelled. Every pair reaches its first and fifth session.
    planned: list[EventData | Message] = [scheduled(f"s-{n}", f"pr-{n % 5}", 1)
                                          for n in range(40)]
    events: list[EventData | Message] = [
        *[logged(f"s-{n}", f"pr-{n % 5}", 10 + n, author="mentor", rating=4)
          for n in range(50)],
        *[rescheduled(f"s-{n}", f"pr-{n % 5}", 70, starts=200) for n in range(20, 50)],
        *[cancelled(f"s-{n}", f"pr-{n % 5}", 80) for n in range(50, 70)],
    ]
    assert len(events) == 100
    async with analytics_database(databases, "bulk") as (engine, consumer):
        await consumer.handle_batch(cast(Any, messages(planned)))
        with statements(engine) as seen:
            await consumer.handle_batch(cast(Any, messages(events)))
        sent = await announced(engine)
    assert len([kind for _, _, kind, _ in sent if kind == "milestone.reached.v1"]) == 10
    # The inbox read; the sessions, logs, held sessions, milestones and their counts read
    # once each; one write per table: sessions, logs, milestones, outbox and inbox (the
    # last two a COPY on PostgreSQL, which runs outside these statements).
    writes = [sql for sql in seen if sql.lstrip().startswith(("INSERT", "UPDATE"))]
    for table in ("analytics_session", "analytics_session_log", "analytics_pair_milestone"):
        assert len([sql for sql in writes if f"INTO {table} " in sql]) == 1, writes
    assert len(writes) <= 5, writes
    assert len([sql for sql in seen if "analytics_session " in sql]) == 3, seen
    assert len(seen) <= 12, seen


async def test_a_row_written_in_bulk_reads_fresh_in_the_same_transaction(
    databases: DatabaseFactory,
) -> None:
    async with (analytics_database(databases, "fresh") as (engine, _),
                make_sessionmaker(engine)() as session):
        await repository.upsert_newer(session, Employee, [
            {"id": "e-1", "department": "Sales", "active": True, "occurred_at": at(1)}])
        loaded = await repository.get(session, Employee, "e-1")
        assert loaded is not None and loaded.department == "Sales"
        await repository.upsert_newer(session, Employee, [
            {"id": "e-1", "department": "Ops", "active": True, "occurred_at": at(2)}])
        again = await repository.get(session, Employee, "e-1")
        assert again is not None and again.department == "Ops"
        await session.commit()
