"""What enrolment emits. It consumes nothing: it is the source of people data."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from enrolment import repository
from enrolment.models import Employee, Participant, Programme
from upward_common.events import (
    EmployeeSnapshot,
    EmployeeUpdated,
    ParticipantEnrolled,
    ParticipantState,
    ParticipantWithdrawn,
    ProgrammeSnapshot,
    ProgrammeUpdated,
    TopicSkill,
    utcnow,
)
from upward_common.outbox import emit

SOURCE = "/upward/enrolment"


async def snapshot(session: AsyncSession, employee: Employee) -> EmployeeSnapshot:
    return EmployeeSnapshot(
        employee_id=employee.id,
        external_id=employee.external_id,
        email=employee.email,
        given_name=employee.given_name,
        family_name=employee.family_name,
        job_title=employee.job_title,
        job_level=employee.job_level,
        department=employee.department,
        manager_id=employee.manager_id,
        manager_chain=await repository.manager_chain(session, employee),
        location=employee.location,
        time_zone=employee.time_zone,
        hire_on=employee.hire_on,
        leave_on=employee.leave_on,
        active=employee.active,
    )


async def employee_updated(session: AsyncSession, employee: Employee) -> None:
    emit(session, EmployeeUpdated(employee=await snapshot(session, employee),
                                  occurred_at=utcnow()), source=SOURCE)


async def participant_state(
    session: AsyncSession, participant: Participant, employee: Employee
) -> ParticipantState:
    return ParticipantState(
        participant_id=participant.id,
        programme_id=participant.programme_id,
        role="mentor" if participant.role == "mentor" else "mentee",
        employee=await snapshot(session, employee),
        topics_teach=[TopicSkill.model_validate(t) for t in participant.topics_teach],
        topics_learn=[TopicSkill.model_validate(t) for t in participant.topics_learn],
        interests=participant.interests,
        languages=participant.languages,
        mentor_capacity=participant.mentor_capacity,
        survey_version=participant.survey_version,
    )


async def participant_enrolled(
    session: AsyncSession, participant: Participant, employee: Employee
) -> None:
    state = await participant_state(session, participant, employee)
    emit(session, ParticipantEnrolled(participant=state, occurred_at=utcnow()), source=SOURCE)


def participant_withdrawn(participant: Participant, session: AsyncSession, reason: str | None) -> None:
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


def programme_updated(session: AsyncSession, programme: Programme) -> None:
    snapshot = ProgrammeSnapshot(
        programme_id=programme.id,
        name=programme.name,
        status=programme.status.value,
        mentor_max_level=programme.mentor_max_level,
        mentee_min_level=programme.mentee_min_level,
        min_level_gap=programme.min_level_gap,
    )
    emit(session, ProgrammeUpdated(programme=snapshot, occurred_at=utcnow()), source=SOURCE)
