"""Enrolment's tables and their API shapes.

Every table name carries the service's name, because every service's models
share one SQLAlchemy metadata in a process that runs them all.
"""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, Required

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    StringConstraints,
    TypeAdapter,
    field_validator,
    model_validator,
)
from pydantic import Field as PydanticField
from sqlalchemy import JSON, Column, String, UniqueConstraint
from sqlalchemy import Text as SqlText
from sqlmodel import Field, SQLModel
from typing_extensions import TypedDict

from enrolment.config import job_level_max
from upward_common.events import (
    AvailabilityWindow,
    MeetingFormat,
    ParticipantRole,
    TopicSkill,
)
from upward_common.ids import time_ordered_ids
from upward_common.limits import (
    BLACKOUT_DATES_MAX,
    EMAIL_MAX,
    FILLED_LINE_PATTERN,
    ID_MAX,
    IDENTIFIER_PATTERN,
    LIST_MAX,
    LONG_LIST_MAX,
    NAME_MAX,
    ONE_LINE_PATTERN,
    SHORT_LIST_MAX,
    TIME_ZONE_MAX,
    BoundedDate,
    Email,
    Identifier,
    Name,
    RequiredTag,
    Tag,
    Text,
    TimeZoneName,
    filled,
    time_zone_pattern,
)
from upward_common.types import UTCDateTime

# The highest job level: a deployment setting (`ENROLMENT_JOB_LEVEL_MAX`), fixed at start.
MAX_JOB_LEVEL = job_level_max()
# The most characters of the bio on a participant card (docs/limits.md).
BIO_MAX = 1_000

# Deliberately pragmatic (one @, a dotted domain, no spaces): HR exports are
# checked in bulk, and a full RFC 5322 parser per row costs more than the insert.
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


def new_id() -> str:
    return str(uuid.uuid4())


def new_ids(count: int) -> list[str]:
    """`count` time-ordered UUIDs (version 7, RFC 9562), increasing in list order.

    Bulk writes insert rows in key order, so the indexes grow at their end
    instead of splitting pages all over.
    """
    return time_ordered_ids(count)


class Employee(SQLModel, table=True):
    """The HRIS mirror: one row per employee, leavers kept for retention analytics."""

    __tablename__ = "enrolment_employee"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    external_id: str = Field(max_length=200, unique=True, index=True)
    # SCIM `userName`; employees pushed by file import have none and answer to their email.
    user_name: str | None = Field(default=None, max_length=320, unique=True, index=True)
    email: str = Field(default="", max_length=320)
    given_name: str = Field(default="", max_length=200)
    family_name: str = Field(default="", max_length=200)
    job_title: str | None = Field(default=None, max_length=200)
    job_level: int | None = None
    department: str | None = Field(default=None, max_length=200)
    manager_id: str | None = Field(default=None, foreign_key="enrolment_employee.id",
                                   max_length=36)
    location: str | None = Field(default=None, max_length=200)
    time_zone: str | None = Field(default=None, max_length=64)
    hire_on: date | None = None
    leave_on: date | None = None
    active: bool = True
    # The rest of a SCIM resource (phone numbers, enterprise fields...), kept for round trips.
    scim_attributes: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    # Bumped on every change: the SCIM ETag.
    version: int = 1
    erased_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # A SCIM DELETE deprovisions: the row stays (a leaver), hidden from SCIM.
    deprovisioned_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class ProgrammeStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    RUNNING = "running"
    CLOSED = "closed"


SessionCadence = Literal["weekly", "biweekly", "monthly"]
MatchingMode = Literal["admin", "shortlist", "automatic"]
GuidelineKind = Literal["confidentiality", "feedback", "communication", "training", "other"]

# The seed catalogue every new programme starts with; a programme may add its own.
SEED_TOPICS: tuple[str, ...] = (
    "social media",
    "digital marketing",
    "data analytics and visualisation",
    "AI tools",
    "collaboration tools",
    "agile practices",
    "Gen Z consumer trends",
    "remote work",
    "DEI perspectives",
)
# Topics a mentor teaches only after opting in to DEI topics (casefolded). The one
# definition: the programme's DEI topics travel in `programme.updated` for matching.
DEI_TOPICS: frozenset[str] = frozenset({"dei perspectives"})


def dei_topics(topics: list[str]) -> list[str]:
    """The DEI topics of a programme's catalogue, as the catalogue spells them."""
    return [topic for topic in topics if topic.casefold() in DEI_TOPICS]


class Programme(SQLModel, table=True):
    __tablename__ = "enrolment_programme"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    name: str = Field(max_length=200)
    description: str = Field(default="", sa_type=SqlText)
    status: ProgrammeStatus = Field(default=ProgrammeStatus.OPEN, sa_type=String(16))
    objectives: str = Field(default="", sa_type=SqlText)
    goal_templates: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    # Holidays, as sorted ISO dates: no session is planned on them (scheduling).
    blackout_dates: list[str] = Field(default_factory=list,
                                      sa_column=Column(JSON, nullable=False, default=list))
    mentor_max_level: int | None = None
    mentee_min_level: int | None = None
    min_level_gap: int = 0
    enrolment_opens_on: date | None = None
    enrolment_closes_on: date | None = None
    capacity: int | None = None
    session_cadence: str = Field(default="biweekly", sa_type=String(16))
    session_minutes: int = 60
    duration_weeks: int = 24
    meeting_format: str = Field(default="virtual", sa_type=String(16))
    topics: list[str] = Field(default_factory=lambda: list(SEED_TOPICS), sa_column=Column(JSON))
    guidelines: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    mutual: bool = False
    matching_mode: str = Field(default="admin", sa_type=String(16))
    diversity_objective: bool = False
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ParticipantStatus(StrEnum):
    ACTIVE = "active"
    WITHDRAWN = "withdrawn"
    # The employee left the company (HRIS deactivation, a leave date reached): no longer
    # taking part nor counted as enrolled; `withdrawn_at` is when enrolment learnt it.
    LEFT = "left"


class Participant(SQLModel, table=True):
    """An employee's opt-in to a programme in one role, with their latest survey answers."""

    __tablename__ = "enrolment_participant"
    __table_args__ = (UniqueConstraint("programme_id", "employee_id", "role"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    programme_id: str = Field(foreign_key="enrolment_programme.id", index=True, max_length=36)
    employee_id: str = Field(foreign_key="enrolment_employee.id", index=True, max_length=36)
    role: str = Field(max_length=16)
    status: ParticipantStatus = Field(default=ParticipantStatus.ACTIVE, sa_type=String(16))
    # How they came in: self (opt-in), invitation (accepted), import (survey run
    # elsewhere, with its recorded consent) or admin (enrolled by HR, without consent).
    source: str = Field(default="self", sa_type=String(16))
    # The token subject of the admin who enrolled or imported them; None when they did.
    enrolled_by: str | None = Field(default=None, max_length=255)
    topics_teach: list[dict[str, object]] = Field(default_factory=list, sa_column=Column(JSON))
    topics_learn: list[dict[str, object]] = Field(default_factory=list, sa_column=Column(JSON))
    interests: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    availability: list[dict[str, object]] = Field(default_factory=list, sa_column=Column(JSON))
    time_zone: str | None = Field(default=None, max_length=64)
    meeting_formats: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    communication_preferences: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    languages: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    mentor_capacity: int = 1
    dei_opt_in: bool = False
    avoid_employee_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    # Self-declared, optional; stored only with `diversity_consent_at` set.
    diversity: dict[str, str] | None = Field(default=None, sa_column=Column(JSON))
    diversity_consent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    consent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    survey_version: int = 1
    survey_updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    enrolled_at: datetime = Field(sa_type=UTCDateTime)
    withdrawn_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # A short introduction the person wrote for their card; it never travels in events.
    bio: str | None = Field(default=None, sa_type=SqlText)


class SurveyResponse(SQLModel, table=True):
    """Every version of a participant's survey, so a change can be audited."""

    __tablename__ = "enrolment_survey_response"
    __table_args__ = (UniqueConstraint("participant_id", "version"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    participant_id: str = Field(foreign_key="enrolment_participant.id", index=True,
                                max_length=36)
    version: int
    answers: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    submitted_at: datetime = Field(sa_type=UTCDateTime)


class InvitationStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"


class Invitation(SQLModel, table=True):
    """HR invites; only the employee's acceptance makes a participant."""

    __tablename__ = "enrolment_invitation"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    programme_id: str = Field(foreign_key="enrolment_programme.id", index=True, max_length=36)
    employee_id: str = Field(foreign_key="enrolment_employee.id", index=True, max_length=36)
    role: str = Field(max_length=16)
    message: str = Field(default="", sa_type=SqlText)
    status: InvitationStatus = Field(default=InvitationStatus.PENDING, sa_type=String(16))
    participant_id: str | None = Field(default=None, max_length=36)
    invited_at: datetime = Field(sa_type=UTCDateTime)
    responded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


TABLES = (
    "enrolment_employee", "enrolment_programme", "enrolment_participant",
    "enrolment_survey_response", "enrolment_invitation",
)


# --- API shapes ------------------------------------------------------------------


def _url(value: str) -> str:
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in value):
        raise ValueError("must not contain spaces or control characters")
    return value


# A name that must be given (a person's, a programme's, a goal's).
RequiredName = Annotated[Name, AfterValidator(filled)]
# A link to a training resource: one token, no spaces or control characters.
URL_MAX = 2_000
Url = Annotated[str, StringConstraints(max_length=URL_MAX), AfterValidator(_url)]
DIVERSITY_MAX = 10


class EmployeeRecord(TypedDict, total=False):
    """One employee as an HRIS sends it (JSON object, NDJSON line or CSV row).

    A typed dict rather than a model: a whole export validates in one pass, and
    the keys present say which fields the file sets (an absent column is kept).
    """

    __pydantic_config__ = ConfigDict(extra="forbid", str_strip_whitespace=True)  # type: ignore[misc]

    external_id: Required[Identifier]
    email: Required[Annotated[Email, StringConstraints(pattern=EMAIL_PATTERN.pattern)]]
    given_name: Required[RequiredName]
    family_name: Required[RequiredName]
    job_title: Name | None
    job_level: Annotated[int | None, PydanticField(ge=1, le=MAX_JOB_LEVEL)]
    department: Name | None
    manager_external_id: Identifier | None
    location: Name | None
    time_zone: TimeZoneName | None
    hire_date: date | None
    leave_date: date | None
    active: bool | None


EMPLOYEE_RECORDS: TypeAdapter[list[EmployeeRecord]] = TypeAdapter(list[EmployeeRecord])

# `EmployeeRecord`'s checks with no Python validator in them (patterns instead), for
# the import's first pass over a whole file: a dozen calls into Python a row were
# most of its validation. It takes exactly the records `EmployeeRecord` takes, with
# the same values, or refuses a few more (a padded time zone); whatever it refuses
# goes through `EmployeeRecord`, whose errors are the ones reported.
_CoreIdentifier = Annotated[str, StringConstraints(min_length=1, max_length=ID_MAX,
                                                   pattern=IDENTIFIER_PATTERN)]
_CoreName = Annotated[str, StringConstraints(max_length=NAME_MAX, pattern=ONE_LINE_PATTERN)]
_CoreRequiredName = Annotated[str, StringConstraints(max_length=NAME_MAX,
                                                     pattern=FILLED_LINE_PATTERN)]
# EMAIL_PATTERN with no control characters (`Email` is one line).
_CORE_EMAIL_PATTERN = r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s.\x00-\x1f\x7f]+$"


class _CoreEmployeeRecord(TypedDict, total=False):
    __pydantic_config__ = ConfigDict(extra="forbid", str_strip_whitespace=True)  # type: ignore[misc]

    external_id: Required[_CoreIdentifier]
    email: Required[Annotated[str, StringConstraints(max_length=EMAIL_MAX,
                                                     pattern=_CORE_EMAIL_PATTERN)]]
    given_name: Required[_CoreRequiredName]
    family_name: Required[_CoreRequiredName]
    job_title: _CoreName | None
    job_level: Annotated[int, PydanticField(ge=1, le=MAX_JOB_LEVEL)] | None
    department: _CoreName | None
    manager_external_id: _CoreIdentifier | None
    location: _CoreName | None
    time_zone: Annotated[str, StringConstraints(max_length=TIME_ZONE_MAX,
                                                pattern=time_zone_pattern())] | None
    hire_date: date | None
    leave_date: date | None
    active: bool | None


CORE_EMPLOYEE_RECORDS: TypeAdapter[list[EmployeeRecord]] = TypeAdapter(
    list[_CoreEmployeeRecord])

IMPORT_COLUMNS: tuple[str, ...] = tuple(EmployeeRecord.__annotations__)
REQUIRED_IMPORT_COLUMNS: tuple[str, ...] = ("external_id", "email", "given_name", "family_name")


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
    user_name: str | None = None
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
    erased: bool = False


class GoalTemplate(BaseModel):
    """A measurable objective pairs can adopt, e.g. +30 % proficiency in six months."""

    # Stable, so a goal can start from it (`template_id`); given on write or assigned.
    id: Identifier | None = None
    title: RequiredName
    topic: Tag | None = None
    measure: Name | None = None
    unit: Tag | None = None
    baseline: float | None = PydanticField(default=None, allow_inf_nan=False, ge=-1e12, le=1e12)
    target: float | None = PydanticField(default=None, allow_inf_nan=False, ge=-1e12, le=1e12)
    target_change_percent: float | None = PydanticField(default=None, ge=-100, le=1000)
    within_months: int | None = PydanticField(default=None, ge=1, le=60)


def template_ids(templates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stored templates, each with its id (one stored before ids existed: `template-<n>`)."""
    return [{**template, "id": template.get("id") or f"template-{index + 1}"}
            for index, template in enumerate(templates)]


class Guideline(BaseModel):
    """Guidance or a training resource shown to participants."""

    kind: GuidelineKind = "other"
    title: RequiredName
    body: Text = ""
    url: Url | None = None


SessionMinutes = Literal[30, 45, 60]
# A programme's topic catalogue: the seed topics and its own, at most this many.
CATALOGUE_MAX = LONG_LIST_MAX


class ProgrammeFields(BaseModel):
    """Everything a programme's owner may set (all optional on update)."""

    description: Text | None = None
    objectives: Text | None = None
    goal_templates: list[GoalTemplate] | None = PydanticField(default=None,
                                                              max_length=LIST_MAX)
    blackout_dates: list[BoundedDate] | None = PydanticField(default=None,
                                                             max_length=BLACKOUT_DATES_MAX)
    mentor_max_level: int | None = PydanticField(default=None, ge=1, le=MAX_JOB_LEVEL)
    mentee_min_level: int | None = PydanticField(default=None, ge=1, le=MAX_JOB_LEVEL)
    min_level_gap: int | None = PydanticField(default=None, ge=0, le=MAX_JOB_LEVEL - 1)
    enrolment_opens_on: date | None = None
    enrolment_closes_on: date | None = None
    capacity: int | None = PydanticField(default=None, ge=1, le=100_000)
    session_cadence: SessionCadence | None = None
    session_minutes: SessionMinutes | None = None
    duration_weeks: int | None = PydanticField(default=None, ge=1, le=156)
    meeting_format: MeetingFormat | None = None
    topics: list[Tag] | None = PydanticField(default=None, max_length=CATALOGUE_MAX)
    guidelines: list[Guideline] | None = PydanticField(default=None, max_length=LIST_MAX)
    mutual: bool | None = None
    matching_mode: MatchingMode | None = None
    diversity_objective: bool | None = None

    @field_validator("topics")
    @classmethod
    def _topics(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        cleaned = [" ".join(t.split()) for t in value]
        if any(not t or len(t) > 100 for t in cleaned):
            raise ValueError("topics are 1 to 100 characters")
        return list(dict.fromkeys(cleaned))


class ProgrammeCreate(ProgrammeFields):
    name: RequiredName
    description: Text | None = ""
    # Create-and-open in one call stays possible; `draft` keeps it private while it is set up.
    status: Literal["draft", "open"] = "open"
    min_level_gap: int | None = PydanticField(default=0, ge=0, le=MAX_JOB_LEVEL - 1)


class ProgrammeUpdate(ProgrammeFields):
    name: RequiredName | None = None


class ProgrammeTransition(BaseModel):
    status: ProgrammeStatus


class TopicsAdd(BaseModel):
    topics: list[Tag] = PydanticField(min_length=1, max_length=LIST_MAX)


class ProgrammePublic(BaseModel):
    id: str
    name: str
    description: str
    status: ProgrammeStatus
    objectives: str
    goal_templates: list[GoalTemplate]
    blackout_dates: list[date] = []
    mentor_max_level: int | None
    mentee_min_level: int | None
    min_level_gap: int
    enrolment_opens_on: date | None
    enrolment_closes_on: date | None
    capacity: int | None
    session_cadence: SessionCadence
    session_minutes: int
    duration_weeks: int
    meeting_format: MeetingFormat
    topics: list[str]
    guidelines: list[Guideline]
    mutual: bool
    matching_mode: MatchingMode
    diversity_objective: bool
    created_at: datetime
    updated_at: datetime | None = None

    @field_validator("goal_templates", mode="before")
    @classmethod
    def _template_ids(cls, value: Any) -> Any:
        if isinstance(value, list) and all(isinstance(item, dict) for item in value):
            return template_ids(value)
        return value


class TopicChoice(TopicSkill):
    """A topic chosen in the survey: one from the programme's catalogue."""

    topic: RequiredTag


class SurveyAnswers(BaseModel):
    """The profile survey; every field optional with a neutral default."""

    topics_teach: list[TopicChoice] = PydanticField(default=[], max_length=LIST_MAX)
    topics_learn: list[TopicChoice] = PydanticField(default=[], max_length=LIST_MAX)
    interests: list[Tag] = PydanticField(default=[], max_length=LIST_MAX)
    availability: list[AvailabilityWindow] = PydanticField(default=[], max_length=LONG_LIST_MAX)
    time_zone: TimeZoneName | None = None
    meeting_formats: list[MeetingFormat] = PydanticField(default=[], max_length=SHORT_LIST_MAX)
    communication_preferences: list[Tag] = PydanticField(default=[], max_length=SHORT_LIST_MAX)
    languages: list[Tag] = PydanticField(default=[], max_length=SHORT_LIST_MAX)
    mentor_capacity: int = PydanticField(default=1, ge=1, le=10)
    dei_opt_in: bool = False
    avoid_employee_ids: list[Identifier] = PydanticField(default=[], max_length=LIST_MAX)
    # Self-declared attributes (e.g. gender, age band): at most 10, keys and values tags.
    diversity: dict[RequiredTag, Tag] | None = PydanticField(
        default=None, max_length=DIVERSITY_MAX)
    diversity_consent: bool = False
    # What the people they may work with read on their participant card.
    bio: Text | None = PydanticField(default=None, max_length=BIO_MAX)

    @model_validator(mode="after")
    def _windows(self) -> SurveyAnswers:
        for index, window in enumerate(self.availability):
            if window.end <= window.start:
                raise ValueError(f"availability[{index}] ends before it starts")
        return self

    def consent_given(self) -> list[str]:
        """The personal fields this body would set: diversity values or consent itself."""
        given = []
        if self.diversity is not None:
            given.append("diversity")
        if self.diversity_consent:
            given.append("diversity_consent")
        return given


class SurveyChange(BaseModel):
    """A partial survey change (PATCH): a field sent replaces its answer, the rest are kept.

    A field sent as null goes back to the survey's default (an empty list, no time zone,
    capacity 1, no DEI opt-in, no diversity answers).
    """

    model_config = ConfigDict(extra="forbid")

    topics_teach: list[TopicChoice] | None = PydanticField(default=None, max_length=LIST_MAX)
    topics_learn: list[TopicChoice] | None = PydanticField(default=None, max_length=LIST_MAX)
    interests: list[Tag] | None = PydanticField(default=None, max_length=LIST_MAX)
    availability: list[AvailabilityWindow] | None = PydanticField(
        default=None, max_length=LONG_LIST_MAX)
    time_zone: TimeZoneName | None = None
    meeting_formats: list[MeetingFormat] | None = PydanticField(
        default=None, max_length=SHORT_LIST_MAX)
    communication_preferences: list[Tag] | None = PydanticField(
        default=None, max_length=SHORT_LIST_MAX)
    languages: list[Tag] | None = PydanticField(default=None, max_length=SHORT_LIST_MAX)
    mentor_capacity: int | None = PydanticField(default=None, ge=1, le=10)
    dei_opt_in: bool | None = None
    avoid_employee_ids: list[Identifier] | None = PydanticField(default=None,
                                                                max_length=LIST_MAX)
    diversity: dict[RequiredTag, Tag] | None = PydanticField(
        default=None, max_length=DIVERSITY_MAX)
    diversity_consent: bool | None = None
    bio: Text | None = PydanticField(default=None, max_length=BIO_MAX)

    def sent(self) -> dict[str, Any]:
        """The fields the body named, a null as the survey's default."""
        defaults = SurveyAnswers()
        return {key: getattr(defaults, key) if getattr(self, key) is None
                else getattr(self, key) for key in self.model_fields_set}


class ParticipantCreate(SurveyAnswers):
    """An employee opts in (or an admin enrols them, without their consent fields)."""

    employee_id: Identifier
    role: ParticipantRole


class ParticipantImportRecord(SurveyAnswers):
    """One opted-in person from a survey run elsewhere; consent time is mandatory."""

    model_config = ConfigDict(extra="forbid")

    employee_id: Identifier | None = None
    external_id: Identifier | None = None
    role: ParticipantRole
    # With its offset: a consent time without one is no instant.
    consent_at: AwareDatetime

    @model_validator(mode="after")
    def _who(self) -> ParticipantImportRecord:
        if not self.employee_id and not self.external_id:
            raise ValueError("employee_id or external_id is required")
        return self


class ParticipantPublic(BaseModel):
    id: str
    programme_id: str
    employee_id: str
    role: ParticipantRole
    status: ParticipantStatus
    source: str = "self"
    enrolled_by: str | None = None
    topics_teach: list[TopicSkill]
    topics_learn: list[TopicSkill]
    interests: list[str]
    availability: list[AvailabilityWindow] = []
    time_zone: str | None = None
    meeting_formats: list[MeetingFormat] = []
    communication_preferences: list[str] = []
    languages: list[str]
    mentor_capacity: int
    dei_opt_in: bool = False
    avoid_employee_ids: list[str] = []
    # Present only for HR admins and the participant themselves.
    diversity: dict[str, str] | None = None
    consent_at: datetime | None = None
    survey_version: int
    survey_updated_at: datetime | None = None
    enrolled_at: datetime
    withdrawn_at: datetime | None = None
    bio: str | None = None


class ParticipantImportReport(BaseModel):
    enrolled: int = 0
    updated: int = 0
    rejected: int = 0
    errors: list[RejectedRow] = []


class InvitationCreate(BaseModel):
    employee_id: Identifier
    role: ParticipantRole
    message: Text = ""


class InvitationPublic(BaseModel):
    id: str
    programme_id: str
    employee_id: str
    role: ParticipantRole
    message: str
    status: InvitationStatus
    participant_id: str | None
    invited_at: datetime
    responded_at: datetime | None


class SurveyVersionPublic(BaseModel):
    version: int
    answers: dict[str, Any]
    submitted_at: datetime


# --- participant cards (enrolment/cards.py) ------------------------------------------


class CardPairStatus(StrEnum):
    """Where a pair is, as far as cards care; a pair only ever moves down this list."""

    PROPOSED = "proposed"
    ACTIVE = "active"
    CLOSED = "closed"  # declined, or ended: the partners' cards close


class CardPair(SQLModel, table=True):
    """A pair as matching announced it: its members see each other's card while it lasts.

    Built from pair-proposed/formed/declined/ended only; enrolment never reads
    matching's tables. A close may arrive before the pair's first event, so the
    members may be unknown for a while.
    """

    __tablename__ = "enrolment_card_pair"

    pair_id: str = Field(primary_key=True, max_length=64)
    programme_id: str = Field(max_length=64)
    mentor_participant_id: str | None = Field(default=None, max_length=64, index=True)
    mentee_participant_id: str | None = Field(default=None, max_length=64, index=True)
    status: CardPairStatus = Field(sa_type=String(16))
    updated_at: datetime = Field(sa_type=UTCDateTime)


class CardShortlist(SQLModel, table=True):
    """The latest shortlist matching offered a mentee: they see these mentors' cards."""

    __tablename__ = "enrolment_card_shortlist"

    mentee_participant_id: str = Field(primary_key=True, max_length=64)
    programme_id: str = Field(max_length=64)
    mentor_participant_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    offered_at: datetime = Field(sa_type=UTCDateTime)


class ParticipantCard(BaseModel):
    """What one participant may see of another they may work with, and nothing private."""

    participant_id: str
    programme_id: str
    role: ParticipantRole
    given_name: str
    family_name: str
    job_title: str | None = None
    department: str | None = None
    location: str | None = None
    time_zone: str | None = None
    languages: list[str] = []
    topics_teach: list[TopicSkill] = []
    topics_learn: list[TopicSkill] = []
    bio: str | None = None


# --- employee search (an HR invite picker) ---------------------------------------------

# The most employees one page of a search answers, and the longest search text
# (docs/limits.md).
EMPLOYEE_PAGE_MAX = 500
EMPLOYEE_SEARCH_MAX = 100


class EmployeePage(BaseModel):
    """One page of an employee search, by family name, given name and id."""

    total: int
    items: list[EmployeePublic]
    has_more: bool
