"""Calendar feeds expand, in an independent library, to exactly the service's occurrences."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import recurring_ical_events
from icalendar import Calendar

from scheduling import ical
from scheduling.models import (
    Cadence,
    GroupSession,
    MentoringSession,
    Plan,
    PlanSeries,
    PlanStatus,
    SessionStatus,
)
from scheduling.recurrence import rule_at

ZONES = [
    "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles",
    "America/Anchorage", "Pacific/Honolulu", "America/Sao_Paulo", "America/Mexico_City",
    "America/Toronto", "America/Santiago", "America/St_Johns", "America/Havana",
    "Europe/London", "Europe/Dublin", "Europe/Lisbon", "Europe/Paris", "Europe/Berlin",
    "Europe/Athens", "Europe/Helsinki", "Europe/Istanbul", "Europe/Moscow", "Africa/Cairo",
    "Africa/Lagos", "Africa/Johannesburg", "Asia/Dubai", "Asia/Tehran", "Asia/Kolkata",
    "Asia/Kathmandu", "Asia/Dhaka", "Asia/Bangkok", "Asia/Singapore", "Asia/Shanghai",
    "Asia/Tokyo", "Australia/Adelaide", "Australia/Sydney", "Australia/Lord_Howe",
    "Pacific/Auckland", "Pacific/Chatham", "Asia/Jerusalem", "UTC",
]
# Weeks around the clock changes: the US (March 8, November 1 2026), the EU (March 29,
# October 25 2026) and the southern hemisphere (April 5, September 27 2026).
STARTS = [date(2026, 2, 23), date(2026, 3, 2), date(2026, 3, 23), date(2026, 3, 30),
          date(2026, 9, 21), date(2026, 10, 19), date(2026, 10, 26), date(2026, 12, 28)]
AT = datetime(2026, 1, 15, 12, tzinfo=UTC)


def build_plan(rng: random.Random, number: int) -> ical.PlanCalendar:
    """A plan as the service keeps it, with some occurrences moved and some cancelled."""
    zone = ZONES[number % len(ZONES)]
    cadence = rng.choice(list(Cadence))
    minutes = rng.choice([30, 45, 60, 90])
    plan = Plan(id=f"plan-{number}", pair_id=f"pair-{number}", programme_id="prog",
                status=rng.choice(list(PlanStatus)), anchor_time_zone=zone, cadence=cadence,
                duration_minutes=minutes, created_at=AT, changed_at=AT,
                sequence=rng.randint(0, 5))
    series_rows: list[PlanSeries] = []
    rows: list[MentoringSession] = []
    for position in range(rng.choice([1, 1, 1, 2])):
        day = rng.choice(STARTS) + timedelta(days=rng.randint(0, 6) + 7 * position)
        local = time(rng.randint(6, 21), rng.choice([0, 15, 30, 45]))
        start = datetime.combine(day, local, tzinfo=ZoneInfo(zone))
        rule = rule_at(start, time_zone=zone, cadence=cadence, count=rng.randint(1, 14),
                       every=1 + position)
        series = PlanSeries(id=f"series-{number}-{position}", plan_id=plan.id,
                            position=position, time_zone=zone,
                            local_start=rule.local_start.strftime("%H:%M"),
                            starts_on=rule.starts_on, frequency=rule.frequency,
                            interval=rule.interval, count=rule.count, fits="mentor,mentee")
        series_rows.append(series)
        for index, occurrence in enumerate(rule.starts()):
            row = MentoringSession(id=f"s-{number}-{position}-{index}", pair_id=plan.pair_id,
                                   programme_id="prog", starts_at=occurrence,
                                   duration_minutes=minutes, created_at=AT, plan_id=plan.id,
                                   series_id=series.id, occurrence_index=index,
                                   original_starts_at=occurrence)
            luck = rng.random()
            if luck < 0.1:
                row.status = SessionStatus.CANCELLED
            elif luck < 0.2:
                row.starts_at = occurrence + timedelta(minutes=15 * rng.randint(-96, 96))
            elif luck < 0.25:
                row.status = SessionStatus.HELD
                row.duration_minutes = minutes + 10  # held longer than planned
            rows.append(row)
    return ical.PlanCalendar(plan=plan, series=series_rows, occurrences=rows)


def expected(entry: ical.PlanCalendar) -> set[tuple[str, datetime, timedelta]]:
    uids = {series.id: ical.uid_of(series) for series in entry.series}
    return {(uids[row.series_id or ""], row.starts_at, timedelta(minutes=row.duration_minutes))
            for row in entry.occurrences if row.status != SessionStatus.CANCELLED}


def expanded(body: bytes) -> set[tuple[str, datetime, timedelta]]:
    calendar = Calendar.from_ical(body)
    found = set()
    for event in recurring_ical_events.of(calendar).between(datetime(2025, 1, 1, tzinfo=UTC),
                                                            datetime(2032, 1, 1, tzinfo=UTC)):
        start = event["DTSTART"].dt
        end = event["DTEND"].dt if "DTEND" in event else start + event["DURATION"].dt
        found.add((str(event["UID"]), start.astimezone(UTC), end - start))
    return found


def test_every_generated_feed_expands_to_the_services_own_occurrences() -> None:
    rng = random.Random(20261202)
    plans = [build_plan(rng, number) for number in range(520)]
    assert len({entry.plan.anchor_time_zone for entry in plans}) >= 30
    moved = cancelled = 0
    differences = []
    for entry in plans:
        body = ical.feed([entry])
        if expanded(body) != expected(entry):
            differences.append((entry.plan.id, expanded(body) ^ expected(entry)))
        moved += sum(r.starts_at != r.original_starts_at for r in entry.occurrences)
        cancelled += sum(r.status == SessionStatus.CANCELLED for r in entry.occurrences)
    assert differences == []
    assert moved > 100 and cancelled > 100
    # Several plans in one feed too (a participant with more than one pair).
    together = ical.feed(plans[:40])
    assert expanded(together) == set().union(*(expected(entry) for entry in plans[:40]))


def test_a_feed_has_a_vtimezone_per_tzid_stable_uids_and_nothing_private() -> None:
    rng = random.Random(7)
    entry = build_plan(rng, 3)
    entry.occurrences[0].recap = "We discussed my manager."
    body = ical.feed([entry])
    calendar = Calendar.from_ical(body)
    zones = {str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")}
    used = {event["DTSTART"].params.get("TZID") for event in calendar.walk("VEVENT")}
    assert used <= zones and zones
    assert body == ical.feed([entry])  # the same plan writes the same bytes
    assert {str(e["UID"]) for e in calendar.walk("VEVENT")} == {
        ical.uid_of(series) for series in entry.series}
    assert b"manager" not in body
    for event in calendar.walk("VEVENT"):
        assert int(event["SEQUENCE"]) == entry.plan.sequence


def test_a_plans_invitation_and_its_cancellation() -> None:
    entry = build_plan(random.Random(11), 5)
    request = Calendar.from_ical(ical.invitation(entry, method="REQUEST",
                                                 organizer="mailto:mentoring@example.com"))
    cancel = Calendar.from_ical(ical.invitation(entry, method="CANCEL",
                                                organizer="mailto:mentoring@example.com"))
    assert str(request["METHOD"]) == "REQUEST" and str(cancel["METHOD"]) == "CANCEL"
    assert expanded(request.to_ical()) == expected(entry)
    cancelled = cancel.walk("VEVENT")
    assert {str(e["STATUS"]) for e in cancelled} == {"CANCELLED"}
    # A cancellation outranks the request it withdraws.
    assert all(int(e["SEQUENCE"]) == entry.plan.sequence + 1 for e in cancelled)
    assert all("ORGANIZER" in e for e in [*cancelled, *request.walk("VEVENT")])


def test_feed_secrets_are_random_and_kept_as_their_hash() -> None:
    first, second = ical.new_secret(), ical.new_secret()
    assert first != second and len(first) == 64
    assert ical.secret_hash(first) != first and len(ical.secret_hash(first)) == 64


def test_blackout_skips_expand_as_exceptions_even_the_series_first() -> None:
    # An alternating plan's second series may start on a blackout date: its DTSTART is
    # then an EXDATE too, and the expansion still equals the service's list.
    rng = random.Random(13)
    checked = 0
    for number in range(60):
        entry = build_plan(rng, 1000 + number)
        for row in entry.occurrences:
            row.status, row.starts_at = SessionStatus.PLANNED, row.original_starts_at  # type: ignore[assignment]
        skipped = [row for row in entry.occurrences if row.occurrence_index in (0, 2)]
        for row in skipped:
            row.status, row.cancel_reason = SessionStatus.CANCELLED, "blackout"
        body = ical.feed([entry])
        assert expanded(body) == expected(entry), entry.plan.id
        checked += len(skipped)
    assert checked > 60


def test_a_feed_reuses_its_vtimezones_and_writes_what_icalendar_would() -> None:
    rng = random.Random(7)
    entries = [build_plan(rng, number) for number in (12, 12 + len(ZONES), 0)]  # London x2, NY
    ical._vtimezone.cache_clear()
    body = ical.feed(entries)
    # What icalendar's own add_missing_timezones writes, zones in TZID order.
    reference = Calendar.from_ical(body)
    reference.subcomponents = [c for c in reference.subcomponents if c.name != "VTIMEZONE"]
    starts = [row.starts_at for entry in entries for row in entry.occurrences]
    starts += [row.original_starts_at for entry in entries for row in entry.occurrences
               if row.original_starts_at is not None]
    reference.add_missing_timezones(first_date=(min(starts) - timedelta(days=366)).date(),
                                    last_date=(max(starts) + timedelta(days=366)).date())
    reference.subcomponents.sort(key=lambda c: (c.name != "VTIMEZONE", str(c.get("TZID", ""))))
    assert [str(tz["TZID"]) for tz in Calendar.from_ical(body).timezones] == [
        "America/New_York", "Europe/London"]
    assert Calendar.from_ical(body).to_ical() == Calendar.from_ical(reference.to_ical()).to_ical()
    built = ical._vtimezone.cache_info().misses
    assert ical.feed(entries) == body  # the same plans, the same bytes
    assert ical._vtimezone.cache_info().misses == built  # and no zone worked out again


def _another(row: Any, name: str) -> Any:
    """A value of the column `name` of `row` other than its own."""
    value = getattr(row, name)
    if value is None:
        column = type(row).__table__.columns[name]  # type: ignore[attr-defined]
        try:
            kind = column.type.python_type
        except NotImplementedError:
            kind = dict
        value = {str: "", int: 0, float: 0.0, bool: False, datetime: AT,
                 date: AT.date()}.get(kind, {})  # a JSON column's: a dict
        if kind not in (str, int, float):
            return value  # None, then a value: changed
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + 1
    if isinstance(value, datetime):
        return value + timedelta(minutes=1)
    if isinstance(value, date):
        return value + timedelta(days=1)
    if isinstance(value, list):
        return [*value, {"extra": 1}]
    if isinstance(value, dict):
        return {**value, "extra": 1}
    return f"{value}z"


def _group(number: int) -> GroupSession:
    return GroupSession(id=f"group-{number}", programme_id="prog", title="Monthly gathering",
                        starts_at=AT + timedelta(days=number), duration_minutes=90,
                        location="Room 4", link="https://example.com/meet", capacity=40,
                        created_at=AT, updated_at=AT, sequence=1)


def test_a_feed_key_covers_every_column_the_feed_renders() -> None:
    """Changing a column outside the key's fields never changes the bytes; changing one
    of them changes the key. So a key names one rendering, and none gets stale."""
    rng = random.Random(29)
    checked = 0
    for number in range(6):
        entries = [build_plan(rng, 2000 + number), build_plan(rng, 3000 + number)]
        groups = [_group(number)]
        body, key = ical.feed(entries, group_sessions=groups), ical.feed_key(
            entries, group_sessions=groups)
        rows: list[tuple[Any, tuple[str, ...]]] = [(entries[0].plan, ical.PLAN_FIELDS),
                                                  (groups[0], ical.GROUP_FIELDS)]
        rows += [(series, ical.SERIES_FIELDS) for series in entries[0].series]
        rows += [(row, ical.OCCURRENCE_FIELDS) for row in entries[0].occurrences[:6]]
        for row, fields in rows:
            for name in [c.name for c in type(row).__table__.columns]:  # type: ignore[attr-defined]
                kept = getattr(row, name)
                setattr(row, name, _another(row, name))
                try:
                    if name in fields:
                        assert ical.feed_key(entries, group_sessions=groups) != key, name
                    else:
                        assert ical.feed(entries, group_sessions=groups) == body, name
                        assert ical.feed_key(entries, group_sessions=groups) == key, name
                finally:
                    setattr(row, name, kept)
                checked += 1
    assert checked > 300


def test_rendered_feeds_keep_the_most_recently_asked_within_their_bytes() -> None:
    kept = ical.RenderedFeeds(max_bytes=10)
    kept.put("a", b"1234")
    kept.put("b", b"5678")
    assert kept.get("a") == b"1234"  # now the most recently asked
    kept.put("c", b"90ab")  # 12 bytes: the least recently asked (b) goes
    assert (kept.get("b"), kept.get("a"), kept.get("c"), kept.size, len(kept)) == (
        None, b"1234", b"90ab", 8, 2)
    kept.put("huge", b"x" * 11)  # larger than everything kept: not kept
    assert kept.get("huge") is None and len(kept) == 2
