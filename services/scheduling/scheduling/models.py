"""Scheduling's tables and their API shapes.

Pairs, programmes and participants are mirrors built from events. Every table
name carries the service's name, because every service's models share one
SQLAlchemy metadata in a process that runs them all.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel
from pydantic import Field as PydanticField
from sqlalchemy import JSON, Column, Index, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from upward_common.limits import (
    SHORT_LIST_MAX,
    AwareDatetime,
    Identifier,
    LongText,
    Name,
    Tag,
)
from upward_common.limits import Text as CappedText
from upward_common.types import UTCDateTime


def new_id() -> str:
    return str(uuid.uuid4())


class PairStatus(StrEnum):
    ACTIVE = "active"
    ENDED = "ended"


class Pair(SQLModel, table=True):
    """A mentor (junior who teaches) and a mentee (senior who learns), as matching formed them.

    Member ids are None until `pair.formed` arrives (an early `pair.ended` leaves a
    tombstone) and after an erasure.
    """

    __tablename__ = "scheduling_pair"

    id: str = Field(primary_key=True, max_length=64)
    programme_id: str = Field(index=True, max_length=64)
    mentor_employee_id: str | None = Field(default=None, index=True, max_length=64)
    mentee_employee_id: str | None = Field(default=None, index=True, max_length=64)
    status: PairStatus = Field(default=PairStatus.ACTIVE, sa_type=String(16))
    # When the pair formed and ended (each its own event's `occurred_at`, so the row
    # keeps both); the first session is planned from `formed_at`.
    formed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    ended_reason: str | None = Field(default=None, max_length=200)
    # Inactivity and fit (inactivity.py, session logs): when each was announced, so a
    # sweep or a log announces it once. `silent_since` is the start of the silence the
    # flag was raised for (the last held session, or the formation).
    fit_flagged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    at_risk_silent_since: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closure_silent_since: datetime | None = Field(default=None, sa_type=UTCDateTime)

    def has_member(self, employee_id: str | None) -> bool:
        return employee_id is not None and employee_id in (
            self.mentor_employee_id, self.mentee_employee_id,
        )


class Programme(SQLModel, table=True):
    """The programme rules scheduling plans with (latest `programme.updated` wins)."""

    __tablename__ = "scheduling_programme"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    status: str = Field(sa_type=String(16))
    session_cadence: str = Field(sa_type=String(16))
    session_minutes: int
    duration_weeks: int = 24
    # The programme's topic catalogue: what a session log's `topics` are chosen from.
    topics: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # Holidays (sorted ISO dates): no occurrence is planned on them.
    blackout_dates: list[str] = Field(default_factory=list,
                                      sa_column=Column(JSON, nullable=False, default=list))
    # The programme's goal templates (each with its `id`): a goal may start from one.
    goal_templates: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, default=list))
    # When the `programme.updated` that set this row happened: a late older one loses.
    occurred_at: datetime = Field(sa_type=UTCDateTime)


class Participant(SQLModel, table=True):
    """What scheduling keeps of a participant: enough to plan in their time zone later."""

    __tablename__ = "scheduling_participant"
    # Planning looks a pair member up by (programme, employee).
    __table_args__ = (Index("ix_scheduling_participant_programme_employee",
                            "programme_id", "employee_id"),)

    id: str = Field(primary_key=True, max_length=64)
    programme_id: str = Field(index=True, max_length=64)
    employee_id: str | None = Field(default=None, index=True, max_length=64)
    role: str = Field(sa_type=String(16))
    status: str = Field(sa_type=String(16))
    time_zone: str | None = Field(default=None, max_length=64)
    # Weekly windows [{"weekday": 0-6, "start": "HH:MM", "end": "HH:MM"}] in `time_zone`;
    # None until a `participant.updated` says (planning then assumes weekday office hours).
    availability: list[dict[str, Any]] | None = Field(default=None, sa_type=JSON)
    # When the `participant.updated` that set this row happened: a late older one loses.
    occurred_at: datetime = Field(sa_type=UTCDateTime)


class SessionStatus(StrEnum):
    PLANNED = "planned"
    HELD = "held"
    CANCELLED = "cancelled"


class MentoringSession(SQLModel, table=True):
    """One session of a pair: planned, then held (with the pair's shared recap) or cancelled."""

    __tablename__ = "scheduling_session"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    pair_id: str = Field(foreign_key="scheduling_pair.id", index=True, max_length=64)
    programme_id: str = Field(index=True, max_length=64)
    starts_at: datetime = Field(sa_type=UTCDateTime)
    # Planned length; replaced by the length actually held when the session is logged.
    duration_minutes: int
    status: SessionStatus = Field(default=SessionStatus.PLANNED, sa_type=String(16))
    held_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    recap: str | None = Field(default=None, sa_type=Text)
    # The shared recap's key takeaways (the pair's, like the recap).
    key_takeaways: list[str] | None = Field(default=None, sa_column=Column(JSON))
    # Who last wrote the shared recap (an erasure deletes the recaps a person wrote).
    logged_by_employee_id: str | None = Field(default=None, max_length=64)
    logged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
    # --- plans: an occurrence of a plan's series (None for a session outside a plan)
    plan_id: str | None = Field(default=None, index=True, max_length=36)
    series_id: str | None = Field(default=None, index=True, max_length=36)
    occurrence_index: int | None = None
    # The start the series gives this occurrence (its RECURRENCE-ID once moved).
    original_starts_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # A side ("mentor"/"mentee") whose availability no longer holds this occurrence,
    # and the nearest start that fits both.
    conflict_side: str | None = Field(default=None, sa_type=String(16))
    alternative_starts_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    cancel_reason: str | None = Field(default=None, max_length=200)
    # Incremented on every change of the occurrence (iCalendar SEQUENCE); when it changed.
    sequence: int = 0
    changed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class PrivateNote(SQLModel, table=True):
    """A participant's own note on a session: readable by its author only, never by an admin."""

    __tablename__ = "scheduling_private_note"
    __table_args__ = (UniqueConstraint("session_id", "author_employee_id"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    session_id: str = Field(foreign_key="scheduling_session.id", index=True, max_length=36)
    author_employee_id: str = Field(index=True, max_length=64)
    body: str = Field(sa_type=Text)
    written_at: datetime = Field(sa_type=UTCDateTime)


# --- plans and calendar feeds ---------------------------------------------------


class PlanStatus(StrEnum):
    PROPOSED = "proposed"
    ACCEPTED = "accepted"


class Cadence(StrEnum):
    WEEKLY = "weekly"
    BIWEEKLY = "biweekly"
    MONTHLY = "monthly"


class Plan(SQLModel, table=True):
    """A pair's recurring plan: proposed on `pair.formed`, accepted by a member."""

    __tablename__ = "scheduling_plan"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    pair_id: str = Field(foreign_key="scheduling_pair.id", unique=True, max_length=64)
    programme_id: str = Field(index=True, max_length=64)
    status: PlanStatus = Field(default=PlanStatus.PROPOSED, sa_type=String(16))
    anchor_time_zone: str = Field(max_length=64)
    cadence: Cadence = Field(sa_type=String(16))
    duration_minutes: int
    # False: the two people's windows never meet; `nearest` holds each side's slot.
    overlap: bool = True
    nearest: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    proposed_by_employee_id: str | None = Field(default=None, max_length=64)
    accepted_by_employee_id: str | None = Field(default=None, max_length=64)
    accepted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Incremented on every change of the plan or one of its occurrences.
    sequence: int = 0
    created_at: datetime = Field(sa_type=UTCDateTime)
    changed_at: datetime = Field(sa_type=UTCDateTime)


class PlanSeries(SQLModel, table=True):
    """One recurring series of a plan (an iCalendar VEVENT with its RRULE).

    A plan has one series, two when it alternates; a new slot or a this-and-following
    move ends a series (`count` shrinks) and starts another.
    """

    __tablename__ = "scheduling_plan_series"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    plan_id: str = Field(foreign_key="scheduling_plan.id", index=True, max_length=36)
    position: int
    time_zone: str = Field(max_length=64)
    local_start: str = Field(max_length=5)  # "HH:MM" in `time_zone`
    starts_on: date
    frequency: str = Field(sa_type=String(16))  # weekly | monthly
    interval: int
    count: int
    # The sides whose windows the series lies in ("mentor,mentee" or one of them).
    fits: str = Field(max_length=32)
    sequence: int = 0


class CalendarFeed(SQLModel, table=True):
    """A participant's secret calendar address: only the secret's SHA-256 is kept."""

    __tablename__ = "scheduling_calendar_feed"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    employee_id: str = Field(index=True, max_length=64)
    token_sha256: str = Field(unique=True, max_length=64)
    issued_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
# --- session logs: each member's own part --------------------------------------


class PairingFit(StrEnum):
    """The one-question pairing-fit check: "Is this pairing working for you?"."""

    GOOD = "good"
    POOR = "poor"


class MemberLog(SQLModel, table=True):
    """One member's own part of a held session's log: attendance, length, topics, rating, fit.

    Each member of the pair has at most one per session; only its author corrects it.
    """

    __tablename__ = "scheduling_member_log"
    __table_args__ = (UniqueConstraint("session_id", "author_employee_id"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    session_id: str = Field(foreign_key="scheduling_session.id", index=True, max_length=36)
    pair_id: str = Field(index=True, max_length=64)
    # None once the author was erased (the rest of the row is no one's personal text).
    author_employee_id: str | None = Field(default=None, index=True, max_length=64)
    author_role: str = Field(sa_type=String(16))  # mentor or mentee
    held_at: datetime = Field(sa_type=UTCDateTime)
    duration_minutes: int
    mentor_attended: bool
    mentee_attended: bool
    topics: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    rating: int | None = None
    fit: PairingFit | None = Field(default=None, sa_type=String(16))
    logged_at: datetime = Field(sa_type=UTCDateTime)
    corrected_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The first `held_at` plus the correction window in force when it was logged: moving
    # `held_at` in a correction does not move the window.
    correctable_until: datetime = Field(sa_type=UTCDateTime)


# --- SMART goals ------------------------------------------------------------------


class GoalStatus(StrEnum):
    ACTIVE = "active"
    ACHIEVED = "achieved"
    MISSED = "missed"


class Goal(SQLModel, table=True):
    """A pair's SMART goal: what, measured how (unit), from where (baseline) to where, by when."""

    __tablename__ = "scheduling_goal"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    pair_id: str = Field(foreign_key="scheduling_pair.id", index=True, max_length=64)
    programme_id: str = Field(index=True, max_length=64)
    text: str = Field(sa_type=Text)
    measure: str = Field(max_length=200)
    unit: str = Field(max_length=100)
    baseline: float
    target: float
    current: float
    due_on: date
    status: GoalStatus = Field(default=GoalStatus.ACTIVE, sa_type=String(16))
    # The programme goal template it started from, if any.
    template_id: str | None = Field(default=None, max_length=64)
    created_by_employee_id: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)

    @property
    def progress_percent(self) -> int:
        """How far from baseline to target the latest value is, 0-100."""
        share = (self.current - self.baseline) / (self.target - self.baseline)
        return max(0, min(100, round(share * 100)))


class GoalProgress(SQLModel, table=True):
    """A dated progress update on a goal, by either member of the pair."""

    __tablename__ = "scheduling_goal_progress"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    goal_id: str = Field(foreign_key="scheduling_goal.id", index=True, max_length=36)
    value: float
    recorded_on: date
    recorded_by_employee_id: str | None = Field(default=None, max_length=64)
    recorded_at: datetime = Field(sa_type=UTCDateTime)


TABLES = (
    "scheduling_pair", "scheduling_programme", "scheduling_participant", "scheduling_session",
    "scheduling_private_note", "scheduling_plan", "scheduling_plan_series",
    "scheduling_calendar_feed",
    "scheduling_private_note", "scheduling_member_log", "scheduling_goal",
    "scheduling_goal_progress",
)


# --- API shapes ------------------------------------------------------------------


Rating = Annotated[int, PydanticField(ge=1, le=5)]
Minutes = Annotated[int, PydanticField(ge=1, le=24 * 60)]
Topics = Annotated[list[Tag], PydanticField(max_length=SHORT_LIST_MAX)]
Takeaways = Annotated[list[CappedText], PydanticField(max_length=SHORT_LIST_MAX)]


class SessionLog(BaseModel):
    """What a pair member records after a session: their own part, the shared recap, a note.

    `recap` and `key_takeaways` are the pair's shared recap: given, they replace it;
    left out, the one already written stays.
    """

    held_at: AwareDatetime  # with its offset; years 1900-2200, stored in UTC
    duration_minutes: Minutes
    mentor_attended: bool = True
    mentee_attended: bool = True
    topics: Topics = []
    rating: Rating | None = None
    fit: PairingFit | None = None
    recap: LongText | None = None
    key_takeaways: Takeaways | None = None
    private_note: LongText | None = None


class SessionLogCorrection(BaseModel):
    """A correction of the caller's own log: only the fields given change."""

    held_at: AwareDatetime | None = None
    duration_minutes: Minutes | None = None
    mentor_attended: bool | None = None
    mentee_attended: bool | None = None
    topics: Topics | None = None
    rating: Rating | None = None
    fit: PairingFit | None = None
    recap: LongText | None = None
    key_takeaways: Takeaways | None = None
    private_note: LongText | None = None


class MemberLogPublic(BaseModel):
    """One member's part of a session's log. `rating` and `fit` are shown to its author only."""

    author_role: str
    mine: bool
    held_at: datetime
    duration_minutes: int
    mentor_attended: bool
    mentee_attended: bool
    topics: list[str]
    rating: int | None
    fit: PairingFit | None
    logged_at: datetime
    corrected_at: datetime | None
    # The last moment its author may correct it (held_at + the correction window).
    correctable_until: datetime


class SessionPublic(BaseModel):
    """A session as the caller may see it: `my_private_note` is only ever the caller's own."""

    id: str
    pair_id: str
    programme_id: str
    starts_at: datetime
    duration_minutes: int
    status: SessionStatus
    held_at: datetime | None
    recap: str | None
    key_takeaways: list[str] | None = None
    my_private_note: str | None
    logs: list[MemberLogPublic] = []


class PairSessions(BaseModel):
    """One pair's sessions, planned and held, in the order they start (a batch read's item)."""

    pair_id: str
    sessions: list[SessionPublic]


# --- plans: API shapes ------------------------------------------------------------


class Side(StrEnum):
    MENTOR = "mentor"
    MENTEE = "mentee"


class RescheduleScope(StrEnum):
    THIS = "this"
    FOLLOWING = "following"


class NearestSlotPublic(BaseModel):
    """A side's slot nearest the other side's windows, when the two never overlap."""

    side: Side
    starts_at: datetime
    time_zone: str
    weekday: int
    local_start: str


class SeriesPublic(BaseModel):
    """One recurring series of a plan: weekday and local start in its zone."""

    id: str
    position: int
    time_zone: str
    weekday: int
    local_start: str
    starts_on: date
    frequency: str
    interval: int
    count: int


class OccurrencePublic(BaseModel):
    """One occurrence of a plan; `conflict_side` names a side a clock change shut out."""

    session_id: str
    series_id: str | None
    occurrence_index: int | None
    starts_at: datetime
    original_starts_at: datetime | None
    duration_minutes: int
    status: SessionStatus
    conflict_side: Side | None
    alternative_starts_at: datetime | None
    cancel_reason: str | None
    sequence: int
    # Skipped because its date is one of the programme's blackout dates (an EXDATE).
    blackout: bool = False


class UpcomingChange(OccurrencePublic):
    """A moved or cancelled occurrence of one of the caller's plans, soon (old or new start)."""

    pair_id: str
    plan_id: str


class PlanPublic(BaseModel):
    """A pair's plan with every occurrence (nothing private: no recap, no note)."""

    id: str
    pair_id: str
    programme_id: str
    status: PlanStatus
    anchor_time_zone: str
    cadence: Cadence
    duration_minutes: int
    overlap: bool
    nearest: list[NearestSlotPublic]
    series: list[SeriesPublic]
    occurrences: list[OccurrencePublic]
    proposed_by_employee_id: str | None
    accepted_by_employee_id: str | None
    accepted_at: datetime | None
    sequence: int
    # Moves and cancellations whose old or new start falls in the next 24 hours:
    # subscribed calendars refresh slowly (Google every 8-24 h), so say them here.
    changes_within_24h: list[OccurrencePublic]


class OccurrenceReschedule(BaseModel):
    """Move one occurrence, or it and every later one of its series by the same shift."""

    starts_at: AwareDatetime
    scope: RescheduleScope = RescheduleScope.THIS
    override: bool = False  # True: allowed outside a side's availability


class PlanSlotProposal(BaseModel):
    """Another slot for the rest of the plan: a weekday and local start in the anchor zone."""

    weekday: int = PydanticField(ge=0, le=6)  # 0 = Monday
    local_start: str = PydanticField(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    # The first date to use it from (default: the first such weekday from now on).
    starts_on: date | None = None
    override: bool = False  # True: allowed outside a side's availability


class OccurrenceCancel(BaseModel):
    """Cancel one occurrence, saying why (the reason is shown to the pair and admins)."""

    reason: Name


class CalendarFeedIssued(BaseModel):
    """A new secret feed address, shown once: only its hash is kept, so keep the URL."""

    token: str
    path: str
    issued_at: datetime


class CalendarFeedRevoked(BaseModel):
    """How many live feed addresses the revocation ended (0 or 1)."""

    revoked: int


class InvitationMethod(StrEnum):
    REQUEST = "request"
    CANCEL = "cancel"


class GoalCreate(BaseModel):
    """A SMART goal: specific text, a measure with its unit, baseline, target, due date.

    With `template_id` the programme's goal template fills what is left out; without
    one every field is required (a 422 names the first missing).
    """

    template_id: Identifier | None = None
    text: CappedText | None = PydanticField(default=None, min_length=1)
    measure: Name | None = PydanticField(default=None, min_length=1)
    unit: Tag | None = PydanticField(default=None, min_length=1)
    baseline: float | None = PydanticField(default=None, allow_inf_nan=False, ge=-1e12,
                                           le=1e12)
    target: float | None = PydanticField(default=None, allow_inf_nan=False, ge=-1e12, le=1e12)
    due_on: date | None = None


class GoalProgressCreate(BaseModel):
    """A dated progress update: the measure's value on that day."""

    value: float = PydanticField(allow_inf_nan=False, ge=-1e12, le=1e12)
    recorded_on: date


class GoalStatusChange(BaseModel):
    """Close a goal as achieved or missed (missed also happens by itself after the due date)."""

    status: GoalStatus


class GoalProgressPublic(BaseModel):
    value: float
    recorded_on: date
    recorded_at: datetime


class GoalPublic(BaseModel):
    """A pair's goal with its progress updates, oldest first."""

    id: str
    pair_id: str
    programme_id: str
    text: str
    measure: str
    unit: str
    baseline: float
    target: float
    current: float
    progress_percent: int
    due_on: date
    status: GoalStatus
    created_at: datetime
    updated_at: datetime
    progress: list[GoalProgressPublic]
    template_id: str | None = None


# --- touchpoints and group sessions (gatherings.py) -------------------------------


class TouchpointKind(StrEnum):
    MESSAGE = "message"
    CALL = "call"
    CHAT = "chat"


class Touchpoint(SQLModel, table=True):
    """A short check-in between sessions, recorded by a member of the pair (not a session)."""

    __tablename__ = "scheduling_touchpoint"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    pair_id: str = Field(foreign_key="scheduling_pair.id", index=True, max_length=64)
    programme_id: str = Field(index=True, max_length=64)
    author_employee_id: str | None = Field(default=None, max_length=64)
    author_role: str = Field(sa_type=String(16))
    kind: TouchpointKind = Field(sa_type=String(16))
    at: datetime = Field(sa_type=UTCDateTime)
    minutes: int
    # The pair's shared note (members only; never an admin's, never in an event).
    note: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = Field(sa_type=UTCDateTime)


class GroupSessionStatus(StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


class GroupSession(SQLModel, table=True):
    """A programme-wide gathering (the monthly get-together), with RSVPs."""

    __tablename__ = "scheduling_group_session"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    programme_id: str = Field(index=True, max_length=64)
    title: str = Field(max_length=200)
    starts_at: datetime = Field(sa_type=UTCDateTime)
    duration_minutes: int
    capacity: int | None = None
    location: str | None = Field(default=None, max_length=200)
    link: str | None = Field(default=None, max_length=2000)
    status: GroupSessionStatus = Field(default=GroupSessionStatus.SCHEDULED, sa_type=String(16))
    cancel_reason: str | None = Field(default=None, max_length=200)
    created_by_employee_id: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    # iCalendar SEQUENCE: up on every change (an update, the cancellation).
    sequence: int = 0


class RsvpResponse(StrEnum):
    YES = "yes"
    NO = "no"
    MAYBE = "maybe"


class GroupSessionRsvp(SQLModel, table=True):
    """A participant's answer to a group session (their own act; the latest answer counts)."""

    __tablename__ = "scheduling_group_rsvp"

    group_session_id: str = Field(foreign_key="scheduling_group_session.id",
                                  primary_key=True, max_length=36)
    # Indexed too: a calendar feed finds its employee's answers (the key starts with
    # the group session).
    employee_id: str = Field(primary_key=True, index=True, max_length=64)
    response: RsvpResponse = Field(sa_type=String(16))
    responded_at: datetime = Field(sa_type=UTCDateTime)


LINK_MAX = 2_000
# A meeting link: http(s), one line, no spaces, at most LINK_MAX characters.
Link = Annotated[str, PydanticField(max_length=LINK_MAX, pattern=r"^https?://\S+$")]


class TouchpointCreate(BaseModel):
    """A check-in: how (message, call, chat), when, how long, and an optional shared note."""

    kind: TouchpointKind
    at: AwareDatetime
    minutes: int = PydanticField(ge=1, le=60)
    note: CappedText | None = None


class TouchpointPublic(BaseModel):
    id: str
    pair_id: str
    kind: TouchpointKind
    at: datetime
    minutes: int
    author_role: str
    mine: bool
    note: str | None


class PairTouchpoints(BaseModel):
    """A pair's touchpoints: the members see each one; admins only `count` and `minutes`."""

    pair_id: str
    count: int
    minutes: int
    items: list[TouchpointPublic]


class GroupSessionCreate(BaseModel):
    """A programme-wide gathering: a title, an aware start (not in the past), its length."""

    title: Name = PydanticField(min_length=1)
    starts_at: AwareDatetime
    duration_minutes: int = PydanticField(ge=1, le=1440)
    capacity: int | None = PydanticField(default=None, ge=1, le=100_000)
    location: Name | None = None
    link: Link | None = None


class GroupSessionUpdate(BaseModel):
    """The fields given change; an explicit null clears `capacity`, `location` or `link`."""

    title: Name | None = PydanticField(default=None, min_length=1)
    starts_at: AwareDatetime | None = None
    duration_minutes: int | None = PydanticField(default=None, ge=1, le=1440)
    capacity: int | None = PydanticField(default=None, ge=1, le=100_000)
    location: Name | None = None
    link: Link | None = None


class GroupSessionCancel(BaseModel):
    reason: Name = PydanticField(min_length=1)


class RsvpCreate(BaseModel):
    response: RsvpResponse


class RsvpCounts(BaseModel):
    yes: int
    no: int
    maybe: int


class GroupSessionPublic(BaseModel):
    """A group session with the RSVP counts and the caller's own answer (None for admins)."""

    id: str
    programme_id: str
    title: str
    starts_at: datetime
    duration_minutes: int
    capacity: int | None
    location: str | None
    link: str | None
    status: GroupSessionStatus
    cancel_reason: str | None
    sequence: int
    counts: RsvpCounts
    my_response: RsvpResponse | None
