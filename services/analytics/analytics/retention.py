"""Retention statistics: Kaplan-Meier curves, log-rank tests and matched comparison groups.

Pure functions over arrays and plain records, with no database and no clock, so the
same inputs always give the same report (a replayed read model answers alike).

- Survival is SciPy's Kaplan-Meier (`scipy.stats.ecdf` on `CensoredData`, its `sf`).
  The 95 % interval is SciPy's `"log-log"` one: Greenwood's variance on the
  log(-log S) scale, which is exactly the exponential Greenwood interval `lifelines`
  reports by default (the tests hold both to 1e-9). Where the estimate is 1 (before
  the first leaver) or 0 (after the last) the interval is undefined on that scale;
  it is the estimate itself there, as in `lifelines`.
- The log-rank test is `scipy.stats.logrank`, reported as the chi-squared statistic
  with one degree of freedom (the square of SciPy's z) and its two-sided p-value,
  as `lifelines.statistics.logrank_test` reports them.
- Time is in months of 365.25 / 12 days from the day time at risk starts.

The fair comparison (documented in the analytics README): every participant is matched,
on the day their participation starts, to `k` employees not taking part that day, in the
same level band, department, tenure band and hire cohort (year of hire) and still
employed that day; controls are drawn without replacement in a deterministic order
(participants by start date then id; candidates by a SHA-256 of their id), and a
control's time at risk starts on their participant's start day, so neither group is
credited with the time before it (no immortal-time bias).
"""

from __future__ import annotations

import bisect
import hashlib
import math
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

MONTH_DAYS = 365.25 / 12
CONFIDENCE = 0.95
# The smallest group a figure may describe; smaller ones are suppressed.
MIN_CELL = 5
RETENTION_MONTHS = (6, 12, 24)
# Levels 1-2, 3-4, 5-6, 7-8, 9 and above share a band.
LEVEL_BAND_WIDTH = 2
# Upper bounds (years of tenure, exclusive) of the tenure bands; the last band is open.
TENURE_BANDS = (1, 3, 5, 10)


@dataclass(frozen=True)
class Survival:
    """A Kaplan-Meier curve: a step function of months, with its pointwise 95 % interval.

    `times` starts at 0 (estimate 1) and lists every distinct time an employee left or
    was censored; each value holds from its time until the next.
    """

    times: NDArray[np.float64]
    estimate: NDArray[np.float64]
    lower: NDArray[np.float64]
    upper: NDArray[np.float64]

    def at(self, months: float) -> tuple[float, float, float]:
        """The estimate and interval `months` after the start."""
        index = int(np.searchsorted(self.times, months, side="right")) - 1
        return (float(self.estimate[index]), float(self.lower[index]),
                float(self.upper[index]))


@dataclass(frozen=True)
class LogRank:
    statistic: float
    p_value: float


def _censored(durations: ArrayLike, observed: ArrayLike) -> stats.CensoredData:
    times = np.asarray(durations, dtype=float)
    left = np.asarray(observed, dtype=bool)
    if times.ndim != 1 or times.shape != left.shape or times.size == 0:
        raise ValueError("durations and observed must be equally long, non-empty 1-d arrays")
    if np.any(times < 0) or not np.all(np.isfinite(times)):
        raise ValueError("durations must be finite and not negative")
    return stats.CensoredData(uncensored=times[left], right=times[~left])


def kaplan_meier(durations: ArrayLike, observed: ArrayLike) -> Survival:
    """The survival curve of these durations; `observed` is true where the person left."""
    times = np.asarray(durations, dtype=float)
    sf = stats.ecdf(_censored(durations, observed)).sf
    # Every distinct time, censored ones too (as lifelines' timeline), from 0.
    timeline = np.unique(np.concatenate(([0.0], times)))
    estimate = np.asarray(sf.evaluate(timeline), dtype=float)
    with warnings.catch_warnings():
        # Undefined where the estimate is 0 or 1; filled in below.
        warnings.simplefilter("ignore", RuntimeWarning)
        interval = sf.confidence_interval(CONFIDENCE, method="log-log")
        lower = np.asarray(interval.low.evaluate(timeline), dtype=float)
        upper = np.asarray(interval.high.evaluate(timeline), dtype=float)
    settled = (estimate >= 1.0) | (estimate <= 0.0) | np.isnan(lower) | np.isnan(upper)
    lower = np.where(settled, estimate, lower)
    upper = np.where(settled, estimate, upper)
    return Survival(times=timeline, estimate=estimate, lower=lower, upper=upper)


def logrank(durations_a: ArrayLike, observed_a: ArrayLike,
            durations_b: ArrayLike, observed_b: ArrayLike) -> LogRank:
    """Whether two groups' survival differs: chi-squared (1 df) and two-sided p-value."""
    with warnings.catch_warnings():
        # Nobody left in either group: the statistic is 0/0, NaN, and the caller says so.
        warnings.simplefilter("ignore", RuntimeWarning)
        result = stats.logrank(_censored(durations_a, observed_a),
                               _censored(durations_b, observed_b))
    return LogRank(statistic=float(result.statistic) ** 2, p_value=float(result.pvalue))


# --- the fair comparison ------------------------------------------------------------


@dataclass(frozen=True)
class Employment:
    """What matching needs of an employee (no name): the HRIS dates and attributes."""

    employee_id: str
    hire_on: date
    leave_on: date | None
    job_level: int | None
    department: str | None


@dataclass(frozen=True)
class Participation:
    """Someone took part in a programme in a role from `started_on`."""

    employee_id: str
    role: str
    started_on: date


@dataclass(frozen=True)
class AtRisk:
    """One person's follow-up: from `started_on`, left or not by the end of it."""

    employee_id: str
    started_on: date
    months: float
    left: bool


@dataclass
class Group:
    """The people of one group, each with their follow-up."""

    members: list[AtRisk] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.members)

    def arrays(self) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
        return (np.array([m.months for m in self.members], dtype=float),
                np.array([m.left for m in self.members], dtype=bool))

    @property
    def follow_up_months(self) -> float:
        return float(sum(m.months for m in self.members))

    @property
    def median_follow_up_months(self) -> float:
        return float(np.median([m.months for m in self.members])) if self.members else 0.0


@dataclass
class Matched:
    """Per role: the participants followed, their matched controls, and who found none."""

    participants: dict[str, Group]
    controls: dict[str, Group]
    unmatched: dict[str, int]
    # Participants left out: unknown hire date, or gone before their participation began.
    excluded: dict[str, int]


def level_band(level: int | None) -> str:
    """`"1-2"`, `"3-4"`, ... `"9+"`; `"unknown"` when the HRIS sends no level."""
    if level is None:
        return "unknown"
    low = max(1, level - (level - 1) % LEVEL_BAND_WIDTH)
    top = 1 + LEVEL_BAND_WIDTH * 4
    return f"{top}+" if low >= top else f"{low}-{low + LEVEL_BAND_WIDTH - 1}"


def tenure_band(hire_on: date, on: date) -> str:
    """Completed years of service on a day, banded: `"<1"`, `"1-3"`, `"3-5"`, `"5-10"`, `"10+"`."""
    years = (on - hire_on).days / 365.25
    low = 0
    for high in TENURE_BANDS:
        if years < high:
            return "<1" if low == 0 else f"{low}-{high}"
        low = high
    return f"{low}+"


LevelOn = Callable[[Employment, date], int | None]


def current_level(person: Employment, on: date) -> int | None:
    """The level the HRIS sends now, when no history says what it was then."""
    return person.job_level


def _stratum(person: Employment, on: date, level_on: LevelOn) -> tuple[str, str, str, int]:
    return (level_band(level_on(person, on)), person.department or "",
            tenure_band(person.hire_on, on), person.hire_on.year)


def _employed(person: Employment, on: date) -> bool:
    return person.hire_on <= on and (person.leave_on is None or person.leave_on > on)


def _order(candidate: Employment) -> bytes:
    return hashlib.sha256(candidate.employee_id.encode()).digest()


def follow(person: Employment, started_on: date, *, until: date, window_months: int,
           censor_on: date | None = None) -> AtRisk:
    """Time at risk from `started_on` to leaving, the end of the window, `until` or
    `censor_on` (a control who starts taking part stops being a control that day)."""
    # Whole days, rounded up, so a 24-month window follows people at least 24 months.
    window_end = started_on + timedelta(days=math.ceil(window_months * MONTH_DAYS))
    end = min(until, window_end, censor_on or until)
    left = person.leave_on is not None and person.leave_on <= end
    stop = person.leave_on if left and person.leave_on is not None else end
    return AtRisk(employee_id=person.employee_id, started_on=started_on,
                  months=max(0.0, (stop - started_on).days / MONTH_DAYS), left=left)


def first_participations(participations: Iterable[Participation]) -> list[Participation]:
    """Each employee's earliest participation (in the role they had then)."""
    first: dict[str, Participation] = {}
    for item in participations:
        kept = first.get(item.employee_id)
        if kept is None or (item.started_on, item.role) < (kept.started_on, kept.role):
            first[item.employee_id] = item
    return sorted(first.values(), key=lambda p: (p.started_on, p.employee_id))


def match(participations: Sequence[Participation], employees: Sequence[Employment], *,
          first_started: Mapping[str, date], roles: Sequence[str], k: int, until: date,
          window_months: int, level_on: LevelOn = current_level) -> Matched:
    """Follow every participant and `k` matched controls from the same day.

    `participations` are the ones reported (one per employee, see `first_participations`);
    `first_started` is, for everyone who took part in any programme, the day they first
    did. A control is someone not taking part on the participant's start day (never, or
    only later: then their follow-up as a control ends the day they start, so the choice
    of controls never depends on what happens after it). `level_on` says an employee's
    level on a day (the level band is the one held then).
    """
    people = {person.employee_id: person for person in employees}
    candidates: dict[tuple[str, int], list[Employment]] = defaultdict(list)
    for person in employees:
        candidates[(person.department or "", person.hire_on.year)].append(person)
    for bucket in candidates.values():
        bucket.sort(key=_order)
    result = Matched(participants={r: Group() for r in roles}, controls={r: Group() for r in roles},
                     unmatched=dict.fromkeys(roles, 0), excluded=dict.fromkeys(roles, 0))
    for item in sorted(participations, key=lambda p: (p.started_on, p.employee_id)):
        if item.role not in result.participants:
            continue
        found = people.get(item.employee_id)
        if found is None or not _employed(found, item.started_on) or item.started_on > until:
            result.excluded[item.role] += 1
            continue
        person = found
        stratum = _stratum(person, item.started_on, level_on)
        bucket = candidates[(stratum[1], stratum[3])]
        pool: list[Employment] = []
        # Participants come in start order, so whoever is used, gone or taking part by this
        # start is out for every later one too: dropped from the bucket (order kept).
        out: list[int] = []
        for index, candidate in enumerate(bucket):
            joins = first_started.get(candidate.employee_id)
            if (joins is not None and joins <= item.started_on) or (
                    candidate.leave_on is not None and candidate.leave_on <= item.started_on):
                out.append(index)
                continue
            if candidate.hire_on <= item.started_on and _stratum(
                    candidate, item.started_on, level_on) == stratum:
                pool.append(candidate)
                out.append(index)  # without replacement
                if len(pool) == k:
                    break
        for index in reversed(out):
            del bucket[index]
        result.participants[item.role].members.append(
            follow(person, item.started_on, until=until, window_months=window_months))
        if not pool:
            result.unmatched[item.role] += 1
        for control in pool:
            result.controls[item.role].members.append(
                follow(control, item.started_on, until=until, window_months=window_months,
                       censor_on=first_started.get(control.employee_id)))
    return result


def naive(participations: Sequence[Participation], employees: Sequence[Employment], *,
          ever_participated: set[str], until: date, window_months: int) -> tuple[Group, Group]:
    """The biased comparison: everyone from their hire date, participants against the rest.

    Participants are counted from hire although they could only take part by staying until
    their start: that immortal time flatters them. Kept to show the bias in tests.
    """
    taking_part = {p.employee_id for p in participations}
    participants, others = Group(), Group()
    for person in employees:
        if person.hire_on > until:
            continue
        at_risk = follow(person, person.hire_on, until=until, window_months=window_months)
        if person.employee_id in taking_part:
            participants.members.append(at_risk)
        elif person.employee_id not in ever_participated:
            others.members.append(at_risk)
    return participants, others


def at_risk(group: Group, months: float) -> int:
    """How many of the group are still followed `months` after their start."""
    return sum(1 for m in group.members if m.months >= months)


def point(curve: Survival, months: float, group: Group) -> tuple[float, float, float] | None:
    """The curve at `months`; None once fewer than MIN_CELL people are followed that long.

    Read where a handful remain, a step would tell what became of one or two people; and
    where nobody remains the estimate says nothing.
    """
    if at_risk(group, months) < MIN_CELL:
        return None
    return curve.at(months)


def level_history(observations: dict[str, list[tuple[date, int]]]) -> LevelOn:
    """`level_on` from the (day, level) pairs seen per employee, oldest first: the last seen
    on or before the day, else the first seen after it, else the current one."""
    days = {employee: [day for day, _ in seen] for employee, seen in observations.items()}

    def level_on(person: Employment, on: date) -> int | None:
        seen = observations.get(person.employee_id)
        if not seen:
            return person.job_level
        index = bisect.bisect_right(days[person.employee_id], on)
        return seen[index - 1][1] if index else seen[0][1]
    return level_on


def promotion(member: AtRisk, observations: Sequence[tuple[date, int]]) -> AtRisk | None:
    """Time to the first job level above the one held at the start, within the follow-up.

    `observations` are the (day, level) pairs employee events carried, oldest first. The
    level at the start is the last one seen on or before it (else the first seen at
    all); None when no level was ever seen, since then no change could be.
    """
    if not observations:
        return None
    before = [level for day, level in observations if day <= member.started_on]
    start_level = before[-1] if before else observations[0][1]
    end = member.started_on + timedelta(days=member.months * MONTH_DAYS)
    for day, level in observations:
        if member.started_on < day <= end and level > start_level:
            return AtRisk(employee_id=member.employee_id, started_on=member.started_on,
                          months=(day - member.started_on).days / MONTH_DAYS, left=True)
    return AtRisk(employee_id=member.employee_id, started_on=member.started_on,
                  months=member.months, left=False)
