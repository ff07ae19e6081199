"""Scheduling's part of the schema: sessions, planned and held."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from gateway import clients
from gateway.context import Info
from gateway.schema import matching

if TYPE_CHECKING:
    from gateway.schema.matching import Pair

# Another domain's types are named lazily, since the domains link to each other and so their
# modules import each other; a resolver reaches them through the module when it runs.
MATCHING = strawberry.lazy("gateway.schema.matching")


# --- types -----------------------------------------------------------------------------


@strawberry.type(description="A mentoring session; the private note is its author's alone.")
class Session:
    id: strawberry.ID
    pair_id: strawberry.ID
    programme_id: strawberry.ID
    starts_at: datetime | None
    duration_minutes: int | None
    status: str
    held_at: datetime | None
    recap: str | None
    my_private_note: str | None

    @classmethod
    def of(cls, s: clients.SessionPublic) -> Session:
        return cls(
            id=strawberry.ID(s.id), pair_id=strawberry.ID(s.pair_id),
            programme_id=strawberry.ID(s.programme_id), starts_at=s.starts_at,
            duration_minutes=s.duration_minutes, status=s.status, held_at=s.held_at,
            recap=s.recap, my_private_note=s.my_private_note,
        )

    @strawberry.field(description="The pair this session belongs to.")
    async def pair(self, info: Info) -> Annotated[Pair, MATCHING] | None:
        return matching.Pair.of(await info.context.loaders.pair.load(self.pair_id))


# --- inputs ----------------------------------------------------------------------------


@strawberry.input(description="What happened in a session: a shared recap, a private note.")
class LogSessionInput:
    held_at: datetime
    duration_minutes: int
    recap: str | None = None
    private_note: str | None = None


# --- queries and mutations -------------------------------------------------------------


@strawberry.type
class Query:
    """Sessions."""

    @strawberry.field(description="A pair's sessions.")
    async def sessions(self, info: Info, pair_id: strawberry.ID) -> list[Session]:
        return [Session.of(s) for s in await info.context.loaders.pair_sessions.load(pair_id)]

    @strawberry.field(description="One session: for the pair's members, or admins.")
    async def session(self, info: Info, id: strawberry.ID) -> Session | None:
        return Session.of(await info.context.scheduling.session(id))

    @strawberry.field(description="The caller's own sessions, across their pairs.")
    async def my_sessions(self, info: Info) -> list[Session]:
        scheduling = info.context.scheduling
        found = await scheduling.employee_sessions(info.context.principal.employee_id)
        return [Session.of(s) for s in found]


@strawberry.type
class Mutation:
    """Sessions."""

    @strawberry.mutation(description="Record that a session was held (a member of the pair).")
    async def log_session(self, info: Info, session_id: strawberry.ID,
                          input: LogSessionInput) -> Session:
        logged = await info.context.scheduling.log_session(session_id, clients.SessionLog(
            held_at=input.held_at, duration_minutes=input.duration_minutes,
            recap=input.recap, private_note=input.private_note,
        ))
        return Session.of(logged)
