"""What scheduling emits.

The handlers of the events it consumes are rules and live in `service.py`,
which calls these emitters; this module never imports it, so events flow one way.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel.ext.asyncio.session import AsyncSession

from scheduling.models import MentoringSession
from upward_common.events import (
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
