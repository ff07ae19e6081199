"""Scheduling's part of the schema: sessions, planned and held, their logs; recurring plans;
feeds; SMART goals."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry

from gateway import clients
from gateway.clients import identifier
from gateway.context import Info
from gateway.prefetch import loaded
from gateway.schema import matching
from gateway.schema.errors import USER_ERRORS, UserError, attempt, maybe, member
from gateway.schema.inputs import GoalId, PairId, PlanId, SessionId, described, given, plain
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


@strawberry.enum(description="Whether the pair has agreed its plan.")
class PlanStatus(Enum):
    PROPOSED = strawberry.enum_value("proposed", description="Proposed, not accepted yet.")
    ACCEPTED = strawberry.enum_value("accepted", description="Accepted by a member of the pair.")


@strawberry.enum(description="How often a plan's sessions come.")
class Cadence(Enum):
    WEEKLY = strawberry.enum_value("weekly", description="Every week.")
    BIWEEKLY = strawberry.enum_value("biweekly", description="Every other week.")
    MONTHLY = strawberry.enum_value("monthly", description="The same weekday of every month.")


@strawberry.enum(description="A side of the pair.")
class PairSide(Enum):
    MENTOR = strawberry.enum_value("mentor", description="The mentor (the junior who teaches).")
    MENTEE = strawberry.enum_value("mentee", description="The mentee (the senior who learns).")


@strawberry.enum(description="The one-question pairing-fit check: is this pairing working?")
class PairingFit(Enum):
    GOOD = strawberry.enum_value("good", description="The pairing works.")
    POOR = strawberry.enum_value("poor", description="It does not; twice for a pair and HR "
                                                      "is shown a rematch suggestion.")


@strawberry.enum(description="Which side of the pair wrote a log.")
class LogAuthorRole(Enum):
    MENTOR = strawberry.enum_value("mentor", description="The mentor (the junior who teaches).")
    MENTEE = strawberry.enum_value("mentee", description="The mentee (the senior who learns).")


@strawberry.enum(description="Which occurrences a reschedule moves.")
class RescheduleScope(Enum):
    THIS = strawberry.enum_value("this", description="This occurrence only.")
    FOLLOWING = strawberry.enum_value(
        "following", description="This one and every later one of its series, by the same "
                                 "shift in the plan's zone.")


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
    def pair(self, info: Info) -> Annotated[Pair, MATCHING] | None:
        return loaded(info.context.loaders.pair, self.pair_id, matching.Pair.of)


@strawberry.type(description="One occurrence of a plan (a session), and what a clock "
                             "change did to it.")
class Occurrence:
    session_id: strawberry.ID = strawberry.field(description="The session's id.")
    occurrence_index: int | None = strawberry.field(
        description="Its place in its series, from 0.")
    starts_at: datetime = strawberry.field(description="When it starts.")
    original_starts_at: datetime | None = strawberry.field(
        description="When its series had it start (differs once moved).")
    duration_minutes: int = strawberry.field(description="How long it lasts.")
    status: SessionStatus = strawberry.field(description="Whether it has happened.")
    conflict_side: PairSide | None = strawberry.field(
        description="A side whose availability no longer holds it (a clock change or an "
                    "availability update), if any.")
    alternative_starts_at: datetime | None = strawberry.field(
        description="The nearest start both sides can make, when it is in conflict.")
    cancel_reason: str | None = strawberry.field(description="Why it was cancelled.")
    sequence: int = strawberry.field(description="How many times it changed.")

    @classmethod
    def of(cls, o: clients.OccurrencePublic) -> Occurrence:
        return cls(
            session_id=strawberry.ID(o.session_id), occurrence_index=o.occurrence_index,
            starts_at=o.starts_at, original_starts_at=o.original_starts_at,
            duration_minutes=o.duration_minutes,
            status=member(SessionStatus, o.status, service=SERVICE),
            conflict_side=(member(PairSide, o.conflict_side, service=SERVICE)
                           if o.conflict_side else None),
            alternative_starts_at=o.alternative_starts_at, cancel_reason=o.cancel_reason,
            sequence=o.sequence)


@strawberry.type(description="A recurring series of a plan: a weekday and local time in a zone.")
class PlanSeries:
    id: strawberry.ID = strawberry.field(description="The series' id (its calendar UID).")
    time_zone: str = strawberry.field(description="The IANA zone its local time is in.")
    weekday: int = strawberry.field(description="Its weekday, 0 = Monday, in that zone.")
    local_start: str = strawberry.field(description="Its start, HH:MM, in that zone.")
    interval: int = strawberry.field(description="Weeks (or months) between occurrences.")
    count: int = strawberry.field(description="How many occurrences it has.")


@strawberry.type(description="A side's slot nearest the other's availability, when the two "
                             "never overlap.")
class NearestSlot:
    side: PairSide = strawberry.field(description="Whose availability the slot is in.")
    starts_at: datetime = strawberry.field(description="Its first start.")
    time_zone: str = strawberry.field(description="The zone it is anchored in.")
    local_start: str = strawberry.field(description="Its start, HH:MM, in that zone.")


@strawberry.type(description="A pair's recurring plan and its occurrences.")
class Plan:
    id: strawberry.ID = strawberry.field(description="The plan's id.")
    pair_id: strawberry.ID = strawberry.field(description="The pair's id.")
    status: PlanStatus = strawberry.field(description="Whether the pair has agreed it.")
    cadence: Cadence = strawberry.field(description="How often its sessions come.")
    anchor_time_zone: str = strawberry.field(description="The zone it is anchored in (the "
                                                         "mentee's).")
    duration_minutes: int = strawberry.field(description="How long each session lasts.")
    overlap: bool = strawberry.field(description="False when the two people's availability "
                                                 "never meets (the plan then alternates).")
    nearest: list[NearestSlot] = strawberry.field(
        description="Each side's nearest slot, when there is no overlap.")
    series: list[PlanSeries] = strawberry.field(
        description="Its recurring series (two when it alternates; bounded by the programme).")
    occurrences: list[Occurrence] = strawberry.field(
        description="Every occurrence, in order (bounded by the programme's duration).")
    changes_within_24h: list[Occurrence] = strawberry.field(
        description="Moved or cancelled occurrences whose old or new start is in the next "
                    "24 hours (subscribed calendars refresh slowly).")
    sequence: int = strawberry.field(description="How many times it changed.")

    @classmethod
    def of(cls, p: clients.PlanPublic) -> Plan:
        return cls(
            id=strawberry.ID(p.id), pair_id=strawberry.ID(p.pair_id),
            status=member(PlanStatus, p.status, service=SERVICE),
            cadence=member(Cadence, p.cadence, service=SERVICE),
            anchor_time_zone=p.anchor_time_zone, duration_minutes=p.duration_minutes,
            overlap=p.overlap,
            nearest=[NearestSlot(side=member(PairSide, n.side, service=SERVICE),
                                 starts_at=n.starts_at, time_zone=n.time_zone,
                                 local_start=n.local_start) for n in p.nearest],
            series=[PlanSeries(id=strawberry.ID(x.id), time_zone=x.time_zone,
                               weekday=x.weekday, local_start=x.local_start,
                               interval=x.interval, count=x.count) for x in p.series],
            occurrences=[Occurrence.of(o) for o in p.occurrences],
            changes_within_24h=[Occurrence.of(o) for o in p.changes_within_24h],
            sequence=p.sequence)


@strawberry.type(description="A new secret calendar address; shown once.")
class CalendarFeed:
    url_path: str = strawberry.field(description="The feed's path on the scheduling service "
                                                 "(`/api/v1/calendar/<secret>.ics`).")
    issued_at: datetime = strawberry.field(description="When it was issued.")


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


@strawberry.input(description="Where an occurrence moves to.")
class RescheduleSessionInput:
    starts_at: datetime = strawberry.field(description="The new start, with its offset.")
    scope: RescheduleScope = strawberry.field(default=RescheduleScope.THIS,
                                              description="This one, or it and the later ones.")
    override: bool = strawberry.field(
        default=False, description="Plan it even outside a side's availability.")


@strawberry.input(description="Another slot for the rest of a plan, in its anchor zone.")
class ProposePlanSlotInput:
    weekday: int = strawberry.field(description="The weekday, 0 = Monday.")
    local_start: str = strawberry.field(description="The local start, HH:MM.")
    starts_on: date | None = strawberry.field(
        default=None, description="The first date to use it from (default: from now on).")
    override: bool = strawberry.field(
        default=False, description="Plan it even outside a side's availability.")


@strawberry.input(description="Why an occurrence is cancelled.")
class CancelSessionInput:
    reason: str = strawberry.field(description="The reason, shown to the pair and admins.")


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


@strawberry.type(description="What a change to a plan did: the plan, or why not.")
class PlanPayload:
    plan: Plan | None = strawberry.field(description="The plan; null when errors say why not.")
    errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.type(description="What issueCalendarFeed did: the new address, or why not.")
class IssueCalendarFeedPayload:
    feed: CalendarFeed | None = strawberry.field(
        description="The new address; null when errors say why not.")
    errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.type(description="What revokeCalendarFeed did.")
class RevokeCalendarFeedPayload:
    revoked: int | None = strawberry.field(
        description="How many live addresses stopped working (0 or 1).")
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

    @strawberry.field(description="A pair's recurring plan: for its members, or admins.")
    async def pair_plan(self, info: Info, pair_id: PairId) -> Plan | None:
        identifier(pair_id, field="pair_id")
        return Plan.of(await info.context.scheduling.pair_plan(pair_id))

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

    @strawberry.mutation(description="Accept the pair's proposed plan (a member of the pair).")
    async def accept_plan(self, info: Info, plan_id: PlanId) -> PlanPayload | None:
        plan, errors = await attempt(
            info, lambda: info.context.scheduling.accept_plan(plan_id), Plan.of)
        return PlanPayload(plan=plan, errors=errors)

    @strawberry.mutation(description="Propose another slot for the rest of the plan (a member; "
                                     "the other member accepts it).")
    async def propose_plan_slot(
        self, info: Info, plan_id: PlanId,
        input: Annotated[ProposePlanSlotInput, described("The slot.")],
    ) -> PlanPayload | None:
        data = clients.PlanSlotProposal(weekday=input.weekday, local_start=input.local_start,
                                        starts_on=input.starts_on, override=input.override)
        plan, errors = await attempt(
            info, lambda: info.context.scheduling.propose_plan_slot(plan_id, data), Plan.of,
            body="input")
        return PlanPayload(plan=plan, errors=errors)

    @strawberry.mutation(description="Move an occurrence, or it and the later ones (a member).")
    async def reschedule_session(
        self, info: Info, session_id: SessionId,
        input: Annotated[RescheduleSessionInput, described("Where it moves to.")],
    ) -> PlanPayload | None:
        data = clients.OccurrenceReschedule(starts_at=input.starts_at, scope=input.scope.value,
                                            override=input.override)
        plan, errors = await attempt(
            info, lambda: info.context.scheduling.reschedule_session(session_id, data),
            Plan.of, body="input")
        return PlanPayload(plan=plan, errors=errors)

    @strawberry.mutation(description="Cancel one occurrence with a reason (a member).")
    async def cancel_session(
        self, info: Info, session_id: SessionId,
        input: Annotated[CancelSessionInput, described("Why.")],
    ) -> PlanPayload | None:
        data = clients.OccurrenceCancel(reason=input.reason)
        plan, errors = await attempt(
            info, lambda: info.context.scheduling.cancel_session(session_id, data), Plan.of,
            body="input")
        return PlanPayload(plan=plan, errors=errors)

    @strawberry.mutation(description="A new secret calendar address for the caller (the "
                                     "previous one stops working).")
    async def issue_calendar_feed(self, info: Info) -> IssueCalendarFeedPayload | None:
        feed, errors = await attempt(
            info, info.context.scheduling.issue_calendar_feed,
            lambda f: CalendarFeed(url_path=f.path, issued_at=f.issued_at))
        return IssueCalendarFeedPayload(feed=feed, errors=errors)

    @strawberry.mutation(description="Revoke the caller's secret calendar address.")
    async def revoke_calendar_feed(self, info: Info) -> RevokeCalendarFeedPayload | None:
        revoked, errors = await attempt(
            info, info.context.scheduling.revoke_calendar_feed, lambda r: r.revoked)
        return RevokeCalendarFeedPayload(revoked=revoked, errors=errors)

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
