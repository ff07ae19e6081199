"""All of matching's SQL. Repositories flush, never commit."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Select,
    Table,
    bindparam,
    false,
    func,
    null,
    or_,
    union_all,
    update,
)
from sqlalchemy import select as core_select
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
from upward_common.db import upsert

EMPLOYEE: Table = MatchingEmployee.__table__  # type: ignore[attr-defined]
CANDIDATE: Table = Candidate.__table__  # type: ignore[attr-defined]
# Ids per IN (...) or rows per statement: SQLite caps the bound parameters of one statement.
CHUNK = 500


def _chunks(ids: Iterable[str]) -> Iterable[list[str]]:
    wanted = sorted(set(ids))
    for start in range(0, len(wanted), CHUNK):
        yield wanted[start : start + CHUNK]


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


async def bump_revisions(session: AsyncSession, programme_ids: Iterable[str], by: int = 1
                         ) -> None:
    ids = sorted(set(programme_ids))
    if ids:
        await session.exec(
            update(MatchingProgramme)
            .where(col(MatchingProgramme.id).in_(ids))
            .values(revision=MatchingProgramme.revision + by)
        )


async def bump_revisions_by(session: AsyncSession, counts: Mapping[str, int]) -> None:
    """Bump each programme's revision `counts[programme]` times, one statement per count."""
    by_count: dict[int, list[str]] = defaultdict(list)
    for programme_id, count in counts.items():
        by_count[count].append(programme_id)
    for count, ids in sorted(by_count.items()):
        await bump_revisions(session, ids, by=count)


async def get_config(session: AsyncSession, programme_id: str) -> MatchingConfig | None:
    return await session.get(MatchingConfig, programme_id)


# --- people ------------------------------------------------------------------------


async def get_employee(session: AsyncSession, employee_id: str) -> MatchingEmployee | None:
    return await session.get(MatchingEmployee, employee_id)


async def employees(session: AsyncSession, ids: Iterable[str]) -> dict[str, MatchingEmployee]:
    found: dict[str, MatchingEmployee] = {}
    for chunk in _chunks(ids):
        rows = await session.exec(
            select(MatchingEmployee).where(col(MatchingEmployee.id).in_(chunk)))
        found.update({row.id: row for row in rows})
    return found


async def employees_and_roles(
    session: AsyncSession, ids: Iterable[str]
) -> tuple[dict[str, tuple[bool, datetime]], dict[str, list[tuple[str, str]]]]:
    """For these employees: (erased, occurred_at) of each one matching knows, and the
    (participant, programme) of each of their candidates (a withdrawal that came before
    its enrolment leaves a candidate whose employee matching does not know yet).

    One statement per chunk of ids rather than two: a batch of an import costs
    about as much per round trip to the database as per row.
    """
    versions: dict[str, tuple[bool, datetime]] = {}
    roles: dict[str, list[tuple[str, str]]] = defaultdict(list)
    connection = await session.connection()
    found: list[Any]
    if connection.dialect.name == "postgresql":
        # The whole batch in one statement, its ids as one array parameter: a
        # parameter per id costs the client more than the lookup.
        found = [await connection.exec_driver_sql(_KNOWN_OR_TAKING_PART_SQL,
                                                  {"ids": sorted(set(ids))})]
    else:
        found = [await connection.execute(_KNOWN_OR_TAKING_PART_IN, {"ids": chunk})
                 for chunk in _chunks(ids)]
    for rows in found:
        for employee_id, erased, occurred_at, participant_id, programme_id in rows:
            if participant_id is None:
                versions[employee_id] = (erased, occurred_at)
            else:
                roles[employee_id].append((participant_id, programme_id))
    return versions, roles


def _known(where: ColumnElement[bool]) -> Select[Any]:
    return core_select(EMPLOYEE.c.id, EMPLOYEE.c.erased, EMPLOYEE.c.occurred_at,
                       null().label("participant_id"), null().label("programme_id")).where(where)


def _taking_part(where: ColumnElement[bool]) -> Select[Any]:
    return core_select(CANDIDATE.c.employee_id, null(), null(),
                       CANDIDATE.c.participant_id, CANDIDATE.c.programme_id).where(where)


# On PostgreSQL the batch's ids are one array, sent in binary (psycopg matches each
# element of a text array against a quoting pattern). Each id is looked up in the
# employees by a lateral probe that ends at its row: one index probe an id, where for
# `id = ANY(array)` the planner reads the whole table when its statistics are missing
# or rate a few hundred probes above a scan (the kernel's `ids_in` does the same).
_KNOWN_OR_TAKING_PART_SQL = (
    "SELECT found.id, found.erased, found.occurred_at, NULL, NULL "
    "FROM unnest(%(ids)b::text[]) AS wanted(id) CROSS JOIN LATERAL "
    f"(SELECT id, erased, occurred_at FROM {EMPLOYEE.name} WHERE id = wanted.id LIMIT 1) "
    "AS found UNION ALL "
    f"SELECT employee_id, NULL, NULL, participant_id, programme_id FROM {CANDIDATE.name} "
    "WHERE employee_id = ANY(%(ids)b)")
# On SQLite a list expanded at execution (an `in_` of the values themselves would build
# a bound parameter per id).
_IN: BindParameter[Any] = bindparam("ids", expanding=True)
_KNOWN_OR_TAKING_PART_IN = union_all(_known(EMPLOYEE.c.id.in_(_IN)),
                                     _taking_part(CANDIDATE.c.employee_id.in_(_IN)))


def _not_erased_nor_newer(table: Table, excluded: Any) -> ColumnElement[bool]:
    kept: ColumnElement[bool] = (table.c.erased == false()) & (
        excluded.occurred_at >= table.c.occurred_at)
    return kept


async def upsert_employees(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Write employee snapshots (one row per id, every column but `erased`), in bulk.

    A stored row stays as it is when it is erased or set by a newer event, so
    the write keeps order tolerance on its own (the kernel's `upsert`).
    """
    await upsert(session, MatchingEmployee, [{**row, "erased": False} for row in rows],
                 where=_not_erased_nor_newer, insert_only=("erased",))


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


async def pairs_by_id(session: AsyncSession, ids: Iterable[str]) -> dict[str, Pair]:
    wanted = list(dict.fromkeys(ids))
    found: dict[str, Pair] = {}
    # Chunked: SQLite caps the number of bound parameters per statement.
    for start in range(0, len(wanted), 500):
        rows = await session.exec(select(Pair).where(col(Pair.id).in_(wanted[start:start + 500])))
        found.update({row.id: row for row in rows})
    return found


async def list_pairs(
    session: AsyncSession,
    *,
    programme_id: str | Sequence[str] | None = None,
    participant_id: str | None = None,
    employee_id: str | None = None,
    status: str | None = None,
    run_id: str | None = None,
) -> Sequence[Pair]:
    query = select(Pair)
    if run_id is not None:
        query = query.where(Pair.run_id == run_id)
    if isinstance(programme_id, str):
        query = query.where(Pair.programme_id == programme_id)
    elif programme_id is not None:
        query = query.where(col(Pair.programme_id).in_(list(programme_id)))
    if participant_id is not None:
        query = query.where(or_(col(Pair.mentor_participant_id) == participant_id,
                                col(Pair.mentee_participant_id) == participant_id))
    if employee_id is not None:
        query = query.where(or_(col(Pair.mentor_employee_id) == employee_id,
                                col(Pair.mentee_employee_id) == employee_id))
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
