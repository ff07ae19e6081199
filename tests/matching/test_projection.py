"""The bulk form of `on_employee_updated` leaves exactly what applying each event in turn does."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import Table, select, text
from sqlmodel.ext.asyncio.session import AsyncSession

from matching import projection, repository
from matching.main import SERVICE
from matching.models import TABLES, MatchingEmployee, Pair, PairStatus
from tests.matching.conftest import at, employee, participant
from tests.support.databases import DatabaseFactory, on_postgres, postgres_plan
from upward_common.db import create_engine, make_sessionmaker, upgrade_async
from upward_common.events import (
    EmployeeErased,
    EmployeeUpdated,
    ParticipantEnrolled,
    ParticipantUpdated,
    ProgrammeSnapshot,
    ProgrammeUpdated,
)
from upward_common.outbox import SOURCE_KEY
from upward_common.tables import OutboxEvent

P1, P2 = "prog-bulk-1", "prog-bulk-2"


def update(employee_id: str, minutes: int, **values: Any) -> EmployeeUpdated:
    return EmployeeUpdated(employee=employee(employee_id, **values), occurred_at=at(minutes))


async def background(session: AsyncSession) -> None:
    """Two programmes, their people, an erased employee and a pair whose mentor will leave."""
    for programme_id in (P1, P2):
        await projection.on_programme_updated(session, ProgrammeUpdated(
            programme=ProgrammeSnapshot(programme_id=programme_id, name="Bulk", status="open"),
            occurred_at=at(0)))
    people = [(P1, "mentor", "e-stays", "p-stays-1"), (P2, "mentee", "e-stays", "p-stays-2"),
              (P1, "mentor", "e-leaves", "p-leaves"), (P1, "mentee", "e-mentee", "p-mentee"),
              (P2, "mentor", "e-erased", "p-erased")]
    for programme_id, role, employee_id, participant_id in people:
        await projection.on_participant_enrolled(session, ParticipantEnrolled(
            participant=participant(programme_id, role, employee(employee_id, job_level=5),
                                    participant_id),
            occurred_at=at(10)))
    await projection.on_employee_erased(session, EmployeeErased(employee_id="e-erased",
                                                                occurred_at=at(11)))
    session.add(Pair(id="pair-1", programme_id=P1, mentor_participant_id="p-leaves",
                     mentee_participant_id="p-mentee", mentor_employee_id="e-leaves",
                     mentee_employee_id="e-mentee", status=PairStatus.ACTIVE, origin="manual",
                     score=50.0, proposed_at=at(12), formed_at=at(12)))
    await session.flush()


# One run of employee.updated events as a fetched batch could hold them: out of order,
# the same employee several times, ties, an erased employee, a leaver who comes back.
RUN = [
    update("e-stays", 5, department="Old"),  # older than the enrolment's snapshot: ignored
    update("e-stays", 20, department="Sales"),
    update("e-new", 3, department="First"),
    update("e-new", 2, department="Older"),  # older than the one before it in the run
    update("e-new", 3, department="Tie"),  # same time: the later event wins
    update("e-erased", 50, given_name="Back"),  # erased stays erased
    update("e-leaves", 30, active=False),  # ends the active pair (departure)
    update("e-stays", 15, department="Stale"),  # older than the run's own newer update
    update("e-leaves", 31, active=True),
    update("e-mentee", 25, job_level=9),
    update("e-enrolled", 40, department="Newest"),  # enrolled earlier in the same batch
    update("e-gone", 60, active=False),  # a leaver matching never saw, in no programme
]


async def one_by_one(session: AsyncSession, run: list[EmployeeUpdated]) -> None:
    for data in run:
        await projection.on_employee_updated(session, data)


async def in_bulk(session: AsyncSession, run: list[EmployeeUpdated]) -> None:
    await projection.on_employee_updated_many(session, run)


async def tables_after(databases: DatabaseFactory, name: str,
                       apply: Callable[[AsyncSession, list[EmployeeUpdated]], Awaitable[None]],
                       ) -> dict[str, list[Any]]:
    url = databases.new(name)
    await upgrade_async(SERVICE.migrations_dir, url)
    engine = create_engine(url)
    sessionmaker = make_sessionmaker(engine, **{SOURCE_KEY: SERVICE.source})
    try:
        async with sessionmaker() as session:
            await background(session)
            await session.commit()
        async with sessionmaker() as session:
            # As in a fetched batch: other handlers before and after the run, one transaction.
            enrolled = participant(P2, "mentee", employee("e-enrolled", department="Enrolled"),
                                   "p-enrolled")
            await projection.on_participant_enrolled(
                session, ParticipantEnrolled(participant=enrolled, occurred_at=at(35)))
            # The session still holds that row (as it would while anything refers to it).
            held = await session.get(MatchingEmployee, "e-enrolled")
            await apply(session, RUN)
            older = enrolled.model_copy(update={
                "employee": employee("e-enrolled", department="Stale"), "survey_version": 2})
            await projection.on_participant_updated(
                session, ParticipantUpdated(participant=older, occurred_at=at(38)))
            await session.commit()
            assert held is not None
        async with engine.connect() as connection:
            found: dict[str, list[Any]] = {}
            for table_name in TABLES:
                table: Table = SERVICE_TABLES[table_name]
                rows = await connection.execute(select(table).order_by(*table.primary_key))
                found[table_name] = [dict(row._mapping) for row in rows]
            outbox: Table = OutboxEvent.__table__  # type: ignore[attr-defined]
            events = await connection.execute(
                select(outbox.c.subject, outbox.c.payload).order_by(outbox.c.created_at))
            found["outbox_event"] = [(subject, json.loads(payload)["data"])
                                     for subject, payload in events]
            return found
    finally:
        await engine.dispose()


SERVICE_TABLES: dict[str, Table] = {
    table.name: table for table in OutboxEvent.metadata.sorted_tables if table.name in TABLES}


async def test_the_bulk_form_leaves_the_same_tables_as_one_by_one(
    databases: DatabaseFactory,
) -> None:
    expected = await tables_after(databases, "one_by_one", one_by_one)
    found = await tables_after(databases, "bulk", in_bulk)
    assert found == expected

    # And what they both hold is what order tolerance means.
    people = {row["id"]: row for row in expected["matching_employee"]}
    assert people["e-stays"]["department"] == "Sales"
    assert people["e-new"]["department"] == "Tie"
    assert not people["e-gone"]["active"]
    assert people["e-erased"]["erased"] and people["e-erased"]["given_name"] is None
    assert people["e-leaves"]["active"]
    assert people["e-enrolled"]["department"] == "Newest"
    [pair] = expected["matching_pair"]
    assert pair["status"] == "ended" and pair["end_reason"] == "departure"
    assert [subject for subject, _ in expected["outbox_event"]] == ["mentoring.pair.ended"]
    revisions = {row["id"]: row["revision"] for row in expected["matching_programme"]}
    before = {row["id"]: row["revision"] for row in (await tables_before(databases))}
    assert all(revisions[p] > before[p] for p in (P1, P2))  # the pool cache is invalidated


async def tables_before(databases: DatabaseFactory) -> list[dict[str, Any]]:
    url = databases.new("before")
    await upgrade_async(SERVICE.migrations_dir, url)
    engine = create_engine(url)
    try:
        async with make_sessionmaker(engine, **{SOURCE_KEY: SERVICE.source})() as session:
            await background(session)
            await session.commit()
        async with engine.connect() as connection:
            table = SERVICE_TABLES["matching_programme"]
            return [dict(row._mapping) for row in await connection.execute(select(table))]
    finally:
        await engine.dispose()


@pytest.mark.skipif(not on_postgres(), reason="the plan of PostgreSQL's form of the lookup")
async def test_a_batch_looks_up_its_employees_by_index_in_a_grown_table_without_statistics(
    databases: DatabaseFactory,
) -> None:
    """An HRIS import grows the employee table faster than autovacuum analyses it: the
    batch's lookup still probes the index, where `id = ANY(array)` reads the whole table."""
    url = databases.new("matching")
    await upgrade_async(SERVICE.migrations_dir, url)
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text(
                "INSERT INTO matching_employee (id, given_name, department, manager_chain, "
                "active, erased, occurred_at) SELECT 'e-' || n, 'Ada', 'Engineering', '[]', "
                "true, false, now() FROM generate_series(1, 100000) AS n"))
        async with engine.connect() as connection:
            asked = {"ids": [f"e-{n}" for n in range(1, 100_000, 200)] + ["absent"]}

            async def plan(sql: str) -> str:
                return await postgres_plan(connection, sql, asked)

            # The premise: this table, as it stands, is read whole for `= ANY`.
            assert "Seq Scan on matching_employee" in await plan(
                "SELECT id FROM matching_employee WHERE id = ANY(%(ids)b)")
            chosen = await plan(repository._KNOWN_OR_TAKING_PART_SQL)
            assert "Seq Scan on matching_employee" not in chosen, chosen
        async with AsyncSession(engine) as session:
            known, roles = await repository.employees_and_roles(session, asked["ids"])
        assert len(known) == 500 and not roles
    finally:
        await engine.dispose()
