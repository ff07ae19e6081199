"""The handlers of every event: analytics listens to the whole stream and emits nothing yet.

Each handler folds one event into a read model, using only what the event
carries, so replaying the stream into empty tables rebuilds the same figures.
"""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from analytics import service
from upward_common.consumer import Handlers
from upward_common.events import (
    EmployeeErased,
    EmployeeUpdated,
    GoalUpdated,
    MilestoneReached,
    PairEnded,
    PairFormed,
    ParticipantEnrolled,
    ParticipantUpdated,
    ParticipantWithdrawn,
    ProgrammeUpdated,
    SessionCancelled,
    SessionLogged,
    SessionScheduled,
)


async def on_employee_updated(
    session: AsyncSession, data: EmployeeUpdated
) -> None:
    await service.apply_employee(session, employee=data.employee, at=data.occurred_at)


async def on_employee_erased(
    session: AsyncSession, data: EmployeeErased
) -> None:
    await service.erase_employee(session, employee_id=data.employee_id, at=data.occurred_at)


async def on_programme_updated(
    session: AsyncSession, data: ProgrammeUpdated
) -> None:
    await service.apply_programme(session, programme=data.programme, at=data.occurred_at)


async def on_participant_enrolled(
    session: AsyncSession, data: ParticipantEnrolled
) -> None:
    await service.apply_participant(session, participant=data.participant, at=data.occurred_at,
                                    enrolled=True)


async def on_participant_updated(
    session: AsyncSession, data: ParticipantUpdated
) -> None:
    await service.apply_participant(session, participant=data.participant, at=data.occurred_at,
                                    enrolled=False)


async def on_participant_withdrawn(
    session: AsyncSession, data: ParticipantWithdrawn
) -> None:
    await service.apply_withdrawal(session, data=data)


async def on_pair_formed(session: AsyncSession, data: PairFormed) -> None:
    await service.apply_pair_formed(session, data=data)


async def on_pair_ended(session: AsyncSession, data: PairEnded) -> None:
    await service.apply_pair_ended(session, data=data)


async def on_session_scheduled(
    session: AsyncSession, data: SessionScheduled
) -> None:
    await service.apply_session_scheduled(session, data=data)


async def on_session_logged(
    session: AsyncSession, data: SessionLogged
) -> None:
    await service.apply_session_logged(session, data=data)


async def on_session_cancelled(
    session: AsyncSession, data: SessionCancelled
) -> None:
    await service.apply_session_cancelled(session, data=data)


async def on_goal_updated(session: AsyncSession, data: GoalUpdated) -> None:
    await service.apply_goal(session, data=data)


async def on_milestone_reached(
    session: AsyncSession, data: MilestoneReached
) -> None:
    await service.apply_milestone(session, data=data)


# Every type of the contract; a test keeps this in step with `EventData.registry`.
HANDLERS: Handlers = {
    EmployeeUpdated: on_employee_updated,
    EmployeeErased: on_employee_erased,
    ProgrammeUpdated: on_programme_updated,
    ParticipantEnrolled: on_participant_enrolled,
    ParticipantUpdated: on_participant_updated,
    ParticipantWithdrawn: on_participant_withdrawn,
    PairFormed: on_pair_formed,
    PairEnded: on_pair_ended,
    SessionScheduled: on_session_scheduled,
    SessionLogged: on_session_logged,
    SessionCancelled: on_session_cancelled,
    GoalUpdated: on_goal_updated,
    MilestoneReached: on_milestone_reached,
}
