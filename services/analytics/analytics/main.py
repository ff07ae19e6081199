"""Analytics: read models rebuilt from events alone, answering how programmes are doing."""

from pathlib import Path

from fastapi import FastAPI

from analytics.api import router
from analytics.config import AnalyticsSettings
from analytics.events import HANDLERS
from upward_common.service import ServiceDefinition

SERVICE = ServiceDefinition(
    name="analytics",
    title="Upward analytics",
    description="Programme figures (enrolment, pairs, sessions) built from the event stream.",
    settings_cls=AnalyticsSettings,
    migrations_dir=Path(__file__).parent / "migrations",
    routers=[router],
    handlers=HANDLERS,
)


def create_app(settings: AnalyticsSettings | None = None) -> FastAPI:
    """The ASGI app (`uvicorn analytics.main:create_app --factory`)."""
    return SERVICE.create_app(settings)
