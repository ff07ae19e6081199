"""Scheduling's HTTP API: thin routes over the service layer."""

from __future__ import annotations

from fastapi import APIRouter

from scheduling import service
from scheduling.models import (
    OccurrenceCancel,
    OccurrenceReschedule,
    PairSessions,
    PlanPublic,
    SessionLog,
    SessionPublic,
)
from upward_common.auth import CurrentUser
from upward_common.batch import Batch, BatchIds
from upward_common.db import SessionDep
from upward_common.limits import Identifier

router = APIRouter(prefix="/api/v1")


@router.get("/pairs/{pair_id}/sessions", response_model=list[SessionPublic])
async def list_pair_sessions(
    pair_id: Identifier, session: SessionDep, user: CurrentUser
) -> list[SessionPublic]:
    """A pair's sessions: for its two members, or admins (who never see recaps or notes)."""
    return await service.list_pair_sessions(session, user=user, pair_id=pair_id)


@router.get("/batch/pair-sessions", response_model=Batch[PairSessions], tags=["batch"])
async def batch_pair_sessions(
    ids: BatchIds, session: SessionDep, user: CurrentUser
) -> Batch[PairSessions]:
    """Several pairs' sessions by pair id, each pair as `GET /pairs/{pair_id}/sessions`
    answers it (docs/limits.md)."""
    found, missing = await service.list_sessions_of_pairs(session, user=user, pair_ids=ids)
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


@router.post("/sessions/{session_id}/log", response_model=SessionPublic)
async def log_session(
    session_id: Identifier, data: SessionLog, session: SessionDep, user: CurrentUser
) -> SessionPublic:
    """A pair member records the session as held: a recap the pair shares, a note of their own."""
    logged = await service.log_session(session, user=user, session_id=session_id, data=data)
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
