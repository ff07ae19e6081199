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
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ValidationInfo, field_validator, model_validator
from pydantic import Field as Described
from pydantic import Field as PydanticField
from sqlalchemy import JSON, BigInteger, Column, Index, String, text
from sqlalchemy import Text as SQLText
from sqlmodel import Field, SQLModel

from analytics.surveys import MAX_CHOICES, MAX_QUESTIONS, QuestionKind
from upward_common.limits import Identifier, Name, RequiredTag, Tag, Text
from upward_common.types import UTCDateTime


class Programme(SQLModel, table=True):
    __tablename__ = "analytics_programme"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    status: str = Field(sa_type=String(16))
    occurred_at: datetime = Field(sa_type=UTCDateTime)
    # Whether the programme opted in to a diversity objective (programme health reports
    # its participants' diversity only then).
    diversity_objective: bool = False


class Employee(SQLModel, table=True):
    """What retention analysis needs of an employee: no name, no e-mail.

    An erased employee keeps a tombstone (`erased_at`, every attribute cleared) so
    that a late, older update cannot bring them back.
    """

    __tablename__ = "analytics_employee"
    # Erasures are few: asking which of a batch's employees were erased reads this small
    # index, not the table (PostgreSQL would otherwise scan every row for the predicate).
    __table_args__ = (
        Index("ix_analytics_employee_erased", "id",
              postgresql_where=text("erased_at IS NOT NULL"),
              sqlite_where=text("erased_at IS NOT NULL")),
    )

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
    # Whether the latest state carried profile answers (a topic or an interest), and the
    # diversity attributes it carried (only with consent, in a programme that opted in).
    profiled: bool = False
    diversity: dict[str, str] | None = Field(default=None, sa_column=Column(JSON))


class Invitation(SQLModel, table=True):
    """HR's invitation of an employee to a programme (`participant.invited`): the funnel's
    first step. `invited_at` is when HR invited, `occurred_at` the event's time; erasure
    clears `employee_id` and the invitation still counts."""

    __tablename__ = "analytics_invitation"

    invitation_id: str = Field(primary_key=True, max_length=64)
    programme_id: str = Field(index=True, max_length=64)
    role: str = Field(sa_type=String(16))
    employee_id: str | None = Field(default=None, index=True, max_length=64)
    invited_at: datetime = Field(sa_type=UTCDateTime)
    occurred_at: datetime = Field(sa_type=UTCDateTime)


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
    # From `pair.formed`: who was paired (time to match) and matching's score (pairing fit).
    mentor_participant_id: str | None = Field(default=None, max_length=64)
    mentee_participant_id: str | None = Field(default=None, max_length=64)
    score: float | None = None


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


class SessionLog(SQLModel, table=True):
    """One member's log of a held session (`session.logged` by its author's role): the
    rating, fit and topics they gave; a correction (a later event) replaces it."""

    __tablename__ = "analytics_session_log"

    session_id: str = Field(primary_key=True, max_length=64)
    author_role: str = Field(primary_key=True, sa_type=String(16))
    pair_id: str = Field(index=True, max_length=64)
    programme_id: str = Field(index=True, max_length=64)
    rating: int | None = None
    fit: str | None = Field(default=None, sa_type=String(8))
    topics: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    occurred_at: datetime = Field(sa_type=UTCDateTime)


class Goal(SQLModel, table=True):
    __tablename__ = "analytics_goal"

    id: str = Field(primary_key=True, max_length=64)
    pair_id: str = Field(index=True, max_length=64)
    programme_id: str = Field(index=True, max_length=64)
    status: str = Field(max_length=32)
    progress_percent: int
    occurred_at: datetime = Field(sa_type=UTCDateTime)


class Touchpoint(SQLModel, table=True):
    """A pair's check-in between sessions (`touchpoint.recorded`): counted, never read."""

    __tablename__ = "analytics_touchpoint"

    id: str = Field(primary_key=True, max_length=64)
    pair_id: str = Field(index=True, max_length=64)
    programme_id: str = Field(index=True, max_length=64)
    minutes: int
    at: datetime = Field(sa_type=UTCDateTime)


class GroupSession(SQLModel, table=True):
    """A programme's gathering (`groupsession.*`): scheduled, cancelled, its yes count."""

    __tablename__ = "analytics_group_session"

    id: str = Field(primary_key=True, max_length=64)
    programme_id: str = Field(index=True, max_length=64)
    starts_at: datetime = Field(sa_type=UTCDateTime)
    cancelled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    yes: int = 0
    rsvp_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    occurred_at: datetime = Field(sa_type=UTCDateTime)


class Milestone(SQLModel, table=True):
    __tablename__ = "analytics_milestone"

    programme_id: str = Field(primary_key=True, max_length=64)
    milestone: str = Field(primary_key=True, max_length=100)
    value: int
    reached_at: datetime = Field(sa_type=UTCDateTime)


# --- pulse surveys (analytics/surveys.py) -----------------------------------------


class PulseSurvey(SQLModel, table=True):
    """A programme's pulse survey and its questions (`[{id, kind, prompt, choices}]`)."""

    __tablename__ = "analytics_pulse_survey"

    id: str = Field(primary_key=True, max_length=64)
    programme_id: str = Field(index=True, max_length=64)
    title: str = Field(max_length=200)
    questions: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    status: str = Field(sa_type=String(16))
    created_at: datetime = Field(sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class PulseRespondent(SQLModel, table=True):
    """Who answered: a keyed hash of survey and employee, with no link to any answer."""

    __tablename__ = "analytics_pulse_respondent"
    __table_args__ = {"sqlite_with_rowid": False}

    survey_id: str = Field(primary_key=True, max_length=64)
    respondent_key: str = Field(primary_key=True, max_length=64)


class PulseResponse(SQLModel, table=True):
    """One set of answers: a random id, the cut attributes, no identity, no time."""

    __tablename__ = "analytics_pulse_response"
    # No hidden row number either: rows are kept in the order of their random ids.
    __table_args__ = {"sqlite_with_rowid": False}

    id: str = Field(primary_key=True, max_length=32)
    survey_id: str = Field(index=True, max_length=64)
    role: str = Field(sa_type=String(16))
    department: str = Field(max_length=200)
    level_band: str = Field(sa_type=String(16))
    # `[{question_id, value, choice, text}]`
    answers: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))


# --- milestones (analytics/milestones.py) ------------------------------------------


class PairMilestone(SQLModel, table=True):
    """A milestone a pair reached, once per pair and milestone (the event is sent once)."""

    __tablename__ = "analytics_pair_milestone"

    pair_id: str = Field(primary_key=True, max_length=64)
    milestone: str = Field(primary_key=True, max_length=32)
    programme_id: str = Field(index=True, max_length=64)
    reached_at: datetime = Field(sa_type=UTCDateTime)
# --- retention and promotion ------------------------------------------------------


class ParticipationHistory(SQLModel, table=True):
    """A past participation HR imported (from before Upward), so retention covers past years.

    `id` is a digest of programme, employee, role and start, so importing a row again
    changes nothing but its end.
    """

    __tablename__ = "analytics_participation_history"

    id: str = Field(primary_key=True, max_length=64)
    programme_id: str = Field(index=True, max_length=64)
    employee_id: str = Field(index=True, max_length=64)
    role: str = Field(sa_type=String(16))
    started_on: date
    ended_on: date | None = None


class EmployeeLevel(SQLModel, table=True):
    """The job level an `employee.updated` event carried, one row per employee and event time.

    Kept for promotion analysis (time to a level change). Keyed by employee and
    `occurred_at`, so a redelivered or late event lands on the same row. On SQLite the
    key is the table itself (no rowid): an import's rows go into one B-tree, not three.
    """

    __tablename__ = "analytics_employee_level"
    __table_args__ = {"sqlite_with_rowid": False}

    employee_id: str = Field(primary_key=True, max_length=64)
    occurred_at: datetime = Field(primary_key=True, sa_type=UTCDateTime)
    job_level: int


class RetentionInputs(SQLModel, table=True):
    """The version of what retention reports are computed from; one row (`id` 1).

    Every transaction that writes employees, their level history, participants'
    roles and starts or imported participations adds one to `version` as it commits
    (`repository.retention_inputs_changed`), so a stored report computed at the
    current version is what computing it again would give.
    """

    __tablename__ = "analytics_retention_inputs"

    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    version: int = Field(default=0, sa_type=BigInteger)


class RetentionReport(SQLModel, table=True):
    """A retention report as computed, kept for the next request of the same key.

    Keyed by programme (`""` for every programme together), window and as-of day;
    `report` is the `ProgrammeRetention` JSON, computed from the inputs at
    `inputs_version` by the build whose rules digest is `method`. `requested_at` is
    when a request last asked for it (to the hour): the refresher recomputes the most
    recently requested ones and drops those nobody asks for.
    """

    __tablename__ = "analytics_retention_report"

    programme_id: str = Field(primary_key=True, max_length=64)
    window_months: int = Field(primary_key=True)
    as_of: date = Field(primary_key=True)
    inputs_version: int = Field(sa_type=BigInteger)
    method: str = Field(max_length=64)
    report: str = Field(sa_type=SQLText)
    requested_at: datetime = Field(sa_type=UTCDateTime)


class WorkforceBaseline(SQLModel, table=True):
    """How many of the workforce have one value of a diversity attribute, as HR counted them.

    Aggregates only, entered by HR admins (`PUT /workforce-baseline`): no
    person is behind a row, so an erasure changes nothing here. An attribute's values are
    replaced together, with the day they were counted (`as_of`).
    """

    __tablename__ = "analytics_workforce_baseline"

    attribute: str = Field(primary_key=True, max_length=100)
    value: str = Field(primary_key=True, max_length=100)
    people: int
    as_of: date
    entered_at: datetime = Field(sa_type=UTCDateTime)


TABLES = (
    "analytics_programme", "analytics_employee", "analytics_participant", "analytics_pair",
    "analytics_session", "analytics_goal", "analytics_milestone",
    "analytics_pulse_survey", "analytics_pulse_respondent", "analytics_pulse_response",
    "analytics_pair_milestone",
    "analytics_participation_history", "analytics_employee_level",
    "analytics_session_log", "analytics_touchpoint", "analytics_group_session",
    "analytics_invitation", "analytics_retention_inputs", "analytics_retention_report",
    "analytics_workforce_baseline",
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
    # Touchpoints the programme's pairs recorded; group sessions scheduled and not cancelled.
    touchpoints: int = 0
    group_sessions: int = 0


# --- pulse surveys: API shapes -----------------------------------------------------


class PulseQuestionCreate(BaseModel):
    """A question: `scale` (1-5), `nps` (0-10), `choice` (one of `choices`) or `text`."""

    kind: QuestionKind
    prompt: Name = PydanticField(min_length=1)
    choices: list[Tag] = PydanticField(default_factory=list, max_length=MAX_CHOICES)

    @model_validator(mode="after")
    def _choices_for_choice_questions(self) -> PulseQuestionCreate:
        if self.kind == "choice" and (len(self.choices) < 2
                                      or len(set(self.choices)) != len(self.choices)):
            raise ValueError("choices: a choice question needs 2 or more distinct choices")
        if self.kind != "choice" and self.choices:
            raise ValueError("choices: only a choice question has choices")
        return self


class PulseSurveyCreate(BaseModel):
    title: Name = PydanticField(min_length=1)
    questions: list[PulseQuestionCreate] = PydanticField(min_length=1, max_length=MAX_QUESTIONS)


class PulseQuestionPublic(BaseModel):
    id: str
    kind: QuestionKind
    prompt: str
    choices: list[str]


class PulseSurveyPublic(BaseModel):
    id: str
    programme_id: str
    title: str
    status: str
    questions: list[PulseQuestionPublic]
    created_at: datetime
    closed_at: datetime | None


class PulseSurveyList(BaseModel):
    items: list[PulseSurveyPublic]


class PulseAnswerCreate(BaseModel):
    """The answer to one question: `value` (scale, nps), `choice` or `text`."""

    question_id: Identifier
    value: int | None = PydanticField(default=None, ge=0, le=10)
    choice: Tag | None = None
    text: Text | None = None


class PulseResponseCreate(BaseModel):
    """Every scale, NPS and choice question answered once; free-text ones may be left out."""

    answers: list[PulseAnswerCreate] = PydanticField(min_length=1, max_length=MAX_QUESTIONS)


class PulseResponseReceipt(BaseModel):
    survey_id: str
    answered: bool


class ValueCount(BaseModel):
    value: str
    count: int


class PulseQuestionResult(BaseModel):
    question_id: str
    kind: QuestionKind
    prompt: str
    answered: int
    mean: float | None
    nps: int | None
    distribution: list[ValueCount]
    texts: list[str]


class PulseSurveyResults(BaseModel):
    """One cut of a closed survey's results; a suppressed cut carries no figure at all."""

    survey_id: str
    role: str | None
    department: str | None
    level_band: str | None
    min_group: int
    suppressed: bool
    respondents: int | None
    questions: list[PulseQuestionResult]


# --- milestones: API shapes --------------------------------------------------------


class Celebration(BaseModel):
    """How many pairs of a programme reached a milestone on a day, and who may be named."""

    programme_id: str
    milestone: str
    reached_on: date
    pairs: int
    named: list[str]


class CelebrationFeed(BaseModel):
    items: list[Celebration]
# --- retention API shapes ----------------------------------------------------------

# Rows in one participation-history import (docs/limits.md).
HISTORY_IMPORT_MAX = 5_000
# The longest follow-up a retention report takes, in months.
WINDOW_MONTHS_MAX = 120


class ParticipationRole(StrEnum):
    MENTOR = "mentor"
    MENTEE = "mentee"


class ParticipationHistoryCreate(BaseModel):
    """One past participation: who took part, in which programme and role, from when to when."""

    employee_id: Identifier
    programme_id: Identifier
    role: ParticipationRole
    started_on: Annotated[date, Described(ge=date(1900, 1, 1), le=date(2200, 12, 31))]
    ended_on: Annotated[date | None, Described(ge=date(1900, 1, 1), le=date(2200, 12, 31))] = None

    @field_validator("ended_on")
    @classmethod
    def _not_before_start(cls, value: date | None, info: ValidationInfo) -> date | None:
        started = info.data.get("started_on")
        if value is not None and started is not None and value < started:
            raise ValueError("must not be before started_on")
        return value


class ParticipationHistoryReport(BaseModel):
    """How many rows an import wrote (new or updated)."""

    imported: int


class RetentionGroupName(StrEnum):
    """Participants by role, and each role's matched non-participants."""

    MENTORS = "mentors"
    MENTEES = "mentees"
    MENTOR_COMPARISON = "mentor_comparison"
    MENTEE_COMPARISON = "mentee_comparison"


class CurvePoint(BaseModel):
    """From `months` after the start until the next point: the estimate and its 95 % interval."""

    months: float
    estimate: float
    lower: float
    upper: float


class FigureAt(BaseModel):
    """A curve read at a number of months; all three are null when nobody was followed so long."""

    months: int
    estimate: float | None
    lower: float | None
    upper: float | None


class RetentionGroup(BaseModel):
    """One group's retention (and promotion); every figure null when it is suppressed."""

    group: RetentionGroupName
    suppressed: str | None = None
    people: int | None = None
    leavers: int | None = None
    follow_up_months_total: float | None = None
    follow_up_months_median: float | None = None
    curve: list[CurvePoint] = []
    retention: list[FigureAt] = []
    # Share promoted (a higher job level) by then; empty when no level change arrived.
    promotion: list[FigureAt] = []


class RetentionComparison(BaseModel):
    """Log-rank test of a role's participants against its comparison group."""

    role: ParticipationRole
    suppressed: str | None = None
    statistic: float | None = None
    p_value: float | None = None


class RoleMatching(BaseModel):
    """How a role's participants were matched."""

    role: ParticipationRole
    participants: int
    unmatched: int
    excluded: int


class ProgrammeRetention(BaseModel):
    """Retention of a programme's participants (or all programmes') against matched controls."""

    programme_id: str | None
    window_months: int
    as_of: date
    controls_per_participant: int
    matching: list[RoleMatching]
    groups: list[RetentionGroup]
    comparisons: list[RetentionComparison]


# --- programme health API shapes -----------------------------------------------------


class RoleFunnel(BaseModel):
    """A role's participants: enrolled ever, active now, withdrawn."""

    role: ParticipationRole
    enrolled: int = 0
    active: int = 0
    withdrawn: int = 0


class EndedPairs(BaseModel):
    """Pairs that ended for one reason."""

    reason: str
    pairs: int


class MonthCount(BaseModel):
    """Opt-ins (enrolments) in a calendar month (UTC), `YYYY-MM`."""

    month: str
    opt_ins: int


class ProgrammeHealth(BaseModel):
    """A programme's health figures, each from one grouped query over every programme asked."""

    programme_id: str
    funnel: list[RoleFunnel]
    pairs_formed: int = 0
    pairs_active: int = 0
    pairs_ended: list[EndedPairs] = []
    sessions_planned: int = 0
    sessions_held: int = 0
    sessions_cancelled: int = 0
    # Held / (held + cancelled); null before any session was held or cancelled.
    attendance_rate: float | None = None
    mentoring_hours: float = 0.0
    interest_trend: list[MonthCount] = []


# --- the workforce baseline: API shapes ----------------------------------------------

# Values of one attribute a baseline takes, and the largest head count of one value.
WORKFORCE_VALUES_MAX = 50
WORKFORCE_PEOPLE_MAX = 10_000_000


# A diversity attribute's name or value, as participants' answers carry them.
DiversityTag = RequiredTag


class WorkforceValueCount(BaseModel):
    """How many of the workforce have one value of the attribute."""

    value: DiversityTag
    people: Annotated[int, Described(ge=0, le=WORKFORCE_PEOPLE_MAX)]


class WorkforceBaselineSet(BaseModel):
    """An attribute's workforce head counts, as HR counted them on `as_of`: every value
    at once (the ones left out are dropped)."""

    attribute: DiversityTag
    as_of: Annotated[date, Described(ge=date(1900, 1, 1), le=date(2200, 12, 31))]
    values: Annotated[list[WorkforceValueCount], Described(
        min_length=1, max_length=WORKFORCE_VALUES_MAX)]

    @field_validator("values")
    @classmethod
    def _distinct(cls, values: list[WorkforceValueCount]) -> list[WorkforceValueCount]:
        seen: set[str] = set()
        for item in values:
            if item.value in seen:
                raise ValueError(f"names the value {item.value!r} twice")
            seen.add(item.value)
        if not any(item.people for item in values):
            raise ValueError("must count somebody")
        return values


class WorkforceBaselinePublic(BaseModel):
    """An attribute's workforce baseline as stored, with its total."""

    attribute: str
    as_of: date
    entered_at: datetime
    people: int
    values: list[WorkforceValueCount]


class WorkforceBaselineList(BaseModel):
    """Every attribute's workforce baseline, by attribute."""

    attributes: list[WorkforceBaselinePublic]
