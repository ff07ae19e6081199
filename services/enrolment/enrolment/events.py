"""What enrolment emits. It consumes nothing: it is the source of people data."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic_core import to_json
from sqlmodel.ext.asyncio.session import AsyncSession

from enrolment import repository
from enrolment.models import Employee, Participant, Programme, new_ids
from upward_common.events import (
    AvailabilityWindow,
    EmployeeErased,
    EmployeeSnapshot,
    EmployeeUpdated,
    ParticipantEnrolled,
    ParticipantState,
    ParticipantUpdated,
    ParticipantWithdrawn,
    ProgrammeSnapshot,
    ProgrammeUpdated,
    TopicSkill,
    utcnow,
)
from upward_common.outbox import check_event_size, emit, wake_after_commit

SOURCE = "/upward/enrolment"

_SNAPSHOT_FIELDS = (
    "external_id", "email", "given_name", "family_name", "job_title", "job_level",
    "department", "manager_id", "location", "time_zone", "hire_on", "leave_on", "active",
)


def snapshot_of(values: Mapping[str, Any], chain: list[str]) -> EmployeeSnapshot:
    """A snapshot from stored values (already validated), without re-validating them."""
    fields: dict[str, Any] = {name: values.get(name) for name in _SNAPSHOT_FIELDS}
    fields.update(employee_id=values["id"], manager_chain=chain)
    return EmployeeSnapshot.model_construct(**fields)


async def snapshot(session: AsyncSession, employee: Employee) -> EmployeeSnapshot:
    chain = await repository.manager_chain(session, employee)
    return snapshot_of(employee.model_dump(), chain)


async def employee_updated(session: AsyncSession, employee: Employee) -> None:
    emit(session, EmployeeUpdated(employee=await snapshot(session, employee),
                                  occurred_at=utcnow()), source=SOURCE)


_ID, _SUBJECT, _EMPLOYEE = "\x00id\x00", "\x00subject\x00", "\x00employee\x00"
_SNAPSHOT_ORDER = tuple(EmployeeSnapshot.model_fields)


def _envelope_pieces(occurred_at: datetime) -> tuple[list[str], list[str]]:
    """The envelope of an employee-updated event, cut around its id, subject and employee.

    The kernel builds and serialises one real envelope; each event of a bulk
    write then only fills in its own id, subject and employee snapshot.
    """
    probe = EmployeeSnapshot(employee_id="probe", external_id="probe", email="probe",
                             given_name="probe", family_name="probe")
    envelope = EmployeeUpdated(employee=probe, occurred_at=occurred_at).envelope(source=SOURCE)
    envelope.id, envelope.subject = _ID, _SUBJECT
    text = envelope.model_dump_json(exclude_none=True)
    text = text.replace(probe.model_dump_json(), json.dumps(_EMPLOYEE), 1)
    marks = sorted((text.index(json.dumps(m)), m) for m in (_ID, _SUBJECT, _EMPLOYEE))
    pieces, order, last = [], [], 0
    for position, mark in marks:
        pieces.append(text[last:position])
        order.append(mark)
        last = position + len(json.dumps(mark))
    pieces.append(text[last:])
    return pieces, order


# (snapshot field, employee column) in the model's field order.
_SNAPSHOT_SOURCES = tuple((name, "id" if name == "employee_id" else name)
                          for name in _SNAPSHOT_ORDER)


def _snapshot_dict(values: Mapping[str, Any], chain: list[str]) -> dict[str, Any]:
    snapshot = {name: values.get(source) for name, source in _SNAPSHOT_SOURCES}
    snapshot["manager_chain"] = chain
    return snapshot


def employee_updated_rows(
    employees: Sequence[tuple[Mapping[str, Any], list[str]]], *, occurred_at: datetime
) -> list[dict[str, Any]]:
    """Outbox rows of one employee-updated event per (values, manager chain).

    Snapshots are serialised straight from plain dicts in the model's field
    order: the first one is checked against the model's own serialisation, and
    any difference (a contract change) switches the batch to the model path.
    An event over the kernel's size cap refuses the whole write (413).
    """
    if not employees:
        return []
    subject, event_type = EmployeeUpdated.nats_subject(), EmployeeUpdated.type_name()
    pieces, order = _envelope_pieces(occurred_at)
    slots = [(_ID, _SUBJECT, _EMPLOYEE).index(mark) for mark in order]
    first_values, first_chain = employees[0]
    first = _snapshot_dict(first_values, first_chain)
    trusted = to_json(first) == EmployeeSnapshot.model_validate(first).model_dump_json().encode()
    rows: list[dict[str, Any]] = []
    for event_id, (values, chain) in zip(new_ids(len(employees)), employees, strict=True):
        snapshot = _snapshot_dict(values, chain)
        snapshot_json = (to_json(snapshot) if trusted else
                         EmployeeSnapshot.model_validate(snapshot).model_dump_json().encode())
        # Ids are UUIDs: nothing in them needs JSON escaping.
        filled = (f'"{event_id}"', f'"{values["id"]}"', snapshot_json.decode())
        payload = "".join((pieces[0], filled[slots[0]], pieces[1], filled[slots[1]],
                           pieces[2], filled[slots[2]], pieces[3]))
        check_event_size(payload, event_type=event_type, subject=values["id"])
        rows.append({
            "event_id": event_id, "subject": subject, "payload": payload,
            "created_at": occurred_at, "published_at": None, "attempts": 0,
            "last_error": None,
        })
    return rows


async def add_outbox_rows(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
    """Write prepared outbox rows in one statement and wake the relay on commit."""
    if rows:
        await repository.insert_outbox_rows(session, rows)
        wake_after_commit(session)


def employee_erased(session: AsyncSession, employee_id: str) -> None:
    emit(session, EmployeeErased(employee_id=employee_id, occurred_at=utcnow()), source=SOURCE)


async def participant_state(
    session: AsyncSession, participant: Participant, employee: Employee, programme: Programme
) -> ParticipantState:
    # Sensitive attributes travel only with consent and a programme diversity objective.
    diversity = (
        participant.diversity
        if participant.diversity_consent_at is not None and programme.diversity_objective
        else None
    )
    return ParticipantState(
        participant_id=participant.id,
        programme_id=participant.programme_id,
        role="mentor" if participant.role == "mentor" else "mentee",
        status="withdrawn" if participant.status == "withdrawn" else "active",
        employee=await snapshot(session, employee),
        survey_version=participant.survey_version,
        topics_teach=[TopicSkill.model_validate(t) for t in participant.topics_teach],
        topics_learn=[TopicSkill.model_validate(t) for t in participant.topics_learn],
        interests=participant.interests,
        availability=[AvailabilityWindow.model_validate(w) for w in participant.availability],
        time_zone=participant.time_zone or employee.time_zone,
        meeting_formats=participant.meeting_formats,
        communication_preferences=participant.communication_preferences,
        languages=participant.languages,
        mentor_capacity=participant.mentor_capacity,
        dei_opt_in=participant.dei_opt_in,
        avoid_employee_ids=participant.avoid_employee_ids,
        diversity=diversity,
    )


async def participant_enrolled(
    session: AsyncSession, participant: Participant, employee: Employee, programme: Programme
) -> None:
    state = await participant_state(session, participant, employee, programme)
    emit(session, ParticipantEnrolled(participant=state, occurred_at=utcnow()), source=SOURCE)


async def participant_updated(
    session: AsyncSession, participant: Participant, employee: Employee, programme: Programme
) -> None:
    state = await participant_state(session, participant, employee, programme)
    emit(session, ParticipantUpdated(participant=state, occurred_at=utcnow()), source=SOURCE)


def participant_withdrawn(
    session: AsyncSession, participant: Participant, reason: str | None
) -> None:
    emit(
        session,
        ParticipantWithdrawn(
            participant_id=participant.id,
            programme_id=participant.programme_id,
            employee_id=participant.employee_id,
            reason=reason,
            occurred_at=utcnow(),
        ),
        source=SOURCE,
    )


def programme_snapshot(programme: Programme) -> ProgrammeSnapshot:
    return ProgrammeSnapshot.model_validate({
        "programme_id": programme.id,
        "name": programme.name,
        "status": str(programme.status),
        "mentor_max_level": programme.mentor_max_level,
        "mentee_min_level": programme.mentee_min_level,
        "min_level_gap": programme.min_level_gap,
        "mutual": programme.mutual,
        "matching_mode": programme.matching_mode,
        "session_cadence": programme.session_cadence,
        "session_minutes": programme.session_minutes,
        "duration_weeks": programme.duration_weeks,
        "meeting_format": programme.meeting_format,
        "diversity_objective": programme.diversity_objective,
        "topics": programme.topics,
    })


def programme_updated(session: AsyncSession, programme: Programme) -> None:
    emit(session, ProgrammeUpdated(programme=programme_snapshot(programme),
                                   occurred_at=utcnow()), source=SOURCE)
