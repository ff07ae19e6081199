"""All of enrolment's SQL. Repositories flush, never commit."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, bindparam, delete, func, or_, tuple_, update
from sqlalchemy import select as core_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from enrolment.models import (
    CardPair,
    CardPairStatus,
    CardShortlist,
    Employee,
    Invitation,
    Participant,
    ParticipantStatus,
    Programme,
    SurveyResponse,
)
from upward_common.db import bulk_insert

EMPLOYEE = Employee.__table__  # type: ignore[attr-defined]
PARTICIPANT = Participant.__table__  # type: ignore[attr-defined]
SURVEY_RESPONSE = SurveyResponse.__table__  # type: ignore[attr-defined]

# SQLite caps bound parameters per statement; 500 ids stay well below it.
_CHUNK = 500


async def _core(session: AsyncSession, statement: Any, params: Any = None) -> Any:
    """Run a Core statement on the session's connection, inside its transaction."""
    connection = await session.connection()
    return await connection.execute(statement, params)


async def add(session: AsyncSession, row: Any) -> None:
    session.add(row)
    await session.flush()


# --- employees -------------------------------------------------------------------


async def all_employee_rows(session: AsyncSession) -> Sequence[Mapping[str, Any]]:
    """Every stored employee as plain rows: an import diffs against the whole mirror."""
    result = await _core(session, core_select(EMPLOYEE))
    rows: Sequence[Mapping[str, Any]] = result.mappings().all()
    return rows


async def insert_employee_rows(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
    await bulk_insert(session, EMPLOYEE, rows)


async def update_employee_rows(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
    """Bulk update by id; every row carries the same columns."""
    if not rows:
        return
    columns = [k for k in rows[0] if k != "id"]
    statement = (
        update(EMPLOYEE)
        .where(EMPLOYEE.c.id == bindparam("b_id"))
        .values({c: bindparam(f"b_{c}") for c in columns})
    )
    params = [{f"b_{k}": v for k, v in row.items()} for row in rows]
    # On the connection: the ORM session's bulk-update path wants primary keys by name.
    await _core(session, statement, params)


async def employees_by_external_id(
    session: AsyncSession, external_ids: Iterable[str]
) -> dict[str, Employee]:
    ids = list(external_ids)
    found: dict[str, Employee] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        rows = await session.exec(select(Employee).where(col(Employee.external_id).in_(chunk)))
        found.update({row.external_id: row for row in rows})
    return found


async def employees_by_id(session: AsyncSession, ids: Iterable[str]) -> dict[str, Employee]:
    wanted = list(dict.fromkeys(ids))
    found: dict[str, Employee] = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        rows = await session.exec(select(Employee).where(col(Employee.id).in_(chunk)))
        found.update({row.id: row for row in rows})
    return found


async def get_employee(session: AsyncSession, employee_id: str) -> Employee | None:
    return await session.get(Employee, employee_id)


async def get_employee_for_update(session: AsyncSession, employee_id: str) -> Employee | None:
    return (await session.exec(
        select(Employee).where(Employee.id == employee_id).with_for_update()
    )).first()


async def employee_by_user_name(session: AsyncSession, user_name: str) -> Employee | None:
    query = select(Employee).where(func.lower(col(Employee.user_name)) == user_name.lower())
    return (await session.exec(query)).first()


async def active_employee_by_email(session: AsyncSession, email: str) -> Employee | None:
    """An active, provisioned employee whose e-mail or userName is `email` (any case)."""
    wanted = email.lower()
    query = select(Employee).where(
        col(Employee.erased_at).is_(None), col(Employee.deprovisioned_at).is_(None),
        col(Employee.active).is_(True),
        or_(func.lower(col(Employee.email)) == wanted,
            func.lower(col(Employee.user_name)) == wanted))
    return (await session.exec(query)).first()


async def employee_by_external_id(session: AsyncSession, external_id: str) -> Employee | None:
    return (await session.exec(
        select(Employee).where(Employee.external_id == external_id)
    )).first()


async def manager_chain(session: AsyncSession, employee: Employee, limit: int = 50) -> list[str]:
    """Ids from the direct manager upwards (bounded, so a bad cycle cannot loop)."""
    chain: list[str] = []
    manager_id = employee.manager_id
    while manager_id is not None and manager_id not in chain and len(chain) < limit:
        chain.append(manager_id)
        manager = await session.get(Employee, manager_id)
        manager_id = manager.manager_id if manager is not None else None
    return chain


async def manager_chains(session: AsyncSession, employees: Iterable[Employee],
                         limit: int = 50) -> dict[str, list[str]]:
    """`manager_chain` of many employees, one query per level of the hierarchy."""
    parent: dict[str, str | None] = {e.id: e.manager_id for e in employees}
    wanted = {m for m in parent.values() if m is not None and m not in parent}
    for _ in range(limit):
        if not wanted:
            break
        found = await employees_by_id(session, wanted)
        parent.update({m: (found[m].manager_id if m in found else None) for m in wanted})
        wanted = {m for m in parent.values() if m is not None and m not in parent}
    chains: dict[str, list[str]] = {}
    for employee_id in list(parent):
        chain: list[str] = []
        manager_id = parent[employee_id]
        while manager_id is not None and manager_id not in chain and len(chain) < limit:
            chain.append(manager_id)
            manager_id = parent.get(manager_id)
        chains[employee_id] = chain
    return chains


async def direct_reports(session: AsyncSession, employee_id: str) -> Sequence[Employee]:
    return (await session.exec(select(Employee).where(Employee.manager_id == employee_id))).all()


async def search_employees(
    session: AsyncSession, where: ColumnElement[bool] | None, *, offset: int, limit: int
) -> tuple[int, Sequence[Employee]]:
    """A page of employees matching `where` (None: all), in a stable order, and the total."""
    base = select(Employee).where(col(Employee.erased_at).is_(None))
    if where is not None:
        base = base.where(where)
    total = await session.scalar(select(func.count()).select_from(base.subquery()))
    page = (await session.exec(
        base.order_by(col(Employee.created_at), col(Employee.id)).offset(offset).limit(limit)
    )).all() if limit > 0 else []
    return int(total or 0), page


# --- programmes ------------------------------------------------------------------


async def get_programme(session: AsyncSession, programme_id: str) -> Programme | None:
    return await session.get(Programme, programme_id)


async def programmes_by_id(session: AsyncSession, ids: Iterable[str]) -> dict[str, Programme]:
    wanted = list(dict.fromkeys(ids))
    found: dict[str, Programme] = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        rows = await session.exec(select(Programme).where(col(Programme.id).in_(chunk)))
        found.update({row.id: row for row in rows})
    return found


async def list_programmes(session: AsyncSession) -> Sequence[Programme]:
    return (await session.exec(select(Programme).order_by(col(Programme.created_at)))).all()


async def count_active_participants(session: AsyncSession, programme_id: str) -> int:
    count = await session.scalar(
        select(func.count()).select_from(Participant).where(
            Participant.programme_id == programme_id,
            Participant.status == ParticipantStatus.ACTIVE,
        )
    )
    return int(count or 0)


# --- participants ----------------------------------------------------------------


async def get_participant(session: AsyncSession, participant_id: str) -> Participant | None:
    return await session.get(Participant, participant_id)


async def participants_by_id(session: AsyncSession,
                             ids: Iterable[str]) -> dict[str, Participant]:
    wanted = list(dict.fromkeys(ids))
    found: dict[str, Participant] = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        rows = await session.exec(select(Participant).where(col(Participant.id).in_(chunk)))
        found.update({row.id: row for row in rows})
    return found


async def find_participant(
    session: AsyncSession, *, programme_id: str, employee_id: str, role: str
) -> Participant | None:
    query = select(Participant).where(
        Participant.programme_id == programme_id,
        Participant.employee_id == employee_id,
        Participant.role == role,
    )
    return (await session.exec(query)).first()


async def participants_of_employee(
    session: AsyncSession, employee_id: str, *, programme_id: str | None = None
) -> Sequence[Participant]:
    query = select(Participant).where(Participant.employee_id == employee_id)
    if programme_id is not None:
        query = query.where(Participant.programme_id == programme_id)
    return (await session.exec(query.order_by(col(Participant.enrolled_at)))).all()


async def list_participants(session: AsyncSession, programme_id: str) -> Sequence[Participant]:
    query = (
        select(Participant)
        .where(Participant.programme_id == programme_id)
        .order_by(col(Participant.enrolled_at), col(Participant.id))
    )
    return (await session.exec(query)).all()


async def survey_history(session: AsyncSession, participant_id: str) -> Sequence[SurveyResponse]:
    query = (
        select(SurveyResponse)
        .where(SurveyResponse.participant_id == participant_id)
        .order_by(col(SurveyResponse.version))
    )
    return (await session.exec(query)).all()


async def delete_survey_history(session: AsyncSession, participant_ids: Sequence[str]) -> None:
    if participant_ids:
        await _core(session, delete(SurveyResponse).where(
            col(SurveyResponse.participant_id).in_(participant_ids)))


# --- invitations -----------------------------------------------------------------


async def get_invitation(session: AsyncSession, invitation_id: str) -> Invitation | None:
    return await session.get(Invitation, invitation_id)


async def pending_invitation(
    session: AsyncSession, *, programme_id: str, employee_id: str, role: str
) -> Invitation | None:
    query = select(Invitation).where(
        Invitation.programme_id == programme_id,
        Invitation.employee_id == employee_id,
        Invitation.role == role,
        Invitation.status == "pending",
    )
    return (await session.exec(query)).first()


async def list_invitations(
    session: AsyncSession, *, programme_id: str | None = None, employee_id: str | None = None
) -> Sequence[Invitation]:
    query = select(Invitation)
    if programme_id is not None:
        query = query.where(Invitation.programme_id == programme_id)
    if employee_id is not None:
        query = query.where(Invitation.employee_id == employee_id)
    return (await session.exec(query.order_by(col(Invitation.invited_at)))).all()


async def delete_invitations_of(session: AsyncSession, employee_id: str) -> list[str]:
    """Delete the employee's invitations; returns their ids (their events' subjects)."""
    mine = col(Invitation.employee_id) == employee_id
    ids = list((await _core(session, core_select(col(Invitation.id)).where(mine))).scalars())
    await _core(session, delete(Invitation).where(mine))
    return ids


async def participants_leave(session: AsyncSession, employee_ids: Sequence[str],
                             at: datetime) -> list[Mapping[str, Any]]:
    """Leavers' active participations become `left` (set-based: an import's leavers at once).

    Returns them (id, programme_id, employee_id) for their events.
    """
    left: list[Mapping[str, Any]] = []
    for start in range(0, len(employee_ids), _CHUNK):
        chunk = list(employee_ids[start:start + _CHUNK])
        active = (PARTICIPANT.c.employee_id.in_(chunk),
                  PARTICIPANT.c.status == ParticipantStatus.ACTIVE.value)
        found = await _core(session, core_select(
            PARTICIPANT.c.id, PARTICIPANT.c.programme_id, PARTICIPANT.c.employee_id)
            .where(*active).order_by(PARTICIPANT.c.id))
        rows = list(found.mappings().all())
        if rows:
            await _core(session, update(PARTICIPANT).where(*active)
                        .values(status=ParticipantStatus.LEFT.value, withdrawn_at=at))
            left.extend(rows)
    return left
# --- participant cards -------------------------------------------------------------


async def get_card_pair(session: AsyncSession, pair_id: str) -> CardPair | None:
    return await session.get(CardPair, pair_id)


async def open_card_pairs_of(session: AsyncSession,
                             participant_ids: Sequence[str]) -> Sequence[CardPair]:
    """The proposed or active pairs these participants are in."""
    if not participant_ids:
        return []
    ids = list(participant_ids)
    query = select(CardPair).where(
        col(CardPair.status).in_([CardPairStatus.PROPOSED, CardPairStatus.ACTIVE]),
        col(CardPair.mentor_participant_id).in_(ids) | col(CardPair.mentee_participant_id).in_(ids),
    )
    return (await session.exec(query)).all()


async def active_pairs_of_mentor(session: AsyncSession, mentor_participant_id: str) -> int:
    """How many active pairs matching announced for this mentor (pair-formed, not ended)."""
    query = select(func.count()).select_from(CardPair).where(
        col(CardPair.mentor_participant_id) == mentor_participant_id,
        col(CardPair.status) == CardPairStatus.ACTIVE)
    return int((await session.exec(query)).one())


async def active_pairs_by_mentor(session: AsyncSession,
                                 mentor_participant_ids: Iterable[str]) -> dict[str, int]:
    """`active_pairs_of_mentor` for many mentors; a mentor without one is left out."""
    wanted = list(dict.fromkeys(mentor_participant_ids))
    counts: dict[str, int] = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        query = (select(CardPair.mentor_participant_id, func.count())
                 .where(col(CardPair.mentor_participant_id).in_(chunk),
                        col(CardPair.status) == CardPairStatus.ACTIVE)
                 .group_by(col(CardPair.mentor_participant_id)))
        counts.update({str(mentor): int(n) for mentor, n in (await session.exec(query)).all()})
    return counts


async def insert_participant_rows(session: AsyncSession,
                                  participants: Sequence[Mapping[str, Any]],
                                  versions: Sequence[Mapping[str, Any]]) -> None:
    """New participants and survey versions, in bulk (participants first: foreign keys)."""
    await bulk_insert(session, PARTICIPANT, participants)
    await bulk_insert(session, SURVEY_RESPONSE, versions)


async def get_card_shortlist(session: AsyncSession,
                             mentee_participant_id: str) -> CardShortlist | None:
    return await session.get(CardShortlist, mentee_participant_id)


async def card_shortlists_of(session: AsyncSession,
                             mentee_participant_ids: Sequence[str]) -> Sequence[CardShortlist]:
    if not mentee_participant_ids:
        return []
    query = select(CardShortlist).where(
        col(CardShortlist.mentee_participant_id).in_(list(mentee_participant_ids)))
    return (await session.exec(query)).all()


# --- employee search ------------------------------------------------------------------


async def find_employees(
    session: AsyncSession, *, text: str | None, department: str | None, job_level: int | None,
    include_inactive: bool, after: Employee | None, limit: int,
) -> tuple[int, Sequence[Employee], bool]:
    """A page of employees by family name, given name and id, after `after`; the total."""
    query = select(Employee).where(col(Employee.erased_at).is_(None))
    if not include_inactive:
        query = query.where(col(Employee.active).is_(True))
    if text:
        wanted = text.casefold()
        full = func.lower(col(Employee.given_name) + " " + col(Employee.family_name))
        query = query.where(or_(
            func.lower(col(Employee.given_name)).contains(wanted, autoescape=True),
            func.lower(col(Employee.family_name)).contains(wanted, autoescape=True),
            func.lower(col(Employee.email)).contains(wanted, autoescape=True),
            full.contains(wanted, autoescape=True)))
    if department:
        query = query.where(func.lower(col(Employee.department)) == department.casefold())
    if job_level is not None:
        query = query.where(col(Employee.job_level) == job_level)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    key = (col(Employee.family_name), col(Employee.given_name), col(Employee.id))
    if after is not None:
        query = query.where(tuple_(*key) > tuple_(after.family_name, after.given_name, after.id))
    rows = (await session.exec(query.order_by(*key).limit(limit + 1))).all()
    return int(total or 0), rows[:limit], len(rows) > limit
