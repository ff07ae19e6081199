"""Touchpoints (a pair's short check-ins between sessions) and programme-wide group sessions.

Both are their own kinds, not sessions: a touchpoint is never planned, logged or held,
and does not count as activity for the inactivity sweep (the issue's rule is "no
session held for twice the cadence"). A group session belongs to a programme, not a
pair: HR admins and programme managers schedule, change and cancel it, and the
programme's participants answer it (yes / no / maybe), each for themselves.

Privacy: a touchpoint's note is the pair's, like a recap. Admins see how many
touchpoints a pair recorded and for how long, never the items. No event carries a
note, a title, a reason or who answered.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from fastapi import APIRouter
from sqlalchemy import delete, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from scheduling import events, repository
from scheduling.models import (
    GroupSession,
    GroupSessionCancel,
    GroupSessionCreate,
    GroupSessionPublic,
    GroupSessionRsvp,
    GroupSessionStatus,
    GroupSessionUpdate,
    Pair,
    PairStatus,
    PairTouchpoints,
    Participant,
    RsvpCounts,
    RsvpCreate,
    RsvpResponse,
    Touchpoint,
    TouchpointCreate,
    TouchpointPublic,
)
from upward_common.auth import CurrentUser, ParticipantUser, Principal, ProgrammeAdmin
from upward_common.db import SessionDep
from upward_common.events import utcnow
from upward_common.limits import Identifier
from upward_common.problems import Problem, conflict, invalid, not_found

router = APIRouter(prefix="/api/v1")


async def _add(session: AsyncSession,
               row: Touchpoint | GroupSession | GroupSessionRsvp) -> None:
    session.add(row)
    await session.flush()


# --- touchpoints ------------------------------------------------------------------


async def _pair(session: AsyncSession, pair_id: str) -> Pair:
    pair = await repository.get_pair(session, pair_id)
    if pair is None or pair.formed_at is None:
        raise not_found("Pair", pair_id)
    return pair


def _not_member() -> Problem:
    return Problem(403, "Only the two members of the pair may do this", kind="forbidden")


def _touchpoint(row: Touchpoint, *, me: str | None) -> TouchpointPublic:
    return TouchpointPublic(id=row.id, pair_id=row.pair_id, kind=row.kind, at=row.at,
                            minutes=row.minutes, author_role=row.author_role,
                            mine=me is not None and row.author_employee_id == me,
                            note=row.note)


async def _touchpoints_of(session: AsyncSession, pair_id: str) -> Sequence[Touchpoint]:
    query = (select(Touchpoint).where(Touchpoint.pair_id == pair_id)
             .order_by(col(Touchpoint.at), col(Touchpoint.id)))
    return (await session.exec(query)).all()


async def record_touchpoint(
    session: AsyncSession, *, user: Principal, pair_id: str, data: TouchpointCreate,
    now: datetime | None = None,
) -> TouchpointPublic:
    """A member of an active pair records a check-in (not in the future, not before it formed)."""
    now = now or utcnow()
    pair = await _pair(session, pair_id)
    if user.employee_id is None or not pair.has_member(user.employee_id):
        raise _not_member()
    if pair.status != PairStatus.ACTIVE:
        raise conflict("This pair has ended; it takes no new touchpoints", field="pair_id")
    if data.at > now:
        raise invalid("at", "must not be in the future")
    if pair.formed_at is not None and data.at < pair.formed_at:
        raise invalid("at", "must not be before the pair formed")
    role = "mentor" if user.employee_id == pair.mentor_employee_id else "mentee"
    row = Touchpoint(pair_id=pair.id, programme_id=pair.programme_id,
                     author_employee_id=user.employee_id, author_role=role, kind=data.kind,
                     at=data.at, minutes=data.minutes, note=data.note or None, created_at=now)
    await _add(session, row)
    events.touchpoint_recorded(session, row, at=now)
    return _touchpoint(row, me=user.employee_id)


async def list_touchpoints(
    session: AsyncSession, *, user: Principal, pair_id: str
) -> PairTouchpoints:
    """The pair's touchpoints for its members; for admins the count and minutes only."""
    pair = await _pair(session, pair_id)
    member = pair.has_member(user.employee_id)
    if not (member or user.is_admin):
        raise _not_member()
    rows = await _touchpoints_of(session, pair_id)
    items = [_touchpoint(row, me=user.employee_id) for row in rows] if member else []
    return PairTouchpoints(pair_id=pair.id, count=len(rows),
                           minutes=sum(row.minutes for row in rows), items=items)


@router.post("/pairs/{pair_id}/touchpoints", response_model=TouchpointPublic, status_code=201,
             tags=["touchpoints"])
async def post_touchpoint(
    pair_id: Identifier, data: TouchpointCreate, session: SessionDep, user: ParticipantUser
) -> TouchpointPublic:
    """A member of the pair records a short check-in between sessions."""
    recorded = await record_touchpoint(session, user=user, pair_id=pair_id, data=data)
    await session.commit()
    return recorded


@router.get("/pairs/{pair_id}/touchpoints", response_model=PairTouchpoints, tags=["touchpoints"])
async def get_touchpoints(
    pair_id: Identifier, session: SessionDep, user: CurrentUser
) -> PairTouchpoints:
    """The pair's check-ins: every item for its members, only counts for admins."""
    return await list_touchpoints(session, user=user, pair_id=pair_id)


# --- group sessions ---------------------------------------------------------------


async def in_programme(session: AsyncSession, employee_id: str | None, programme_id: str) -> bool:
    """Whether the employee takes part in the programme: an active participant, or a member
    of one of its pairs (scheduling may have seen the pair before the participant)."""
    if employee_id is None:
        return False
    participant = (await session.exec(select(Participant.id).where(
        Participant.programme_id == programme_id, Participant.employee_id == employee_id,
        Participant.status == "active"))).first()
    if participant is not None:
        return True
    pair = (await session.exec(select(Pair.id).where(
        Pair.programme_id == programme_id, Pair.status == PairStatus.ACTIVE,
        (col(Pair.mentor_employee_id) == employee_id)
        | (col(Pair.mentee_employee_id) == employee_id)))).first()
    return pair is not None


async def programmes_of(session: AsyncSession, employee_id: str) -> set[str]:
    """The programmes the employee takes part in (as `in_programme` reads it)."""
    found = set((await session.exec(select(Participant.programme_id).where(
        Participant.employee_id == employee_id, Participant.status == "active"))).all())
    found |= set((await session.exec(select(Pair.programme_id).where(
        Pair.status == PairStatus.ACTIVE,
        (col(Pair.mentor_employee_id) == employee_id)
        | (col(Pair.mentee_employee_id) == employee_id)))).all())
    return found


async def _rsvps(session: AsyncSession, ids: Sequence[str]) -> Sequence[GroupSessionRsvp]:
    if not ids:
        return []
    return (await session.exec(select(GroupSessionRsvp).where(
        col(GroupSessionRsvp.group_session_id).in_(ids)))).all()


def _counts(rsvps: Sequence[GroupSessionRsvp]) -> RsvpCounts:
    responses = [rsvp.response for rsvp in rsvps]
    return RsvpCounts(yes=responses.count(RsvpResponse.YES), no=responses.count(RsvpResponse.NO),
                      maybe=responses.count(RsvpResponse.MAYBE))


async def present(
    session: AsyncSession, rows: Sequence[GroupSession], *, me: str | None
) -> list[GroupSessionPublic]:
    by_session: dict[str, list[GroupSessionRsvp]] = {}
    for rsvp in await _rsvps(session, [row.id for row in rows]):
        by_session.setdefault(rsvp.group_session_id, []).append(rsvp)
    result = []
    for row in rows:
        answers = by_session.get(row.id, [])
        mine = next((a.response for a in answers if me is not None and a.employee_id == me),
                    None)
        result.append(GroupSessionPublic(
            id=row.id, programme_id=row.programme_id, title=row.title, starts_at=row.starts_at,
            duration_minutes=row.duration_minutes, capacity=row.capacity,
            location=row.location, link=row.link, status=row.status,
            cancel_reason=row.cancel_reason, sequence=row.sequence,
            counts=_counts(answers), my_response=mine))
    return result


async def create_group_session(
    session: AsyncSession, *, user: Principal, programme_id: str, data: GroupSessionCreate,
    now: datetime | None = None,
) -> GroupSessionPublic:
    """An admin schedules a gathering for the programme; a start in the past is refused."""
    now = now or utcnow()
    if await repository.get_programme(session, programme_id) is None:
        raise Problem(404, f"Programme {programme_id} is not known to scheduling",
                      kind="not-found", field="programme_id")
    if data.starts_at <= now:
        raise invalid("starts_at", "must be in the future")
    row = GroupSession(programme_id=programme_id, title=data.title, starts_at=data.starts_at,
                       duration_minutes=data.duration_minutes, capacity=data.capacity,
                       location=data.location, link=data.link,
                       created_by_employee_id=user.employee_id, created_at=now, updated_at=now)
    await _add(session, row)
    events.group_session_scheduled(session, row, at=now)
    return (await present(session, [row], me=None))[0]


async def _group_session(session: AsyncSession, group_session_id: str) -> GroupSession:
    row = await session.get(GroupSession, group_session_id)
    if row is None:
        raise not_found("Group session", group_session_id)
    return row


async def _changeable(session: AsyncSession, group_session_id: str) -> GroupSession:
    row = await _group_session(session, group_session_id)
    if row.status == GroupSessionStatus.CANCELLED:
        raise conflict("This group session is cancelled", field="group_session_id")
    return row


async def update_group_session(
    session: AsyncSession, *, group_session_id: str, data: GroupSessionUpdate,
    now: datetime | None = None,
) -> GroupSessionPublic:
    """An admin changes the fields given; `groupsession.scheduled` again, SEQUENCE up."""
    now = now or utcnow()
    row = await _changeable(session, group_session_id)
    given = data.model_fields_set
    for name in ("title", "starts_at", "duration_minutes"):
        if name in given and getattr(data, name) is None:
            raise invalid(name, "may not be null")
    if data.starts_at is not None and data.starts_at <= now:
        raise invalid("starts_at", "must be in the future")
    if "capacity" in given and data.capacity is not None:
        yes = _counts(await _rsvps(session, [row.id])).yes
        if data.capacity < yes:
            raise conflict(f"{yes} people said yes already; the capacity may not go below",
                           field="capacity")
    for name in ("title", "starts_at", "duration_minutes", "capacity", "location", "link"):
        if name in given:
            setattr(row, name, getattr(data, name))
    row.sequence += 1
    row.updated_at = now
    await _add(session, row)
    events.group_session_scheduled(session, row, at=now)
    return (await present(session, [row], me=None))[0]


async def cancel_group_session(
    session: AsyncSession, *, group_session_id: str, data: GroupSessionCancel,
    now: datetime | None = None,
) -> GroupSessionPublic:
    """An admin cancels the gathering: `groupsession.cancelled` tells whoever notifies."""
    now = now or utcnow()
    row = await _changeable(session, group_session_id)
    row.status = GroupSessionStatus.CANCELLED
    row.cancel_reason = data.reason
    row.sequence += 1
    row.updated_at = now
    await _add(session, row)
    events.group_session_cancelled(session, row, at=now)
    return (await present(session, [row], me=None))[0]


async def rsvp(
    session: AsyncSession, *, user: Principal, group_session_id: str, data: RsvpCreate,
    now: datetime | None = None,
) -> GroupSessionPublic:
    """A participant of the programme answers for themselves; a full session takes no yes."""
    now = now or utcnow()
    row = await _group_session(session, group_session_id)
    if not await in_programme(session, user.employee_id, row.programme_id):
        raise Problem(403, "Only the programme's participants answer its group sessions",
                      kind="forbidden")
    assert user.employee_id is not None
    if row.status == GroupSessionStatus.CANCELLED:
        raise conflict("This group session is cancelled", field="group_session_id")
    if row.starts_at <= now:
        raise conflict("This group session has started", field="group_session_id")
    answers = list(await _rsvps(session, [row.id]))
    mine = next((a for a in answers if a.employee_id == user.employee_id), None)
    counts = _counts(answers)
    if (data.response == RsvpResponse.YES and row.capacity is not None
            and (mine is None or mine.response != RsvpResponse.YES)
            and counts.yes >= row.capacity):
        raise conflict(f"This group session is full ({row.capacity} places)", field="response")
    if mine is None:
        mine = GroupSessionRsvp(group_session_id=row.id, employee_id=user.employee_id,
                                response=data.response, responded_at=now)
        answers.append(mine)
    else:
        mine.response, mine.responded_at = data.response, now
    await _add(session, mine)
    counts = _counts(answers)
    events.group_session_rsvped(session, row, response=str(data.response), counts=counts,
                                at=now)
    return (await present(session, [row], me=user.employee_id))[0]


async def _of_programmes(session: AsyncSession, programme_ids: Sequence[str]) -> Sequence[
        GroupSession]:
    if not programme_ids:
        return []
    return (await session.exec(select(GroupSession).where(
        col(GroupSession.programme_id).in_(programme_ids))
        .order_by(col(GroupSession.starts_at), col(GroupSession.id)))).all()


async def list_programme(
    session: AsyncSession, *, user: Principal, programme_id: str
) -> list[GroupSessionPublic]:
    """A programme's group sessions: for admins and the programme's participants."""
    if not (user.is_admin or await in_programme(session, user.employee_id, programme_id)):
        raise Problem(403, "Only admins and the programme's participants see its group "
                      "sessions", kind="forbidden")
    return await present(session, await _of_programmes(session, [programme_id]),
                         me=user.employee_id)


async def list_mine(session: AsyncSession, *, user: Principal) -> list[GroupSessionPublic]:
    """The group sessions of every programme the caller takes part in, with their answer."""
    assert user.employee_id is not None
    programmes = sorted(await programmes_of(session, user.employee_id))
    return await present(session, await _of_programmes(session, programmes),
                         me=user.employee_id)


async def attending(session: AsyncSession, employee_id: str) -> Sequence[GroupSession]:
    """The group sessions the employee said yes to (cancelled ones too, so that a
    subscribed calendar learns of the cancellation)."""
    query = (select(GroupSession).join(
        GroupSessionRsvp, col(GroupSessionRsvp.group_session_id) == col(GroupSession.id))
        .where(GroupSessionRsvp.employee_id == employee_id,
               GroupSessionRsvp.response == RsvpResponse.YES)
        .order_by(col(GroupSession.starts_at), col(GroupSession.id)))
    return (await session.exec(query)).all()


@router.post("/programmes/{programme_id}/group-sessions", response_model=GroupSessionPublic,
             status_code=201, tags=["group sessions"])
async def post_group_session(
    programme_id: Identifier, data: GroupSessionCreate, session: SessionDep, user: ProgrammeAdmin
) -> GroupSessionPublic:
    """An HR admin or programme manager schedules a programme-wide group session."""
    created = await create_group_session(session, user=user, programme_id=programme_id,
                                         data=data)
    await session.commit()
    return created


@router.get("/programmes/{programme_id}/group-sessions", response_model=list[GroupSessionPublic],
            tags=["group sessions"])
async def get_programme_group_sessions(
    programme_id: Identifier, session: SessionDep, user: CurrentUser
) -> list[GroupSessionPublic]:
    """A programme's group sessions with RSVP counts (and the caller's own answer)."""
    return await list_programme(session, user=user, programme_id=programme_id)


@router.get("/group-sessions", response_model=list[GroupSessionPublic], tags=["group sessions"])
async def get_my_group_sessions(
    session: SessionDep, user: ParticipantUser
) -> list[GroupSessionPublic]:
    """The group sessions of the caller's programmes, with their own answer and the counts."""
    return await list_mine(session, user=user)


@router.patch("/group-sessions/{group_session_id}", response_model=GroupSessionPublic,
              tags=["group sessions"])
async def patch_group_session(
    group_session_id: Identifier, data: GroupSessionUpdate, session: SessionDep,
    user: ProgrammeAdmin,
) -> GroupSessionPublic:
    """An admin changes a group session (its SEQUENCE goes up)."""
    updated = await update_group_session(session, group_session_id=group_session_id, data=data)
    await session.commit()
    return updated


@router.post("/group-sessions/{group_session_id}/cancel", response_model=GroupSessionPublic,
             tags=["group sessions"])
async def post_group_session_cancel(
    group_session_id: Identifier, data: GroupSessionCancel, session: SessionDep,
    user: ProgrammeAdmin,
) -> GroupSessionPublic:
    """An admin cancels a group session, with a reason shown to its participants."""
    cancelled = await cancel_group_session(session, group_session_id=group_session_id,
                                           data=data)
    await session.commit()
    return cancelled


@router.post("/group-sessions/{group_session_id}/rsvp", response_model=GroupSessionPublic,
             tags=["group sessions"])
async def post_rsvp(
    group_session_id: Identifier, data: RsvpCreate, session: SessionDep, user: ParticipantUser
) -> GroupSessionPublic:
    """A participant of the programme answers yes, no or maybe (their own answer only)."""
    answered = await rsvp(session, user=user, group_session_id=group_session_id, data=data)
    await session.commit()
    return answered


async def forget_employee(session: AsyncSession, employee_id: str) -> None:
    """An erasure: the employee's touchpoint notes go and their id with them; their
    answers to group sessions are deleted."""
    await session.exec(update(Touchpoint).where(
        col(Touchpoint.author_employee_id) == employee_id).values(
        author_employee_id=None, note=None))
    await session.exec(delete(GroupSessionRsvp).where(
        col(GroupSessionRsvp.employee_id) == employee_id))
    await session.flush()
