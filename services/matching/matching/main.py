"""Matching: the candidate pool, explained scores, optimal cohort runs and pair lifecycles."""

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from matching import compiled, pairs, projection
from matching.api import router
from matching.config import MatchingSettings
from matching.pool import PoolCache
from upward_common.events import (
    EmployeeErased,
    EmployeeUpdated,
    PairAtRisk,
    PairFitFlagged,
    ParticipantEnrolled,
    ParticipantUpdated,
    ParticipantWithdrawn,
    ProgrammeUpdated,
)
from upward_common.service import ServiceDefinition


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Matching's own state while the app runs: the pool cache and the solver warmed up.

    The compiled loops load from Numba's cache (or compile, after an install) in a
    thread of their own, so neither the start nor the first whole-cohort run waits
    for them; building the app (or its OpenAPI document) starts nothing.
    """
    app.state.pool_cache = PoolCache()
    warm_up = threading.Thread(target=compiled.warm_up, name="matching-warm-up", daemon=True)
    app.state.warm_up = warm_up
    warm_up.start()
    yield


SERVICE = ServiceDefinition(
    name="matching",
    title="Upward matching",
    description=(
        "The candidate pool built from enrolment's events, explained 0-100 scores, "
        "hard constraints, shortlists, provably optimal whole-cohort runs and pairs."
    ),
    settings_cls=MatchingSettings,
    migrations_dir=Path(__file__).parent / "migrations",
    routers=[router],
    handlers={
        ProgrammeUpdated: projection.on_programme_updated,
        EmployeeUpdated: projection.on_employee_updated,
        EmployeeErased: projection.on_employee_erased,
        ParticipantEnrolled: projection.on_participant_enrolled,
        ParticipantUpdated: projection.on_participant_updated,
        ParticipantWithdrawn: projection.on_participant_withdrawn,
        PairFitFlagged: pairs.on_pair_fit_flagged,
        PairAtRisk: pairs.on_pair_at_risk,
    },
    lifespan=lifespan,
)


def create_app(settings: MatchingSettings | None = None) -> FastAPI:
    """The ASGI app (`uvicorn matching.main:create_app --factory`)."""
    return SERVICE.create_app(settings)
