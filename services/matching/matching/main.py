"""Matching: the candidate pool, explained scores, optimal cohort runs and pair lifecycles."""

import threading
from pathlib import Path

from fastapi import FastAPI

from matching import compiled, projection
from matching.api import router
from matching.config import MatchingSettings
from upward_common.events import (
    EmployeeErased,
    EmployeeUpdated,
    ParticipantEnrolled,
    ParticipantUpdated,
    ParticipantWithdrawn,
    ProgrammeUpdated,
)
from upward_common.service import ServiceDefinition

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
    },
)


def create_app(settings: MatchingSettings | None = None) -> FastAPI:
    """The ASGI app (`uvicorn matching.main:create_app --factory`)."""
    # The solver's compiled scan loads (or compiles) in the background, not in a first run.
    threading.Thread(target=compiled.warm_up, name="matching-warm-up", daemon=True).start()
    return SERVICE.create_app(settings)
