"""Typed calls to the four services, and their problem+json turned into GraphQL errors."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import date, datetime
from http import HTTPStatus
from typing import Any, Literal, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from gateway.config import GatewaySettings
from upward_common.observability import CORRELATION_HEADER
from upward_common.problems import PROBLEM_BASE

API = "/api/v1"

Model = TypeVar("Model", bound=BaseModel)


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


def bad_gateway(service: str, detail: str) -> ProblemError:
    """The service answered something this gateway cannot read."""
    return ProblemError(
        f"The {service} service answered unexpectedly: {detail}",
        {"status": 502, "type": PROBLEM_BASE + "bad-gateway", "title": "Bad gateway",
         "field": None, "errors": [], "service": service},
    )


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


class ProgrammePublic(Shape):
    id: str
    name: str
    description: str = ""
    status: str
    mentor_max_level: int | None = None
    mentee_min_level: int | None = None
    min_level_gap: int = 0
    created_at: datetime


class TopicSkill(Shape):
    topic: str
    level: int


class ParticipantPublic(Shape):
    id: str
    programme_id: str
    employee_id: str
    role: Literal["mentor", "mentee"]
    status: str
    topics_teach: list[TopicSkill] = []
    topics_learn: list[TopicSkill] = []
    interests: list[str] = []
    languages: list[str] = []
    mentor_capacity: int = 1
    survey_version: int = 1
    enrolled_at: datetime


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
    score: float | None = None
    breakdown: list[ScoreFactor] = []
    override_reason: str | None = None
    overridden_rules: list[str] = []
    proposed_at: datetime | None = None
    # A proposed pair (a mentee's pick awaiting the mentor) is not formed yet.
    formed_at: datetime | None = None
    ended_at: datetime | None = None
    end_reason: str | None = None


class SessionPublic(Shape):
    id: str
    pair_id: str
    programme_id: str
    starts_at: datetime | None = None
    duration_minutes: int | None = None
    status: str
    held_at: datetime | None = None
    recap: str | None = None
    my_private_note: str | None = None


class ProgrammeSummaryPublic(Shape):
    programme_id: str
    participants_enrolled: int = 0
    mentors: int = 0
    mentees: int = 0
    pairs_formed: int = 0
    pairs_active: int = 0
    sessions_scheduled: int = 0
    sessions_held: int = 0


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


class ProgrammeCreate(BaseModel):
    name: str
    description: str | None = None
    mentor_max_level: int | None = None
    mentee_min_level: int | None = None
    min_level_gap: int | None = None


class ParticipantCreate(BaseModel):
    employee_id: str
    role: Literal["mentor", "mentee"]
    topics_teach: list[TopicSkill] | None = None
    topics_learn: list[TopicSkill] | None = None
    interests: list[str] | None = None
    languages: list[str] | None = None
    mentor_capacity: int | None = None


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


class SessionLog(BaseModel):
    held_at: datetime
    duration_minutes: int
    recap: str | None = None
    private_note: str | None = None


# --- clients ------------------------------------------------------------------------------


class ServiceClient:
    """One service's API for one caller, over the app-wide shared connection pool."""

    service: str = "service"

    def __init__(self, http: httpx.AsyncClient, caller: Caller) -> None:
        self.http = http
        self.caller = caller

    async def _call(
        self,
        method: str,
        path: str,
        *,
        body: BaseModel | list[BaseModel] | None = None,
        params: dict[str, str | int] | None = None,
    ) -> Any:
        payload: Any = None
        if isinstance(body, list):
            payload = [item.model_dump(mode="json", exclude_none=True) for item in body]
        elif body is not None:
            payload = body.model_dump(mode="json", exclude_none=True)
        try:
            response = await self.http.request(
                method, API + path, json=payload, params=params, headers=self.caller.headers()
            )
        except httpx.HTTPError as exc:
            raise unavailable_error(self.service, exc) from exc
        if response.is_error:
            raise problem_error(self.service, response)
        try:
            return response.json()
        except ValueError as exc:
            raise bad_gateway(self.service, "the body is not JSON") from exc

    async def _one(self, model: type[Model], method: str, path: str, **kwargs: Any) -> Model:
        data = await self._call(method, path, **kwargs)
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise bad_gateway(self.service, str(exc)) from exc

    async def _many(self, model: type[Model], path: str, **kwargs: Any) -> list[Model]:
        data = await self._call("GET", path, **kwargs)
        try:
            return TypeAdapter(list[model]).validate_python(data)  # type: ignore[valid-type]
        except ValidationError as exc:
            raise bad_gateway(self.service, str(exc)) from exc


class EnrolmentClient(ServiceClient):
    service = "enrolment"

    async def import_employees(self, records: list[EmployeeRecord]) -> ImportReportPublic:
        """Upsert employees from HRIS records (JSON)."""
        return await self._one(ImportReportPublic, "POST", "/employees/import", body=records)

    async def employee(self, employee_id: str) -> EmployeePublic:
        return await self._one(EmployeePublic, "GET", f"/employees/{employee_id}")

    async def create_programme(self, data: ProgrammeCreate) -> ProgrammePublic:
        return await self._one(ProgrammePublic, "POST", "/programmes", body=data)

    async def programmes(self) -> list[ProgrammePublic]:
        return await self._many(ProgrammePublic, "/programmes")

    async def programme(self, programme_id: str) -> ProgrammePublic:
        return await self._one(ProgrammePublic, "GET", f"/programmes/{programme_id}")

    async def enrol(self, programme_id: str, data: ParticipantCreate) -> ParticipantPublic:
        return await self._one(ParticipantPublic, "POST",
                               f"/programmes/{programme_id}/participants", body=data)

    async def participants(self, programme_id: str) -> list[ParticipantPublic]:
        return await self._many(ParticipantPublic, f"/programmes/{programme_id}/participants")

    async def participant(self, participant_id: str) -> ParticipantPublic:
        return await self._one(ParticipantPublic, "GET", f"/participants/{participant_id}")

    async def withdraw(self, participant_id: str, reason: str | None) -> ParticipantPublic:
        return await self._one(ParticipantPublic, "POST",
                               f"/participants/{participant_id}/withdraw",
                               body=Withdrawal(reason=reason))


class MatchingClient(ServiceClient):
    service = "matching"

    async def suggestions(self, programme_id: str, mentee_participant_id: str,
                          limit: int) -> SuggestionsPublic:
        return await self._one(
            SuggestionsPublic, "GET",
            f"/programmes/{programme_id}/mentees/{mentee_participant_id}/suggestions",
            params={"limit": limit},
        )

    async def form_pair(self, data: PairCreate) -> PairPublic:
        return await self._one(PairPublic, "POST", "/pairs", body=data)

    async def pairs(self, *, programme_id: str | None = None,
                    participant_id: str | None = None) -> list[PairPublic]:
        params: dict[str, str | int] = {}
        if programme_id is not None:
            params["programme_id"] = programme_id
        if participant_id is not None:
            params["participant_id"] = participant_id
        return await self._many(PairPublic, "/pairs", params=params)

    async def pair(self, pair_id: str) -> PairPublic:
        return await self._one(PairPublic, "GET", f"/pairs/{pair_id}")

    async def end_pair(self, pair_id: str, reason: str, note: str | None) -> PairPublic:
        return await self._one(PairPublic, "POST", f"/pairs/{pair_id}/end",
                               body=PairEnd(reason=reason, note=note))


class SchedulingClient(ServiceClient):
    service = "scheduling"

    async def pair_sessions(self, pair_id: str) -> list[SessionPublic]:
        return await self._many(SessionPublic, f"/pairs/{pair_id}/sessions")

    async def session(self, session_id: str) -> SessionPublic:
        return await self._one(SessionPublic, "GET", f"/sessions/{session_id}")

    async def employee_sessions(self, employee_id: str | None) -> list[SessionPublic]:
        """An employee's sessions; without an id, scheduling answers for the caller."""
        params: dict[str, str | int] = {} if employee_id is None else {"employee_id": employee_id}
        return await self._many(SessionPublic, "/sessions", params=params)

    async def log_session(self, session_id: str, data: SessionLog) -> SessionPublic:
        return await self._one(SessionPublic, "POST", f"/sessions/{session_id}/log", body=data)


class AnalyticsClient(ServiceClient):
    service = "analytics"

    async def programme_summary(self, programme_id: str) -> ProgrammeSummaryPublic:
        return await self._one(ProgrammeSummaryPublic, "GET",
                               f"/programmes/{programme_id}/summary")


@dataclass(frozen=True)
class Downstreams:
    """One shared connection pool per service, made in the lifespan and closed on shutdown."""

    enrolment: httpx.AsyncClient
    matching: httpx.AsyncClient
    scheduling: httpx.AsyncClient
    analytics: httpx.AsyncClient

    @classmethod
    def open(cls, settings: GatewaySettings) -> Downstreams:
        timeout = httpx.Timeout(settings.downstream_timeout_seconds)

        def client(url: object) -> httpx.AsyncClient:
            return httpx.AsyncClient(base_url=str(url), timeout=timeout)

        return cls(
            enrolment=client(settings.enrolment_url),
            matching=client(settings.matching_url),
            scheduling=client(settings.scheduling_url),
            analytics=client(settings.analytics_url),
        )

    def by_name(self) -> dict[str, httpx.AsyncClient]:
        return {"enrolment": self.enrolment, "matching": self.matching,
                "scheduling": self.scheduling, "analytics": self.analytics}

    async def healthy(self, within_seconds: float) -> dict[str, bool]:
        """Whether each service's `/healthz` answers 200 within `within_seconds`."""

        async def check(http: httpx.AsyncClient) -> bool:
            try:
                response = await http.get("/healthz", timeout=within_seconds)
            except httpx.HTTPError:
                return False
            return response.status_code == 200

        names = list(self.by_name())
        results = await asyncio.gather(*(check(http) for http in self.by_name().values()))
        return dict(zip(names, results, strict=True))

    async def aclose(self) -> None:
        await asyncio.gather(*(http.aclose() for http in self.by_name().values()))
