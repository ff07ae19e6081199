"""Scheduling: the sessions of each pair, their logs, shared recaps and private notes."""

from pathlib import Path

from fastapi import FastAPI

from scheduling import gatherings, inactivity, service
from scheduling.api import router
from scheduling.config import SchedulingSettings
from upward_common.events import (
    EmployeeErased,
    PairEnded,
    PairFormed,
    ParticipantUpdated,
    ProgrammeUpdated,
)
from upward_common.service import ServiceDefinition

SERVICE = ServiceDefinition(
    name="scheduling",
    title="Upward scheduling",
    description=("Recurring plans and calendar feeds for each pair, what each member logged, "
                 "shared recaps, "
                 "private notes, SMART goals and inactivity."),
    settings_cls=SchedulingSettings,
    migrations_dir=Path(__file__).parent / "migrations",
    routers=[router, gatherings.router],
    # The time-driven sweep (at-risk pairs, goals past due) runs while the app runs.
    lifespan=inactivity.lifespan,
    handlers={
        PairFormed: service.on_pair_formed,
        PairEnded: service.on_pair_ended,
        ProgrammeUpdated: service.on_programme_updated,
        ParticipantUpdated: service.on_participant_updated,
        EmployeeErased: service.on_employee_erased,
    },
)


def create_app(settings: SchedulingSettings | None = None) -> FastAPI:
    """The ASGI app (`uvicorn scheduling.main:create_app --factory`)."""
    return SERVICE.create_app(settings)
