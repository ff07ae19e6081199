"""The event contract: CloudEvents 1.0 envelope and the typed, versioned event models.

These models are the single source of truth: producers build them, consumers
parse them, and `asyncapi_document()` publishes them.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from upward_common.logs import current_correlation_id

STREAM = "MENTORING"
SUBJECT_PREFIX = "mentoring"
DEADLETTER_STREAM = "MENTORING_DEADLETTER"
DEADLETTER_PREFIX = "mentoring-deadletter"
# The most an event may weigh, as JSON (docs/limits.md): a quarter of NATS's default
# max_payload (1 MiB), so an event fits any server left at its defaults, headers included.
MAX_EVENT_BYTES = 256 * 1024

ParticipantRole = Literal["mentor", "mentee"]


def utcnow() -> datetime:
    return datetime.now(UTC)


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 structured-mode JSON envelope (`correlationid` is our extension)."""

    model_config = ConfigDict(extra="allow")

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    source: str
    type: str
    time: datetime = Field(default_factory=utcnow)
    subject: str | None = None
    datacontenttype: Literal["application/json"] = "application/json"
    correlationid: str | None = None
    data: dict[str, Any]


class EventData(BaseModel):
    """Base of every event payload; `name` is `<noun>.<verb>`, `version` the schema version."""

    model_config = ConfigDict(extra="forbid")

    name: ClassVar[str]
    version: ClassVar[int] = 1
    registry: ClassVar[dict[str, type[EventData]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:
            EventData.registry[cls.type_name()] = cls

    @classmethod
    def type_name(cls) -> str:
        return f"{cls.name}.v{cls.version}"

    @classmethod
    def nats_subject(cls) -> str:
        return f"{SUBJECT_PREFIX}.{cls.name}"

    def subject_id(self) -> str | None:
        """The CloudEvents `subject`: the id of the thing the event is about."""
        return None

    def envelope(self, *, source: str) -> CloudEvent:
        return CloudEvent(
            source=source,
            type=self.type_name(),
            subject=self.subject_id(),
            correlationid=current_correlation_id(),
            data=self.model_dump(mode="json"),
        )


def parse_event(envelope: CloudEvent) -> EventData:
    """The typed payload of an envelope; KeyError for a type this build does not know."""
    model = EventData.registry[envelope.type]
    return model.model_validate(envelope.data)


# --- shared value shapes -------------------------------------------------------


class TopicSkill(BaseModel):
    """A topic someone can teach (with proficiency 1-5) or wants to learn (priority 1 = first)."""

    topic: str
    level: int = Field(ge=1, le=5)


class EmployeeSnapshot(BaseModel):
    """What downstream services may know of an employee (event-carried state)."""

    employee_id: str
    external_id: str
    email: str
    given_name: str
    family_name: str
    job_title: str | None = None
    job_level: int | None = None
    department: str | None = None
    manager_id: str | None = None
    # Ids from the direct manager upwards, so reporting lines are checked at any depth.
    manager_chain: list[str] = []
    location: str | None = None
    time_zone: str | None = None
    hire_on: date | None = None
    leave_on: date | None = None
    active: bool = True


# --- enrolment -------------------------------------------------------------------


class EmployeeUpdated(EventData):
    """An employee record was created or changed by the HRIS (leavers included)."""

    name: ClassVar[str] = "employee.updated"

    employee: EmployeeSnapshot
    occurred_at: datetime

    def subject_id(self) -> str:
        return self.employee.employee_id


MeetingFormat = Literal["in_person", "virtual", "hybrid"]


class AvailabilityWindow(BaseModel):
    """A weekly free slot in the participant's own IANA time zone (weekday 0 = Monday)."""

    weekday: int = Field(ge=0, le=6)
    start: str = Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    end: str = Field(pattern=r"^([01][0-9]|2[0-4]):[0-5][0-9]$")


class ParticipantState(BaseModel):
    """A participant as enrolment knows it, with the latest profile survey answers.

    Sensitive attributes travel only when the employee consented and the
    programme opted in to a diversity objective; otherwise `diversity` is None.
    """

    participant_id: str
    programme_id: str
    role: ParticipantRole
    status: Literal["active", "withdrawn"] = "active"
    employee: EmployeeSnapshot
    survey_version: int = 1
    topics_teach: list[TopicSkill] = []
    topics_learn: list[TopicSkill] = []
    interests: list[str] = []
    availability: list[AvailabilityWindow] = []
    time_zone: str | None = None
    meeting_formats: list[MeetingFormat] = []
    communication_preferences: list[str] = []
    languages: list[str] = []
    mentor_capacity: int = 1
    dei_opt_in: bool = False
    avoid_employee_ids: list[str] = []
    diversity: dict[str, str] | None = None


class EmployeeErased(EventData):
    """An employee asked to be forgotten: every service removes or pseudonymises them."""

    name: ClassVar[str] = "employee.erased"

    employee_id: str
    occurred_at: datetime

    def subject_id(self) -> str:
        return self.employee_id


class GoalTemplateSnapshot(BaseModel):
    """A programme's goal template: what a pair's goal started from it is pre-filled with."""

    id: str
    title: str
    topic: str | None = None
    measure: str | None = None
    unit: str | None = None
    baseline: float | None = None
    target: float | None = None
    target_change_percent: float | None = None
    within_months: int | None = None


class ProgrammeSnapshot(BaseModel):
    """The programme rules other services act on (eligibility, cadence, matching)."""

    programme_id: str
    name: str
    status: Literal["draft", "open", "running", "closed"]
    mentor_max_level: int | None = None
    mentee_min_level: int | None = None
    min_level_gap: int = 0
    mutual: bool = False
    matching_mode: Literal["admin", "shortlist", "automatic"] = "admin"
    session_cadence: Literal["weekly", "biweekly", "monthly"] = "biweekly"
    session_minutes: int = 60
    duration_weeks: int = 24
    meeting_format: MeetingFormat = "virtual"
    diversity_objective: bool = False
    topics: list[str] = []
    # The catalogue's DEI topics (enrolment's definition): a mentor teaches them only
    # with the DEI opt-in, and matching never pairs a mentee wanting one with a mentor
    # who did not opt in.
    dei_topics: list[str] = []
    # Holidays: days (ISO dates) no session is planned on. Defaults keep older events parsing.
    blackout_dates: list[date] = []
    # Goals a pair can start from (enrolment's templates, each with a stable id).
    goal_templates: list[GoalTemplateSnapshot] = []
    # The deployment's job-level scale: levels run from 1 to this (enrolment's
    # `ENROLMENT_JOB_LEVEL_MAX`); level bounds and gaps are read against it.
    job_level_max: int = Field(default=20, ge=2, le=1000)


class ProgrammeUpdated(EventData):
    """A programme was created or changed (including its lifecycle state)."""

    name: ClassVar[str] = "programme.updated"

    programme: ProgrammeSnapshot
    occurred_at: datetime

    def subject_id(self) -> str:
        return self.programme.programme_id


class ParticipantEnrolled(EventData):
    """An employee opted in to a programme as mentor or mentee."""

    name: ClassVar[str] = "participant.enrolled"

    participant: ParticipantState
    occurred_at: datetime

    def subject_id(self) -> str:
        return self.participant.participant_id


class ParticipantUpdated(EventData):
    """A participant's survey answers or status changed."""

    name: ClassVar[str] = "participant.updated"

    participant: ParticipantState
    occurred_at: datetime

    def subject_id(self) -> str:
        return self.participant.participant_id


class ParticipantWithdrawn(EventData):
    """A participant left a programme; their pairs end."""

    name: ClassVar[str] = "participant.withdrawn"

    participant_id: str
    programme_id: str
    employee_id: str
    reason: str | None = None
    occurred_at: datetime

    def subject_id(self) -> str:
        return self.participant_id


class ParticipantInvited(EventData):
    """HR invited an employee to a programme as mentor or mentee (never the message).

    Counted by analytics as the funnel's first step; whether the employee accepts
    shows as their `participant.enrolled` (the participation's `source` stays in
    enrolment). The subject is the invitation id, so erasing the employee forgets
    enrolment's published copy.
    """

    name: ClassVar[str] = "participant.invited"

    invitation_id: str
    programme_id: str
    employee_id: str
    role: ParticipantRole
    occurred_at: datetime

    def subject_id(self) -> str:
        return self.invitation_id


# --- matching --------------------------------------------------------------------


class PairFormed(EventData):
    """A mentor and a mentee were paired."""

    name: ClassVar[str] = "pair.formed"

    pair_id: str
    programme_id: str
    mentor_participant_id: str
    mentee_participant_id: str
    mentor_employee_id: str
    mentee_employee_id: str
    score: float
    occurred_at: datetime

    def subject_id(self) -> str:
        return self.pair_id


class PairEnded(EventData):
    """A pair ended (completed, poor fit, withdrawal, departure, admin)."""

    name: ClassVar[str] = "pair.ended"

    pair_id: str
    programme_id: str
    reason: str
    occurred_at: datetime

    def subject_id(self) -> str:
        return self.pair_id


class PairProposed(EventData):
    """A mentee picked a mentor from their shortlist: a pair awaiting the mentor's answer."""

    name: ClassVar[str] = "pair.proposed"

    pair_id: str
    programme_id: str
    mentor_participant_id: str
    mentee_participant_id: str
    mentor_employee_id: str
    mentee_employee_id: str
    occurred_at: datetime

    def subject_id(self) -> str:
        return self.pair_id


class PairDeclined(EventData):
    """A proposed pair never formed: the mentor declined it, or a member left first."""

    name: ClassVar[str] = "pair.declined"

    pair_id: str
    programme_id: str
    reason: str
    occurred_at: datetime

    def subject_id(self) -> str:
        return self.pair_id


class ShortlistOffered(EventData):
    """A mentee was shown their shortlist: these mentors, best first (ids only)."""

    name: ClassVar[str] = "shortlist.offered"

    programme_id: str
    mentee_participant_id: str
    mentor_participant_ids: list[str] = Field(max_length=100)
    occurred_at: datetime

    def subject_id(self) -> str:
        return self.mentee_participant_id


class MatchRunFinished(EventData):
    """A whole-cohort match run was solved: a dry run to review, or published as pairs.

    Counts only: the run's pairs travel as `pair.formed` when they form, and its
    explanations stay in matching (`GET /runs/{run_id}`).
    """

    name: ClassVar[str] = "matchrun.finished"

    run_id: str
    programme_id: str
    objective: str
    dry_run: bool
    # "draft" (a dry run, awaiting review) or "published" (its pairs formed).
    status: str
    matched: int
    unmatched: int
    optimal: bool
    formed_pairs: int
    occurred_at: datetime

    def subject_id(self) -> str:
        return self.run_id


# --- scheduling ------------------------------------------------------------------


class SessionScheduled(EventData):
    """A session of a pair was planned."""

    name: ClassVar[str] = "session.scheduled"

    session_id: str
    pair_id: str
    programme_id: str
    starts_at: datetime
    duration_minutes: int
    occurred_at: datetime

    def subject_id(self) -> str:
        return self.session_id


class SessionLogged(EventData):
    """A session was held and logged (no private notes travel)."""

    name: ClassVar[str] = "session.logged"

    session_id: str
    pair_id: str
    programme_id: str
    held_at: datetime
    duration_minutes: int
    logged_by_employee_id: str
    occurred_at: datetime
    # Added fields have defaults, so an event written before them still parses (replays
    # read old events); deploy consumers before producers, as for every added field.
    # The logging member's own part: what analytics counts (never the recap or a note).
    author_role: ParticipantRole | None = None
    mentor_attended: bool | None = None
    mentee_attended: bool | None = None
    topics: list[str] = []
    rating: int | None = Field(default=None, ge=1, le=5)
    fit: Literal["good", "poor"] | None = None
    # True when the member corrected a log they had sent before (same session, same author).
    corrected: bool = False

    def subject_id(self) -> str:
        return self.session_id


class SessionCancelled(EventData):
    """A planned session will not happen (its pair ended, or a person was erased)."""

    name: ClassVar[str] = "session.cancelled"

    session_id: str
    pair_id: str
    programme_id: str
    reason: str
    occurred_at: datetime

    def subject_id(self) -> str:
        return self.session_id


class SessionRescheduled(EventData):
    """A planned session moved (one occurrence of a plan, or one of a this-and-following move)."""

    name: ClassVar[str] = "session.rescheduled"

    session_id: str
    pair_id: str
    programme_id: str
    plan_id: str | None = None
    previous_starts_at: datetime | None = None
    starts_at: datetime
    duration_minutes: int
    occurred_at: datetime

    def subject_id(self) -> str:
        return self.session_id


class PlanAccepted(EventData):
    """A member of the pair accepted its recurring plan."""

    name: ClassVar[str] = "plan.accepted"

    plan_id: str
    pair_id: str
    programme_id: str
    cadence: str
    occurrences: int
    accepted_by_employee_id: str
    occurred_at: datetime

    def subject_id(self) -> str:
        return self.plan_id


class GoalUpdated(EventData):
    """A pair's goal was created or its progress changed."""

    name: ClassVar[str] = "goal.updated"

    goal_id: str
    pair_id: str
    programme_id: str
    status: str  # active, achieved or missed
    progress_percent: int = Field(ge=0, le=100)
    occurred_at: datetime

    def subject_id(self) -> str:
        return self.goal_id


class PairFitFlagged(EventData):
    """A pair's members reported a poor fit twice (either member, any sessions): HR may rematch."""

    name: ClassVar[str] = "pair.fitflagged"

    pair_id: str
    programme_id: str
    poor_fit_reports: int
    occurred_at: datetime

    def subject_id(self) -> str:
        return self.pair_id


class PairAtRisk(EventData):
    """A pair has held no session for twice its programme's cadence."""

    name: ClassVar[str] = "pair.atrisk"

    pair_id: str
    programme_id: str
    # The start of the silence: the last held session, or when the pair formed.
    silent_since: datetime
    cadence_days: int
    occurred_at: datetime

    def subject_id(self) -> str:
        return self.pair_id


class PairClosureProposed(EventData):
    """A pair has been silent longer than its programme allows: closing it is proposed to HR."""

    name: ClassVar[str] = "pair.closureproposed"

    pair_id: str
    programme_id: str
    silent_since: datetime
    silent_days: int
    occurred_at: datetime

    def subject_id(self) -> str:
        return self.pair_id


class TouchpointRecorded(EventData):
    """A pair member recorded a short check-in between sessions (never its note)."""

    name: ClassVar[str] = "touchpoint.recorded"

    touchpoint_id: str
    pair_id: str
    programme_id: str
    author_role: str  # mentor or mentee
    kind: str  # message, call or chat
    minutes: int
    at: datetime
    occurred_at: datetime

    def subject_id(self) -> str:
        return self.touchpoint_id


class GroupSessionScheduled(EventData):
    """A programme-wide group session was scheduled, or changed (`sequence` above 0)."""

    name: ClassVar[str] = "groupsession.scheduled"

    group_session_id: str
    programme_id: str
    starts_at: datetime
    duration_minutes: int
    capacity: int | None = None
    sequence: int = 0
    occurred_at: datetime

    def subject_id(self) -> str:
        return self.group_session_id


class GroupSessionCancelled(EventData):
    """A group session was cancelled: whoever answered it may be told (no reason text)."""

    name: ClassVar[str] = "groupsession.cancelled"

    group_session_id: str
    programme_id: str
    starts_at: datetime
    occurred_at: datetime

    def subject_id(self) -> str:
        return self.group_session_id


class GroupSessionRsvped(EventData):
    """A participant answered a group session: the answer and the counts, not who."""

    name: ClassVar[str] = "groupsession.rsvped"

    group_session_id: str
    programme_id: str
    response: str  # yes, no or maybe
    yes: int
    no: int
    maybe: int
    occurred_at: datetime

    def subject_id(self) -> str:
        return self.group_session_id


# --- analytics -------------------------------------------------------------------


class MilestoneReached(EventData):
    """A programme reached a milestone analytics watches for.

    Analytics sends one per pair and milestone (`first_session_held`,
    `five_sessions_held`, `goal_achieved`, `programme_completed`), naming the pair;
    `value` is how many of the programme's pairs have reached it so far. No person
    is named: who may be celebrated by name is analytics' celebration feed's concern.
    """

    name: ClassVar[str] = "milestone.reached"

    programme_id: str
    milestone: str
    value: int
    pair_id: str | None = None
    occurred_at: datetime

    def subject_id(self) -> str:
        return self.programme_id


def asyncapi_document() -> dict[str, Any]:
    """The AsyncAPI 3.0 description of every event, generated from the models above."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for type_name, model in sorted(EventData.registry.items()):
        key = model.__name__
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for def_name, definition in schema.pop("$defs", {}).items():
            schemas[def_name] = definition
        schemas[key] = schema
        messages[key] = {
            "name": type_name,
            "title": key,
            "contentType": "application/cloudevents+json",
            "summary": (model.__doc__ or key).strip().splitlines()[0],
            "headers": {"$ref": "#/components/schemas/CloudEventEnvelope"},
            "payload": {"$ref": f"#/components/schemas/{key}"},
        }
        channels[key] = {
            "address": model.nats_subject(),
            "messages": {key: {"$ref": f"#/components/messages/{key}"}},
        }
        operations[f"publish{key}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{key}"},
        }
    envelope = CloudEvent.model_json_schema()
    envelope.get("properties", {}).pop("data", None)
    schemas["CloudEventEnvelope"] = envelope
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Upward events",
            "version": "1.0.0",
            "description": (
                f"CloudEvents 1.0 (structured JSON) on NATS JetStream stream {STREAM}, "
                f"subjects {SUBJECT_PREFIX}.<noun>.<verb>; `type` carries the schema version."
            ),
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }
