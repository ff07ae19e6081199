"""Small stand-ins for the four services, recording every call the gateway makes.

They check the forwarded token with the kernel's own verifier and answer
problem+json with the kernel's own handlers, so the gateway meets the same
401/403/422 shapes the real services produce.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from tests.support.stack import TEST_JWT_SECRET
from upward_common.auth import CurrentUser, TokenVerifier
from upward_common.problems import (
    PROBLEM_JSON,
    Problem,
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
    """Every request a fake answered (health checks aside), in order."""

    calls: list[Call] = field(default_factory=list)
    bodies: list[tuple[str, bytes]] = field(default_factory=list)

    def paths(self, method: str = "GET") -> list[str]:
        return [c.path for c in self.calls if c.method == method]

    def clear(self) -> None:
        self.calls.clear()
        self.bodies.clear()


def _app(name: str, recorder: Recorder) -> FastAPI:
    app = FastAPI(title=f"fake {name}")
    app.state.verifier = TokenVerifier(UpwardSettings(environment="test",
                                                      jwt_secret=TEST_JWT_SECRET))
    install_problem_handlers(app)

    @app.middleware("http")
    async def record(request: Request,
                     call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if request.url.path != "/healthz":
            recorder.calls.append(Call(request.method, request.url.path, request.url.query,
                                       dict(request.headers)))
        return await call_next(request)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

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


def _participant(pid: str, employee: str, role: str, programme: str = "prog1") -> dict[str, Any]:
    return {
        "id": pid, "programme_id": programme, "employee_id": employee, "role": role,
        "status": "active", "topics_teach": [{"topic": "tiktok", "level": 4}],
        "topics_learn": [], "interests": ["climbing"], "languages": ["en"],
        "mentor_capacity": 2, "survey_version": 1, "enrolled_at": CREATED_AT,
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
        "score": 71.5, "breakdown": [{"factor": "topics", "points": 40, "reason": "tiktok"}],
        "formed_at": CREATED_AT, "ended_at": None, "end_reason": None,
    }


PAIRS = {f"pair{i}": _pair(i, m, s) for i, (m, s) in enumerate(PAIRINGS, start=1)}
# A mentee's pick the mentor has not accepted yet: proposed, not formed.
PAIRS["pair5"].update(status="proposed", formed_at=None, origin="mentee_pick",
                      proposed_at=CREATED_AT)


def _session(pair_id: str) -> dict[str, Any]:
    return {
        "id": f"sess-{pair_id}", "pair_id": pair_id, "programme_id": "prog1",
        "starts_at": "2026-02-02T10:00:00Z", "duration_minutes": 45, "status": "planned",
        "held_at": None, "recap": None, "my_private_note": None,
    }


# --- the four fakes ------------------------------------------------------------------------


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


def fake_enrolment(recorder: Recorder) -> FastAPI:
    app = _app("enrolment", recorder)

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

    @app.post("/api/v1/programmes", status_code=201)
    async def create_programme(data: ProgrammeIn, user: CurrentUser) -> dict[str, Any]:
        if (data.mentor_max_level and data.mentee_min_level
                and data.mentor_max_level >= data.mentee_min_level):
            raise invalid("mentee_min_level", "Mentees must be senior to mentors")
        return {**data.model_dump(), "id": "prog-new", "status": "open",
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


def fake_matching(recorder: Recorder) -> FastAPI:
    app = _app("matching", recorder)

    @app.get("/api/v1/programmes/{programme_id}/mentees/{participant_id}/suggestions")
    async def suggestions(programme_id: str, participant_id: str, user: CurrentUser,
                          limit: int = 3) -> dict[str, Any]:
        mentors = [p for p in PARTICIPANTS.values() if p["role"] == "mentor"
                   and p["programme_id"] == programme_id][:limit]
        return {"programme_id": programme_id, "mentee_participant_id": participant_id,
                "suggestions": [{
                    "mentor_participant_id": m["id"], "mentor_employee_id": m["employee_id"],
                    "score": 80.0 - i,
                    "breakdown": [{"factor": "topics", "points": 50, "reason": "tiktok"}],
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
    async def pairs(user: CurrentUser, programme_id: str | None = None,
                    participant_id: str | None = None) -> list[dict[str, Any]]:
        return [p for p in PAIRS.values()
                if programme_id in (None, p["programme_id"])
                and participant_id in (None, p["mentor_participant_id"],
                                       p["mentee_participant_id"])]

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

    return app


def fake_analytics(recorder: Recorder) -> FastAPI:
    app = _app("analytics", recorder)

    @app.get("/api/v1/programmes/{programme_id}/summary")
    async def summary(programme_id: str, user: CurrentUser) -> Response:
        if programme_id == "prog-broken":
            return Response(b"<html>upstream proxy error</html>", status_code=200,
                            media_type="text/html")
        return JSONResponse({"programme_id": programme_id, "participants_enrolled": 7,
                             "mentors": 3, "mentees": 4, "pairs_formed": 5, "pairs_active": 5,
                             "sessions_scheduled": 5, "sessions_held": 0})

    return app


FAKES: dict[str, Callable[[Recorder], FastAPI]] = {
    "enrolment": fake_enrolment,
    "matching": fake_matching,
    "scheduling": fake_scheduling,
    "analytics": fake_analytics,
}

__all__ = ["FAKES", "PAIRS", "PARTICIPANTS", "PROBLEM_JSON", "Recorder"]
