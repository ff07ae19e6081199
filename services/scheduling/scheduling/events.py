"""What scheduling emits.

The handlers of the events it consumes are rules and live in `service.py`,
which calls these emitters; this module never imports it, so events flow one way.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from scheduling.models import MentoringSession, Plan
from upward_common.events import (
    PlanAccepted,
    SessionCancelled,
    SessionLogged,
    SessionRescheduled,
    SessionScheduled,
    utcnow,
)
from upward_common.outbox import emit


def session_scheduled(
    session: AsyncSession, planned: MentoringSession, *, occurred_at: datetime | None = None
) -> None:
    emit(session, SessionScheduled(
        session_id=planned.id,
        pair_id=planned.pair_id,
        programme_id=planned.programme_id,
        starts_at=planned.starts_at,
        duration_minutes=planned.duration_minutes,
        occurred_at=occurred_at or utcnow(),
    ))


def sessions_cancelled(
    session: AsyncSession, cancelled: Sequence[MentoringSession], *, reason: str,
    occurred_at: datetime | None = None,
) -> None:
    for row in cancelled:
        emit(session, SessionCancelled(
            session_id=row.id, pair_id=row.pair_id, programme_id=row.programme_id,
            reason=reason, occurred_at=occurred_at or utcnow(),
        ))


# --- plans ------------------------------------------------------------------------


def session_rescheduled(
    session: AsyncSession, moved: MentoringSession, *, previous_starts_at: datetime,
    occurred_at: datetime,
) -> None:
    emit(session, SessionRescheduled(
        session_id=moved.id, pair_id=moved.pair_id, programme_id=moved.programme_id,
        plan_id=moved.plan_id, previous_starts_at=previous_starts_at,
        starts_at=moved.starts_at, duration_minutes=moved.duration_minutes,
        occurred_at=occurred_at,
    ))


def plan_accepted(
    session: AsyncSession, plan: Plan, *, accepted_by: str, occurred_at: datetime,
    occurrences: int,
) -> None:
    # Counts only: which slot was agreed stays with scheduling.
    emit(session, PlanAccepted(
        plan_id=plan.id, pair_id=plan.pair_id, programme_id=plan.programme_id,
        cadence=str(plan.cadence), occurrences=occurrences,
        accepted_by_employee_id=accepted_by, occurred_at=occurred_at,
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
