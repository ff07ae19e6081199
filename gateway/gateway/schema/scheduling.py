"""Scheduling's part of the schema: sessions, planned and held, their logs; recurring plans;
feeds; SMART goals; touchpoints and programme-wide group sessions."""

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
from gateway.schema.inputs import (
    GoalId,
    GroupSessionId,
    PairId,
    PlanId,
    ProgrammeId,
    SessionId,
    described,
    given,
    plain,
)
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
    template_id: str | None = strawberry.field(
        default=None, description="The programme goal template it started from.")

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
            template_id=g.template_id,
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
    blackout: bool = strawberry.field(
        default=False, description="Skipped: it falls on one of the programme's blackout "
                                   "dates (cancelled, an exception of its series).")

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
            sequence=o.sequence, blackout=o.blackout)


@strawberry.type(description="A moved or cancelled occurrence of one of the caller's plans "
                             "whose old or new start is soon: what a subscribed calendar may "
                             "not show yet.")
class UpcomingChange:
    pair_id: strawberry.ID = strawberry.field(description="The pair's id.")
    plan_id: strawberry.ID = strawberry.field(description="The plan's id.")
    occurrence: Occurrence = strawberry.field(description="The occurrence as it is now.")

    @classmethod
    def of(cls, c: clients.UpcomingChangePublic) -> UpcomingChange:
        return cls(pair_id=strawberry.ID(c.pair_id), plan_id=strawberry.ID(c.plan_id),
                   occurrence=Occurrence.of(c))


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
    template_id: str | None = strawberry.field(
        default=None, description="A goal template of the programme: it fills the fields "
                                  "left out (the due day from its months).")
    text: str | None = strawberry.field(default=None, description="The specific goal.")
    measure: str | None = strawberry.field(default=None, description="What is measured.")
    unit: str | None = strawberry.field(default=None, description="The measure's unit.")
    baseline: float | None = strawberry.field(default=None,
                                              description="Where the measure starts.")
    target: float | None = strawberry.field(
        default=None, description="Where it should get to (not the baseline).")
    due_on: date | None = strawberry.field(default=None,
                                           description="The day it is due (after today).")


@strawberry.enum(description="How a touchpoint happened.")
class TouchpointKind(Enum):
    MESSAGE = strawberry.enum_value("message", description="A written message.")
    CALL = strawberry.enum_value("call", description="A call.")
    CHAT = strawberry.enum_value("chat", description="A quick chat in person.")


@strawberry.enum(description="A participant's answer to a group session.")
class RsvpResponse(Enum):
    YES = strawberry.enum_value("yes", description="Coming (takes a place).")
    NO = strawberry.enum_value("no", description="Not coming.")
    MAYBE = strawberry.enum_value("maybe", description="Perhaps.")


@strawberry.enum(description="Whether a group session still takes place.")
class GroupSessionStatus(Enum):
    SCHEDULED = strawberry.enum_value("scheduled", description="It takes place.")
    CANCELLED = strawberry.enum_value("cancelled", description="Called off.")


@strawberry.type(description="A short check-in between sessions (not a session).")
class Touchpoint:
    id: strawberry.ID = strawberry.field(description="The touchpoint's id.")
    kind: TouchpointKind = strawberry.field(description="How it happened.")
    at: datetime = strawberry.field(description="When.")
    minutes: int = strawberry.field(description="How long (1-60 minutes).")
    author_role: LogAuthorRole = strawberry.field(description="Which side recorded it.")
    mine: bool = strawberry.field(description="Whether the caller recorded it.")
    note: str | None = strawberry.field(description="The pair's shared note, if any.")

    @classmethod
    def of(cls, t: clients.TouchpointPublic) -> Touchpoint:
        return cls(id=strawberry.ID(t.id), kind=member(TouchpointKind, t.kind, service=SERVICE),
                   at=t.at, minutes=t.minutes,
                   author_role=member(LogAuthorRole, t.author_role, service=SERVICE),
                   mine=t.mine, note=t.note)


@strawberry.type(description="A pair's touchpoints: every item for its members, only the "
                             "count and minutes for admins.")
class PairTouchpoints:
    count: int = strawberry.field(description="How many the pair recorded.")
    minutes: int = strawberry.field(description="Their minutes in all.")
    items: list[Touchpoint] = strawberry.field(description="Each one (empty for admins).")

    @classmethod
    def of(cls, t: clients.PairTouchpointsPublic) -> PairTouchpoints:
        return cls(count=t.count, minutes=t.minutes, items=[Touchpoint.of(i) for i in t.items])


@strawberry.type(description="How many answered a group session each way.")
class RsvpCounts:
    yes: int = strawberry.field(description="Coming.")
    no: int = strawberry.field(description="Not coming.")
    maybe: int = strawberry.field(description="Perhaps.")


@strawberry.type(description="A programme-wide gathering, with its answers' counts.")
class GroupSession:
    id: strawberry.ID = strawberry.field(description="The group session's id.")
    programme_id: strawberry.ID = strawberry.field(description="Its programme.")
    title: str = strawberry.field(description="What it is.")
    starts_at: datetime = strawberry.field(description="When it starts.")
    duration_minutes: int = strawberry.field(description="How long it lasts.")
    capacity: int | None = strawberry.field(description="How many places (null: no limit).")
    location: str | None = strawberry.field(description="Where.")
    link: str | None = strawberry.field(description="The meeting link.")
    status: GroupSessionStatus = strawberry.field(description="Whether it takes place.")
    cancel_reason: str | None = strawberry.field(description="Why it was called off.")
    sequence: int = strawberry.field(description="Up on every change (iCalendar SEQUENCE).")
    counts: RsvpCounts = strawberry.field(description="The answers so far.")
    my_response: RsvpResponse | None = strawberry.field(
        description="The caller's own answer (null: none yet, or an admin).")

    @classmethod
    def of(cls, g: clients.GroupSessionPublic) -> GroupSession:
        return cls(
            id=strawberry.ID(g.id), programme_id=strawberry.ID(g.programme_id), title=g.title,
            starts_at=g.starts_at, duration_minutes=g.duration_minutes, capacity=g.capacity,
            location=g.location, link=g.link,
            status=member(GroupSessionStatus, g.status, service=SERVICE),
            cancel_reason=g.cancel_reason, sequence=g.sequence,
            counts=RsvpCounts(yes=g.counts.yes, no=g.counts.no, maybe=g.counts.maybe),
            my_response=maybe(RsvpResponse, g.my_response, service=SERVICE))


@strawberry.input(description="A check-in between sessions.")
class RecordTouchpointInput:
    kind: TouchpointKind = strawberry.field(description="How it happened.")
    at: datetime = strawberry.field(description="When (with an offset; not in the future).")
    minutes: int = strawberry.field(description="How long, 1-60 minutes.")
    note: str | None = strawberry.field(default=None, description="A shared note (optional).")


@strawberry.input(description="A programme-wide group session.")
class ScheduleGroupSessionInput:
    title: str = strawberry.field(description="What it is.")
    starts_at: datetime = strawberry.field(description="When (with an offset; in the future).")
    duration_minutes: int = strawberry.field(description="How long, in minutes.")
    capacity: int | None = strawberry.field(default=None, description="How many places.")
    location: str | None = strawberry.field(default=None, description="Where.")
    link: str | None = strawberry.field(default=None, description="The meeting link.")


@strawberry.input(description="The fields of a group session to change.")
class UpdateGroupSessionInput:
    title: str | None = strawberry.field(default=strawberry.UNSET, description="What it is.")
    starts_at: datetime | None = strawberry.field(default=strawberry.UNSET,
                                                  description="When (in the future).")
    duration_minutes: int | None = strawberry.field(default=strawberry.UNSET,
                                                    description="How long, in minutes.")
    capacity: int | None = strawberry.field(default=strawberry.UNSET,
                                            description="How many places (null: no limit).")
    location: str | None = strawberry.field(default=strawberry.UNSET, description="Where.")
    link: str | None = strawberry.field(default=strawberry.UNSET,
                                        description="The meeting link.")


@strawberry.type(description="What recordTouchpoint did: the touchpoint, or why not.")
class TouchpointPayload:
    touchpoint: Touchpoint | None = strawberry.field(
        description="The touchpoint; null when errors say why not.")
    errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.type(description="What a group session mutation did: the session, or why not.")
class GroupSessionPayload:
    group_session: GroupSession | None = strawberry.field(
        description="The group session; null when errors say why not.")
    errors: list[UserError] = strawberry.field(description=USER_ERRORS)


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

    @strawberry.field(description="The caller's moved and cancelled occurrences, across all "
                                   "their plans, whose old or new start lies in the next "
                                   "withinHours (1-168, default 24): participants.")
    async def my_upcoming_changes(
        self, info: Info,
        within_hours: Annotated[int, described("The hours ahead, 1 to 168.")] = 24,
    ) -> list[UpcomingChange]:
        found = await info.context.scheduling.my_upcoming_changes(within_hours)
        return [UpcomingChange.of(change) for change in found]

    @strawberry.field(description="The caller's own sessions, across their pairs.")
    async def my_sessions(self, info: Info, first: First = DEFAULT_FIRST,
                          after: After = None) -> Connection[Session]:
        window = Window.of("Session", first=first, after=after)
        employee_id = info.context.own_employee_id()
        if employee_id is None:  # an admin's token names no one: no sessions of their own
            return window.page([], id=by_id, node=Session.of)
        found = await info.context.scheduling.employee_sessions(employee_id)
        return window.page(found, id=by_id, node=Session.of)

    @strawberry.field(description="A pair's SMART goals: for its two members, or admins.")
    async def goals(self, info: Info, pair_id: PairId, first: First = DEFAULT_FIRST,
                    after: After = None) -> Connection[Goal]:
        window = Window.of("Goal", first=first, after=after)
        identifier(pair_id, field="pair_id")
        found = await info.context.scheduling.pair_goals(pair_id)
        return window.page(found, id=by_id, node=Goal.of)

    @strawberry.field(description="A pair's touchpoints: every item for its members, the count "
                                  "only for admins.")
    async def touchpoints(self, info: Info, pair_id: PairId) -> PairTouchpoints | None:
        identifier(pair_id, field="pair_id")
        return PairTouchpoints.of(await info.context.scheduling.pair_touchpoints(pair_id))

    @strawberry.field(description="A programme's group sessions: for admins and its "
                                  "participants.")
    async def group_sessions(self, info: Info, programme_id: ProgrammeId) -> list[GroupSession]:
        identifier(programme_id, field="programme_id")
        found = await info.context.scheduling.programme_group_sessions(programme_id)
        return [GroupSession.of(g) for g in found]

    @strawberry.field(description="The group sessions of the caller's programmes, with their "
                                  "own answer.")
    async def my_group_sessions(self, info: Info) -> list[GroupSession]:
        return [GroupSession.of(g) for g in await info.context.scheduling.my_group_sessions()]


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

    @strawberry.mutation(description="Record a check-in between sessions (a member of the pair).")
    async def record_touchpoint(
        self, info: Info, pair_id: PairId,
        input: Annotated[RecordTouchpointInput, described("The check-in.")],
    ) -> TouchpointPayload | None:
        data = clients.TouchpointCreate(kind=input.kind.value, at=input.at,
                                        minutes=input.minutes, note=input.note)
        touchpoint, errors = await attempt(
            info, lambda: info.context.scheduling.record_touchpoint(pair_id, data),
            Touchpoint.of, body="input")
        return TouchpointPayload(touchpoint=touchpoint, errors=errors)

    @strawberry.mutation(description="Schedule a programme-wide group session (HR admins, "
                                     "programme managers).")
    async def schedule_group_session(
        self, info: Info, programme_id: ProgrammeId,
        input: Annotated[ScheduleGroupSessionInput, described("The group session.")],
    ) -> GroupSessionPayload | None:
        data = clients.GroupSessionCreate.model_validate(plain(input))
        found, errors = await attempt(
            info, lambda: info.context.scheduling.create_group_session(programme_id, data),
            GroupSession.of, body="input")
        return GroupSessionPayload(group_session=found, errors=errors)

    @strawberry.mutation(description="Change a group session (admins; its sequence goes up).")
    async def update_group_session(
        self, info: Info, group_session_id: GroupSessionId,
        input: Annotated[UpdateGroupSessionInput, described("The fields to change.")],
    ) -> GroupSessionPayload | None:
        data = clients.GroupSessionUpdate.model_validate(given(input))
        found, errors = await attempt(
            info, lambda: info.context.scheduling.update_group_session(group_session_id, data),
            GroupSession.of, body="input")
        return GroupSessionPayload(group_session=found, errors=errors)

    @strawberry.mutation(description="Cancel a group session with a reason (admins).")
    async def cancel_group_session(
        self, info: Info, group_session_id: GroupSessionId,
        reason: Annotated[str, described("Why it is called off.")],
    ) -> GroupSessionPayload | None:
        data = clients.GroupSessionCancel(reason=reason)
        found, errors = await attempt(
            info, lambda: info.context.scheduling.cancel_group_session(group_session_id, data),
            GroupSession.of)
        return GroupSessionPayload(group_session=found, errors=errors)

    @strawberry.mutation(description="Answer a group session of one's programme: yes, no or "
                                     "maybe (a participant, for themselves).")
    async def rsvp_group_session(
        self, info: Info, group_session_id: GroupSessionId,
        response: Annotated[RsvpResponse, described("The answer.")],
    ) -> GroupSessionPayload | None:
        data = clients.RsvpCreate(response=response.value)
        found, errors = await attempt(
            info, lambda: info.context.scheduling.rsvp_group_session(group_session_id, data),
            GroupSession.of)
        return GroupSessionPayload(group_session=found, errors=errors)
