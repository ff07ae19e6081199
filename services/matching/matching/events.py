"""What matching emits (pair-formed, pair-ended) and its handlers for enrolment's events.

Handlers are idempotent (the kernel's inbox drops a redelivered id) and
order-tolerant: each row remembers the `occurred_at` (and survey version) it
was built from, and an older event never overwrites a newer state.
"""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from matching import service
from matching.models import Pair
from upward_common.events import (
    EmployeeErased,
    EmployeeUpdated,
    PairEnded,
    PairFormed,
    ParticipantEnrolled,
    ParticipantUpdated,
    ParticipantWithdrawn,
    ProgrammeUpdated,
    utcnow,
)
from upward_common.outbox import emit


def pair_formed(session: AsyncSession, pair: Pair) -> None:
    emit(
        session,
        PairFormed(
            pair_id=pair.id,
            programme_id=pair.programme_id,
            mentor_participant_id=pair.mentor_participant_id,
            mentee_participant_id=pair.mentee_participant_id,
            mentor_employee_id=pair.mentor_employee_id,
            mentee_employee_id=pair.mentee_employee_id,
            score=pair.score,
            occurred_at=pair.formed_at or utcnow(),
        ),
    )


def pair_ended(session: AsyncSession, pair: Pair) -> None:
    emit(
        session,
        PairEnded(
            pair_id=pair.id,
            programme_id=pair.programme_id,
            reason=pair.end_reason or "admin",
            occurred_at=pair.ended_at or utcnow(),
        ),
    )


async def on_programme_updated(
    session: AsyncSession, data: ProgrammeUpdated
) -> None:
    await service.apply_programme(session, programme=data.programme, occurred_at=data.occurred_at)


async def on_employee_updated(
    session: AsyncSession, data: EmployeeUpdated
) -> None:
    await service.apply_employee(session, employee=data.employee, occurred_at=data.occurred_at)


async def on_employee_erased(
    session: AsyncSession, data: EmployeeErased
) -> None:
    await service.erase_employee(session, employee_id=data.employee_id,
                                 occurred_at=data.occurred_at)


async def on_participant_enrolled(
    session: AsyncSession, data: ParticipantEnrolled
) -> None:
    await service.apply_participant(session, state=data.participant, occurred_at=data.occurred_at)


async def on_participant_updated(
    session: AsyncSession, data: ParticipantUpdated
) -> None:
    await service.apply_participant(session, state=data.participant, occurred_at=data.occurred_at)


async def on_participant_withdrawn(
    session: AsyncSession, data: ParticipantWithdrawn
) -> None:
    await service.withdraw_participant(
        session, participant_id=data.participant_id, programme_id=data.programme_id,
        employee_id=data.employee_id, occurred_at=data.occurred_at)


HANDLERS = {
    ProgrammeUpdated: on_programme_updated,
    EmployeeUpdated: on_employee_updated,
    EmployeeErased: on_employee_erased,
    ParticipantEnrolled: on_participant_enrolled,
    ParticipantUpdated: on_participant_updated,
    ParticipantWithdrawn: on_participant_withdrawn,
}
