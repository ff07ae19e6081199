"""Enrolment: the HRIS mirror, programmes, participants and their surveys."""

from pathlib import Path

from fastapi import FastAPI

from enrolment.api import router
from enrolment.config import EnrolmentSettings
from enrolment.scim_api import router as scim_router
from upward_common.service import ServiceDefinition

SERVICE = ServiceDefinition(
    name="enrolment",
    title="Upward enrolment",
    description="Employees pushed by the HRIS, programmes, and the participants who opt in.",
    settings_cls=EnrolmentSettings,
    migrations_dir=Path(__file__).parent / "migrations",
    routers=[router, scim_router],
)


def create_app(settings: EnrolmentSettings | None = None) -> FastAPI:
    """The ASGI app (`uvicorn enrolment.main:create_app --factory`)."""
    return SERVICE.create_app(settings)
