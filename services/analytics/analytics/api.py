"""Analytics' HTTP API: thin routes over the service layer."""

from __future__ import annotations

from fastapi import APIRouter

from analytics import service
from analytics.models import ProgrammeSummary
from upward_common.auth import ProgrammeAdmin
from upward_common.db import SessionDep
from upward_common.limits import Identifier

router = APIRouter(prefix="/api/v1")


@router.get("/programmes/{programme_id}/summary", response_model=ProgrammeSummary)
async def programme_summary(
    programme_id: Identifier, session: SessionDep, user: ProgrammeAdmin
) -> ProgrammeSummary:
    """A programme's figures built from events (admins); zeros for one not yet heard of."""
    return await service.programme_summary(session, programme_id=programme_id)
