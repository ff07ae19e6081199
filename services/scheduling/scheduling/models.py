"""Scheduling's tables and their API shapes.

Pairs, programmes and participants are mirrors built from events. Every table
name carries the service's name, because every service's models share one
SQLAlchemy metadata in a process that runs them all.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel
from pydantic import Field as PydanticField
from sqlalchemy import JSON, Column, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from upward_common.limits import (
    SHORT_LIST_MAX,
    AwareDatetime,
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
    # The programme's topic catalogue: what a session log's `topics` are chosen from.
    topics: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
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


class PrivateNote(SQLModel, table=True):
    """A participant's own note on a session: readable by its author only, never by an admin."""

    __tablename__ = "scheduling_private_note"
    __table_args__ = (UniqueConstraint("session_id", "author_employee_id"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    session_id: str = Field(foreign_key="scheduling_session.id", index=True, max_length=36)
    author_employee_id: str = Field(index=True, max_length=64)
    body: str = Field(sa_type=Text)
    written_at: datetime = Field(sa_type=UTCDateTime)


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


class GoalCreate(BaseModel):
    """A SMART goal: specific text, a measure with its unit, baseline, target, due date."""

    text: CappedText = PydanticField(min_length=1)
    measure: Name = PydanticField(min_length=1)
    unit: Tag = PydanticField(min_length=1)
    baseline: float = PydanticField(allow_inf_nan=False, ge=-1e12, le=1e12)
    target: float = PydanticField(allow_inf_nan=False, ge=-1e12, le=1e12)
    due_on: date


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
