"""Analytics' rules: one handler per event folds it into a read model; summaries.

Every `on_<event>(session, data)` is idempotent and commutes with the events it
races: a change applies only if it is not older than the one already recorded,
and a row created by an early event is completed by the late one. The events
that come in floods (an HRIS import, a programme's enrolments) also have a bulk
form (`applies_many`) that reads and writes a whole run in a few statements and
leaves what applying its events one by one would; alone, a handler is its bulk
form applied to one event, so the rule is written once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TypeVar

from sqlmodel.ext.asyncio.session import AsyncSession

from analytics import repository
from analytics.models import (
    Employee,
    Goal,
    MentoringSession,
    Milestone,
    Pair,
    Participant,
    Programme,
    ProgrammeSummary,
)
from upward_common.consumer import applies_many
from upward_common.events import (
    EmployeeErased,
    EmployeeUpdated,
    GoalUpdated,
    MatchRunFinished,
    MilestoneReached,
    PairDeclined,
    PairEnded,
    PairFormed,
    PairProposed,
    ParticipantEnrolled,
    ParticipantUpdated,
    ParticipantWithdrawn,
    ProgrammeUpdated,
    SessionCancelled,
    SessionLogged,
    SessionScheduled,
    ShortlistOffered,
)

ACTIVE, WITHDRAWN = "active", "withdrawn"

Latest = TypeVar("Latest", EmployeeUpdated, ProgrammeUpdated)
Participating = ParticipantEnrolled | ParticipantUpdated | ParticipantWithdrawn


def _latest(items: Sequence[Latest], key: Callable[[Latest], str]) -> list[Latest]:
    """Of each thing's events in a run, the one applying them in order leaves standing.

    The latest `occurred_at` wins; of equal times, the last to arrive (one by one,
    an event applies unless the stored one is newer).
    """
    latest: dict[str, Latest] = {}
    for item in items:
        thing = key(item)
        if thing not in latest or item.occurred_at >= latest[thing].occurred_at:
            latest[thing] = item
    return list(latest.values())


async def _programmes_updated(session: AsyncSession, items: Sequence[ProgrammeUpdated]) -> None:
    await repository.upsert_newer(session, Programme, [
        {"id": data.programme.programme_id, "name": data.programme.name,
         "status": data.programme.status, "occurred_at": data.occurred_at}
        for data in _latest(items, lambda data: data.programme.programme_id)])


@applies_many(_programmes_updated)
async def on_programme_updated(session: AsyncSession, data: ProgrammeUpdated) -> None:
    """The programme's name and state, the latest event winning."""
    await _programmes_updated(session, [data])


async def _employees_updated(session: AsyncSession, items: Sequence[EmployeeUpdated]) -> None:
    # An erased employee's tombstone stays: an older update must not bring them back.
    await repository.upsert_newer(session, Employee, [
        {"id": e.employee_id, "job_level": e.job_level, "department": e.department,
         "hire_on": e.hire_on, "leave_on": e.leave_on, "active": e.active,
         "occurred_at": data.occurred_at}
        for data in _latest(items, lambda data: data.employee.employee_id)
        for e in [data.employee]], unless_erased=True)


@applies_many(_employees_updated)
async def on_employee_updated(session: AsyncSession, data: EmployeeUpdated) -> None:
    """What retention analysis needs of the employee, the latest event winning."""
    await _employees_updated(session, [data])


async def on_employee_erased(session: AsyncSession, data: EmployeeErased) -> None:
    """Keep a bare tombstone and drop the id from participants; counts are unaffected."""
    occurred_at = data.occurred_at
    row = await repository.get(session, Employee, data.employee_id)
    row = row or Employee(id=data.employee_id, occurred_at=occurred_at)
    row.job_level = row.department = row.hire_on = row.leave_on = None
    row.active = False
    row.erased_at = row.erased_at or occurred_at
    await repository.add(session, row)
    await repository.forget_employee(session, data.employee_id)


def _newer(row: Participant, occurred_at: datetime, status: str) -> bool:
    # On a tie the withdrawal wins: leaving is what the participant did last.
    if occurred_at == row.status_at:
        return status == WITHDRAWN
    return occurred_at > row.status_at


def _ids(data: Participating) -> tuple[str, str]:
    """The participant and employee an event is about."""
    if isinstance(data, ParticipantWithdrawn):
        return data.participant_id, data.employee_id
    return data.participant.participant_id, data.participant.employee.employee_id


def _withdrawn(row: Participant | None, data: ParticipantWithdrawn,
               employee_id: str | None) -> Participant:
    occurred_at = data.occurred_at
    if row is None:
        # Ahead of its enrolment: the late enrolment fills in the role, status stays.
        row = Participant(id=data.participant_id, programme_id=data.programme_id,
                          employee_id=employee_id, status=WITHDRAWN, status_at=occurred_at)
    elif _newer(row, occurred_at, WITHDRAWN):
        row.status, row.status_at = WITHDRAWN, occurred_at
    row.withdrawn_at = max(row.withdrawn_at or occurred_at, occurred_at)
    return row


def _stated(row: Participant | None, data: ParticipantEnrolled | ParticipantUpdated,
            employee_id: str | None) -> Participant:
    state, occurred_at = data.participant, data.occurred_at
    if row is None:
        row = Participant(id=state.participant_id, programme_id=state.programme_id,
                          status=state.status, status_at=occurred_at)
    elif _newer(row, occurred_at, state.status):
        row.status, row.status_at = state.status, occurred_at
    row.programme_id = state.programme_id
    row.role = state.role
    row.employee_id = employee_id
    if isinstance(data, ParticipantEnrolled):
        row.enrolled_at = min(row.enrolled_at or occurred_at, occurred_at)
    if state.status == WITHDRAWN:
        row.withdrawn_at = row.withdrawn_at or occurred_at
    return row


async def _participants_changed(session: AsyncSession, items: Sequence[Participating]) -> None:
    """Enrolments, updates (each carrying the full state) and withdrawals, in order."""
    rows = await repository.get_many(session, Participant, {_ids(data)[0] for data in items})
    # An event older than the erasure must not bring the id back.
    erased = await repository.erased_employees(session, {_ids(data)[1] for data in items})
    for data in items:
        participant_id, employee_id = _ids(data)
        kept_id = None if employee_id in erased else employee_id
        row = rows.get(participant_id)
        if isinstance(data, ParticipantWithdrawn):
            rows[participant_id] = _withdrawn(row, data, kept_id)
        else:
            rows[participant_id] = _stated(row, data, kept_id)
    await repository.add_all(session, rows.values())


@applies_many(_participants_changed)
async def on_participant_enrolled(session: AsyncSession, data: ParticipantEnrolled) -> None:
    """The participant's role and standing; the earliest enrolment is when they joined."""
    await _participants_changed(session, [data])


@applies_many(_participants_changed)
async def on_participant_updated(session: AsyncSession, data: ParticipantUpdated) -> None:
    """The participant's role and standing, unless a newer status is recorded."""
    await _participants_changed(session, [data])


@applies_many(_participants_changed)
async def on_participant_withdrawn(session: AsyncSession, data: ParticipantWithdrawn) -> None:
    """The participant has left, even when the withdrawal overtakes the enrolment."""
    await _participants_changed(session, [data])


async def on_pair_formed(session: AsyncSession, data: PairFormed) -> None:
    """The pair exists from its first formation."""
    row = await repository.get(session, Pair, data.pair_id)
    row = row or Pair(id=data.pair_id, programme_id=data.programme_id)
    row.programme_id = data.programme_id
    row.formed_at = row.formed_at or data.occurred_at
    await repository.add(session, row)


async def on_pair_ended(session: AsyncSession, data: PairEnded) -> None:
    """The first ending counts, even ahead of the formation."""
    row = await repository.get(session, Pair, data.pair_id)
    row = row or Pair(id=data.pair_id, programme_id=data.programme_id)
    if row.ended_at is None:
        row.ended_at = data.occurred_at
        row.ended_reason = data.reason[:200]
    await repository.add(session, row)


async def on_session_scheduled(session: AsyncSession, data: SessionScheduled) -> None:
    """The session is planned (its start may move; the first plan's length stays)."""
    row = await repository.get(session, MentoringSession, data.session_id)
    row = row or MentoringSession(id=data.session_id, pair_id=data.pair_id,
                                  programme_id=data.programme_id)
    row.scheduled_at = row.scheduled_at or data.occurred_at
    row.starts_at = data.starts_at
    row.duration_minutes = row.duration_minutes or data.duration_minutes
    await repository.add(session, row)


async def on_session_logged(session: AsyncSession, data: SessionLogged) -> None:
    """The session was held, for as long as it lasted."""
    row = await repository.get(session, MentoringSession, data.session_id)
    row = row or MentoringSession(id=data.session_id, pair_id=data.pair_id,
                                  programme_id=data.programme_id)
    row.held_at = data.held_at
    # The length actually held replaces the planned one.
    row.duration_minutes = data.duration_minutes
    await repository.add(session, row)


async def on_session_cancelled(session: AsyncSession, data: SessionCancelled) -> None:
    """The session no longer counts as scheduled."""
    row = await repository.get(session, MentoringSession, data.session_id)
    row = row or MentoringSession(id=data.session_id, pair_id=data.pair_id,
                                  programme_id=data.programme_id)
    row.cancelled_at = data.occurred_at
    await repository.add(session, row)


async def on_goal_updated(session: AsyncSession, data: GoalUpdated) -> None:
    """The goal's status and progress, the latest event winning."""
    row = await repository.get(session, Goal, data.goal_id)
    if row is not None and row.occurred_at > data.occurred_at:
        return
    row = row or Goal(id=data.goal_id, pair_id=data.pair_id, programme_id=data.programme_id,
                      status=data.status, progress_percent=data.progress_percent,
                      occurred_at=data.occurred_at)
    row.status, row.progress_percent = data.status[:32], data.progress_percent
    row.occurred_at = data.occurred_at
    await repository.add(session, row)


async def on_milestone_reached(session: AsyncSession, data: MilestoneReached) -> None:
    """The programme's milestone value, the latest event winning."""
    row = await repository.get(session, Milestone, (data.programme_id, data.milestone))
    if row is not None and row.reached_at > data.occurred_at:
        return
    row = row or Milestone(programme_id=data.programme_id, milestone=data.milestone,
                           value=data.value, reached_at=data.occurred_at)
    row.value, row.reached_at = data.value, data.occurred_at
    await repository.add(session, row)


async def on_match_run_finished(session: AsyncSession, data: MatchRunFinished) -> None:
    """Nothing to keep: a run's pairs count when their own `pair.formed` arrives.

    Taken (and acked) all the same, so analytics reads every type of the contract and a
    replay of the stream passes over runs as it does over anything else.
    """


async def on_pair_proposed(session: AsyncSession, data: PairProposed) -> None:
    """Nothing to keep: a proposal counts once it forms (`pair.formed`)."""


async def on_pair_declined(session: AsyncSession, data: PairDeclined) -> None:
    """Nothing to keep: a declined proposal never formed, so no pair figure changes."""


async def on_shortlist_offered(session: AsyncSession, data: ShortlistOffered) -> None:
    """Nothing to keep: which mentors a mentee was shown stays out of the programme figures."""


async def programme_summary(session: AsyncSession, *, programme_id: str) -> ProgrammeSummary:
    """The programme's figures; all zeros for a programme analytics has not heard of yet."""
    return ProgrammeSummary(
        programme_id=programme_id,
        participants_enrolled=await repository.count_participants(session, programme_id),
        mentors=await repository.count_participants(session, programme_id, role="mentor"),
        mentees=await repository.count_participants(session, programme_id, role="mentee"),
        pairs_formed=await repository.count_pairs(session, programme_id, active_only=False),
        pairs_active=await repository.count_pairs(session, programme_id, active_only=True),
        sessions_scheduled=await repository.count_sessions(session, programme_id, held=False),
        sessions_held=await repository.count_sessions(session, programme_id, held=True),
    )
