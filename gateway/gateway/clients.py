"""Typed calls to the four services, and their problem+json turned into GraphQL errors."""

from __future__ import annotations

import asyncio
import logging
import random
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from http import HTTPStatus
from typing import Any, Generic, Literal, TypeVar
from urllib.parse import quote

import aiohttp
import httpx
import httpx_aiohttp
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from gateway.config import GatewaySettings
from upward_common.batch import MAX_BATCH_IDS
from upward_common.limits import Identifier
from upward_common.observability import CORRELATION_HEADER, Readiness
from upward_common.problems import PROBLEM_BASE, message_of

log = logging.getLogger(__name__)

API = "/api/v1"
SERVICES = ("enrolment", "matching", "scheduling", "analytics")

Model = TypeVar("Model", bound=BaseModel)
Item = TypeVar("Item", bound=BaseModel)


@dataclass(frozen=True)
class Caller:
    """Who the gateway calls on behalf of: their bearer token and the request's correlation id."""

    token: str
    correlation_id: str

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", CORRELATION_HEADER: self.correlation_id}


# --- errors -------------------------------------------------------------------------


class ProblemError(Exception):
    """A problem (a service's or the gateway's own) as a GraphQL error; `extensions` carry it."""

    def __init__(self, message: str, extensions: dict[str, Any]) -> None:
        super().__init__(message)
        self.message = message
        self.extensions = extensions

    @property
    def status(self) -> int:
        return int(self.extensions["status"])


_CAMEL_BOUNDARY = re.compile(r"_([a-z0-9])")


def to_camel(field: str) -> str:
    """`topics_teach.0.level` -> `topicsTeach.0.level`: the names a GraphQL client sent."""
    return ".".join(_CAMEL_BOUNDARY.sub(lambda m: m.group(1).upper(), part)
                    for part in field.split("."))


def _camel_errors(errors: object) -> list[dict[str, Any]]:
    if not isinstance(errors, list):
        return []
    out: list[dict[str, Any]] = []
    for entry in errors:
        if isinstance(entry, dict):
            entry = dict(entry)
            if isinstance(entry.get("field"), str):
                entry["field"] = to_camel(entry["field"])
            out.append(entry)
    return out


def problem_error(service: str, response: httpx.Response) -> ProblemError:
    """The service's RFC 9457 problem as a GraphQL error (status, type, field, errors)."""
    body: dict[str, Any] = {}
    try:
        parsed = response.json()
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        body = parsed
    status = response.status_code
    title = str(body.get("title") or response.reason_phrase or "Error")
    detail = str(body.get("detail") or f"{service} answered {status} {title}")
    field = body.get("field")
    extensions: dict[str, Any] = {
        "status": status,
        "type": str(body.get("type") or PROBLEM_BASE + title.lower().replace(" ", "-")),
        "title": title,
        "field": to_camel(field) if isinstance(field, str) else None,
        "errors": _camel_errors(body.get("errors")),
        "service": service,
    }
    return ProblemError(detail, extensions)


def unavailable_error(service: str, exc: httpx.HTTPError) -> ProblemError:
    """The service did not answer: 504 when it timed out, 503 when it could not be reached."""
    timed_out = isinstance(exc, httpx.TimeoutException)
    status = 504 if timed_out else 503
    kind = "downstream-timeout" if timed_out else "downstream-unavailable"
    verb = "did not answer in time" if timed_out else "could not be reached"
    return ProblemError(
        f"The {service} service {verb}",
        {"status": status, "type": PROBLEM_BASE + kind, "title": "Service unavailable",
         "field": None, "errors": [], "service": service},
    )


def gateway_problem(status: int, detail: str, *, kind: str,
                    field: str | None = None) -> ProblemError:
    """A problem the gateway finds itself, shaped like a service's."""
    title = HTTPStatus(status).phrase
    return ProblemError(
        detail,
        {"status": status, "type": PROBLEM_BASE + kind, "title": title, "field": field,
         "errors": [{"field": field, "message": detail}] if field else [],
         "service": "gateway"},
    )


def bad_gateway(service: str) -> ProblemError:
    """The service answered something this gateway cannot read; the details go to the log."""
    return ProblemError(
        f"Unexpected answer from the {service} service",
        {"status": 502, "type": PROBLEM_BASE + "bad-gateway", "title": "Bad gateway",
         "field": None, "errors": [], "service": service},
    )


def missing_error(service: str, id: str, status: int, detail: str) -> ProblemError:
    """One id a batch read did not answer, as the error its single route would have raised."""
    kind = {403: "forbidden", 404: "not-found"}.get(status, "error")
    return ProblemError(detail or f"{service} answered {status} for {id}", {
        "status": status, "type": PROBLEM_BASE + kind, "title": HTTPStatus(status).phrase,
        "field": None, "errors": [], "service": service})


# --- ids in URLs ----------------------------------------------------------------------------

_IDENTIFIER: TypeAdapter[str] = TypeAdapter(Identifier)


def identifier(value: str, *, field: str) -> str:
    """`value` if it is an `Identifier` (docs/limits.md); else a 422 naming `field`."""
    try:
        return _IDENTIFIER.validate_python(value)
    except ValidationError as exc:
        reason = message_of(exc.errors()[0])
        reason = reason[:1].lower() + reason[1:]  # it follows "Invalid <field>: "
        # The value is not echoed: it may hold control characters or a probe's payload.
        raise gateway_problem(422, f"Invalid {to_camel(field)}: {reason}",
                              kind="validation-error", field=to_camel(field)) from exc


def service_path(template: str, ids: Mapping[str, str]) -> str:
    """`template` (`/pairs/{pair_id}`) with each id checked and percent-quoted.

    The one place an id enters a service's URL, so no id can steer a call to another
    route (`../../openapi.json`), carry a control character or split a segment.
    """
    return template.format_map({name: quote(identifier(value, field=name), safe="")
                                for name, value in ids.items()})


# --- how many calls are in flight ------------------------------------------------------------


# --- retries ---------------------------------------------------------------------------------

# Answers that say "not now" rather than "no": a proxy or the service itself is briefly
# unavailable, and the same read a moment later may well succeed.
RETRIED_STATUSES = frozenset({502, 503, 504})
# Only reads are tried again: a write that timed out or got a 502 may have been applied, and
# sending it twice could form two pairs or log a session twice.
IDEMPOTENT_METHODS = frozenset({"GET"})


@dataclass(frozen=True)
class RetryPolicy:
    """How a read that met a connect error or a 502/503/504 is tried again."""

    attempts: int = 3
    backoff_seconds: float = 0.05

    def retries(self, method: str) -> int:
        return self.attempts - 1 if method.upper() in IDEMPOTENT_METHODS else 0

    def delay(self, retry: int) -> float:
        """The wait before retry number `retry` (0-based): doubling, jittered by +-50 %."""
        factor: float = 2.0 ** retry
        return self.backoff_seconds * factor * random.uniform(0.5, 1.5)


@dataclass(frozen=True)
class CallSlots:
    """The caps a call waits for: one per request, and one per service across requests."""

    request: asyncio.Semaphore
    service: asyncio.Semaphore

    @asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        # Always taken in this order and released together, so waiting cannot deadlock.
        async with self.request, self.service:
            yield


# --- what the services answer (unknown fields are ignored: services grow) ------------


class Shape(BaseModel):
    model_config = ConfigDict(extra="ignore")


class EmployeePublic(Shape):
    id: str
    external_id: str
    email: str
    given_name: str
    family_name: str
    job_title: str | None = None
    job_level: int | None = None
    department: str | None = None
    manager_id: str | None = None
    location: str | None = None
    time_zone: str | None = None
    hire_on: date | None = None
    leave_on: date | None = None
    active: bool = True
    user_name: str | None = None
    # An erased person stays as a pseudonymised row; their names are gone.
    erased: bool = False


class EmployeePagePublic(Shape):
    total: int
    items: list[EmployeePublic]
    has_more: bool


class RejectedRow(Shape):
    row: int
    field: str
    reason: str


class ImportReportPublic(Shape):
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    errors: list[RejectedRow] = []


class GoalTemplate(Shape):
    id: str | None = None
    title: str
    topic: str | None = None
    measure: str | None = None
    unit: str | None = None
    baseline: float | None = None
    target: float | None = None
    target_change_percent: float | None = None
    within_months: int | None = None


class Guideline(Shape):
    kind: str = "other"
    title: str
    body: str = ""
    url: str | None = None


class ProgrammePublic(Shape):
    id: str
    name: str
    description: str = ""
    status: str
    objectives: str = ""
    goal_templates: list[GoalTemplate] = []
    blackout_dates: list[date] = []
    mentor_max_level: int | None = None
    mentee_min_level: int | None = None
    min_level_gap: int = 0
    enrolment_opens_on: date | None = None
    enrolment_closes_on: date | None = None
    capacity: int | None = None
    session_cadence: str | None = None
    session_minutes: int | None = None
    duration_weeks: int | None = None
    meeting_format: str | None = None
    topics: list[str] = []
    guidelines: list[Guideline] = []
    mutual: bool = False
    matching_mode: str | None = None
    diversity_objective: bool = False
    created_at: datetime
    updated_at: datetime | None = None


class TopicSkill(Shape):
    topic: str
    level: int


class AvailabilityWindow(Shape):
    weekday: int
    start: str
    end: str


class SurveyAnswersPublic(Shape):
    """The profile survey as enrolment stores it (a participant, or one version of it)."""

    topics_teach: list[TopicSkill] = []
    topics_learn: list[TopicSkill] = []
    interests: list[str] = []
    availability: list[AvailabilityWindow] = []
    time_zone: str | None = None
    meeting_formats: list[str] = []
    communication_preferences: list[str] = []
    languages: list[str] = []
    mentor_capacity: int = 1
    dei_opt_in: bool = False
    avoid_employee_ids: list[str] = []
    # Only for the person themselves and HR admins; null for everyone else.
    diversity: dict[str, str] | None = None
    bio: str | None = None


class ParticipantPublic(SurveyAnswersPublic):
    id: str
    programme_id: str
    employee_id: str
    role: Literal["mentor", "mentee"]
    status: str
    source: str | None = None
    consent_at: datetime | None = None
    survey_version: int = 1
    survey_updated_at: datetime | None = None
    enrolled_at: datetime
    withdrawn_at: datetime | None = None


class ParticipantCardPublic(Shape):
    """What one participant may see of another they may work with."""

    participant_id: str
    programme_id: str
    role: Literal["mentor", "mentee"]
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


class SurveyVersionPublic(Shape):
    version: int
    answers: SurveyAnswersPublic
    submitted_at: datetime


class InvitationPublic(Shape):
    id: str
    programme_id: str
    employee_id: str
    role: Literal["mentor", "mentee"]
    message: str = ""
    status: str
    participant_id: str | None = None
    invited_at: datetime
    responded_at: datetime | None = None


class ParticipantImportReportPublic(Shape):
    enrolled: int = 0
    updated: int = 0
    rejected: int = 0
    errors: list[RejectedRow] = []


class ScoreFactor(Shape):
    factor: str
    points: float
    reason: str = ""


class SuggestionPublic(Shape):
    mentor_participant_id: str
    mentor_employee_id: str
    score: float
    breakdown: list[ScoreFactor] = []


class SuggestionsPublic(Shape):
    programme_id: str
    mentee_participant_id: str
    suggestions: list[SuggestionPublic]


class PairPublic(Shape):
    id: str
    programme_id: str
    mentor_participant_id: str
    mentee_participant_id: str
    mentor_employee_id: str
    mentee_employee_id: str
    status: str
    origin: str | None = None
    run_id: str | None = None
    score: float | None = None
    breakdown: list[ScoreFactor] = []
    override_reason: str | None = None
    overridden_rules: list[str] = []
    proposed_at: datetime | None = None
    # A proposed pair (a mentee's pick awaiting the mentor) is not formed yet.
    formed_at: datetime | None = None
    ended_at: datetime | None = None
    end_reason: str | None = None
    # Scheduling's signals, for admins only (null for participants).
    rematch_suggested_at: datetime | None = None
    at_risk_at: datetime | None = None


class PoolStatsPublic(Shape):
    programme_id: str
    mentors: int = 0
    mentees: int = 0
    total_capacity: int = 0
    free_capacity: int = 0
    unpaired_mentees: int = 0
    eligible_pairs: int = 0


class MatchingConfigPublic(Shape):
    programme_id: str
    weights: dict[str, float] = {}
    allow_shared_manager: bool = False
    max_time_zone_hours: float | None = None
    min_overlap_hours: float | None = None
    ideal_level_gap: int | None = None
    ideal_overlap_hours: float | None = None
    dei_topics: list[str] = []
    diversity_attribute: str | None = None
    diversity_values: list[str] = []
    diversity_applies: bool = False


class RunPair(Shape):
    mentee_participant_id: str
    mentor_participant_id: str
    score: float
    # Not every run answer carries the breakdown; a published pair always does.
    breakdown: list[ScoreFactor] = []


class UnmatchedMentee(Shape):
    mentee_participant_id: str
    reason: str


class MatchRunPublic(Shape):
    id: str
    programme_id: str
    objective: str
    dry_run: bool
    status: str
    total_score: float = 0.0
    matched: int = 0
    unmatched: int = 0
    optimal: bool = True
    pairs: list[RunPair] = []
    unmatched_mentees: list[UnmatchedMentee] = []
    stats: dict[str, Any] = {}
    created_at: datetime
    published_at: datetime | None = None
    pair_ids: list[str] = []
    formed: int = 0
    offset: int = 0


class MemberLogPublic(Shape):
    """One member's part of a session's log; `rating` and `fit` only for its author."""

    author_role: str
    mine: bool
    held_at: datetime
    duration_minutes: int
    mentor_attended: bool
    mentee_attended: bool
    topics: list[str] = []
    rating: int | None = None
    fit: str | None = None
    logged_at: datetime
    corrected_at: datetime | None = None
    correctable_until: datetime


class SessionPublic(Shape):
    id: str
    pair_id: str
    programme_id: str
    starts_at: datetime | None = None
    duration_minutes: int | None = None
    status: str
    held_at: datetime | None = None
    recap: str | None = None
    key_takeaways: list[str] | None = None
    my_private_note: str | None = None
    logs: list[MemberLogPublic] = []


class GoalProgressPublic(Shape):
    value: float
    recorded_on: date
    recorded_at: datetime


class GoalPublic(Shape):
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
    status: str
    created_at: datetime
    updated_at: datetime
    progress: list[GoalProgressPublic] = []
    template_id: str | None = None


class TouchpointPublic(Shape):
    id: str
    pair_id: str
    kind: str
    at: datetime
    minutes: int
    author_role: str
    mine: bool
    note: str | None = None


class PairTouchpointsPublic(Shape):
    pair_id: str
    count: int
    minutes: int
    items: list[TouchpointPublic] = []


class RsvpCountsPublic(Shape):
    yes: int
    no: int
    maybe: int


class GroupSessionPublic(Shape):
    id: str
    programme_id: str
    title: str
    starts_at: datetime
    duration_minutes: int
    capacity: int | None = None
    location: str | None = None
    link: str | None = None
    status: str
    cancel_reason: str | None = None
    sequence: int
    counts: RsvpCountsPublic
    my_response: str | None = None


class NearestSlotPublic(Shape):
    side: str
    starts_at: datetime
    time_zone: str
    weekday: int
    local_start: str


class SeriesPublic(Shape):
    id: str
    position: int
    time_zone: str
    weekday: int
    local_start: str
    frequency: str
    interval: int
    count: int


class OccurrencePublic(Shape):
    session_id: str
    series_id: str | None = None
    occurrence_index: int | None = None
    starts_at: datetime
    original_starts_at: datetime | None = None
    duration_minutes: int
    status: str
    conflict_side: str | None = None
    alternative_starts_at: datetime | None = None
    cancel_reason: str | None = None
    sequence: int = 0
    blackout: bool = False


class UpcomingChangePublic(OccurrencePublic):
    pair_id: str
    plan_id: str


class PlanPublic(Shape):
    id: str
    pair_id: str
    programme_id: str
    status: str
    anchor_time_zone: str
    cadence: str
    duration_minutes: int
    overlap: bool
    nearest: list[NearestSlotPublic] = []
    series: list[SeriesPublic] = []
    occurrences: list[OccurrencePublic] = []
    accepted_at: datetime | None = None
    sequence: int = 0
    changes_within_24h: list[OccurrencePublic] = []


class CalendarFeedIssuedPublic(Shape):
    token: str
    path: str
    issued_at: datetime


class CalendarFeedRevokedPublic(Shape):
    revoked: int


class MissingPublic(Shape):
    """An id a batch read did not answer, and what its single route would have said."""

    id: str
    status: int
    detail: str = ""


class BatchPublic(Shape, Generic[Item]):
    """A batch read's answer (`GET /api/v1/batch/...?id=`): what the caller may see, and why
    not the rest."""

    items: list[Item]
    missing: list[MissingPublic] = []


class PairSessionsPublic(Shape):
    pair_id: str
    sessions: list[SessionPublic]


class ProgrammeSummaryPublic(Shape):
    programme_id: str
    participants_enrolled: int = 0
    mentors: int = 0
    mentees: int = 0
    pairs_formed: int = 0
    pairs_active: int = 0
    sessions_scheduled: int = 0
    sessions_held: int = 0
    pairs_at_risk: int = 0
    pairs_fit_flagged: int = 0
    pairs_closure_proposed: int = 0


class PulseQuestionPublic(Shape):
    id: str
    kind: str
    prompt: str
    choices: list[str] = []


class PulseSurveyPublic(Shape):
    id: str
    programme_id: str
    title: str
    status: str
    questions: list[PulseQuestionPublic] = []
    created_at: datetime
    closed_at: datetime | None = None


class PulseSurveyListPublic(Shape):
    items: list[PulseSurveyPublic]


class PulseResponseReceiptPublic(Shape):
    survey_id: str
    answered: bool


class ValueCountPublic(Shape):
    value: str
    count: int


class PulseQuestionResultPublic(Shape):
    question_id: str
    kind: str
    prompt: str
    answered: int
    mean: float | None = None
    nps: int | None = None
    distribution: list[ValueCountPublic] = []
    texts: list[str] = []


class PulseSurveyResultsPublic(Shape):
    survey_id: str
    role: str | None = None
    department: str | None = None
    level_band: str | None = None
    min_group: int
    suppressed: bool
    respondents: int | None = None
    questions: list[PulseQuestionResultPublic] = []


class CelebrationPublic(Shape):
    programme_id: str
    milestone: str
    reached_on: date
    pairs: int
    named: list[str] = []


class CelebrationFeedPublic(Shape):
    items: list[CelebrationPublic]


class CurvePointPublic(Shape):
    months: float
    estimate: float
    lower: float
    upper: float


class FigureAtPublic(Shape):
    months: int
    estimate: float | None = None
    lower: float | None = None
    upper: float | None = None


class RetentionGroupPublic(Shape):
    group: Literal["mentors", "mentees", "mentor_comparison", "mentee_comparison"]
    suppressed: str | None = None
    people: int | None = None
    leavers: int | None = None
    follow_up_months_total: float | None = None
    follow_up_months_median: float | None = None
    curve: list[CurvePointPublic] = []
    retention: list[FigureAtPublic] = []
    promotion: list[FigureAtPublic] = []


class RetentionComparisonPublic(Shape):
    role: Literal["mentor", "mentee"]
    suppressed: str | None = None
    statistic: float | None = None
    p_value: float | None = None


class RoleMatchingPublic(Shape):
    role: Literal["mentor", "mentee"]
    participants: int
    unmatched: int
    excluded: int


class ProgrammeRetentionPublic(Shape):
    programme_id: str | None = None
    window_months: int
    as_of: date
    controls_per_participant: int
    matching: list[RoleMatchingPublic]
    groups: list[RetentionGroupPublic]
    comparisons: list[RetentionComparisonPublic]


class ParticipationHistoryReportPublic(Shape):
    imported: int


class RoleFunnelPublic(Shape):
    role: Literal["mentor", "mentee"]
    enrolled: int = 0
    active: int = 0
    withdrawn: int = 0


class EndedPairsPublic(Shape):
    reason: str
    pairs: int


class MonthCountPublic(Shape):
    month: str
    opt_ins: int


class ProgrammeHealthPublic(Shape):
    programme_id: str
    funnel: list[RoleFunnelPublic]
    pairs_formed: int = 0
    pairs_active: int = 0
    pairs_ended: list[EndedPairsPublic] = []
    sessions_planned: int = 0
    sessions_held: int = 0
    sessions_cancelled: int = 0
    attendance_rate: float | None = None
    mentoring_hours: float = 0.0
    interest_trend: list[MonthCountPublic] = []


class FunnelStepPublic(Shape):
    role: Literal["mentor", "mentee"]
    invited: int = 0
    opted_in: int = 0
    profiled: int = 0
    matched: int = 0
    active: int = 0
    completed: int = 0
    withdrawn: int = 0


class TimeToMatchPublic(Shape):
    role: Literal["mentor", "mentee"]
    matched: int = 0
    median_days: float | None = None
    p90_days: float | None = None


class PairFiguresPublic(Shape):
    formed: int = 0
    active: int = 0
    at_risk: int = 0
    ended: list[EndedPairsPublic] = []


class SessionFiguresPublic(Shape):
    planned: int = 0
    held: int = 0
    cancelled: int = 0
    attendance_rate: float | None = None
    mentoring_hours: float = 0.0


class RatingFiguresPublic(Shape):
    rated: int = 0
    mean: float | None = None
    distribution: list[ValueCountPublic] = []
    fit_good: int = 0
    fit_poor: int = 0
    matching_score_mean: float | None = None


class TopicCountPublic(Shape):
    topic: str
    sessions: int


class GoalFiguresPublic(Shape):
    set: int = 0
    active: int = 0
    achieved: int = 0
    missed: int = 0
    progress_mean: float | None = None


class LeadershipPublic(Shape):
    senior_min_level: int
    senior_employees: int = 0
    taking_part: int = 0
    share: float | None = None


class DiversityCellPublic(Shape):
    attribute: str
    role: str | None
    value: str | None
    suppressed: bool
    people: int | None
    share: float | None = None
    workforce_people: int | None = None
    workforce_share: float | None = None
    workforce_as_of: date | None = None


class WorkforceValueCountPublic(Shape):
    value: str
    people: int


class WorkforceBaselinePublic(Shape):
    attribute: str
    as_of: date
    entered_at: datetime
    people: int
    values: list[WorkforceValueCountPublic]


class WorkforceBaselineListPublic(Shape):
    attributes: list[WorkforceBaselinePublic]


class HealthReportPublic(Shape):
    programme_id: str | None
    start: date | None
    end: date | None
    department: str | None
    level_band: str | None
    funnel: list[FunnelStepPublic]
    time_to_match: list[TimeToMatchPublic]
    pairs: PairFiguresPublic
    sessions: SessionFiguresPublic
    ratings: RatingFiguresPublic
    topics: list[TopicCountPublic]
    goals: GoalFiguresPublic
    interest_trend: list[MonthCountPublic]
    leadership: LeadershipPublic
    diversity_objective: bool
    min_group: int = 5
    diversity: list[DiversityCellPublic]


# --- what the gateway sends (None is left out, so each service applies its own default) --


class EmployeeRecord(BaseModel):
    """One employee as the HRIS import takes it; the service validates every value."""

    external_id: str
    email: str
    given_name: str
    family_name: str
    job_title: str | None = None
    job_level: int | None = None
    department: str | None = None
    manager_external_id: str | None = None
    location: str | None = None
    time_zone: str | None = None
    hire_date: date | None = None
    leave_date: date | None = None
    active: bool | None = None


class WorkforceValueCountIn(BaseModel):
    value: str
    people: int


class WorkforceBaselineSet(BaseModel):
    """An attribute's workforce head counts as analytics takes them."""

    attribute: str
    as_of: date
    values: list[WorkforceValueCountIn]


class ParticipationHistoryRow(BaseModel):
    """One past participation as analytics' history import takes it."""

    employee_id: str
    programme_id: str
    role: Literal["mentor", "mentee"]
    started_on: date
    ended_on: date | None = None


class Patch(BaseModel):
    """A partial update: the fields set are sent, an explicit None as null (it clears)."""


class GoalTemplateIn(BaseModel):
    id: str | None = None
    title: str
    topic: str | None = None
    measure: str | None = None
    unit: str | None = None
    baseline: float | None = None
    target: float | None = None
    target_change_percent: float | None = None
    within_months: int | None = None


class GuidelineIn(BaseModel):
    kind: str | None = None
    title: str
    body: str | None = None
    url: str | None = None


class ProgrammeSettings(BaseModel):
    """Every setting of a programme a client may give; the service validates each value."""

    description: str | None = None
    objectives: str | None = None
    goal_templates: list[GoalTemplateIn] | None = None
    blackout_dates: list[date] | None = None
    mentor_max_level: int | None = None
    mentee_min_level: int | None = None
    min_level_gap: int | None = None
    enrolment_opens_on: date | None = None
    enrolment_closes_on: date | None = None
    capacity: int | None = None
    session_cadence: str | None = None
    session_minutes: int | None = None
    duration_weeks: int | None = None
    meeting_format: str | None = None
    topics: list[str] | None = None
    guidelines: list[GuidelineIn] | None = None
    mutual: bool | None = None
    matching_mode: str | None = None
    diversity_objective: bool | None = None


class ProgrammeCreate(ProgrammeSettings):
    name: str
    status: str | None = None


class ProgrammeUpdate(ProgrammeSettings, Patch):
    name: str | None = None


class ProgrammeTransition(BaseModel):
    status: str


class TopicsAdd(BaseModel):
    topics: list[str]


class AvailabilityWindowIn(BaseModel):
    weekday: int
    start: str
    end: str


class SurveyAnswers(BaseModel):
    """The whole profile survey (a PUT): what is left out takes the service's default."""

    topics_teach: list[TopicSkill] | None = None
    topics_learn: list[TopicSkill] | None = None
    interests: list[str] | None = None
    availability: list[AvailabilityWindowIn] | None = None
    time_zone: str | None = None
    meeting_formats: list[str] | None = None
    communication_preferences: list[str] | None = None
    languages: list[str] | None = None
    mentor_capacity: int | None = None
    dei_opt_in: bool | None = None
    avoid_employee_ids: list[str] | None = None
    diversity: dict[str, str] | None = None
    diversity_consent: bool | None = None
    bio: str | None = None


class SurveyChange(Patch):
    """Survey answers that change (a PATCH): the others are kept, a null resets one."""

    topics_teach: list[TopicSkill] | None = None
    topics_learn: list[TopicSkill] | None = None
    interests: list[str] | None = None
    availability: list[AvailabilityWindowIn] | None = None
    time_zone: str | None = None
    meeting_formats: list[str] | None = None
    communication_preferences: list[str] | None = None
    languages: list[str] | None = None
    mentor_capacity: int | None = None
    dei_opt_in: bool | None = None
    avoid_employee_ids: list[str] | None = None
    diversity: dict[str, str] | None = None
    diversity_consent: bool | None = None
    bio: str | None = None


class ParticipantCreate(SurveyAnswers):
    employee_id: str
    role: Literal["mentor", "mentee"]


class ParticipantImportRecord(SurveyAnswers):
    """One opted-in person from a survey run elsewhere; the consent time is required."""

    employee_id: str | None = None
    external_id: str | None = None
    role: Literal["mentor", "mentee"]
    consent_at: datetime


class InvitationCreate(BaseModel):
    employee_id: str
    role: Literal["mentor", "mentee"]
    message: str | None = None


class Withdrawal(BaseModel):
    reason: str | None = None


class PairCreate(BaseModel):
    programme_id: str
    mentee_participant_id: str
    mentor_participant_id: str
    override_reason: str | None = None


class PairEnd(BaseModel):
    reason: str
    note: str | None = None


class PairPick(BaseModel):
    mentor_participant_id: str


class PairDecline(BaseModel):
    note: str | None = None


class MatchingConfigChange(Patch):
    """Settings that change (a PATCH): the others are kept."""

    weights: dict[str, float] | None = None
    allow_shared_manager: bool | None = None
    max_time_zone_hours: float | None = None
    min_overlap_hours: float | None = None
    ideal_level_gap: int | None = None
    ideal_overlap_hours: float | None = None
    dei_topics: list[str] | None = None
    diversity_attribute: str | None = None
    diversity_values: list[str] | None = None


class MatchRunCreate(BaseModel):
    objective: str | None = None
    dry_run: bool | None = None


class PulseQuestionIn(BaseModel):
    kind: str
    prompt: str
    choices: list[str] | None = None


class PulseSurveyCreate(BaseModel):
    title: str
    questions: list[PulseQuestionIn]


class PulseAnswerIn(BaseModel):
    question_id: str
    value: int | None = None
    choice: str | None = None
    text: str | None = None


class PulseResponseCreate(BaseModel):
    answers: list[PulseAnswerIn]


class SessionLog(BaseModel):
    held_at: datetime
    duration_minutes: int
    mentor_attended: bool | None = None
    mentee_attended: bool | None = None
    topics: list[str] | None = None
    rating: int | None = None
    fit: str | None = None
    recap: str | None = None
    key_takeaways: list[str] | None = None
    private_note: str | None = None


class OccurrenceReschedule(BaseModel):
    starts_at: datetime
    scope: Literal["this", "following"] = "this"
    override: bool = False


class OccurrenceCancel(BaseModel):
    reason: str


class PlanSlotProposal(BaseModel):
    weekday: int
    local_start: str
    starts_on: date | None = None
    override: bool = False


class SessionLogCorrection(Patch):
    held_at: datetime | None = None
    duration_minutes: int | None = None
    mentor_attended: bool | None = None
    mentee_attended: bool | None = None
    topics: list[str] | None = None
    rating: int | None = None
    fit: str | None = None
    recap: str | None = None
    key_takeaways: list[str] | None = None
    private_note: str | None = None


class GoalCreate(BaseModel):
    template_id: str | None = None
    text: str | None = None
    measure: str | None = None
    unit: str | None = None
    baseline: float | None = None
    target: float | None = None
    due_on: date | None = None


class GoalProgressCreate(BaseModel):
    value: float
    recorded_on: date


class GoalStatusChange(BaseModel):
    status: str


class TouchpointCreate(BaseModel):
    kind: str
    at: datetime
    minutes: int
    note: str | None = None


class GroupSessionCreate(BaseModel):
    title: str
    starts_at: datetime
    duration_minutes: int
    capacity: int | None = None
    location: str | None = None
    link: str | None = None


class GroupSessionUpdate(Patch):
    """Only the fields given travel; an explicit null clears capacity, location or link."""

    title: str | None = None
    starts_at: datetime | None = None
    duration_minutes: int | None = None
    capacity: int | None = None
    location: str | None = None
    link: str | None = None


class GroupSessionCancel(BaseModel):
    reason: str


class RsvpCreate(BaseModel):
    response: str


# --- clients ------------------------------------------------------------------------------


def _dump(body: BaseModel) -> Any:
    if isinstance(body, Patch):
        return body.model_dump(mode="json", exclude_unset=True)
    return body.model_dump(mode="json", exclude_none=True)


class ServiceClient:
    """One service's API for one caller, over the app-wide shared connection pool."""

    service: str = "service"

    def __init__(self, http: httpx.AsyncClient, caller: Caller, slots: CallSlots,
                 retry: RetryPolicy | None = None) -> None:
        self.http = http
        self.caller = caller
        self.slots = slots
        self.retry = retry or RetryPolicy()

    async def _send(self, method: str, path: str, payload: Any,
                    params: Mapping[str, str | int | list[str]] | None) -> httpx.Response:
        """One request, tried again when it is a read that could not connect or got a
        502/503/504 (`RetryPolicy`); the slot is given back while it waits."""
        retries = self.retry.retries(method)
        for retry in range(retries + 1):
            try:
                async with self.slots.hold():
                    response = await self.http.request(
                        method, path, json=payload, params=params, headers=self.caller.headers()
                    )
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                if retry == retries:
                    raise unavailable_error(self.service, exc) from exc
            except httpx.HTTPError as exc:
                # A read timeout: the request may be being served; the caller's own
                # deadline is what a retry would eat into, so it is reported at once.
                raise unavailable_error(self.service, exc) from exc
            else:
                if response.status_code not in RETRIED_STATUSES or retry == retries:
                    return response
            log.info("retrying a read", extra={"service": self.service, "path": path,
                                                "retry": retry + 1})
            await asyncio.sleep(self.retry.delay(retry))
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _call(
        self,
        method: str,
        template: str,
        *,
        body: BaseModel | list[BaseModel] | None = None,
        params: Mapping[str, str | int | list[str]] | None = None,
        **ids: str,
    ) -> httpx.Response:
        """`method` on `template` with `ids` in its placeholders (checked and quoted there),
        within the request's and the service's caps on calls in flight; a problem answered
        is raised as its GraphQL error."""
        path = API + service_path(template, ids)
        for name, value in (params or {}).items():
            if name == "id" or name.endswith("_id"):
                for one in value if isinstance(value, list) else [value]:
                    identifier(str(one), field=name)
        payload: Any = None
        if isinstance(body, list):
            payload = [_dump(item) for item in body]
        elif body is not None:
            payload = _dump(body)
        response = await self._send(method, path, payload, params)
        if response.is_error:
            raise problem_error(self.service, response)
        return response

    def _unexpected(self, path: str, response: httpx.Response,
                    exc: ValidationError) -> ProblemError:
        # Logged without the values (they may be personal data); the client gets no
        # validation dump, only that the service's answer was not what the gateway reads.
        errors = exc.errors(include_url=False, include_input=False, include_context=False)
        if errors and errors[0]["type"] == "json_invalid":
            log.warning("unexpected answer", extra={
                "service": self.service, "path": path, "status": response.status_code,
                "content_type": response.headers.get("content-type"),
                "reason": "the body is not JSON"})
        else:
            log.warning("unexpected answer", extra={
                "service": self.service, "path": path, "errors": errors})
        return bad_gateway(self.service)

    async def _one(self, model: type[Model], method: str, template: str, **kwargs: Any,
                   ) -> Model:
        response = await self._call(method, template, **kwargs)
        # Parsed and validated in one pass (pydantic's own JSON parser), not parsed into
        # dicts and lists first and then walked again: most of what a large answer cost.
        try:
            return model.model_validate_json(response.content)
        except ValidationError as exc:
            raise self._unexpected(template, response, exc) from exc

    async def _batch(self, model: type[Item], template: str, ids: list[str],
                     **params: str | int) -> BatchPublic[Item]:
        """A batch read of at most MAX_BATCH_IDS ids (the caller chunks a longer list)."""
        if len(ids) > MAX_BATCH_IDS:
            raise ValueError(f"a batch read takes at most {MAX_BATCH_IDS} ids")
        return await self._one(_batch_of(model), "GET", template,
                               params={"id": ids, **params})

    async def _many(self, model: type[Model], template: str, **kwargs: Any) -> list[Model]:
        response = await self._call("GET", template, **kwargs)
        try:
            return _list_of(model).validate_json(response.content)  # type: ignore[no-any-return]
        except ValidationError as exc:
            raise self._unexpected(template, response, exc) from exc


@cache
def _batch_of(model: type[Item]) -> type[BatchPublic[Item]]:
    """`BatchPublic[model]`, made once and held: pydantic keeps a parametrised model only
    weakly, so one nobody holds was built again (its whole schema) on every call."""
    return BatchPublic[model]  # type: ignore[valid-type]


@cache
def _list_of(model: type[BaseModel]) -> TypeAdapter[Any]:
    """The adapter of a list of `model`, built once: building one costs more than using it."""
    # mypy reads list[model] as a type and refuses a variable in it; at run time it is
    # the generic alias pydantic needs.
    return TypeAdapter(list[model])  # type: ignore[valid-type]


class EnrolmentClient(ServiceClient):
    service = "enrolment"

    async def import_employees(self, records: list[EmployeeRecord]) -> ImportReportPublic:
        """Upsert employees from HRIS records (JSON)."""
        return await self._one(ImportReportPublic, "POST", "/employees/import", body=records)

    async def employee(self, id: str) -> EmployeePublic:
        return await self._one(EmployeePublic, "GET", "/employees/{id}", id=id)

    async def search_employees(self, *, search: str | None = None,
                               department: str | None = None, job_level: int | None = None,
                               include_inactive: bool = False, after: str | None = None,
                               limit: int = 50) -> EmployeePagePublic:
        """A page of an employee search (admins)."""
        params: dict[str, str | int] = {"limit": limit}
        if include_inactive:
            params["include_inactive"] = "true"
        for name, value in (("search", search), ("department", department),
                            ("job_level", job_level), ("after", after)):
            if value is not None:
                params[name] = value
        return await self._one(EmployeePagePublic, "GET", "/employees", params=params)

    async def employee_by_external_id(self, external_id: str) -> EmployeePublic:
        return await self._one(EmployeePublic, "GET", "/employees/by-external-id/{external_id}",
                               external_id=external_id)

    async def employees(self, ids: list[str]) -> BatchPublic[EmployeePublic]:
        """Employees by id, each as `employee` would answer it."""
        return await self._batch(EmployeePublic, "/batch/employees", ids)

    async def create_programme(self, data: ProgrammeCreate) -> ProgrammePublic:
        return await self._one(ProgrammePublic, "POST", "/programmes", body=data)

    async def programmes(self) -> list[ProgrammePublic]:
        return await self._many(ProgrammePublic, "/programmes")

    async def programme(self, id: str) -> ProgrammePublic:
        return await self._one(ProgrammePublic, "GET", "/programmes/{id}", id=id)

    async def programmes_by_id(self, ids: list[str]) -> BatchPublic[ProgrammePublic]:
        """Programmes by id, each as `programme` would answer it."""
        return await self._batch(ProgrammePublic, "/batch/programmes", ids)

    async def participants_by_id(self, ids: list[str]) -> BatchPublic[ParticipantPublic]:
        """Participants by id, each as `participant` would answer it."""
        return await self._batch(ParticipantPublic, "/batch/participants", ids)

    async def my_participations(self) -> list[ParticipantPublic]:
        """The caller's own participations in every programme."""
        return await self._many(ParticipantPublic, "/me/participations")

    async def participant_card(self, id: str) -> ParticipantCardPublic:
        return await self._one(ParticipantCardPublic, "GET", "/participants/{id}/card", id=id)

    async def participant_cards(self, ids: list[str]) -> BatchPublic[ParticipantCardPublic]:
        """Participant cards by id, each as `participant_card` would answer it."""
        return await self._batch(ParticipantCardPublic, "/batch/participant-cards", ids)

    async def enrol(self, programme_id: str, data: ParticipantCreate) -> ParticipantPublic:
        return await self._one(ParticipantPublic, "POST", "/programmes/{programme_id}/participants",
                               programme_id=programme_id, body=data)

    async def participants(self, programme_id: str) -> list[ParticipantPublic]:
        return await self._many(ParticipantPublic, "/programmes/{programme_id}/participants",
                                programme_id=programme_id)

    async def participant(self, id: str) -> ParticipantPublic:
        return await self._one(ParticipantPublic, "GET", "/participants/{id}", id=id)

    async def withdraw(self, participant_id: str, reason: str | None) -> ParticipantPublic:
        return await self._one(ParticipantPublic, "POST", "/participants/{participant_id}/withdraw",
                               participant_id=participant_id, body=Withdrawal(reason=reason))

    async def erase_employee(self, employee_id: str) -> EmployeePublic:
        """Erase a person on request (HR admins); every service pseudonymises them."""
        return await self._one(EmployeePublic, "POST", "/employees/{employee_id}/erase",
                               employee_id=employee_id)

    async def update_programme(self, programme_id: str, data: ProgrammeUpdate,
                               ) -> ProgrammePublic:
        return await self._one(ProgrammePublic, "PATCH", "/programmes/{programme_id}",
                               programme_id=programme_id, body=data)

    async def transition_programme(self, programme_id: str, status: str) -> ProgrammePublic:
        return await self._one(ProgrammePublic, "POST", "/programmes/{programme_id}/status",
                               programme_id=programme_id,
                               body=ProgrammeTransition(status=status))

    async def add_topics(self, programme_id: str, topics: list[str]) -> ProgrammePublic:
        return await self._one(ProgrammePublic, "POST", "/programmes/{programme_id}/topics",
                               programme_id=programme_id, body=TopicsAdd(topics=topics))

    async def import_participants(self, programme_id: str, records: list[ParticipantImportRecord],
                                  ) -> ParticipantImportReportPublic:
        return await self._one(ParticipantImportReportPublic, "POST",
                               "/programmes/{programme_id}/participants/import",
                               programme_id=programme_id, body=records)

    async def invite(self, programme_id: str, data: InvitationCreate) -> InvitationPublic:
        return await self._one(InvitationPublic, "POST", "/programmes/{programme_id}/invitations",
                               programme_id=programme_id, body=data)

    async def programme_invitations(self, programme_id: str) -> list[InvitationPublic]:
        return await self._many(InvitationPublic, "/programmes/{programme_id}/invitations",
                                programme_id=programme_id)

    async def employee_invitations(self, employee_id: str) -> list[InvitationPublic]:
        return await self._many(InvitationPublic, "/employees/{employee_id}/invitations",
                                employee_id=employee_id)

    async def accept_invitation(self, invitation_id: str, answers: SurveyAnswers,
                                ) -> ParticipantPublic:
        return await self._one(ParticipantPublic, "POST", "/invitations/{invitation_id}/accept",
                               invitation_id=invitation_id, body=answers)

    async def decline_invitation(self, invitation_id: str) -> InvitationPublic:
        return await self._one(InvitationPublic, "POST", "/invitations/{invitation_id}/decline",
                               invitation_id=invitation_id)

    async def change_survey(self, participant_id: str, change: SurveyChange,
                            ) -> ParticipantPublic:
        return await self._one(ParticipantPublic, "PATCH",
                               "/participants/{participant_id}/survey",
                               participant_id=participant_id, body=change)

    async def survey_versions(self, participant_id: str) -> list[SurveyVersionPublic]:
        return await self._many(SurveyVersionPublic,
                                "/participants/{participant_id}/survey/versions",
                                participant_id=participant_id)


class MatchingClient(ServiceClient):
    service = "matching"

    async def suggestions(self, programme_id: str, mentee_participant_id: str,
                          limit: int) -> SuggestionsPublic:
        return await self._one(
            SuggestionsPublic, "GET",
            "/programmes/{programme_id}/mentees/{mentee_participant_id}/suggestions",
            programme_id=programme_id, mentee_participant_id=mentee_participant_id,
            params={"limit": limit},
        )

    async def form_pair(self, data: PairCreate) -> PairPublic:
        return await self._one(PairPublic, "POST", "/pairs", body=data)

    async def pairs(self, *, programme_id: str | list[str] | None = None,
                    participant_id: str | None = None,
                    status: str | None = None) -> list[PairPublic]:
        """Pairs, filtered; several programmes' at once with a list of at most
        MAX_BATCH_IDS programme ids."""
        params: dict[str, str | int | list[str]] = {}
        if programme_id is not None:
            params["programme_id"] = programme_id
        if participant_id is not None:
            params["participant_id"] = participant_id
        if status is not None:
            params["status"] = status
        return await self._many(PairPublic, "/pairs", params=params)

    async def pairs_by_id(self, ids: list[str]) -> BatchPublic[PairPublic]:
        """Pairs by id, each as `pair` would answer it."""
        return await self._batch(PairPublic, "/batch/pairs", ids)

    async def pair(self, id: str) -> PairPublic:
        return await self._one(PairPublic, "GET", "/pairs/{id}", id=id)

    async def end_pair(self, pair_id: str, reason: str, note: str | None) -> PairPublic:
        return await self._one(PairPublic, "POST", "/pairs/{pair_id}/end", pair_id=pair_id,
                               body=PairEnd(reason=reason, note=note))

    async def pick_mentor(self, programme_id: str, mentee_participant_id: str,
                          mentor_participant_id: str) -> PairPublic:
        """A mentee's pick from their shortlist: a proposed pair awaiting the mentor."""
        return await self._one(
            PairPublic, "POST", "/programmes/{programme_id}/mentees/{mentee_participant_id}/pick",
            programme_id=programme_id, mentee_participant_id=mentee_participant_id,
            body=PairPick(mentor_participant_id=mentor_participant_id),
        )

    async def accept_pair(self, pair_id: str) -> PairPublic:
        return await self._one(PairPublic, "POST", "/pairs/{pair_id}/accept", pair_id=pair_id)

    async def decline_pair(self, pair_id: str, note: str | None) -> PairPublic:
        return await self._one(PairPublic, "POST", "/pairs/{pair_id}/decline", pair_id=pair_id,
                               body=PairDecline(note=note))

    async def pool_stats(self, programme_id: str) -> PoolStatsPublic:
        return await self._one(PoolStatsPublic, "GET", "/programmes/{programme_id}/pool",
                               programme_id=programme_id)

    async def matching_config(self, programme_id: str) -> MatchingConfigPublic:
        return await self._one(MatchingConfigPublic, "GET",
                               "/programmes/{programme_id}/matching-config",
                               programme_id=programme_id)

    async def patch_matching_config(self, programme_id: str, data: MatchingConfigChange,
                                    ) -> MatchingConfigPublic:
        return await self._one(MatchingConfigPublic, "PATCH",
                               "/programmes/{programme_id}/matching-config",
                               programme_id=programme_id, body=data)

    async def create_run(self, programme_id: str, data: MatchRunCreate) -> MatchRunPublic:
        return await self._one(MatchRunPublic, "POST", "/programmes/{programme_id}/match-runs",
                               programme_id=programme_id, body=data)

    async def runs(self, programme_id: str) -> list[MatchRunPublic]:
        return await self._many(MatchRunPublic, "/programmes/{programme_id}/match-runs",
                                programme_id=programme_id)

    async def run(self, id: str, offset: int = 0, limit: int | None = None) -> MatchRunPublic:
        """A run with a page of its pairs and unmatched mentees (the service's default size
        unless `limit`)."""
        params = {"offset": offset} | ({} if limit is None else {"limit": limit})
        return await self._one(MatchRunPublic, "GET", "/match-runs/{id}", id=id, params=params)

    async def publish_run(self, run_id: str) -> MatchRunPublic:
        return await self._one(MatchRunPublic, "POST", "/match-runs/{run_id}/publish",
                               run_id=run_id)


class SchedulingClient(ServiceClient):
    service = "scheduling"

    async def pair_sessions(self, pair_id: str) -> list[SessionPublic]:
        return await self._many(SessionPublic, "/pairs/{pair_id}/sessions", pair_id=pair_id)

    async def sessions_of_pairs(self, ids: list[str]) -> BatchPublic[PairSessionsPublic]:
        """Several pairs' sessions by pair id, each as `pair_sessions` would answer it."""
        return await self._batch(PairSessionsPublic, "/batch/pair-sessions", ids)

    async def next_sessions_of_pairs(self, ids: list[str]) -> BatchPublic[PairSessionsPublic]:
        """Several pairs' next sessions by pair id: each pair's first session still planned
        (a list of at most one), the same pairs answered or missing as `sessions_of_pairs`."""
        return await self._batch(PairSessionsPublic, "/batch/pair-sessions", ids,
                                 next_only="true")

    async def session(self, id: str) -> SessionPublic:
        return await self._one(SessionPublic, "GET", "/sessions/{id}", id=id)

    async def employee_sessions(self, employee_id: str | None) -> list[SessionPublic]:
        """An employee's sessions; without an id, scheduling answers for the caller."""
        params: dict[str, str | int] = {} if employee_id is None else {"employee_id": employee_id}
        return await self._many(SessionPublic, "/sessions", params=params)

    async def log_session(self, session_id: str, data: SessionLog) -> SessionPublic:
        return await self._one(SessionPublic, "POST", "/sessions/{session_id}/log",
                               session_id=session_id, body=data)

    async def my_upcoming_changes(self, within_hours: int) -> list[UpcomingChangePublic]:
        """The caller's moved and cancelled occurrences starting (or having started) soon."""
        return await self._many(UpcomingChangePublic, "/me/changes",
                                params={"within_hours": within_hours})

    async def pair_plan(self, pair_id: str) -> PlanPublic:
        return await self._one(PlanPublic, "GET", "/pairs/{pair_id}/plan", pair_id=pair_id)

    async def accept_plan(self, plan_id: str) -> PlanPublic:
        return await self._one(PlanPublic, "POST", "/plans/{plan_id}/accept", plan_id=plan_id)

    async def propose_plan_slot(self, plan_id: str, data: PlanSlotProposal) -> PlanPublic:
        return await self._one(PlanPublic, "POST", "/plans/{plan_id}/slot", plan_id=plan_id,
                               body=data)

    async def reschedule_session(self, session_id: str, data: OccurrenceReschedule
                                 ) -> PlanPublic:
        return await self._one(PlanPublic, "POST", "/sessions/{session_id}/reschedule",
                               session_id=session_id, body=data)

    async def cancel_session(self, session_id: str, data: OccurrenceCancel) -> PlanPublic:
        return await self._one(PlanPublic, "POST", "/sessions/{session_id}/cancel",
                               session_id=session_id, body=data)

    async def issue_calendar_feed(self) -> CalendarFeedIssuedPublic:
        return await self._one(CalendarFeedIssuedPublic, "POST", "/calendar-feeds")

    async def revoke_calendar_feed(self) -> CalendarFeedRevokedPublic:
        return await self._one(CalendarFeedRevokedPublic, "DELETE", "/calendar-feeds")

    async def correct_session_log(
        self, session_id: str, data: SessionLogCorrection
    ) -> SessionPublic:
        return await self._one(SessionPublic, "PATCH", "/sessions/{session_id}/log",
                               session_id=session_id, body=data)

    async def pair_goals(self, pair_id: str) -> list[GoalPublic]:
        return await self._many(GoalPublic, "/pairs/{pair_id}/goals", pair_id=pair_id)

    async def create_goal(self, pair_id: str, data: GoalCreate) -> GoalPublic:
        return await self._one(GoalPublic, "POST", "/pairs/{pair_id}/goals", pair_id=pair_id,
                               body=data)

    async def record_goal_progress(self, goal_id: str, data: GoalProgressCreate) -> GoalPublic:
        return await self._one(GoalPublic, "POST", "/goals/{goal_id}/progress",
                               goal_id=goal_id, body=data)

    async def set_goal_status(self, goal_id: str, data: GoalStatusChange) -> GoalPublic:
        return await self._one(GoalPublic, "POST", "/goals/{goal_id}/status", goal_id=goal_id,
                               body=data)

    async def pair_touchpoints(self, pair_id: str) -> PairTouchpointsPublic:
        return await self._one(PairTouchpointsPublic, "GET", "/pairs/{pair_id}/touchpoints",
                               pair_id=pair_id)

    async def record_touchpoint(self, pair_id: str, data: TouchpointCreate) -> TouchpointPublic:
        return await self._one(TouchpointPublic, "POST", "/pairs/{pair_id}/touchpoints",
                               pair_id=pair_id, body=data)

    async def programme_group_sessions(self, programme_id: str) -> list[GroupSessionPublic]:
        return await self._many(GroupSessionPublic, "/programmes/{programme_id}/group-sessions",
                                programme_id=programme_id)

    async def my_group_sessions(self) -> list[GroupSessionPublic]:
        return await self._many(GroupSessionPublic, "/group-sessions")

    async def create_group_session(
        self, programme_id: str, data: GroupSessionCreate
    ) -> GroupSessionPublic:
        return await self._one(GroupSessionPublic, "POST",
                               "/programmes/{programme_id}/group-sessions",
                               programme_id=programme_id, body=data)

    async def update_group_session(
        self, group_session_id: str, data: GroupSessionUpdate
    ) -> GroupSessionPublic:
        return await self._one(GroupSessionPublic, "PATCH", "/group-sessions/{group_session_id}",
                               group_session_id=group_session_id, body=data)

    async def cancel_group_session(
        self, group_session_id: str, data: GroupSessionCancel
    ) -> GroupSessionPublic:
        return await self._one(GroupSessionPublic, "POST",
                               "/group-sessions/{group_session_id}/cancel",
                               group_session_id=group_session_id, body=data)

    async def rsvp_group_session(self, group_session_id: str, data: RsvpCreate
                                 ) -> GroupSessionPublic:
        return await self._one(GroupSessionPublic, "POST",
                               "/group-sessions/{group_session_id}/rsvp",
                               group_session_id=group_session_id, body=data)


class AnalyticsClient(ServiceClient):
    service = "analytics"

    async def programme_summary(self, programme_id: str) -> ProgrammeSummaryPublic:
        return await self._one(ProgrammeSummaryPublic, "GET", "/programmes/{programme_id}/summary",
                               programme_id=programme_id)

    async def programme_summaries(self, ids: list[str]) -> BatchPublic[ProgrammeSummaryPublic]:
        """Several programmes' figures by programme id (admins)."""
        return await self._batch(ProgrammeSummaryPublic, "/batch/programme-summaries", ids)

    async def create_pulse_survey(self, programme_id: str,
                                  data: PulseSurveyCreate) -> PulseSurveyPublic:
        return await self._one(PulseSurveyPublic, "POST",
                               "/programmes/{programme_id}/pulse-surveys",
                               programme_id=programme_id, body=data)

    async def pulse_surveys(self, programme_id: str) -> PulseSurveyListPublic:
        return await self._one(PulseSurveyListPublic, "GET",
                               "/programmes/{programme_id}/pulse-surveys",
                               programme_id=programme_id)

    async def close_pulse_survey(self, programme_id: str, survey_id: str) -> PulseSurveyPublic:
        return await self._one(PulseSurveyPublic, "POST",
                               "/programmes/{programme_id}/pulse-surveys/{survey_id}/close",
                               programme_id=programme_id, survey_id=survey_id)

    async def answer_pulse_survey(self, programme_id: str, survey_id: str,
                                  data: PulseResponseCreate) -> PulseResponseReceiptPublic:
        return await self._one(
            PulseResponseReceiptPublic, "POST",
            "/programmes/{programme_id}/pulse-surveys/{survey_id}/responses",
            programme_id=programme_id, survey_id=survey_id, body=data)

    async def pulse_survey_results(self, programme_id: str, survey_id: str, *,
                                   role: str | None = None, department: str | None = None,
                                   level_band: str | None = None) -> PulseSurveyResultsPublic:
        """One cut of a closed survey's results (suppressed under 5 respondents)."""
        params = {name: value for name, value in (
            ("role", role), ("department", department), ("level_band", level_band))
            if value is not None}
        return await self._one(
            PulseSurveyResultsPublic, "GET",
            "/programmes/{programme_id}/pulse-surveys/{survey_id}/results",
            programme_id=programme_id, survey_id=survey_id, params=params)

    async def celebrations(self, programme_id: str) -> CelebrationFeedPublic:
        return await self._one(CelebrationFeedPublic, "GET",
                               "/programmes/{programme_id}/celebrations",
                               programme_id=programme_id)

    async def import_participation_history(
        self, rows: list[ParticipationHistoryRow]) -> ParticipationHistoryReportPublic:
        """Store past cohorts (HR admins); a bad row writes nothing."""
        return await self._one(ParticipationHistoryReportPublic, "POST",
                               "/participation-history", body=rows)

    async def workforce_baselines(self) -> WorkforceBaselineListPublic:
        """The workforce head counts HR entered (admins)."""
        return await self._one(WorkforceBaselineListPublic, "GET", "/workforce-baseline")

    async def set_workforce_baseline(self, data: WorkforceBaselineSet
                                     ) -> WorkforceBaselinePublic:
        """Replace an attribute's workforce head counts (HR admins)."""
        return await self._one(WorkforceBaselinePublic, "PUT", "/workforce-baseline",
                               body=data)

    async def remove_workforce_baseline(self, attribute: str) -> WorkforceBaselinePublic:
        """Drop an attribute's workforce baseline, answering what it was (HR admins)."""
        return await self._one(WorkforceBaselinePublic, "DELETE", "/workforce-baseline",
                               params={"attribute": attribute})

    async def programme_health(self, ids: list[str]) -> BatchPublic[ProgrammeHealthPublic]:
        """Several programmes' health figures by programme id (admins)."""
        return await self._batch(ProgrammeHealthPublic, "/batch/programme-health", ids)

    async def programme_retention(self, programme_id: str, window_months: int,
                                  as_of: date | None) -> ProgrammeRetentionPublic:
        """A programme's retention against matched non-participants (admins)."""
        return await self._one(ProgrammeRetentionPublic, "GET",
                               "/programmes/{programme_id}/retention", programme_id=programme_id,
                               params=_retention_params(window_months, as_of))

    async def retention(self, window_months: int,
                        as_of: date | None) -> ProgrammeRetentionPublic:
        """Retention across every programme (admins)."""
        return await self._one(ProgrammeRetentionPublic, "GET", "/retention",
                               params=_retention_params(window_months, as_of))


    async def health_report(self, programme_id: str | None, *, start: date | None,
                            end: date | None, department: str | None,
                            level_band: str | None) -> HealthReportPublic:
        """Programme health in depth, of one programme or all, for a cut (admins)."""
        params = {key: value for key, value in (
            ("from", start.isoformat() if start else None),
            ("to", end.isoformat() if end else None),
            ("department", department), ("level_band", level_band)) if value is not None}
        if programme_id is None:
            return await self._one(HealthReportPublic, "GET", "/health/report", params=params)
        return await self._one(HealthReportPublic, "GET",
                               "/programmes/{programme_id}/health/report",
                               programme_id=programme_id, params=params)


def _retention_params(window_months: int, as_of: date | None) -> dict[str, str | int]:
    params: dict[str, str | int] = {"window_months": window_months}
    if as_of is not None:
        params["as_of"] = as_of.isoformat()
    return params


# Idle connections are dropped before the services' own servers drop them (uvicorn: 5 s),
# so a call never goes out on a connection the service is closing.
KEEPALIVE_SECONDS = 4.0


class AiohttpTransport(httpx_aiohttp.AiohttpTransport):
    """httpx's calls sent by aiohttp, whose pool hands out a connection in constant time.

    httpcore's pool walks every connection it holds, asking each socket whether it is still
    readable, on every request and every response closed (httpx issue #3215): with the
    gateway's pools of 32 kept-alive connections per service, that walk was its largest
    cost under load (bench/README.md). httpx stays the API (timeouts, params, errors);
    only the transport is aiohttp's.

    httpx-aiohttp reports every aiohttp connection error as `httpx.ConnectTimeout`; here a
    refused connection is an `httpx.ConnectError` and a dropped one an
    `httpx.RemoteProtocolError`, as httpcore reports them, so a service that could not be
    reached (503) stays apart from one that did not answer in time (504), and only a call
    that never went out is retried.
    """

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await super().handle_async_request(request)
        except httpx.ConnectTimeout as exc:
            cause = exc.__cause__
            if isinstance(cause, asyncio.TimeoutError) or cause is None:
                raise
            if isinstance(cause, aiohttp.ClientConnectorError):
                raise httpx.ConnectError(str(exc), request=request) from cause
            raise httpx.RemoteProtocolError(str(exc), request=request) from cause


@dataclass(frozen=True)
class Downstreams:
    """One shared connection pool per service, made in the lifespan and closed on shutdown,
    and the cap on GraphQL calls in flight to each across every request.

    `uploads` is enrolment again, for the forwarded SCIM and import requests: their bodies
    stream through as they arrive, and a client hanging up mid-upload must reach the
    forwarder as its own `ClientDisconnect`, as httpx's own transport lets it (aiohttp
    writes a body apart from the call, and would report it as a failed call).
    """

    enrolment: httpx.AsyncClient
    matching: httpx.AsyncClient
    scheduling: httpx.AsyncClient
    analytics: httpx.AsyncClient
    uploads: httpx.AsyncClient
    slots: Mapping[str, asyncio.Semaphore]

    @classmethod
    def open(cls, settings: GatewaySettings) -> Downstreams:
        timeout = httpx.Timeout(settings.downstream_timeout_seconds)
        # As many connections, all kept alive, as calls may be in flight to one service,
        # so a busy gateway never reconnects for a call past a smaller keep-alive pool.
        cap = settings.max_concurrent_calls_per_service
        limits = httpx.Limits(max_connections=cap, max_keepalive_connections=cap,
                              keepalive_expiry=KEEPALIVE_SECONDS)

        def client(url: object) -> httpx.AsyncClient:
            return httpx.AsyncClient(base_url=str(url), timeout=timeout,
                                     transport=AiohttpTransport(limits=limits))

        return cls(
            enrolment=client(settings.enrolment_url),
            matching=client(settings.matching_url),
            scheduling=client(settings.scheduling_url),
            analytics=client(settings.analytics_url),
            uploads=httpx.AsyncClient(base_url=str(settings.enrolment_url), timeout=timeout),
            slots={name: asyncio.Semaphore(settings.max_concurrent_calls_per_service)
                   for name in SERVICES},
        )

    def by_name(self) -> dict[str, httpx.AsyncClient]:
        return {"enrolment": self.enrolment, "matching": self.matching,
                "scheduling": self.scheduling, "analytics": self.analytics}

    async def readiness(self, within_seconds: float) -> Readiness:
        """Each service's own `/readyz` (its database, NATS, outbox), asked at once.

        A service is ready when that answers 200 within `within_seconds`; `reasons`
        says why another is not, with the reasons the service gives itself.
        """

        async def check(http: httpx.AsyncClient) -> str | None:
            try:
                response = await http.get("/readyz", timeout=within_seconds)
            except httpx.TimeoutException:
                return f"its /readyz did not answer within {within_seconds:g} s"
            except httpx.HTTPError:
                return "it could not be reached"
            if response.status_code == 200:
                return None
            return f"its /readyz answered {response.status_code}{_own_reasons(response)}"

        names = list(self.by_name())
        failures = await asyncio.gather(*(check(http) for http in self.by_name().values()))
        outcome = dict(zip(names, failures, strict=True))
        return Readiness(checks={name: why is None for name, why in outcome.items()},
                         reasons={name: why for name, why in outcome.items() if why})

    async def aclose(self) -> None:
        await asyncio.gather(*(http.aclose() for http in [*self.by_name().values(),
                                                          self.uploads]))


def _own_reasons(response: httpx.Response) -> str:
    """`: nats: not connected to NATS; ...` from a service's /readyz body, if it gives any."""
    try:
        body = response.json()
    except ValueError:
        return ""
    reasons = body.get("reasons") if isinstance(body, dict) else None
    if not isinstance(reasons, dict) or not reasons:
        return ""
    return ": " + "; ".join(f"{check}: {why}" for check, why in reasons.items())
