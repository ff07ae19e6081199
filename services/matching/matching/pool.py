"""A programme's eligible people as arrays for scoring, cached per programme revision."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
from sqlmodel.ext.asyncio.session import AsyncSession

from matching import repository, scoring
from matching.models import (
    OPEN_PAIR_STATUSES,
    Candidate,
    CandidateStatus,
    MatchingConfig,
    MatchingEmployee,
    MatchingProgramme,
    PoolStats,
)
from upward_common.problems import not_found


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
    # One definition of DEI topics: the programme's (enrolment's, from its events), unless
    # an admin set the programme's list; the default only while neither is known.
    extra: dict[str, Any] = {"ideal_level_gap": scoring.default_ideal_level_gap(
        programme.job_level_max)}
    if programme.dei_topics:
        extra["dei_topics"] = tuple(programme.dei_topics)
    if config is not None:
        extra = {
            "allow_shared_manager": config.allow_shared_manager,
            "max_time_zone_hours": config.max_time_zone_hours,
            "min_overlap_hours": config.min_overlap_hours,
            "ideal_level_gap": config.ideal_level_gap,
            "ideal_overlap_hours": config.ideal_overlap_hours,
            "dei_topics": (tuple(config.dei_topics) or tuple(programme.dei_topics or ())
                           or scoring.DEFAULT_DEI_TOPICS),
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


async def pool_stats(session: AsyncSession, *, programme_id: str,
                     cache: PoolCache | None = None) -> PoolStats:
    """What a run would work with: people, places and eligible pairs among the free ones."""
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
