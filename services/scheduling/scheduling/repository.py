"""All of scheduling's SQL. Repositories flush, never commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar

from sqlalchemy import bindparam, delete, func, or_, update
from sqlalchemy import select as core_select
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from scheduling.models import (
    CalendarFeed,
    Goal,
    GoalProgress,
    GoalStatus,
    MemberLog,
    MentoringSession,
    Pair,
    PairingFit,
    PairStatus,
    Participant,
    Plan,
    PlanSeries,
    PrivateNote,
    Programme,
    SessionStatus,
)

Row = (Pair | Programme | Participant | MentoringSession | PrivateNote | Plan | PlanSeries
       | CalendarFeed | MemberLog | Goal | GoalProgress)


async def add(session: AsyncSession, row: Row) -> None:
    session.add(row)
    await session.flush()


async def get_pair(session: AsyncSession, pair_id: str) -> Pair | None:
    return await session.get(Pair, pair_id)


async def get_programme(session: AsyncSession, programme_id: str) -> Programme | None:
    return await session.get(Programme, programme_id)


async def get_participant(session: AsyncSession, participant_id: str) -> Participant | None:
    return await session.get(Participant, participant_id)


async def get_session(session: AsyncSession, session_id: str) -> MentoringSession | None:
    return await session.get(MentoringSession, session_id)


async def sessions_of_pair(session: AsyncSession, pair_id: str) -> Sequence[MentoringSession]:
    query = (
        select(MentoringSession)
        .where(MentoringSession.pair_id == pair_id)
        .order_by(col(MentoringSession.starts_at), col(MentoringSession.id))
    )
    return (await session.exec(query)).all()


Keyed = TypeVar("Keyed", Pair, Participant)


async def _by_id(session: AsyncSession, model: type[Keyed], ids: Sequence[str]
                 ) -> dict[str, Keyed]:
    """The rows of `model` with these ids, by id (the ones that exist)."""
    wanted = list(dict.fromkeys(ids))
    found: dict[str, Keyed] = {}
    # Chunked: SQLite caps the number of bound parameters per statement.
    for start in range(0, len(wanted), 500):
        query = select(model).where(col(model.id).in_(wanted[start : start + 500]))
        found.update({row.id: row for row in await session.exec(query)})
    return found


async def pairs_by_id(session: AsyncSession, ids: Sequence[str]) -> dict[str, Pair]:
    return await _by_id(session, Pair, ids)


async def sessions_of_pairs(
    session: AsyncSession, pair_ids: Sequence[str]
) -> Sequence[MentoringSession]:
    ids = list(pair_ids)
    rows: list[MentoringSession] = []
    for start in range(0, len(ids), 500):
        query = (
            select(MentoringSession)
            .where(col(MentoringSession.pair_id).in_(ids[start : start + 500]))
            .order_by(col(MentoringSession.starts_at), col(MentoringSession.id))
        )
        rows.extend((await session.exec(query)).all())
    return rows


def _next_sessions_query() -> SelectOfScalar[MentoringSession]:
    """Each of `:pair_ids`' first planned session (ROW_NUMBER per pair), in start order."""
    rank = func.row_number().over(
        partition_by=col(MentoringSession.pair_id),
        order_by=(col(MentoringSession.starts_at), col(MentoringSession.id)),
    ).label("rank")
    ranked = (
        select(MentoringSession, rank)
        .where(col(MentoringSession.pair_id).in_(bindparam("pair_ids", expanding=True)),
               col(MentoringSession.status) == SessionStatus.PLANNED)
        .subquery()
    )
    first = aliased(MentoringSession, ranked)
    return (select(first).where(ranked.c.rank == 1)
            .order_by(col(first.starts_at), col(first.id)))


# Built once: building the ranked subquery and its alias cost more than running it.
_NEXT_SESSIONS = _next_sessions_query()


async def next_sessions_of_pairs(
    session: AsyncSession, pair_ids: Sequence[str]
) -> Sequence[MentoringSession]:
    """Each pair's first session still planned, by start then id (at most one a pair),
    in start order.

    Ranked in SQL (ROW_NUMBER per pair), so a dashboard's next sessions cost one row a
    pair, not the pair's whole plan loaded and thrown away but for one occurrence.
    """
    ids = list(dict.fromkeys(pair_ids))
    rows: list[MentoringSession] = []
    for start in range(0, len(ids), 500):
        found = await session.exec(_NEXT_SESSIONS, params={"pair_ids": ids[start : start + 500]})
        rows.extend(found.all())
    return rows


async def sessions_of_employee(
    session: AsyncSession, employee_id: str
) -> Sequence[MentoringSession]:
    query = (
        select(MentoringSession)
        .join(Pair, col(Pair.id) == col(MentoringSession.pair_id))
        .where(or_(col(Pair.mentor_employee_id) == employee_id,
                   col(Pair.mentee_employee_id) == employee_id))
        .order_by(col(MentoringSession.starts_at), col(MentoringSession.id))
    )
    return (await session.exec(query)).all()


async def notes_by_author(
    session: AsyncSession, *, author_employee_id: str, session_ids: Sequence[str]
) -> dict[str, str]:
    """The author's own notes on these sessions, by session id."""
    notes: dict[str, str] = {}
    ids = list(session_ids)
    # Chunked: SQLite caps the number of bound parameters per statement.
    for start in range(0, len(ids), 500):
        query = select(PrivateNote).where(
            PrivateNote.author_employee_id == author_employee_id,
            col(PrivateNote.session_id).in_(ids[start : start + 500]),
        )
        notes.update({note.session_id: note.body for note in await session.exec(query)})
    return notes


async def cancel_planned_sessions(
    session: AsyncSession, *, pair_ids: Sequence[str], starting_from: datetime
) -> Sequence[MentoringSession]:
    """Cancel the pairs' planned sessions that start at or after `starting_from`."""
    if not pair_ids:
        return []
    query = select(MentoringSession).where(
        col(MentoringSession.pair_id).in_(list(pair_ids)),
        col(MentoringSession.status) == SessionStatus.PLANNED,
        col(MentoringSession.starts_at) >= starting_from,
    )
    cancelled = (await session.exec(query)).all()
    for row in cancelled:
        row.status = SessionStatus.CANCELLED
    await session.flush()
    return cancelled


async def pairs_of_employee(session: AsyncSession, employee_id: str) -> Sequence[Pair]:
    query = select(Pair).where(or_(col(Pair.mentor_employee_id) == employee_id,
                                   col(Pair.mentee_employee_id) == employee_id))
    return (await session.exec(query)).all()


async def forget_employee(session: AsyncSession, employee_id: str) -> None:
    """Delete the employee's notes and recaps and drop their id from every row."""
    await session.exec(delete(PrivateNote).where(
        col(PrivateNote.author_employee_id) == employee_id))
    await session.exec(
        update(MentoringSession)
        .where(col(MentoringSession.logged_by_employee_id) == employee_id)
        .values(recap=None, logged_by_employee_id=None)
    )
    await session.exec(update(MemberLog).where(col(MemberLog.author_employee_id) == employee_id)
                       .values(author_employee_id=None))
    await session.exec(update(Goal).where(col(Goal.created_by_employee_id) == employee_id)
                       .values(created_by_employee_id=None))
    await session.exec(update(GoalProgress)
                       .where(col(GoalProgress.recorded_by_employee_id) == employee_id)
                       .values(recorded_by_employee_id=None))
    await session.exec(update(Pair).where(col(Pair.mentor_employee_id) == employee_id)
                       .values(mentor_employee_id=None))
    await session.exec(update(Pair).where(col(Pair.mentee_employee_id) == employee_id)
                       .values(mentee_employee_id=None))
    await session.exec(update(Participant).where(col(Participant.employee_id) == employee_id)
                       .values(employee_id=None, time_zone=None))
    await session.flush()


# --- plans and calendar feeds ---------------------------------------------------


async def plan_of_pair(session: AsyncSession, pair_id: str) -> Plan | None:
    return (await session.exec(select(Plan).where(Plan.pair_id == pair_id))).first()


async def get_plan(session: AsyncSession, plan_id: str) -> Plan | None:
    return await session.get(Plan, plan_id)


async def series_of_plan(session: AsyncSession, plan_id: str) -> Sequence[PlanSeries]:
    query = (select(PlanSeries).where(PlanSeries.plan_id == plan_id)
             .order_by(col(PlanSeries.position)))
    return (await session.exec(query)).all()


async def get_series(session: AsyncSession, series_id: str) -> PlanSeries | None:
    return await session.get(PlanSeries, series_id)


async def sessions_of_plan(session: AsyncSession, plan_id: str) -> Sequence[MentoringSession]:
    query = (
        select(MentoringSession)
        .where(MentoringSession.plan_id == plan_id)
        .order_by(col(MentoringSession.starts_at), col(MentoringSession.id))
    )
    return (await session.exec(query)).all()


async def participant_of_employee(
    session: AsyncSession, *, programme_id: str, employee_id: str | None
) -> Participant | None:
    if employee_id is None:
        return None
    query = select(Participant).where(Participant.programme_id == programme_id,
                                      Participant.employee_id == employee_id)
    return (await session.exec(query)).first()


async def booked(
    session: AsyncSession, *, employee_ids: Sequence[str], excluding_pair_id: str
) -> dict[str, list[tuple[datetime, datetime, str]]]:
    """Each employee's planned sessions in their other pairs: (start, end, session id)."""
    found: dict[str, list[tuple[datetime, datetime, str]]] = {e: [] for e in employee_ids}
    if not employee_ids:
        return found
    # One query for everybody (a pair's two members): each row goes to whichever of
    # them is in its pair, in the order of `employee_ids`, as one query each would.
    query = (
        select(MentoringSession, Pair.mentor_employee_id, Pair.mentee_employee_id)
        .join(Pair, col(Pair.id) == col(MentoringSession.pair_id))
        .where(or_(col(Pair.mentor_employee_id).in_(employee_ids),
                   col(Pair.mentee_employee_id).in_(employee_ids)),
               col(MentoringSession.pair_id) != excluding_pair_id,
               col(MentoringSession.status) == SessionStatus.PLANNED)
    )
    rows = (await session.exec(query)).all()
    for employee_id in found:
        for row, mentor, mentee in rows:
            if employee_id in (mentor, mentee):
                found[employee_id].append(
                    (row.starts_at, row.starts_at + timedelta(minutes=row.duration_minutes),
                     row.id))
    return found


async def participants_of_employees(
    session: AsyncSession, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], Participant]:
    """`participant_of_employee` for many (programme id, employee id) at once."""
    wanted = set(keys)
    employees = list(dict.fromkeys(employee_id for _, employee_id in keys))
    programmes = list(dict.fromkeys(programme_id for programme_id, _ in keys))
    found: dict[tuple[str, str], Participant] = {}
    # Chunked: SQLite caps the number of bound parameters per statement.
    for start in range(0, len(employees), 500):
        query = select(Participant).where(
            col(Participant.programme_id).in_(programmes),
            col(Participant.employee_id).in_(employees[start : start + 500]))
        for row in await session.exec(query):
            key = (row.programme_id, row.employee_id or "")
            if key in wanted:
                found.setdefault(key, row)
    return found


async def participants_by_id(
    session: AsyncSession, ids: Sequence[str]
) -> dict[str, Participant]:
    return await _by_id(session, Participant, ids)


async def employees_with_active_plans(
    session: AsyncSession, keys: Sequence[tuple[str, str]]
) -> set[tuple[str, str]]:
    """Which of these (programme id, employee id) are in an active pair that has a plan."""
    wanted = set(keys)
    employees = list(dict.fromkeys(employee_id for _, employee_id in keys))
    found: set[tuple[str, str]] = set()
    for start in range(0, len(employees), 400):
        chunk = employees[start : start + 400]
        query = (
            select(Pair.programme_id, Pair.mentor_employee_id, Pair.mentee_employee_id)
            .join(Plan, col(Plan.pair_id) == col(Pair.id))
            .where(col(Pair.status) == "active",
                   or_(col(Pair.mentor_employee_id).in_(chunk),
                       col(Pair.mentee_employee_id).in_(chunk)))
        )
        for programme_id, mentor, mentee in await session.exec(query):
            found.update(key for key in ((programme_id, mentor or ""), (programme_id, mentee or ""))
                         if key in wanted)
    return found


async def booked_of_employees(
    session: AsyncSession, employee_ids: Sequence[str]
) -> dict[str, list[tuple[datetime, datetime, str]]]:
    """Each employee's planned sessions in any of their pairs: (start, end, pair id).

    `booked` for many employees at once; the caller leaves out the pair it plans.
    """
    wanted = list(dict.fromkeys(employee_ids))
    found: dict[str, list[tuple[datetime, datetime, str]]] = {e: [] for e in wanted}
    seen: set[str] = set()
    # Chunked (two lists of parameters per statement); a session whose two members fall
    # in different chunks comes back twice, and counts once.
    for start in range(0, len(wanted), 400):
        chunk = wanted[start : start + 400]
        # Columns, not ORM rows: a run reads every member's year of sessions.
        query = (
            core_select(col(MentoringSession.id), col(MentoringSession.starts_at),
                        col(MentoringSession.duration_minutes), col(MentoringSession.pair_id),
                        col(Pair.mentor_employee_id), col(Pair.mentee_employee_id))
            .join(Pair, col(Pair.id) == col(MentoringSession.pair_id))
            .where(or_(col(Pair.mentor_employee_id).in_(chunk),
                       col(Pair.mentee_employee_id).in_(chunk)),
                   col(MentoringSession.status) == SessionStatus.PLANNED)
        )
        result = await session.exec(query)  # type: ignore[call-overload]
        for session_id, starts_at, minutes, pair_id, mentor, mentee in result:
            if session_id in seen:
                continue
            seen.add(session_id)
            span = (starts_at, starts_at + timedelta(minutes=minutes), pair_id)
            for employee_id in dict.fromkeys((mentor, mentee)):
                if employee_id in found:
                    found[employee_id].append(span)
    return found


async def active_pairs_of_employee(
    session: AsyncSession, *, programme_id: str, employee_id: str
) -> Sequence[Pair]:
    query = select(Pair).where(
        Pair.programme_id == programme_id, col(Pair.status) == "active",
        or_(col(Pair.mentor_employee_id) == employee_id,
            col(Pair.mentee_employee_id) == employee_id))
    return (await session.exec(query)).all()


async def feed_by_hash(session: AsyncSession, token_sha256: str) -> CalendarFeed | None:
    query = select(CalendarFeed).where(CalendarFeed.token_sha256 == token_sha256)
    return (await session.exec(query)).first()


async def live_feeds_of(session: AsyncSession, employee_id: str) -> Sequence[CalendarFeed]:
    query = select(CalendarFeed).where(CalendarFeed.employee_id == employee_id,
                                       col(CalendarFeed.revoked_at).is_(None))
    return (await session.exec(query)).all()


async def plans_of_employee(session: AsyncSession, employee_id: str) -> Sequence[Plan]:
    query = (
        select(Plan)
        .join(Pair, col(Pair.id) == col(Plan.pair_id))
        .where(or_(col(Pair.mentor_employee_id) == employee_id,
                   col(Pair.mentee_employee_id) == employee_id))
        .order_by(col(Plan.created_at), col(Plan.id))
    )
    return (await session.exec(query)).all()
# --- session logs ----------------------------------------------------------------


async def get_note(
    session: AsyncSession, *, session_id: str, author_employee_id: str
) -> PrivateNote | None:
    query = select(PrivateNote).where(PrivateNote.session_id == session_id,
                                      PrivateNote.author_employee_id == author_employee_id)
    return (await session.exec(query)).first()


async def logs_of_sessions(
    session: AsyncSession, session_ids: Sequence[str]
) -> Sequence[MemberLog]:
    ids = list(session_ids)
    rows: list[MemberLog] = []
    for start in range(0, len(ids), 500):
        query = (select(MemberLog)
                 .where(col(MemberLog.session_id).in_(ids[start : start + 500]))
                 .order_by(col(MemberLog.logged_at), col(MemberLog.id)))
        rows.extend((await session.exec(query)).all())
    return rows


async def poor_fit_reports(session: AsyncSession, pair_id: str) -> int:
    query = select(func.count()).select_from(MemberLog).where(
        MemberLog.pair_id == pair_id, col(MemberLog.fit) == PairingFit.POOR)
    return int((await session.exec(query)).one())


# --- goals -------------------------------------------------------------------------


async def get_goal(session: AsyncSession, goal_id: str) -> Goal | None:
    return await session.get(Goal, goal_id)


async def goals_of_pair(session: AsyncSession, pair_id: str) -> Sequence[Goal]:
    query = (select(Goal).where(Goal.pair_id == pair_id)
             .order_by(col(Goal.created_at), col(Goal.id)))
    return (await session.exec(query)).all()


async def progress_of_goals(
    session: AsyncSession, goal_ids: Sequence[str]
) -> Sequence[GoalProgress]:
    if not goal_ids:
        return []
    query = (select(GoalProgress).where(col(GoalProgress.goal_id).in_(list(goal_ids)))
             .order_by(col(GoalProgress.recorded_on), col(GoalProgress.recorded_at),
                       col(GoalProgress.id)))
    return (await session.exec(query)).all()


async def goals_due_before(session: AsyncSession, day: date) -> Sequence[Goal]:
    """Active goals whose due date is before `day`."""
    query = select(Goal).where(col(Goal.status) == GoalStatus.ACTIVE, col(Goal.due_on) < day)
    return (await session.exec(query)).all()


# --- inactivity --------------------------------------------------------------------


async def active_pairs_with_last_held(
    session: AsyncSession,
) -> Sequence[tuple[Pair, datetime | None]]:
    """Every formed, active pair with the `held_at` of its latest held session."""
    last_held = (
        select(MentoringSession.pair_id,
               func.max(MentoringSession.held_at).label("last_held_at"))
        .where(col(MentoringSession.status) == SessionStatus.HELD)
        .group_by(col(MentoringSession.pair_id))
        .subquery()
    )
    query = (
        select(Pair, last_held.c.last_held_at)
        .outerjoin(last_held, last_held.c.pair_id == col(Pair.id))
        .where(col(Pair.status) == PairStatus.ACTIVE, col(Pair.formed_at).is_not(None))
        .order_by(col(Pair.id))
    )
    rows = (await session.exec(query)).all()
    return [(pair, _aware(held)) for pair, held in rows]


def _aware(value: datetime | None) -> datetime | None:
    # An aggregate skips the column's type: SQLite hands back a naive (UTC) datetime
    # or its text.
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


# --- blackout dates -----------------------------------------------------------------


async def planned_of_programme(
    session: AsyncSession, *, programme_id: str, starting_from: datetime
) -> Sequence[MentoringSession]:
    """The programme's planned plan occurrences that start at or after `starting_from`."""
    query = select(MentoringSession).where(
        MentoringSession.programme_id == programme_id,
        col(MentoringSession.plan_id).is_not(None),
        col(MentoringSession.status) == SessionStatus.PLANNED,
        col(MentoringSession.starts_at) >= starting_from,
    ).order_by(col(MentoringSession.starts_at), col(MentoringSession.id))
    return (await session.exec(query)).all()


async def series_by_id(session: AsyncSession, ids: Sequence[str]) -> dict[str, PlanSeries]:
    found: dict[str, PlanSeries] = {}
    unique = list(dict.fromkeys(ids))
    for start in range(0, len(unique), 500):
        query = select(PlanSeries).where(col(PlanSeries.id).in_(unique[start : start + 500]))
        found.update({row.id: row for row in await session.exec(query)})
    return found


async def plans_by_id(session: AsyncSession, ids: Sequence[str]) -> dict[str, Plan]:
    found: dict[str, Plan] = {}
    unique = list(dict.fromkeys(ids))
    for start in range(0, len(unique), 500):
        query = select(Plan).where(col(Plan.id).in_(unique[start : start + 500]))
        found.update({row.id: row for row in await session.exec(query)})
    return found
