"""All of enrolment's SQL. Repositories flush, never commit."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from enrolment.models import Employee, Participant, Programme


async def employees_by_external_id(
    session: AsyncSession, external_ids: Iterable[str]
) -> dict[str, Employee]:
    ids = list(external_ids)
    found: dict[str, Employee] = {}
    # Chunked: SQLite caps the number of bound parameters per statement.
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = await session.exec(select(Employee).where(col(Employee.external_id).in_(chunk)))
        found.update({row.external_id: row for row in rows})
    return found


async def get_employee(session: AsyncSession, employee_id: str) -> Employee | None:
    return await session.get(Employee, employee_id)


async def manager_chain(session: AsyncSession, employee: Employee, limit: int = 50) -> list[str]:
    """Ids from the direct manager upwards (bounded, so a bad cycle cannot loop)."""
    chain: list[str] = []
    manager_id = employee.manager_id
    while manager_id is not None and manager_id not in chain and len(chain) < limit:
        chain.append(manager_id)
        manager = await session.get(Employee, manager_id)
        manager_id = manager.manager_id if manager is not None else None
    return chain


async def add(session: AsyncSession, row: Employee | Programme | Participant) -> None:
    session.add(row)
    await session.flush()


async def get_programme(session: AsyncSession, programme_id: str) -> Programme | None:
    return await session.get(Programme, programme_id)


async def list_programmes(session: AsyncSession) -> Sequence[Programme]:
    return (await session.exec(select(Programme).order_by(col(Programme.created_at)))).all()


async def get_participant(session: AsyncSession, participant_id: str) -> Participant | None:
    return await session.get(Participant, participant_id)


async def find_participant(
    session: AsyncSession, *, programme_id: str, employee_id: str, role: str
) -> Participant | None:
    query = select(Participant).where(
        Participant.programme_id == programme_id,
        Participant.employee_id == employee_id,
        Participant.role == role,
    )
    return (await session.exec(query)).first()


async def list_participants(session: AsyncSession, programme_id: str) -> Sequence[Participant]:
    query = (
        select(Participant)
        .where(Participant.programme_id == programme_id)
        .order_by(col(Participant.enrolled_at))
    )
    return (await session.exec(query)).all()
