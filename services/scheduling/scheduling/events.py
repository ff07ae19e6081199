"""What scheduling emits.

The handlers of the events it consumes are rules and live in `service.py`,
which calls these emitters; this module never imports it, so events flow one way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from scheduling.models import (
    Goal,
    GroupSession,
    MemberLog,
    MentoringSession,
    Pair,
    Plan,
    RsvpCounts,
    Touchpoint,
)
from upward_common.events import (
    GoalUpdated,
    GroupSessionCancelled,
    GroupSessionRsvped,
    GroupSessionScheduled,
    PairAtRisk,
    PairClosureProposed,
    PairFitFlagged,
    PlanAccepted,
    SessionCancelled,
    SessionLogged,
    SessionRescheduled,
    SessionScheduled,
    TouchpointRecorded,
    utcnow,
)
from upward_common.outbox import emit, emit_many


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


async def sessions_scheduled(
    session: AsyncSession, planned: Sequence[Mapping[str, Any]], *, occurred_at: datetime
) -> None:
    """`session.scheduled` for each of a new plan's occurrences (their rows), in one INSERT."""
    await emit_many(session, [SessionScheduled(
        session_id=row["id"], pair_id=row["pair_id"], programme_id=row["programme_id"],
        starts_at=row["starts_at"], duration_minutes=row["duration_minutes"],
        occurred_at=occurred_at) for row in planned])


async def sessions_scheduled_of_plans(
    session: AsyncSession, plans: Sequence[tuple[Sequence[Mapping[str, Any]], datetime]]
) -> None:
    """`sessions_scheduled` for several new plans (each plan's rows and its event's time),
    all in one INSERT, plan after plan."""
    await emit_many(session, [SessionScheduled(
        session_id=row["id"], pair_id=row["pair_id"], programme_id=row["programme_id"],
        starts_at=row["starts_at"], duration_minutes=row["duration_minutes"],
        occurred_at=occurred_at) for planned, occurred_at in plans for row in planned])


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


def session_logged(
    session: AsyncSession, held: MentoringSession, log: MemberLog, *, logged_by: str,
    corrected: bool = False,
) -> None:
    # Neither the recap nor any private note travels: the member's own part only.
    emit(session, SessionLogged(
        session_id=held.id,
        pair_id=held.pair_id,
        programme_id=held.programme_id,
        held_at=log.held_at,
        duration_minutes=log.duration_minutes,
        logged_by_employee_id=logged_by,
        author_role="mentor" if log.author_role == "mentor" else "mentee",
        mentor_attended=log.mentor_attended,
        mentee_attended=log.mentee_attended,
        topics=list(log.topics),
        rating=log.rating,
        fit=None if log.fit is None else ("poor" if log.fit == "poor" else "good"),
        corrected=corrected,
        occurred_at=utcnow(),
    ))


# --- session logs, goals, inactivity -----------------------------------------------


def pair_fit_flagged(session: AsyncSession, pair: Pair, *, reports: int, at: datetime) -> None:
    emit(session, PairFitFlagged(pair_id=pair.id, programme_id=pair.programme_id,
                                 poor_fit_reports=reports, occurred_at=at))


def goal_updated(session: AsyncSession, goal: Goal, *, at: datetime) -> None:
    emit(session, GoalUpdated(goal_id=goal.id, pair_id=goal.pair_id,
                              programme_id=goal.programme_id, status=str(goal.status),
                              progress_percent=goal.progress_percent, occurred_at=at))


def pair_at_risk(
    session: AsyncSession, pair: Pair, *, silent_since: datetime, cadence_days: int,
    at: datetime,
) -> None:
    emit(session, PairAtRisk(pair_id=pair.id, programme_id=pair.programme_id,
                             silent_since=silent_since, cadence_days=cadence_days,
                             occurred_at=at))


def pair_closure_proposed(
    session: AsyncSession, pair: Pair, *, silent_since: datetime, silent_days: int,
    at: datetime,
) -> None:
    emit(session, PairClosureProposed(pair_id=pair.id, programme_id=pair.programme_id,
                                      silent_since=silent_since, silent_days=silent_days,
                                      occurred_at=at))


# --- touchpoints and group sessions (gatherings.py) --------------------------------


def touchpoint_recorded(session: AsyncSession, row: Touchpoint, *, at: datetime) -> None:
    emit(session, TouchpointRecorded(
        touchpoint_id=row.id, pair_id=row.pair_id, programme_id=row.programme_id,
        author_role=row.author_role, kind=str(row.kind), minutes=row.minutes, at=row.at,
        occurred_at=at))


def group_session_scheduled(session: AsyncSession, row: GroupSession, *, at: datetime) -> None:
    emit(session, GroupSessionScheduled(
        group_session_id=row.id, programme_id=row.programme_id, starts_at=row.starts_at,
        duration_minutes=row.duration_minutes, capacity=row.capacity, sequence=row.sequence,
        occurred_at=at))


def group_session_cancelled(session: AsyncSession, row: GroupSession, *, at: datetime) -> None:
    emit(session, GroupSessionCancelled(group_session_id=row.id, programme_id=row.programme_id,
                                        starts_at=row.starts_at, occurred_at=at))


def group_session_rsvped(
    session: AsyncSession, row: GroupSession, *, response: str, counts: RsvpCounts,
    at: datetime,
) -> None:
    emit(session, GroupSessionRsvped(
        group_session_id=row.id, programme_id=row.programme_id, response=response,
        yes=counts.yes, no=counts.no, maybe=counts.maybe, occurred_at=at))
