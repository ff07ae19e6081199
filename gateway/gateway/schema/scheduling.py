"""Scheduling's part of the schema: sessions, planned and held, their logs, and SMART goals."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry

from gateway import clients
from gateway.clients import identifier
from gateway.context import Info
from gateway.schema import matching
from gateway.schema.errors import USER_ERRORS, UserError, attempt, maybe, member
from gateway.schema.inputs import GoalId, PairId, SessionId, described, given, plain
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


@strawberry.enum(description="The one-question pairing-fit check: is this pairing working?")
class PairingFit(Enum):
    GOOD = strawberry.enum_value("good", description="The pairing works.")
    POOR = strawberry.enum_value("poor", description="It does not; twice for a pair and HR "
                                                      "is shown a rematch suggestion.")


@strawberry.enum(description="Which side of the pair wrote a log.")
class LogAuthorRole(Enum):
    MENTOR = strawberry.enum_value("mentor", description="The mentor (the junior who teaches).")
    MENTEE = strawberry.enum_value("mentee", description="The mentee (the senior who learns).")


@strawberry.enum(description="Where a goal stands.")
class GoalStatus(Enum):
    ACTIVE = strawberry.enum_value("active", description="Being worked on.")
    ACHIEVED = strawberry.enum_value("achieved", description="Reached.")
    MISSED = strawberry.enum_value("missed", description="Not reached (by a member, or "
                                                          "after its due date).")


@strawberry.enum(description="How a member closes a goal.")
class GoalOutcome(Enum):
    ACHIEVED = strawberry.enum_value("achieved", description="Reached.")
    MISSED = strawberry.enum_value("missed", description="Not reached.")


# --- types -----------------------------------------------------------------------------


@strawberry.type(description="One member's own part of a session's log. The rating and the "
                             "fit answer are shown to their author only.")
class SessionLogEntry:
    author_role: LogAuthorRole = strawberry.field(description="Which side wrote it.")
    mine: bool = strawberry.field(description="Whether the caller wrote it.")
    held_at: datetime = strawberry.field(description="When its author says it was held.")
    duration_minutes: int = strawberry.field(description="How long it lasted, in minutes.")
    mentor_attended: bool = strawberry.field(description="Whether the mentor attended.")
    mentee_attended: bool = strawberry.field(description="Whether the mentee attended.")
    topics: list[str] = strawberry.field(description="Topics covered, from the programme's "
                                                     "catalogue.")
    rating: int | None = strawberry.field(description="1-5; only for its author.")
    fit: PairingFit | None = strawberry.field(description="The fit answer; only for its "
                                                          "author.")
    logged_at: datetime = strawberry.field(description="When it was logged.")
    corrected_at: datetime | None = strawberry.field(description="When it was last corrected.")
    correctable_until: datetime = strawberry.field(
        description="Until when its author may correct it.")

    @classmethod
    def of(cls, log: clients.MemberLogPublic) -> SessionLogEntry:
        return cls(
            author_role=member(LogAuthorRole, log.author_role, service=SERVICE), mine=log.mine,
            held_at=log.held_at, duration_minutes=log.duration_minutes,
            mentor_attended=log.mentor_attended, mentee_attended=log.mentee_attended,
            topics=list(log.topics), rating=log.rating,
            fit=maybe(PairingFit, log.fit, service=SERVICE), logged_at=log.logged_at,
            corrected_at=log.corrected_at, correctable_until=log.correctable_until,
        )


@strawberry.type(description="A dated progress update on a goal.")
class GoalProgress:
    value: float = strawberry.field(description="The measure's value that day.")
    recorded_on: date = strawberry.field(description="The day it was measured.")
    recorded_at: datetime = strawberry.field(description="When it was recorded.")


@strawberry.type(description="A pair's SMART goal: what, measured how, from where to where, "
                             "by when.")
class Goal:
    id: strawberry.ID = strawberry.field(description="The goal's id.")
    pair_id: strawberry.ID = strawberry.field(description="The pair's id.")
    programme_id: strawberry.ID = strawberry.field(description="The programme's id.")
    text: str = strawberry.field(description="The specific goal.")
    measure: str = strawberry.field(description="What is measured.")
    unit: str = strawberry.field(description="The measure's unit.")
    baseline: float = strawberry.field(description="Where the measure started.")
    target: float = strawberry.field(description="Where it should get to.")
    current: float = strawberry.field(description="The latest measured value.")
    progress_percent: int = strawberry.field(description="From baseline to target, 0-100.")
    due_on: date = strawberry.field(description="The day it is due.")
    status: GoalStatus = strawberry.field(description="Where it stands.")
    created_at: datetime = strawberry.field(description="When it was set.")
    updated_at: datetime = strawberry.field(description="When it last changed.")
    progress: list[GoalProgress] = strawberry.field(
        description="Its progress updates, by day measured.")

    @classmethod
    def of(cls, g: clients.GoalPublic) -> Goal:
        return cls(
            id=strawberry.ID(g.id), pair_id=strawberry.ID(g.pair_id),
            programme_id=strawberry.ID(g.programme_id), text=g.text, measure=g.measure,
            unit=g.unit, baseline=g.baseline, target=g.target, current=g.current,
            progress_percent=g.progress_percent, due_on=g.due_on,
            status=member(GoalStatus, g.status, service=SERVICE), created_at=g.created_at,
            updated_at=g.updated_at,
            progress=[GoalProgress(value=u.value, recorded_on=u.recorded_on,
                                   recorded_at=u.recorded_at) for u in g.progress],
        )


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
    key_takeaways: list[str] | None = strawberry.field(
        description="The shared recap's key takeaways (the pair's only).")
    my_private_note: str | None = strawberry.field(
        description="The caller's own note on it; no one else sees it.")
    logs: list[SessionLogEntry] = strawberry.field(
        description="Each member's own part of the log (at most one each).")

    @classmethod
    def of(cls, s: clients.SessionPublic) -> Session:
        return cls(
            id=strawberry.ID(s.id), pair_id=strawberry.ID(s.pair_id),
            programme_id=strawberry.ID(s.programme_id), starts_at=s.starts_at,
            duration_minutes=s.duration_minutes,
            status=member(SessionStatus, s.status, service=SERVICE), held_at=s.held_at,
            recap=s.recap, key_takeaways=s.key_takeaways, my_private_note=s.my_private_note,
            logs=[SessionLogEntry.of(log) for log in s.logs],
        )

    @strawberry.field(description="The pair this session belongs to.")
    async def pair(self, info: Info) -> Annotated[Pair, MATCHING] | None:
        return matching.Pair.of(await info.context.loaders.pair.load(self.pair_id))


# --- inputs ----------------------------------------------------------------------------


@strawberry.input(description="A member's own part of a session: attendance, length, topics, "
                              "rating and fit; the shared recap; a private note.")
class LogSessionInput:
    held_at: datetime = strawberry.field(description="When it was held (not in the future, "
                                                     "not before the pair formed).")
    duration_minutes: int = strawberry.field(description="How long it lasted.")
    mentor_attended: bool | None = strawberry.field(
        default=None, description="Whether the mentor attended (default true).")
    mentee_attended: bool | None = strawberry.field(
        default=None, description="Whether the mentee attended (default true).")
    topics: list[str] | None = strawberry.field(
        default=None, description="Topics covered, from the programme's catalogue.")
    rating: int | None = strawberry.field(default=None, description="1-5.")
    fit: PairingFit | None = strawberry.field(default=None,
                                              description="Is this pairing working for you?")
    recap: str | None = strawberry.field(default=None,
                                         description="What was covered; both members see it.")
    key_takeaways: list[str] | None = strawberry.field(
        default=None, description="The shared recap's key takeaways.")
    private_note: str | None = strawberry.field(
        default=None, description="A note only its author will ever see.")


@strawberry.input(description="A correction of the caller's own log: only the fields named "
                              "change (null clears rating and fit).")
class CorrectSessionLogInput:
    held_at: datetime | None = strawberry.field(default=strawberry.UNSET,
                                                description="When it was held.")
    duration_minutes: int | None = strawberry.field(default=strawberry.UNSET,
                                                    description="How long it lasted.")
    mentor_attended: bool | None = strawberry.field(default=strawberry.UNSET,
                                                    description="Whether the mentor attended.")
    mentee_attended: bool | None = strawberry.field(default=strawberry.UNSET,
                                                    description="Whether the mentee attended.")
    topics: list[str] | None = strawberry.field(default=strawberry.UNSET,
                                                description="Topics covered.")
    rating: int | None = strawberry.field(default=strawberry.UNSET, description="1-5.")
    fit: PairingFit | None = strawberry.field(default=strawberry.UNSET,
                                              description="Is this pairing working for you?")
    recap: str | None = strawberry.field(default=strawberry.UNSET,
                                         description="The shared recap (replaces it).")
    key_takeaways: list[str] | None = strawberry.field(
        default=strawberry.UNSET, description="The shared recap's key takeaways.")
    private_note: str | None = strawberry.field(
        default=strawberry.UNSET, description="The caller's own note (empty deletes it).")


@strawberry.input(description="A SMART goal for the pair.")
class CreateGoalInput:
    text: str = strawberry.field(description="The specific goal.")
    measure: str = strawberry.field(description="What is measured.")
    unit: str = strawberry.field(description="The measure's unit.")
    baseline: float = strawberry.field(description="Where the measure starts.")
    target: float = strawberry.field(description="Where it should get to (not the baseline).")
    due_on: date = strawberry.field(description="The day it is due (after today).")


# --- payloads --------------------------------------------------------------------------


@strawberry.type(description="What logSession did: the session, or why not.")
class LogSessionPayload:
    session: Session | None = strawberry.field(
        description="The session, held; null when errors say why not.")
    errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.type(description="What correctSessionLog did: the session, or why not.")
class CorrectSessionLogPayload:
    session: Session | None = strawberry.field(
        description="The session as corrected; null when errors say why not.")
    errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.type(description="What a goal mutation did: the goal, or why not.")
class GoalPayload:
    goal: Goal | None = strawberry.field(description="The goal; null when errors say why not.")
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

    @strawberry.field(description="A pair's SMART goals: for its two members, or admins.")
    async def goals(self, info: Info, pair_id: PairId, first: First = DEFAULT_FIRST,
                    after: After = None) -> Connection[Goal]:
        window = Window.of("Goal", first=first, after=after)
        identifier(pair_id, field="pair_id")
        found = await info.context.scheduling.pair_goals(pair_id)
        return window.page(found, id=by_id, node=Goal.of)


@strawberry.type
class Mutation:
    """Sessions."""

    @strawberry.mutation(description="Record that a session was held (a member of the pair).")
    async def log_session(
        self, info: Info, session_id: SessionId,
        input: Annotated[LogSessionInput, described("What happened.")],
    ) -> LogSessionPayload | None:
        data = clients.SessionLog.model_validate(plain(input))
        session, errors = await attempt(
            info, lambda: info.context.scheduling.log_session(session_id, data), Session.of,
            body="input")
        return LogSessionPayload(session=session, errors=errors)

    @strawberry.mutation(description="Correct the caller's own log of a session, within its "
                                      "correction window.")
    async def correct_session_log(
        self, info: Info, session_id: SessionId,
        input: Annotated[CorrectSessionLogInput, described("The fields to change.")],
    ) -> CorrectSessionLogPayload | None:
        data = clients.SessionLogCorrection.model_validate(given(input))
        session, errors = await attempt(
            info, lambda: info.context.scheduling.correct_session_log(session_id, data),
            Session.of, body="input")
        return CorrectSessionLogPayload(session=session, errors=errors)

    @strawberry.mutation(description="Set a SMART goal for the pair (a member of the pair).")
    async def create_goal(
        self, info: Info, pair_id: PairId,
        input: Annotated[CreateGoalInput, described("The goal.")],
    ) -> GoalPayload | None:
        data = clients.GoalCreate.model_validate(plain(input))
        goal, errors = await attempt(
            info, lambda: info.context.scheduling.create_goal(pair_id, data), Goal.of,
            body="input")
        return GoalPayload(goal=goal, errors=errors)

    @strawberry.mutation(description="Record a goal's measured value on a day (either member).")
    async def update_goal_progress(
        self, info: Info, goal_id: GoalId,
        value: Annotated[float, described("The measure's value that day.")],
        recorded_on: Annotated[date, described("The day it was measured (not in the "
                                               "future).")],
    ) -> GoalPayload | None:
        data = clients.GoalProgressCreate(value=value, recorded_on=recorded_on)
        goal, errors = await attempt(
            info, lambda: info.context.scheduling.record_goal_progress(goal_id, data), Goal.of)
        return GoalPayload(goal=goal, errors=errors)

    @strawberry.mutation(description="Close a goal as achieved or missed (either member).")
    async def set_goal_status(
        self, info: Info, goal_id: GoalId,
        status: Annotated[GoalOutcome, described("How the goal ended.")],
    ) -> GoalPayload | None:
        data = clients.GoalStatusChange(status=status.value)
        goal, errors = await attempt(
            info, lambda: info.context.scheduling.set_goal_status(goal_id, data), Goal.of)
        return GoalPayload(goal=goal, errors=errors)
