"""Enrolment's tables and their API shapes."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, EmailStr, Field as PydanticField
from sqlalchemy import JSON, Column, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from upward_common.events import ParticipantRole, TopicSkill
from upward_common.types import UTCDateTime


def new_id() -> str:
    return str(uuid.uuid4())


class Employee(SQLModel, table=True):
    """The HRIS mirror: one row per employee, leavers kept for retention analytics."""

    __tablename__ = "employee"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    external_id: str = Field(max_length=200, unique=True, index=True)
    email: str = Field(max_length=320)
    given_name: str = Field(max_length=200)
    family_name: str = Field(max_length=200)
    job_title: str | None = Field(default=None, max_length=200)
    job_level: int | None = None
    department: str | None = Field(default=None, max_length=200)
    manager_id: str | None = Field(default=None, foreign_key="employee.id", max_length=36)
    location: str | None = Field(default=None, max_length=200)
    time_zone: str | None = Field(default=None, max_length=64)
    hire_on: date | None = None
    leave_on: date | None = None
    active: bool = True
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class ProgrammeStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    RUNNING = "running"
    CLOSED = "closed"


class Programme(SQLModel, table=True):
    __tablename__ = "programme"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    name: str = Field(max_length=200)
    description: str = Field(default="", sa_type=Text)
    status: ProgrammeStatus = Field(default=ProgrammeStatus.OPEN, sa_type=String(16))
    mentor_max_level: int | None = None
    mentee_min_level: int | None = None
    min_level_gap: int = 0
    created_at: datetime = Field(sa_type=UTCDateTime)


class ParticipantStatus(StrEnum):
    ACTIVE = "active"
    WITHDRAWN = "withdrawn"


class Participant(SQLModel, table=True):
    """An employee's opt-in to a programme in one role, with their latest survey answers."""

    __tablename__ = "participant"
    __table_args__ = (UniqueConstraint("programme_id", "employee_id", "role"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    programme_id: str = Field(foreign_key="programme.id", index=True, max_length=36)
    employee_id: str = Field(foreign_key="employee.id", index=True, max_length=36)
    role: str = Field(max_length=16)
    status: ParticipantStatus = Field(default=ParticipantStatus.ACTIVE, sa_type=String(16))
    topics_teach: list[dict[str, object]] = Field(default_factory=list, sa_column=Column(JSON))
    topics_learn: list[dict[str, object]] = Field(default_factory=list, sa_column=Column(JSON))
    interests: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    languages: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    mentor_capacity: int = 1
    survey_version: int = 1
    enrolled_at: datetime = Field(sa_type=UTCDateTime)
    withdrawn_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


TABLES = ("employee", "programme", "participant")


# --- API shapes ------------------------------------------------------------------


class EmployeeRecord(BaseModel):
    """One employee as an HRIS sends it (JSON body or one CSV row)."""

    external_id: str = PydanticField(min_length=1, max_length=200)
    email: EmailStr
    given_name: str = PydanticField(min_length=1, max_length=200)
    family_name: str = PydanticField(min_length=1, max_length=200)
    job_title: str | None = None
    job_level: int | None = PydanticField(default=None, ge=1, le=20)
    department: str | None = None
    manager_external_id: str | None = None
    location: str | None = None
    time_zone: str | None = None
    hire_date: date | None = None
    leave_date: date | None = None
    active: bool = True


class RejectedRow(BaseModel):
    row: int
    field: str
    reason: str


class ImportReport(BaseModel):
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    errors: list[RejectedRow] = []


class EmployeePublic(BaseModel):
    id: str
    external_id: str
    email: str
    given_name: str
    family_name: str
    job_title: str | None
    job_level: int | None
    department: str | None
    manager_id: str | None
    location: str | None
    time_zone: str | None
    hire_on: date | None
    leave_on: date | None
    active: bool


class ProgrammeCreate(BaseModel):
    name: str = PydanticField(min_length=1, max_length=200)
    description: str = ""
    mentor_max_level: int | None = PydanticField(default=None, ge=1, le=20)
    mentee_min_level: int | None = PydanticField(default=None, ge=1, le=20)
    min_level_gap: int = PydanticField(default=0, ge=0, le=19)


class ProgrammePublic(BaseModel):
    id: str
    name: str
    description: str
    status: ProgrammeStatus
    mentor_max_level: int | None
    mentee_min_level: int | None
    min_level_gap: int
    created_at: datetime


class ParticipantCreate(BaseModel):
    """An employee opts in; participants may only enrol themselves."""

    employee_id: str
    role: ParticipantRole
    topics_teach: list[TopicSkill] = []
    topics_learn: list[TopicSkill] = []
    interests: list[str] = []
    languages: list[str] = []
    mentor_capacity: int = PydanticField(default=1, ge=1, le=10)


class ParticipantPublic(BaseModel):
    id: str
    programme_id: str
    employee_id: str
    role: ParticipantRole
    status: ParticipantStatus
    topics_teach: list[TopicSkill]
    topics_learn: list[TopicSkill]
    interests: list[str]
    languages: list[str]
    mentor_capacity: int
    survey_version: int
    enrolled_at: datetime
