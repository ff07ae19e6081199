"""`me`: the caller's own entry point across the services, in one query.

Their employee record (enrolment), their participations in every programme with their
ids and their invitations (enrolment), their pairs (matching) and their next sessions
(scheduling). Every part reads only the caller's own things: a token that names no
employee (an admin's) has none of them.
"""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry

from gateway import clients
from gateway.context import Info
from gateway.prefetch import prefetch_page
from gateway.schema import enrolment, matching, scheduling
from gateway.schema.pagination import DEFAULT_FIRST, After, Connection, First, Window, by_id


@strawberry.type(description="The caller: their employee record, participations, "
                               "invitations, pairs and next sessions.")
class Me:
    employee_id: strawberry.ID | None = strawberry.field(
        description="The caller's employee id (null for a token that names no employee).")
    found: strawberry.Private[list[clients.ParticipantPublic]]

    @strawberry.field(description="The caller's employee record.")
    async def employee(self, info: Info) -> enrolment.Employee | None:
        if self.employee_id is None:
            return None
        return enrolment.Employee.of(await info.context.loaders.employee.load(self.employee_id))

    @strawberry.field(description="The caller's participations in every programme, oldest "
                                  "first: each id is what updateSurvey, suggestions and "
                                  "pickMentor take.")
    def participations(self, first: First = DEFAULT_FIRST, after: After = None,
                       ) -> Connection[enrolment.Participant]:
        window = Window.of("Participant", first=first, after=after)
        return window.page(self.found, id=by_id, node=enrolment.Participant.of)

    @strawberry.field(description="The invitations the caller received, in every programme.")
    async def invitations(self, info: Info, first: First = DEFAULT_FIRST, after: After = None,
                          ) -> Connection[enrolment.Invitation] | None:
        window = Window.of("Invitation", first=first, after=after)
        found = ([] if self.employee_id is None
                 else await info.context.enrolment.employee_invitations(self.employee_id))
        return window.page(found, id=by_id, node=enrolment.Invitation.of)

    @strawberry.field(description="The pairs the caller is in, as mentor or mentee, in "
                                  "every status.")
    async def pairs(self, info: Info, first: First = DEFAULT_FIRST, after: After = None,
                    ) -> Connection[matching.Pair] | None:
        window = Window.of("Pair", first=first, after=after)
        if self.employee_id is None:
            return window.page([], id=by_id, node=matching.Pair.of)
        me = self.employee_id
        found = [p for p in await info.context.matching.pairs()
                 if me in (p.mentor_employee_id, p.mentee_employee_id)]
        info.context.loaders.pair.prime_many({p.id: p for p in found})
        connection = window.page(found, id=by_id, node=matching.Pair.of)
        await prefetch_page(info, "Pair", connection.nodes)
        return connection

    @strawberry.field(description="The caller's planned sessions still to come, soonest "
                                  "first.")
    async def next_sessions(self, info: Info, first: First = DEFAULT_FIRST, after: After = None,
                            ) -> Connection[scheduling.Session] | None:
        window = Window.of("Session", first=first, after=after)
        if self.employee_id is None:
            return window.page([], id=by_id, node=scheduling.Session.of)
        now = datetime.now(UTC)
        found = sorted(
            (s for s in await info.context.scheduling.employee_sessions(self.employee_id)
             if s.status == "planned" and s.starts_at is not None and s.starts_at >= now),
            key=lambda s: (s.starts_at or now, s.id))
        return window.page(found, id=by_id, node=scheduling.Session.of)


@strawberry.type
class Query:
    """The caller's own entry point."""

    @strawberry.field(description="Who is calling, and everything of theirs: employee record, "
                                  "participations (with ids), invitations, pairs, next "
                                  "sessions. A person's token (participant or admin); an "
                                  "HRIS job's is refused.")
    async def me(self, info: Info) -> Me | None:
        found = await info.context.enrolment.my_participations()
        employee_id = info.context.principal.employee_id
        return Me(employee_id=strawberry.ID(employee_id) if employee_id else None, found=found)
