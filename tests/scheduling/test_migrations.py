"""Scheduling's rows survive the renames to its final shape, both ways, with their constraints."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from scheduling.main import SERVICE
from tests.support.databases import DatabaseFactory
from tests.support.migrations import MigratedDatabase, table

BEFORE = "0003"  # the last revision with `session`, `session_private_note`, `updated_at`
AT = datetime(2026, 11, 18, 14, 30, tzinfo=UTC)


def _programme(stamp: str) -> sa.TableClause:
    return table("scheduling_programme", "id", "name", "status", "session_cadence",
                 "session_minutes", stamps=(stamp,))


def _participant(stamp: str) -> sa.TableClause:
    return table("scheduling_participant", "id", "programme_id", "role", "status",
                 stamps=(stamp,))


def _session(name: str) -> sa.TableClause:
    return table(name, "id", "pair_id", "programme_id", "duration_minutes", "status",
                 stamps=("starts_at", "created_at"))


def _note(name: str) -> sa.TableClause:
    return table(name, "id", "session_id", "author_employee_id", "body", stamps=("written_at",))


async def test_sessions_notes_and_event_times_survive_the_renames_both_ways(
    databases: DatabaseFactory,
) -> None:
    db = MigratedDatabase(SERVICE, databases.new("scheduling"))
    await db.upgrade(BEFORE)
    await db.write(table("scheduling_pair", "id", "programme_id", "status"),
                   id="pair-1", programme_id="prog-1", status="active")
    await db.write(_session("session"), id="s-1", pair_id="pair-1", programme_id="prog-1",
                   duration_minutes=60, status="planned", starts_at=AT, created_at=AT)
    await db.write(_note("session_private_note"), id="n-1", session_id="s-1",
                   author_employee_id="emp-1", body="mine", written_at=AT)
    await db.write(_programme("updated_at"), id="prog-1", name="P", status="open",
                   session_cadence="weekly", session_minutes=45, updated_at=AT)
    await db.write(_participant("updated_at"), id="part-1", programme_id="prog-1",
                   role="mentor", status="active", updated_at=AT)

    await db.upgrade()

    notes, sessions = _note("scheduling_private_note"), _session("scheduling_session")
    assert await db.rows(sa.select(notes.c.id, notes.c.session_id, notes.c.body)) == [
        ("n-1", "s-1", "mine")]
    assert await db.rows(sa.select(sessions.c.id, sessions.c.starts_at)) == [("s-1", AT)]
    assert await db.rows(sa.select(_programme("occurred_at").c.occurred_at)) == [(AT,)]
    assert await db.rows(sa.select(_participant("occurred_at").c.occurred_at)) == [(AT,)]
    # The constraints moved with the tables: a note needs its session, a session its
    # pair, and an author keeps one note per session.
    with pytest.raises(IntegrityError):
        await db.write(notes, id="n-2", session_id="s-missing", author_employee_id="emp-2",
                       body="x", written_at=AT)
    with pytest.raises(IntegrityError):
        await db.write(sessions, id="s-2", pair_id="pair-missing", programme_id="prog-1",
                       duration_minutes=60, status="planned", starts_at=AT, created_at=AT)
    with pytest.raises(IntegrityError):
        await db.write(notes, id="n-3", session_id="s-1", author_employee_id="emp-1",
                       body="again", written_at=AT)

    await db.downgrade(BEFORE)

    old_notes = _note("session_private_note")
    assert await db.rows(sa.select(old_notes.c.id, old_notes.c.session_id)) == [("n-1", "s-1")]
    assert await db.rows(sa.select(_session("session").c.id)) == [("s-1",)]
    assert await db.rows(sa.select(_programme("updated_at").c.updated_at)) == [(AT,)]
    assert await db.rows(sa.select(_participant("updated_at").c.updated_at)) == [(AT,)]


async def test_plans_and_feeds_keep_earlier_sessions_both_ways(
    databases: DatabaseFactory,
) -> None:
    db = MigratedDatabase(SERVICE, databases.new("scheduling"))
    await db.upgrade("0005")
    await db.write(table("scheduling_pair", "id", "programme_id", "status"),
                   id="pair-1", programme_id="prog-1", status="active")
    await db.write(_session("scheduling_session"), id="s-1", pair_id="pair-1",
                   programme_id="prog-1", duration_minutes=60, status="planned", starts_at=AT,
                   created_at=AT)
    await db.write(_programme("occurred_at"), id="prog-1", name="P", status="open",
                   session_cadence="weekly", session_minutes=45, occurred_at=AT)

    await db.upgrade()

    # A session from before plans is an occurrence of no plan, never changed.
    sessions = table("scheduling_session", "id", "plan_id", "sequence")
    assert await db.rows(sa.select(sessions.c.id, sessions.c.plan_id, sessions.c.sequence)) == [
        ("s-1", None, 0)]
    programmes = table("scheduling_programme", "id", "duration_weeks")
    assert await db.rows(sa.select(programmes.c.duration_weeks)) == [(24,)]
    # A plan needs its pair; a feed secret's hash is unique.
    with pytest.raises(IntegrityError):
        await db.write(table("scheduling_plan", "id", "pair_id", "programme_id", "status",
                             "anchor_time_zone", "cadence", "duration_minutes", "overlap",
                             "nearest", "sequence", stamps=("created_at", "changed_at")),
                       id="plan-1", pair_id="pair-missing", programme_id="prog-1",
                       status="proposed", anchor_time_zone="UTC", cadence="weekly",
                       duration_minutes=60, overlap=True, nearest="[]", sequence=0,
                       created_at=AT, changed_at=AT)
    feeds = table("scheduling_calendar_feed", "id", "employee_id", "token_sha256",
                  stamps=("issued_at",))
    await db.write(feeds, id="f-1", employee_id="emp-1", token_sha256="a" * 64, issued_at=AT)
    with pytest.raises(IntegrityError):
        await db.write(feeds, id="f-2", employee_id="emp-2", token_sha256="a" * 64,
                       issued_at=AT)

    await db.downgrade("0005")

    assert await db.rows(sa.select(_session("scheduling_session").c.id)) == [("s-1",)]
