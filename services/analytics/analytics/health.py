"""Programme health in depth: one report per programme (or across programmes), period,
department and level band, and every dashboard as CSV.

Everything is read from the read models the events built; the only time that enters is
the period a query asks for (`start`..`end`, UTC days, both included). Figures are head
counts for admins, except the participants' diversity, which is published only for
programmes that opted in to a diversity objective and only in cells of 5 or more people,
with the pulse surveys' complementary suppression (`surveys.suppressed_cells`).

A cut by department or level band takes a participant by their employee's department and
job level band (`surveys.level_band`: 1-3, 4-6, 7+, unknown); a pair (and its sessions,
logs and goals) is in the cut when either member is.
"""

from __future__ import annotations

import csv
import io
import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import delete
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from analytics import surveys
from analytics.models import (
    Employee,
    EndedPairs,
    Goal,
    Invitation,
    MentoringSession,
    MonthCount,
    Pair,
    Participant,
    ParticipationRole,
    Programme,
    ProgrammeRetention,
    PulseSurveyResults,
    SessionLog,
    ValueCount,
    WorkforceBaseline,
    WorkforceBaselineList,
    WorkforceBaselinePublic,
    WorkforceBaselineSet,
    WorkforceValueCount,
)
from upward_common.problems import not_found

ROLES = ("mentor", "mentee")
# The most frequent topics a report lists.
TOPICS_MAX = 100
# The CSV header every export shares (a long format: one figure a row).
CSV_HEADER = ("section", "group", "item", "value", "lower", "upper")


@dataclass(frozen=True)
class Cut:
    """Which part of the figures a report covers; None means all."""

    programme_id: str | None = None
    start: date | None = None
    end: date | None = None
    department: str | None = None
    level_band: str | None = None

    def in_period(self, moment: datetime | None) -> bool:
        if moment is None:
            return False
        day = moment.date()
        return (self.start is None or day >= self.start) and (self.end is None or day <= self.end)

    def by_end(self, moment: datetime | None) -> bool:
        """Happened by the period's end (always, without one)."""
        return moment is not None and (self.end is None or moment.date() <= self.end)


# --- report shapes -------------------------------------------------------------------


class FunnelStep(BaseModel):
    """Of a role's participants who opted in (in the period): how far they got, now.

    `invited` counts the people HR invited to the role (in the period, by when they
    were invited): one per programme and employee, however often invited."""

    role: ParticipationRole
    invited: int = 0
    opted_in: int = 0
    profiled: int = 0
    matched: int = 0
    active: int = 0
    completed: int = 0
    withdrawn: int = 0


class TimeToMatch(BaseModel):
    """Days from a participant's opt-in to the formation of their pair (pairs formed in
    the period); null without any."""

    role: ParticipationRole
    matched: int = 0
    median_days: float | None = None
    p90_days: float | None = None


class PairFigures(BaseModel):
    formed: int = 0
    # Formed by the period's end and not ended by then; of them, flagged at risk.
    active: int = 0
    at_risk: int = 0
    ended: list[EndedPairs] = []


class SessionFigures(BaseModel):
    planned: int = 0
    held: int = 0
    cancelled: int = 0
    attendance_rate: float | None = None
    mentoring_hours: float = 0.0


class RatingFigures(BaseModel):
    """Members' session ratings (1-5) and fit reports, and matching's score of the pairs."""

    rated: int = 0
    mean: float | None = None
    distribution: list[ValueCount] = []
    fit_good: int = 0
    fit_poor: int = 0
    matching_score_mean: float | None = None


class TopicCount(BaseModel):
    topic: str
    sessions: int


class GoalFigures(BaseModel):
    set: int = 0
    active: int = 0
    achieved: int = 0
    missed: int = 0
    progress_mean: float | None = None


class Leadership(BaseModel):
    """Senior leaders (job level `senior_min_level` or above, employed) and how many of
    them take part (an active participation that opted in by the period's end)."""

    senior_min_level: int
    senior_employees: int = 0
    taking_part: int = 0
    share: float | None = None


class DiversityCell(BaseModel):
    """Participants with a diversity attribute's value (null value or role: all);
    `people` is null when the cell is suppressed.

    `share` is `people` over the role's participants with the attribute, when both are
    published. The workforce figures come from the attribute's baseline HR entered
    (organisation-wide, so only in a report cut by neither department nor level band),
    suppressed by the same rule: `workforce_people` of the value (of everybody counted,
    for a null value) and its share of everybody counted.
    """

    attribute: str
    role: str | None
    value: str | None
    suppressed: bool
    people: int | None
    share: float | None = None
    workforce_people: int | None = None
    workforce_share: float | None = None
    workforce_as_of: date | None = None


@dataclass(frozen=True)
class Baseline:
    """An attribute's workforce head counts, per value, counted on `as_of`."""

    as_of: date
    people: dict[str, int]

    def published(self) -> dict[str | None, int | None]:
        """The head counts a report may show: per value (None: everybody counted), None
        where the count is suppressed as a participants' cell would be."""
        # The lattice `surveys.cell_counts` builds, with one role and one band ("-"), so
        # the surveys' suppression runs on it unchanged.
        people: dict[str | None, int] = {None: sum(self.people.values())}
        people.update(self.people)
        counts: dict[surveys.Cell, int] = {(side, value, band): n for value, n in people.items()
                                           for side in (None, "-") for band in (None, "-")}
        hidden = surveys.suppressed_cells(counts)
        return {value: None if (None, value, None) in hidden else n
                for value, n in people.items()}


class HealthReport(BaseModel):
    programme_id: str | None
    start: date | None
    end: date | None
    department: str | None
    level_band: str | None
    funnel: list[FunnelStep]
    time_to_match: list[TimeToMatch]
    pairs: PairFigures
    sessions: SessionFigures
    ratings: RatingFigures
    topics: list[TopicCount]
    goals: GoalFigures
    interest_trend: list[MonthCount]
    leadership: Leadership
    # Whether any programme covered opted in to a diversity objective.
    diversity_objective: bool
    min_group: int = surveys.MIN_GROUP
    diversity: list[DiversityCell]


# --- figures --------------------------------------------------------------------------


def percentile(values: Sequence[float], share: float) -> float | None:
    """The nearest-rank percentile (the smallest value at least `share` of them reach)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(share * len(ordered)), 1) - 1]


def _mean(values: Sequence[float], digits: int) -> float | None:
    return round(statistics.fmean(values), digits) if values else None


def _in_programme(query: Any, column: Any, cut: Cut) -> Any:
    return query if cut.programme_id is None else query.where(column == cut.programme_id)


def _select(*columns: Any) -> Any:
    """A SELECT of many columns (more than sqlmodel's typed overloads take)."""
    return select(*columns)


async def _rows(session: AsyncSession, query: Any) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in (await session.exec(query)).all()]


def _share(part: int | None, whole: int | None) -> float | None:
    return round(part / whole, 3) if part is not None and whole else None


def diversity_cells(participants: Iterable[tuple[str, dict[str, str]]],
                    baselines: Mapping[str, Baseline] | None = None) -> list[DiversityCell]:
    """Per attribute, every (role, value) cell, suppressed as the pulse surveys are, beside
    the workforce's figures where the attribute has a baseline.

    With a baseline, a value of it that no participant has is a cell of 0 people: the
    gap a diversity objective is about (a count of nobody gives nobody away).
    """
    baselines = baselines or {}
    by_attribute: dict[str, list[surveys.Profile]] = defaultdict(list)
    for role, attributes in participants:
        for attribute, given in attributes.items():
            by_attribute[attribute].append((role, given, "-"))
    cells: list[DiversityCell] = []
    for attribute in sorted(by_attribute):
        counts = surveys.cell_counts(by_attribute[attribute])
        hidden = surveys.suppressed_cells(counts)
        baseline = baselines.get(attribute)
        workforce = baseline.published() if baseline is not None else {}
        if baseline is not None:
            for side in {cell[0] for cell in counts}:
                for named in baseline.people:
                    counts.setdefault((side, named, None), 0)
        shown = {cell: None if cell in hidden else n for cell, n in counts.items()}
        for (cell_role, value, band), people in sorted(
                counts.items(), key=lambda item: tuple(str(v) for v in item[0])):
            if band is not None or not (people or baseline is not None):
                continue
            published = shown[cell_role, value, band]
            cells.append(DiversityCell(
                attribute=attribute, role=cell_role, value=value,
                suppressed=published is None, people=published,
                share=None if value is None else _share(
                    published, shown.get((cell_role, None, None))),
                workforce_people=workforce.get(value),
                workforce_share=None if value is None else _share(
                    workforce.get(value), workforce.get(None)),
                workforce_as_of=baseline.as_of if baseline is not None else None))
    return cells


async def _invited(session: AsyncSession, cut: Cut,
                   in_cut: Callable[[str | None, int | None], bool]) -> Counter[str]:
    """People invited per role in the cut: invited in the period, their employee in the
    department and level band; one per programme and employee (an erased employee's
    invitations, without the id, count one each)."""
    i, e = Invitation, Employee
    query = _in_programme(_select(
        col(i.invitation_id), col(i.programme_id), col(i.role), col(i.employee_id),
        col(i.invited_at), col(e.department), col(e.job_level)).outerjoin(
        e, col(e.id) == col(i.employee_id)), col(i.programme_id), cut)
    people: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for invitation_id, programme_id, role, employee_id, invited_at, department, level in (
            await _rows(session, query)):
        if role in ROLES and cut.in_period(invited_at) and in_cut(department, level):
            people[role].add((programme_id, employee_id or f"invitation:{invitation_id}"))
    return Counter({role: len(invited) for role, invited in people.items()})


async def health_report(session: AsyncSession, cut: Cut, *,
                        senior_min_level: int) -> HealthReport:
    """The whole report for one cut: a handful of queries, the figures in Python."""
    p, e = Participant, Employee
    query = _select(col(p.id), col(p.programme_id), col(p.role), col(p.status),
                   col(p.enrolled_at), col(p.profiled), col(p.diversity), col(p.employee_id),
                   col(e.department), col(e.job_level)).outerjoin(
        e, col(e.id) == col(p.employee_id)).where(col(p.role).is_not(None))
    people = await _rows(session, _in_programme(query, col(p.programme_id), cut))

    def in_cut(department: str | None, level: int | None) -> bool:
        return ((cut.department is None or (department or surveys.UNKNOWN) == cut.department)
                and (cut.level_band is None or surveys.level_band(level) == cut.level_band))

    everyone = {row[0]: row for row in people}
    chosen = {row[0] for row in people if in_cut(row[8], row[9])}
    pair_query = _in_programme(_select(
        col(Pair.id), col(Pair.formed_at), col(Pair.ended_at), col(Pair.ended_reason),
        col(Pair.at_risk_at), col(Pair.mentor_participant_id), col(Pair.mentee_participant_id),
        col(Pair.score)).where(col(Pair.formed_at).is_not(None)), col(Pair.programme_id), cut)
    cutting = cut.department is not None or cut.level_band is not None
    pairs = [row for row in await _rows(session, pair_query)
             if not cutting or row[5] in chosen or row[6] in chosen]
    pair_ids = {row[0] for row in pairs}

    # The funnel: who opted in (in the period), and how far they got.
    matched_ids = {pid for row in pairs for pid in (row[5], row[6]) if pid}
    completed_ids = {pid for row in pairs if row[2] is not None and row[3] == "completed"
                     for pid in (row[5], row[6]) if pid}
    periodic = cut.start is not None or cut.end is not None
    cohort = [everyone[pid] for pid in sorted(chosen)
              if not periodic or cut.in_period(everyone[pid][4])]
    funnel = {role: FunnelStep(role=ParticipationRole(role)) for role in ROLES}
    for role, count in (await _invited(session, cut, in_cut)).items():
        funnel[role].invited = count
    for pid, _, role, status, _, profiled, _, _, _, _ in cohort:
        step = funnel[role]
        step.opted_in += 1
        step.profiled += bool(profiled)
        step.matched += pid in matched_ids
        step.active += status == "active"
        step.completed += pid in completed_ids
        step.withdrawn += status == "withdrawn"

    # Time to match, pairs.
    waits: dict[str, list[float]] = {role: [] for role in ROLES}
    figures = PairFigures()
    ended: Counter[str] = Counter()
    scores: list[float] = []
    for _, formed_at, ended_at, reason, at_risk_at, mentor, mentee, score in pairs:
        if cut.in_period(formed_at) or not periodic:
            figures.formed += 1
            if score is not None:
                scores.append(float(score))
            for role, pid in (("mentor", mentor), ("mentee", mentee)):
                person = everyone.get(pid or "")
                if person is not None and person[4] is not None and pid in chosen:
                    waits[role].append(max((formed_at - person[4]).total_seconds(), 0) / 86400)
        if cut.by_end(formed_at) and not cut.by_end(ended_at):
            figures.active += 1
            figures.at_risk += cut.by_end(at_risk_at)
        if ended_at is not None and (cut.in_period(ended_at) or not periodic):
            ended[reason or "unknown"] += 1
    figures.ended = [EndedPairs(reason=reason, pairs=n)
                     for reason, n in sorted(ended.items(), key=lambda i: (-i[1], i[0]))]
    time_to_match = [TimeToMatch(role=ParticipationRole(role), matched=len(waits[role]),
                                 median_days=None if not waits[role] else round(
                                     statistics.median(waits[role]), 2),
                                 p90_days=None if not waits[role] else round(
                                     percentile(waits[role], 0.9) or 0.0, 2))
                     for role in ROLES]

    def when(moment: datetime | None) -> bool:
        return cut.in_period(moment) if periodic else moment is not None

    # Sessions.
    s = MentoringSession
    session_query = _in_programme(_select(
        col(s.pair_id), col(s.scheduled_at), col(s.starts_at), col(s.held_at),
        col(s.cancelled_at), col(s.duration_minutes)), col(s.programme_id), cut)
    sessions = SessionFigures()
    minutes = 0
    for pair_id, scheduled_at, starts_at, held_at, cancelled_at, duration in await _rows(
            session, session_query):
        if cutting and pair_id not in pair_ids:
            continue
        if scheduled_at is not None and cancelled_at is None and when(starts_at or scheduled_at):
            sessions.planned += 1
        if when(held_at):
            sessions.held += 1
            minutes += duration or 0
        sessions.cancelled += when(cancelled_at)
    held_or_cancelled = sessions.held + sessions.cancelled
    sessions.attendance_rate = (round(sessions.held / held_or_cancelled, 3)
                                if held_or_cancelled else None)
    sessions.mentoring_hours = round(minutes / 60, 2)

    # Ratings, fit, topics.
    log_query = _in_programme(_select(col(SessionLog.pair_id), col(SessionLog.rating),
                                     col(SessionLog.fit), col(SessionLog.topics),
                                     col(SessionLog.occurred_at)),
                              col(SessionLog.programme_id), cut)
    ratings: list[int] = []
    fits: Counter[str] = Counter()
    topics: Counter[str] = Counter()
    for pair_id, rating, fit, logged_topics, occurred_at in await _rows(session, log_query):
        if (cutting and pair_id not in pair_ids) or not when(occurred_at):
            continue
        if rating is not None:
            ratings.append(int(rating))
        if fit is not None:
            fits[fit] += 1
        topics.update(set(logged_topics or []))
    distribution = Counter(ratings)
    rating_figures = RatingFigures(
        rated=len(ratings), mean=_mean(ratings, 2),
        distribution=[ValueCount(value=str(v), count=distribution[v]) for v in range(1, 6)],
        fit_good=fits["good"], fit_poor=fits["poor"], matching_score_mean=_mean(scores, 3))
    topic_counts = [TopicCount(topic=topic, sessions=n) for topic, n in sorted(
        topics.items(), key=lambda item: (-item[1], item[0]))[:TOPICS_MAX]]

    # Goals (by their latest update).
    goal_query = _in_programme(select(col(Goal.pair_id), col(Goal.status),
                                      col(Goal.progress_percent), col(Goal.occurred_at)),
                               col(Goal.programme_id), cut)
    goals = GoalFigures()
    progress: list[int] = []
    for pair_id, status, percent, occurred_at in await _rows(session, goal_query):
        if (cutting and pair_id not in pair_ids) or not when(occurred_at):
            continue
        goals.set += 1
        goals.active += status == "active"
        goals.achieved += status == "achieved"
        goals.missed += status == "missed"
        progress.append(int(percent))
    goals.progress_mean = _mean(progress, 1)

    # Interest trend: opt-ins per month (UTC) of the cohort.
    months = Counter(row[4].strftime("%Y-%m") for row in cohort if row[4] is not None)
    trend = [MonthCount(month=month, opt_ins=n) for month, n in sorted(months.items())]

    # Leadership engagement.
    senior_query = select(col(e.department), col(e.job_level), func.count()).where(
        col(e.job_level) >= senior_min_level, col(e.active).is_(True),
        col(e.erased_at).is_(None), col(e.leave_on).is_(None)).group_by(
        col(e.department), col(e.job_level))
    seniors = sum(n for department, level, n in await _rows(session, senior_query)
                  if in_cut(department, level))
    # Taking part: an active participation that began by the period's end (not only the
    # period's opt-ins: a leader who joined before it still takes part in it).
    leaders = {row[7] for pid, row in everyone.items() if pid in chosen and row[7]
               and row[3] == "active" and row[9] is not None and row[9] >= senior_min_level
               and (not periodic or cut.by_end(row[4]))}
    leadership = Leadership(senior_min_level=senior_min_level, senior_employees=seniors,
                            taking_part=len(leaders),
                            share=round(len(leaders) / seniors, 3) if seniors else None)

    # Diversity, only where a programme opted in.
    objective_query = _in_programme(select(col(Programme.id)).where(
        col(Programme.diversity_objective).is_(True)), col(Programme.id), cut)
    objectives = set((await session.exec(objective_query)).all())
    diverse = [(row[2], row[6]) for row in cohort
               if row[1] in objectives and row[3] == "active" and row[6]]
    # The baseline is the whole workforce's: compared against only in a report of it.
    baselines = await workforce_baselines(session) if objectives and not cutting else {}
    return HealthReport(
        programme_id=cut.programme_id, start=cut.start, end=cut.end,
        department=cut.department, level_band=cut.level_band,
        funnel=[funnel[role] for role in ROLES], time_to_match=time_to_match, pairs=figures,
        sessions=sessions, ratings=rating_figures, topics=topic_counts, goals=goals,
        interest_trend=trend, leadership=leadership, diversity_objective=bool(objectives),
        diversity=diversity_cells(diverse, baselines) if objectives else [])


# --- the workforce baseline ------------------------------------------------------------


async def _by_attribute(session: AsyncSession,
                        attribute: str | None = None) -> dict[str, list[WorkforceBaseline]]:
    """The stored head counts (of one attribute, or all), by attribute and value."""
    query = select(WorkforceBaseline).order_by(col(WorkforceBaseline.attribute),
                                               col(WorkforceBaseline.value))
    if attribute is not None:
        query = query.where(col(WorkforceBaseline.attribute) == attribute)
    found: dict[str, list[WorkforceBaseline]] = defaultdict(list)
    for row in (await session.exec(query)).all():
        found[row.attribute].append(row)
    return found


async def workforce_baselines(session: AsyncSession) -> dict[str, Baseline]:
    """Every attribute's baseline, as a report compares against it."""
    return {attribute: Baseline(as_of=rows[0].as_of,
                                people={row.value: row.people for row in rows})
            for attribute, rows in (await _by_attribute(session)).items()}


def _public(attribute: str, rows: Sequence[WorkforceBaseline]) -> WorkforceBaselinePublic:
    return WorkforceBaselinePublic(
        attribute=attribute, as_of=rows[0].as_of, entered_at=rows[0].entered_at,
        people=sum(row.people for row in rows),
        values=[WorkforceValueCount(value=row.value, people=row.people) for row in rows])


async def list_workforce_baselines(session: AsyncSession) -> WorkforceBaselineList:
    """Every attribute's baseline as HR entered it (admins)."""
    return WorkforceBaselineList(attributes=[
        _public(attribute, rows) for attribute, rows in (await _by_attribute(session)).items()])


async def set_workforce_baseline(session: AsyncSession, *, data: WorkforceBaselineSet,
                                 now: datetime) -> WorkforceBaselinePublic:
    """Replace the attribute's head counts with these, all entered at `now`."""
    attribute = data.attribute
    await session.exec(delete(WorkforceBaseline).where(
        col(WorkforceBaseline.attribute) == attribute))
    rows = [WorkforceBaseline(attribute=attribute, value=item.value, people=item.people,
                              as_of=data.as_of, entered_at=now) for item in data.values]
    session.add_all(rows)
    await session.flush()
    return _public(attribute, sorted(rows, key=lambda row: row.value))


async def remove_workforce_baseline(session: AsyncSession, *,
                                    attribute: str) -> WorkforceBaselinePublic:
    """Drop the attribute's baseline, answering what it was; a 404 when it has none."""
    stored = (await _by_attribute(session, attribute)).get(attribute)
    if not stored:
        raise not_found("Workforce baseline", attribute)
    await session.exec(delete(WorkforceBaseline).where(
        col(WorkforceBaseline.attribute) == attribute))
    return _public(attribute, stored)


# --- CSV --------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    """A CSV field; text a spreadsheet would run as a formula is quoted with a `'`."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(rows: Iterable[Sequence[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for row in rows:
        cells = list(row) + [None] * (len(CSV_HEADER) - len(row))
        writer.writerow([_cell(value) for value in cells])
    return out.getvalue()


def health_rows(report: HealthReport) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    for step in report.funnel:
        for item in ("invited", "opted_in", "profiled", "matched", "active", "completed",
                     "withdrawn"):
            rows.append(("funnel", step.role.value, item, getattr(step, item)))
    for wait in report.time_to_match:
        rows += [("time_to_match", wait.role.value, item, getattr(wait, item))
                 for item in ("matched", "median_days", "p90_days")]
    rows += [("pairs", "", item, getattr(report.pairs, item))
             for item in ("formed", "active", "at_risk")]
    rows += [("pairs_ended", ended.reason, "pairs", ended.pairs) for ended in report.pairs.ended]
    rows += [("sessions", "", item, getattr(report.sessions, item))
             for item in ("planned", "held", "cancelled", "attendance_rate", "mentoring_hours")]
    rows += [("ratings", "", item, getattr(report.ratings, item))
             for item in ("rated", "mean", "fit_good", "fit_poor", "matching_score_mean")]
    rows += [("rating_distribution", "", c.value, c.count) for c in report.ratings.distribution]
    rows += [("topics", topic.topic, "sessions", topic.sessions) for topic in report.topics]
    rows += [("goals", "", item, getattr(report.goals, item))
             for item in ("set", "active", "achieved", "missed", "progress_mean")]
    rows += [("interest_trend", month.month, "opt_ins", month.opt_ins)
             for month in report.interest_trend]
    rows += [("leadership", "", item, getattr(report.leadership, item))
             for item in ("senior_min_level", "senior_employees", "taking_part", "share")]
    for cell in report.diversity:
        group = f"{cell.attribute}:{cell.role or 'all'}"
        item = cell.value or "all"
        rows.append(("diversity", group, item,
                     "suppressed" if cell.suppressed else cell.people))
        if cell.share is not None:
            rows.append(("diversity_share", group, item, cell.share))
        if cell.workforce_as_of is not None:
            rows.append(("diversity_workforce", group, item, "suppressed"
                         if cell.workforce_people is None else cell.workforce_people))
        if cell.workforce_share is not None:
            rows.append(("diversity_workforce_share", group, item, cell.workforce_share))
    return rows


def retention_rows(report: ProgrammeRetention) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    for matching in report.matching:
        rows += [("matching", matching.role.value, item, getattr(matching, item))
                 for item in ("participants", "unmatched", "excluded")]
    for group in report.groups:
        name = group.group.value
        if group.suppressed:
            rows.append(("group", name, "suppressed", group.suppressed))
            continue
        rows += [("group", name, item, getattr(group, item))
                 for item in ("people", "leavers", "follow_up_months_total",
                              "follow_up_months_median")]
        rows += [("curve", name, point.months, point.estimate, point.lower, point.upper)
                 for point in group.curve]
        rows += [("retention", name, f.months, f.estimate, f.lower, f.upper)
                 for f in group.retention]
        rows += [("promotion", name, f.months, f.estimate, f.lower, f.upper)
                 for f in group.promotion]
    for comparison in report.comparisons:
        role = comparison.role.value
        if comparison.suppressed:
            rows.append(("logrank", role, "suppressed", comparison.suppressed))
        else:
            rows += [("logrank", role, "statistic", comparison.statistic),
                     ("logrank", role, "p_value", comparison.p_value)]
    return rows


def survey_rows(results: PulseSurveyResults) -> list[tuple[Any, ...]]:
    if results.suppressed:
        return [("cut", "", "suppressed", True)]
    rows: list[tuple[Any, ...]] = [("cut", "", "respondents", results.respondents)]
    for question in results.questions:
        qid = question.question_id
        rows += [(qid, question.kind, "answered", question.answered),
                 (qid, question.kind, "mean", question.mean),
                 (qid, question.kind, "nps", question.nps)]
        rows += [(qid, "distribution", c.value, c.count) for c in question.distribution]
        rows += [(qid, "text", "", text) for text in question.texts]
    return rows
