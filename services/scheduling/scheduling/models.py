"""Scheduling's tables and their API shapes.

Pairs, programmes and participants are mirrors built from events. Every table
name carries the service's name, because every service's models share one
SQLAlchemy metadata in a process that runs them all.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel
from pydantic import Field as PydanticField
from sqlalchemy import String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from upward_common.limits import AwareDatetime, LongText
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


TABLES = (
    "scheduling_pair", "scheduling_programme", "scheduling_participant", "scheduling_session",
    "scheduling_private_note",
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
