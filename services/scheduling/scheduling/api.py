"""Scheduling's HTTP API: thin routes over the service layer."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response

from scheduling import goals, service
from scheduling.models import (
    CalendarFeedIssued,
    CalendarFeedRevoked,
    GoalCreate,
    GoalProgressCreate,
    GoalPublic,
    GoalStatusChange,
    InvitationMethod,
    OccurrenceCancel,
    OccurrenceReschedule,
    PairSessions,
    PlanPublic,
    PlanSlotProposal,
    SessionLog,
    SessionLogCorrection,
    SessionPublic,
    UpcomingChange,
)
from upward_common.auth import CurrentUser, ParticipantUser
from upward_common.batch import Batch, BatchIds
from upward_common.conditional import not_modified
from upward_common.db import SessionDep
from upward_common.limits import Identifier

router = APIRouter(prefix="/api/v1")


def _correction_window(request: Request) -> timedelta:
    return timedelta(days=request.app.state.settings.log_correction_days)


CorrectionWindow = Annotated[timedelta, Depends(_correction_window)]


@router.get("/pairs/{pair_id}/sessions", response_model=list[SessionPublic])
async def list_pair_sessions(
    pair_id: Identifier, session: SessionDep, user: CurrentUser
) -> list[SessionPublic]:
    """A pair's sessions: for its two members, or admins (who never see recaps or notes)."""
    return await service.list_pair_sessions(session, user=user, pair_id=pair_id)


@router.get("/batch/pair-sessions", response_model=Batch[PairSessions], tags=["batch"])
async def batch_pair_sessions(
    ids: BatchIds, session: SessionDep, user: CurrentUser,
    next_only: Annotated[bool, Query(description=(
        "Only each pair's next session: its first still planned (neither held nor "
        "cancelled) by start time, or none; the same pairs are answered and missing."
    ))] = False,
) -> Batch[PairSessions]:
    """Several pairs' sessions by pair id, each pair as `GET /pairs/{pair_id}/sessions`
    answers it (docs/limits.md), or with `next_only` its next planned session alone."""
    found, missing = await service.list_sessions_of_pairs(session, user=user, pair_ids=ids,
                                                          next_only=next_only)
    return Batch[PairSessions](items=found, missing=missing)


@router.get("/sessions", response_model=list[SessionPublic])
async def list_employee_sessions(
    session: SessionDep, user: CurrentUser, employee_id: Identifier | None = None
) -> list[SessionPublic]:
    """The sessions of an employee's pairs (default: the caller's own); themselves or admins."""
    return await service.list_employee_sessions(session, user=user, employee_id=employee_id)


@router.get("/sessions/{session_id}", response_model=SessionPublic)
async def get_session(
    session_id: Identifier, session: SessionDep, user: CurrentUser
) -> SessionPublic:
    """One session: for the pair's members, or admins."""
    return await service.get_session(session, user=user, session_id=session_id)


# --- session logs -------------------------------------------------------------------


@router.post("/sessions/{session_id}/log", response_model=SessionPublic)
async def log_session(
    session_id: Identifier, data: SessionLog, session: SessionDep, user: CurrentUser,
    window: CorrectionWindow,
) -> SessionPublic:
    """A pair member logs their own part of the session (attendance, length, topics, rating,
    fit), the recap the pair shares and a note of their own; the partner logs theirs too."""
    logged = await service.log_session(session, user=user, session_id=session_id, data=data,
                                       correction_window=window)
    await session.commit()
    return logged


# --- plans ------------------------------------------------------------------------


@router.get("/pairs/{pair_id}/plan", response_model=PlanPublic, tags=["plans"])
async def get_pair_plan(pair_id: Identifier, session: SessionDep, user: CurrentUser) -> PlanPublic:
    """The pair's recurring plan and its occurrences: for its two members, or admins."""
    return await service.get_pair_plan(session, user=user, pair_id=pair_id)


@router.post("/plans/{plan_id}/accept", response_model=PlanPublic, tags=["plans"])
async def accept_plan(plan_id: Identifier, session: SessionDep, user: CurrentUser) -> PlanPublic:
    """A member of the pair accepts its proposed plan."""
    plan = await service.accept_plan(session, user=user, plan_id=plan_id)
    await session.commit()
    return plan


@router.post("/plans/{plan_id}/slot", response_model=PlanPublic, tags=["plans"])
async def propose_plan_slot(
    plan_id: Identifier, data: PlanSlotProposal, session: SessionDep, user: CurrentUser
) -> PlanPublic:
    """A member proposes another weekday and local time for the rest of the plan."""
    plan = await service.propose_plan_slot(session, user=user, plan_id=plan_id, data=data)
    await session.commit()
    return plan


@router.post("/sessions/{session_id}/reschedule", response_model=PlanPublic, tags=["plans"])
async def reschedule_session(
    session_id: Identifier, data: OccurrenceReschedule, session: SessionDep, user: CurrentUser
) -> PlanPublic:
    """A member moves one occurrence, or it and the later ones (`scope: following`)."""
    plan = await service.reschedule_session(session, user=user, session_id=session_id,
                                            data=data)
    await session.commit()
    return plan


@router.post("/sessions/{session_id}/cancel", response_model=PlanPublic, tags=["plans"])
async def cancel_session(
    session_id: Identifier, data: OccurrenceCancel, session: SessionDep, user: CurrentUser
) -> PlanPublic:
    """A member cancels one occurrence, with a reason."""
    plan = await service.cancel_session(session, user=user, session_id=session_id, data=data)
    await session.commit()
    return plan


# --- calendar feeds ---------------------------------------------------------------

CALENDAR = "text/calendar; charset=utf-8"


@router.post("/calendar-feeds", response_model=CalendarFeedIssued, status_code=201,
             tags=["calendar"])
async def issue_calendar_feed(session: SessionDep, user: ParticipantUser) -> CalendarFeedIssued:
    """A participant's new secret feed address (shown once); the previous one stops working."""
    issued = await service.issue_calendar_feed(session, user=user)
    await session.commit()
    return issued


@router.delete("/calendar-feeds", response_model=CalendarFeedRevoked, tags=["calendar"])
async def revoke_calendar_feed(session: SessionDep, user: ParticipantUser) -> CalendarFeedRevoked:
    """A participant revokes their feed address (a calendar subscribed to it stops updating)."""
    revoked = await service.revoke_calendar_feed(session, user=user)
    await session.commit()
    return revoked


@router.get("/calendar/{token}.ics", tags=["calendar"],
            responses={200: {"content": {"text/calendar": {}}}})
async def calendar_feed(
    token: Identifier, session: SessionDep,
    if_none_match: Annotated[str | None, Header(max_length=1_000, description=(
        "The ETag of the copy the calendar holds: 304 and no body while it is current."
    ))] = None,
) -> Response:
    """A participant's calendar (RFC 5545) by its secret address: no bearer token, the
    secret is the key (calendar apps cannot send one). Its ETag changes with its content."""
    feed = await service.calendar_feed(session, token=token)
    headers = {"Cache-Control": "private, max-age=300", "ETag": feed.etag}
    if not_modified(if_none_match, feed.etag):
        return Response(status_code=304, headers=headers)
    return Response(feed.body, media_type=CALENDAR, headers=headers)


@router.get("/plans/{plan_id}/invitation.ics", tags=["calendar"],
            responses={200: {"content": {"text/calendar": {}}}})
async def plan_invitation(
    plan_id: Identifier, session: SessionDep, user: CurrentUser,
    method: InvitationMethod = InvitationMethod.REQUEST,
) -> Response:
    """The plan as one invitation (METHOD:REQUEST) or its cancellation (METHOD:CANCEL)."""
    body = await service.plan_invitation(session, user=user, plan_id=plan_id, method=method)
    return Response(body, media_type=CALENDAR)
@router.patch("/sessions/{session_id}/log", response_model=SessionPublic)
async def correct_session_log(
    session_id: Identifier, data: SessionLogCorrection, session: SessionDep, user: CurrentUser,
) -> SessionPublic:
    """The author corrects their own log within its window (`correctable_until`)."""
    corrected = await service.correct_session_log(session, user=user, session_id=session_id,
                                                  data=data)
    await session.commit()
    return corrected


# --- SMART goals ------------------------------------------------------------------


@router.get("/pairs/{pair_id}/goals", response_model=list[GoalPublic])
async def list_pair_goals(
    pair_id: Identifier, session: SessionDep, user: CurrentUser
) -> list[GoalPublic]:
    """A pair's SMART goals with their progress: for its two members, or admins."""
    return await goals.list_goals(session, user=user, pair_id=pair_id)


@router.post("/pairs/{pair_id}/goals", response_model=GoalPublic, status_code=201)
async def create_goal(
    pair_id: Identifier, data: GoalCreate, session: SessionDep, user: CurrentUser
) -> GoalPublic:
    """A member of the pair sets a SMART goal (measure, unit, baseline, target, due date)."""
    created = await goals.create_goal(session, user=user, pair_id=pair_id, data=data)
    await session.commit()
    return created


@router.post("/goals/{goal_id}/progress", response_model=GoalPublic)
async def record_goal_progress(
    goal_id: Identifier, data: GoalProgressCreate, session: SessionDep, user: CurrentUser
) -> GoalPublic:
    """Either member records the measure's value on a day."""
    updated = await goals.record_progress(session, user=user, goal_id=goal_id, data=data)
    await session.commit()
    return updated


@router.post("/goals/{goal_id}/status", response_model=GoalPublic)
async def set_goal_status(
    goal_id: Identifier, data: GoalStatusChange, session: SessionDep, user: CurrentUser
) -> GoalPublic:
    """Either member closes the goal as achieved or missed."""
    updated = await goals.set_status(session, user=user, goal_id=goal_id, data=data)
    await session.commit()
    return updated


# --- changes soon, across the caller's plans ------------------------------------------


@router.get("/me/changes", response_model=list[UpcomingChange])
async def my_upcoming_changes(
    session: SessionDep, user: ParticipantUser,
    within_hours: Annotated[int, Query(ge=1, le=168)] = 24,
) -> list[UpcomingChange]:
    """The caller's moved and cancelled occurrences, across every plan of theirs, whose old
    or new start lies in the next `within_hours` (1-168, default 24): what a subscribed
    calendar (refreshed every 8-24 h) may not show yet."""
    return await service.upcoming_changes(session, user=user, within_hours=within_hours)
