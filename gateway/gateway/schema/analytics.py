"""Analytics' part of the schema: what the event stream says about each programme."""

from __future__ import annotations

import strawberry

from gateway import clients
from gateway.context import Info
from gateway.schema.inputs import ProgrammeId

# --- types -----------------------------------------------------------------------------


@strawberry.type(description="How one programme is going, counted from events by analytics.")
class ProgrammeSummary:
    programme_id: strawberry.ID = strawberry.field(description="The programme's id.")
    participants_enrolled: int = strawberry.field(description="Participants enrolled now.")
    mentors: int = strawberry.field(description="Of them, mentors.")
    mentees: int = strawberry.field(description="Of them, mentees.")
    pairs_formed: int = strawberry.field(description="Pairs formed, ever.")
    pairs_active: int = strawberry.field(description="Pairs active now.")
    sessions_scheduled: int = strawberry.field(description="Sessions planned, ever.")
    sessions_held: int = strawberry.field(description="Sessions held, ever.")
    pairs_at_risk: int = strawberry.field(
        description="Pairs ever flagged at risk (no session for twice the cadence).")
    pairs_fit_flagged: int = strawberry.field(
        description="Pairs for which a poor fit was reported twice.")
    pairs_closure_proposed: int = strawberry.field(
        description="Pairs silent long enough that closing them was proposed.")

    @classmethod
    def of(cls, s: clients.ProgrammeSummaryPublic) -> ProgrammeSummary:
        return cls(
            programme_id=strawberry.ID(s.programme_id),
            participants_enrolled=s.participants_enrolled, mentors=s.mentors,
            mentees=s.mentees, pairs_formed=s.pairs_formed, pairs_active=s.pairs_active,
            sessions_scheduled=s.sessions_scheduled, sessions_held=s.sessions_held,
            pairs_at_risk=s.pairs_at_risk, pairs_fit_flagged=s.pairs_fit_flagged,
            pairs_closure_proposed=s.pairs_closure_proposed,
        )


# --- queries and mutations -------------------------------------------------------------


@strawberry.type
class Query:
    """Programme figures."""

    @strawberry.field(description="Enrolment, pair and session counts of a programme (admins).")
    async def programme_summary(self, info: Info,
                                programme_id: ProgrammeId) -> ProgrammeSummary | None:
        return ProgrammeSummary.of(
            await info.context.loaders.programme_summary.load(programme_id)
        )
