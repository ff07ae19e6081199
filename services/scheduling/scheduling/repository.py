"""All of scheduling's SQL. Repositories flush, never commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from scheduling.models import (
    MentoringSession,
    Pair,
    Participant,
    PrivateNote,
    Programme,
    SessionStatus,
)


async def add(
    session: AsyncSession, row: Pair | Programme | Participant | MentoringSession | PrivateNote
) -> None:
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


async def pairs_by_id(session: AsyncSession, ids: Sequence[str]) -> dict[str, Pair]:
    wanted = list(dict.fromkeys(ids))
    found: dict[str, Pair] = {}
    # Chunked: SQLite caps the number of bound parameters per statement.
    for start in range(0, len(wanted), 500):
        query = select(Pair).where(col(Pair.id).in_(wanted[start : start + 500]))
        found.update({row.id: row for row in await session.exec(query)})
    return found


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
    await session.exec(update(Pair).where(col(Pair.mentor_employee_id) == employee_id)
                       .values(mentor_employee_id=None))
    await session.exec(update(Pair).where(col(Pair.mentee_employee_id) == employee_id)
                       .values(mentee_employee_id=None))
    await session.exec(update(Participant).where(col(Participant.employee_id) == employee_id)
                       .values(employee_id=None, time_zone=None))
    await session.flush()
