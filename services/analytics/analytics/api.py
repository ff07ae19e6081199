"""Analytics' HTTP API: thin routes over the service layer."""

from __future__ import annotations

from fastapi import APIRouter

from analytics import service
from analytics.models import ProgrammeSummary
from upward_common.auth import ProgrammeAdmin
from upward_common.batch import Batch, BatchIds, distinct
from upward_common.db import SessionDep
from upward_common.limits import Identifier

router = APIRouter(prefix="/api/v1")


@router.get("/programmes/{programme_id}/summary", response_model=ProgrammeSummary)
async def get_programme_summary(
    programme_id: Identifier, session: SessionDep, user: ProgrammeAdmin
) -> ProgrammeSummary:
    """A programme's figures built from events (admins); zeros for one not yet heard of."""
    return await service.programme_summary(session, programme_id=programme_id)


@router.get("/batch/programme-summaries", response_model=Batch[ProgrammeSummary],
            tags=["batch"])
async def batch_programme_summaries(
    ids: BatchIds, session: SessionDep, user: ProgrammeAdmin
) -> Batch[ProgrammeSummary]:
    """Several programmes' figures by programme id (admins), each as
    `GET /programmes/{programme_id}/summary` answers it (docs/limits.md)."""
    return Batch[ProgrammeSummary](items=[
        await service.programme_summary(session, programme_id=programme_id)
        for programme_id in distinct(ids)])
