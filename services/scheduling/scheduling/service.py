"""Scheduling's rules: planning a pair's sessions, logging them, and who may see what.

The handlers of the events scheduling consumes are rules too (`on_<event>`);
`main.py` lists them beside the routers.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from scheduling import events, recurrence, repository
from scheduling.models import (
    MemberLog,
    MemberLogPublic,
    MentoringSession,
    Pair,
    PairSessions,
    PairStatus,
    Participant,
    PrivateNote,
    Programme,
    SessionLog,
    SessionLogCorrection,
    SessionPublic,
    SessionStatus,
)
from upward_common.auth import Principal
from upward_common.batch import Missing, collect
from upward_common.events import (
    EmployeeErased,
    PairEnded,
    PairFormed,
    ParticipantUpdated,
    ProgrammeUpdated,
    utcnow,
)
from upward_common.problems import Problem, conflict, invalid, not_found


def _not_member() -> Problem:
    return Problem(403, "Only the two members of the pair may do this", kind="forbidden")


# --- handlers of the events scheduling consumes ----------------------------------


async def on_pair_formed(session: AsyncSession, data: PairFormed) -> None:
    """Remember the pair and plan its first session, unless the pair is known already."""
    pair = await repository.get_pair(session, data.pair_id)
    if pair is not None and pair.formed_at is not None:
        return  # the same pair announced twice: it already has its plan
    ended_early = pair is not None  # a tombstone: `pair.ended` overtook `pair.formed`
    if pair is None:
        pair = Pair(id=data.pair_id, programme_id=data.programme_id)
    pair.mentor_employee_id = data.mentor_employee_id
    pair.mentee_employee_id = data.mentee_employee_id
    pair.formed_at = data.occurred_at
    await repository.add(session, pair)
    if ended_early:
        return
    programme = await repository.get_programme(session, data.programme_id)
    minutes = programme.session_minutes if programme else recurrence.DEFAULT_SESSION_MINUTES
    planned = MentoringSession(
        pair_id=pair.id,
        programme_id=data.programme_id,
        starts_at=recurrence.first_session_start(data.occurred_at),
        duration_minutes=minutes,
        created_at=utcnow(),
    )
    await repository.add(session, planned)
    events.session_scheduled(session, planned)


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
    events.sessions_cancelled(session, cancelled, reason=f"pair ended: {data.reason}")


async def on_programme_updated(session: AsyncSession, data: ProgrammeUpdated) -> None:
    """Keep the latest programme rules; an older update arriving late is ignored."""
    programme = data.programme
    row = await repository.get_programme(session, programme.programme_id)
    if row is not None and row.occurred_at > data.occurred_at:
        return
    row = row or Programme(id=programme.programme_id, name=programme.name,
                           status=programme.status, session_cadence=programme.session_cadence,
                           session_minutes=programme.session_minutes,
                           topics=list(programme.topics), occurred_at=data.occurred_at)
    row.name = programme.name
    row.status = programme.status
    row.session_cadence = programme.session_cadence
    row.session_minutes = programme.session_minutes
    row.topics = list(programme.topics)
    row.occurred_at = data.occurred_at
    await repository.add(session, row)


async def on_participant_updated(session: AsyncSession, data: ParticipantUpdated) -> None:
    """Keep what planning needs of a participant; an older update arriving late is ignored."""
    participant = data.participant
    row = await repository.get_participant(session, participant.participant_id)
    if row is not None and row.occurred_at > data.occurred_at:
        return
    row = row or Participant(id=participant.participant_id, programme_id=participant.programme_id,
                             role=participant.role, status=participant.status,
                             occurred_at=data.occurred_at)
    row.employee_id = participant.employee.employee_id
    row.role = participant.role
    row.status = participant.status
    row.time_zone = participant.time_zone or participant.employee.time_zone
    row.occurred_at = data.occurred_at
    await repository.add(session, row)


async def on_employee_erased(session: AsyncSession, data: EmployeeErased) -> None:
    """Forget an employee: their notes and recaps go, their pairs' future sessions are cancelled."""
    pairs = await repository.pairs_of_employee(session, data.employee_id)
    cancelled = await repository.cancel_planned_sessions(
        session, pair_ids=[pair.id for pair in pairs], starting_from=data.occurred_at)
    events.sessions_cancelled(session, cancelled, reason="a participant was erased")
    await repository.forget_employee(session, data.employee_id)


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
    session: AsyncSession, *, user: Principal, pair_ids: Sequence[str]
) -> tuple[list[PairSessions], list[Missing]]:
    """Several pairs' sessions, each pair as `list_pair_sessions` answers it."""
    pairs = await repository.pairs_by_id(session, pair_ids)

    def visible(pair_id: str) -> Pair:
        pair = pairs.get(pair_id)
        if pair is None or pair.formed_at is None:
            raise not_found("Pair", pair_id)
        if not (user.is_admin or pair.has_member(user.employee_id)):
            raise _not_member()
        return pair

    shown, missing = collect(pair_ids, visible)
    rows = await repository.sessions_of_pairs(session, [pair.id for pair in shown])
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
