"""What scheduling emits, and the handlers of the events it consumes."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel.ext.asyncio.session import AsyncSession

from scheduling import service
from scheduling.models import MentoringSession
from upward_common.consumer import Handlers
from upward_common.events import (
    EmployeeErased,
    PairEnded,
    PairFormed,
    ParticipantUpdated,
    ProgrammeUpdated,
    SessionCancelled,
    SessionLogged,
    SessionScheduled,
    utcnow,
)
from upward_common.outbox import emit


def session_scheduled(session: AsyncSession, planned: MentoringSession) -> None:
    emit(session, SessionScheduled(
        session_id=planned.id,
        pair_id=planned.pair_id,
        programme_id=planned.programme_id,
        starts_at=planned.starts_at,
        duration_minutes=planned.duration_minutes,
        occurred_at=utcnow(),
    ))


def sessions_cancelled(
    session: AsyncSession, cancelled: Sequence[MentoringSession], *, reason: str
) -> None:
    for row in cancelled:
        emit(session, SessionCancelled(
            session_id=row.id, pair_id=row.pair_id, programme_id=row.programme_id,
            reason=reason, occurred_at=utcnow(),
        ))


def session_logged(session: AsyncSession, held: MentoringSession, *, logged_by: str) -> None:
    # Neither the recap nor any private note travels: only that it was held.
    assert held.held_at is not None
    emit(session, SessionLogged(
        session_id=held.id,
        pair_id=held.pair_id,
        programme_id=held.programme_id,
        held_at=held.held_at,
        duration_minutes=held.duration_minutes,
        logged_by_employee_id=logged_by,
        occurred_at=utcnow(),
    ))


async def on_pair_formed(session: AsyncSession, data: PairFormed) -> None:
    await service.pair_formed(
        session,
        pair_id=data.pair_id,
        programme_id=data.programme_id,
        mentor_employee_id=data.mentor_employee_id,
        mentee_employee_id=data.mentee_employee_id,
        formed_at=data.occurred_at,
    )


async def on_pair_ended(session: AsyncSession, data: PairEnded) -> None:
    await service.pair_ended(session, pair_id=data.pair_id, programme_id=data.programme_id,
                             reason=data.reason, ended_at=data.occurred_at)


async def on_programme_updated(
    session: AsyncSession, data: ProgrammeUpdated
) -> None:
    await service.programme_updated(session, programme=data.programme,
                                    updated_at=data.occurred_at)


async def on_participant_updated(
    session: AsyncSession, data: ParticipantUpdated
) -> None:
    await service.participant_updated(session, participant=data.participant,
                                      updated_at=data.occurred_at)


async def on_employee_erased(
    session: AsyncSession, data: EmployeeErased
) -> None:
    await service.employee_erased(session, employee_id=data.employee_id,
                                  erased_at=data.occurred_at)


HANDLERS: Handlers = {
    PairFormed: on_pair_formed,
    PairEnded: on_pair_ended,
    ProgrammeUpdated: on_programme_updated,
    ParticipantUpdated: on_participant_updated,
    EmployeeErased: on_employee_erased,
}
