"""Scheduling's rules: planning a pair's sessions, logging them, and who may see what.

The handlers of the events scheduling consumes are rules too (`on_<event>`);
`main.py` lists them beside the routers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Table
from sqlmodel.ext.asyncio.session import AsyncSession

from scheduling import events, gatherings, ical, recurrence, repository
from scheduling.config import SchedulingSettings
from scheduling.models import (
    Cadence,
    CalendarFeed,
    CalendarFeedIssued,
    CalendarFeedRevoked,
    InvitationMethod,
    MemberLog,
    MemberLogPublic,
    MentoringSession,
    NearestSlotPublic,
    OccurrenceCancel,
    OccurrencePublic,
    OccurrenceReschedule,
    Pair,
    PairSessions,
    PairStatus,
    Participant,
    Plan,
    PlanPublic,
    PlanSeries,
    PlanSlotProposal,
    PlanStatus,
    PrivateNote,
    Programme,
    RescheduleScope,
    SeriesPublic,
    SessionLog,
    SessionLogCorrection,
    SessionPublic,
    SessionStatus,
    Side,
    UpcomingChange,
    new_id,
)
from upward_common.auth import Principal
from upward_common.batch import Missing, collect
from upward_common.consumer import applies_many
from upward_common.db import bulk_insert
from upward_common.events import (
    EmployeeErased,
    PairEnded,
    PairFormed,
    ParticipantUpdated,
    ProgrammeUpdated,
    utcnow,
)
from upward_common.problems import Problem, conflict, invalid, not_found

# Why an occurrence on one of the programme's blackout dates is skipped (cancel_reason).
BLACKOUT = "blackout"


def _not_member() -> Problem:
    return Problem(403, "Only the two members of the pair may do this", kind="forbidden")


# --- handlers of the events scheduling consumes ----------------------------------


async def _pairs_formed(session: AsyncSession, items: Sequence[PairFormed]) -> None:
    """`on_pair_formed` for a run of events: the pairs read in one query, settings once."""
    known = await repository.pairs_by_id(session, [data.pair_id for data in items])
    formed: list[tuple[Pair, datetime]] = []
    for data in items:
        pair = known.get(data.pair_id)
        if pair is not None and pair.formed_at is not None:
            continue  # the same pair announced twice (in this run too): it has its plan
        known[data.pair_id] = _formed(session, data, pair)
        if pair is None:  # not a tombstone of a `pair.ended` that overtook `pair.formed`
            formed.append((known[data.pair_id], data.occurred_at))
    await plan_pairs(session, formed, settings=SchedulingSettings())


@applies_many(_pairs_formed)
async def on_pair_formed(session: AsyncSession, data: PairFormed) -> None:
    """Remember the pair and plan its first session, unless the pair is known already."""
    await _pair_formed(session, data, await repository.get_pair(session, data.pair_id),
                       settings=SchedulingSettings())


async def _pair_formed(session: AsyncSession, data: PairFormed, pair: Pair | None, *,
                       settings: SchedulingSettings) -> Pair:
    if pair is not None and pair.formed_at is not None:
        return pair  # the same pair announced twice: it already has its plan
    ended_early = pair is not None  # a tombstone: `pair.ended` overtook `pair.formed`
    pair = _formed(session, data, pair)
    if not ended_early:
        await plan_pair(session, pair=pair, occurred_at=data.occurred_at, settings=settings)
    return pair


def _formed(session: AsyncSession, data: PairFormed, pair: Pair | None) -> Pair:
    """The pair (or its tombstone) with its members and formation time, added to `session`."""
    if pair is None:
        pair = Pair(id=data.pair_id, programme_id=data.programme_id)
    pair.mentor_employee_id = data.mentor_employee_id
    pair.mentee_employee_id = data.mentee_employee_id
    pair.formed_at = data.occurred_at
    # Written by the next query's autoflush, or by the plan's flush.
    session.add(pair)
    return pair


async def on_pair_ended(session: AsyncSession, data: PairEnded) -> None:
    """End the pair and cancel its sessions planned from then on."""
    pair = await repository.get_pair(session, data.pair_id)
    if pair is None:
        pair = Pair(id=data.pair_id, programme_id=data.programme_id)
    if pair.status == PairStatus.ENDED:
        return
    pair.status = PairStatus.ENDED
    pair.ended_at = data.occurred_at
    pair.ended_reason = data.reason[:200]
    await repository.add(session, pair)
    cancelled = await repository.cancel_planned_sessions(
        session, pair_ids=[data.pair_id], starting_from=data.occurred_at)
    for row in cancelled:
        row.cancel_reason = "pair ended"
        row.sequence += 1
        row.changed_at = data.occurred_at
        await repository.add(session, row)
    events.sessions_cancelled(session, cancelled, reason=f"pair ended: {data.reason}",
                              occurred_at=data.occurred_at)


async def on_programme_updated(session: AsyncSession, data: ProgrammeUpdated) -> None:
    """Keep the latest programme rules; an older update arriving late is ignored."""
    programme = data.programme
    row = await repository.get_programme(session, programme.programme_id)
    if row is not None and row.occurred_at > data.occurred_at:
        return
    before = set(row.blackout_dates or []) if row is not None else set()
    row = row or Programme(id=programme.programme_id, name=programme.name,
                           status=programme.status, session_cadence=programme.session_cadence,
                           session_minutes=programme.session_minutes,
                           topics=list(programme.topics), occurred_at=data.occurred_at)
    row.name = programme.name
    row.status = programme.status
    row.session_cadence = programme.session_cadence
    row.session_minutes = programme.session_minutes
    row.duration_weeks = programme.duration_weeks
    row.topics = list(programme.topics)
    row.blackout_dates = sorted({day.isoformat() for day in programme.blackout_dates})
    row.goal_templates = [template.model_dump(mode="json")
                          for template in programme.goal_templates]
    row.occurred_at = data.occurred_at
    await repository.add(session, row)
    if set(row.blackout_dates) - before:
        await skip_blackout_occurrences(session, programme=row, since=data.occurred_at)


def blackout_of(programme: Programme | None) -> frozenset[date]:
    """The programme's blackout dates (none while scheduling has not seen it)."""
    if programme is None:
        return frozenset()
    return frozenset(date.fromisoformat(day) for day in programme.blackout_dates or [])


async def skip_blackout_occurrences(
    session: AsyncSession, *, programme: Programme, since: datetime
) -> None:
    """Skip the programme's planned occurrences from `since` on that fall on a blackout date.

    Each date is read in the series' own zone (the plan's anchor zone); the time is the
    event's, so a replay skips the same.
    """
    blackout = blackout_of(programme)
    rows = await repository.planned_of_programme(session, programme_id=programme.id,
                                                 starting_from=since)
    series = await repository.series_by_id(session, [r.series_id for r in rows if r.series_id])
    plans = await repository.plans_by_id(session, [r.plan_id for r in rows if r.plan_id])
    skipped = []
    for row in rows:
        plan = plans.get(row.plan_id or "")
        if plan is None:
            continue
        own = series.get(row.series_id or "")
        zone = own.time_zone if own is not None else plan.anchor_time_zone
        if not recurrence.on_blackout(row.starts_at, zone, blackout):
            continue
        row.status = SessionStatus.CANCELLED
        row.cancel_reason = BLACKOUT
        row.sequence += 1
        row.changed_at = since
        row.conflict_side = None
        row.alternative_starts_at = None
        await repository.add(session, row)
        skipped.append(row)
    for plan_id in dict.fromkeys(row.plan_id for row in skipped if row.plan_id):
        plan = plans[plan_id]
        _touch(plan, since)
        await repository.add(session, plan)
    events.sessions_cancelled(session, skipped, reason=BLACKOUT, occurred_at=since)


async def _participants_updated(session: AsyncSession, items: Sequence[ParticipantUpdated]
                                ) -> None:
    """`on_participant_updated` for a run: the rows read in one query and written in one
    flush, and who has a plan to re-flag asked once.

    A re-flag is done in its event's place, after the rows before it are written, so it
    sees what it would one event at a time (an availability change of somebody with no
    active pair's plan has nothing to re-flag, and the run forms no pair).
    """
    known = await repository.participants_by_id(
        session, [data.participant.participant_id for data in items])
    keys = [(data.participant.programme_id, data.participant.employee.employee_id)
            for data in items]
    planned = await repository.employees_with_active_plans(session, keys)
    for data in items:
        row, changed = _participant_row(known.get(data.participant.participant_id), data)
        if row is None:
            continue
        known[row.id] = row
        session.add(row)
        if changed and (row.programme_id, row.employee_id) in planned:
            await session.flush()
            await reflag_future_occurrences(session, participant=row, since=data.occurred_at)
    await session.flush()


@applies_many(_participants_updated)
async def on_participant_updated(session: AsyncSession, data: ParticipantUpdated) -> None:
    """Keep what planning needs of a participant; an older update arriving late is ignored."""
    row, changed = _participant_row(
        await repository.get_participant(session, data.participant.participant_id), data)
    if row is None:
        return
    await repository.add(session, row)
    if changed and row.employee_id is not None:
        await reflag_future_occurrences(session, participant=row, since=data.occurred_at)


def _participant_row(row: Participant | None, data: ParticipantUpdated
                     ) -> tuple[Participant | None, bool]:
    """The participant's row as the update leaves it (None: the update is older than it),
    and whether their availability changed."""
    participant = data.participant
    if row is not None and row.occurred_at > data.occurred_at:
        return None, False
    row = row or Participant(id=participant.participant_id, programme_id=participant.programme_id,
                             role=participant.role, status=participant.status,
                             occurred_at=data.occurred_at)
    row.employee_id = participant.employee.employee_id
    row.role = participant.role
    row.status = participant.status
    row.time_zone = participant.time_zone or participant.employee.time_zone
    availability = [window.model_dump() for window in participant.availability]
    changed = row.availability != availability
    row.availability = availability
    row.occurred_at = data.occurred_at
    return row, changed


async def on_employee_erased(session: AsyncSession, data: EmployeeErased) -> None:
    """Forget an employee: their notes and recaps go, their pairs' future sessions are cancelled."""
    pairs = await repository.pairs_of_employee(session, data.employee_id)
    cancelled = await repository.cancel_planned_sessions(
        session, pair_ids=[pair.id for pair in pairs], starting_from=data.occurred_at)
    events.sessions_cancelled(session, cancelled, reason="a participant was erased")
    await repository.forget_employee(session, data.employee_id)
    await gatherings.forget_employee(session, data.employee_id)


# --- from the API ----------------------------------------------------------------


async def _pair_of(session: AsyncSession, pair_id: str) -> Pair:
    pair = await repository.get_pair(session, pair_id)
    if pair is None or pair.formed_at is None:
        raise not_found("Pair", pair_id)
    return pair


async def present(
    session: AsyncSession, *, user: Principal, sessions: Sequence[MentoringSession],
    pairs: dict[str, Pair],
) -> list[SessionPublic]:
    """Sessions as `user` may see them: the recap for the pair only, notes for their author,
    each member's rating and fit for that member only."""
    notes: dict[str, str] = {}
    if user.employee_id is not None:
        notes = await repository.notes_by_author(
            session, author_employee_id=user.employee_id, session_ids=[s.id for s in sessions])
    logs: dict[str, list[MemberLogPublic]] = {}
    for log in await repository.logs_of_sessions(session, [s.id for s in sessions]):
        mine = user.employee_id is not None and log.author_employee_id == user.employee_id
        logs.setdefault(log.session_id, []).append(_present_log(log, mine=mine))
    shown = []
    for row in sessions:
        member = pairs[row.pair_id].has_member(user.employee_id)
        shown.append(SessionPublic(
            id=row.id,
            pair_id=row.pair_id,
            programme_id=row.programme_id,
            starts_at=row.starts_at,
            duration_minutes=row.duration_minutes,
            status=row.status,
            held_at=row.held_at,
            recap=row.recap if member else None,
            key_takeaways=row.key_takeaways if member else None,
            my_private_note=notes.get(row.id),
            logs=logs.get(row.id, []),
        ))
    return shown


def _present_log(log: MemberLog, *, mine: bool) -> MemberLogPublic:
    # A member's rating and fit answer are theirs: not the partner's to read, nor an admin's
    # (analytics counts them, without names).
    return MemberLogPublic(
        author_role=log.author_role, mine=mine, held_at=log.held_at,
        duration_minutes=log.duration_minutes, mentor_attended=log.mentor_attended,
        mentee_attended=log.mentee_attended, topics=list(log.topics),
        rating=log.rating if mine else None, fit=log.fit if mine else None,
        logged_at=log.logged_at, corrected_at=log.corrected_at,
        correctable_until=log.correctable_until,
    )


async def list_pair_sessions(
    session: AsyncSession, *, user: Principal, pair_id: str
) -> list[SessionPublic]:
    """A pair's sessions, for its two members or an admin."""
    pair = await _pair_of(session, pair_id)
    if not (user.is_admin or pair.has_member(user.employee_id)):
        raise _not_member()
    sessions = await repository.sessions_of_pair(session, pair_id)
    return await present(session, user=user, sessions=sessions, pairs={pair.id: pair})


async def list_sessions_of_pairs(
    session: AsyncSession, *, user: Principal, pair_ids: Sequence[str], next_only: bool = False
) -> tuple[list[PairSessions], list[Missing]]:
    """Several pairs' sessions, each pair as `list_pair_sessions` answers it; with
    `next_only`, only each pair's first session still planned (none when none is), which
    is all a dashboard's "next session" needs of a plan of many occurrences."""
    pairs = await repository.pairs_by_id(session, pair_ids)

    def visible(pair_id: str) -> Pair:
        pair = pairs.get(pair_id)
        if pair is None or pair.formed_at is None:
            raise not_found("Pair", pair_id)
        if not (user.is_admin or pair.has_member(user.employee_id)):
            raise _not_member()
        return pair

    shown, missing = collect(pair_ids, visible)
    read = repository.next_sessions_of_pairs if next_only else repository.sessions_of_pairs
    rows = await read(session, [pair.id for pair in shown])
    presented = await present(session, user=user, sessions=rows,
                              pairs={pair.id: pair for pair in shown})
    by_pair: dict[str, list[SessionPublic]] = {pair.id: [] for pair in shown}
    for item in presented:
        by_pair[item.pair_id].append(item)
    return [PairSessions(pair_id=pair_id, sessions=items)
            for pair_id, items in by_pair.items()], missing


async def get_session(
    session: AsyncSession, *, user: Principal, session_id: str
) -> SessionPublic:
    """One session, for the pair's members or an admin."""
    row = await repository.get_session(session, session_id)
    if row is None:
        raise not_found("Session", session_id)
    pair = await _pair_of(session, row.pair_id)
    if not (user.is_admin or pair.has_member(user.employee_id)):
        raise _not_member()
    return (await present(session, user=user, sessions=[row], pairs={pair.id: pair}))[0]


async def list_employee_sessions(
    session: AsyncSession, *, user: Principal, employee_id: str | None
) -> list[SessionPublic]:
    """The sessions of every pair the employee is in: themselves, or anyone for admins."""
    employee_id = employee_id or user.employee_id
    if employee_id is None:
        raise invalid("employee_id", "Name the employee whose sessions to list")
    user.require_self_or_admin(employee_id)
    sessions = await repository.sessions_of_employee(session, employee_id)
    pairs: dict[str, Pair] = {}
    for row in sessions:
        if row.pair_id not in pairs:
            pairs[row.pair_id] = await _pair_of(session, row.pair_id)
    return await present(session, user=user, sessions=sessions, pairs=pairs)


# --- session logs: each member's own part ----------------------------------------


async def _member_session(
    session: AsyncSession, *, user: Principal, session_id: str
) -> tuple[MentoringSession, Pair, str]:
    """The session, its pair and the caller's employee id, when the caller is a member."""
    row = await repository.get_session(session, session_id)
    if row is None:
        raise not_found("Session", session_id)
    pair = await _pair_of(session, row.pair_id)
    if user.employee_id is None or not pair.has_member(user.employee_id):
        raise _not_member()
    return row, pair, user.employee_id


def _check_held_at(held_at: datetime, *, pair: Pair, now: datetime) -> None:
    if held_at > now:
        raise invalid("held_at", "must not be in the future")
    if pair.formed_at is not None and held_at < pair.formed_at:
        raise invalid("held_at", "must not be before the pair formed "
                      f"({pair.formed_at.isoformat()})")


async def _check_topics(session: AsyncSession, *, pair: Pair, topics: Sequence[str]) -> None:
    programme = await repository.get_programme(session, pair.programme_id)
    catalogue = set(programme.topics) if programme is not None else set()
    unknown = [topic for topic in topics if topic not in catalogue]
    if unknown:
        raise invalid("topics", "must come from the programme's topic catalogue; not in it: "
                      + ", ".join(repr(topic) for topic in unknown[:5]))


async def _keep_note(
    session: AsyncSession, *, session_id: str, author: str, body: str, now: datetime
) -> None:
    """Write, replace or (with an empty body) delete the author's own note."""
    note = await repository.get_note(session, session_id=session_id, author_employee_id=author)
    if note is None and body:
        await repository.add(session, PrivateNote(
            session_id=session_id, author_employee_id=author, body=body, written_at=now))
    elif note is not None and body:
        note.body, note.written_at = body, now
        await repository.add(session, note)
    elif note is not None:
        await session.delete(note)
        await session.flush()


def _keep_recap(
    row: MentoringSession, *, author: str, recap: str | None, takeaways: list[str] | None
) -> None:
    # The recap is the pair's: either member's log or correction that carries it replaces it.
    if recap is not None:
        row.recap = recap or None
        row.logged_by_employee_id = author
    if takeaways is not None:
        row.key_takeaways = list(takeaways) or None
        row.logged_by_employee_id = author


async def _check_fit(session: AsyncSession, *, pair: Pair, now: datetime) -> None:
    """A poor fit reported twice for the pair (either member, any sessions) is flagged once."""
    if pair.fit_flagged_at is not None:
        return
    reports = await repository.poor_fit_reports(session, pair.id)
    if reports >= 2:
        pair.fit_flagged_at = now
        await repository.add(session, pair)
        events.pair_fit_flagged(session, pair, reports=reports, at=now)


async def log_session(
    session: AsyncSession, *, user: Principal, session_id: str, data: SessionLog,
    correction_window: timedelta, now: datetime | None = None,
) -> SessionPublic:
    """A pair member logs their own part of a held session; the partner may have logged first."""
    now = now or utcnow()
    row, pair, author = await _member_session(session, user=user, session_id=session_id)
    if row.status == SessionStatus.CANCELLED:
        raise conflict("This session was cancelled; it cannot be logged", field="session_id")
    existing = [log for log in await repository.logs_of_sessions(session, [row.id])
                if log.author_employee_id == author]
    if existing:
        raise conflict("You have logged this session already; correct your log instead "
                       "(PATCH /api/v1/sessions/{session_id}/log)", field="session_id")
    _check_held_at(data.held_at, pair=pair, now=now)
    await _check_topics(session, pair=pair, topics=data.topics)
    if row.status == SessionStatus.PLANNED:
        # The first log makes the session held, for the time and length it reports.
        row.status = SessionStatus.HELD
        row.held_at = data.held_at
        row.duration_minutes = data.duration_minutes
        row.logged_at = now
    _keep_recap(row, author=author, recap=data.recap, takeaways=data.key_takeaways)
    if row.logged_by_employee_id is None:
        row.logged_by_employee_id = author
    await repository.add(session, row)
    log = MemberLog(
        session_id=row.id, pair_id=pair.id, author_employee_id=author,
        author_role="mentor" if pair.mentor_employee_id == author else "mentee",
        held_at=data.held_at, duration_minutes=data.duration_minutes,
        mentor_attended=data.mentor_attended, mentee_attended=data.mentee_attended,
        topics=list(data.topics), rating=data.rating, fit=data.fit, logged_at=now,
        correctable_until=data.held_at + correction_window,
    )
    await repository.add(session, log)
    if data.private_note:
        await _keep_note(session, session_id=row.id, author=author, body=data.private_note,
                         now=now)
    events.session_logged(session, row, log, logged_by=author)
    await _check_fit(session, pair=pair, now=now)
    return (await present(session, user=user, sessions=[row], pairs={pair.id: pair}))[0]


async def correct_session_log(
    session: AsyncSession, *, user: Principal, session_id: str, data: SessionLogCorrection,
    now: datetime | None = None,
) -> SessionPublic:
    """The author corrects their own log, within its correction window; given fields change."""
    now = now or utcnow()
    row, pair, author = await _member_session(session, user=user, session_id=session_id)
    logs = await repository.logs_of_sessions(session, [row.id])
    log = next((log for log in logs if log.author_employee_id == author), None)
    if log is None:
        raise not_found("Session log of yours", session_id)
    if now > log.correctable_until:
        raise conflict(f"Your log could be corrected until {log.correctable_until.isoformat()}",
                       field="session_id", correctable_until=log.correctable_until.isoformat())
    given = data.model_fields_set
    if data.held_at is not None:
        _check_held_at(data.held_at, pair=pair, now=now)
        log.held_at = data.held_at
    if data.topics is not None:
        await _check_topics(session, pair=pair, topics=data.topics)
        log.topics = list(data.topics)
    if data.duration_minutes is not None:
        log.duration_minutes = data.duration_minutes
    if data.mentor_attended is not None:
        log.mentor_attended = data.mentor_attended
    if data.mentee_attended is not None:
        log.mentee_attended = data.mentee_attended
    # rating and fit may be cleared with an explicit null.
    if "rating" in given:
        log.rating = data.rating
    if "fit" in given:
        log.fit = data.fit
    log.corrected_at = now
    await repository.add(session, log)
    if logs[0].id == log.id:
        # The first log set the session's time and length: its correction moves them.
        row.held_at, row.duration_minutes = log.held_at, log.duration_minutes
    _keep_recap(row, author=author, recap=data.recap, takeaways=data.key_takeaways)
    await repository.add(session, row)
    if data.private_note is not None:
        await _keep_note(session, session_id=row.id, author=author, body=data.private_note,
                         now=now)
    events.session_logged(session, row, log, logged_by=author, corrected=True)
    await _check_fit(session, pair=pair, now=now)
    return (await present(session, user=user, sessions=[row], pairs={pair.id: pair}))[0]


# --- plans (recurrence.py holds the arithmetic) ----------------------------------


def _person(participant: Participant | None) -> recurrence.Person:
    """A side of the pair; unknown availability means weekday office hours, zone UTC."""
    zone = (participant.time_zone if participant and participant.time_zone else "UTC")
    if participant and participant.availability:
        windows = tuple(recurrence.Window.parse(int(w["weekday"]), str(w["start"]),
                                                str(w["end"]))
                        for w in participant.availability)
    else:
        windows = tuple(recurrence.Window.parse(*w) for w in recurrence.DEFAULT_WINDOWS)
    return recurrence.Person(zone, windows)


async def _parties(
    session: AsyncSession, pair: Pair, *, own: Sequence[MentoringSession] = ()
) -> recurrence.Parties:
    """Both sides of `pair`, each busy with their other pairs' sessions and `own` ones."""
    mentor = await repository.participant_of_employee(
        session, programme_id=pair.programme_id, employee_id=pair.mentor_employee_id)
    mentee = await repository.participant_of_employee(
        session, programme_id=pair.programme_id, employee_id=pair.mentee_employee_id)
    members = [e for e in (pair.mentor_employee_id, pair.mentee_employee_id) if e]
    booked = await repository.booked(session, employee_ids=members, excluding_pair_id=pair.id)
    mine = tuple((row.starts_at, row.starts_at + timedelta(minutes=row.duration_minutes))
                 for row in own if row.status == SessionStatus.PLANNED)

    def busy(employee_id: str | None) -> tuple[recurrence.Interval, ...]:
        return tuple((s, e) for s, e, _ in booked.get(employee_id or "", [])) + mine

    return recurrence.Parties(mentor=_person(mentor), mentee=_person(mentee),
                              mentor_busy=busy(pair.mentor_employee_id),
                              mentee_busy=busy(pair.mentee_employee_id))


def _conflict(parties: recurrence.Parties, starts_at: datetime, minutes: int,
              sides: Sequence[str]) -> tuple[str | None, datetime | None]:
    """The side whose windows no longer hold an occurrence, and the nearest fit; or None."""
    side = recurrence.conflicting_side(parties, starts_at, minutes, sides=sides)
    return side, (recurrence.nearest_valid_start(parties, starts_at, minutes) if side else None)


def _flag(parties: recurrence.Parties, row: MentoringSession, sides: Sequence[str]) -> None:
    """Flag the occurrence if a side's windows no longer hold it, with the nearest fit."""
    row.conflict_side, row.alternative_starts_at = _conflict(
        parties, row.starts_at, row.duration_minutes, sides)


_SESSIONS: Table = MentoringSession.__table__  # type: ignore[attr-defined]


@cache
def _session_defaults() -> dict[str, Any]:
    """Every column of a session row at the model's default (the id aside), for a Core insert."""
    defaults: dict[str, Any] = {}
    for name, info in MentoringSession.model_fields.items():
        if name in _SESSIONS.c and name != "id" and not info.is_required():
            defaults[name] = info.get_default(call_default_factory=True)
    return defaults


async def plan_pair(session: AsyncSession, *, pair: Pair, occurred_at: datetime,
                    settings: SchedulingSettings | None = None) -> Plan:
    """Propose the pair's recurring plan and materialise its occurrences (recurrence.py)."""
    settings = settings or SchedulingSettings()
    programme = await repository.get_programme(session, pair.programme_id)
    made = _plan_rows(pair=pair, programme=programme, parties=await _parties(session, pair),
                      occurred_at=occurred_at, settings=settings)
    await _write_plans(session, [made])
    return made.plan


@dataclass
class _Made:
    """A plan proposed in memory: its rows, written by `_write_plans`."""

    plan: Plan
    series: list[PlanSeries]
    rows: list[dict[str, Any]]  # every occurrence, skipped ones too
    planned: list[dict[str, Any]]  # those announced (`session.scheduled`)
    occurred_at: datetime


def _plan_rows(*, pair: Pair, programme: Programme | None, parties: recurrence.Parties,
               occurred_at: datetime, settings: SchedulingSettings) -> _Made:
    """The pair's plan, its series and its occurrences' rows, from what is known of both sides.

    Pure: the reads are the caller's (one pair's, or a whole run's at once).
    """
    cadence = Cadence(programme.session_cadence) if programme else Cadence.BIWEEKLY
    minutes = programme.session_minutes if programme else recurrence.DEFAULT_SESSION_MINUTES
    weeks = programme.duration_weeks if programme else recurrence.DEFAULT_DURATION_WEEKS
    blackout = blackout_of(programme)
    proposal = recurrence.propose(
        parties=parties, occurred_at=occurred_at, cadence=cadence.value, minutes=minutes,
        duration_weeks=weeks, window_days=settings.plan_window_days,
        lead=timedelta(hours=settings.plan_lead_hours), blackout=blackout)
    plan = Plan(
        pair_id=pair.id, programme_id=pair.programme_id, anchor_time_zone=parties.mentee.time_zone,
        cadence=cadence, duration_minutes=minutes, overlap=proposal.overlap,
        nearest=[{"side": slot.side, "starts_at": slot.starts_at.isoformat(),
                  "time_zone": slot.time_zone, "weekday": slot.weekday,
                  "local_start": slot.local_start.strftime("%H:%M")}
                 for slot in proposal.nearest],
        created_at=occurred_at, changed_at=occurred_at)
    # Ids are made here (not by the database), so the plan and its series are added and
    # written in one flush, and the occurrences in one INSERT, instead of a round trip
    # (and an ORM object) each.
    length = timedelta(minutes=minutes)
    all_series: list[PlanSeries] = []
    occurrences: list[tuple[dict[str, Any], tuple[str, ...]]] = []
    for position, proposed in enumerate(proposal.series):
        rule = proposed.rule
        series = PlanSeries(
            plan_id=plan.id, position=position, time_zone=rule.time_zone,
            local_start=rule.local_start.strftime("%H:%M"), starts_on=rule.starts_on,
            frequency=rule.frequency, interval=rule.interval, count=rule.count,
            fits=",".join(proposed.fits))
        all_series.append(series)
        for index, start in enumerate(rule.starts()):
            row = {
                **_session_defaults(), "id": new_id(), "pair_id": pair.id,
                "programme_id": pair.programme_id, "starts_at": start,
                "duration_minutes": minutes, "created_at": occurred_at, "plan_id": plan.id,
                "series_id": series.id, "occurrence_index": index,
                "original_starts_at": start, "changed_at": occurred_at}
            if recurrence.on_blackout(start, rule.time_zone, blackout):
                # Skipped from the start: an EXDATE of the series, never scheduled.
                row["status"] = SessionStatus.CANCELLED
                row["cancel_reason"] = BLACKOUT
            occurrences.append((row, proposed.fits))
    # Every occurrence not skipped is new, so planned: each is busy with all the others.
    planned = [(row, fits) for row, fits in occurrences
               if row["status"] != SessionStatus.CANCELLED]
    spans = tuple((row["starts_at"], row["starts_at"] + length) for row, _ in planned)
    for position, (row, fits) in enumerate(planned):
        # Whether the windows hold it needs no bookings; the nearest fit does (the plan's
        # other occurrences among them), so those are laid out only for a conflict.
        side = recurrence.conflicting_side(parties, row["starts_at"], minutes, sides=fits)
        row["conflict_side"], row["alternative_starts_at"] = side, None
        if side is not None:
            others = spans[:position] + spans[position + 1:]
            row["alternative_starts_at"] = recurrence.nearest_valid_start(
                recurrence.Parties(parties.mentor, parties.mentee,
                                   parties.mentor_busy + others, parties.mentee_busy + others),
                row["starts_at"], minutes)
    return _Made(plan=plan, series=all_series, rows=[row for row, _ in occurrences],
                 planned=[row for row, _ in planned], occurred_at=occurred_at)


async def _write_plans(session: AsyncSession, made: Sequence[_Made]) -> None:
    """Write proposed plans: plans and series in one flush, the occurrences in one INSERT,
    their `session.scheduled` in another (skipped occurrences are never announced)."""
    for item in made:
        session.add(item.plan)
        session.add_all(item.series)
    await session.flush()  # the pairs, plans and series before the rows that refer to them
    await bulk_insert(session, _SESSIONS, [row for item in made for row in item.rows])
    await events.sessions_scheduled_of_plans(
        session, [(item.planned, item.occurred_at) for item in made])


async def plan_pairs(session: AsyncSession, formed: Sequence[tuple[Pair, datetime]], *,
                     settings: SchedulingSettings) -> list[Plan]:
    """`plan_pair` for a run of new pairs: what both sides are known by, read once.

    The programmes, both members' participants and every member's planned sessions in
    their other pairs are read in a few queries for the run; each plan's planned
    occurrences join its members' bookings in memory before the next pair is planned
    (a mentor with two mentees in the run is never double-booked), and every row is
    written at the end. The rows and events are those of `plan_pair` one pair at a time.
    """
    if not formed:
        return []
    programmes = {programme_id: await repository.get_programme(session, programme_id)
                  for programme_id in dict.fromkeys(pair.programme_id for pair, _ in formed)}
    keys = [(pair.programme_id, employee_id) for pair, _ in formed
            for employee_id in (pair.mentor_employee_id, pair.mentee_employee_id)
            if employee_id is not None]
    participants = await repository.participants_of_employees(session, keys)
    booked = await repository.booked_of_employees(session, [e for _, e in keys])
    made: list[_Made] = []
    for pair, occurred_at in formed:
        def busy(employee_id: str | None, pair_id: str = pair.id
                 ) -> tuple[recurrence.Interval, ...]:
            return tuple((start, end) for start, end, other in booked.get(employee_id or "", [])
                         if other != pair_id)

        def participant(employee_id: str | None, programme_id: str = pair.programme_id
                        ) -> Participant | None:
            return participants.get((programme_id, employee_id)) if employee_id else None

        parties = recurrence.Parties(
            mentor=_person(participant(pair.mentor_employee_id)),
            mentee=_person(participant(pair.mentee_employee_id)),
            mentor_busy=busy(pair.mentor_employee_id), mentee_busy=busy(pair.mentee_employee_id))
        item = _plan_rows(pair=pair, programme=programmes[pair.programme_id], parties=parties,
                          occurred_at=occurred_at, settings=settings)
        made.append(item)
        for employee_id in dict.fromkeys((pair.mentor_employee_id, pair.mentee_employee_id)):
            if employee_id is not None:
                booked.setdefault(employee_id, []).extend(
                    (row["starts_at"],
                     row["starts_at"] + timedelta(minutes=row["duration_minutes"]), pair.id)
                    for row in item.planned)
    await _write_plans(session, made)
    return [item.plan for item in made]


async def _reflag_plan(session: AsyncSession, *, pair: Pair, plan: Plan, since: datetime) -> None:
    rows = await repository.sessions_of_plan(session, plan.id)
    series = {s.id: s for s in await repository.series_of_plan(session, plan.id)}
    # Both sides and their other pairs' bookings, read once for the plan (re-flagging
    # changes no time nor status); each occurrence is busy with the plan's others.
    base = await _parties(session, pair)
    spans = {row.id: (row.starts_at, row.starts_at + timedelta(minutes=row.duration_minutes))
             for row in rows if row.status == SessionStatus.PLANNED}
    for row in rows:
        if row.status != SessionStatus.PLANNED or row.starts_at < since:
            continue
        others = tuple(span for other, span in spans.items() if other != row.id)
        parties = replace(base, mentor_busy=base.mentor_busy + others,
                          mentee_busy=base.mentee_busy + others)
        fits = (series[row.series_id].fits.split(",")
                if row.series_id in series else ["mentor", "mentee"])
        before = (row.conflict_side, row.alternative_starts_at)
        _flag(parties, row, fits)
        if (row.conflict_side, row.alternative_starts_at) != before:
            row.changed_at = since
            await repository.add(session, row)


async def reflag_future_occurrences(
    session: AsyncSession, *, participant: Participant, since: datetime
) -> None:
    """After an availability change: flag (or clear) the person's future occurrences."""
    assert participant.employee_id is not None
    pairs = await repository.active_pairs_of_employee(
        session, programme_id=participant.programme_id, employee_id=participant.employee_id)
    for pair in pairs:
        plan = await repository.plan_of_pair(session, pair.id)
        if plan is not None:
            await _reflag_plan(session, pair=pair, plan=plan, since=since)


def _occurrence(row: MentoringSession) -> OccurrencePublic:
    return OccurrencePublic(
        session_id=row.id, series_id=row.series_id, occurrence_index=row.occurrence_index,
        starts_at=row.starts_at, original_starts_at=row.original_starts_at,
        duration_minutes=row.duration_minutes, status=row.status,
        conflict_side=Side(row.conflict_side) if row.conflict_side else None,
        alternative_starts_at=row.alternative_starts_at, cancel_reason=row.cancel_reason,
        sequence=row.sequence,
        blackout=row.status == SessionStatus.CANCELLED and row.cancel_reason == BLACKOUT)


def changed_within(
    rows: Sequence[MentoringSession], *, now: datetime, hours: int = 24
) -> list[MentoringSession]:
    """Moved or cancelled occurrences whose old or new start lies in the next `hours`."""
    until = now + timedelta(hours=hours)
    found = []
    for row in rows:
        moved = row.original_starts_at is not None and row.original_starts_at != row.starts_at
        if not (moved or row.status == SessionStatus.CANCELLED):
            continue
        if row.cancel_reason == BLACKOUT and row.sequence == 0:
            continue  # skipped when planned: never in a calendar, so no change
        starts = {row.starts_at, row.original_starts_at or row.starts_at}
        if any(now <= start < until for start in starts):
            found.append(row)
    return found


async def present_plan(session: AsyncSession, plan: Plan, *, now: datetime) -> PlanPublic:
    rows = await repository.sessions_of_plan(session, plan.id)
    series = await repository.series_of_plan(session, plan.id)
    return PlanPublic(
        id=plan.id, pair_id=plan.pair_id, programme_id=plan.programme_id, status=plan.status,
        anchor_time_zone=plan.anchor_time_zone, cadence=plan.cadence,
        duration_minutes=plan.duration_minutes, overlap=plan.overlap,
        nearest=[NearestSlotPublic.model_validate(slot) for slot in plan.nearest],
        series=[SeriesPublic(id=s.id, position=s.position, time_zone=s.time_zone,
                             weekday=s.starts_on.weekday(), local_start=s.local_start,
                             starts_on=s.starts_on, frequency=s.frequency, interval=s.interval,
                             count=s.count) for s in series],
        occurrences=[_occurrence(row) for row in rows],
        proposed_by_employee_id=plan.proposed_by_employee_id,
        accepted_by_employee_id=plan.accepted_by_employee_id, accepted_at=plan.accepted_at,
        sequence=plan.sequence,
        changes_within_24h=[_occurrence(row) for row in changed_within(rows, now=now)])


async def upcoming_changes(
    session: AsyncSession, *, user: Principal, within_hours: int, now: datetime | None = None,
) -> list[UpcomingChange]:
    """The caller's moved and cancelled occurrences, across all their plans, whose old or new
    start lies in the next `within_hours` (subscribed calendars refresh slowly)."""
    if user.employee_id is None:
        raise Problem(403, "Upcoming changes are a participant's own", kind="forbidden")
    now = now or utcnow()
    found: list[UpcomingChange] = []
    for plan in await repository.plans_of_employee(session, user.employee_id):
        rows = await repository.sessions_of_plan(session, plan.id)
        for row in changed_within(rows, now=now, hours=within_hours):
            found.append(UpcomingChange(**_occurrence(row).model_dump(), pair_id=plan.pair_id,
                                        plan_id=plan.id))
    return sorted(found, key=lambda change: (min(change.starts_at,
                                                 change.original_starts_at or change.starts_at),
                                             change.session_id))


async def _plan_for(session: AsyncSession, user: Principal, plan_id: str) -> tuple[Plan, Pair]:
    plan = await repository.get_plan(session, plan_id)
    if plan is None:
        raise not_found("Plan", plan_id)
    pair = await _pair_of(session, plan.pair_id)
    if not (user.is_admin or pair.has_member(user.employee_id)):
        raise _not_member()
    return plan, pair


async def get_pair_plan(session: AsyncSession, *, user: Principal, pair_id: str) -> PlanPublic:
    """The pair's plan, for its two members or an admin."""
    pair = await _pair_of(session, pair_id)
    if not (user.is_admin or pair.has_member(user.employee_id)):
        raise _not_member()
    plan = await repository.plan_of_pair(session, pair_id)
    if plan is None:
        raise not_found("Plan of pair", pair_id)
    return await present_plan(session, plan, now=utcnow())


def _touch(plan: Plan, now: datetime) -> None:
    plan.sequence += 1
    plan.changed_at = now


async def accept_plan(session: AsyncSession, *, user: Principal, plan_id: str) -> PlanPublic:
    """A member accepts the plan (not the member who proposed its current slot)."""
    plan, pair = await _plan_for(session, user, plan_id)
    if not pair.has_member(user.employee_id) or user.employee_id is None:
        raise _not_member()
    if pair.status != PairStatus.ACTIVE:
        raise conflict("The pair has ended", field="plan_id")
    if plan.status == PlanStatus.ACCEPTED:
        raise conflict("The plan is accepted already", field="plan_id")
    if plan.proposed_by_employee_id == user.employee_id:
        raise conflict("The other member accepts a slot you proposed", field="plan_id")
    now = utcnow()
    plan.status = PlanStatus.ACCEPTED
    plan.accepted_by_employee_id = user.employee_id
    plan.accepted_at = now
    _touch(plan, now)
    await repository.add(session, plan)
    planned = [r for r in await repository.sessions_of_plan(session, plan.id)
               if r.status == SessionStatus.PLANNED]
    events.plan_accepted(session, plan, accepted_by=user.employee_id, occurred_at=now,
                         occurrences=len(planned))
    return await present_plan(session, plan, now=now)


async def _member_occurrence(
    session: AsyncSession, user: Principal, session_id: str
) -> tuple[MentoringSession, Plan, Pair]:
    row = await repository.get_session(session, session_id)
    if row is None:
        raise not_found("Session", session_id)
    pair = await _pair_of(session, row.pair_id)
    if not pair.has_member(user.employee_id) or user.employee_id is None:
        raise _not_member()
    if row.plan_id is None or (plan := await repository.get_plan(session, row.plan_id)) is None:
        raise conflict("This session belongs to no plan", field="session_id")
    if row.status != SessionStatus.PLANNED:
        raise conflict(f"This session is {row.status}; only a planned one changes",
                       field="session_id")
    return row, plan, pair


async def reschedule_session(
    session: AsyncSession, *, user: Principal, session_id: str, data: OccurrenceReschedule
) -> PlanPublic:
    """Move one occurrence, or it and the later ones of its series by the same local shift."""
    row, plan, pair = await _member_occurrence(session, user, session_id)
    now = utcnow()
    if data.starts_at <= now:
        raise invalid("starts_at", "The new start is in the past")
    rows = await repository.sessions_of_plan(session, plan.id)
    moving = [row]
    if data.scope == RescheduleScope.FOLLOWING:
        moving = [r for r in rows if r.series_id == row.series_id
                  and r.status == SessionStatus.PLANNED and r.starts_at >= row.starts_at]
    # The shift is in the plan's anchor zone's wall time, so later moves keep local time.
    zone = ZoneInfo(plan.anchor_time_zone)
    shift = (data.starts_at.astimezone(zone).replace(tzinfo=None)
             - row.starts_at.astimezone(zone).replace(tzinfo=None))
    targets = {r.id: datetime.combine(
        (r.starts_at.astimezone(zone).replace(tzinfo=None) + shift).date(),
        (r.starts_at.astimezone(zone).replace(tzinfo=None) + shift).time(),
        tzinfo=zone).astimezone(UTC) for r in moving}
    targets[row.id] = data.starts_at
    staying = [r for r in rows if r.id not in targets]
    parties = await _parties(session, pair, own=staying)
    blackout = blackout_of(await repository.get_programme(session, pair.programme_id))
    for moved in moving:
        start = targets[moved.id]
        end = start + timedelta(minutes=moved.duration_minutes)
        if not data.override and recurrence.on_blackout(start, plan.anchor_time_zone, blackout):
            raise invalid("starts_at", f"{start.astimezone(zone).date().isoformat()} is one of "
                                       "the programme's blackout dates (send override: true "
                                       "to plan it anyway)")
        if parties.busy(start, end):
            raise conflict("The new time overlaps another session of a member",
                           field="starts_at")
        if not data.override and (side := recurrence.conflicting_side(
                parties, start, moved.duration_minutes, sides=("mentor", "mentee"))):
            raise invalid("starts_at", f"The new time is outside the {side}'s availability "
                                       "(send override: true to plan it anyway)")
    for moved in moving:
        previous = moved.starts_at
        moved.starts_at = targets[moved.id]
        moved.sequence += 1
        moved.changed_at = now
        moved.conflict_side = None
        moved.alternative_starts_at = None
        await repository.add(session, moved)
        events.session_rescheduled(session, moved, previous_starts_at=previous,
                                   occurred_at=now)
    _touch(plan, now)
    await repository.add(session, plan)
    return await present_plan(session, plan, now=now)


async def propose_plan_slot(
    session: AsyncSession, *, user: Principal, plan_id: str, data: PlanSlotProposal
) -> PlanPublic:
    """A member proposes another slot for the rest of the plan; the other member accepts it.

    Every series ends before its first future occurrence (those are cancelled) and one new
    series, at the plan's cadence in its anchor zone, holds as many occurrences as remained.
    """
    plan, pair = await _plan_for(session, user, plan_id)
    if not pair.has_member(user.employee_id) or user.employee_id is None:
        raise _not_member()
    if pair.status != PairStatus.ACTIVE:
        raise conflict("The pair has ended", field="plan_id")
    now = utcnow()
    zone = ZoneInfo(plan.anchor_time_zone)
    today = now.astimezone(zone).date()
    if data.starts_on is not None and data.starts_on < today:
        raise invalid("starts_on", "The first date is in the past")
    day = data.starts_on or today
    day += timedelta(days=(data.weekday - day.weekday()) % 7)
    local_start = time.fromisoformat(data.local_start)
    first = datetime.combine(day, local_start, tzinfo=zone).astimezone(UTC)
    if first <= now:
        first = datetime.combine(day + timedelta(days=7), local_start,
                                 tzinfo=zone).astimezone(UTC)
    rows = await repository.sessions_of_plan(session, plan.id)
    future = [r for r in rows if r.status == SessionStatus.PLANNED and r.starts_at > now]
    if not future:
        raise conflict("The plan has no future occurrence left to move", field="plan_id")
    rule = recurrence.rule_at(first, time_zone=plan.anchor_time_zone, cadence=plan.cadence,
                              count=len(future))
    staying = [r for r in rows if r not in future]
    parties = await _parties(session, pair, own=staying)
    blackout = blackout_of(await repository.get_programme(session, pair.programme_id))
    for start in rule.starts():
        if recurrence.on_blackout(start, rule.time_zone, blackout):
            continue
        if parties.busy(start, start + timedelta(minutes=plan.duration_minutes)):
            raise conflict("The slot overlaps another session of a member", field="local_start")
        if not data.override and (side := recurrence.conflicting_side(
                parties, start, plan.duration_minutes, sides=("mentor", "mentee"))):
            raise invalid("local_start", f"The slot is outside the {side}'s availability on "
                          f"{start.date().isoformat()} (send override: true to plan it anyway)")
    series_rows = await repository.series_of_plan(session, plan.id)
    for series in series_rows:
        cut = [r.occurrence_index for r in future
               if r.series_id == series.id and r.occurrence_index is not None]
        if cut:
            series.count = min(cut)
            series.sequence += 1
            await repository.add(session, series)
    for row in future:
        row.status = SessionStatus.CANCELLED
        row.cancel_reason = "another slot was proposed"
        row.sequence += 1
        row.changed_at = now
        await repository.add(session, row)
    events.sessions_cancelled(session, future, reason="another slot was proposed",
                              occurred_at=now)
    new = PlanSeries(plan_id=plan.id, position=max((s.position for s in series_rows),
                                                   default=-1) + 1,
                     time_zone=rule.time_zone, local_start=data.local_start,
                     starts_on=rule.starts_on, frequency=rule.frequency,
                     interval=rule.interval, count=rule.count, fits="mentor,mentee")
    await repository.add(session, new)
    for index, start in enumerate(rule.starts()):
        row = MentoringSession(
            pair_id=pair.id, programme_id=pair.programme_id, starts_at=start,
            duration_minutes=plan.duration_minutes, created_at=now, plan_id=plan.id,
            series_id=new.id, occurrence_index=index, original_starts_at=start,
            changed_at=now)
        if recurrence.on_blackout(start, rule.time_zone, blackout):
            row.status, row.cancel_reason = SessionStatus.CANCELLED, BLACKOUT
            await repository.add(session, row)
            continue
        await repository.add(session, row)
        events.session_scheduled(session, row, occurred_at=now)
    plan.status = PlanStatus.PROPOSED
    plan.proposed_by_employee_id = user.employee_id
    plan.accepted_by_employee_id = None
    plan.accepted_at = None
    _touch(plan, now)
    await repository.add(session, plan)
    return await present_plan(session, plan, now=now)


async def cancel_session(
    session: AsyncSession, *, user: Principal, session_id: str, data: OccurrenceCancel
) -> PlanPublic:
    """Cancel one occurrence with a reason; the rest of the plan stands."""
    row, plan, _ = await _member_occurrence(session, user, session_id)
    now = utcnow()
    row.status = SessionStatus.CANCELLED
    row.cancel_reason = data.reason
    row.sequence += 1
    row.changed_at = now
    await repository.add(session, row)
    events.sessions_cancelled(session, [row], reason=data.reason, occurred_at=now)
    _touch(plan, now)
    await repository.add(session, plan)
    return await present_plan(session, plan, now=now)


# --- calendar feeds (ical.py writes them) ------------------------------------------


async def _calendar_of(session: AsyncSession, plan: Plan) -> ical.PlanCalendar:
    return ical.PlanCalendar(plan=plan, series=await repository.series_of_plan(session, plan.id),
                             occurrences=await repository.sessions_of_plan(session, plan.id))


async def issue_calendar_feed(session: AsyncSession, *, user: Principal) -> CalendarFeedIssued:
    """A new secret feed address for the caller; any earlier one stops working."""
    if user.employee_id is None:
        raise Problem(403, "A calendar feed is a participant's own", kind="forbidden")
    now = utcnow()
    for old in await repository.live_feeds_of(session, user.employee_id):
        old.revoked_at = now
        await repository.add(session, old)
    secret = ical.new_secret()
    await repository.add(session, CalendarFeed(
        employee_id=user.employee_id, token_sha256=ical.secret_hash(secret), issued_at=now))
    return CalendarFeedIssued(token=secret, path=f"/api/v1/calendar/{secret}.ics", issued_at=now)


async def revoke_calendar_feed(session: AsyncSession, *, user: Principal) -> CalendarFeedRevoked:
    """The caller's feed address stops working (a calendar subscribed to it empties)."""
    if user.employee_id is None:
        raise Problem(403, "A calendar feed is a participant's own", kind="forbidden")
    now = utcnow()
    live = await repository.live_feeds_of(session, user.employee_id)
    for old in live:
        old.revoked_at = now
        await repository.add(session, old)
    return CalendarFeedRevoked(revoked=len(live))


# The feeds this replica rendered, by content (`ical.RenderedFeeds`).
RENDERED_FEEDS = ical.RenderedFeeds()


@dataclass(frozen=True)
class Feed:
    """A rendered feed and its ETag (a digest of what it renders)."""

    body: bytes
    etag: str


async def calendar_feed(session: AsyncSession, *, token: str,
                        rendered: ical.RenderedFeeds = RENDERED_FEEDS) -> Feed:
    """The feed behind a secret: every plan of its participant (the secret is the key).

    Its rows are read each time; rendering them is skipped when `rendered` holds the
    same content already.
    """
    found = await repository.feed_by_hash(session, ical.secret_hash(token))
    if found is None or found.revoked_at is not None:
        raise Problem(404, "No calendar feed has this address (it may have been revoked)",
                      kind="not-found", field="token")
    plans = await repository.plans_of_employee(session, found.employee_id)
    entries = [await _calendar_of(session, plan) for plan in plans]
    groups = await gatherings.attending(session, found.employee_id)
    key = ical.feed_key(entries, group_sessions=groups)
    body = rendered.get(key)
    if body is None:
        body = ical.feed(entries, group_sessions=groups)
        rendered.put(key, body)
    return Feed(body=body, etag=f'"{key}"')


async def plan_invitation(
    session: AsyncSession, *, user: Principal, plan_id: str, method: InvitationMethod
) -> bytes:
    """The plan as an invitation (REQUEST) or its withdrawal (CANCEL), for members or admins."""
    plan, _ = await _plan_for(session, user, plan_id)
    return ical.invitation(await _calendar_of(session, plan), method=method.value.upper(),
                           organizer=SchedulingSettings().calendar_organizer)
