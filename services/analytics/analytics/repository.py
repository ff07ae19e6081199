"""All of analytics' SQL. Repositories flush, never commit."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import func, update
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from analytics.models import MentoringSession, Pair, Participant

Row = TypeVar("Row", bound=SQLModel)


async def get(session: AsyncSession, model: type[Row], key: Any) -> Row | None:
    return await session.get(model, key)


async def add(session: AsyncSession, row: SQLModel) -> None:
    session.add(row)
    await session.flush()


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
