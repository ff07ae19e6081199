"""Scheduling's rules: planning a pair's sessions, logging them, and who may see what.

The handlers of the events scheduling consumes are rules too (`on_<event>`);
`main.py` lists them beside the routers.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel.ext.asyncio.session import AsyncSession

from scheduling import events, recurrence, repository
from scheduling.models import (
    MentoringSession,
    Pair,
    PairSessions,
    PairStatus,
    Participant,
    PrivateNote,
    Programme,
    SessionLog,
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
                           occurred_at=data.occurred_at)
    row.name = programme.name
    row.status = programme.status
    row.session_cadence = programme.session_cadence
    row.session_minutes = programme.session_minutes
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
    """Sessions as `user` may see them: the recap for the pair only, notes for their author."""
    notes: dict[str, str] = {}
    if user.employee_id is not None:
        notes = await repository.notes_by_author(
            session, author_employee_id=user.employee_id, session_ids=[s.id for s in sessions])
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
            my_private_note=notes.get(row.id),
        ))
    return shown


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


async def log_session(
    session: AsyncSession, *, user: Principal, session_id: str, data: SessionLog
) -> SessionPublic:
    """A pair member records that the session was held: shared recap, own private note."""
    row = await repository.get_session(session, session_id)
    if row is None:
        raise not_found("Session", session_id)
    pair = await _pair_of(session, row.pair_id)
    if not pair.has_member(user.employee_id) or user.employee_id is None:
        raise _not_member()
    if row.status == SessionStatus.HELD:
        raise conflict("This session has already been logged", field="session_id")
    if row.status == SessionStatus.CANCELLED:
        raise conflict("This session was cancelled; it cannot be logged", field="session_id")
    now = utcnow()
    row.status = SessionStatus.HELD
    row.held_at = data.held_at
    row.duration_minutes = data.duration_minutes
    row.recap = data.recap or None
    row.logged_by_employee_id = user.employee_id
    row.logged_at = now
    await repository.add(session, row)
    if data.private_note:
        await repository.add(session, PrivateNote(
            session_id=row.id, author_employee_id=user.employee_id, body=data.private_note,
            written_at=now))
    events.session_logged(session, row, logged_by=user.employee_id)
    return (await present(session, user=user, sessions=[row], pairs={pair.id: pair}))[0]
