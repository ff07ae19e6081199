"""Analytics: read models rebuilt from events alone, answering how programmes are doing."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from analytics import rebuild, report_store, service
from analytics.api import router
from analytics.config import AnalyticsSettings
from upward_common.events import (
    EmployeeErased,
    EmployeeUpdated,
    GoalUpdated,
    GroupSessionCancelled,
    GroupSessionRsvped,
    GroupSessionScheduled,
    MatchRunFinished,
    MilestoneReached,
    PairAtRisk,
    PairClosureProposed,
    PairDeclined,
    PairEnded,
    PairFitFlagged,
    PairFormed,
    PairProposed,
    ParticipantEnrolled,
    ParticipantInvited,
    ParticipantUpdated,
    ParticipantWithdrawn,
    PlanAccepted,
    ProgrammeUpdated,
    SessionCancelled,
    SessionLogged,
    SessionRescheduled,
    SessionScheduled,
    ShortlistOffered,
    TouchpointRecorded,
)
from upward_common.service import ServiceDefinition


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Analytics' own state: its rebuilds, and the refresher of stored retention reports."""
    async with rebuild.lifespan(app), report_store.lifespan(app):
        yield


SERVICE = ServiceDefinition(
    name="analytics",
    title="Upward analytics",
    description=("Programme figures (enrolment, pairs, sessions) and retention against matched "
                 "non-participants, built from the event stream."),
    settings_cls=AnalyticsSettings,
    migrations_dir=Path(__file__).parent / "migrations",
    routers=[router],
    lifespan=lifespan,
    # Every type of the contract (analytics emits nothing yet); a test keeps this in step
    # with `EventData.registry`.
    handlers={
        EmployeeUpdated: service.on_employee_updated,
        EmployeeErased: service.on_employee_erased,
        ProgrammeUpdated: service.on_programme_updated,
        ParticipantEnrolled: service.on_participant_enrolled,
        ParticipantUpdated: service.on_participant_updated,
        ParticipantWithdrawn: service.on_participant_withdrawn,
        PairFormed: service.on_pair_formed,
        PairEnded: service.on_pair_ended,
        MatchRunFinished: service.on_match_run_finished,
        PairProposed: service.on_pair_proposed,
        PairDeclined: service.on_pair_declined,
        ShortlistOffered: service.on_shortlist_offered,
        SessionScheduled: service.on_session_scheduled,
        SessionLogged: service.on_session_logged,
        SessionCancelled: service.on_session_cancelled,
        SessionRescheduled: service.on_session_rescheduled,
        PlanAccepted: service.on_plan_accepted,
        GoalUpdated: service.on_goal_updated,
        PairAtRisk: service.on_pair_at_risk,
        TouchpointRecorded: service.on_touchpoint_recorded,
        GroupSessionScheduled: service.on_group_session_scheduled,
        GroupSessionCancelled: service.on_group_session_cancelled,
        GroupSessionRsvped: service.on_group_session_rsvped,
        PairFitFlagged: service.on_pair_fit_flagged,
        PairClosureProposed: service.on_pair_closure_proposed,
        MilestoneReached: service.on_milestone_reached,
        ParticipantInvited: service.on_participant_invited,
    },
)


def create_app(settings: AnalyticsSettings | None = None) -> FastAPI:
    """The ASGI app (`uvicorn analytics.main:create_app --factory`)."""
    return SERVICE.create_app(settings)
