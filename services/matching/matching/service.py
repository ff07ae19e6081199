"""Matching's rules: the pool from events, suggestions, constraint checks and pair lifecycles."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlmodel.ext.asyncio.session import AsyncSession

from matching import events, repository, scoring, solver
from matching.models import (
    OPEN_PAIR_STATUSES,
    Candidate,
    CandidateStatus,
    EndReason,
    FactorPoints,
    MatchingConfig,
    MatchingConfigPublic,
    MatchingConfigUpdate,
    MatchingEmployee,
    MatchingProgramme,
    MatchRun,
    MatchRunCreate,
    MatchRunPublic,
    Pair,
    PairCreate,
    PairPublic,
    PairStatus,
    PoolStats,
    SuggestionList,
)
from upward_common.auth import Principal, Role
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
    utcnow,
)
from upward_common.problems import Problem, conflict, invalid, not_found

# --- the pool, built from events ---------------------------------------------------


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
    row.given_name = snapshot.given_name
    row.job_level = snapshot.job_level
    row.department = snapshot.department
    row.manager_id = snapshot.manager_id
    row.manager_chain = list(snapshot.manager_chain)
    row.location = snapshot.location
    row.time_zone = snapshot.time_zone
    row.leave_on = snapshot.leave_on
    row.active = snapshot.active
    row.occurred_at = occurred_at
    await session.flush()
    return row, True


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
                             reason=EndReason.DEPARTURE, at=occurred_at)


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
                         reason=EndReason.WITHDRAWAL, at=occurred_at)
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
                             reason=EndReason.WITHDRAWAL, at=occurred_at)


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
                         reason=EndReason.WITHDRAWAL, at=occurred_at)


async def end_open_pairs(
    session: AsyncSession, *, participant_ids: Sequence[str], reason: EndReason, at: datetime
) -> list[Pair]:
    """End active pairs (pair-ended) and drop proposals of these participants."""
    ended: list[Pair] = []
    for pair in await repository.open_pairs_of_participants(session, participant_ids):
        was_active = pair.status == PairStatus.ACTIVE
        pair.status = PairStatus.ENDED
        pair.end_reason = reason.value
        pair.ended_at = max(at, pair.formed_at or pair.proposed_at)
        if was_active:
            events.pair_ended(session, pair)  # a proposal never formed, so nothing ended
        ended.append(pair)
    if ended:
        await repository.bump_revisions(session, {p.programme_id for p in ended})
        await session.flush()
    return ended


# Handlers of enrolment's events. Each is idempotent (the consumer's inbox drops a
# redelivered id) and order-tolerant: a row remembers the `occurred_at` (and survey
# version) it was built from, and an older event never overwrites a newer state.


async def on_programme_updated(session: AsyncSession, data: ProgrammeUpdated) -> None:
    await apply_programme(session, programme=data.programme, occurred_at=data.occurred_at)


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


# --- the pool as arrays, cached per programme revision -----------------------------


@dataclass
class PoolView:
    """A programme's eligible people as a scoring pool, with open-pair bookkeeping."""

    programme: MatchingProgramme
    config: MatchingConfig | None
    pool: scoring.Pool
    mentee_row: dict[str, int]
    mentor_row: dict[str, int]
    mentor_free: np.ndarray[Any, np.dtype[np.int64]]
    mentee_open: np.ndarray[Any, np.dtype[np.bool_]]


class PoolCache:
    """Pools keyed by programme revision, held by the app (never beyond its lifespan).

    Every change to a programme's people, rules, configuration or pairs bumps
    its revision, so a hit is always current; a suggestion then costs one
    small query and a vectorised scoring of the mentee's row.
    """

    def __init__(self, max_programmes: int = 16) -> None:
        self.max_programmes = max_programmes
        self._views: dict[str, tuple[tuple[int, date], PoolView]] = {}

    def get(self, programme_id: str, key: tuple[int, date]) -> PoolView | None:
        found = self._views.get(programme_id)
        return found[1] if found is not None and found[0] == key else None

    def put(self, programme_id: str, key: tuple[int, date], view: PoolView) -> None:
        if programme_id not in self._views and len(self._views) >= self.max_programmes:
            self._views.pop(next(iter(self._views)))
        self._views[programme_id] = (key, view)


def rules_for(programme: MatchingProgramme, config: MatchingConfig | None,
              reference: date | None = None) -> scoring.Rules:
    weights = dict(scoring.DEFAULT_WEIGHTS)
    if config is not None:
        weights.update(config.weights)
    extra: dict[str, Any] = {}
    if config is not None:
        extra = {
            "allow_shared_manager": config.allow_shared_manager,
            "max_time_zone_hours": config.max_time_zone_hours,
            "min_overlap_hours": config.min_overlap_hours,
            "ideal_level_gap": config.ideal_level_gap,
            "ideal_overlap_hours": config.ideal_overlap_hours,
            "dei_topics": tuple(config.dei_topics) or scoring.DEFAULT_DEI_TOPICS,
            "diversity_attribute": config.diversity_attribute,
            "diversity_values": tuple(config.diversity_values),
        }
    return scoring.Rules(
        min_level_gap=programme.min_level_gap, mutual=programme.mutual,
        meeting_format=programme.meeting_format,
        diversity_objective=programme.diversity_objective, weights=weights,
        reference_date=reference, **extra,
    )


def _person(candidate: Candidate, employee: MatchingEmployee | None) -> scoring.Person:
    return scoring.Person(
        participant_id=candidate.participant_id,
        employee_id=candidate.employee_id,
        given_name=employee.given_name if employee else None,
        job_level=employee.job_level if employee else None,
        department=employee.department if employee else None,
        manager_id=employee.manager_id if employee else None,
        manager_chain=tuple(employee.manager_chain) if employee else (),
        location=employee.location if employee else None,
        time_zone=candidate.time_zone or (employee.time_zone if employee else None),
        topics_teach=tuple((t["topic"], int(t["level"])) for t in candidate.topics_teach),
        topics_learn=tuple((t["topic"], int(t["level"])) for t in candidate.topics_learn),
        interests=tuple(candidate.interests),
        availability=tuple((int(w["weekday"]), str(w["start"]), str(w["end"]))
                           for w in candidate.availability),
        meeting_formats=tuple(candidate.meeting_formats),
        languages=tuple(candidate.languages),
        capacity=candidate.mentor_capacity,
        dei_opt_in=candidate.dei_opt_in,
        avoid_employee_ids=tuple(candidate.avoid_employee_ids),
        diversity=candidate.diversity,
    )


def individual_problem(
    candidate: Candidate, employee: MatchingEmployee | None, programme: MatchingProgramme,
    today: date,
) -> str | None:
    """The rule that keeps one person out of matching altogether, if any."""
    if candidate.status != CandidateStatus.ACTIVE or candidate.role not in ("mentor", "mentee"):
        return "withdrawn"
    if employee is None:
        return None
    if employee.erased:
        return "withdrawn"
    if not employee.active or (employee.leave_on is not None and employee.leave_on <= today):
        return "departed"
    level = employee.job_level
    if (candidate.role == "mentor" and programme.mentor_max_level is not None
            and level is not None and level > programme.mentor_max_level):
        return "mentor_max_level"
    if (candidate.role == "mentee" and programme.mentee_min_level is not None
            and level is not None and level < programme.mentee_min_level):
        return "mentee_min_level"
    return None


async def load_view(
    session: AsyncSession, programme_id: str, cache: PoolCache | None = None
) -> PoolView:
    """The programme's pool of eligible people (cached while its revision holds)."""
    programme = await repository.get_programme(session, programme_id)
    if programme is None:
        raise not_found("Programme", programme_id)
    today = datetime.now(UTC).date()
    key = (programme.revision, scoring.week_start(today))
    if cache is not None and (view := cache.get(programme_id, key)) is not None:
        return view
    config = await repository.get_config(session, programme_id)
    rows = await repository.candidates(session, programme_id)
    people = await repository.employees(session, [c.employee_id for c in rows])
    mentees: list[scoring.Person] = []
    mentors: list[scoring.Person] = []
    for candidate in rows:
        employee = people.get(candidate.employee_id)
        if individual_problem(candidate, employee, programme, today) is None:
            side = mentors if candidate.role == "mentor" else mentees
            side.append(_person(candidate, employee))
    history = await repository.programme_pair_keys(session, programme_id)
    rules = rules_for(programme, config, today)
    pool = await asyncio.to_thread(
        scoring.build_pool, mentees, mentors, rules,
        previous_pairs=[(a, b) for a, b, _ in history])
    mentee_row = {p.participant_id: i for i, p in enumerate(mentees)}
    mentor_row = {p.participant_id: j for j, p in enumerate(mentors)}
    free = pool.mentors.capacity.copy()
    mentee_open = np.zeros(len(mentees), dtype=np.bool_)
    for mentee_id, mentor_id, status in history:
        if status in OPEN_PAIR_STATUSES:
            if mentor_id in mentor_row:
                free[mentor_row[mentor_id]] -= 1
            if mentee_id in mentee_row:
                mentee_open[mentee_row[mentee_id]] = True
    view = PoolView(programme=programme, config=config, pool=pool, mentee_row=mentee_row,
                    mentor_row=mentor_row, mentor_free=np.maximum(free, 0),
                    mentee_open=mentee_open)
    if cache is not None:
        cache.put(programme_id, key, view)
    return view


# --- suggestions -----------------------------------------------------------------------


async def _candidate_or_404(session: AsyncSession, participant_id: str, *, field: str,
                            programme_id: str | None = None) -> Candidate:
    candidate = await repository.get_candidate(session, participant_id)
    if candidate is None or candidate.role not in ("mentor", "mentee") or (
            programme_id is not None and candidate.programme_id != programme_id):
        raise invalid(field, f"No participant {participant_id} in this programme")
    return candidate


async def suggestions(
    session: AsyncSession, *, user: Principal, programme_id: str, mentee_participant_id: str,
    limit: int, cache: PoolCache | None = None,
) -> SuggestionList:
    """Eligible mentors with free places for a mentee, best score first, each explained."""
    candidate = await repository.get_candidate(session, mentee_participant_id)
    if candidate is None or candidate.programme_id != programme_id:
        raise not_found("Mentee", mentee_participant_id)
    user.require_self_or_admin(candidate.employee_id)
    if candidate.role != "mentee":
        raise invalid("participant_id", "Suggestions are for mentees; this participant mentors")
    view = await load_view(session, programme_id, cache)
    row = view.mentee_row.get(mentee_participant_id)
    if row is None:
        employee = await repository.get_employee(session, candidate.employee_id)
        rule = individual_problem(candidate, employee, view.programme,
                                  datetime.now(UTC).date()) or "withdrawn"
        raise conflict(f"This mentee cannot be matched ({rule})", field="participant_id",
                       rule=rule)
    scored = scoring.score_mentee(view.pool, row)
    assert scored.points is not None
    totals, points = scored.total[0], scored.points[:, 0, :]
    open_mentors = scored.eligible[0] & (view.mentor_free > 0)
    cols = np.flatnonzero(open_mentors)
    # Best first; ties broken by participant id so the order is stable.
    ids = np.array([view.pool.mentors.people[j].participant_id for j in cols], dtype=object)
    order = np.lexsort((ids, -totals[cols])) if cols.size else cols
    chosen = cols[order[:limit]]
    show = user.has(Role.HR_ADMIN)
    return SuggestionList(
        programme_id=programme_id,
        mentee_participant_id=mentee_participant_id,
        suggestions=[
            {
                "mentor_participant_id": view.pool.mentors.people[j].participant_id,
                "mentor_employee_id": view.pool.mentors.people[j].employee_id,
                "score": int(totals[j]) / 100,
                "breakdown": scoring.explain(view.pool, row, int(j), points[:, j],
                                             show_sensitive=show),
            }
            for j in chosen
        ],
    )


# --- pairs -------------------------------------------------------------------------------


@dataclass
class Evaluation:
    score: float
    breakdown: list[dict[str, Any]]
    violations: list[str]


def _rule_problem(rule: str, detail: str, field: str, **extra: Any) -> Problem:
    return conflict(f"{detail} (rule: {rule})", field=field, rule=rule, **extra)


INDIVIDUAL_DETAILS = {
    "withdrawn": "has withdrawn from the programme",
    "departed": "has left the company",
    "mentor_max_level": "is above the programme's highest mentor level",
    "mentee_min_level": "is below the programme's lowest mentee level",
}


async def evaluate_pair(
    session: AsyncSession, *, programme_id: str, mentee_participant_id: str,
    mentor_participant_id: str, cache: PoolCache | None = None,
) -> tuple[PoolView, Candidate, Candidate, Evaluation]:
    """Check every hard constraint for one pair and score it; raises on an absolute rule."""
    mentee = await _candidate_or_404(session, mentee_participant_id,
                                     field="mentee_participant_id", programme_id=programme_id)
    mentor = await _candidate_or_404(session, mentor_participant_id,
                                     field="mentor_participant_id", programme_id=programme_id)
    if mentee.role != "mentee":
        raise invalid("mentee_participant_id", "This participant enrolled as a mentor")
    if mentor.role != "mentor":
        raise invalid("mentor_participant_id", "This participant enrolled as a mentee")
    view = await load_view(session, programme_id, cache)
    if view.programme.known and view.programme.status == "closed":
        raise conflict("The programme is closed", field="programme_id", rule="programme_closed")
    today = datetime.now(UTC).date()
    for candidate, field, label in ((mentee, "mentee_participant_id", "The mentee"),
                                    (mentor, "mentor_participant_id", "The mentor")):
        rows = view.mentee_row if candidate is mentee else view.mentor_row
        if candidate.participant_id not in rows:
            employee = await repository.get_employee(session, candidate.employee_id)
            rule = individual_problem(candidate, employee, view.programme, today) or "withdrawn"
            raise _rule_problem(rule, f"{label} {INDIVIDUAL_DETAILS[rule]}", field)
    i, j = view.mentee_row[mentee.participant_id], view.mentor_row[mentor.participant_id]
    if view.mentee_open[i]:
        raise _rule_problem("mentee_already_paired",
                            "The mentee already has a proposed or active pair",
                            "mentee_participant_id")
    if view.mentor_free[j] <= 0:
        raise _rule_problem("mentor_capacity", "The mentor has no free place left",
                            "mentor_participant_id")
    scored = scoring.score_block(view.pool, np.array([i]), np.array([j]), with_points=True)
    assert scored.points is not None
    broken = scoring.rule_list(int(scored.violations[0, 0]))
    absolute = [r for r in broken if not r & scoring.OVERRIDABLE]
    if absolute:
        first = absolute[0]
        raise _rule_problem(scoring.RULE_NAMES[first], scoring.RULE_DETAILS[first],
                            "mentor_participant_id",
                            rules=[scoring.RULE_NAMES[r] for r in broken])
    evaluation = Evaluation(
        score=int(scored.total[0, 0]) / 100,
        breakdown=scoring.explain(view.pool, i, j, scored.points[:, 0, 0]),
        violations=[scoring.RULE_NAMES[r] for r in broken],
    )
    return view, mentee, mentor, evaluation


def _new_pair(*, programme_id: str, mentee: Candidate, mentor: Candidate,
              evaluation: Evaluation, status: PairStatus, origin: str,
              at: datetime, run_id: str | None = None) -> Pair:
    return Pair(
        programme_id=programme_id,
        mentor_participant_id=mentor.participant_id,
        mentee_participant_id=mentee.participant_id,
        mentor_employee_id=mentor.employee_id,
        mentee_employee_id=mentee.employee_id,
        status=status,
        origin=origin,
        score=evaluation.score,
        breakdown=evaluation.breakdown,
        run_id=run_id,
        proposed_at=at,
        formed_at=at if status == PairStatus.ACTIVE else None,
    )


async def create_pair(
    session: AsyncSession, *, user: Principal, data: PairCreate, cache: PoolCache | None = None,
) -> Pair:
    """An admin forms an active pair; bending a programme limit needs a recorded reason."""
    user.require(Role.HR_ADMIN, Role.PROGRAMME_MANAGER)
    await repository.lock_programme(session, data.programme_id)
    _, mentee, mentor, evaluation = await evaluate_pair(
        session, programme_id=data.programme_id, mentee_participant_id=data.mentee_participant_id,
        mentor_participant_id=data.mentor_participant_id, cache=cache)
    reason = (data.override_reason or "").strip()
    if evaluation.violations and not reason:
        rule = evaluation.violations[0]
        detail = scoring.RULE_DETAILS[next(r for r, n in scoring.RULE_NAMES.items() if n == rule)]
        raise _rule_problem(rule, f"{detail}; an admin may override it with an override_reason",
                            "override_reason", rules=evaluation.violations)
    now = utcnow()
    pair = _new_pair(programme_id=data.programme_id, mentee=mentee, mentor=mentor,
                     evaluation=evaluation, status=PairStatus.ACTIVE, origin="manual", at=now)
    if reason:
        pair.override_reason = reason
        pair.overridden_rules = evaluation.violations
    await repository.add(session, pair)
    await repository.bump_revisions(session, [data.programme_id])
    events.pair_formed(session, pair)
    return pair


async def pick_mentor(
    session: AsyncSession, *, user: Principal, programme_id: str, mentee_participant_id: str,
    mentor_participant_id: str, cache: PoolCache | None = None,
) -> Pair:
    """A mentee picks a mentor from their shortlist: a proposal the mentor accepts or declines."""
    mentee = await repository.get_candidate(session, mentee_participant_id)
    if mentee is None or mentee.programme_id != programme_id:
        raise not_found("Mentee", mentee_participant_id)
    user.require_self_or_admin(mentee.employee_id)
    await repository.lock_programme(session, programme_id)
    _, mentee, mentor, evaluation = await evaluate_pair(
        session, programme_id=programme_id, mentee_participant_id=mentee_participant_id,
        mentor_participant_id=mentor_participant_id, cache=cache)
    if evaluation.violations:
        rule = evaluation.violations[0]
        raise _rule_problem(rule, "This mentor breaks a programme limit; ask an admin",
                            "mentor_participant_id", rules=evaluation.violations)
    pair = _new_pair(programme_id=programme_id, mentee=mentee, mentor=mentor,
                     evaluation=evaluation, status=PairStatus.PROPOSED, origin="shortlist",
                     at=utcnow())
    await repository.add(session, pair)
    await repository.bump_revisions(session, [programme_id])
    return pair


async def _pair_for(session: AsyncSession, user: Principal, pair_id: str) -> Pair:
    pair = await repository.get_pair(session, pair_id)
    if pair is None:
        raise not_found("Pair", pair_id)
    if not user.is_admin and user.employee_id not in (pair.mentor_employee_id,
                                                      pair.mentee_employee_id):
        raise not_found("Pair", pair_id)  # someone else's pair does not exist for them
    return pair


async def get_pair(session: AsyncSession, *, user: Principal, pair_id: str) -> Pair:
    """One pair, for its two members or an admin."""
    return await _pair_for(session, user, pair_id)


async def list_pairs(
    session: AsyncSession, *, user: Principal, programme_id: str | None,
    participant_id: str | None, status: str | None = None,
) -> Sequence[Pair]:
    """Admins see every pair; a participant only the pairs they are in."""
    employee_id = None if user.is_admin else user.employee_id
    if not user.is_admin and employee_id is None:
        return []
    return await repository.list_pairs(session, programme_id=programme_id,
                                       participant_id=participant_id, employee_id=employee_id,
                                       status=status)


async def respond(session: AsyncSession, *, user: Principal, pair_id: str, accept: bool,
                  note: str | None = None) -> Pair:
    """The mentor (or an admin) accepts a proposal, forming the pair, or declines it."""
    pair = await _pair_for(session, user, pair_id)
    if not user.is_admin and user.employee_id != pair.mentor_employee_id:
        raise Problem(403, "Only the proposed mentor can answer a proposal", kind="forbidden")
    if pair.status != PairStatus.PROPOSED:
        raise conflict(f"The pair is {pair.status}, not proposed", field="status")
    now = utcnow()
    if accept:
        pair.status = PairStatus.ACTIVE
        pair.formed_at = now
        events.pair_formed(session, pair)
    else:
        pair.status = PairStatus.DECLINED
        pair.ended_at = now
        pair.end_note = note
    await repository.bump_revisions(session, [pair.programme_id])
    await session.flush()
    return pair


async def end_pair(session: AsyncSession, *, user: Principal, pair_id: str, reason: EndReason,
                   note: str | None = None) -> Pair:
    """End an active pair; members may end it for poor fit, admins for any reason."""
    pair = await _pair_for(session, user, pair_id)
    if not user.is_admin and reason != EndReason.POOR_FIT:
        raise invalid("reason", "A participant can end their pair only as poor_fit")
    if pair.status != PairStatus.ACTIVE:
        raise conflict(f"The pair is {pair.status}, not active", field="status")
    pair.status = PairStatus.COMPLETED if reason == EndReason.COMPLETED else PairStatus.ENDED
    pair.end_reason = reason.value
    pair.end_note = note
    pair.ended_at = utcnow()
    events.pair_ended(session, pair)
    await repository.bump_revisions(session, [pair.programme_id])
    await session.flush()
    return pair


# --- pool statistics and configuration ------------------------------------------------


async def pool_stats(session: AsyncSession, *, user: Principal, programme_id: str,
                     cache: PoolCache | None = None) -> PoolStats:
    """What a run would work with: people, places and eligible pairs among the free ones."""
    user.require(Role.HR_ADMIN, Role.PROGRAMME_MANAGER)
    view = await load_view(session, programme_id, cache)
    free_mentees = np.flatnonzero(~view.mentee_open)
    free_mentors = np.flatnonzero(view.mentor_free > 0)
    eligible = await asyncio.to_thread(scoring.count_eligible, view.pool,
                                       mentee_rows=free_mentees, mentor_rows=free_mentors)
    return PoolStats(
        programme_id=programme_id,
        mentors=len(view.pool.mentors),
        mentees=len(view.pool.mentees),
        total_capacity=int(view.pool.mentors.capacity.sum()),
        free_capacity=int(view.mentor_free.sum()),
        unpaired_mentees=int(free_mentees.size),
        eligible_pairs=eligible,
    )


def _config_public(programme: MatchingProgramme, config: MatchingConfig | None
                   ) -> MatchingConfigPublic:
    rules = rules_for(programme, config)
    return MatchingConfigPublic(
        programme_id=programme.id,
        weights={k: float(v) for k, v in rules.weights.items()},
        allow_shared_manager=rules.allow_shared_manager,
        max_time_zone_hours=rules.max_time_zone_hours,
        min_overlap_hours=rules.min_overlap_hours,
        ideal_level_gap=rules.ideal_level_gap,
        ideal_overlap_hours=rules.ideal_overlap_hours,
        dei_topics=list(rules.dei_topics),
        diversity_attribute=rules.diversity_attribute,
        diversity_values=list(rules.diversity_values),
        diversity_applies=programme.diversity_objective,
    )


async def get_config(session: AsyncSession, *, user: Principal, programme_id: str
                     ) -> MatchingConfigPublic:
    """A programme's scoring weights and limits (defaults until an admin sets them)."""
    user.require(Role.HR_ADMIN, Role.PROGRAMME_MANAGER)
    programme = await repository.get_programme(session, programme_id)
    if programme is None:
        raise not_found("Programme", programme_id)
    return _config_public(programme, await repository.get_config(session, programme_id))


async def put_config(session: AsyncSession, *, user: Principal, programme_id: str,
                     data: MatchingConfigUpdate) -> MatchingConfigPublic:
    """Replace a programme's weights and limits; weights not given keep their defaults."""
    user.require(Role.HR_ADMIN, Role.PROGRAMME_MANAGER)
    programme = await repository.get_programme(session, programme_id)
    if programme is None:
        raise not_found("Programme", programme_id)
    # Each weight is finite and within 0..WEIGHT_MAX (the model refuses the rest).
    weights = {k: float(v) for k, v in data.weights.items()}
    merged = {**scoring.DEFAULT_WEIGHTS, **weights}
    if not programme.diversity_objective:
        merged["diversity"] = 0.0
    if sum(merged.values()) <= 0:
        raise invalid("weights", "At least one factor needs a positive weight")
    config = await repository.get_config(session, programme_id)
    if config is None:
        config = MatchingConfig(programme_id=programme_id, updated_at=utcnow())
        session.add(config)
    config.weights = weights
    config.allow_shared_manager = data.allow_shared_manager
    config.max_time_zone_hours = data.max_time_zone_hours
    config.min_overlap_hours = data.min_overlap_hours
    config.ideal_level_gap = data.ideal_level_gap
    config.ideal_overlap_hours = data.ideal_overlap_hours
    config.dei_topics = list(data.dei_topics)
    config.diversity_attribute = data.diversity_attribute
    config.diversity_values = list(data.diversity_values)
    config.updated_at = utcnow()
    programme.revision += 1
    await session.flush()
    return _config_public(programme, config)


# --- whole-cohort runs ----------------------------------------------------------------


def _explained(pool: scoring.Pool, rows: NDArray[np.intp], cols: NDArray[np.intp]
               ) -> tuple[NDArray[np.int64], NDArray[np.int32], list[list[dict[str, Any]]]]:
    """Totals, broken rules and breakdowns of the pairs (rows[k], cols[k]).

    A run has up to one pair per mentee: this is CPU work, so callers run it in a
    thread rather than on the event loop.
    """
    totals, broken, points = scoring.pair_scores(pool, rows, cols)
    return totals, broken, [scoring.explain(pool, i, j, points[:, k]) for k, (i, j) in
                            enumerate(zip(rows.tolist(), cols.tolist(), strict=True))]


# A run's answer carries its lists a page at a time (a 100,000-mentee run has 100,000
# explained pairs, about 70 MB): RUN_PAGE entries unless asked, RUN_PAGE_MAX at most.
RUN_PAGE = 1_000
RUN_PAGE_MAX = 10_000
ALL = slice(None)


def _run_public(run: MatchRun, user: Principal, pair_ids: Sequence[str] = (),
                page: slice = ALL) -> MatchRunPublic:
    pairs = run.pairs[page] if user.has(Role.HR_ADMIN) else [
        {**p, "breakdown": scoring.redact(p.get("breakdown", []))} for p in run.pairs[page]]
    return MatchRunPublic.model_validate({
        **run.model_dump(exclude={"pairs", "unmatched_mentees"}), "pairs": pairs,
        "unmatched_mentees": run.unmatched_mentees[page], "pair_ids": list(pair_ids)[page],
        "offset": page.start or 0, "formed": int(run.stats.get("published_pairs", 0)),
    })


def pair_public(pair: Pair, user: Principal) -> PairPublic:
    """A pair as `user` may read it: the diversity factor named generically unless HR admin."""
    public = PairPublic.model_validate(pair, from_attributes=True)
    if not user.has(Role.HR_ADMIN):
        public.breakdown = [FactorPoints.model_validate(item) for item in
                            scoring.redact([f.model_dump() for f in public.breakdown])]
    return public


async def create_run(
    session: AsyncSession, *, user: Principal, programme_id: str, data: MatchRunCreate,
    cache: PoolCache | None = None, candidates_per_mentee: int = 16, page: slice = ALL,
) -> MatchRunPublic:
    """Match every unpaired mentee optimally for the objective; publish unless a dry run."""
    user.require(Role.HR_ADMIN, Role.PROGRAMME_MANAGER)
    view = await load_view(session, programme_id, cache)
    if view.programme.known and view.programme.status == "closed":
        raise conflict("The programme is closed", field="programme_id", rule="programme_closed")
    rows = np.flatnonzero(~view.mentee_open).astype(np.intp)
    found = await asyncio.to_thread(
        solver.solve, view.pool, view.mentor_free, data.objective, mentee_rows=rows,
        candidates_per_mentee=candidates_per_mentee)
    mentees, mentors = view.pool.mentees.people, view.pool.mentors.people
    _, _, breakdowns = await asyncio.to_thread(_explained, view.pool, found.mentees,
                                               found.mentors)
    run = MatchRun(
        programme_id=programme_id, objective=data.objective, dry_run=data.dry_run,
        status="draft", total_score=found.total / 100, matched=found.matched,
        unmatched=int(found.unmatched.size), optimal=found.optimal,
        pairs=[{"mentee_participant_id": mentees[i].participant_id,
                "mentor_participant_id": mentors[j].participant_id, "score": int(w) / 100,
                "breakdown": breakdown}
               for i, j, w, breakdown in zip(found.mentees.tolist(), found.mentors.tolist(),
                                             found.scores.tolist(), breakdowns, strict=True)],
        unmatched_mentees=[{"mentee_participant_id": mentees[i].participant_id, "reason": why}
                           for i, why in zip(found.unmatched.tolist(), found.unmatched_reason,
                                             strict=True)],
        stats=found.stats, created_at=utcnow(),
    )
    await repository.add(session, run)
    if data.dry_run:
        return _run_public(run, user, page=page)
    return await _publish(session, run, cache, user, page)


async def get_run(session: AsyncSession, *, user: Principal, run_id: str,
                  page: slice = ALL) -> MatchRunPublic:
    """One run with its pairs and the reason each unmatched mentee was left out (admins)."""
    user.require(Role.HR_ADMIN, Role.PROGRAMME_MANAGER)
    run = await repository.get_run(session, run_id)
    if run is None:
        raise not_found("Match run", run_id)
    pairs = await repository.list_pairs(session, run_id=run_id)
    return _run_public(run, user, [p.id for p in pairs], page)


async def list_runs(session: AsyncSession, *, user: Principal, programme_id: str,
                    page: slice = ALL) -> list[MatchRunPublic]:
    """A programme's runs, newest first (admins)."""
    user.require(Role.HR_ADMIN, Role.PROGRAMME_MANAGER)
    return [_run_public(run, user, page=page)
            for run in await repository.list_runs(session, programme_id)]


async def publish_run(session: AsyncSession, *, user: Principal, run_id: str,
                      cache: PoolCache | None = None, page: slice = ALL) -> MatchRunPublic:
    """Form the pairs of a reviewed dry run (pair-formed for each)."""
    user.require(Role.HR_ADMIN, Role.PROGRAMME_MANAGER)
    run = await repository.get_run(session, run_id)
    if run is None:
        raise not_found("Match run", run_id)
    if run.status != "draft":
        raise conflict(f"The run is {run.status}", field="status")
    return await _publish(session, run, cache, user, page)


async def _publish(session: AsyncSession, run: MatchRun, cache: PoolCache | None,
                   user: Principal, page: slice = ALL) -> MatchRunPublic:
    # The pool may have moved since the dry run: every pair is checked again, now.
    await repository.lock_programme(session, run.programme_id)
    view = await load_view(session, run.programme_id, cache)
    free = view.mentor_free.copy()
    taken = view.mentee_open.copy()
    plan = [(view.mentee_row.get(p["mentee_participant_id"]),
             view.mentor_row.get(p["mentor_participant_id"])) for p in run.pairs]
    usable = [(i, j) for i, j in plan if i is not None and j is not None]
    rows = np.array([i for i, _ in usable], dtype=np.intp)
    cols = np.array([j for _, j in usable], dtype=np.intp)
    skipped = len(plan) - len(usable)
    now = utcnow()
    created: list[Pair] = []
    candidates = {c.participant_id: c for c in await repository.candidates(session,
                                                                            run.programme_id)}
    totals, broken, breakdowns = await asyncio.to_thread(_explained, view.pool, rows, cols)
    for k, (i, j) in enumerate(zip(rows.tolist(), cols.tolist(), strict=True)):
        if broken[k] or taken[i] or free[j] <= 0:
            skipped += 1
            continue
        taken[i] = True
        free[j] -= 1
        mentee = candidates[view.pool.mentees.people[i].participant_id]
        mentor = candidates[view.pool.mentors.people[j].participant_id]
        evaluation = Evaluation(score=int(totals[k]) / 100,
                                breakdown=breakdowns[k], violations=[])
        pair = _new_pair(programme_id=run.programme_id, mentee=mentee, mentor=mentor,
                         evaluation=evaluation, status=PairStatus.ACTIVE, origin="run",
                         at=now, run_id=run.id)
        session.add(pair)
        created.append(pair)
    await session.flush()
    for pair in created:
        events.pair_formed(session, pair)
    run.status = "published"
    run.published_at = now
    run.stats = {**run.stats, "published_pairs": len(created), "skipped_at_publish": skipped}
    await repository.bump_revisions(session, [run.programme_id])
    await session.flush()
    return _run_public(run, user, sorted(p.id for p in created), page)
