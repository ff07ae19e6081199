"""Analytics' rules: fold each event into its read model, order-tolerantly; answer summaries.

Every `apply_*` is idempotent and commutes with the events it races: a status
change applies only if it is not older than the one already recorded, and a
row created by an early event is completed by the late one.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from analytics import repository
from analytics.models import (
    Employee,
    Goal,
    MentoringSession,
    Milestone,
    Pair,
    Participant,
    Programme,
    ProgrammeSummary,
)
from upward_common.events import (
    EmployeeSnapshot,
    GoalUpdated,
    MilestoneReached,
    PairEnded,
    PairFormed,
    ParticipantState,
    ParticipantWithdrawn,
    ProgrammeSnapshot,
    SessionCancelled,
    SessionLogged,
    SessionScheduled,
)

ACTIVE, WITHDRAWN = "active", "withdrawn"


async def apply_programme(
    session: AsyncSession, *, programme: ProgrammeSnapshot, at: datetime
) -> None:
    row = await repository.get(session, Programme, programme.programme_id)
    if row is not None and row.updated_at > at:
        return
    row = row or Programme(id=programme.programme_id, name=programme.name,
                           status=programme.status, updated_at=at)
    row.name, row.status, row.updated_at = programme.name, programme.status, at
    await repository.add(session, row)


async def apply_employee(session: AsyncSession, *, employee: EmployeeSnapshot,
                         at: datetime) -> None:
    row = await repository.get(session, Employee, employee.employee_id)
    if row is not None and (row.erased_at is not None or row.updated_at > at):
        return
    row = row or Employee(id=employee.employee_id, updated_at=at)
    row.job_level = employee.job_level
    row.department = employee.department
    row.hire_on = employee.hire_on
    row.leave_on = employee.leave_on
    row.active = employee.active
    row.updated_at = at
    await repository.add(session, row)


async def erase_employee(session: AsyncSession, *, employee_id: str, at: datetime) -> None:
    """Keep a bare tombstone and drop the id from participants; counts are unaffected."""
    row = await repository.get(session, Employee, employee_id)
    row = row or Employee(id=employee_id, updated_at=at)
    row.job_level = row.department = row.hire_on = row.leave_on = None
    row.active = False
    row.erased_at = row.erased_at or at
    await repository.add(session, row)
    await repository.forget_employee(session, employee_id)


async def _employee_id(session: AsyncSession, employee_id: str) -> str | None:
    # An event older than the erasure must not bring the id back.
    row = await repository.get(session, Employee, employee_id)
    return None if row is not None and row.erased_at is not None else employee_id


def _newer(row: Participant, at: datetime, status: str) -> bool:
    # On a tie the withdrawal wins: leaving is what the participant did last.
    if at == row.status_at:
        return status == WITHDRAWN
    return at > row.status_at


async def apply_participant(
    session: AsyncSession, *, participant: ParticipantState, at: datetime, enrolled: bool
) -> None:
    """An enrolment or a participant update (which carries the full state)."""
    row = await repository.get(session, Participant, participant.participant_id)
    if row is None:
        row = Participant(id=participant.participant_id, programme_id=participant.programme_id,
                          status=participant.status, status_at=at)
    elif _newer(row, at, participant.status):
        row.status, row.status_at = participant.status, at
    row.programme_id = participant.programme_id
    row.role = participant.role
    row.employee_id = await _employee_id(session, participant.employee.employee_id)
    if enrolled:
        row.enrolled_at = min(row.enrolled_at or at, at)
    if participant.status == WITHDRAWN:
        row.withdrawn_at = row.withdrawn_at or at
    await repository.add(session, row)


async def apply_withdrawal(session: AsyncSession, *, data: ParticipantWithdrawn) -> None:
    at = data.occurred_at
    row = await repository.get(session, Participant, data.participant_id)
    if row is None:
        # Ahead of its enrolment: the late enrolment fills in the role, status stays.
        row = Participant(id=data.participant_id, programme_id=data.programme_id,
                          employee_id=await _employee_id(session, data.employee_id),
                          status=WITHDRAWN, status_at=at)
    elif _newer(row, at, WITHDRAWN):
        row.status, row.status_at = WITHDRAWN, at
    row.withdrawn_at = max(row.withdrawn_at or at, at)
    await repository.add(session, row)


async def apply_pair_formed(session: AsyncSession, *, data: PairFormed) -> None:
    row = await repository.get(session, Pair, data.pair_id)
    row = row or Pair(id=data.pair_id, programme_id=data.programme_id)
    row.programme_id = data.programme_id
    row.formed_at = row.formed_at or data.occurred_at
    await repository.add(session, row)


async def apply_pair_ended(session: AsyncSession, *, data: PairEnded) -> None:
    row = await repository.get(session, Pair, data.pair_id)
    row = row or Pair(id=data.pair_id, programme_id=data.programme_id)
    if row.ended_at is None:
        row.ended_at = data.occurred_at
        row.ended_reason = data.reason[:200]
    await repository.add(session, row)


async def apply_session_scheduled(session: AsyncSession, *, data: SessionScheduled) -> None:
    row = await repository.get(session, MentoringSession, data.session_id)
    row = row or MentoringSession(id=data.session_id, pair_id=data.pair_id,
                                  programme_id=data.programme_id)
    row.scheduled_at = row.scheduled_at or data.occurred_at
    row.starts_at = data.starts_at
    row.duration_minutes = row.duration_minutes or data.duration_minutes
    await repository.add(session, row)


async def apply_session_logged(session: AsyncSession, *, data: SessionLogged) -> None:
    row = await repository.get(session, MentoringSession, data.session_id)
    row = row or MentoringSession(id=data.session_id, pair_id=data.pair_id,
                                  programme_id=data.programme_id)
    row.held_at = data.held_at
    # The length actually held replaces the planned one.
    row.duration_minutes = data.duration_minutes
    await repository.add(session, row)


async def apply_session_cancelled(session: AsyncSession, *, data: SessionCancelled) -> None:
    row = await repository.get(session, MentoringSession, data.session_id)
    row = row or MentoringSession(id=data.session_id, pair_id=data.pair_id,
                                  programme_id=data.programme_id)
    row.cancelled_at = data.occurred_at
    await repository.add(session, row)


async def apply_goal(session: AsyncSession, *, data: GoalUpdated) -> None:
    row = await repository.get(session, Goal, data.goal_id)
    if row is not None and row.updated_at > data.occurred_at:
        return
    row = row or Goal(id=data.goal_id, pair_id=data.pair_id, programme_id=data.programme_id,
                      status=data.status, progress_percent=data.progress_percent,
                      updated_at=data.occurred_at)
    row.status, row.progress_percent = data.status[:32], data.progress_percent
    row.updated_at = data.occurred_at
    await repository.add(session, row)


async def apply_milestone(session: AsyncSession, *, data: MilestoneReached) -> None:
    row = await repository.get(session, Milestone, (data.programme_id, data.milestone))
    if row is not None and row.reached_at > data.occurred_at:
        return
    row = row or Milestone(programme_id=data.programme_id, milestone=data.milestone,
                           value=data.value, reached_at=data.occurred_at)
    row.value, row.reached_at = data.value, data.occurred_at
    await repository.add(session, row)


async def programme_summary(session: AsyncSession, *, programme_id: str) -> ProgrammeSummary:
    """The programme's figures; all zeros for a programme analytics has not heard of yet."""
    return ProgrammeSummary(
        programme_id=programme_id,
        participants_enrolled=await repository.count_participants(session, programme_id),
        mentors=await repository.count_participants(session, programme_id, role="mentor"),
        mentees=await repository.count_participants(session, programme_id, role="mentee"),
        pairs_formed=await repository.count_pairs(session, programme_id, active_only=False),
        pairs_active=await repository.count_pairs(session, programme_id, active_only=True),
        sessions_scheduled=await repository.count_sessions(session, programme_id, held=False),
        sessions_held=await repository.count_sessions(session, programme_id, held=True),
    )
