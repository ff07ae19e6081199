"""The pool's people and programmes, folded from enrolment's events.

Handlers `on_<event>(session, data)` for every event matching consumes; `main.py`
lists them. Each is idempotent (the consumer's inbox drops a redelivered id) and
order-tolerant: a row remembers the `occurred_at` (and survey version) it was built
from, and an older event never overwrites a newer state.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from matching import repository, runs
from matching.models import Candidate, CandidateStatus, EndReason, MatchingEmployee
from matching.pairs import end_open_pairs
from upward_common.consumer import applies_many
from upward_common.events import (
    EmployeeErased,
    EmployeeSnapshot,
    EmployeeUpdated,
    ParticipantEnrolled,
    ParticipantState,
    ParticipantUpdated,
    ParticipantWithdrawn,
    ProgrammeSnapshot,
    ProgrammeUpdated,
)


def _newer(incoming: datetime, stored: datetime | None) -> bool:
    return stored is None or incoming >= stored


async def apply_programme(
    session: AsyncSession, *, programme: ProgrammeSnapshot, occurred_at: datetime
) -> None:
    """Record a programme's rules unless a newer version is already known."""
    row = await repository.ensure_programme(session, programme.programme_id)
    if row.known and not _newer(occurred_at, row.occurred_at):
        return
    row.name = programme.name
    row.status = programme.status
    row.mentor_max_level = programme.mentor_max_level
    row.mentee_min_level = programme.mentee_min_level
    row.min_level_gap = programme.min_level_gap
    row.mutual = programme.mutual
    row.matching_mode = programme.matching_mode
    row.meeting_format = programme.meeting_format
    row.diversity_objective = programme.diversity_objective
    row.topics = list(programme.topics)
    row.dei_topics = list(programme.dei_topics)
    row.job_level_max = programme.job_level_max
    row.known = True
    row.occurred_at = occurred_at
    row.revision += 1
    await session.flush()


async def _apply_snapshot(
    session: AsyncSession, snapshot: EmployeeSnapshot, occurred_at: datetime
) -> tuple[MatchingEmployee, bool]:
    """Upsert the employee if this snapshot is the newest; returns (row, applied)."""
    row = await repository.get_employee(session, snapshot.employee_id)
    if row is not None and (row.erased or not _newer(occurred_at, row.occurred_at)):
        return row, False
    if row is None:
        row = MatchingEmployee(id=snapshot.employee_id, occurred_at=occurred_at)
        session.add(row)
    for name, value in _employee_columns(snapshot, occurred_at).items():
        setattr(row, name, value)
    await session.flush()
    return row, True


def _employee_columns(snapshot: EmployeeSnapshot, occurred_at: datetime) -> dict[str, Any]:
    """What a snapshot sets in its `matching_employee` row (one by one and in bulk alike)."""
    return {
        "given_name": snapshot.given_name,
        "job_level": snapshot.job_level,
        "department": snapshot.department,
        "manager_id": snapshot.manager_id,
        "manager_chain": list(snapshot.manager_chain),
        "location": snapshot.location,
        "time_zone": snapshot.time_zone,
        "leave_on": snapshot.leave_on,
        "active": snapshot.active,
        "occurred_at": occurred_at,
    }


async def apply_employee(
    session: AsyncSession, *, employee: EmployeeSnapshot, occurred_at: datetime
) -> None:
    """Refresh an employee everywhere they take part; a leaver's open pairs end (departure)."""
    row, applied = await _apply_snapshot(session, employee, occurred_at)
    if not applied:
        return
    roles = await repository.candidates_of_employee(session, employee.employee_id)
    await repository.bump_revisions(session, {c.programme_id for c in roles})
    if not row.active:
        await end_open_pairs(session, participant_ids=[c.participant_id for c in roles],
                             reason=EndReason.DEPARTURE, occurred_at=occurred_at)


async def apply_employees(
    session: AsyncSession, updates: Sequence[tuple[EmployeeSnapshot, datetime]]
) -> None:
    """`apply_employee` for each (snapshot, occurred_at) in stream order, in a few statements.

    An HRIS import is a burst of employee updates: one read of the stored
    versions and of the employees' candidacies, the run folded in memory by
    the same rules (the newest `occurred_at` wins, ties to the later event; an
    erased employee stays erased), one upsert of each employee's last applied
    snapshot, and each programme's revision bumped as many times as one by one
    would (the pool cache's key). Leavers' open pairs end as one by one, in
    stream order.
    """
    await session.flush()  # rows earlier handlers of the batch added must be read below
    stored, roles = await repository.employees_and_roles(
        session, {snapshot.employee_id for snapshot, _ in updates})
    latest: dict[str, dict[str, Any]] = {}
    applied: list[str] = []
    departures: list[tuple[str, datetime]] = []
    for snapshot, occurred_at in updates:
        employee_id = snapshot.employee_id
        known = stored.get(employee_id)
        if known is not None and (known[0] or not _newer(occurred_at, known[1])):
            continue
        stored[employee_id] = (False, occurred_at)
        latest[employee_id] = {"id": employee_id, **_employee_columns(snapshot, occurred_at)}
        applied.append(employee_id)
        if not snapshot.active:
            departures.append((employee_id, occurred_at))
    if not applied:
        return
    await repository.upsert_employees(session, list(latest.values()))
    await repository.bump_revisions_by(session, Counter(
        programme_id for employee_id in applied
        for programme_id in {programme_id for _, programme_id in roles[employee_id]}))
    for employee_id, occurred_at in departures:
        await end_open_pairs(session, participant_ids=[p for p, _ in roles[employee_id]],
                             reason=EndReason.DEPARTURE, occurred_at=occurred_at)


async def erase_employee(session: AsyncSession, *, employee_id: str, occurred_at: datetime) -> None:
    """Forget a person: their answers and names go, their open pairs end, ids stay opaque."""
    row = await repository.get_employee(session, employee_id)
    if row is None:
        row = MatchingEmployee(id=employee_id, occurred_at=occurred_at)
        session.add(row)
    row.given_name = None
    row.department = None
    row.location = None
    row.manager_id = None
    row.manager_chain = []
    row.active = False
    row.erased = True
    row.occurred_at = max(occurred_at, row.occurred_at)
    roles = await repository.candidates_of_employee(session, employee_id)
    for candidate in roles:
        _clear_answers(candidate)
        candidate.status = CandidateStatus.WITHDRAWN
        candidate.withdrawn_at = candidate.withdrawn_at or occurred_at
    await session.flush()
    await end_open_pairs(session, participant_ids=[c.participant_id for c in roles],
                         reason=EndReason.WITHDRAWAL, occurred_at=occurred_at)
    for pair in await repository.list_pairs(session, employee_id=employee_id):
        # Reasons quote names and topics; keep the points, drop the words.
        pair.breakdown = [{**item, "reason": "removed at the person's request"}
                          for item in pair.breakdown]
    await repository.bump_revisions(session, {c.programme_id for c in roles})
    await session.flush()


def _clear_answers(candidate: Candidate) -> None:
    candidate.topics_teach = []
    candidate.topics_learn = []
    candidate.interests = []
    candidate.availability = []
    candidate.meeting_formats = []
    candidate.languages = []
    candidate.avoid_employee_ids = []
    candidate.diversity = None
    candidate.time_zone = None


async def apply_participant(
    session: AsyncSession, *, state: ParticipantState, occurred_at: datetime
) -> None:
    """Upsert a participant's answers; the newest survey version (then time) wins.

    An update for an unknown participant creates it; a withdrawal stays in force
    against any older event.
    """
    employee, _ = await _apply_snapshot(session, state.employee, occurred_at)
    await repository.ensure_programme(session, state.programme_id)
    row = await repository.get_candidate(session, state.participant_id)
    if row is None:
        row = Candidate(participant_id=state.participant_id, programme_id=state.programme_id,
                        employee_id=state.employee.employee_id, role=state.role,
                        survey_version=0, occurred_at=occurred_at)
        session.add(row)
        fresh = True
    else:
        fresh = (state.survey_version, occurred_at) >= (row.survey_version, row.occurred_at)
    if fresh and not employee.erased:
        row.role = state.role
        row.survey_version = state.survey_version
        row.occurred_at = occurred_at
        row.topics_teach = [t.model_dump() for t in state.topics_teach]
        row.topics_learn = [t.model_dump() for t in state.topics_learn]
        row.interests = list(state.interests)
        row.availability = [w.model_dump() for w in state.availability]
        row.time_zone = state.time_zone
        row.meeting_formats = list(state.meeting_formats)
        row.languages = list(state.languages)
        row.mentor_capacity = state.mentor_capacity
        row.dei_opt_in = state.dei_opt_in
        row.avoid_employee_ids = list(state.avoid_employee_ids)
        row.diversity = dict(state.diversity) if state.diversity is not None else None
    withdrawn_now = False
    if state.status == "withdrawn":
        withdrawn_now = row.status != CandidateStatus.WITHDRAWN
        row.status = CandidateStatus.WITHDRAWN
        row.withdrawn_at = max(occurred_at, row.withdrawn_at or occurred_at)
    elif row.status == CandidateStatus.WITHDRAWN and row.withdrawn_at is not None and \
            occurred_at > row.withdrawn_at and not employee.erased:
        row.status = CandidateStatus.ACTIVE  # re-enrolled after the withdrawal
        row.withdrawn_at = None
    await session.flush()
    await repository.bump_revisions(session, [state.programme_id])
    if withdrawn_now:
        await end_open_pairs(session, participant_ids=[row.participant_id],
                             reason=EndReason.WITHDRAWAL, occurred_at=occurred_at)


async def withdraw_participant(
    session: AsyncSession, *, participant_id: str, programme_id: str, employee_id: str,
    occurred_at: datetime,
) -> None:
    """Take a participant out of the pool and end their open pairs (withdrawal)."""
    await repository.ensure_programme(session, programme_id)
    row = await repository.get_candidate(session, participant_id)
    if row is None:
        # Withdrawn before its enrolment arrived: a tombstone the enrolment cannot revive.
        row = Candidate(participant_id=participant_id, programme_id=programme_id,
                        employee_id=employee_id, role="unknown", survey_version=0,
                        occurred_at=occurred_at)
        session.add(row)
    row.status = CandidateStatus.WITHDRAWN
    row.withdrawn_at = max(occurred_at, row.withdrawn_at or occurred_at)
    await session.flush()
    await repository.bump_revisions(session, [programme_id])
    await end_open_pairs(session, participant_ids=[participant_id],
                         reason=EndReason.WITHDRAWAL, occurred_at=occurred_at)


# --- the handlers main.py lists ----------------------------------------------------


async def on_programme_updated(session: AsyncSession, data: ProgrammeUpdated) -> None:
    await apply_programme(session, programme=data.programme, occurred_at=data.occurred_at)
    programme = data.programme
    if programme.status == "running" and programme.matching_mode == "automatic":
        row = await repository.get_programme(session, programme.programme_id)
        if row is not None and row.status == "running":  # not an older event replayed
            await runs.start_automatic(session, programme_id=programme.programme_id,
                                       occurred_at=data.occurred_at)


async def on_employee_updated_many(session: AsyncSession, items: Sequence[EmployeeUpdated]
                                   ) -> None:
    await apply_employees(session, [(data.employee, data.occurred_at) for data in items])


@applies_many(on_employee_updated_many)
async def on_employee_updated(session: AsyncSession, data: EmployeeUpdated) -> None:
    await apply_employee(session, employee=data.employee, occurred_at=data.occurred_at)


async def on_employee_erased(session: AsyncSession, data: EmployeeErased) -> None:
    await erase_employee(session, employee_id=data.employee_id, occurred_at=data.occurred_at)


async def on_participant_enrolled(session: AsyncSession, data: ParticipantEnrolled) -> None:
    await apply_participant(session, state=data.participant, occurred_at=data.occurred_at)


async def on_participant_updated(session: AsyncSession, data: ParticipantUpdated) -> None:
    await apply_participant(session, state=data.participant, occurred_at=data.occurred_at)


async def on_participant_withdrawn(session: AsyncSession, data: ParticipantWithdrawn) -> None:
    await withdraw_participant(
        session, participant_id=data.participant_id, programme_id=data.programme_id,
        employee_id=data.employee_id, occurred_at=data.occurred_at)
