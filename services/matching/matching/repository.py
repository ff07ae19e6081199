"""All of matching's SQL. Repositories flush, never commit."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import func, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from matching.models import (
    OPEN_PAIR_STATUSES,
    Candidate,
    MatchingConfig,
    MatchingEmployee,
    MatchingProgramme,
    MatchRun,
    Pair,
)


async def add(session: AsyncSession, *rows: object) -> None:
    session.add_all(list(rows))
    await session.flush()


# --- programmes and configuration -------------------------------------------------


async def get_programme(session: AsyncSession, programme_id: str) -> MatchingProgramme | None:
    return await session.get(MatchingProgramme, programme_id)


async def ensure_programme(session: AsyncSession, programme_id: str) -> MatchingProgramme:
    """The programme row, created as a placeholder when participants arrive first."""
    programme = await session.get(MatchingProgramme, programme_id)
    if programme is None:
        programme = MatchingProgramme(id=programme_id)
        session.add(programme)
        await session.flush()
    return programme


async def lock_programme(session: AsyncSession, programme_id: str) -> None:
    """Serialise pair-forming writes of one programme (a row lock on PostgreSQL).

    Capacity and "one open pair per mentee" are checked before the insert, so
    two concurrent requests must not both pass the check.
    """
    query = select(MatchingProgramme.id).where(MatchingProgramme.id == programme_id)
    await session.exec(query.with_for_update())


async def bump_revisions(session: AsyncSession, programme_ids: Iterable[str]) -> None:
    ids = sorted(set(programme_ids))
    if ids:
        await session.exec(
            update(MatchingProgramme)
            .where(col(MatchingProgramme.id).in_(ids))
            .values(revision=MatchingProgramme.revision + 1)
        )


async def get_config(session: AsyncSession, programme_id: str) -> MatchingConfig | None:
    return await session.get(MatchingConfig, programme_id)


# --- people ------------------------------------------------------------------------


async def get_employee(session: AsyncSession, employee_id: str) -> MatchingEmployee | None:
    return await session.get(MatchingEmployee, employee_id)


async def employees(session: AsyncSession, ids: Iterable[str]) -> dict[str, MatchingEmployee]:
    wanted = sorted(set(ids))
    found: dict[str, MatchingEmployee] = {}
    # Chunked: SQLite caps the number of bound parameters per statement.
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        rows = await session.exec(
            select(MatchingEmployee).where(col(MatchingEmployee.id).in_(chunk)))
        found.update({row.id: row for row in rows})
    return found


async def get_candidate(session: AsyncSession, participant_id: str) -> Candidate | None:
    return await session.get(Candidate, participant_id)


async def candidates_of_employee(session: AsyncSession, employee_id: str) -> Sequence[Candidate]:
    query = select(Candidate).where(Candidate.employee_id == employee_id)
    return (await session.exec(query)).all()


async def candidates(session: AsyncSession, programme_id: str) -> Sequence[Candidate]:
    query = (select(Candidate).where(Candidate.programme_id == programme_id)
             .order_by(col(Candidate.participant_id)))
    return (await session.exec(query)).all()


async def count_candidates(session: AsyncSession, programme_id: str) -> int:
    query = select(func.count()).select_from(Candidate).where(
        Candidate.programme_id == programme_id)
    return int(await session.scalar(query) or 0)


# --- pairs ---------------------------------------------------------------------------


async def get_pair(session: AsyncSession, pair_id: str) -> Pair | None:
    return await session.get(Pair, pair_id)


async def list_pairs(
    session: AsyncSession,
    *,
    programme_id: str | None = None,
    participant_id: str | None = None,
    employee_id: str | None = None,
    status: str | None = None,
    run_id: str | None = None,
) -> Sequence[Pair]:
    query = select(Pair)
    if run_id is not None:
        query = query.where(Pair.run_id == run_id)
    if programme_id is not None:
        query = query.where(Pair.programme_id == programme_id)
    if participant_id is not None:
        query = query.where(or_(Pair.mentor_participant_id == participant_id,
                                Pair.mentee_participant_id == participant_id))
    if employee_id is not None:
        query = query.where(or_(Pair.mentor_employee_id == employee_id,
                                Pair.mentee_employee_id == employee_id))
    if status is not None:
        query = query.where(Pair.status == status)
    return (await session.exec(query.order_by(col(Pair.proposed_at), col(Pair.id)))).all()


async def open_pairs_of_participants(
    session: AsyncSession, participant_ids: Iterable[str]
) -> Sequence[Pair]:
    """Proposed or active pairs in which any of these participants takes part."""
    ids = sorted(set(participant_ids))
    if not ids:
        return []
    query = select(Pair).where(
        col(Pair.status).in_(OPEN_PAIR_STATUSES),
        or_(col(Pair.mentor_participant_id).in_(ids), col(Pair.mentee_participant_id).in_(ids)),
    )
    return (await session.exec(query)).all()


async def programme_pair_keys(
    session: AsyncSession, programme_id: str
) -> Sequence[tuple[str, str, str]]:
    """(mentee participant, mentor participant, status) of every pair ever made in a programme."""
    query = select(Pair.mentee_participant_id, Pair.mentor_participant_id, Pair.status).where(
        Pair.programme_id == programme_id)
    return [(a, b, s) for a, b, s in (await session.exec(query)).all()]


# --- runs ------------------------------------------------------------------------------


async def get_run(session: AsyncSession, run_id: str) -> MatchRun | None:
    return await session.get(MatchRun, run_id)


async def list_runs(session: AsyncSession, programme_id: str) -> Sequence[MatchRun]:
    query = (select(MatchRun).where(MatchRun.programme_id == programme_id)
             .order_by(col(MatchRun.created_at).desc()))
    return (await session.exec(query)).all()
