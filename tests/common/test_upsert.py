"""The kernel's upsert writes through the driver what Core would write, and falls back to Core."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import psycopg
from sqlalchemy.dialects.sqlite import aiosqlite
from sqlmodel import select

from analytics.main import SERVICE as ANALYTICS
from analytics.models import Employee as AnalyticsEmployee
from matching.main import SERVICE
from matching.models import MatchingEmployee
from matching.repository import EMPLOYEE, _not_erased_nor_newer
from tests.support.databases import DatabaseFactory, on_postgres, postgres_plan
from upward_common.db import (
    _driver_statement,
    _upsert_arrays,
    _upsert_rows,
    bulk_insert,
    create_engine,
    ids_in,
    ids_in_sql,
    make_sessionmaker,
    upgrade_async,
    upsert,
)
from upward_common.tables import InboxEvent

T0 = datetime(2026, 11, 2, 9, tzinfo=timezone(timedelta(hours=2)))


def row(employee_id: str, minutes: int, **values: object) -> dict[str, object]:
    return {"id": employee_id, "given_name": "Ada \"Countess\", \\ {x}", "job_level": 3,
            "department": None, "manager_id": "m-1", "manager_chain": ["m-1", "m \"2\""],
            "location": "New York", "time_zone": "Europe/London", "leave_on": None,
            "active": True, "occurred_at": T0 + timedelta(minutes=minutes), **values}


async def test_rows_land_as_written_and_order_tolerance_holds(databases: DatabaseFactory
                                                              ) -> None:
    url = databases.new("upsert")
    await upgrade_async(SERVICE.migrations_dir, url)
    engine = create_engine(url)
    sessionmaker = make_sessionmaker(engine)
    try:
        async with sessionmaker() as session:
            await upsert(session, MatchingEmployee,
                         [{**row("e-1", 5), "erased": False},
                          {**row("e-2", 5, leave_on=date(2027, 1, 4), active=False),
                           "erased": False}],
                         where=_not_erased_nor_newer, insert_only=("erased",))
            # An older event for e-1 changes nothing; a newer one for e-2 wins.
            await upsert(session, MatchingEmployee,
                         [{**row("e-1", 1, given_name="Older"), "erased": False},
                          {**row("e-2", 9, given_name="Newer"), "erased": False}],
                         where=_not_erased_nor_newer, insert_only=("erased",))
            # Without `erased` (a column with a Python-side default) Core writes it.
            await upsert(session, MatchingEmployee, [row("e-3", 2)])
            await session.commit()
        async with sessionmaker() as session:
            found = {e.id: e for e in await session.exec(select(MatchingEmployee))}
    finally:
        await engine.dispose()
    assert found["e-1"].given_name == "Ada \"Countess\", \\ {x}"
    assert found["e-1"].manager_chain == ["m-1", "m \"2\""]
    assert found["e-1"].occurred_at == T0 + timedelta(minutes=5)
    assert found["e-1"].occurred_at.tzinfo is not None
    assert found["e-1"].department is None and found["e-1"].leave_on is None
    assert (found["e-2"].given_name, found["e-2"].leave_on) == ("Newer", None)
    assert found["e-3"].erased is False and found["e-3"].job_level == 3
    assert found["e-3"].occurred_at.astimezone(UTC) == (T0 + timedelta(minutes=2)).astimezone(UTC)


def test_a_statement_needing_a_default_is_left_to_core() -> None:
    full = tuple(column.name for column in EMPLOYEE.c)
    short = tuple(name for name in full if name != "erased")
    updated = tuple(name for name in short if name != "id")
    pg: Any = psycopg.dialect  # untyped in SQLAlchemy
    dialects: list[tuple[Any, Any]] = [(aiosqlite.dialect(), _upsert_rows),
                                       (pg(), _upsert_arrays)]
    for dialect, build in dialects:
        whole = build(EMPLOYEE, full, updated, None, ("id",))
        assert _driver_statement(whole, full, dialect) is not None
        lacking = build(EMPLOYEE, short, updated, None, ("id",))
        assert _driver_statement(lacking, short, dialect) is None


async def test_json_columns_are_stored_as_compact_utf8_on_every_write_path(
        databases: DatabaseFactory) -> None:
    """The engine's JSON codec is pydantic-core's: the ORM, the upsert and the bulk
    insert all store the same text (no `\\u` escapes, no spaces), and it reads back."""
    url = databases.new("json")
    await upgrade_async(SERVICE.migrations_dir, url)
    engine = create_engine(url)
    sessionmaker = make_sessionmaker(engine)
    chain = ["Zoë", "m \"2\"", "李"]
    try:
        async with sessionmaker() as session:
            session.add(MatchingEmployee(**{**row("e-orm", 1), "manager_chain": chain}))
            await session.flush()
            await upsert(session, MatchingEmployee,
                         [{**row("e-upsert", 1), "manager_chain": chain, "erased": False}])
            await bulk_insert(session, EMPLOYEE,
                              [{**row("e-bulk", 1), "manager_chain": chain, "erased": False}])
            await session.commit()
        async with engine.connect() as connection:
            stored = dict((await connection.execute(text(
                "SELECT id, CAST(manager_chain AS TEXT) FROM matching_employee"))).all())
        async with sessionmaker() as session:
            read = {e.id: e.manager_chain for e in await session.exec(select(MatchingEmployee))}
    finally:
        await engine.dispose()
    assert stored == dict.fromkeys(("e-orm", "e-upsert", "e-bulk"), '["Zoë","m \\"2\\"","李"]')
    assert read == dict.fromkeys(("e-orm", "e-upsert", "e-bulk"), chain)


async def test_ids_in_names_the_ids_present_and_those_whose_other_column_is_set(
        databases: DatabaseFactory) -> None:
    """The kernel's id lookup: one statement on either database, whatever the ids."""
    url = databases.new("idsin")
    await upgrade_async(ANALYTICS.migrations_dir, url)
    engine = create_engine(url)
    sessionmaker = make_sessionmaker(engine)
    table = AnalyticsEmployee.__table__  # type: ignore[attr-defined]
    try:
        async with sessionmaker() as session:
            session.add_all([AnalyticsEmployee(id="kept", occurred_at=T0),
                             AnalyticsEmployee(id="gone", occurred_at=T0, erased_at=T0)])
            await session.commit()
        async with sessionmaker() as session:
            connection = await session.connection()
            # Quotes and a comma in an id stay one value (an array, not spliced text).
            asked = {"kept", "gone", "absent", "it's, \"odd\""} | {f"x-{i}" for i in range(600)}
            assert await ids_in(connection, table.c.id, asked) == {"kept", "gone"}
            assert await ids_in(connection, table.c.id, asked,
                                not_null=table.c.erased_at) == {"gone"}
            assert await ids_in(connection, table.c.id, set()) == set()
    finally:
        await engine.dispose()


@pytest.mark.skipif(not on_postgres(), reason="the plan of PostgreSQL's form of the lookup")
async def test_ids_in_probes_the_index_of_a_grown_table_without_statistics(
        databases: DatabaseFactory) -> None:
    """A consumer's inbox grows from nothing faster than autovacuum analyses it: the lookup
    must still probe the index, where `= ANY(array)` reads the whole table."""
    url = databases.new("idsplan")
    await upgrade_async(ANALYTICS.migrations_dir, url)
    engine = create_engine(url)
    inbox = InboxEvent.__table__  # type: ignore[attr-defined]
    try:
        async with engine.begin() as connection:
            await connection.execute(text(
                "INSERT INTO inbox_event (event_id, event_type, processed_at) "
                "SELECT 'event-' || n, 'employee.updated', now() "
                "FROM generate_series(1, 100000) AS n"))
        async with engine.connect() as connection:
            asked = [f"event-{n}" for n in range(1, 100_000, 200)] + ["absent"] * 12

            async def plan(sql: str) -> str:
                return await postgres_plan(connection, sql, [asked])

            # The premise: this table, as it stands, is read whole for `= ANY`.
            assert "Seq Scan on inbox_event" in await plan(
                "SELECT event_id FROM inbox_event WHERE event_id = ANY(%b)")
            for not_null in (None, inbox.c.processed_at):
                sql = ids_in_sql(connection.dialect, inbox.c.event_id, not_null)
                chosen = await plan(sql)
                assert "Seq Scan on inbox_event" not in chosen, chosen
                assert "inbox_event_pkey" in chosen, chosen
            assert len(await ids_in(connection, inbox.c.event_id, set(asked))) == 500
    finally:
        await engine.dispose()
