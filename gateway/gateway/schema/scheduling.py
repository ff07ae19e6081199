"""Scheduling's part of the schema: sessions, planned and held."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry

from gateway import clients
from gateway.clients import identifier
from gateway.context import Info
from gateway.schema import matching
from gateway.schema.errors import USER_ERRORS, UserError, attempt, member
from gateway.schema.inputs import PairId, SessionId, described
from gateway.schema.pagination import DEFAULT_FIRST, After, Connection, First, Window, by_id

if TYPE_CHECKING:
    from gateway.schema.matching import Pair

# Another domain's types are named lazily, since the domains link to each other and so their
# modules import each other; a resolver reaches them through the module when it runs.
MATCHING = strawberry.lazy("gateway.schema.matching")

SERVICE = "scheduling"


# --- closed sets -----------------------------------------------------------------------


@strawberry.enum(description="Whether a session has happened.")
class SessionStatus(Enum):
    PLANNED = strawberry.enum_value("planned", description="Planned, not held yet.")
    HELD = strawberry.enum_value("held", description="Held and logged by a member of the "
                                                      "pair.")
    CANCELLED = strawberry.enum_value("cancelled", description="Called off.")


# --- types -----------------------------------------------------------------------------


@strawberry.type(description="A mentoring session; the private note is its author's alone.")
class Session:
    id: strawberry.ID = strawberry.field(description="The session's id.")
    pair_id: strawberry.ID = strawberry.field(description="The pair's id.")
    programme_id: strawberry.ID = strawberry.field(description="The programme's id.")
    starts_at: datetime | None = strawberry.field(description="When it starts, if planned.")
    duration_minutes: int | None = strawberry.field(description="How long it lasts or lasted.")
    status: SessionStatus = strawberry.field(description="Whether it has happened.")
    held_at: datetime | None = strawberry.field(description="When it was held.")
    recap: str | None = strawberry.field(description="What the pair covered, shared by both.")
    my_private_note: str | None = strawberry.field(
        description="The caller's own note on it; no one else sees it.")

    @classmethod
    def of(cls, s: clients.SessionPublic) -> Session:
        return cls(
            id=strawberry.ID(s.id), pair_id=strawberry.ID(s.pair_id),
            programme_id=strawberry.ID(s.programme_id), starts_at=s.starts_at,
            duration_minutes=s.duration_minutes,
            status=member(SessionStatus, s.status, service=SERVICE), held_at=s.held_at,
            recap=s.recap, my_private_note=s.my_private_note,
        )

    @strawberry.field(description="The pair this session belongs to.")
    async def pair(self, info: Info) -> Annotated[Pair, MATCHING] | None:
        return matching.Pair.of(await info.context.loaders.pair.load(self.pair_id))


# --- inputs ----------------------------------------------------------------------------


@strawberry.input(description="What happened in a session: a shared recap, a private note.")
class LogSessionInput:
    held_at: datetime = strawberry.field(description="When it was held.")
    duration_minutes: int = strawberry.field(description="How long it lasted.")
    recap: str | None = strawberry.field(default=None,
                                         description="What was covered; both members see it.")
    private_note: str | None = strawberry.field(
        default=None, description="A note only its author will ever see.")


# --- payloads --------------------------------------------------------------------------


@strawberry.type(description="What logSession did: the session, or why not.")
class LogSessionPayload:
    session: Session | None = strawberry.field(
        description="The session, held; null when errors say why not.")
    errors: list[UserError] = strawberry.field(description=USER_ERRORS)


# --- queries and mutations -------------------------------------------------------------


@strawberry.type
class Query:
    """Sessions."""

    @strawberry.field(description="A pair's sessions.")
    async def sessions(self, info: Info, pair_id: PairId, first: First = DEFAULT_FIRST,
                       after: After = None) -> Connection[Session]:
        window = Window.of("Session", first=first, after=after)
        identifier(pair_id, field="pair_id")
        found = await info.context.loaders.pair_sessions.load(pair_id)
        return window.page(found, id=by_id, node=Session.of)

    @strawberry.field(description="One session: for the pair's members, or admins.")
    async def session(self, info: Info, session_id: SessionId) -> Session | None:
        identifier(session_id, field="session_id")
        return Session.of(await info.context.scheduling.session(session_id))

    @strawberry.field(description="The caller's own sessions, across their pairs.")
    async def my_sessions(self, info: Info, first: First = DEFAULT_FIRST,
                          after: After = None) -> Connection[Session]:
        window = Window.of("Session", first=first, after=after)
        scheduling = info.context.scheduling
        found = await scheduling.employee_sessions(info.context.principal.employee_id)
        return window.page(found, id=by_id, node=Session.of)


@strawberry.type
class Mutation:
    """Sessions."""

    @strawberry.mutation(description="Record that a session was held (a member of the pair).")
    async def log_session(
        self, info: Info, session_id: SessionId,
        input: Annotated[LogSessionInput, described("What happened.")],
    ) -> LogSessionPayload | None:
        data = clients.SessionLog(held_at=input.held_at, duration_minutes=input.duration_minutes,
                                  recap=input.recap, private_note=input.private_note)
        session, errors = await attempt(
            info, lambda: info.context.scheduling.log_session(session_id, data), Session.of,
            body="input")
        return LogSessionPayload(session=session, errors=errors)
