"""Matching's tables (the candidate pool built from events, pairs, runs) and API shapes.

Table names carry a `matching_` prefix: every service's models share one
SQLModel metadata in a single interpreter, so names must not collide.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict
from pydantic import Field as PydanticField
from sqlalchemy import JSON, Column, String, Text
from sqlmodel import Field, SQLModel

from upward_common.limits import LIST_MAX, SHORT_LIST_MAX, Identifier, Tag
from upward_common.limits import Text as FreeText  # sqlalchemy's Text is the column type
from upward_common.types import UTCDateTime


def new_id() -> str:
    return str(uuid.uuid4())


class MatchingProgramme(SQLModel, table=True):
    """The programme rules matching acts on, from programme-updated events.

    A row can exist before its first programme-updated event (participants may
    arrive first); `known` says whether the rules came from enrolment yet.
    """

    __tablename__ = "matching_programme"

    id: str = Field(primary_key=True, max_length=36)
    name: str = Field(default="", max_length=200)
    status: str = Field(default="open", sa_type=String(16))
    mentor_max_level: int | None = None
    mentee_min_level: int | None = None
    min_level_gap: int = 0
    mutual: bool = False
    matching_mode: str = Field(default="admin", sa_type=String(16))
    meeting_format: str = Field(default="virtual", sa_type=String(16))
    diversity_objective: bool = False
    topics: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    # The catalogue's DEI topics, as enrolment defines them (programme.updated).
    dei_topics: list[str] | None = Field(default=None, sa_column=Column(JSON))
    # The deployment's job-level scale, 1 to this (enrolment's setting, programme.updated).
    job_level_max: int = Field(default=20, sa_column_kwargs={"server_default": "20"})
    known: bool = False
    occurred_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Bumped whenever the pool's people or rules change: it keys the feature cache.
    revision: int = 0


class MatchingConfig(SQLModel, table=True):
    """Per-programme scoring weights and the limits a programme chooses to set."""

    __tablename__ = "matching_config"

    programme_id: str = Field(primary_key=True, max_length=36)
    weights: dict[str, float] = Field(default_factory=dict, sa_column=Column(JSON))
    allow_shared_manager: bool = False
    max_time_zone_hours: float | None = None
    min_overlap_hours: float | None = None
    ideal_level_gap: int = 4
    ideal_overlap_hours: float = 3.0
    dei_topics: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    diversity_attribute: str = Field(default="under_represented", max_length=64)
    diversity_values: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    # When an admin last set it (a request, not an event: hence not `occurred_at`).
    updated_at: datetime = Field(sa_type=UTCDateTime)


class MatchingEmployee(SQLModel, table=True):
    """What matching knows of an employee: the latest snapshot from events."""

    __tablename__ = "matching_employee"

    id: str = Field(primary_key=True, max_length=36)
    given_name: str | None = Field(default=None, max_length=200)
    job_level: int | None = None
    department: str | None = Field(default=None, max_length=200)
    manager_id: str | None = Field(default=None, max_length=36)
    manager_chain: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    location: str | None = Field(default=None, max_length=200)
    time_zone: str | None = Field(default=None, max_length=64)
    leave_on: date | None = None
    active: bool = True
    erased: bool = False
    occurred_at: datetime = Field(sa_type=UTCDateTime)


class CandidateStatus(StrEnum):
    ACTIVE = "active"
    WITHDRAWN = "withdrawn"


class Candidate(SQLModel, table=True):
    """One participant of the pool with their latest survey answers."""

    __tablename__ = "matching_candidate"

    participant_id: str = Field(primary_key=True, max_length=36)
    programme_id: str = Field(index=True, max_length=36)
    employee_id: str = Field(index=True, max_length=36)
    role: str = Field(sa_type=String(16))
    status: str = Field(default=CandidateStatus.ACTIVE, sa_type=String(16))
    survey_version: int = 1
    occurred_at: datetime = Field(sa_type=UTCDateTime)
    withdrawn_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    topics_teach: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    topics_learn: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    interests: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    availability: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    time_zone: str | None = Field(default=None, max_length=64)
    meeting_formats: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    languages: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    mentor_capacity: int = 1
    dei_opt_in: bool = False
    avoid_employee_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    diversity: dict[str, str] | None = Field(default=None, sa_column=Column(JSON))


class PairStatus(StrEnum):
    PROPOSED = "proposed"
    ACTIVE = "active"
    COMPLETED = "completed"
    ENDED = "ended"
    DECLINED = "declined"


# A proposed or active pair holds a mentor place and the mentee.
OPEN_PAIR_STATUSES = (PairStatus.PROPOSED.value, PairStatus.ACTIVE.value)


class EndReason(StrEnum):
    COMPLETED = "completed"
    POOR_FIT = "poor_fit"
    WITHDRAWAL = "withdrawal"
    DEPARTURE = "departure"
    INACTIVITY = "inactivity"
    ADMIN = "admin"


class Pair(SQLModel, table=True):
    """A mentor and a mentee in a programme, from proposal to its end."""

    __tablename__ = "matching_pair"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    programme_id: str = Field(index=True, max_length=36)
    mentor_participant_id: str = Field(index=True, max_length=36)
    mentee_participant_id: str = Field(index=True, max_length=36)
    mentor_employee_id: str = Field(index=True, max_length=36)
    mentee_employee_id: str = Field(index=True, max_length=36)
    status: str = Field(sa_type=String(16))
    origin: str = Field(sa_type=String(16))
    score: float
    breakdown: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    override_reason: str | None = Field(default=None, sa_type=Text)
    overridden_rules: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    run_id: str | None = Field(default=None, max_length=36)
    proposed_at: datetime = Field(sa_type=UTCDateTime)
    formed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    end_reason: str | None = Field(default=None, sa_type=String(16))
    end_note: str | None = Field(default=None, sa_type=Text)
    # From scheduling: a poor fit reported twice (HR sees a rematch suggestion), and the
    # latest time the pair was flagged at risk of going silent.
    rematch_suggested_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    at_risk_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class MatchRun(SQLModel, table=True):
    """A whole-cohort optimisation: a dry run to review, or published as pairs."""

    __tablename__ = "matching_run"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    programme_id: str = Field(index=True, max_length=36)
    objective: str = Field(sa_type=String(32))
    dry_run: bool = True
    status: str = Field(default="draft", sa_type=String(16))
    total_score: float = 0.0
    matched: int = 0
    unmatched: int = 0
    optimal: bool = True
    pairs: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    unmatched_mentees: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    stats: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    created_at: datetime = Field(sa_type=UTCDateTime)
    published_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


TABLES = (
    "matching_programme",
    "matching_config",
    "matching_employee",
    "matching_candidate",
    "matching_pair",
    "matching_run",
)


# --- API shapes ------------------------------------------------------------------


class FactorPoints(BaseModel):
    """One factor's share of a score, with a reason a person can read."""

    factor: str
    points: float
    reason: str


class Suggestion(BaseModel):
    mentor_participant_id: str
    mentor_employee_id: str
    score: float
    breakdown: list[FactorPoints]


class SuggestionList(BaseModel):
    programme_id: str
    mentee_participant_id: str
    suggestions: list[Suggestion]


class PairCreate(BaseModel):
    """An admin pairs two participants; bending a programme limit needs a reason."""

    programme_id: Identifier
    mentee_participant_id: Identifier
    mentor_participant_id: Identifier
    override_reason: FreeText | None = None


class PairPick(BaseModel):
    """A mentee picks a mentor from their shortlist."""

    mentor_participant_id: Identifier


class PairEnd(BaseModel):
    reason: EndReason
    note: FreeText | None = None


class PairDecline(BaseModel):
    note: FreeText | None = None


class PairPublic(BaseModel):
    id: str
    programme_id: str
    mentor_participant_id: str
    mentee_participant_id: str
    mentor_employee_id: str
    mentee_employee_id: str
    status: PairStatus
    origin: str
    score: float
    breakdown: list[FactorPoints]
    override_reason: str | None
    overridden_rules: list[str]
    run_id: str | None
    proposed_at: datetime
    formed_at: datetime | None
    ended_at: datetime | None
    end_reason: str | None
    # For admins only (None for participants): when scheduling reported a poor fit twice,
    # so HR may rematch, and when it last flagged the pair at risk (no session held for
    # twice the programme's cadence).
    rematch_suggested_at: datetime | None = None
    at_risk_at: datetime | None = None


class PoolStats(BaseModel):
    programme_id: str
    mentors: int
    mentees: int
    total_capacity: int
    free_capacity: int
    unpaired_mentees: int
    eligible_pairs: int


# A factor's weight: finite, 0 to WEIGHT_MAX, so the sum of all eight stays a plain
# number (NaN, Infinity or 1e308s would normalise every score to nothing).
WEIGHT_MAX = 1_000.0
Weight = Annotated[float, PydanticField(ge=0, le=WEIGHT_MAX, allow_inf_nan=False)]
Weights = dict[
    Literal[
        "complementarity", "interests", "availability", "language", "format",
        "department", "level_gap", "diversity",
    ],
    Weight,
]


class MatchingConfigUpdate(BaseModel):
    """Scoring weights (relative; 0 switches a factor off) and the programme's limits."""

    weights: Weights = {}
    allow_shared_manager: bool = False
    max_time_zone_hours: float | None = PydanticField(default=None, ge=0, le=12,
                                                      allow_inf_nan=False)
    min_overlap_hours: float | None = PydanticField(default=None, ge=0, le=168,
                                                    allow_inf_nan=False)
    # None: the default for the deployment's job-level scale (`default_ideal_level_gap`);
    # at most the scale's widest gap (checked against the programme's scale).
    ideal_level_gap: int | None = PydanticField(default=None, ge=1, le=999)
    ideal_overlap_hours: float = PydanticField(default=3.0, gt=0, le=40, allow_inf_nan=False)
    dei_topics: list[Tag] = PydanticField(default=[], max_length=LIST_MAX)
    # The key of a self-declared attribute (`under_represented`, `gender`...).
    diversity_attribute: Identifier = "under_represented"
    diversity_values: list[Tag] = PydanticField(default=["yes", "true"],
                                                max_length=SHORT_LIST_MAX)


class MatchingConfigChange(BaseModel):
    """A partial change (PATCH): the settings sent replace theirs, the others are kept.

    `weights` merge factor by factor. A null limit (`max_time_zone_hours`,
    `min_overlap_hours`) removes it; a null elsewhere restores the default.
    """

    model_config = ConfigDict(extra="forbid")

    weights: Weights | None = None
    allow_shared_manager: bool | None = None
    max_time_zone_hours: float | None = PydanticField(default=None, ge=0, le=12,
                                                      allow_inf_nan=False)
    min_overlap_hours: float | None = PydanticField(default=None, ge=0, le=168,
                                                    allow_inf_nan=False)
    ideal_level_gap: int | None = PydanticField(default=None, ge=1, le=999)
    ideal_overlap_hours: float | None = PydanticField(default=None, gt=0, le=40,
                                                      allow_inf_nan=False)
    dei_topics: list[Tag] | None = PydanticField(default=None, max_length=LIST_MAX)
    diversity_attribute: Identifier | None = None
    diversity_values: list[Tag] | None = PydanticField(default=None, max_length=SHORT_LIST_MAX)


class MatchingConfigPublic(BaseModel):
    """The configuration as stored: plain types, so a value saved under older caps still reads."""

    programme_id: str
    weights: dict[str, float]
    allow_shared_manager: bool
    max_time_zone_hours: float | None
    min_overlap_hours: float | None
    ideal_level_gap: int
    ideal_overlap_hours: float
    dei_topics: list[str]
    diversity_attribute: str
    diversity_values: list[str]
    diversity_applies: bool


class MatchRunCreate(BaseModel):
    objective: Literal["max_score", "max_participation"] = "max_score"
    dry_run: bool = True


class RunPair(BaseModel):
    mentee_participant_id: str
    mentor_participant_id: str
    score: float
    breakdown: list[FactorPoints] = []


class UnmatchedMentee(BaseModel):
    mentee_participant_id: str
    reason: Literal["no_eligible_mentor", "capacity_taken"]


class MatchRunPublic(BaseModel):
    id: str
    programme_id: str
    objective: str
    dry_run: bool
    status: str
    total_score: float
    matched: int
    unmatched: int
    optimal: bool
    # A page of each list (the same `offset` and `limit` for all three); `matched`,
    # `unmatched` and `formed` count them whole.
    pairs: list[RunPair]
    unmatched_mentees: list[UnmatchedMentee]
    stats: dict[str, Any]
    created_at: datetime
    published_at: datetime | None
    pair_ids: list[str] = []
    formed: int = 0  # pairs publishing formed (their ids: pair_ids)
    offset: int = 0  # where the page of each list starts
