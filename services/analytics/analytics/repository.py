"""All of analytics' SQL. Repositories flush, never commit."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Table, delete, event, func, tuple_, update
from sqlalchemy import select as sa_select
from sqlalchemy.orm import Session, SessionTransaction
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from analytics.models import (
    Employee,
    EmployeeLevel,
    GroupSession,
    Invitation,
    MentoringSession,
    Pair,
    PairMilestone,
    Participant,
    ParticipationHistory,
    PulseRespondent,
    PulseResponse,
    PulseSurvey,
    RetentionInputs,
    RetentionReport,
    SessionLog,
    Touchpoint,
)
from upward_common.db import ids_in, upsert

Row = TypeVar("Row", bound=SQLModel)

async def get(session: AsyncSession, model: type[Row], key: Any) -> Row | None:
    return await session.get(model, key)


async def get_many(session: AsyncSession, model: type[Row], ids: Collection[str]) -> dict[str, Row]:
    """The rows with these ids (one SELECT ... IN), by id; absent ids are left out."""
    if not ids:
        return {}
    key = col(getattr(model, "id"))  # noqa: B009 - every model with an `id` key
    rows = (await session.exec(select(model).where(key.in_(ids)))).all()
    return {row.id: row for row in rows}  # type: ignore[attr-defined]


async def copies_many(session: AsyncSession, model: type[Row],
                      ids: Collection[str]) -> dict[str, Row]:
    """Copies of the rows with these ids (one SELECT ... IN), by id, outside the session:
    a bulk form folds events into them and writes them back with `write_rows`, which the
    ORM would otherwise send as one UPDATE per shape of change."""
    if not ids:
        return {}
    table: Table = model.__table__  # type: ignore[attr-defined]
    rows = await _core_rows(session, sa_select(table).where(table.c.id.in_(ids)))
    return {row.id: model(**row._mapping) for row in rows}


async def _core_rows(session: AsyncSession, query: Any) -> Sequence[Any]:
    """A Core query's rows, after the session's pending changes are flushed."""
    await session.flush()
    return (await (await session.connection()).execute(query)).all()


async def write_rows(session: AsyncSession, model: type[SQLModel], rows: Iterable[SQLModel],
                     *, key: tuple[str, ...] = ("id",)) -> None:
    """Insert these rows or overwrite the stored ones, whole (one statement; keys distinct)."""
    await upsert(session, model, [row.model_dump() for row in rows], key=key)


async def add(session: AsyncSession, row: SQLModel) -> None:
    session.add(row)
    await session.flush()


async def add_all(session: AsyncSession, rows: Iterable[SQLModel]) -> None:
    """New and changed rows in one flush (the ORM batches them per table)."""
    session.add_all(rows)
    await session.flush()


async def erased_employees(session: AsyncSession, ids: Collection[str]) -> set[str]:
    """Which of these employees were erased (one statement)."""
    table: Table = Employee.__table__  # type: ignore[attr-defined]
    return await ids_in(await session.connection(), table.c.id, ids, not_null=table.c.erased_at)


async def upsert_newer(session: AsyncSession, model: type[SQLModel],
                       rows: Sequence[Mapping[str, Any]], *, unless_erased: bool = False) -> None:
    """Insert each row, or overwrite the stored one unless a newer event set it.

    One statement for them all (the kernel's `upsert`): a stored row keeps its
    values when its `occurred_at` is later than the new one's (on a tie the new
    row wins, as the one-by-one rule does), or, with `unless_erased`, once it is
    an erasure's tombstone. Ids must be distinct.
    """
    await upsert(session, model, rows,
                 where=_newer_and_not_erased if unless_erased else _set_by_no_newer_event)


def _set_by_no_newer_event(table: Table, excluded: Any) -> ColumnElement[bool]:
    newer: ColumnElement[bool] = table.c.occurred_at <= excluded.occurred_at
    return newer


def _newer_and_not_erased(table: Table, excluded: Any) -> ColumnElement[bool]:
    kept: ColumnElement[bool] = _set_by_no_newer_event(table, excluded) & table.c.erased_at.is_(
        None)
    return kept


async def _count(session: AsyncSession, query: Any) -> int:
    return int((await session.exec(query)).one())


async def count_participants(
    session: AsyncSession, programme_id: str, *, role: str | None = None
) -> int:
    """Active participants of the programme (of one role, if given)."""
    query = select(func.count()).select_from(Participant).where(
        Participant.programme_id == programme_id, Participant.status == "active",
        col(Participant.role).is_not(None),
    )
    if role is not None:
        query = query.where(Participant.role == role)
    return await _count(session, query)


async def count_pairs(session: AsyncSession, programme_id: str, *, active_only: bool) -> int:
    query = select(func.count()).select_from(Pair).where(
        Pair.programme_id == programme_id, col(Pair.formed_at).is_not(None))
    if active_only:
        query = query.where(col(Pair.ended_at).is_(None))
    return await _count(session, query)


async def count_flagged_pairs(session: AsyncSession, programme_id: str, *, flag: str) -> int:
    """Pairs of the programme with the flag (`at_risk_at`, `fit_flagged_at`, ...) set."""
    column = {"at_risk_at": Pair.at_risk_at, "fit_flagged_at": Pair.fit_flagged_at,
              "closure_proposed_at": Pair.closure_proposed_at}[flag]
    query = select(func.count()).select_from(Pair).where(
        Pair.programme_id == programme_id, col(column).is_not(None))
    return await _count(session, query)


async def count_sessions(session: AsyncSession, programme_id: str, *, held: bool) -> int:
    """Held sessions, or scheduled ones that were not cancelled."""
    query = select(func.count()).select_from(MentoringSession).where(
        MentoringSession.programme_id == programme_id)
    if held:
        query = query.where(col(MentoringSession.held_at).is_not(None))
    else:
        query = query.where(col(MentoringSession.scheduled_at).is_not(None),
                            col(MentoringSession.cancelled_at).is_(None))
    return await _count(session, query)


async def forget_employee(session: AsyncSession, employee_id: str) -> None:
    """Drop the employee's id from participant and invitation rows; the aggregate figures
    stay."""
    await session.exec(update(Participant).where(col(Participant.employee_id) == employee_id)
                       .values(employee_id=None, diversity=None))
    await session.exec(update(Invitation).where(col(Invitation.employee_id) == employee_id)
                       .values(employee_id=None))
    await session.flush()


# --- pulse surveys -------------------------------------------------------------------


async def programme_participant(session: AsyncSession, *, programme_id: str,
                                employee_id: str) -> Participant | None:
    """The employee's active participation in the programme, if any."""
    query = select(Participant).where(Participant.programme_id == programme_id,
                                      Participant.employee_id == employee_id,
                                      Participant.status == "active",
                                      col(Participant.role).is_not(None))
    return (await session.exec(query)).first()


async def count_pulse_surveys(session: AsyncSession, programme_id: str) -> int:
    return await _count(session, select(func.count()).select_from(PulseSurvey).where(
        PulseSurvey.programme_id == programme_id))


async def pulse_surveys(session: AsyncSession, programme_id: str) -> Sequence[PulseSurvey]:
    """The programme's surveys, newest first."""
    query = select(PulseSurvey).where(PulseSurvey.programme_id == programme_id).order_by(
        col(PulseSurvey.created_at).desc(), col(PulseSurvey.id))
    return (await session.exec(query)).all()


async def add_respondent(session: AsyncSession, row: PulseRespondent) -> bool:
    """Record who answered; False when they already had (the key exists)."""
    if await session.get(PulseRespondent, (row.survey_id, row.respondent_key)) is not None:
        return False
    session.add(row)
    await session.flush()
    return True


async def pulse_responses(session: AsyncSession, survey_id: str) -> Sequence[PulseResponse]:
    """A survey's answer rows, in the order of their random ids (never of arrival)."""
    query = select(PulseResponse).where(PulseResponse.survey_id == survey_id).order_by(
        col(PulseResponse.id))
    return (await session.exec(query)).all()


# --- milestones ----------------------------------------------------------------------


async def held_sessions_of_pairs(session: AsyncSession, pair_ids: Collection[str]
                                 ) -> list[tuple[Any, ...]]:
    """(pair, session, held at) of these pairs' held sessions (one SELECT ... IN)."""
    if not pair_ids:
        return []
    s = MentoringSession
    query = select(col(s.pair_id), col(s.id), col(s.held_at)).where(
        col(s.pair_id).in_(pair_ids), col(s.held_at).is_not(None))
    return await _tuples(session, query)


async def reached_milestones(session: AsyncSession, pair_ids: Collection[str],
                             milestones: Collection[str]) -> set[tuple[str, str]]:
    """(pair, milestone) of these pairs' recorded milestones among these."""
    if not pair_ids:
        return set()
    query = select(col(PairMilestone.pair_id), col(PairMilestone.milestone)).where(
        col(PairMilestone.pair_id).in_(pair_ids), col(PairMilestone.milestone).in_(milestones))
    return {(pair_id, milestone) for pair_id, milestone in await _tuples(session, query)}


async def count_pair_milestones(session: AsyncSession, programme_ids: Collection[str],
                                milestones: Collection[str]) -> dict[tuple[str, str], int]:
    """How many pairs reached each milestone, by (programme, milestone), of these (one
    grouped query; a combination no pair reached is left out)."""
    if not programme_ids:
        return {}
    m = PairMilestone
    query = select(col(m.programme_id), col(m.milestone), func.count()).where(
        col(m.programme_id).in_(programme_ids), col(m.milestone).in_(milestones)).group_by(
        col(m.programme_id), col(m.milestone))
    return {(programme_id, milestone): int(count)
            for programme_id, milestone, count in await _tuples(session, query)}


async def session_logs(session: AsyncSession, keys: Collection[tuple[str, str]]
                       ) -> dict[tuple[str, str], SessionLog]:
    """Copies of the session logs with these (session, author role) keys (one SELECT ...
    IN), outside the session, as `copies_many`."""
    if not keys:
        return {}
    table: Table = SessionLog.__table__  # type: ignore[attr-defined]
    query = sa_select(table).where(table.c.session_id.in_({key[0] for key in keys}))
    rows = await _core_rows(session, query)
    return {key: SessionLog(**row._mapping) for row in rows
            if (key := (row.session_id, row.author_role)) in keys}


async def pair_milestones(session: AsyncSession, programme_id: str) -> Sequence[PairMilestone]:
    query = select(PairMilestone).where(PairMilestone.programme_id == programme_id).order_by(
        col(PairMilestone.reached_at).desc())
    return (await session.exec(query)).all()


# --- retention and promotion ------------------------------------------------------


async def upsert_rows(session: AsyncSession, model: type[SQLModel],
                      rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert each row or overwrite the one with its id (one statement; ids distinct)."""
    await upsert(session, model, rows)


async def upsert_levels(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert each level observation or overwrite the one of its employee and time."""
    await upsert(session, EmployeeLevel, rows, key=("employee_id", "occurred_at"))


async def _tuples(session: AsyncSession, query: Any) -> list[tuple[Any, ...]]:
    rows: Sequence[Any] = (await session.exec(query)).all()
    return [tuple(row) for row in rows]


async def employments(session: AsyncSession) -> list[tuple[Any, ...]]:
    """Every employee with a hire date (leavers too, erased ones not): what matching needs."""
    # sqlmodel types `select` of at most four columns; five are one Select all the same.
    query = select(col(Employee.id), col(Employee.job_level),  # type: ignore[call-overload]
                   col(Employee.department), col(Employee.hire_on), col(Employee.leave_on)
                   ).where(col(Employee.hire_on).is_not(None), col(Employee.erased_at).is_(None))
    return await _tuples(session, query)


# What retention reads of a participant, and only of one with all of them set: a change
# to a participant that leaves these as they were changes no retention report.
PARTICIPATION_FIELDS = ("programme_id", "employee_id", "role", "enrolled_at")


async def participations(session: AsyncSession) -> list[tuple[Any, ...]]:
    """(programme, employee, role, start) of every participant with a known role and start."""
    columns = [getattr(Participant.__table__.c, name)  # type: ignore[attr-defined]
               for name in PARTICIPATION_FIELDS]
    query = sa_select(*columns).where(*(column.is_not(None) for column in columns))
    return [tuple(row) for row in await _core_rows(session, query)]


async def history(session: AsyncSession) -> list[tuple[Any, ...]]:
    """(programme, employee, role, start) of every imported past participation."""
    query = select(col(ParticipationHistory.programme_id), col(ParticipationHistory.employee_id),
                   col(ParticipationHistory.role), col(ParticipationHistory.started_on))
    return await _tuples(session, query)


async def levels(session: AsyncSession) -> list[tuple[Any, ...]]:
    """(employee, time, level) of every level observation, by employee and time."""
    query = select(col(EmployeeLevel.employee_id), col(EmployeeLevel.occurred_at),
                   col(EmployeeLevel.job_level)).order_by(col(EmployeeLevel.employee_id),
                                                          col(EmployeeLevel.occurred_at))
    return await _tuples(session, query)


async def forget_employee_history(session: AsyncSession, employee_id: str) -> None:
    """An erased employee's level observations and imported participations go."""
    await session.exec(delete(EmployeeLevel).where(
        col(EmployeeLevel.employee_id) == employee_id))
    await session.exec(delete(ParticipationHistory).where(
        col(ParticipationHistory.employee_id) == employee_id))
    await session.flush()


# --- stored retention reports and the version of their inputs ------------------------

_INPUTS_CHANGED = "analytics_retention_inputs_changed"
_BUMP = update(RetentionInputs).where(col(RetentionInputs.id) == 1).values(
    version=col(RetentionInputs.version) + 1)
REPORT_KEY = ("programme_id", "window_months", "as_of")


def retention_inputs_changed(session: AsyncSession) -> None:
    """Note that this transaction writes what retention reports read (employees, their
    levels, participants' roles and starts, imported participations): its commit moves
    the inputs version on, once however many writes noted it."""
    session.sync_session.info[_INPUTS_CHANGED] = True


@event.listens_for(Session, "before_commit")
def _bump_inputs_version(session: Session) -> None:
    # A savepoint's release is not the commit: the outermost commit bumps, and a mark
    # made inside a savepoint rolled back only costs a needless bump.
    if session.in_nested_transaction() or not session.info.pop(_INPUTS_CHANGED, False):
        return
    # Every other write first, so the one row all writers bump is locked for the commit
    # alone: no writer waits on it while holding rows another one needs.
    session.flush()
    session.connection().execute(_BUMP)


@event.listens_for(Session, "after_transaction_end")
def _forget_inputs_changed(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # committed (bumped) or rolled back: nothing pending
        session.info.pop(_INPUTS_CHANGED, None)


async def retention_inputs_version(session: AsyncSession) -> int | None:
    """The current inputs version (None without its row: then no stored report is current)."""
    query = sa_select(RetentionInputs.__table__.c.version)  # type: ignore[attr-defined]
    rows = await _core_rows(session, query)
    return int(rows[0][0]) if rows else None


async def stored_report(session: AsyncSession, *, programme_id: str, window_months: int,
                        as_of: date) -> RetentionReport | None:
    return await session.get(RetentionReport, (programme_id, window_months, as_of))


def _computed_from_no_older_inputs(table: Table, excluded: Any) -> ColumnElement[bool]:
    newer: ColumnElement[bool] = table.c.inputs_version <= excluded.inputs_version
    return newer


async def store_report(session: AsyncSession, row: Mapping[str, Any], *,
                       requested: bool) -> None:
    """Insert the report or overwrite the stored one of its key, unless that was computed
    from newer inputs (one statement; a replica storing the same key meanwhile is no
    error). Without `requested` (a refresh) the stored `requested_at` stays."""
    await upsert(session, RetentionReport, [row], key=REPORT_KEY,
                 where=_computed_from_no_older_inputs,
                 insert_only=() if requested else ("requested_at",))


async def touch_report(session: AsyncSession, *, programme_id: str, window_months: int,
                       as_of: date, at: datetime) -> None:
    """Record that the report was requested at `at`."""
    r = RetentionReport
    await session.exec(update(r).where(
        col(r.programme_id) == programme_id, col(r.window_months) == window_months,
        col(r.as_of) == as_of).values(requested_at=at))
    await session.flush()


async def stored_reports(session: AsyncSession) -> list[tuple[Any, ...]]:
    """(programme, window, as-of day, inputs version, method, requested at) of every stored
    report, the most recently requested first (the reports themselves are not read)."""
    r = RetentionReport
    query = sa_select(col(r.programme_id), col(r.window_months), col(r.as_of),
                      col(r.inputs_version), col(r.method), col(r.requested_at)).order_by(
        col(r.requested_at).desc(), col(r.programme_id), col(r.window_months), col(r.as_of))
    return [tuple(row) for row in await _core_rows(session, query)]


async def drop_reports(session: AsyncSession, keys: Collection[tuple[str, int, date]]) -> None:
    """Delete the stored reports of these (programme, window, as-of day) keys."""
    if not keys:
        return
    r = RetentionReport
    key = tuple_(col(r.programme_id), col(r.window_months), col(r.as_of))
    await session.exec(delete(r).where(key.in_(list(keys))))
    await session.flush()


# --- programme health: one grouped query per figure, over every programme asked -------


async def funnel_counts(session: AsyncSession, programme_ids: Collection[str]
                        ) -> list[tuple[Any, ...]]:
    """(programme, role, status, participants) of these programmes."""
    query = select(col(Participant.programme_id), col(Participant.role), col(Participant.status),
                   func.count()).where(col(Participant.programme_id).in_(programme_ids),
                                       col(Participant.role).is_not(None)).group_by(
        col(Participant.programme_id), col(Participant.role), col(Participant.status))
    return await _tuples(session, query)


async def pair_counts(session: AsyncSession, programme_ids: Collection[str]
                      ) -> list[tuple[Any, ...]]:
    """(programme, ended?, reason, pairs) of the formed pairs of these programmes."""
    ended = col(Pair.ended_at).is_not(None)
    query = select(col(Pair.programme_id), ended, col(Pair.ended_reason), func.count()).where(
        col(Pair.programme_id).in_(programme_ids), col(Pair.formed_at).is_not(None)).group_by(
        col(Pair.programme_id), ended, col(Pair.ended_reason))
    return await _tuples(session, query)


async def session_counts(session: AsyncSession, programme_ids: Collection[str]
                         ) -> list[tuple[Any, ...]]:
    """(programme, planned, held, cancelled, minutes held) of these programmes' sessions."""
    s = MentoringSession
    planned = func.count().filter(col(s.scheduled_at).is_not(None),
                                  col(s.cancelled_at).is_(None))
    held = func.count().filter(col(s.held_at).is_not(None))
    cancelled = func.count().filter(col(s.cancelled_at).is_not(None))
    minutes = func.coalesce(func.sum(col(s.duration_minutes)).filter(
        col(s.held_at).is_not(None)), 0)
    query = select(col(s.programme_id), planned, held, cancelled, minutes).where(  # type: ignore[call-overload]
        col(s.programme_id).in_(programme_ids)).group_by(col(s.programme_id))
    return await _tuples(session, query)


async def opt_ins_by_month(session: AsyncSession, programme_ids: Collection[str]
                           ) -> list[tuple[Any, ...]]:
    """(programme, `YYYY-MM` in UTC, enrolments) of these programmes."""
    enrolled = col(Participant.enrolled_at)
    if (await session.connection()).dialect.name == "postgresql":
        month = func.to_char(func.timezone("UTC", enrolled), "YYYY-MM")
    else:  # SQLite stores the UTC time as text
        month = func.strftime("%Y-%m", enrolled)
    query = select(col(Participant.programme_id), month, func.count()).where(
        col(Participant.programme_id).in_(programme_ids), enrolled.is_not(None)).group_by(
        col(Participant.programme_id), month).order_by(month)
    return await _tuples(session, query)


async def count_touchpoints(session: AsyncSession, programme_id: str) -> int:
    """Touchpoints the programme's pairs recorded."""
    return await _count(session, select(func.count()).select_from(Touchpoint).where(
        Touchpoint.programme_id == programme_id))


async def count_group_sessions(session: AsyncSession, programme_id: str) -> int:
    """The programme's group sessions that were scheduled and not cancelled."""
    return await _count(session, select(func.count()).select_from(GroupSession).where(
        GroupSession.programme_id == programme_id, col(GroupSession.cancelled_at).is_(None)))
