"""Enrolment's rules: HRIS import, programmes, voluntary enrolment, withdrawal."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from enrolment import events, repository
from enrolment.models import (
    Employee,
    EmployeeRecord,
    ImportReport,
    Participant,
    ParticipantCreate,
    ParticipantStatus,
    Programme,
    ProgrammeCreate,
    ProgrammeStatus,
    RejectedRow,
)
from upward_common.auth import Principal
from upward_common.events import utcnow
from upward_common.problems import conflict, invalid, not_found

_EMPLOYEE_FIELDS = (
    "email", "given_name", "family_name", "job_title", "job_level", "department",
    "location", "time_zone", "active",
)


def _check_time_zone(record: EmployeeRecord) -> None:
    if record.time_zone:
        try:
            ZoneInfo(record.time_zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {record.time_zone!r}") from exc


async def import_employees(
    session: AsyncSession, rows: Sequence[tuple[int, Mapping[str, Any]]]
) -> ImportReport:
    """Upsert employees by external id; bad rows are reported and write nothing."""
    report = ImportReport()
    records: dict[str, tuple[int, EmployeeRecord]] = {}
    for number, raw in rows:
        try:
            record = EmployeeRecord.model_validate(raw)
            _check_time_zone(record)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or "row"
            report.errors.append(RejectedRow(row=number, field=field, reason=first["msg"]))
            continue
        except ValueError as exc:
            report.errors.append(RejectedRow(row=number, field="time_zone", reason=str(exc)))
            continue
        if record.external_id in records:
            report.errors.append(RejectedRow(row=number, field="external_id",
                                             reason="duplicate external_id in this file"))
            continue
        records[record.external_id] = (number, record)

    wanted = set(records) | {r.manager_external_id for _, r in records.values()
                             if r.manager_external_id}
    existing = await repository.employees_by_external_id(session, wanted)

    # A manager must exist in the file or already; a row whose chain loops is rejected.
    accepted: dict[str, EmployeeRecord] = {}
    for external_id, (number, record) in records.items():
        problem = _manager_problem(external_id, records, existing)
        if problem:
            report.errors.append(RejectedRow(row=number, field="manager_external_id",
                                             reason=problem))
        else:
            accepted[external_id] = record

    now = utcnow()
    changed: list[Employee] = []
    rows_by_external: dict[str, Employee] = dict(existing)
    for external_id, record in accepted.items():
        values = {name: getattr(record, name) for name in _EMPLOYEE_FIELDS}
        values["hire_on"] = record.hire_date
        values["leave_on"] = record.leave_date
        if record.leave_date is not None and record.leave_date <= now.date():
            values["active"] = False
        employee = rows_by_external.get(external_id)
        if employee is None:
            employee = Employee(external_id=external_id, created_at=now, updated_at=now, **values)
            rows_by_external[external_id] = employee
            session.add(employee)
            report.created += 1
            changed.append(employee)
        elif any(getattr(employee, k) != v for k, v in values.items()):
            for key, value in values.items():
                setattr(employee, key, value)
            employee.updated_at = now
            report.updated += 1
            changed.append(employee)
        else:
            report.unchanged += 1
    await session.flush()

    for external_id, record in accepted.items():
        employee = rows_by_external[external_id]
        manager = rows_by_external.get(record.manager_external_id or "")
        manager_id = manager.id if manager is not None else None
        if employee.manager_id != manager_id:
            employee.manager_id = manager_id
            if employee not in changed:
                changed.append(employee)
                report.unchanged -= 1
                report.updated += 1
    await session.flush()
    for employee in changed:
        await events.employee_updated(session, employee)
    report.rejected = len(report.errors)
    report.errors.sort(key=lambda e: e.row)
    return report


def _manager_problem(
    external_id: str,
    records: Mapping[str, tuple[int, EmployeeRecord]],
    existing: Mapping[str, Employee],
) -> str | None:
    seen = {external_id}
    current = records[external_id][1].manager_external_id
    while current:
        if current in seen:
            return f"manager chain of {external_id} loops back through {current}"
        seen.add(current)
        if current in records:
            current = records[current][1].manager_external_id
        elif current in existing:
            return None
        else:
            return f"manager {current} is neither in this file nor known"
    return None


async def create_programme(session: AsyncSession, *, data: ProgrammeCreate) -> Programme:
    programme = Programme(**data.model_dump(), created_at=utcnow())
    await repository.add(session, programme)
    events.programme_updated(session, programme)
    return programme


async def get_programme(session: AsyncSession, *, programme_id: str) -> Programme:
    programme = await repository.get_programme(session, programme_id)
    if programme is None:
        raise not_found("Programme", programme_id)
    return programme


async def enrol(
    session: AsyncSession, *, user: Principal, programme_id: str, data: ParticipantCreate
) -> Participant:
    """An employee opts in as mentor or mentee; eligibility is checked here."""
    user.require_self_or_admin(data.employee_id)
    programme = await get_programme(session, programme_id=programme_id)
    if programme.status != ProgrammeStatus.OPEN:
        raise conflict(f"Programme is {programme.status.value}; enrolment needs it open",
                       field="programme_id")
    employee = await repository.get_employee(session, data.employee_id)
    if employee is None:
        raise invalid("employee_id", f"Employee {data.employee_id} does not exist")
    if not employee.active:
        raise invalid("employee_id", "Employee has left the company")
    level = employee.job_level
    if data.role == "mentor" and programme.mentor_max_level is not None and (
        level is None or level > programme.mentor_max_level
    ):
        raise invalid("role", f"Mentors must be at job level {programme.mentor_max_level} "
                              f"or below (this employee: {level})")
    if data.role == "mentee" and programme.mentee_min_level is not None and (
        level is None or level < programme.mentee_min_level
    ):
        raise invalid("role", f"Mentees must be at job level {programme.mentee_min_level} "
                              f"or above (this employee: {level})")
    if await repository.find_participant(session, programme_id=programme_id,
                                         employee_id=employee.id, role=data.role):
        raise conflict(f"Employee is already enrolled as {data.role} in this programme",
                       field="role")
    participant = Participant(
        programme_id=programme_id,
        employee_id=employee.id,
        role=data.role,
        topics_teach=[t.model_dump() for t in data.topics_teach],
        topics_learn=[t.model_dump() for t in data.topics_learn],
        interests=data.interests,
        languages=data.languages,
        mentor_capacity=data.mentor_capacity,
        enrolled_at=utcnow(),
    )
    await repository.add(session, participant)
    await events.participant_enrolled(session, participant, employee)
    return participant


async def get_participant(
    session: AsyncSession, *, user: Principal, participant_id: str
) -> Participant:
    participant = await repository.get_participant(session, participant_id)
    if participant is None:
        raise not_found("Participant", participant_id)
    user.require_self_or_admin(participant.employee_id)
    return participant


async def withdraw(
    session: AsyncSession, *, user: Principal, participant_id: str, reason: str | None
) -> Participant:
    participant = await get_participant(session, user=user, participant_id=participant_id)
    if participant.status == ParticipantStatus.WITHDRAWN:
        raise conflict("Participant has already withdrawn")
    participant.status = ParticipantStatus.WITHDRAWN
    participant.withdrawn_at = utcnow()
    await session.flush()
    events.participant_withdrawn(participant, session, reason)
    return participant


async def get_employee(session: AsyncSession, *, user: Principal, employee_id: str) -> Employee:
    user.require_self_or_admin(employee_id)
    employee = await repository.get_employee(session, employee_id)
    if employee is None:
        raise not_found("Employee", employee_id)
    return employee

