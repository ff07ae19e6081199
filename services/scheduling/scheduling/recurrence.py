"""When a pair's sessions happen: recurring plans across time zones.

Pure logic, no database: the service hands in who is available when (each person's
weekly windows in their own IANA zone), what either person already has booked, and
the event's time; this module answers with the plan's series and their occurrences.

Rules (the service README repeats them):
- A plan is anchored in the mentee's zone (the senior's diary is the harder one to
  move); its series keep their weekday and local start time there, so a daylight-saving
  change moves them for the other side only.
- The first occurrence lies within `window_days` of the event that formed the pair, at
  least `lead` after it, on a 15-minute grid, in the overlap of both people's windows,
  and no occurrence of the series overlaps another session of either person.
- An occurrence a clock change pushes outside a side's window is flagged with the
  nearest start (15-minute steps, up to 7 days either way) that fits both sides and
  neither person's other sessions.
- Without an overlap, each side's nearest slot (inside their own window, closest to the
  other's, anchored in that side's zone) is offered, and the plan alternates between
  the two, each slot at twice the cadence, so neither side always takes the
  inconvenient hour.
- Everything is computed from the event's time, never the clock: a replay plans the same.
"""

from __future__ import annotations

import heapq
import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from itertools import chain
from zoneinfo import ZoneInfo

DEFAULT_SESSION_MINUTES = 60
DEFAULT_DURATION_WEEKS = 24
GRID = timedelta(minutes=15)
ALTERNATIVE_REACH = timedelta(days=7)
# Somebody whose availability scheduling has not heard of yet: working hours on weekdays.
DEFAULT_WINDOWS = tuple((weekday, "09:00", "17:00") for weekday in range(5))

Interval = tuple[datetime, datetime]


@dataclass(frozen=True)
class Window:
    """A weekly window of availability, in the person's own zone."""

    weekday: int  # 0 = Monday
    start: time
    end: time | None  # None: up to midnight ("24:00")

    @classmethod
    def parse(cls, weekday: int, start: str, end: str) -> Window:
        return cls(weekday, time.fromisoformat(start),
                   None if end == "24:00" else time.fromisoformat(end))


@dataclass(frozen=True)
class Person:
    """Someone to plan for: their zone and weekly windows."""

    time_zone: str
    windows: tuple[Window, ...]

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def available(self, start: datetime, end: datetime) -> list[Interval]:
        """The person's windows as UTC intervals, for every local day touching [start, end]."""
        zone = self.zone
        first = start.astimezone(zone).date() - timedelta(days=1)
        last = end.astimezone(zone).date() + timedelta(days=1)
        found: list[Interval] = []
        day = first
        while day <= last:
            found.extend(self._day(day))
            day += timedelta(days=1)
        return sorted(found)

    def holds(self, start: datetime, end: datetime) -> bool:
        """Whether one of the windows holds [start, end]: `fits` of `available`, asked day
        by day, with no list to build and sort (each occurrence of a plan asks it)."""
        zone = self.zone
        day = start.astimezone(zone).date() - timedelta(days=1)
        last = end.astimezone(zone).date() + timedelta(days=1)
        while day <= last:
            if fits(self._day(day), start, end):
                return True
            day += timedelta(days=1)
        return False

    @cached_property
    def _by_weekday(self) -> dict[int, tuple[Window, ...]]:
        # Each day looks at its own weekday's windows only, not at the whole week's.
        return {weekday: tuple(w for w in self.windows if w.weekday == weekday)
                for weekday in range(7)}

    @cached_property
    def _days(self) -> dict[date, tuple[Interval, ...]]:
        return {}

    def _day(self, day: date) -> tuple[Interval, ...]:
        """The windows of one local day as UTC intervals, in the order of `windows`
        (remembered: a plan's checks ask for the same days again)."""
        found = self._days.get(day)
        if found is None:
            zone = self.zone
            found = self._days[day] = tuple(
                (opens, closes) for opens, closes in (
                    (datetime.combine(day, window.start, tzinfo=zone).astimezone(UTC),
                     (datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
                      if window.end is None
                      else datetime.combine(day, window.end, tzinfo=zone)).astimezone(UTC))
                    for window in self._by_weekday[day.weekday()])
                if closes > opens)
        return found


def fits(intervals: Sequence[Interval], start: datetime, end: datetime) -> bool:
    return any(opens <= start and end <= closes for opens, closes in intervals)


def distance(intervals: Sequence[Interval], start: datetime, end: datetime) -> timedelta:
    """How far [start, end] is from fitting one of the intervals (zero when it fits)."""
    best: timedelta | None = None
    for opens, closes in intervals:
        if closes - opens < end - start:
            continue
        gap = max(opens - start, end - closes, timedelta(0))
        best = gap if best is None else min(best, gap)
    return best if best is not None else timedelta.max


class _Sorted:
    """Intervals sorted by start, answering `fits` and `distance` by bisection.

    The same answers as the functions above (which scan every interval), for the many
    candidate starts a proposal tries: each check costs a logarithm, not a scan.
    """

    def __init__(self, intervals: Sequence[Interval], length: timedelta) -> None:
        ordered = sorted(intervals)
        self.opens = [opens for opens, _ in ordered]
        # The latest end among the intervals up to each position (any start, for `fits`;
        # long enough for `length`, for `distance`).
        self.reach: list[datetime] = []
        self.long_reach: list[datetime | None] = []
        # From each position on: the first interval long enough for `length`.
        self.next_long: list[datetime | None] = [None] * (len(ordered) + 1)
        latest: datetime | None = None
        latest_long: datetime | None = None
        for opens, closes in ordered:
            latest = closes if latest is None else max(latest, closes)
            if closes - opens >= length:
                latest_long = closes if latest_long is None else max(latest_long, closes)
            self.reach.append(latest)
            self.long_reach.append(latest_long)
        for index in range(len(ordered) - 1, -1, -1):
            opens, closes = ordered[index]
            self.next_long[index] = opens if closes - opens >= length else self.next_long[index + 1]

    def fits(self, start: datetime, end: datetime) -> bool:
        index = bisect_right(self.opens, start)
        return index > 0 and self.reach[index - 1] >= end

    def distance(self, start: datetime, end: datetime) -> timedelta:
        """As `distance`, for [start, end] as long as the `length` given."""
        index = bisect_right(self.opens, start)
        gaps = []
        closes = self.long_reach[index - 1] if index > 0 else None
        if closes is not None:  # one opening by `start`: how far `end` passes its end
            gaps.append(max(end - closes, timedelta(0)))
        opens = self.next_long[index]
        if opens is not None:  # one opening after `start`, so ending after `end`
            gaps.append(opens - start)
        return min(gaps) if gaps else timedelta.max


def overlaps(busy: Iterable[Interval], start: datetime, end: datetime) -> bool:
    return any(other_start < end and start < other_end for other_start, other_end in busy)


class _Busy:
    """Bookings sorted by start, answering `overlaps` by bisection (the same answers).

    A proposal asks about every occurrence of every candidate series: each question
    costs a logarithm instead of a scan of all of a person's other sessions.
    """

    def __init__(self, busy: Iterable[Interval]) -> None:
        ordered = sorted(busy)
        self.starts = [start for start, _ in ordered]
        # The latest end among the bookings up to each position.
        self.reach: list[datetime] = []
        latest: datetime | None = None
        for _, end in ordered:
            latest = end if latest is None else max(latest, end)
            self.reach.append(latest)

    def overlaps(self, start: datetime, end: datetime) -> bool:
        # The bookings that start before `end`; one of them overlaps if it ends after `start`.
        index = bisect_left(self.starts, end)
        return index > 0 and self.reach[index - 1] > start


# --- series --------------------------------------------------------------------

# cadence -> (frequency, interval)
CADENCES: dict[str, tuple[str, int]] = {
    "weekly": ("weekly", 1), "biweekly": ("weekly", 2), "monthly": ("monthly", 1),
}


def occurrence_count(cadence: str, duration_weeks: int) -> int:
    """How many sessions a programme of `duration_weeks` holds at its cadence."""
    frequency, interval = CADENCES[cadence]
    weeks_apart = interval if frequency == "weekly" else 52 / 12
    return max(1, math.ceil(duration_weeks / weeks_apart))


@dataclass(frozen=True)
class SeriesRule:
    """One recurring series: a weekday and local start in a zone, from a local date on."""

    time_zone: str
    local_start: time
    starts_on: date
    frequency: str  # "weekly" | "monthly"
    interval: int
    count: int

    @property
    def weekday(self) -> int:
        return self.starts_on.weekday()

    @property
    def nth(self) -> int:
        """For a monthly series: which weekday of the month (1-4, or -1 for the last)."""
        n = (self.starts_on.day - 1) // 7 + 1
        return -1 if n == 5 else n

    def dates(self) -> list[date]:
        if self.frequency == "weekly":
            step = timedelta(days=7 * self.interval)
            return [self.starts_on + step * k for k in range(self.count)]
        return [_nth_weekday(_add_months(self.starts_on, self.interval * k), self.weekday,
                             self.nth) for k in range(self.count)]

    def starts(self) -> list[datetime]:
        """Each occurrence's start in UTC (a local time a clock change skips moves forward)."""
        zone = ZoneInfo(self.time_zone)
        return [_utc(datetime.combine(day, self.local_start, tzinfo=zone))
                for day in self.dates()]


def _utc(local: datetime) -> datetime:
    # A wall time the spring change skips (02:30) means the instant of 02:30 on the old
    # offset, as RFC 5545 reads it too.
    return local.astimezone(UTC)


def _add_months(day: date, months: int) -> date:
    month0 = day.month - 1 + months
    return date(day.year + month0 // 12, month0 % 12 + 1, 1)


def _nth_weekday(first_of_month: date, weekday: int, nth: int) -> date:
    if nth > 0:
        offset = (weekday - first_of_month.weekday()) % 7
        return first_of_month + timedelta(days=offset + 7 * (nth - 1))
    next_month = _add_months(first_of_month, 1)
    last = next_month - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def rule_at(start: datetime, *, time_zone: str, cadence: str, count: int,
            every: int = 1) -> SeriesRule:
    """The series that starts at `start`, anchored in `time_zone`, `every` cadences apart."""
    frequency, interval = CADENCES[cadence]
    local = start.astimezone(ZoneInfo(time_zone))
    return SeriesRule(time_zone=time_zone, local_start=local.time().replace(tzinfo=None),
                      starts_on=local.date(), frequency=frequency, interval=interval * every,
                      count=count)


# --- proposing a plan ------------------------------------------------------------


@dataclass(frozen=True)
class Slot:
    """A side's nearest slot when the two have no overlap."""

    side: str  # "mentor" | "mentee"
    starts_at: datetime
    time_zone: str
    weekday: int
    local_start: time


@dataclass(frozen=True)
class ProposedSeries:
    rule: SeriesRule
    # The sides whose windows the series was chosen inside (both, or one in an
    # alternating plan): only these are checked for clock-change conflicts.
    fits: tuple[str, ...]


@dataclass
class Proposal:
    overlap: bool
    series: list[ProposedSeries] = field(default_factory=list)
    nearest: list[Slot] = field(default_factory=list)


@dataclass(frozen=True)
class Parties:
    """The two people of a pair, and what each already has booked elsewhere."""

    mentor: Person
    mentee: Person
    mentor_busy: tuple[Interval, ...] = ()
    mentee_busy: tuple[Interval, ...] = ()

    def side(self, name: str) -> Person:
        return self.mentor if name == "mentor" else self.mentee

    @cached_property
    def _busy(self) -> _Busy:
        # Whether either is busy is all `busy` asks: one sorted list of both's bookings.
        return _Busy(self.mentor_busy + self.mentee_busy)

    def busy(self, start: datetime, end: datetime) -> bool:
        return self._busy.overlaps(start, end)


def on_blackout(start: datetime, time_zone: str, blackout: frozenset[date]) -> bool:
    """Whether `start` falls on a blackout date, read in `time_zone` (the series' zone)."""
    return bool(blackout) and start.astimezone(ZoneInfo(time_zone)).date() in blackout


def _grid(start: datetime) -> datetime:
    start = start.astimezone(UTC).replace(second=0, microsecond=0)
    spare = start.minute % 15
    return start + timedelta(minutes=(15 - spare) % 15)


def propose(
    *, parties: Parties, occurred_at: datetime, cadence: str, minutes: int,
    duration_weeks: int, window_days: int, lead: timedelta,
    blackout: frozenset[date] = frozenset(),
) -> Proposal:
    """The earliest plan for a pair formed at `occurred_at` (see the module's rules).

    A series never starts on a `blackout` date (read in its own zone); its later
    occurrences on one are the service's to skip, so they do not count as bookings here.
    """
    length = timedelta(minutes=minutes)
    first = _grid(occurred_at + lead)
    last = occurred_at + timedelta(days=window_days)
    # Only windows near the candidates can hold one or be nearest to it: a weekly window
    # recurs within a week (a clock change can spoil one instance, never two in a row),
    # so those more than `reach` past the last candidate never decide. The occurrences
    # are checked one by one afterwards (`conflicting_side`), so availability up to the
    # plan's end is not needed here; it made each check scan two years of windows.
    high = last + length + timedelta(days=15)
    mentor_free = _Sorted([iv for iv in parties.mentor.available(first, high)
                           if iv[0] <= high], length)
    mentee_free = _Sorted([iv for iv in parties.mentee.available(first, high)
                           if iv[0] <= high], length)
    count = occurrence_count(cadence, duration_weeks)
    anchor = parties.mentee.time_zone

    candidates = []
    start = first
    while start <= last:
        candidates.append(start)
        start += GRID

    for start in candidates:
        end = start + length
        if not (mentor_free.fits(start, end) and mentee_free.fits(start, end)):
            continue
        if on_blackout(start, anchor, blackout):
            continue
        rule = rule_at(start, time_zone=anchor, cadence=cadence, count=count)
        if any(parties.busy(s, s + length) for s in rule.starts()
               if not on_blackout(s, anchor, blackout)):
            continue
        return Proposal(overlap=True, series=[ProposedSeries(rule, ("mentor", "mentee"))])

    # No slot fits both: each side's slot nearest the other's windows.
    nearest: list[Slot] = []
    for side, own, other in (("mentee", mentee_free, mentor_free),
                             ("mentor", mentor_free, mentee_free)):
        best: tuple[timedelta, datetime] | None = None
        for start in candidates:
            end = start + length
            if not own.fits(start, end) or parties.busy(start, end):
                continue
            if on_blackout(start, parties.side(side).time_zone, blackout):
                continue
            gap = other.distance(start, end)
            if best is None or gap < best[0]:
                best = (gap, start)
        if best is not None:
            # Each side's slot keeps its own local time: anchored in that side's zone.
            zone_name = parties.side(side).time_zone
            local = best[1].astimezone(ZoneInfo(zone_name))
            nearest.append(Slot(side=side, starts_at=best[1], time_zone=zone_name,
                                weekday=local.weekday(),
                                local_start=local.time().replace(tzinfo=None)))
    proposal = Proposal(overlap=False, nearest=nearest)
    if len(nearest) == 2:
        proposal.series = alternating(nearest, cadence=cadence, count=count)
    elif nearest:
        rule = rule_at(nearest[0].starts_at, time_zone=nearest[0].time_zone, cadence=cadence,
                       count=count)
        proposal.series = [ProposedSeries(rule, (nearest[0].side,))]
    return proposal


def alternating(slots: Sequence[Slot], *, cadence: str, count: int) -> list[ProposedSeries]:
    """Two series that take turns, each at twice the cadence, the earlier slot first."""
    lead, other = sorted(slots, key=lambda slot: slot.starts_at)
    first = rule_at(lead.starts_at, time_zone=lead.time_zone, cadence=cadence,
                    count=(count + 1) // 2, every=2)
    frequency, interval = CADENCES[cadence]
    half = timedelta(days=(7 * interval if frequency == "weekly" else 28) // 2 + 1)
    day = first.starts_on + half
    day += timedelta(days=(other.weekday - day.weekday()) % 7)
    zone = ZoneInfo(other.time_zone)
    second_start = _utc(datetime.combine(day, other.local_start, tzinfo=zone))
    second = rule_at(second_start, time_zone=other.time_zone, cadence=cadence,
                     count=count // 2, every=2)
    series = [ProposedSeries(first, (lead.side,))]
    if second.count:
        series.append(ProposedSeries(second, (other.side,)))
    return series


# --- checking occurrences --------------------------------------------------------


def conflicting_side(
    parties: Parties, start: datetime, minutes: int, *, sides: Sequence[str]
) -> str | None:
    """The first of `sides` whose windows no longer hold the occurrence, if any."""
    end = start + timedelta(minutes=minutes)
    for side in sides:
        if not parties.side(side).holds(start, end):
            return side
    return None



def nearest_valid_start(
    parties: Parties, start: datetime, minutes: int, *, sides: Sequence[str] = ("mentor", "mentee"),
    not_before: datetime | None = None,
) -> datetime | None:
    """The start nearest `start` (earlier first on a tie) that fits `sides` and no booking.

    The candidates are `start` plus or minus whole grid steps, up to `ALTERNATIVE_REACH`
    (`start` is a UTC instant, as stored). Rather than trying each of them against every
    window, the starts that fit all of `sides` are worked out first as ranges, and only
    the grid steps inside those ranges are tried against the bookings, nearest first: a
    flagged occurrence of a pair that shares no hours (the usual case) has none to try.
    """
    length = timedelta(minutes=minutes)
    low, high = start - ALTERNATIVE_REACH, start + ALTERNATIVE_REACH + length
    steps = int(ALTERNATIVE_REACH / GRID)
    ranges: list[Interval] = [(low, high)]
    for side in sides:
        ranges = _common(ranges, _fitting_starts(parties.side(side).available(low, high),
                                                length))
    if not_before is not None:
        ranges = [(max(first, not_before), last) for first, last in ranges
                  if last >= not_before]
    earlier: list[range] = []  # the steps back to each range, nearest range first
    later: list[range] = []
    for first, last in ranges:
        earlier.append(range(max(1, _steps_up(start - last)),
                             min(steps, (start - first) // GRID) + 1))
        later.append(range(max(1, _steps_up(first - start)),
                           min(steps, (last - start) // GRID) + 1))
    earlier.reverse()
    # (steps, 0 for earlier or 1 for later): the order the candidates are tried in.
    for k, later_one in heapq.merge(((k, 0) for k in chain.from_iterable(earlier)),
                                    ((k, 1) for k in chain.from_iterable(later))):
        candidate = start + GRID * k if later_one else start - GRID * k
        if not parties.busy(candidate, candidate + length):
            return candidate
    return None


def _steps_up(span: timedelta) -> int:
    """How many grid steps reach at least `span` (negative for a negative span)."""
    return -(-span // GRID)


def _fitting_starts(intervals: Iterable[Interval], length: timedelta) -> list[Interval]:
    """The starts at which `length` fits one of the intervals, as sorted, disjoint ranges
    (both ends included): a start fits an interval when it opens by then and closes no
    earlier than `length` later, as `fits` asks."""
    found: list[Interval] = []
    for opens, closes in sorted(intervals):
        last = closes - length
        if last < opens:
            continue
        if found and opens <= found[-1][1]:
            if last > found[-1][1]:
                found[-1] = (found[-1][0], last)
        else:
            found.append((opens, last))
    return found


def _common(first: Sequence[Interval], second: Sequence[Interval]) -> list[Interval]:
    """What two lists of sorted, disjoint ranges (ends included) have in common."""
    found: list[Interval] = []
    i = j = 0
    while i < len(first) and j < len(second):
        low, high = max(first[i][0], second[j][0]), min(first[i][1], second[j][1])
        if low <= high:
            found.append((low, high))
        if first[i][1] < second[j][1]:
            i += 1
        else:
            j += 1
    return found
