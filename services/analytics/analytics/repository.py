"""All of analytics' SQL. Repositories flush, never commit."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Table, func, update
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from analytics.models import Employee, MentoringSession, Pair, Participant
from upward_common.db import upsert

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


async def add(session: AsyncSession, row: SQLModel) -> None:
    session.add(row)
    await session.flush()


async def add_all(session: AsyncSession, rows: Iterable[SQLModel]) -> None:
    """New and changed rows in one flush (the ORM batches them per table)."""
    session.add_all(rows)
    await session.flush()


async def erased_employees(session: AsyncSession, ids: Collection[str]) -> set[str]:
    """Which of these employees were erased (one SELECT ... IN)."""
    if not ids:
        return set()
    query = select(Employee.id).where(col(Employee.id).in_(ids),
                                      col(Employee.erased_at).is_not(None))
    return set((await session.exec(query)).all())


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
    """Drop the employee's id from participant rows; the aggregate figures stay."""
    await session.exec(update(Participant).where(col(Participant.employee_id) == employee_id)
                       .values(employee_id=None))
    await session.flush()
