"""Calendars (RFC 5545) of plans: a participant's subscribed feed, and a plan's invitation.

Each series of a plan is one VEVENT with an RRULE in the series' own zone (with its
VTIMEZONE); a cancelled occurrence is an EXDATE, a moved one (or one whose length
changed) an override carrying the same UID and a RECURRENCE-ID of its original start.
UIDs are the series' ids, so they never change; SEQUENCE is the plan's, which goes up
on every change of the plan or one of its occurrences; DTSTAMP is the plan's last
change, so the same plan always writes the same bytes. Nothing private travels: no
recap, no note, no partner's name; the summary says what it is, no more.
"""

from __future__ import annotations

import hashlib
import secrets
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, Timezone, vRecur

from scheduling.models import (
    GroupSession,
    GroupSessionStatus,
    MentoringSession,
    Plan,
    PlanSeries,
    SessionStatus,
)
from scheduling.recurrence import SeriesRule

PRODID = "-//Upward//Reverse mentoring scheduling//EN"
SUMMARY = "Reverse-mentoring session"
UID_DOMAIN = "upward.scheduling"
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


@dataclass(frozen=True)
class PlanCalendar:
    """A plan with its series and every materialised occurrence."""

    plan: Plan
    series: Sequence[PlanSeries]
    occurrences: Sequence[MentoringSession]


def new_secret() -> str:
    """A feed secret: 256 random bits as hex (64 characters, a valid id in a URL path)."""
    return secrets.token_hex(32)


def secret_hash(secret: str) -> str:
    """What is stored of a feed secret: its SHA-256, never the secret itself."""
    return hashlib.sha256(secret.encode()).hexdigest()


def rule_of(series: PlanSeries) -> SeriesRule:
    return SeriesRule(time_zone=series.time_zone,
                      local_start=time.fromisoformat(series.local_start),
                      starts_on=series.starts_on, frequency=series.frequency,
                      interval=series.interval, count=series.count)


def uid_of(series: PlanSeries) -> str:
    return f"{series.id}@{UID_DOMAIN}"


def _rrule(rule: SeriesRule) -> vRecur:
    if rule.frequency == "weekly":
        return vRecur({"FREQ": "WEEKLY", "INTERVAL": rule.interval, "COUNT": rule.count,
                       "BYDAY": WEEKDAYS[rule.weekday]})
    return vRecur({"FREQ": "MONTHLY", "INTERVAL": rule.interval, "COUNT": rule.count,
                   "BYDAY": f"{rule.nth}{WEEKDAYS[rule.weekday]}"})


def _stamp(event: Event, entry: PlanCalendar, *, uid: str, sequence: int) -> None:
    event.add("uid", uid)
    event.add("dtstamp", entry.plan.changed_at.astimezone(UTC))
    event.add("sequence", sequence)
    event.add("summary", SUMMARY)
    event.add("transp", "OPAQUE")


def series_events(entry: PlanCalendar, *, cancelled: bool = False) -> list[Event]:
    """The VEVENTs of a plan: one master per series, then its overrides."""
    plan = entry.plan
    sequence = plan.sequence + (1 if cancelled else 0)
    by_series: dict[str, list[MentoringSession]] = {}
    for row in entry.occurrences:
        if row.series_id is not None:
            by_series.setdefault(row.series_id, []).append(row)
    events: list[Event] = []
    for series in entry.series:
        if series.count == 0:
            continue  # ended before its first occurrence (another slot replaced it)
        rule = rule_of(series)
        zone = ZoneInfo(series.time_zone)
        uid = uid_of(series)
        master = Event()
        _stamp(master, entry, uid=uid, sequence=sequence)
        first = datetime.combine(rule.starts_on, rule.local_start, tzinfo=zone)
        master.add("dtstart", first)
        master.add("duration", timedelta(minutes=plan.duration_minutes))
        master.add("rrule", _rrule(rule))
        if cancelled:
            master.add("status", "CANCELLED")
        else:
            master.add("status", "CONFIRMED" if plan.status == "accepted" else "TENTATIVE")
        rows = sorted(by_series.get(series.id, []), key=lambda r: r.occurrence_index or 0)
        dropped = [row for row in rows if row.status == SessionStatus.CANCELLED
                   and row.original_starts_at is not None]
        if dropped:
            master.add("exdate", [row.original_starts_at.astimezone(zone)  # type: ignore[union-attr]
                                  for row in dropped])
        events.append(master)
        if cancelled:
            continue
        for row in rows:
            if row.status == SessionStatus.CANCELLED or row.original_starts_at is None:
                continue
            if (row.starts_at == row.original_starts_at
                    and row.duration_minutes == plan.duration_minutes):
                continue
            moved = Event()
            _stamp(moved, entry, uid=uid, sequence=sequence)
            moved.add("recurrence-id", row.original_starts_at.astimezone(zone))
            moved.add("dtstart", row.starts_at.astimezone(zone))
            moved.add("duration", timedelta(minutes=row.duration_minutes))
            moved.add("status", "CONFIRMED" if plan.status == "accepted" else "TENTATIVE")
            events.append(moved)
    return events


def _calendar(name: str, *, method: str | None = None) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    if method:
        calendar.add("method", method)
    calendar.add("x-wr-calname", name)
    return calendar


def _finish(calendar: Calendar, entries: Sequence[PlanCalendar]) -> bytes:
    starts = [row.starts_at for entry in entries for row in entry.occurrences]
    starts += [row.original_starts_at for entry in entries for row in entry.occurrences
               if row.original_starts_at is not None]
    body = bytes(calendar.to_ical())
    if not starts:
        return body
    # VTIMEZONEs whose rules cover every instant of the calendar, a year either side, in
    # the order of their TZIDs (the same plan, the same bytes), ahead of the events,
    # where icalendar's add_missing_timezones puts them.
    first_date = (min(starts) - timedelta(days=366)).date()
    last_date = (max(starts) + timedelta(days=366)).date()
    zones = b"".join(_vtimezone(tzid, first_date, last_date)
                     for tzid in sorted(calendar.get_missing_tzids()))
    at = body.find(b"BEGIN:VEVENT\r\n")
    at = at if at >= 0 else body.rindex(b"END:VCALENDAR")
    return body[:at] + zones + body[at:]


@lru_cache(maxsize=4096)
def _vtimezone(tzid: str, first_date: date, last_date: date) -> bytes:
    """A zone's VTIMEZONE over those dates, serialised: worked out once, then reused.

    Building one walks the zone's transitions and writing it folds a line per rule:
    most of a feed's cost, and the same for every feed in that zone over those dates.
    A zone icalendar does not know goes without one (as add_missing_timezones does).
    """
    try:
        return bytes(Timezone.from_tzid(tzid, first_date=first_date,
                                        last_date=last_date).to_ical())
    except ValueError:
        return b""


GROUP_UID_DOMAIN = "upward.groupsession"


def group_event(row: GroupSession) -> Event:
    """A group session as one VEVENT in UTC: its id as UID, its SEQUENCE, STATUS:CANCELLED
    once cancelled (so a subscribed calendar drops it). Title and place are the
    programme's own public text; nobody's answer travels."""
    event = Event()
    event.add("uid", f"{row.id}@{GROUP_UID_DOMAIN}")
    event.add("dtstamp", row.updated_at.astimezone(UTC))
    event.add("sequence", row.sequence)
    event.add("summary", row.title)
    event.add("dtstart", row.starts_at.astimezone(UTC))
    event.add("dtend", row.starts_at.astimezone(UTC) + timedelta(minutes=row.duration_minutes))
    if row.location or row.link:
        event.add("location", row.location or row.link)
    if row.link:
        event.add("url", row.link)
    cancelled = row.status == GroupSessionStatus.CANCELLED
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    return event


# What a feed's bytes are made of: the columns the rendering reads. `feed_key` digests
# them; a test changes every other column and finds the same bytes.
PLAN_FIELDS = ("id", "sequence", "changed_at", "status", "duration_minutes")
SERIES_FIELDS = ("id", "count", "time_zone", "local_start", "starts_on", "frequency",
                 "interval")
OCCURRENCE_FIELDS = ("series_id", "status", "original_starts_at", "starts_at",
                     "duration_minutes", "occurrence_index")
GROUP_FIELDS = ("id", "updated_at", "sequence", "title", "starts_at", "duration_minutes",
                "location", "link", "status")
# Rendered feeds kept by a replica, in bytes of their bodies.
FEED_CACHE_BYTES = 32 * 1024 * 1024


def _digest(digest: Any, row: object, fields: Sequence[str]) -> None:
    digest.update(repr(tuple(getattr(row, name) for name in fields)).encode())


def feed_key(entries: Sequence[PlanCalendar], *, name: str = "Reverse mentoring",
             group_sessions: Sequence[GroupSession] = ()) -> str:
    """A digest of everything `feed` renders: the same key, the same bytes (the feed's
    ETag, and its key among the rendered feeds kept)."""
    digest = hashlib.blake2b(name.encode(), digest_size=16)
    for entry in entries:
        _digest(digest, entry.plan, PLAN_FIELDS)
        for series in entry.series:
            _digest(digest, series, SERIES_FIELDS)
        for row in entry.occurrences:
            _digest(digest, row, OCCURRENCE_FIELDS)
        digest.update(b"\x00")
    for group in group_sessions:
        _digest(digest, group, GROUP_FIELDS)
    return digest.hexdigest()


class RenderedFeeds:
    """Feeds as rendered, by `feed_key`, the least recently asked dropped past `max_bytes`.

    Rendering a year of sessions is most of a feed's cost, and a subscribed calendar
    asks for the same feed again and again between changes. Keyed by content, an entry
    can never be stale: a change makes another key, and the old entry ages out.
    """

    def __init__(self, max_bytes: int = FEED_CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._bodies: OrderedDict[str, bytes] = OrderedDict()

    def get(self, key: str) -> bytes | None:
        body = self._bodies.get(key)
        if body is not None:
            self._bodies.move_to_end(key)
        return body

    def put(self, key: str, body: bytes) -> None:
        if len(body) > self.max_bytes or key in self._bodies:
            return
        self._bodies[key] = body
        self.size += len(body)
        while self.size > self.max_bytes:
            _, dropped = self._bodies.popitem(last=False)
            self.size -= len(dropped)

    def clear(self) -> None:
        self._bodies.clear()
        self.size = 0

    def __len__(self) -> int:
        return len(self._bodies)


def feed(
    entries: Sequence[PlanCalendar], *, name: str = "Reverse mentoring",
    group_sessions: Sequence[GroupSession] = (),
) -> bytes:
    """A participant's subscribed calendar: every series of every plan they are in, and
    every group session they said yes to."""
    calendar = _calendar(name)
    for entry in entries:
        for event in series_events(entry):
            calendar.add_component(event)
    for row in group_sessions:
        calendar.add_component(group_event(row))
    return _finish(calendar, entries)


def invitation(entry: PlanCalendar, *, method: str, organizer: str) -> bytes:
    """One plan as an iTIP message: METHOD:REQUEST (invite or update) or METHOD:CANCEL."""
    if method not in ("REQUEST", "CANCEL"):
        raise ValueError(method)
    calendar = _calendar("Reverse mentoring", method=method)
    for event in series_events(entry, cancelled=method == "CANCEL"):
        event.add("organizer", organizer)
        calendar.add_component(event)
    return _finish(calendar, [entry])
