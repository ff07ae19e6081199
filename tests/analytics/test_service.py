"""A flood of events applied in bulk leaves exactly what applying them one by one leaves."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from prometheus_client import CollectorRegistry
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

from analytics import repository
from analytics.main import SERVICE
from analytics.models import TABLES, Employee
from tests.support.databases import DatabaseFactory
from upward_common.consumer import EventConsumer
from upward_common.db import Sessionmaker, create_engine, make_sessionmaker, upgrade_async
from upward_common.events import (
    EmployeeErased,
    EmployeeSnapshot,
    EmployeeUpdated,
    EventData,
    ParticipantEnrolled,
    ParticipantRole,
    ParticipantState,
    ParticipantUpdated,
    ParticipantWithdrawn,
    ProgrammeSnapshot,
    ProgrammeUpdated,
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


@contextmanager
def statements(engine: AsyncEngine) -> Iterator[list[str]]:
    """The SQL statements the engine runs meanwhile (an executemany counts once)."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(args[2])

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


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
    return first, second


async def test_runs_applied_in_bulk_leave_the_tables_one_by_one_leaves(
    databases: DatabaseFactory,
) -> None:
    first, second = flood()
    batches = [messages(first), messages(second)]
    async with analytics_database(databases, "bulk") as (bulk, consumer):
        for batch in batches:
            await consumer.handle_batch(cast(Any, batch))
        in_bulk = await tables(bulk)
    async with analytics_database(databases, "single") as (single, consumer):
        for batch in batches:
            for message in batch:
                await consumer.handle_batch(cast(Any, [Message(message.data)]))
        one_by_one = await tables(single)
    assert all(message.settled == ["ack"] for batch in batches for message in batch)
    assert in_bulk == one_by_one
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
