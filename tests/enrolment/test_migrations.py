"""Enrolment's rows survive the move to `enrolment_*` tables, both ways, with their constraints."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from enrolment.main import SERVICE
from tests.support.databases import DatabaseFactory
from tests.support.migrations import MigratedDatabase, table

BEFORE = "0006"  # the last revision with unprefixed tables
AT = datetime(2026, 11, 18, 14, 30, tzinfo=UTC)
NAMES = ("employee", "programme", "participant", "survey_response", "invitation")


def _employee(name: str) -> sa.TableClause:
    return table(name, "id", "external_id", "email", "given_name", "family_name", "active",
                 "manager_id", "version", stamps=("created_at", "updated_at"))


def _participant(name: str) -> sa.TableClause:
    return table(name, "id", "programme_id", "employee_id", "role", "status", "source",
                 "mentor_capacity", "dei_opt_in", "survey_version", stamps=("enrolled_at",))


def _person(external_id: str, manager_id: str | None = None) -> dict[str, object]:
    return {"id": external_id, "external_id": external_id, "email": f"{external_id}@corp.example",
            "given_name": "G", "family_name": "F", "active": True, "manager_id": manager_id,
            "version": 1, "created_at": AT, "updated_at": AT}


def _enrolment(employee_id: str, participant_id: str) -> dict[str, object]:
    return {"id": participant_id, "programme_id": "prog-1", "employee_id": employee_id,
            "role": "mentor", "status": "active", "source": "self", "mentor_capacity": 1,
            "dei_opt_in": False, "survey_version": 1, "enrolled_at": AT}


async def _write_one_of_each(db: MigratedDatabase, prefix: str) -> None:
    employee, programme, participant, survey, invitation = (f"{prefix}{n}" for n in NAMES)
    await db.write(_employee(employee), **_person("boss"))
    await db.write(_employee(employee), **_person("ana", manager_id="boss"))
    await db.write(table(programme, "id", "name", "description", "status", "min_level_gap",
                         stamps=("created_at",)),
                   id="prog-1", name="P", description="", status="open", min_level_gap=0,
                   created_at=AT)
    await db.write(_participant(participant), **_enrolment("ana", "part-1"))
    await db.write(table(survey, "id", "participant_id", "version", stamps=("submitted_at",)),
                   id="sr-1", participant_id="part-1", version=1, submitted_at=AT)
    await db.write(table(invitation, "id", "programme_id", "employee_id", "role", "message",
                         "status", stamps=("invited_at",)),
                   id="inv-1", programme_id="prog-1", employee_id="boss", role="mentee",
                   message="", status="pending", invited_at=AT)


async def _ids(db: MigratedDatabase, prefix: str) -> dict[str, list[str]]:
    return {name: [row[0] for row in await db.rows(
                sa.select(table(f"{prefix}{name}", "id").c.id).order_by("id"))]
            for name in NAMES}


ONE_OF_EACH = {"employee": ["ana", "boss"], "programme": ["prog-1"],
               "participant": ["part-1"], "survey_response": ["sr-1"],
               "invitation": ["inv-1"]}


async def test_every_row_and_constraint_survives_the_table_renames_both_ways(
    databases: DatabaseFactory,
) -> None:
    db = MigratedDatabase(SERVICE, databases.new("enrolment"))
    await db.upgrade(BEFORE)
    await _write_one_of_each(db, prefix="")

    await db.upgrade()

    assert await _ids(db, "enrolment_") == ONE_OF_EACH
    employees = _employee("enrolment_employee")
    assert await db.rows(sa.select(employees.c.manager_id).where(employees.c.id == "ana")) == [
        ("boss",)]
    # Foreign keys now point at the renamed tables, the manager's included ...
    with pytest.raises(IntegrityError):
        await db.write(employees, **_person("cy", manager_id="nobody"))
    with pytest.raises(IntegrityError):
        await db.write(_participant("enrolment_participant"), **_enrolment("nobody", "part-2"))
    # ... and the unique index and constraint still hold.
    with pytest.raises(IntegrityError):
        await db.write(employees, **{**_person("ana"), "id": "ana-again"})
    with pytest.raises(IntegrityError):
        await db.write(_participant("enrolment_participant"), **_enrolment("ana", "part-3"))

    await db.downgrade(BEFORE)

    assert await _ids(db, "") == ONE_OF_EACH
