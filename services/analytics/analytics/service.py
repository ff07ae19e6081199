"""Analytics' rules: one handler per event folds it into a read model; summaries.

Every `on_<event>(session, data)` is idempotent and commutes with the events it
races: a change applies only if it is not older than the one already recorded,
and a row created by an early event is completed by the late one. The events
that come in floods (an HRIS import, a programme's enrolments, pairs forming and
ending, sessions scheduled and logged, goals) also have a bulk form
(`applies_many`) that reads and writes a whole run in a few statements and
leaves what applying its events one by one would, milestones announced
included; the events of one thing share one (a participant's, a pair's, a
session's), so a run of them mixed is one call. Alone, a handler is its bulk
form applied to one event, so the rule is written once.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from sqlmodel.ext.asyncio.session import AsyncSession

from analytics import milestones, repository, retention, surveys
from analytics.models import (
    CurvePoint,
    Employee,
    EndedPairs,
    FigureAt,
    Goal,
    GroupSession,
    Invitation,
    MentoringSession,
    Milestone,
    MonthCount,
    Pair,
    Participant,
    ParticipationHistory,
    ParticipationHistoryCreate,
    ParticipationRole,
    Programme,
    ProgrammeHealth,
    ProgrammeRetention,
    ProgrammeSummary,
    PulseQuestionResult,
    PulseRespondent,
    PulseResponse,
    PulseResponseCreate,
    PulseSurvey,
    PulseSurveyCreate,
    PulseSurveyPublic,
    PulseSurveyResults,
    RetentionComparison,
    RetentionGroup,
    RetentionGroupName,
    RoleFunnel,
    RoleMatching,
    SessionLog,
    Touchpoint,
)
from upward_common.auth import Principal
from upward_common.consumer import applies_many
from upward_common.events import (
    EmployeeErased,
    EmployeeUpdated,
    GoalUpdated,
    GroupSessionCancelled,
    GroupSessionRsvped,
    GroupSessionScheduled,
    MatchRunFinished,
    MilestoneReached,
    PairAtRisk,
    PairClosureProposed,
    PairDeclined,
    PairEnded,
    PairFitFlagged,
    PairFormed,
    PairProposed,
    ParticipantEnrolled,
    ParticipantInvited,
    ParticipantUpdated,
    ParticipantWithdrawn,
    PlanAccepted,
    ProgrammeUpdated,
    SessionCancelled,
    SessionLogged,
    SessionRescheduled,
    SessionScheduled,
    ShortlistOffered,
    TouchpointRecorded,
)
from upward_common.problems import Problem, conflict, invalid, not_found

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
         "status": data.programme.status, "occurred_at": data.occurred_at,
         "diversity_objective": data.programme.diversity_objective}
        for data in _latest(items, lambda data: data.programme.programme_id)])


@applies_many(_programmes_updated)
async def on_programme_updated(session: AsyncSession, data: ProgrammeUpdated) -> None:
    """The programme's name and state, the latest event winning."""
    await _programmes_updated(session, [data])


async def _employees_updated(session: AsyncSession, items: Sequence[EmployeeUpdated]) -> None:
    # Retention reads employees and their levels: the run's commit moves its inputs on.
    repository.retention_inputs_changed(session)
    await _levels_seen(session, items)
    # An erased employee's tombstone stays: an older update must not bring them back.
    await repository.upsert_newer(session, Employee, [
        {"id": e.employee_id, "job_level": e.job_level, "department": e.department,
         "hire_on": e.hire_on, "leave_on": e.leave_on, "active": e.active,
         "occurred_at": data.occurred_at}
        for data in _latest(items, lambda data: data.employee.employee_id)
        for e in [data.employee]], unless_erased=True)


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


async def _levels_seen(session: AsyncSession, items: Sequence[EmployeeUpdated]) -> None:
    """Every level an event carried, at its time (the history promotion is read from).

    Keyed by employee and event time, so a repeat lands on its own row whatever the order.
    """
    erased = await repository.erased_employees(
        session, {data.employee.employee_id for data in items})
    rows: dict[tuple[str, datetime], dict[str, Any]] = {}
    for data in items:
        e = data.employee
        if e.job_level is not None and e.employee_id not in erased:
            rows[e.employee_id, data.occurred_at] = {
                "employee_id": e.employee_id, "occurred_at": data.occurred_at,
                "job_level": e.job_level}
    await repository.upsert_levels(session, list(rows.values()))


@applies_many(_employees_updated)
async def on_employee_updated(session: AsyncSession, data: EmployeeUpdated) -> None:
    """What retention analysis needs of the employee, the latest event winning."""
    await _employees_updated(session, [data])


async def on_employee_erased(session: AsyncSession, data: EmployeeErased) -> None:
    """Keep a bare tombstone and drop the id from participants; counts are unaffected."""
    repository.retention_inputs_changed(session)
    occurred_at = data.occurred_at
    row = await repository.get(session, Employee, data.employee_id)
    row = row or Employee(id=data.employee_id, occurred_at=occurred_at)
    row.job_level = row.department = row.hire_on = row.leave_on = None
    row.active = False
    row.erased_at = row.erased_at or occurred_at
    await repository.add(session, row)
    await repository.forget_employee(session, data.employee_id)
    await repository.forget_employee_history(session, data.employee_id)


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
    if row is None or occurred_at >= row.status_at:
        # The latest state's profile answers and diversity attributes stand.
        profiled = bool(state.topics_teach or state.topics_learn or state.interests)
        diversity = dict(state.diversity) if state.diversity and employee_id else None
    else:
        profiled, diversity = row.profiled, row.diversity
    if row is None:
        row = Participant(id=state.participant_id, programme_id=state.programme_id,
                          status=state.status, status_at=occurred_at)
    elif _newer(row, occurred_at, state.status):
        row.status, row.status_at = state.status, occurred_at
    row.programme_id = state.programme_id
    row.role = state.role
    row.employee_id = employee_id
    row.profiled, row.diversity = profiled, diversity
    if isinstance(data, ParticipantEnrolled):
        row.enrolled_at = min(row.enrolled_at or occurred_at, occurred_at)
    if state.status == WITHDRAWN:
        row.withdrawn_at = row.withdrawn_at or occurred_at
    return row


def _taking_part(row: Participant | None) -> tuple[Any, ...] | None:
    """What retention reads of the participant (None when it reads nothing of them)."""
    if row is None:
        return None
    values = tuple(getattr(row, name) for name in repository.PARTICIPATION_FIELDS)
    return None if any(value is None for value in values) else values


async def _participants_changed(session: AsyncSession, items: Sequence[Participating]) -> None:
    """Enrolments, updates (each carrying the full state) and withdrawals, in order."""
    rows = await repository.get_many(session, Participant, {_ids(data)[0] for data in items})
    # A withdrawal or a new profile leaves retention's inputs (role, start) as they were.
    before = {participant_id: _taking_part(row) for participant_id, row in rows.items()}
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
    if any(_taking_part(row) != before.get(participant_id)
           for participant_id, row in rows.items()):
        repository.retention_inputs_changed(session)
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


PairEvent = PairFormed | PairEnded


def _pair_folded(row: Pair | None, data: PairEvent) -> Pair:
    """The pair's row once `data` applies to it (a new row if it had none)."""
    row = row or Pair(id=data.pair_id, programme_id=data.programme_id)
    if isinstance(data, PairFormed):
        row.programme_id = data.programme_id
        row.formed_at = row.formed_at or data.occurred_at
        row.mentor_participant_id = data.mentor_participant_id
        row.mentee_participant_id = data.mentee_participant_id
        row.score = data.score
    elif row.ended_at is None:
        row.ended_at = data.occurred_at
        row.ended_reason = data.reason[:200]
    return row


def _completed(data: PairEvent) -> bool:
    return isinstance(data, PairEnded) and data.reason == "completed"


async def _pairs_changed(session: AsyncSession, items: Sequence[PairEvent]) -> None:
    """Formations and endings, in order: the run's pairs read and written in one statement
    each, and the completions' milestones."""
    rows = await repository.copies_many(session, Pair, {data.pair_id for data in items})
    completed = [data for data in items if _completed(data)]
    reaching = await milestones.Reaching.load(
        session, pairs={data.pair_id for data in completed},
        milestones=(milestones.PROGRAMME_COMPLETED,))
    for data in items:
        rows[data.pair_id] = _pair_folded(rows.get(data.pair_id), data)
        if _completed(data):
            reaching.reach(pair_id=data.pair_id, programme_id=data.programme_id,
                           milestone=milestones.PROGRAMME_COMPLETED, reached_at=data.occurred_at)
    await repository.write_rows(session, Pair, rows.values())
    await reaching.save()


@applies_many(_pairs_changed)
async def on_pair_formed(session: AsyncSession, data: PairFormed) -> None:
    """The pair exists from its first formation."""
    await _pairs_changed(session, [data])


@applies_many(_pairs_changed)
async def on_pair_ended(session: AsyncSession, data: PairEnded) -> None:
    """The first ending counts, even ahead of the formation; a completion is a milestone."""
    await _pairs_changed(session, [data])


SessionEvent = SessionScheduled | SessionLogged | SessionCancelled | SessionRescheduled


def _session_folded(row: MentoringSession | None, data: SessionEvent) -> MentoringSession:
    """The session's row once `data` applies to it (a new row if it had none)."""
    if row is None:
        row = MentoringSession(id=data.session_id, pair_id=data.pair_id,
                               programme_id=data.programme_id)
        if isinstance(data, SessionRescheduled):
            row.duration_minutes = data.duration_minutes
    if isinstance(data, SessionScheduled):
        # The start may move; the first plan's length stays.
        row.scheduled_at = row.scheduled_at or data.occurred_at
        row.starts_at = data.starts_at
        row.duration_minutes = row.duration_minutes or data.duration_minutes
    elif isinstance(data, SessionLogged):
        row.held_at = data.held_at
        # The length actually held replaces the planned one.
        row.duration_minutes = data.duration_minutes
    elif isinstance(data, SessionCancelled):
        row.cancelled_at = data.occurred_at
    else:
        row.starts_at = data.starts_at
    return row


def _log_key(data: SessionEvent) -> tuple[str, str] | None:
    """The session log a `session.logged` writes: (session, author role); None for other
    events, and for a log from before logs carried the author's rating, fit and topics."""
    if not isinstance(data, SessionLogged) or (
            data.author_role is None and data.rating is None and data.fit is None
            and not data.topics):
        return None
    return data.session_id, data.author_role or "unknown"


def _log_folded(row: SessionLog | None, data: SessionLogged, author: str) -> SessionLog:
    """The author's rating, fit and topics (an older log, arriving late, changes nothing)."""
    if row is not None and row.occurred_at > data.occurred_at:
        return row
    row = row or SessionLog(session_id=data.session_id, author_role=author,
                            pair_id=data.pair_id, programme_id=data.programme_id,
                            occurred_at=data.occurred_at)
    row.rating, row.fit, row.topics = data.rating, data.fit, sorted(set(data.topics))
    row.occurred_at = data.occurred_at
    return row


async def _sessions_changed(session: AsyncSession, items: Sequence[SessionEvent]) -> None:
    """Sessions scheduled, logged, cancelled and moved, in order, in a few statements.

    The run's sessions and logs are read in one query each, folded in memory and
    written in one upsert each. A held session may reach its pair's milestones: the pairs'
    held sessions and recorded milestones are read once, and after each `session.logged`
    the pair's held sessions as they stand then decide, as applying it alone would.
    """
    rows = await repository.copies_many(session, MentoringSession,
                                        {data.session_id for data in items})
    logs = await repository.session_logs(
        session, {key for data in items if (key := _log_key(data)) is not None})
    held_ones = [data for data in items if isinstance(data, SessionLogged)]
    pairs = {data.pair_id for data in held_ones}
    held = await milestones.held_sessions(session, pairs)
    reaching = await milestones.Reaching.load(
        session, pairs=pairs,
        milestones=[milestone for milestone, _ in milestones.SESSION_MILESTONES])
    for data in items:
        row = rows[data.session_id] = _session_folded(rows.get(data.session_id), data)
        if not isinstance(data, SessionLogged):
            continue
        if (key := _log_key(data)) is not None:
            logs[key] = _log_folded(logs.get(key), data, key[1])
        assert row.held_at is not None
        held[row.pair_id][row.id] = row.held_at
        milestones.after_session_held(reaching, held[data.pair_id], pair_id=data.pair_id,
                                      programme_id=data.programme_id)
    await repository.write_rows(session, MentoringSession, rows.values())
    await repository.write_rows(session, SessionLog, logs.values(),
                                key=("session_id", "author_role"))
    await reaching.save()


@applies_many(_sessions_changed)
async def on_session_scheduled(session: AsyncSession, data: SessionScheduled) -> None:
    """The session is planned (its start may move; the first plan's length stays)."""
    await _sessions_changed(session, [data])


@applies_many(_sessions_changed)
async def on_session_logged(session: AsyncSession, data: SessionLogged) -> None:
    """The session was held, for as long as it lasted; the author's log; milestones."""
    await _sessions_changed(session, [data])


@applies_many(_sessions_changed)
async def on_session_cancelled(session: AsyncSession, data: SessionCancelled) -> None:
    """The session no longer counts as scheduled."""
    await _sessions_changed(session, [data])


@applies_many(_sessions_changed)
async def on_session_rescheduled(session: AsyncSession, data: SessionRescheduled) -> None:
    """The session moved: its start follows (a session counts once, wherever it lands)."""
    await _sessions_changed(session, [data])


async def on_plan_accepted(session: AsyncSession, data: PlanAccepted) -> None:
    """Nothing to keep: a plan's sessions count from their own `session.*` events.

    Taken (and acked) so analytics reads every type of the contract.
    """


async def on_touchpoint_recorded(session: AsyncSession, data: TouchpointRecorded) -> None:
    """A pair's check-in between sessions: one row per touchpoint, so a redelivery counts once."""
    if await repository.get(session, Touchpoint, data.touchpoint_id) is None:
        await repository.add(session, Touchpoint(
            id=data.touchpoint_id, pair_id=data.pair_id, programme_id=data.programme_id,
            minutes=data.minutes, at=data.at))


async def _group_session(
    session: AsyncSession, *, group_session_id: str, programme_id: str, starts_at: datetime,
    at: datetime,
) -> GroupSession:
    row = await repository.get(session, GroupSession, group_session_id)
    return row or GroupSession(id=group_session_id, programme_id=programme_id,
                               starts_at=starts_at, occurred_at=at)


async def on_group_session_scheduled(session: AsyncSession, data: GroupSessionScheduled) -> None:
    """A programme's gathering: one row, its start the latest event's."""
    row = await _group_session(session, group_session_id=data.group_session_id,
                               programme_id=data.programme_id, starts_at=data.starts_at,
                               at=data.occurred_at)
    if row.occurred_at <= data.occurred_at:
        row.starts_at, row.occurred_at = data.starts_at, data.occurred_at
    await repository.add(session, row)


async def on_group_session_cancelled(session: AsyncSession, data: GroupSessionCancelled) -> None:
    """A cancelled gathering no longer counts as scheduled."""
    row = await _group_session(session, group_session_id=data.group_session_id,
                               programme_id=data.programme_id, starts_at=data.starts_at,
                               at=data.occurred_at)
    row.cancelled_at = data.occurred_at
    await repository.add(session, row)


async def on_group_session_rsvped(session: AsyncSession, data: GroupSessionRsvped) -> None:
    """The gathering's yes count, the latest answer's event winning."""
    row = await _group_session(session, group_session_id=data.group_session_id,
                               programme_id=data.programme_id, starts_at=data.occurred_at,
                               at=data.occurred_at)
    if row.rsvp_at is None or row.rsvp_at <= data.occurred_at:
        row.yes, row.rsvp_at = data.yes, data.occurred_at
    await repository.add(session, row)


def _goal_folded(row: Goal | None, data: GoalUpdated) -> Goal | None:
    """The goal's row once `data` applies to it; None when a newer event set it."""
    if row is not None and row.occurred_at > data.occurred_at:
        return None
    row = row or Goal(id=data.goal_id, pair_id=data.pair_id, programme_id=data.programme_id,
                      status=data.status, progress_percent=data.progress_percent,
                      occurred_at=data.occurred_at)
    row.status, row.progress_percent = data.status[:32], data.progress_percent
    row.occurred_at = data.occurred_at
    return row


async def _goals_updated(session: AsyncSession, items: Sequence[GoalUpdated]) -> None:
    """Goal changes in order, read and written in one go; an achievement is a milestone."""
    rows = await repository.copies_many(session, Goal, {data.goal_id for data in items})
    achieved = [data for data in items if data.status == "achieved"]
    reaching = await milestones.Reaching.load(
        session, pairs={data.pair_id for data in achieved},
        milestones=(milestones.GOAL_ACHIEVED,))
    for data in items:
        row = _goal_folded(rows.get(data.goal_id), data)
        if row is None:
            continue
        rows[data.goal_id] = row
        if data.status == "achieved":
            reaching.reach(pair_id=data.pair_id, programme_id=data.programme_id,
                           milestone=milestones.GOAL_ACHIEVED, reached_at=data.occurred_at)
    await repository.write_rows(session, Goal, rows.values())
    await reaching.save()


@applies_many(_goals_updated)
async def on_goal_updated(session: AsyncSession, data: GoalUpdated) -> None:
    """The goal's status and progress, the latest event winning."""
    await _goals_updated(session, [data])


async def _flag_pair(
    session: AsyncSession, *, pair_id: str, programme_id: str, flag: str, at: datetime
) -> None:
    # The latest flag wins, whatever order the events arrive in; a redelivery changes nothing.
    row = await repository.get(session, Pair, pair_id)
    row = row or Pair(id=pair_id, programme_id=programme_id)
    current = getattr(row, flag)
    if current is None or current < at:
        setattr(row, flag, at)
    await repository.add(session, row)


async def on_pair_at_risk(session: AsyncSession, data: PairAtRisk) -> None:
    """The pair went silent for twice its cadence: counted as at risk."""
    await _flag_pair(session, pair_id=data.pair_id, programme_id=data.programme_id,
                     flag="at_risk_at", at=data.occurred_at)


async def on_pair_fit_flagged(session: AsyncSession, data: PairFitFlagged) -> None:
    """A poor fit was reported twice for the pair: counted as fit-flagged."""
    await _flag_pair(session, pair_id=data.pair_id, programme_id=data.programme_id,
                     flag="fit_flagged_at", at=data.occurred_at)


async def on_pair_closure_proposed(session: AsyncSession, data: PairClosureProposed) -> None:
    """Closing the silent pair was proposed: counted."""
    await _flag_pair(session, pair_id=data.pair_id, programme_id=data.programme_id,
                     flag="closure_proposed_at", at=data.occurred_at)


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
        pairs_at_risk=await repository.count_flagged_pairs(session, programme_id,
                                                           flag="at_risk_at"),
        pairs_fit_flagged=await repository.count_flagged_pairs(session, programme_id,
                                                               flag="fit_flagged_at"),
        pairs_closure_proposed=await repository.count_flagged_pairs(
            session, programme_id, flag="closure_proposed_at"),
        touchpoints=await repository.count_touchpoints(session, programme_id),
        group_sessions=await repository.count_group_sessions(session, programme_id),
    )


# --- pulse surveys (the rules of who may answer and what is published: surveys.py) ---

OPEN, CLOSED = "open", "closed"


def _public(survey: PulseSurvey) -> PulseSurveyPublic:
    return PulseSurveyPublic.model_validate(survey, from_attributes=True)


async def create_pulse_survey(session: AsyncSession, *, programme_id: str,
                              survey: PulseSurveyCreate, now: datetime) -> PulseSurveyPublic:
    """A new open survey of the programme; its questions are numbered q1, q2, ..."""
    if await repository.count_pulse_surveys(session, programme_id) >= (
            surveys.MAX_SURVEYS_PER_PROGRAMME):
        raise conflict(f"A programme has at most {surveys.MAX_SURVEYS_PER_PROGRAMME} "
                       "pulse surveys", field="programme_id")
    questions = [{"id": f"q{index}", "kind": q.kind, "prompt": q.prompt,
                  "choices": list(q.choices)}
                 for index, q in enumerate(survey.questions, start=1)]
    row = PulseSurvey(id=str(uuid.uuid4()), programme_id=programme_id, title=survey.title,
                      questions=questions, status=OPEN, created_at=now)
    await repository.add(session, row)
    return _public(row)


async def _survey(session: AsyncSession, programme_id: str, survey_id: str) -> PulseSurvey:
    row = await repository.get(session, PulseSurvey, survey_id)
    if row is None or row.programme_id != programme_id:
        raise not_found("pulse survey", survey_id)
    return row


async def _require_reader(session: AsyncSession, user: Principal, programme_id: str) -> None:
    """Admins, and the programme's own active participants, see its surveys."""
    if user.is_admin:
        return
    if user.employee_id is None or await repository.programme_participant(
            session, programme_id=programme_id, employee_id=user.employee_id) is None:
        raise Problem(403, "Only the programme's participants and admins see its pulse "
                      "surveys", kind="forbidden")


async def pulse_surveys(session: AsyncSession, *, user: Principal,
                        programme_id: str) -> list[PulseSurveyPublic]:
    """The programme's surveys, newest first."""
    await _require_reader(session, user, programme_id)
    return [_public(row) for row in await repository.pulse_surveys(session, programme_id)]


async def pulse_survey(session: AsyncSession, *, user: Principal, programme_id: str,
                       survey_id: str) -> PulseSurveyPublic:
    await _require_reader(session, user, programme_id)
    return _public(await _survey(session, programme_id, survey_id))


async def close_pulse_survey(session: AsyncSession, *, programme_id: str, survey_id: str,
                             now: datetime) -> PulseSurveyPublic:
    """No more answers; the results can be read from now on (closing twice is a 409)."""
    row = await _survey(session, programme_id, survey_id)
    if row.status == CLOSED:
        raise conflict("The pulse survey is already closed", field="survey_id")
    row.status, row.closed_at = CLOSED, now
    await repository.add(session, row)
    return _public(row)


def _answers(survey: PulseSurvey, response: PulseResponseCreate) -> list[dict[str, Any]]:
    """The answers checked against the questions, in question order."""
    questions = {q["id"]: q for q in survey.questions}
    given: dict[str, dict[str, Any]] = {}
    for index, answer in enumerate(response.answers):
        field = f"answers.{index}"
        question = questions.get(answer.question_id)
        if question is None:
            raise invalid(f"{field}.question_id", "is not a question of this survey")
        if answer.question_id in given:
            raise invalid(f"{field}.question_id", "is answered twice")
        values = answer.model_dump()
        problem = surveys.answer_problem(question, values)
        if problem is not None:
            raise invalid(field, problem)
        given[answer.question_id] = values
    for question in survey.questions:
        if question["kind"] != "text" and question["id"] not in given:
            raise invalid("answers", f"question {question['id']} needs an answer")
    return [given[q["id"]] for q in survey.questions if q["id"] in given]


async def answer_pulse_survey(session: AsyncSession, *, user: Principal, programme_id: str,
                              survey_id: str, response: PulseResponseCreate,
                              secret: bytes) -> None:
    """A participant of the programme answers once; the answer row holds no identity."""
    if user.employee_id is None:
        raise Problem(403, "Only a participant of the programme answers its pulse surveys",
                      kind="forbidden")
    participant = await repository.programme_participant(
        session, programme_id=programme_id, employee_id=user.employee_id)
    if participant is None:
        raise Problem(403, "Only a participant of the programme answers its pulse surveys",
                      kind="forbidden")
    survey = await _survey(session, programme_id, survey_id)
    if survey.status != OPEN:
        raise conflict("The pulse survey is closed", field="survey_id")
    answers = _answers(survey, response)
    key = surveys.respondent_key(secret, survey_id=survey_id, employee_id=user.employee_id)
    if not await repository.add_respondent(session, PulseRespondent(survey_id=survey_id,
                                                                    respondent_key=key)):
        raise conflict("You have already answered this pulse survey", field="survey_id")
    employee = await repository.get(session, Employee, user.employee_id)
    department = (employee.department if employee else None) or surveys.UNKNOWN
    await repository.add(session, PulseResponse(
        id=uuid.uuid4().hex, survey_id=survey_id, role=participant.role or surveys.UNKNOWN,
        department=department,
        level_band=surveys.level_band(employee.job_level if employee else None),
        answers=answers))


def _profile(row: PulseResponse) -> surveys.Profile:
    return (row.role, row.department, row.level_band)


async def pulse_survey_results(
    session: AsyncSession, *, programme_id: str, survey_id: str, role: str | None = None,
    department: str | None = None, level_band: str | None = None,
) -> PulseSurveyResults:
    """One cut of a closed survey, or only the word that it is suppressed (surveys.py)."""
    survey = await _survey(session, programme_id, survey_id)
    if survey.status != CLOSED:
        # Results that move while answers arrive would give each new answer away.
        raise conflict("Results are published once the pulse survey is closed",
                       field="survey_id")
    rows = await repository.pulse_responses(session, survey_id)
    counts = surveys.cell_counts(_profile(row) for row in rows)
    cell: surveys.Cell = (role, department, level_band)
    hidden = surveys.suppressed_cells(counts)
    shown = counts.get(cell, 0) > 0 and cell not in hidden
    base = PulseSurveyResults(survey_id=survey_id, role=role, department=department,
                              level_band=level_band, min_group=surveys.MIN_GROUP,
                              suppressed=not shown, respondents=None, questions=[])
    if not shown:
        return base
    chosen = [row for row in rows if all(
        want is None or want == have for want, have in zip(cell, _profile(row), strict=True))]
    answers = [dict(answer) for row in chosen for answer in row.answers]
    base.respondents = len(chosen)
    base.questions = [PulseQuestionResult.model_validate(surveys.question_result(q, answers))
                      for q in survey.questions]
    return base


# --- retention and promotion ------------------------------------------------------

ROLES = (ParticipationRole.MENTOR.value, ParticipationRole.MENTEE.value)
# Matched controls (employees not taking part on the day) per participant.
CONTROLS_PER_PARTICIPANT = 2
SMALL_GROUP = f"fewer than {retention.MIN_CELL} people"


async def import_history(session: AsyncSession, *,
                         rows: Sequence[ParticipationHistoryCreate]) -> int:
    """Store past participations; one already stored (programme, employee, role, start)
    gets the new end."""
    stored: dict[str, dict[str, Any]] = {}
    for row in rows:
        key = _digest(row.programme_id, row.employee_id, row.role.value,
                      row.started_on.isoformat())
        stored[key] = {"id": key, "programme_id": row.programme_id,
                       "employee_id": row.employee_id, "role": row.role.value,
                       "started_on": row.started_on, "ended_on": row.ended_on}
    await repository.upsert_rows(session, ParticipationHistory, list(stored.values()))
    repository.retention_inputs_changed(session)
    return len(stored)


def _day(value: date | datetime) -> date:
    return value.astimezone(UTC).date() if isinstance(value, datetime) else value


def _figure(months: int, reading: tuple[float, float, float] | None, *,
            promoted: bool = False) -> FigureAt:
    if reading is None:
        return FigureAt(months=months, estimate=None, lower=None, upper=None)
    estimate, lower, upper = reading
    if promoted:  # the share promoted is one minus the share not yet promoted
        estimate, lower, upper = 1 - estimate, 1 - upper, 1 - lower
    return FigureAt(months=months, estimate=estimate, lower=lower, upper=upper)


def _promotion(group: retention.Group,
               levels: dict[str, list[tuple[date, int]]]) -> list[FigureAt]:
    followed = retention.Group([p for m in group.members
                                if (p := retention.promotion(m, levels.get(m.employee_id, [])))
                                is not None])
    # Only where level changes arrive: a group whose levels never moved has nothing to say.
    changes = any(len({level for _, level in levels.get(m.employee_id, [])}) > 1
                  for m in followed.members)
    if followed.size < retention.MIN_CELL or not changes:
        return []
    curve = retention.kaplan_meier(*followed.arrays())
    return [_figure(months, retention.point(curve, months, followed), promoted=True)
            for months in retention.RETENTION_MONTHS]


def _group(name: RetentionGroupName, group: retention.Group,
           levels: dict[str, list[tuple[date, int]]]) -> RetentionGroup:
    if group.size < retention.MIN_CELL:
        return RetentionGroup(group=name, suppressed=SMALL_GROUP)
    curve = retention.kaplan_meier(*group.arrays())
    points = [CurvePoint(months=float(t), estimate=float(e), lower=float(lo), upper=float(hi))
              for t, e, lo, hi in zip(curve.times, curve.estimate, curve.lower, curve.upper,
                                      strict=True)
              if retention.at_risk(group, float(t)) >= retention.MIN_CELL]
    return RetentionGroup(
        group=name, people=group.size, leavers=sum(1 for m in group.members if m.left),
        follow_up_months_total=round(group.follow_up_months, 3),
        follow_up_months_median=round(group.median_follow_up_months, 3),
        curve=points,
        retention=[_figure(months, retention.point(curve, months, group))
                   for months in retention.RETENTION_MONTHS],
        promotion=_promotion(group, levels))


def _comparison(role: str, participants: retention.Group,
                controls: retention.Group) -> RetentionComparison:
    kind = ParticipationRole(role)
    if participants.size < retention.MIN_CELL or controls.size < retention.MIN_CELL:
        return RetentionComparison(role=kind, suppressed=SMALL_GROUP)
    test = retention.logrank(*participants.arrays(), *controls.arrays())
    if not (math.isfinite(test.statistic) and math.isfinite(test.p_value)):
        return RetentionComparison(
            role=kind, suppressed="undefined for these groups (nobody left, or nobody followed)")
    return RetentionComparison(role=kind, statistic=test.statistic, p_value=test.p_value)


async def programme_retention(session: AsyncSession, *, programme_id: str | None,
                              window_months: int, as_of: date) -> ProgrammeRetention:
    """Retention of a programme's participants (all programmes' with None) and their controls.

    The rows are read here; matching and the survival fits, seconds of CPU for a large
    workforce, run in a worker thread, so the service's event loop (requests, consumer,
    relay) goes on meanwhile.
    """
    employments = await repository.employments(session)
    taken = [*await repository.participations(session), *await repository.history(session)]
    levels = await repository.levels(session)
    return await asyncio.to_thread(retention_report, employments, taken, levels,
                                   programme_id=programme_id, window_months=window_months,
                                   as_of=as_of)


def retention_report(employments: Sequence[Sequence[Any]], taken: Sequence[Sequence[Any]],
                     level_rows: Sequence[Sequence[Any]], *, programme_id: str | None,
                     window_months: int, as_of: date) -> ProgrammeRetention:
    """The retention report from the rows `programme_retention` reads (no database, no
    event loop): employments, participations (live and imported) and level observations."""
    employees = [retention.Employment(employee_id=row[0], job_level=row[1], department=row[2],
                                      hire_on=row[3], leave_on=row[4])
                 for row in employments]
    first_started: dict[str, date] = {}
    for row in taken:
        day = _day(row[3])
        first_started[row[1]] = min(first_started.get(row[1], day), day)
    scoped = [retention.Participation(employee_id=row[1], role=row[2], started_on=_day(row[3]))
              for row in taken if programme_id is None or row[0] == programme_id]
    levels: dict[str, list[tuple[date, int]]] = defaultdict(list)
    for employee_id, occurred_at, level in level_rows:
        levels[employee_id].append((_day(occurred_at), level))
    matched = retention.match(retention.first_participations(scoped), employees,
                              first_started=first_started, roles=ROLES, k=CONTROLS_PER_PARTICIPANT,
                              until=as_of, window_months=window_months,
                              level_on=retention.level_history(levels))
    names = {"mentor": (RetentionGroupName.MENTORS, RetentionGroupName.MENTOR_COMPARISON),
             "mentee": (RetentionGroupName.MENTEES, RetentionGroupName.MENTEE_COMPARISON)}
    return ProgrammeRetention(
        programme_id=programme_id, window_months=window_months, as_of=as_of,
        controls_per_participant=CONTROLS_PER_PARTICIPANT,
        matching=[RoleMatching(role=ParticipationRole(role),
                               participants=matched.participants[role].size,
                               unmatched=matched.unmatched[role],
                               excluded=matched.excluded[role]) for role in ROLES],
        groups=[_group(name, group, levels) for role in ROLES
                for name, group in zip(names[role], (matched.participants[role],
                                                     matched.controls[role]), strict=True)],
        comparisons=[_comparison(role, matched.participants[role], matched.controls[role])
                     for role in ROLES])


# --- programme health ---------------------------------------------------------------


async def programme_health(session: AsyncSession, *,
                           programme_ids: Sequence[str]) -> list[ProgrammeHealth]:
    """Each programme's health figures (zeros for one not heard of), in the order asked.

    One grouped query per figure over all the programmes, never one per programme.
    """
    health = {pid: ProgrammeHealth(programme_id=pid, funnel=[RoleFunnel(role=ParticipationRole(r))
                                                             for r in ROLES])
              for pid in programme_ids}
    for pid, role, status, count in await repository.funnel_counts(session, programme_ids):
        funnel = next(f for f in health[pid].funnel if f.role.value == role)
        funnel.enrolled += count
        if status == ACTIVE:
            funnel.active += count
        elif status == WITHDRAWN:
            funnel.withdrawn += count
    for pid, ended, reason, count in await repository.pair_counts(session, programme_ids):
        figures = health[pid]
        figures.pairs_formed += count
        if not ended:
            figures.pairs_active += count
        else:
            figures.pairs_ended.append(EndedPairs(reason=reason or "unknown", pairs=count))
    for pid, planned, held, cancelled, minutes in await repository.session_counts(
            session, programme_ids):
        figures = health[pid]
        figures.sessions_planned, figures.sessions_held = planned, held
        figures.sessions_cancelled = cancelled
        figures.attendance_rate = held / (held + cancelled) if held + cancelled else None
        figures.mentoring_hours = round(int(minutes) / 60, 2)
    for pid, month, count in await repository.opt_ins_by_month(session, programme_ids):
        health[pid].interest_trend.append(MonthCount(month=str(month), opt_ins=count))
    for figures in health.values():
        figures.pairs_ended.sort(key=lambda e: (-e.pairs, e.reason))
    return [health[pid] for pid in programme_ids]


# --- invitations ------------------------------------------------------------------------


async def on_participant_invited(session: AsyncSession, data: ParticipantInvited) -> None:
    """HR's invitation, one row per invitation id: a redelivery counts once.

    An invitation does not change once sent, so the first event's row stands; one
    arriving after its employee's erasure is kept without the employee id.
    """
    if await repository.get(session, Invitation, data.invitation_id) is not None:
        return
    erased = await repository.erased_employees(session, {data.employee_id})
    await repository.add(session, Invitation(
        invitation_id=data.invitation_id, programme_id=data.programme_id, role=data.role,
        employee_id=None if data.employee_id in erased else data.employee_id,
        invited_at=data.occurred_at, occurred_at=data.occurred_at))
