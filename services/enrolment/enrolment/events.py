"""What enrolment emits. It consumes nothing: it is the source of people data."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from enrolment import repository
from enrolment.models import (
    MAX_JOB_LEVEL,
    Employee,
    Invitation,
    Participant,
    Programme,
    dei_topics,
    template_ids,
)
from upward_common.events import (
    AvailabilityWindow,
    EmployeeErased,
    EmployeeSnapshot,
    EmployeeUpdated,
    ParticipantEnrolled,
    ParticipantInvited,
    ParticipantState,
    ParticipantUpdated,
    ParticipantWithdrawn,
    ProgrammeSnapshot,
    ProgrammeUpdated,
    TopicSkill,
    utcnow,
)
from upward_common.outbox import emit, emit_many_dumped, forget

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
                                  occurred_at=utcnow()))


# Snapshot fields and the employee columns they come from, in the model's field
# order: the dicts below serialise as the model would only in that order.
_SNAPSHOT_NAMES = tuple(EmployeeSnapshot.model_fields)
_SNAPSHOT_COLUMNS = tuple("id" if name == "employee_id" else name for name in _SNAPSHOT_NAMES)


async def employees_updated(
    session: AsyncSession, employees: Sequence[tuple[Mapping[str, Any], list[str]]],
    *, occurred_at: datetime,
) -> None:
    """One employee-updated event per (stored values, manager chain), in one bulk write.

    The values are the import's own, validated already: the kernel serialises
    each event straight from its dict (`emit_many_dumped`) after checking the
    first against the model. An event over the kernel's size cap refuses the
    whole write (413).
    """
    await emit_many_dumped(session, EmployeeUpdated,
                           employee_updated_data(employees, occurred_at=occurred_at))


def employee_updated_data(
    employees: Sequence[tuple[Mapping[str, Any], list[str]]], *, occurred_at: datetime
) -> list[tuple[dict[str, Any], str]]:
    """Each event's data as `EmployeeUpdated` dumps it, with its subject (the employee id)."""
    data = []
    for values, chain in employees:
        employee = dict(zip(_SNAPSHOT_NAMES, map(values.get, _SNAPSHOT_COLUMNS), strict=True))
        employee["manager_chain"] = chain  # in its place: the key is there already
        data.append(({"employee": employee, "occurred_at": occurred_at}, values["id"]))
    return data


async def forget_published_events_of(
    session: AsyncSession, employee_id: str, participant_ids: Sequence[str],
    invitation_ids: Sequence[str] = (),
) -> int:
    """Delete our published events about an employee (erasure); returns how many.

    What enrolment published about a person is subject to one of their ids:
    employee events have the employee id as CloudEvents subject, participant
    events (which carry the employee snapshot) the participant id, invitation
    events the invitation id. Events about others that only name the employee
    id (a report's manager chain, someone's avoid list) stay: the id is kept as
    the pseudonym. Unsent rows stay too.
    """
    forgotten = 0
    for subject in (employee_id, *participant_ids, *invitation_ids):
        forgotten += await forget(session, subject=subject)
    return forgotten


def employee_erased(session: AsyncSession, employee_id: str) -> None:
    emit(session, EmployeeErased(employee_id=employee_id, occurred_at=utcnow()))


async def participant_state(
    session: AsyncSession, participant: Participant, employee: Employee, programme: Programme
) -> ParticipantState:
    chain = await repository.manager_chain(session, employee)
    return participant_state_of(participant_row(participant), employee.model_dump(),
                                programme, chain)


def participant_row(participant: Participant) -> dict[str, Any]:
    """A loaded participant's column values as stored (no serialiser: a status read back
    from the database is a plain string)."""
    return {name: getattr(participant, name) for name in Participant.model_fields}


def participant_state_of(participant: Mapping[str, Any], employee: Mapping[str, Any],
                         programme: Programme, chain: list[str]) -> ParticipantState:
    """A participant's state as events carry it, from stored values (a participant row,
    its employee's) and the employee's manager chain."""
    # Sensitive attributes travel only with consent and a programme diversity objective.
    diversity = (
        participant["diversity"]
        if participant["diversity_consent_at"] is not None and programme.diversity_objective
        else None
    )
    return ParticipantState(
        participant_id=participant["id"],
        programme_id=participant["programme_id"],
        role="mentor" if participant["role"] == "mentor" else "mentee",
        status="active" if participant["status"] == "active" else "withdrawn",
        employee=snapshot_of(employee, chain),
        survey_version=participant["survey_version"],
        topics_teach=[TopicSkill.model_validate(t) for t in participant["topics_teach"]],
        topics_learn=[TopicSkill.model_validate(t) for t in participant["topics_learn"]],
        interests=participant["interests"],
        availability=[AvailabilityWindow.model_validate(w) for w in participant["availability"]],
        time_zone=participant["time_zone"] or employee["time_zone"],
        meeting_formats=participant["meeting_formats"],
        communication_preferences=participant["communication_preferences"],
        languages=participant["languages"],
        mentor_capacity=participant["mentor_capacity"],
        dei_opt_in=participant["dei_opt_in"],
        avoid_employee_ids=participant["avoid_employee_ids"],
        diversity=diversity,
    )


async def participant_enrolled(
    session: AsyncSession, participant: Participant, employee: Employee, programme: Programme
) -> None:
    state = await participant_state(session, participant, employee, programme)
    emit(session, ParticipantEnrolled(participant=state, occurred_at=utcnow()))


async def participant_updated(
    session: AsyncSession, participant: Participant, employee: Employee, programme: Programme
) -> None:
    state = await participant_state(session, participant, employee, programme)
    emit(session, ParticipantUpdated(participant=state, occurred_at=utcnow()))


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
    )


def participant_invited(session: AsyncSession, invitation: Invitation) -> None:
    """HR's invitation: who, to which programme and role, when; never the message."""
    emit(session, ParticipantInvited(
        invitation_id=invitation.id, programme_id=invitation.programme_id,
        employee_id=invitation.employee_id,
        role="mentor" if invitation.role == "mentor" else "mentee",
        occurred_at=invitation.invited_at))


def participants_left(session: AsyncSession, rows: Sequence[Mapping[str, Any]],
                      occurred_at: datetime) -> None:
    """Leavers' participations ended (`participant.withdrawn`, reason `departure`)."""
    for row in rows:
        emit(session, ParticipantWithdrawn(
            participant_id=row["id"], programme_id=row["programme_id"],
            employee_id=row["employee_id"], reason="departure", occurred_at=occurred_at))


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
        "dei_topics": dei_topics(programme.topics),
        "blackout_dates": list(programme.blackout_dates or []),
        "goal_templates": template_ids(list(programme.goal_templates or [])),
        "job_level_max": MAX_JOB_LEVEL,
    })


def programme_updated(session: AsyncSession, programme: Programme) -> None:
    emit(session, ProgrammeUpdated(programme=programme_snapshot(programme),
                                   occurred_at=utcnow()))
