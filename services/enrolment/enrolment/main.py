"""Enrolment: the HRIS mirror, programmes, participants and their surveys."""

from pathlib import Path

from fastapi import FastAPI

from enrolment import cards
from enrolment.api import router
from enrolment.config import EnrolmentSettings
from enrolment.scim_api import router as scim_router
from upward_common.events import PairDeclined, PairEnded, PairFormed, PairProposed, ShortlistOffered
from upward_common.service import ServiceDefinition

SERVICE = ServiceDefinition(
    name="enrolment",
    title="Upward enrolment",
    description="Employees pushed by the HRIS, programmes, and the participants who opt in.",
    settings_cls=EnrolmentSettings,
    migrations_dir=Path(__file__).parent / "migrations",
    routers=[router, scim_router],
    # Who may see whose participant card, as matching announces it.
    handlers={
        ShortlistOffered: cards.on_shortlist_offered,
        PairProposed: cards.on_pair_proposed,
        PairFormed: cards.on_pair_formed,
        PairDeclined: cards.on_pair_declined,
        PairEnded: cards.on_pair_ended,
    },
)


def create_app(settings: EnrolmentSettings | None = None) -> FastAPI:
    """The ASGI app (`uvicorn enrolment.main:create_app --factory`)."""
    return SERVICE.create_app(settings)
