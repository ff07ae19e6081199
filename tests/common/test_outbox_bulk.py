"""The outbox's bulk API: many events in one INSERT, and forgetting what was sent about someone."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import event, update
from sqlalchemy.engine import make_url
from sqlmodel import col, select

from enrolment.events import employees_updated
from tests.common.conftest import recording_handler
from tests.support.databases import DatabaseFactory
from tests.support.stack import Running
from upward_common.db import alembic_config
from upward_common.events import (
    MAX_EVENT_BYTES,
    EmployeeSnapshot,
    EmployeeUpdated,
    EventData,
    PairEnded,
    PairFormed,
    utcnow,
)
from upward_common.outbox import WAKE_KEY, emit, emit_many, emit_many_dumped, forget
from upward_common.problems import Problem
from upward_common.tables import OutboxEvent


class Note(EventData):
    """An event about nothing in particular: its envelope has no `subject`."""

    text: str


# Named after the class is made, so the contract's registry (AsyncAPI) never lists it.
Note.name = "test.note"


def events() -> list[EventData]:
    now = utcnow()
    person = EmployeeSnapshot(
        employee_id="e-1", external_id="x-1", email="ada@example.com", given_name="Ada",
        family_name="Lovelace \u00e9\"\\", job_level=3, manager_chain=["m-1", "m-2"],
        hire_on=date(2020, 1, 2))
    return [
        EmployeeUpdated(employee=person, occurred_at=now),
        PairEnded(pair_id="p-1", programme_id="prog-1", reason="admin", occurred_at=now),
        PairFormed(pair_id="p-2", programme_id="prog-1", mentor_participant_id="a",
                   mentee_participant_id="b", mentor_employee_id="c", mentee_employee_id="d",
                   score=0.1 + 0.2, occurred_at=now),
        Note(text="no subject"),
        EmployeeUpdated(employee=person.model_copy(update={"employee_id": "e-2"}),
                        occurred_at=now),
    ]


async def outbox_rows(running: Running) -> list[OutboxEvent]:
    async with running.app.state.sessionmaker() as session:
        return list((await session.exec(
            select(OutboxEvent).order_by(col(OutboxEvent.seq)))).all())


def normalised(row: OutboxEvent, *, like: OutboxEvent) -> str:
    """`row`'s payload with `like`'s id and time: what is left must be the same bytes."""
    mine, theirs = json.loads(row.payload), json.loads(like.payload)
    return (row.payload.replace(f'"id":"{mine["id"]}"', f'"id":"{theirs["id"]}"', 1)
            .replace(f'"time":"{mine["time"]}"', f'"time":"{theirs["time"]}"', 1))


async def test_emit_many_writes_the_rows_emit_would(start_kernel_service: Any) -> None:
    async with start_kernel_service(recording_handler()) as running:
        batch = events()
        async with running.app.state.sessionmaker() as session:
            for data in batch:
                emit(session, data)
            assert await emit_many(session, batch) == 5
            await session.commit()
        rows = await outbox_rows(running)
    single, bulk = rows[:5], rows[5:]
    for one, many in zip(single, bulk, strict=True):
        assert normalised(one, like=many) == many.payload
        assert (many.subject, many.ce_subject) == (one.subject, one.ce_subject)
        assert many.created_at.isoformat().replace("+00:00", "Z") == json.loads(
            many.payload)["time"]
        # (The running relay may have published both by now.)
        assert (many.failed_at, many.attempts, many.last_error) == (None, 0, None)
    assert [r.ce_subject for r in bulk] == ["e-1", "p-1", "p-2", None, "e-2"]
    assert "subject" not in json.loads(bulk[3].payload)
    assert [r.subject for r in bulk[:2]] == ["mentoring.employee.updated", "mentoring.pair.ended"]
    # Time-ordered ids, increasing in the order given.
    ids = [r.event_id for r in bulk]
    assert ids == sorted(ids) and len(set(ids)) == 5 and ids[0][14] == "7"


async def test_emit_many_dumped_writes_the_rows_emit_many_would(
    start_kernel_service: Any,
) -> None:
    people = [e for e in events() if isinstance(e, EmployeeUpdated)]
    dumped = [(e.model_dump(), e.subject_id()) for e in people]
    # Keys out of the model's order serialise differently: the model path is taken.
    shuffled = [(dict(reversed(list(d.items()))), subject) for d, subject in dumped]
    # A value the model would refuse is caught on the first item.
    broken = [({**dumped[0][0], "employee": {"employee_id": "e-9"}}, "e-9")]
    async with start_kernel_service(recording_handler()) as running:
        async with running.app.state.sessionmaker() as session:
            assert await emit_many(session, people) == 2
            assert await emit_many_dumped(session, EmployeeUpdated, dumped) == 2
            assert await emit_many_dumped(session, EmployeeUpdated, shuffled) == 2
            assert await emit_many_dumped(session, EmployeeUpdated, []) == 0
            with pytest.raises(ValueError):
                await emit_many_dumped(session, EmployeeUpdated, broken)
            await session.commit()
        rows = await outbox_rows(running)
    assert len(rows) == 6
    model, *others = rows[:2], rows[2:4], rows[4:]
    for written in others:
        for one, many in zip(model, written, strict=True):
            assert normalised(many, like=one) == one.payload
            assert (many.subject, many.ce_subject) == (one.subject, one.ce_subject)
    assert [r.ce_subject for r in rows] == ["e-1", "e-2"] * 3


async def test_emit_many_dumped_escapes_a_subject_that_needs_it(
    start_kernel_service: Any,
) -> None:
    """Subjects are quoted as they are only when none needs JSON escaping."""
    person = next(e for e in events() if isinstance(e, EmployeeUpdated))
    people = [person.model_copy(update={"employee": person.employee.model_copy(
        update={"employee_id": employee_id})}) for employee_id in ("e-1", 'e-"2\\', "e-\u00e9")]
    dumped = [(e.model_dump(), e.subject_id()) for e in people]
    async with start_kernel_service(recording_handler()) as running:
        async with running.app.state.sessionmaker() as session:
            assert await emit_many(session, people) == 3
            assert await emit_many_dumped(session, EmployeeUpdated, dumped) == 3
            await session.commit()
        rows = await outbox_rows(running)
    for one, many in zip(rows[:3], rows[3:], strict=True):
        assert normalised(many, like=one) == one.payload
        assert json.loads(many.payload)["subject"] == many.ce_subject
    assert [r.ce_subject for r in rows[3:]] == ["e-1", 'e-"2\\', "e-\u00e9"]


@contextmanager
def statements(running: Running) -> Iterator[list[tuple[str, bool]]]:
    seen: list[tuple[str, bool]] = []

    def record(conn: Any, cursor: Any, statement: str, params: Any, context: Any,
               executemany: bool) -> None:
        seen.append((statement, executemany))

    engine = running.app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def test_emit_many_inserts_set_based_in_one_statement(start_kernel_service: Any) -> None:
    batch = [PairEnded(pair_id=f"p-{i}", programme_id="prog-1", reason="admin",
                       occurred_at=utcnow()) for i in range(1500)]
    async with start_kernel_service(recording_handler()) as running:
        async with running.app.state.sessionmaker() as session:
            await session.connection()
            with statements(running) as seen:
                await emit_many(session, batch)
            await session.commit()
        inserts = [(s, many) for s, many in seen if s.lstrip().upper().startswith("INSERT")]
        if running.app.state.engine.dialect.name == "postgresql":
            # One COPY on the driver's own cursor, below SQLAlchemy: no INSERT at all.
            assert inserts == [], seen
        else:
            assert len(inserts) == 1, seen
            assert "outbox_event" in inserts[0][0] and inserts[0][1] is True
        assert len(await outbox_rows(running)) == 1500


async def test_one_event_over_the_cap_refuses_the_whole_batch(start_kernel_service: Any) -> None:
    small = {"id": "e-1", "external_id": "x-1", "email": "a@example.com", "given_name": "Ada",
             "family_name": "Doe", "active": True}
    huge = {**small, "id": "e-2", "given_name": "A" * (MAX_EVENT_BYTES + 1)}
    async with start_kernel_service(recording_handler()) as running:
        async with running.app.state.sessionmaker() as session:
            with pytest.raises(Problem) as refused:
                # Enrolment's HRIS import goes through the same cap.
                await employees_updated(session, [(small, []), (huge, [])],
                                        occurred_at=utcnow())
            await session.commit()
            assert refused.value.status == 413
            assert refused.value.kind == "event-too-large"
            assert "e-2" in refused.value.detail
            await employees_updated(session, [(small, [])], occurred_at=utcnow())
            await session.commit()
        assert [r.ce_subject for r in await outbox_rows(running)] == ["e-1"]


async def test_emit_many_wakes_the_relay_after_commit_only(start_kernel_service: Any) -> None:
    async with start_kernel_service(recording_handler()) as running:
        woken: list[str] = []
        async with running.app.state.sessionmaker() as session:
            session.sync_session.info[WAKE_KEY] = lambda: woken.append("woken")
            await emit_many(session, events())
            assert woken == []
            await session.rollback()
            assert woken == []
            await emit_many(session, events())
            await session.commit()
            assert woken == ["woken"]
            # Nothing to write: nothing to wake for.
            assert await emit_many(session, []) == 0
            await session.commit()
            assert woken == ["woken"]


async def test_forget_deletes_exactly_the_published_rows_about_a_subject(
    start_kernel_service: Any,
) -> None:
    async with start_kernel_service(recording_handler()) as running:
        await running.app.state.relay.stop()  # this test decides what is published
        async with running.app.state.sessionmaker() as session:
            await emit_many(session, events())  # e-1 p-1 p-2 - e-2
            await session.commit()
            await session.exec(update(OutboxEvent).values(published_at=utcnow()))
            await session.commit()
            # Still to send (e-1 again), a dead letter (e-1), and a row naming e-1 in its
            # data only (a pair's mentor): all of them stay.
            await emit_many(session, events()[:1])
            dead = emit(session, events()[0])
            emit(session, PairFormed(pair_id="p-3", programme_id="prog-1",
                                     mentor_participant_id="a", mentee_participant_id="b",
                                     mentor_employee_id="e-1", mentee_employee_id="d",
                                     score=1.0, occurred_at=utcnow()))
            await session.commit()
            await session.exec(update(OutboxEvent).where(col(OutboxEvent.event_id) == dead.id)
                               .values(failed_at=utcnow()))
            await session.commit()
            before = await outbox_rows(running)
            assert await forget(session, subject="e-1") == 1
            assert await forget(session, subject="nobody") == 0
            await session.commit()
        after = await outbox_rows(running)
    about = [r for r in before if r.ce_subject == "e-1"]
    assert [(r.published_at is None, r.failed_at is None) for r in about] == [
        (False, True), (True, True), (True, False)]
    gone = [about[0].seq]
    assert [r.seq for r in after] == [r.seq for r in before if r.seq not in gone]


# Each service's migration that applies the kernel's v3 outbox DDL (CloudEvents subject).
OUTBOX_V3 = {"enrolment": "0006", "matching": "0003", "scheduling": "0003", "analytics": "0004"}


@pytest.mark.parametrize("name", sorted(OUTBOX_V3))
def test_the_migration_gives_published_rows_their_subject(
    name: str, databases: DatabaseFactory
) -> None:
    """Rows published before the upgrade can still be forgotten after it."""
    definition = importlib.import_module(f"{name}.main").SERVICE
    url = databases.new(name)
    config = alembic_config(definition.migrations_dir, url)
    before = f"{int(OUTBOX_V3[name]) - 1:04d}"
    command.upgrade(config, before)
    engine = sa.create_engine(make_url(url).set(
        drivername="sqlite" if url.startswith("sqlite") else "postgresql+psycopg"))
    insert = sa.text("INSERT INTO outbox_event (event_id, subject, payload, created_at, "
                     "published_at) VALUES (:id, 'mentoring.pair.ended', :payload, "
                     "CURRENT_TIMESTAMP, :published)")
    try:
        with engine.begin() as connection:
            for event_id, subject, published in (("e-1", "p-1", True), ("e-2", "p-2", False),
                                                 ("e-3", None, True)):
                payload = json.dumps({"id": event_id, "subject": subject} if subject
                                     else {"id": event_id})
                connection.execute(insert, {"id": event_id, "payload": payload,
                                            "published": utcnow() if published else None})
        command.upgrade(config, OUTBOX_V3[name])
        with engine.begin() as connection:
            assert connection.execute(sa.text(
                "SELECT event_id, ce_subject FROM outbox_event ORDER BY event_id")).all() == [
                ("e-1", "p-1"), ("e-2", None), ("e-3", None)]
        command.downgrade(config, before)
        with engine.begin() as connection:
            assert connection.scalar(sa.text("SELECT count(*) FROM outbox_event")) == 3
        command.upgrade(config, "head")
        command.check(config)
    finally:
        engine.dispose()
