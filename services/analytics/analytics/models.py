"""Analytics' read models and API shapes.

Every row is derived from events alone and keyed by the id of the thing an
event is about (participant, pair, session...), so a figure is a count of
rows, never a running counter: a duplicate or late event cannot skew it, and
dropping the rows and replaying the stream rebuilds the same figures. Times
come from the events' `occurred_at`, never from the clock; a column named
`occurred_at` holds the time of the event that last set its row, so an older
event arriving late can tell it is older. Table names carry
the service's name because every service's models share one SQLAlchemy
metadata when a single process runs them all.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel
from sqlalchemy import String
from sqlmodel import Field, SQLModel

from upward_common.types import UTCDateTime


class Programme(SQLModel, table=True):
    __tablename__ = "analytics_programme"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    status: str = Field(sa_type=String(16))
    occurred_at: datetime = Field(sa_type=UTCDateTime)


class Employee(SQLModel, table=True):
    """What retention analysis needs of an employee: no name, no e-mail.

    An erased employee keeps a tombstone (`erased_at`, every attribute cleared) so
    that a late, older update cannot bring them back.
    """

    __tablename__ = "analytics_employee"

    id: str = Field(primary_key=True, max_length=64)
    job_level: int | None = None
    department: str | None = Field(default=None, max_length=200)
    hire_on: date | None = None
    leave_on: date | None = None
    active: bool = True
    occurred_at: datetime = Field(sa_type=UTCDateTime)
    erased_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Participant(SQLModel, table=True):
    """One participant's standing; `status_at` orders status changes that arrive out of order."""

    __tablename__ = "analytics_participant"

    id: str = Field(primary_key=True, max_length=64)
    programme_id: str = Field(index=True, max_length=64)
    employee_id: str | None = Field(default=None, index=True, max_length=64)
    # None until an event naming the role arrives (a withdrawal can come first).
    role: str | None = Field(default=None, sa_type=String(16))
    status: str = Field(sa_type=String(16))
    status_at: datetime = Field(sa_type=UTCDateTime)
    enrolled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    withdrawn_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Pair(SQLModel, table=True):
    __tablename__ = "analytics_pair"

    id: str = Field(primary_key=True, max_length=64)
    programme_id: str = Field(index=True, max_length=64)
    formed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    ended_reason: str | None = Field(default=None, max_length=200)
    # The latest time scheduling flagged the pair (pair.atrisk, pair.fitflagged,
    # pair.closureproposed): counted per programme.
    at_risk_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    fit_flagged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closure_proposed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class MentoringSession(SQLModel, table=True):
    __tablename__ = "analytics_session"

    id: str = Field(primary_key=True, max_length=64)
    pair_id: str = Field(index=True, max_length=64)
    programme_id: str = Field(index=True, max_length=64)
    scheduled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    starts_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    held_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    cancelled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    duration_minutes: int | None = None


class Goal(SQLModel, table=True):
    __tablename__ = "analytics_goal"

    id: str = Field(primary_key=True, max_length=64)
    pair_id: str = Field(index=True, max_length=64)
    programme_id: str = Field(index=True, max_length=64)
    status: str = Field(max_length=32)
    progress_percent: int
    occurred_at: datetime = Field(sa_type=UTCDateTime)


class Milestone(SQLModel, table=True):
    __tablename__ = "analytics_milestone"

    programme_id: str = Field(primary_key=True, max_length=64)
    milestone: str = Field(primary_key=True, max_length=100)
    value: int
    reached_at: datetime = Field(sa_type=UTCDateTime)


TABLES = (
    "analytics_programme", "analytics_employee", "analytics_participant", "analytics_pair",
    "analytics_session", "analytics_goal", "analytics_milestone",
)


# --- API shapes ------------------------------------------------------------------


class ProgrammeSummary(BaseModel):
    """A programme's figures as far as analytics has seen its events."""

    programme_id: str
    participants_enrolled: int
    mentors: int
    mentees: int
    pairs_formed: int
    pairs_active: int
    sessions_scheduled: int
    sessions_held: int
    # Pairs scheduling flagged, ever: silent for twice the cadence, a poor fit reported
    # twice, silent so long that closing them was proposed.
    pairs_at_risk: int = 0
    pairs_fit_flagged: int = 0
    pairs_closure_proposed: int = 0
