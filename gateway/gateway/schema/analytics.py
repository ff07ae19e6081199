"""Analytics' part of the schema: what the event stream says about each programme."""

from __future__ import annotations

import strawberry

from gateway import clients
from gateway.context import Info

# --- types -----------------------------------------------------------------------------


@strawberry.type(description="How one programme is going, counted from events by analytics.")
class ProgrammeSummary:
    programme_id: strawberry.ID
    participants_enrolled: int
    mentors: int
    mentees: int
    pairs_formed: int
    pairs_active: int
    sessions_scheduled: int
    sessions_held: int

    @classmethod
    def of(cls, s: clients.ProgrammeSummaryPublic) -> ProgrammeSummary:
        return cls(
            programme_id=strawberry.ID(s.programme_id),
            participants_enrolled=s.participants_enrolled, mentors=s.mentors,
            mentees=s.mentees, pairs_formed=s.pairs_formed, pairs_active=s.pairs_active,
            sessions_scheduled=s.sessions_scheduled, sessions_held=s.sessions_held,
        )


# --- queries and mutations -------------------------------------------------------------


@strawberry.type
class Query:
    """Programme figures."""

    @strawberry.field(description="Enrolment, pair and session counts of a programme (admins).")
    async def programme_summary(self, info: Info,
                                programme_id: strawberry.ID) -> ProgrammeSummary | None:
        return ProgrammeSummary.of(
            await info.context.loaders.programme_summary.load(programme_id)
        )
