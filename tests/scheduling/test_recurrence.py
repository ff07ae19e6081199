"""Plans across time zones: the slot both people can make, and what clock changes do to it."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from scheduling.recurrence import (
    Parties,
    Person,
    Proposal,
    SeriesRule,
    Window,
    _Busy,
    _Sorted,
    conflicting_side,
    distance,
    fits,
    nearest_valid_start,
    occurrence_count,
    overlaps,
    propose,
)

DAY = timedelta(days=1)


def person(zone: str, *windows: tuple[int, str, str]) -> Person:
    return Person(zone, tuple(Window.parse(*window) for window in windows))


def plan(parties: Parties, formed_at: datetime, *, cadence: str = "weekly", weeks: int = 6,
         minutes: int = 60) -> Proposal:
    return propose(parties=parties, occurred_at=formed_at, cadence=cadence, minutes=minutes,
                   duration_weeks=weeks, window_days=14, lead=DAY)


def flags(parties: Parties, proposal: Proposal) -> list[tuple[datetime, str | None]]:
    [series] = proposal.series
    return [(start, conflicting_side(parties, start, 60, sides=series.fits))
            for start in series.rule.starts()]


# London mentee (anchor) free Monday afternoons; New York mentor free 09:00-10:00 only.
LONDON_X_NEW_YORK = Parties(
    mentor=person("America/New_York", (0, "09:00", "10:00")),
    mentee=person("Europe/London", (0, "13:00", "18:00")),
)


def test_london_x_new_york_in_the_march_weeks_the_us_changes_clocks_first() -> None:
    proposal = plan(LONDON_X_NEW_YORK, datetime(2026, 3, 1, 10, tzinfo=UTC))
    assert proposal.overlap
    [series] = proposal.series
    # Anchored in the mentee's zone: 14:00 London is 09:00 in New York in winter.
    assert (series.rule.time_zone, series.rule.weekday, series.rule.local_start) == (
        "Europe/London", 0, time(14, 0))
    # The US moves on March 8, the EU on March 29: for three Mondays 14:00 London is
    # 10:00 in New York, outside the mentor's hour; before and after it fits again.
    assert flags(LONDON_X_NEW_YORK, proposal) == [
        (datetime(2026, 3, 2, 14, tzinfo=UTC), None),
        (datetime(2026, 3, 9, 14, tzinfo=UTC), "mentor"),
        (datetime(2026, 3, 16, 14, tzinfo=UTC), "mentor"),
        (datetime(2026, 3, 23, 14, tzinfo=UTC), "mentor"),
        (datetime(2026, 3, 30, 13, tzinfo=UTC), None),  # 14:00 BST, 09:00 EDT
        (datetime(2026, 4, 6, 13, tzinfo=UTC), None),
    ]
    # The nearest start both can make those weeks: an hour earlier in London.
    flagged = datetime(2026, 3, 9, 14, tzinfo=UTC)
    assert nearest_valid_start(LONDON_X_NEW_YORK, flagged, 60) == flagged - timedelta(hours=1)


def test_london_x_new_york_between_the_eu_and_us_autumn_changes() -> None:
    proposal = plan(LONDON_X_NEW_YORK, datetime(2026, 10, 11, 10, tzinfo=UTC), weeks=4)
    # In October (both on summer time) 14:00 London is 09:00 in New York; the EU goes back
    # on October 25, the US on November 1: Monday October 26 alone is out of step.
    assert flags(LONDON_X_NEW_YORK, proposal) == [
        (datetime(2026, 10, 12, 13, tzinfo=UTC), None),
        (datetime(2026, 10, 19, 13, tzinfo=UTC), None),
        (datetime(2026, 10, 26, 14, tzinfo=UTC), "mentor"),
        (datetime(2026, 11, 2, 14, tzinfo=UTC), None),
    ]


def test_new_york_x_singapore_across_the_date_line_and_the_us_change() -> None:
    # New York mentee free Tuesday evenings; Singapore mentor Wednesday mornings (no DST).
    parties = Parties(mentor=person("Asia/Singapore", (2, "08:00", "10:00")),
                      mentee=person("America/New_York", (1, "19:00", "22:00")))
    proposal = plan(parties, datetime(2026, 2, 22, 12, tzinfo=UTC), weeks=4)
    [series] = proposal.series
    # Tuesday 19:00 in New York is Wednesday 08:00 in Singapore in winter.
    assert (series.rule.weekday, series.rule.local_start) == (1, time(19, 0))
    result = flags(parties, proposal)
    assert result == [
        (datetime(2026, 2, 25, 0, tzinfo=UTC), None),
        (datetime(2026, 3, 4, 0, tzinfo=UTC), None),
        # From March 8, 19:00 EDT is 07:00 in Singapore: too early for the mentor.
        (datetime(2026, 3, 10, 23, tzinfo=UTC), "mentor"),
        (datetime(2026, 3, 17, 23, tzinfo=UTC), "mentor"),
    ]
    assert nearest_valid_start(parties, result[2][0], 60) == datetime(2026, 3, 11, 0, tzinfo=UTC)


def test_without_an_overlap_the_plan_says_so_and_alternates_between_each_sides_nearest() -> None:
    # Both only free Monday 09:00-10:00 local: London and Singapore never meet.
    parties = Parties(mentor=person("Asia/Singapore", (0, "09:00", "10:00")),
                      mentee=person("Europe/London", (0, "09:00", "10:00")))
    proposal = plan(parties, datetime(2026, 1, 3, 10, tzinfo=UTC), weeks=4)
    assert not proposal.overlap
    nearest = {slot.side: slot for slot in proposal.nearest}
    assert nearest["mentee"].starts_at == datetime(2026, 1, 5, 9, tzinfo=UTC)
    assert (nearest["mentee"].time_zone, nearest["mentee"].local_start) == (
        "Europe/London", time(9, 0))
    assert nearest["mentor"].starts_at == datetime(2026, 1, 5, 1, tzinfo=UTC)
    assert (nearest["mentor"].time_zone, nearest["mentor"].local_start) == (
        "Asia/Singapore", time(9, 0))
    # Two series, every other week each, taking turns (the earlier slot first), each in
    # its own side's zone: neither side always gives way.
    first, second = proposal.series
    assert first.fits == ("mentor",) and second.fits == ("mentee",)
    starts = sorted([*first.rule.starts(), *second.rule.starts()])
    assert starts == [datetime(2026, 1, 5, 1, tzinfo=UTC), datetime(2026, 1, 12, 9, tzinfo=UTC),
                      datetime(2026, 1, 19, 1, tzinfo=UTC), datetime(2026, 1, 26, 9, tzinfo=UTC)]


def test_a_mentor_with_two_mentees_is_never_double_booked() -> None:
    mentor = person("Europe/Berlin", (2, "10:00", "12:00"))
    first = plan(Parties(mentor=mentor, mentee=person("Europe/Paris", (2, "09:00", "17:00"))),
                 datetime(2026, 5, 3, tzinfo=UTC), weeks=8)
    booked = tuple((start, start + timedelta(hours=1)) for start in first.series[0].rule.starts())
    second = plan(Parties(mentor=mentor, mentee=person("Europe/Rome", (2, "09:00", "17:00")),
                          mentor_busy=booked),
                  datetime(2026, 5, 3, tzinfo=UTC), weeks=8)
    assert first.series[0].rule.local_start == time(10, 0)
    assert second.series[0].rule.local_start == time(11, 0)
    theirs = set(second.series[0].rule.starts())
    assert all(not (a < b + timedelta(hours=1) and b < a + timedelta(hours=1))
               for a, _ in booked for b in theirs)


def test_the_same_event_plans_the_same_sessions() -> None:
    formed = datetime(2026, 3, 1, 10, 7, 13, tzinfo=UTC)
    assert plan(LONDON_X_NEW_YORK, formed) == plan(LONDON_X_NEW_YORK, formed)
    # The first session is within the window and at least the lead after the event.
    start = plan(LONDON_X_NEW_YORK, formed).series[0].rule.starts()[0]
    assert formed + DAY <= start <= formed + 14 * DAY


def test_a_window_no_later_than_the_configured_days_means_no_plan_in_it() -> None:
    # Available only on Sundays, formed on a Monday, with a 5-day window: nothing fits.
    parties = Parties(mentor=person("UTC", (6, "09:00", "12:00")),
                      mentee=person("UTC", (6, "09:00", "12:00")))
    proposal = propose(parties=parties, occurred_at=datetime(2026, 6, 1, tzinfo=UTC),
                       cadence="weekly", minutes=60, duration_weeks=4, window_days=5, lead=DAY)
    assert not proposal.overlap and proposal.series == []


def test_cadences_and_counts() -> None:
    assert occurrence_count("weekly", 24) == 24
    assert occurrence_count("biweekly", 24) == 12
    assert occurrence_count("monthly", 24) == 6
    # Monthly keeps the weekday of the month: the last Friday when it started on a fifth.
    monthly = SeriesRule(time_zone="Europe/London", local_start=time(9), frequency="monthly",
                         starts_on=date(2026, 1, 30), interval=1, count=3)
    assert monthly.dates() == [date(2026, 1, 30), date(2026, 2, 27), date(2026, 3, 27)]
    second_tuesday = SeriesRule(time_zone="UTC", local_start=time(9), frequency="monthly",
                                starts_on=date(2026, 1, 13), interval=1, count=3)
    assert second_tuesday.dates() == [date(2026, 1, 13), date(2026, 2, 10), date(2026, 3, 10)]


# --- proposing fast: bisection answers as a scan does ------------------------------

_BASE = datetime(2026, 3, 2, tzinfo=UTC)
_quarters = st.integers(min_value=0, max_value=4 * 24 * 21)


@settings(max_examples=300, deadline=None)
@given(spans=st.lists(st.tuples(_quarters, st.integers(min_value=1, max_value=4 * 30)),
                      max_size=40),
       start=_quarters, minutes=st.sampled_from([15, 30, 60, 90, 240]))
def test_sorted_windows_answer_fits_and_distance_as_a_scan(
    spans: list[tuple[int, int]], start: int, minutes: int
) -> None:
    # Overlapping, unsorted, short and long intervals alike.
    intervals = [(_BASE + timedelta(minutes=15 * a), _BASE + timedelta(minutes=15 * (a + n)))
                 for a, n in spans]
    length = timedelta(minutes=minutes)
    begins = _BASE + timedelta(minutes=15 * start)
    indexed = _Sorted(intervals, length)
    assert indexed.fits(begins, begins + length) == fits(intervals, begins, begins + length)
    assert indexed.distance(begins, begins + length) == distance(intervals, begins,
                                                                 begins + length)


def test_a_proposal_only_looks_at_windows_near_its_candidates() -> None:
    # A year-long programme: the slot search reads a month of windows, not two years'.
    seen: list[tuple[datetime, datetime]] = []
    mentee = person("Europe/London", (2, "14:00", "15:00"))

    class Watched(Person):
        def available(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
            seen.append((start, end))
            return super().available(start, end)

    watched = Watched(mentee.time_zone, mentee.windows)
    formed = datetime(2026, 3, 2, 9, tzinfo=UTC)
    proposal = plan(Parties(mentor=watched, mentee=watched), formed, weeks=52)
    assert proposal.overlap and proposal.series[0].rule.starts()[0] == datetime(
        2026, 3, 4, 14, tzinfo=UTC)
    assert seen and max(end for _, end in seen) < formed + timedelta(days=32)



@given(spans=st.lists(st.tuples(_quarters, st.integers(min_value=0, max_value=4 * 30)),
                      max_size=12),
       start=_quarters, minutes=st.integers(min_value=1, max_value=4 * 30))
@settings(max_examples=300, deadline=None)
def test_sorted_bookings_answer_overlaps_as_a_scan(
    spans: list[tuple[int, int]], start: int, minutes: int
) -> None:
    busy = tuple((_BASE + timedelta(minutes=15 * a), _BASE + timedelta(minutes=15 * (a + n)))
                 for a, n in spans)
    begins = _BASE + timedelta(minutes=15 * start)
    ends = begins + timedelta(minutes=minutes)
    nobody = Person("UTC", ())
    half = len(busy) // 2
    parties = Parties(nobody, nobody, mentor_busy=busy[:half], mentee_busy=busy[half:])
    assert _Busy(busy).overlaps(begins, ends) == overlaps(busy, begins, ends)
    assert parties.busy(begins, ends) == overlaps(busy, begins, ends)


def _scanned(who: Person, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """`Person.available` as it was: every window checked against every local day."""
    zone = who.zone
    day, last = start.astimezone(zone).date() - DAY, end.astimezone(zone).date() + DAY
    found = []
    while day <= last:
        for window in who.windows:
            if window.weekday != day.weekday():
                continue
            opens = datetime.combine(day, window.start, tzinfo=zone).astimezone(UTC)
            closes = (datetime.combine(day + DAY, time(0), tzinfo=zone) if window.end is None
                      else datetime.combine(day, window.end, tzinfo=zone)).astimezone(UTC)
            if closes > opens:
                found.append((opens, closes))
        day += DAY
    return sorted(found)


@given(zone=st.sampled_from(["Europe/London", "America/New_York", "Asia/Kolkata",
                             "Australia/Lord_Howe", "UTC"]),
       windows=st.lists(st.tuples(st.integers(min_value=0, max_value=6),
                                  st.integers(min_value=0, max_value=95),
                                  st.integers(min_value=1, max_value=96)), max_size=8),
       days=st.integers(min_value=0, max_value=400), span=st.integers(min_value=0, max_value=60))
@settings(max_examples=200, deadline=None)
def test_available_lays_out_the_same_windows_as_a_scan_of_every_window(
    zone: str, windows: list[tuple[int, int, int]], days: int, span: int
) -> None:
    def clock(quarters: int) -> str:
        return "24:00" if quarters >= 96 else f"{quarters // 4:02d}:{15 * (quarters % 4):02d}"

    who = person(zone, *((weekday, clock(a), clock(max(a + 1, b))) for weekday, a, b in windows))
    start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=days, minutes=15 * span)
    end = start + timedelta(hours=span)
    assert who.available(start, end) == _scanned(who, start, end)
    assert who.available(start, end) == _scanned(who, start, end)  # remembered days too


def _nearest_scanned(parties: Parties, start: datetime, minutes: int, *,
                     sides: tuple[str, ...], not_before: datetime | None) -> datetime | None:
    """`nearest_valid_start` as it was: every grid step either way against every window."""
    length = timedelta(minutes=minutes)
    low, high = start - timedelta(days=7), start + timedelta(days=7) + length
    free = [parties.side(side).available(low, high) for side in sides]
    for k in range(1, 4 * 24 * 7 + 1):
        for candidate in (start - timedelta(minutes=15 * k), start + timedelta(minutes=15 * k)):
            end = candidate + length
            if ((not_before is None or candidate >= not_before)
                    and all(fits(iv, candidate, end) for iv in free)
                    and not parties.busy(candidate, end)):
                return candidate
    return None


_windows = st.lists(st.tuples(st.integers(min_value=0, max_value=6),
                              st.integers(min_value=0, max_value=95),
                              st.integers(min_value=1, max_value=96)), max_size=6)


@given(zones=st.tuples(*[st.sampled_from(["Europe/London", "America/New_York", "Asia/Kathmandu",
                                          "Australia/Lord_Howe", "UTC"])] * 2),
       windows=st.tuples(_windows, _windows),
       bookings=st.lists(st.tuples(st.integers(min_value=-4 * 24 * 8, max_value=4 * 24 * 8),
                                   st.integers(min_value=1, max_value=8)), max_size=60),
       offset=st.integers(min_value=0, max_value=4 * 24 * 365), odd=st.sampled_from([0, 5]),
       minutes=st.sampled_from([15, 45, 60, 90]),
       sides=st.sampled_from([("mentor", "mentee"), ("mentee",), ()]),
       not_before=st.none() | st.integers(min_value=-4 * 24 * 8, max_value=4 * 24 * 8))
@settings(max_examples=200, deadline=None)
def test_the_nearest_valid_start_is_the_one_a_scan_of_every_grid_step_finds(
    zones: tuple[str, str], windows: tuple[list[tuple[int, int, int]], ...],
    bookings: list[tuple[int, int]], offset: int, odd: int, minutes: int,
    sides: tuple[str, ...], not_before: int | None,
) -> None:
    def clock(quarters: int) -> str:
        return "24:00" if quarters >= 96 else f"{quarters // 4:02d}:{15 * (quarters % 4):02d}"

    mentor, mentee = (person(zone, *((weekday, clock(a), clock(max(a + 1, b)))
                                     for weekday, a, b in own))
                      for zone, own in zip(zones, windows, strict=True))
    # A start off the grid too (a stored start needs not lie on it).
    start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=15 * offset + odd)
    busy = tuple((start + timedelta(minutes=15 * a), start + timedelta(minutes=15 * (a + n)))
                 for a, n in bookings)
    parties = Parties(mentor, mentee, mentor_busy=busy[::2], mentee_busy=busy[1::2])
    earliest = None if not_before is None else start + timedelta(minutes=15 * not_before)
    assert nearest_valid_start(parties, start, minutes, sides=sides, not_before=earliest) == (
        _nearest_scanned(parties, start, minutes, sides=sides, not_before=earliest))
    for who in (mentor, mentee):
        end = start + timedelta(minutes=minutes)
        assert who.holds(start, end) == fits(who.available(start, end), start, end)
