"""Small stand-ins for the four services, recording every call the gateway makes.

They check the forwarded token with the kernel's own verifier and answer
problem+json with the kernel's own handlers, so the gateway meets the same
401/403/422 shapes the real services produce.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from fastapi import FastAPI, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from tests.support.stack import TEST_JWT_SECRET
from upward_common.auth import CurrentUser, Role, TokenVerifier
from upward_common.problems import (
    PROBLEM_JSON,
    Problem,
    conflict,
    install_problem_handlers,
    invalid,
    not_found,
)
from upward_common.settings import UpwardSettings

CREATED_AT = "2026-01-05T09:00:00Z"


@dataclass
class Call:
    method: str
    path: str
    query: str
    headers: dict[str, str]


@dataclass
class Recorder:
    """Every request a fake answered (health and readiness aside), in order, and how many it was
    answering at once: in all, and per gateway request (by correlation id)."""

    calls: list[Call] = field(default_factory=list)
    bodies: list[tuple[str, bytes]] = field(default_factory=list)
    # Seconds each answer takes, so that calls overlap when they are sent at once.
    delay: float = 0.0
    in_flight: int = 0
    most_in_flight: int = 0
    in_flight_by_request: Counter[str] = field(default_factory=Counter)
    most_in_flight_by_request: Counter[str] = field(default_factory=Counter)
    # Set by a test to make every answer wait for it; a caller that hangs up meanwhile
    # is counted in `abandoned`.
    hold: asyncio.Event | None = None
    abandoned: int = 0
    # Set by a test to make the fake's /readyz answer 503, as a service does while its
    # database, NATS or outbox is not ready; its /healthz answers 200 all the same.
    not_ready: str | None = None
    # Set by a test: the next this-many calls are answered with `failing_status`
    # (problem+json), as a service restarting behind its proxy answers.
    failing: int = 0
    failing_status: int = 503

    def paths(self, method: str = "GET") -> list[str]:
        return [c.path for c in self.calls if c.method == method]

    def clear(self) -> None:
        self.calls.clear()
        self.bodies.clear()

    @asynccontextmanager
    async def answering(self, request: Request) -> AsyncIterator[None]:
        request_id = request.headers.get("x-correlation-id", "")
        self.in_flight += 1
        self.in_flight_by_request[request_id] += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        self.most_in_flight_by_request[request_id] = max(
            self.most_in_flight_by_request[request_id], self.in_flight_by_request[request_id])
        try:
            while self.hold is not None and not self.hold.is_set():
                if await request.is_disconnected():
                    self.abandoned += 1
                    break
                await asyncio.sleep(0.01)
            if self.delay:
                await asyncio.sleep(self.delay)
            yield
        finally:
            self.in_flight -= 1
            self.in_flight_by_request[request_id] -= 1


def _app(name: str, recorder: Recorder) -> FastAPI:
    app = FastAPI(title=f"fake {name}")
    app.state.verifier = TokenVerifier(UpwardSettings(environment="test",
                                                      jwt_secret=TEST_JWT_SECRET))
    install_problem_handlers(app)

    @app.middleware("http")
    async def record(request: Request,
                     call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if request.url.path in ("/healthz", "/readyz"):
            return await call_next(request)
        recorder.calls.append(Call(request.method, request.url.path, request.url.query,
                                   dict(request.headers)))
        if recorder.failing > 0:
            recorder.failing -= 1
            return JSONResponse(Problem(recorder.failing_status, "Briefly unavailable").body(),
                                status_code=recorder.failing_status, media_type=PROBLEM_JSON)
        async with recorder.answering(request):
            return await call_next(request)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz(response: Response) -> dict[str, object]:
        # The shape of the kernel's /readyz.
        if recorder.not_ready is None:
            return {"status": "ready", "checks": {"database": True}}
        response.status_code = 503
        return {"status": "unavailable", "checks": {"database": False},
                "reasons": {"database": recorder.not_ready}}

    return app


# --- data: one programme, 3 mentors (juniors) and 4 mentees (seniors), 5 pairs ---------

EMPLOYEES = {f"e{i}": {
    "id": f"e{i}", "external_id": f"X{i}", "email": f"e{i}@example.com", "given_name": f"G{i}",
    "family_name": f"F{i}", "job_title": None, "job_level": i, "department": "Ops",
    "manager_id": "e9" if i != 9 else None, "location": None, "time_zone": "Europe/Paris",
    "hire_on": "2020-01-01", "leave_on": None, "active": True,
    "pronouns": "they/them",  # a field the gateway does not know yet
} for i in range(1, 10)}

PROGRAMMES = {f"prog{i}": {
    "id": f"prog{i}", "name": f"Programme {i}", "description": "", "status": "open",
    "mentor_max_level": 4, "mentee_min_level": 6, "min_level_gap": 2, "created_at": CREATED_AT,
} for i in range(1, 4)}
# The first programme answers with every setting the service has; the others with the
# first version's few, which the gateway still reads.
PROGRAMMES["prog1"].update({
    "objectives": "Seniors fluent in the tools their teams use",
    "goal_templates": [{"title": "Data visualisation +30 %", "topic": "data analytics",
                        "measure": "self-assessed proficiency", "target_change_percent": 30,
                        "within_months": 6}],
    "enrolment_opens_on": "2026-01-05", "enrolment_closes_on": "2026-02-01",
    "capacity": 40, "session_cadence": "biweekly", "session_minutes": 45,
    "duration_weeks": 24, "meeting_format": "hybrid",
    "topics": ["social media", "AI tools", "DEI perspectives"],
    "guidelines": [{"kind": "confidentiality", "title": "What is said stays", "body": "...",
                    "url": None}],
    "mutual": True, "matching_mode": "shortlist", "diversity_objective": False,
    "updated_at": CREATED_AT, "reviewed_by": "e9",  # unknown to the gateway: tolerated
})


def _participant(pid: str, employee: str, role: str, programme: str = "prog1") -> dict[str, Any]:
    return {
        "id": pid, "programme_id": programme, "employee_id": employee, "role": role,
        "status": "active", "topics_teach": [{"topic": "tiktok", "level": 4}],
        "topics_learn": [], "interests": ["climbing"], "languages": ["en"],
        "mentor_capacity": 2, "survey_version": 1, "enrolled_at": CREATED_AT,
        "availability": [{"weekday": 1, "start": "09:00", "end": "11:30"}],
        "time_zone": "Europe/Paris", "meeting_formats": ["virtual"],
        "communication_preferences": ["chat"], "dei_opt_in": False, "avoid_employee_ids": [],
        "diversity": None, "source": "self", "consent_at": CREATED_AT,
        "consent": {"analytics": True},  # unknown to the gateway: tolerated
    }


PARTICIPANTS = {
    "m1": _participant("m1", "e1", "mentor"), "m2": _participant("m2", "e2", "mentor"),
    "m3": _participant("m3", "e3", "mentor"), "s1": _participant("s1", "e6", "mentee"),
    "s2": _participant("s2", "e7", "mentee"), "s3": _participant("s3", "e8", "mentee"),
    "s4": _participant("s4", "e9", "mentee"),
    "q1": _participant("q1", "e4", "mentor", "prog2"),
    "r1": _participant("r1", "e5", "mentee", "prog3"),
}

PAIRINGS = [("m1", "s1"), ("m1", "s2"), ("m2", "s3"), ("m3", "s4"), ("m2", "s1")]


def _pair(index: int, mentor: str, mentee: str) -> dict[str, Any]:
    return {
        "id": f"pair{index}", "programme_id": "prog1", "mentor_participant_id": mentor,
        "mentee_participant_id": mentee,
        "mentor_employee_id": PARTICIPANTS[mentor]["employee_id"],
        "mentee_employee_id": PARTICIPANTS[mentee]["employee_id"], "status": "active",
        "score": 71.5,
        "breakdown": [{"factor": "complementarity", "points": 40, "reason": "tiktok"}],
        "formed_at": CREATED_AT, "ended_at": None, "end_reason": None,
    }


PAIRS = {f"pair{i}": _pair(i, m, s) for i, (m, s) in enumerate(PAIRINGS, start=1)}
# A mentee's pick the mentor has not accepted yet: proposed, not formed.
PAIRS["pair5"].update(status="proposed", formed_at=None, origin="shortlist",
                      proposed_at=CREATED_AT)


INVITATIONS = {"inv1": {
    "id": "inv1", "programme_id": "prog1", "employee_id": "e5", "role": "mentor",
    "message": "You know TikTok", "status": "pending", "participant_id": None,
    "invited_at": CREATED_AT, "responded_at": None,
}}


def _run(run_id: str, objective: str, dry_run: bool) -> dict[str, Any]:
    return {
        "id": run_id, "programme_id": "prog1", "objective": objective, "dry_run": dry_run,
        "status": "draft" if dry_run else "published", "total_score": 151.5, "matched": 2,
        "unmatched": 1, "optimal": True,
        "pairs": [{"mentee_participant_id": "s1", "mentor_participant_id": "m1", "score": 80.0},
                  {"mentee_participant_id": "s2", "mentor_participant_id": "m2", "score": 71.5,
                   "breakdown": [{"factor": "complementarity", "points": 40, "reason": "tiktok"}]}],
        "unmatched_mentees": [{"mentee_participant_id": "s3", "reason": "capacity_taken"}],
        "stats": {"eligible_pairs": 9, "rounds": 2}, "created_at": CREATED_AT,
        "published_at": None if dry_run else CREATED_AT,
        "pair_ids": [] if dry_run else ["pair1", "pair2"],
    }


def _session(pair_id: str) -> dict[str, Any]:
    return {
        "id": f"sess-{pair_id}", "pair_id": pair_id, "programme_id": "prog1",
        "starts_at": "2026-02-02T10:00:00Z", "duration_minutes": 45, "status": "planned",
        "held_at": None, "recap": None, "my_private_note": None,
    }


# --- the four fakes ------------------------------------------------------------------------

# The batch routes' `id` parameter, capped as the services cap it.
Ids = Query(alias="id", min_length=1, max_length=200)


def _batch(ids: list[str], one: Callable[[str], Any]) -> dict[str, Any]:
    """A batch read's answer, each id as the fake's single route answers it."""
    items: list[Any] = []
    missing: list[dict[str, Any]] = []
    for ident in dict.fromkeys(ids):
        try:
            items.append(one(ident))
        except Problem as problem:
            missing.append({"id": ident, "status": problem.status, "detail": problem.detail})
    return {"items": items, "missing": missing}


class ProgrammeIn(BaseModel):
    name: str = Field(min_length=1)
    description: str = ""
    mentor_max_level: int | None = Field(default=None, ge=1, le=20)
    mentee_min_level: int | None = Field(default=None, ge=1, le=20)
    min_level_gap: int = 0


class Enrolment(BaseModel):
    employee_id: str
    role: str
    topics_teach: list[dict[str, Any]] = []
    topics_learn: list[dict[str, Any]] = []
    interests: list[str] = []
    languages: list[str] = []
    mentor_capacity: int = Field(default=1, ge=1, le=10)


class ProgrammePatch(BaseModel):
    name: str | None = Field(default=None, min_length=1)
    capacity: int | None = Field(default=None, ge=1)
    session_minutes: Literal[30, 45, 60] | None = None
    enrolment_opens_on: date | None = None
    enrolment_closes_on: date | None = None
    mentor_max_level: int | None = Field(default=None, ge=1, le=20)
    goal_templates: list[dict[str, Any]] | None = None
    guidelines: list[dict[str, Any]] | None = None
    topics: list[str] | None = None


class Survey(BaseModel):
    topics_teach: list[dict[str, Any]] = []
    topics_learn: list[dict[str, Any]] = []
    time_zone: str | None = None
    avoid_employee_ids: list[str] = []
    diversity: dict[str, str] | None = None
    diversity_consent: bool = False
    mentor_capacity: int = Field(default=1, ge=1, le=10)


def _check_survey(answers: Survey, employee_id: str) -> None:
    for index, item in enumerate(answers.topics_teach):
        if item["topic"] not in PROGRAMMES["prog1"]["topics"]:
            raise invalid(f"topics_teach.{index}.topic", f"{item['topic']!r} is not offered")
    if answers.time_zone is not None and "/" not in answers.time_zone:
        raise invalid("time_zone", f"Unknown IANA time zone {answers.time_zone!r}")
    if employee_id in answers.avoid_employee_ids:
        raise invalid("avoid_employee_ids", "You cannot avoid being paired with yourself")
    if answers.diversity is not None and not answers.diversity_consent:
        raise invalid("diversity_consent",
                      "Diversity attributes are stored only with explicit consent")


def fake_enrolment(recorder: Recorder) -> FastAPI:
    app = _app("enrolment", recorder)

    async def sent(request: Request) -> Any:
        body = await request.body()
        recorder.bodies.append(("application/json", body))
        return json.loads(body) if body else None

    @app.post("/api/v1/employees/import")
    async def import_employees(request: Request, user: CurrentUser) -> Response:
        body = await request.body()
        recorder.bodies.append((request.headers.get("content-type", ""), body))
        if not body:
            raise Problem(422, "The file is empty", field="body")
        media = request.headers.get("content-type", "")
        rows = body.count(b"\n") if media.startswith("text/csv") else len(json.loads(body))
        return JSONResponse({"created": rows, "updated": 0, "unchanged": 0, "rejected": 1,
                             "errors": [{"row": 2, "field": "job_level",
                                         "reason": "must be 1-20"}]},
                            headers={"x-import-run": "run-7"})

    @app.get("/api/v1/employees/{employee_id}")
    async def employee(employee_id: str, user: CurrentUser) -> dict[str, Any]:
        user.require_self_or_admin(employee_id)
        if employee_id not in EMPLOYEES:
            raise not_found("Employee", employee_id)
        return EMPLOYEES[employee_id]

    @app.get("/api/v1/batch/employees")
    async def employees(user: CurrentUser, ids: list[str] = Ids) -> dict[str, Any]:
        def one(employee_id: str) -> dict[str, Any]:
            user.require_self_or_admin(employee_id)
            if employee_id not in EMPLOYEES:
                raise not_found("Employee", employee_id)
            return EMPLOYEES[employee_id]

        return _batch(ids, one)

    @app.get("/api/v1/batch/programmes")
    async def programmes_by_id(user: CurrentUser, ids: list[str] = Ids) -> dict[str, Any]:
        def one(programme_id: str) -> dict[str, Any]:
            if programme_id not in PROGRAMMES:
                raise not_found("Programme", programme_id)
            return PROGRAMMES[programme_id]

        return _batch(ids, one)

    @app.get("/api/v1/batch/participants")
    async def participants_by_id(user: CurrentUser, ids: list[str] = Ids) -> dict[str, Any]:
        def one(participant_id: str) -> dict[str, Any]:
            if participant_id == "garbled":
                return {"id": "garbled", "role": "boss", "enrolled_at": "yesterday",
                        "secret_internal_field": "do-not-leak"}
            if participant_id not in PARTICIPANTS:
                raise not_found("Participant", participant_id)
            found = PARTICIPANTS[participant_id]
            user.require_self_or_admin(found["employee_id"])
            return found

        return _batch(ids, one)

    @app.post("/api/v1/employees/{employee_id}/erase")
    async def erase(employee_id: str, request: Request, user: CurrentUser) -> dict[str, Any]:
        user.require(Role.HR_ADMIN)
        if employee_id not in EMPLOYEES:
            raise not_found("Employee", employee_id)
        return {**EMPLOYEES[employee_id], "email": f"erased-{employee_id}@invalid",
                "given_name": "Erased", "family_name": "Erased", "erased": True}

    @app.get("/api/v1/employees/{employee_id}/invitations")
    async def employee_invitations(employee_id: str, user: CurrentUser) -> list[dict[str, Any]]:
        user.require_self_or_admin(employee_id)
        return [i for i in INVITATIONS.values() if i["employee_id"] == employee_id]

    @app.patch("/api/v1/programmes/{programme_id}")
    async def update_programme(programme_id: str, data: ProgrammePatch, request: Request,
                               user: CurrentUser) -> dict[str, Any]:
        await sent(request)
        user.require(Role.HR_ADMIN, Role.PROGRAMME_MANAGER)
        changes = data.model_dump(exclude_unset=True)
        merged = {**PROGRAMMES[programme_id], **data.model_dump(mode="json", exclude_unset=True)}
        if (changes.get("enrolment_closes_on") and changes.get("enrolment_opens_on")
                and changes["enrolment_closes_on"] < changes["enrolment_opens_on"]):
            raise invalid("enrolment_closes_on", "The enrolment window closes before it opens")
        return merged

    @app.post("/api/v1/programmes/{programme_id}/status")
    async def transition(programme_id: str, request: Request,
                         user: CurrentUser) -> dict[str, Any]:
        status = (await sent(request))["status"]
        if status not in ("running", "closed"):
            raise conflict(f"A open programme cannot become {status} (allowed: closed, running)",
                           field="status")
        return {**PROGRAMMES[programme_id], "status": status}

    @app.post("/api/v1/programmes/{programme_id}/topics")
    async def add_topics(programme_id: str, request: Request,
                         user: CurrentUser) -> dict[str, Any]:
        topics = (await sent(request))["topics"]
        for index, topic in enumerate(topics):
            if not topic.strip():
                raise invalid(f"topics.{index}", "A topic is 1 to 100 characters")
        known = PROGRAMMES[programme_id].get("topics", [])
        return {**PROGRAMMES[programme_id], "topics": [*known, *topics]}

    @app.post("/api/v1/programmes/{programme_id}/participants/import")
    async def import_participants(programme_id: str, request: Request,
                                  user: CurrentUser) -> dict[str, Any]:
        user.require(Role.HR_ADMIN)
        records = await sent(request)
        return {"enrolled": len(records) - 1, "updated": 0, "rejected": 1,
                "errors": [{"row": len(records), "field": "consent_at",
                            "reason": "consent_at is in the future"}]}

    @app.post("/api/v1/programmes/{programme_id}/invitations", status_code=201)
    async def invite(programme_id: str, request: Request, user: CurrentUser) -> dict[str, Any]:
        data = await sent(request)
        user.require(Role.HR_ADMIN, Role.PROGRAMME_MANAGER)
        if data["employee_id"] not in EMPLOYEES:
            raise invalid("employee_id", f"Employee {data['employee_id']} does not exist")
        return {**INVITATIONS["inv1"], "id": "inv-new", "programme_id": programme_id,
                "employee_id": data["employee_id"], "role": data["role"],
                "message": data.get("message", "")}

    @app.get("/api/v1/programmes/{programme_id}/invitations")
    async def programme_invitations(programme_id: str,
                                    user: CurrentUser) -> list[dict[str, Any]]:
        user.require(Role.HR_ADMIN, Role.PROGRAMME_MANAGER)
        return [i for i in INVITATIONS.values() if i["programme_id"] == programme_id]

    @app.post("/api/v1/invitations/{invitation_id}/accept", status_code=201)
    async def accept(invitation_id: str, data: Survey, request: Request,
                     user: CurrentUser) -> dict[str, Any]:
        await sent(request)
        invitation = INVITATIONS[invitation_id]
        if user.employee_id != invitation["employee_id"]:
            raise Problem(403, "Only the invited employee can answer an invitation",
                          kind="forbidden")
        _check_survey(data, invitation["employee_id"])
        return {**_participant("p-new", invitation["employee_id"], invitation["role"]),
                **data.model_dump(exclude={"diversity_consent"}), "source": "invitation"}

    @app.post("/api/v1/invitations/{invitation_id}/decline")
    async def decline(invitation_id: str, request: Request, user: CurrentUser) -> dict[str, Any]:
        await sent(request)
        invitation = INVITATIONS[invitation_id]
        if user.employee_id != invitation["employee_id"]:
            raise Problem(403, "Only the invited employee can answer an invitation",
                          kind="forbidden")
        return {**invitation, "status": "declined", "responded_at": CREATED_AT}

    @app.patch("/api/v1/participants/{participant_id}/survey")
    async def survey(participant_id: str, data: Survey, request: Request,
                     user: CurrentUser) -> dict[str, Any]:
        await sent(request)
        found = PARTICIPANTS[participant_id]
        user.require_self_or_admin(found["employee_id"])
        _check_survey(data, found["employee_id"])
        return {**found, **json.loads(await request.body()), "survey_version": 2,
                "survey_updated_at": "2026-01-06T09:00:00Z"}

    @app.get("/api/v1/participants/{participant_id}/survey/versions")
    async def survey_versions(participant_id: str, user: CurrentUser) -> list[dict[str, Any]]:
        found = PARTICIPANTS[participant_id]
        user.require_self_or_admin(found["employee_id"])
        first = {k: v for k, v in found.items() if k in Survey.model_fields}
        second = {**first, "time_zone": "Asia/Tokyo", "diversity": {"generation": "gen z"}}
        hidden = not user.has(Role.HR_ADMIN) and user.employee_id != found["employee_id"]
        return [{"version": n, "submitted_at": CREATED_AT,
                 "answers": {**answers, "diversity": None} if hidden else answers}
                for n, answers in ((1, first), (2, second))]

    @app.post("/api/v1/programmes", status_code=201)
    async def create_programme(data: ProgrammeIn, request: Request,
                               user: CurrentUser) -> dict[str, Any]:
        given = await sent(request)
        if (data.mentor_max_level and data.mentee_min_level
                and data.mentor_max_level >= data.mentee_min_level):
            raise invalid("mentee_min_level", "Mentees must be senior to mentors")
        return {"status": "open", **given, **data.model_dump(), "id": "prog-new",
                "created_at": CREATED_AT}

    @app.get("/api/v1/programmes")
    async def programmes(user: CurrentUser) -> list[dict[str, Any]]:
        return list(PROGRAMMES.values())

    @app.get("/api/v1/programmes/{programme_id}")
    async def programme(programme_id: str, user: CurrentUser) -> dict[str, Any]:
        if programme_id not in PROGRAMMES:
            raise not_found("Programme", programme_id)
        return PROGRAMMES[programme_id]

    @app.get("/api/v1/programmes/{programme_id}/participants")
    async def participants(programme_id: str, user: CurrentUser) -> list[dict[str, Any]]:
        return [p for p in PARTICIPANTS.values() if p["programme_id"] == programme_id]

    @app.post("/api/v1/programmes/{programme_id}/participants", status_code=201)
    async def enrol(programme_id: str, data: Enrolment, request: Request,
                    user: CurrentUser) -> dict[str, Any]:
        recorder.bodies.append(("application/json", await request.body()))
        user.require_self_or_admin(data.employee_id)
        return {**_participant("new", data.employee_id, data.role, programme_id),
                **data.model_dump()}

    @app.get("/api/v1/participants/{participant_id}")
    async def participant(participant_id: str, user: CurrentUser) -> dict[str, Any]:
        if participant_id == "garbled":
            # JSON, but not a participant: what a service mid-upgrade or a stray route says.
            return {"id": "garbled", "role": "boss", "enrolled_at": "the day before yesterday",
                    "secret_internal_field": "do-not-leak"}
        if participant_id not in PARTICIPANTS:
            raise not_found("Participant", participant_id)
        found = PARTICIPANTS[participant_id]
        user.require_self_or_admin(found["employee_id"])
        return found

    @app.post("/api/v1/participants/{participant_id}/withdraw")
    async def withdraw(participant_id: str, request: Request,
                       user: CurrentUser) -> dict[str, Any]:
        recorder.bodies.append(("application/json", await request.body()))
        return {**PARTICIPANTS[participant_id], "status": "withdrawn"}

    @app.api_route("/scim/v2/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def scim(path: str, request: Request, user: CurrentUser) -> Response:
        body = await request.body()
        recorder.bodies.append((request.headers.get("content-type", ""), body))
        if request.method == "DELETE":
            return Response(status_code=204)
        if request.method == "POST":
            location = f"{request.base_url}scim/v2/{path}/u-1"
            return Response(
                b'{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"u-1",'
                b'"meta":{"location":"' + location.encode() + b'"}}',
                status_code=201, media_type="application/scim+json",
                headers={"location": location, "etag": 'W/"1"'},
            )
        if path == "Users/missing":
            return Response(b'{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],'
                            b'"status":"404","detail":"no such user"}', status_code=404,
                            media_type="application/scim+json")
        return JSONResponse({"totalResults": 0, "filter": request.query_params.get("filter"),
                             "path": path}, media_type="application/scim+json")

    return app


class PairIn(BaseModel):
    programme_id: str
    mentee_participant_id: str
    mentor_participant_id: str
    override_reason: str | None = None


class ConfigIn(BaseModel):
    weights: dict[Literal["complementarity", "interests", "availability", "language", "format",
                          "department", "level_gap", "diversity"], float] = {}
    allow_shared_manager: bool = False
    max_time_zone_hours: float | None = Field(default=None, ge=0, le=12)
    min_overlap_hours: float | None = None
    ideal_level_gap: int = 4
    ideal_overlap_hours: float = 3.0
    dei_topics: list[str] = []
    diversity_attribute: str = "under_represented"
    diversity_values: list[str] = ["yes", "true"]


class RunIn(BaseModel):
    objective: Literal["max_score", "max_participation"] = "max_score"
    dry_run: bool = True


def fake_matching(recorder: Recorder) -> FastAPI:
    app = _app("matching", recorder)

    async def sent(request: Request) -> Any:
        body = await request.body()
        recorder.bodies.append(("application/json", body))
        return json.loads(body) if body else None

    @app.get("/api/v1/programmes/{programme_id}/mentees/{participant_id}/suggestions")
    async def suggestions(programme_id: str, participant_id: str, user: CurrentUser,
                          limit: int = 3) -> dict[str, Any]:
        mentors = [p for p in PARTICIPANTS.values() if p["role"] == "mentor"
                   and p["programme_id"] == programme_id][:limit]
        return {"programme_id": programme_id, "mentee_participant_id": participant_id,
                "suggestions": [{
                    "mentor_participant_id": m["id"], "mentor_employee_id": m["employee_id"],
                    "score": 80.0 - i,
                    "breakdown": [{"factor": "complementarity", "points": 50, "reason": "tiktok"}],
                } for i, m in enumerate(mentors)]}

    @app.post("/api/v1/pairs", status_code=201)
    async def form_pair(data: PairIn, request: Request, user: CurrentUser) -> dict[str, Any]:
        recorder.bodies.append(("application/json", await request.body()))
        if data.mentor_participant_id == data.mentee_participant_id:
            raise Problem(409, "A participant cannot pair with themselves", kind="conflict",
                          field="mentor_participant_id")
        return {**_pair(99, data.mentor_participant_id, data.mentee_participant_id),
                "id": "pair-new"}

    @app.get("/api/v1/pairs")
    async def pairs(user: CurrentUser,
                    programme_id: list[str] | None = Query(default=None, max_length=100),
                    participant_id: str | None = None,
                    status: str | None = None) -> list[dict[str, Any]]:
        return [p for p in PAIRS.values()
                if (programme_id is None or p["programme_id"] in programme_id)
                and participant_id in (None, p["mentor_participant_id"],
                                       p["mentee_participant_id"])
                and status in (None, p["status"])]

    @app.post("/api/v1/programmes/{programme_id}/mentees/{participant_id}/pick",
              status_code=201)
    async def pick(programme_id: str, participant_id: str, request: Request,
                   user: CurrentUser) -> dict[str, Any]:
        mentor = (await sent(request))["mentor_participant_id"]
        user.require_self_or_admin(PARTICIPANTS[participant_id]["employee_id"])
        if PARTICIPANTS[mentor]["role"] != "mentor":
            raise invalid("mentor_participant_id", "This participant enrolled as a mentee")
        return {**_pair(98, mentor, participant_id), "id": "pair-picked",
                "status": "proposed", "origin": "shortlist", "proposed_at": CREATED_AT,
                "formed_at": None}

    @app.post("/api/v1/pairs/{pair_id}/accept")
    async def accept(pair_id: str, user: CurrentUser) -> dict[str, Any]:
        pair = PAIRS[pair_id]
        if not user.is_admin and user.employee_id != pair["mentor_employee_id"]:
            raise Problem(403, "Only the proposed mentor can answer a proposal",
                          kind="forbidden")
        if pair["status"] != "proposed":
            raise conflict(f"The pair is {pair['status']}, not proposed", field="status")
        return {**pair, "status": "active", "formed_at": "2026-01-06T09:00:00Z"}

    @app.post("/api/v1/pairs/{pair_id}/decline")
    async def decline(pair_id: str, request: Request, user: CurrentUser) -> dict[str, Any]:
        await sent(request)
        return {**PAIRS[pair_id], "status": "declined", "ended_at": "2026-01-06T09:00:00Z"}

    @app.get("/api/v1/programmes/{programme_id}/pool")
    async def pool(programme_id: str, user: CurrentUser) -> dict[str, Any]:
        user.require(Role.HR_ADMIN, Role.PROGRAMME_MANAGER)
        return {"programme_id": programme_id, "mentors": 3, "mentees": 4, "total_capacity": 6,
                "free_capacity": 2, "unpaired_mentees": 1, "eligible_pairs": 9}

    @app.get("/api/v1/programmes/{programme_id}/matching-config")
    async def get_config(programme_id: str, user: CurrentUser) -> dict[str, Any]:
        user.require(Role.HR_ADMIN, Role.PROGRAMME_MANAGER)
        return {**ConfigIn(weights={"complementarity": 40, "interests": 10}).model_dump(),
                "programme_id": programme_id, "diversity_applies": False}

    @app.patch("/api/v1/programmes/{programme_id}/matching-config")
    async def put_config(programme_id: str, data: ConfigIn, request: Request,
                         user: CurrentUser) -> dict[str, Any]:
        await sent(request)
        user.require(Role.HR_ADMIN, Role.PROGRAMME_MANAGER)
        if any(v < 0 for v in data.weights.values()):
            raise invalid("weights", "Weights must be zero or positive")
        return {**data.model_dump(), "programme_id": programme_id, "diversity_applies": False}

    @app.post("/api/v1/programmes/{programme_id}/match-runs", status_code=201)
    async def create_run(programme_id: str, data: RunIn, request: Request,
                         user: CurrentUser) -> dict[str, Any]:
        await sent(request)
        user.require(Role.HR_ADMIN, Role.PROGRAMME_MANAGER)
        return _run("run-new", data.objective, data.dry_run)

    @app.get("/api/v1/programmes/{programme_id}/match-runs")
    async def runs(programme_id: str, user: CurrentUser) -> list[dict[str, Any]]:
        return [_run("run2", "max_participation", True), _run("run1", "max_score", False)]

    @app.get("/api/v1/match-runs/{run_id}")
    async def run(run_id: str, user: CurrentUser, offset: int = 0) -> dict[str, Any]:
        if run_id != "run1":
            raise not_found("Match run", run_id)
        return {**_run("run1", "max_score", False), "formed": 2, "offset": offset}

    @app.post("/api/v1/match-runs/{run_id}/publish")
    async def publish(run_id: str, user: CurrentUser) -> dict[str, Any]:
        if run_id == "run1":
            raise conflict("The run is published", field="status")
        return {**_run(run_id, "max_score", False)}

    @app.get("/api/v1/batch/pairs")
    async def pairs_by_id(user: CurrentUser, ids: list[str] = Ids) -> dict[str, Any]:
        def one(pair_id: str) -> dict[str, Any]:
            if pair_id not in PAIRS:
                raise not_found("Pair", pair_id)
            return PAIRS[pair_id]

        return _batch(ids, one)

    @app.get("/api/v1/pairs/{pair_id}")
    async def pair(pair_id: str, user: CurrentUser) -> dict[str, Any]:
        if pair_id not in PAIRS:
            raise not_found("Pair", pair_id)
        return PAIRS[pair_id]

    @app.post("/api/v1/pairs/{pair_id}/end")
    async def end(pair_id: str, request: Request, user: CurrentUser) -> dict[str, Any]:
        recorder.bodies.append(("application/json", await request.body()))
        reason = json.loads(await request.body())["reason"]
        if reason not in ("completed", "poor_fit", "withdrawal", "departure", "inactivity",
                          "admin"):
            raise invalid("reason", "Input should be 'completed', 'poor_fit', ...")
        return {**PAIRS[pair_id], "status": "ended", "ended_at": CREATED_AT,
                "end_reason": reason}

    return app


def fake_scheduling(recorder: Recorder) -> FastAPI:
    app = _app("scheduling", recorder)

    @app.get("/api/v1/sessions/{session_id}")
    async def session(session_id: str, user: CurrentUser) -> dict[str, Any]:
        pair_id = session_id.removeprefix("sess-")
        if pair_id not in PAIRS:
            raise not_found("Session", session_id)
        return _session(pair_id)

    @app.get("/api/v1/pairs/{pair_id}/sessions")
    async def pair_sessions(pair_id: str, user: CurrentUser) -> list[dict[str, Any]]:
        return [_session(pair_id)]

    @app.get("/api/v1/batch/pair-sessions")
    async def sessions_of_pairs(user: CurrentUser, ids: list[str] = Ids) -> dict[str, Any]:
        def one(pair_id: str) -> dict[str, Any]:
            # As scheduling: a pair it never heard formed (a proposal) is not there.
            if pair_id in PAIRS and PAIRS[pair_id]["formed_at"] is None:
                raise not_found("Pair", pair_id)
            return {"pair_id": pair_id, "sessions": [_session(pair_id)]}

        return _batch(ids, one)

    @app.get("/api/v1/sessions")
    async def sessions(user: CurrentUser, employee_id: str | None = None,
                       ) -> list[dict[str, Any]]:
        employee_id = employee_id or user.employee_id
        user.require_self_or_admin(employee_id)
        return [_session(p["id"]) for p in PAIRS.values()
                if employee_id in (p["mentor_employee_id"], p["mentee_employee_id"])]

    @app.post("/api/v1/sessions/{session_id}/log")
    async def log(session_id: str, request: Request, user: CurrentUser) -> dict[str, Any]:
        body = await request.body()
        recorder.bodies.append(("application/json", body))
        data = json.loads(body)
        return {**_session(session_id.removeprefix("sess-")), "status": "held",
                "held_at": data["held_at"], "recap": data.get("recap"),
                "my_private_note": data.get("private_note")}

    @app.get("/api/v1/pairs/{pair_id}/plan")
    async def plan(pair_id: str, user: CurrentUser) -> dict[str, Any]:
        return _plan(pair_id)

    @app.post("/api/v1/pairs/{pair_id}/goals", status_code=201)
    async def create_goal(pair_id: str, request: Request, user: CurrentUser) -> dict[str, Any]:
        body = await request.body()
        recorder.bodies.append(("application/json", body))
        data = json.loads(body)
        if "template_id" in data and data["template_id"] != "dataviz":
            raise invalid("template_id", "The programme has no such goal template")
        return {"id": "goal1", "pair_id": pair_id, "programme_id": "prog1",
                "text": data.get("text", "Data visualisation +30 %"),
                "measure": "self-assessed proficiency", "unit": "points", "baseline": 50,
                "target": 65, "current": 50, "progress_percent": 0, "due_on": "2027-06-02",
                "status": "active", "created_at": CREATED_AT, "updated_at": CREATED_AT,
                "progress": [], "template_id": data.get("template_id")}

    @app.get("/api/v1/me/changes")
    async def my_changes(user: CurrentUser, within_hours: int = 24) -> list[dict[str, Any]]:
        user.require(Role.PARTICIPANT)
        recorder.bodies.append(("application/json",
                                json.dumps({"within_hours": within_hours}).encode()))
        occurrence = _plan("pair1")["occurrences"][0]
        return [{**occurrence, "status": "cancelled", "cancel_reason": "blackout",
                 "blackout": True, "pair_id": "pair1", "plan_id": "plan-pair1"}]

    @app.post("/api/v1/sessions/{session_id}/reschedule")
    async def reschedule(session_id: str, request: Request, user: CurrentUser
                         ) -> dict[str, Any]:
        body = await request.body()
        recorder.bodies.append(("application/json", body))
        data = json.loads(body)
        if not data.get("override"):
            raise invalid("starts_at", "The new time is outside the mentor's availability")
        moved = _plan(session_id.removeprefix("sess-"))
        moved["occurrences"][0] |= {"starts_at": data["starts_at"], "sequence": 1}
        return moved

    return app


def _plan(pair_id: str) -> dict[str, Any]:
    occurrence = {**_session(pair_id), "session_id": f"sess-{pair_id}", "series_id": "ser1",
                  "occurrence_index": 0, "original_starts_at": "2026-03-09T14:00:00Z",
                  "conflict_side": "mentor", "alternative_starts_at": "2026-03-09T13:00:00Z",
                  "cancel_reason": None, "sequence": 0, "starts_at": "2026-03-09T14:00:00Z",
                  "duration_minutes": 60, "status": "planned"}
    return {"id": f"plan-{pair_id}", "pair_id": pair_id, "programme_id": "prog1",
            "status": "proposed", "anchor_time_zone": "Europe/London", "cadence": "weekly",
            "duration_minutes": 60, "overlap": True, "nearest": [],
            "series": [{"id": "ser1", "position": 0, "time_zone": "Europe/London",
                        "weekday": 0, "local_start": "14:00", "starts_on": "2026-03-09",
                        "frequency": "weekly", "interval": 1, "count": 1}],
            "occurrences": [occurrence], "proposed_by_employee_id": None,
            "accepted_by_employee_id": None, "accepted_at": None, "sequence": 0,
            "changes_within_24h": []}


def _summary(programme_id: str) -> dict[str, Any]:
    return {"programme_id": programme_id, "participants_enrolled": 7, "mentors": 3,
            "mentees": 4, "pairs_formed": 5, "pairs_active": 5, "sessions_scheduled": 5,
            "sessions_held": 0}


def fake_analytics(recorder: Recorder) -> FastAPI:
    app = _app("analytics", recorder)

    @app.get("/api/v1/programmes/{programme_id}/summary")
    async def summary(programme_id: str, user: CurrentUser) -> Response:
        if programme_id == "prog-broken":
            return Response(b"<html>upstream proxy error</html>", status_code=200,
                            media_type="text/html")
        return JSONResponse(_summary(programme_id))

    @app.get("/api/v1/batch/programme-summaries")
    async def summaries(user: CurrentUser, ids: list[str] = Ids) -> Response:
        if "prog-broken" in ids:
            return Response(b"<html>upstream proxy error</html>", status_code=200,
                            media_type="text/html")
        user.require(Role.HR_ADMIN, Role.PROGRAMME_MANAGER)
        return JSONResponse(_batch(ids, _summary))

    @app.get("/api/v1/batch/programme-health")
    async def health(user: CurrentUser, ids: list[str] = Ids) -> dict[str, Any]:
        user.require(Role.HR_ADMIN, Role.PROGRAMME_MANAGER)
        return _batch(ids, _health)

    @app.get("/api/v1/programmes/{programme_id}/retention")
    async def retention(programme_id: str, user: CurrentUser, window_months: int = 24,
                        as_of: str = "2026-06-30") -> dict[str, Any]:
        user.require(Role.HR_ADMIN, Role.PROGRAMME_MANAGER)
        return _retention(programme_id, window_months, as_of)

    @app.get("/api/v1/retention")
    async def retention_everywhere(user: CurrentUser, window_months: int = 24,
                                   as_of: str = "2026-06-30") -> dict[str, Any]:
        user.require(Role.HR_ADMIN, Role.PROGRAMME_MANAGER)
        return _retention(None, window_months, as_of)

    @app.get("/api/v1/programmes/{programme_id}/health/report")
    async def health_report(programme_id: str, request: Request,
                            user: CurrentUser) -> dict[str, Any]:
        user.require(Role.HR_ADMIN, Role.PROGRAMME_MANAGER)
        return _health_report(programme_id, dict(request.query_params))

    @app.get("/api/v1/health/report")
    async def health_report_everywhere(request: Request, user: CurrentUser) -> dict[str, Any]:
        user.require(Role.HR_ADMIN, Role.PROGRAMME_MANAGER)
        return _health_report(None, dict(request.query_params))

    return app


def _health_report(programme_id: str | None, params: dict[str, str]) -> dict[str, Any]:
    return {"programme_id": programme_id, "start": params.get("from"), "end": params.get("to"),
            "department": params.get("department"), "level_band": params.get("level_band"),
            "funnel": [{"role": "mentor", "invited": 7, "opted_in": 6, "profiled": 5,
                        "matched": 4, "active": 5, "completed": 1, "withdrawn": 1}],
            "time_to_match": [{"role": "mentee", "matched": 4, "median_days": 9.5,
                               "p90_days": 20.0}],
            "pairs": {"formed": 4, "active": 3, "at_risk": 1,
                      "ended": [{"reason": "completed", "pairs": 1}]},
            "sessions": {"planned": 8, "held": 6, "cancelled": 2, "attendance_rate": 0.75,
                         "mentoring_hours": 6.0},
            "ratings": {"rated": 5, "mean": 4.2, "distribution": [{"value": "5", "count": 2}],
                        "fit_good": 4, "fit_poor": 1, "matching_score_mean": 0.71},
            "topics": [{"topic": "python", "sessions": 3}],
            "goals": {"set": 3, "active": 1, "achieved": 1, "missed": 1, "progress_mean": 50.0},
            "interest_trend": [{"month": "2026-01", "opt_ins": 6}],
            "leadership": {"senior_min_level": 7, "senior_employees": 10, "taking_part": 2,
                           "share": 0.2},
            "diversity_objective": True, "min_group": 5,
            "diversity": [{"attribute": "gender", "role": None, "value": None,
                           "suppressed": False, "people": 6},
                          {"attribute": "gender", "role": "mentor", "value": "f",
                           "suppressed": True, "people": None}]}


def _health(programme_id: str) -> dict[str, Any]:
    return {"programme_id": programme_id,
            "funnel": [{"role": "mentor", "enrolled": 3, "active": 2, "withdrawn": 1},
                       {"role": "mentee", "enrolled": 4, "active": 4, "withdrawn": 0}],
            "pairs_formed": 3, "pairs_active": 2,
            "pairs_ended": [{"reason": "completed", "pairs": 1}],
            "sessions_planned": 4, "sessions_held": 3, "sessions_cancelled": 1,
            "attendance_rate": 0.75, "mentoring_hours": 3.5,
            "interest_trend": [{"month": "2026-01", "opt_ins": 7}]}


def _retention(programme_id: str | None, window_months: int, as_of: str) -> dict[str, Any]:
    shown = {"group": "mentors", "suppressed": None, "people": 6, "leavers": 1,
             "follow_up_months_total": 120.5, "follow_up_months_median": 20.0,
             "curve": [{"months": 0.0, "estimate": 1.0, "lower": 1.0, "upper": 1.0}],
             "retention": [{"months": 6, "estimate": 0.8, "lower": 0.5, "upper": 0.95}],
             "promotion": []}
    hidden = {"group": "mentees", "suppressed": "fewer than 5 people", "people": None,
              "leavers": None, "follow_up_months_total": None, "follow_up_months_median": None,
              "curve": [], "retention": [], "promotion": []}
    return {"programme_id": programme_id, "window_months": window_months, "as_of": as_of,
            "controls_per_participant": 2,
            "matching": [{"role": "mentor", "participants": 6, "unmatched": 1, "excluded": 0}],
            "groups": [shown, hidden],
            "comparisons": [{"role": "mentor", "suppressed": None, "statistic": 1.5,
                             "p_value": 0.22}]}


FAKES: dict[str, Callable[[Recorder], FastAPI]] = {
    "enrolment": fake_enrolment,
    "matching": fake_matching,
    "scheduling": fake_scheduling,
    "analytics": fake_analytics,
}

__all__ = ["FAKES", "PAIRS", "PARTICIPANTS", "PROBLEM_JSON", "Recorder"]
