"""Scheduling's tables and their API shapes.

Pairs, programmes and participants are mirrors built from events. Every table
name carries the service's name, because every service's models share one
SQLAlchemy metadata in a process that runs them all.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel
from pydantic import Field as PydanticField
from sqlalchemy import JSON, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from upward_common.limits import AwareDatetime, LongText, Name
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
    # When the `programme.updated` that set this row happened: a late older one loses.
    occurred_at: datetime = Field(sa_type=UTCDateTime)


class Participant(SQLModel, table=True):
    """What scheduling keeps of a participant: enough to plan in their time zone later."""

    __tablename__ = "scheduling_participant"

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


TABLES = (
    "scheduling_pair", "scheduling_programme", "scheduling_participant", "scheduling_session",
    "scheduling_private_note", "scheduling_plan", "scheduling_plan_series",
    "scheduling_calendar_feed",
)


# --- API shapes ------------------------------------------------------------------


class SessionLog(BaseModel):
    """What a pair member records after a session."""

    held_at: AwareDatetime  # with its offset; years 1900-2200, stored in UTC
    duration_minutes: int = PydanticField(ge=1, le=24 * 60)
    recap: LongText = ""
    private_note: LongText | None = None


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
    my_private_note: str | None


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
