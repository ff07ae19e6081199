"""Schemathesis against every service's OpenAPI and the gateway's GraphQL schema.

Runs only when asked for (`-m fuzz`: `make fuzz-ci`, `make fuzz`), against the real
platform on real ports, as an HR admin, a participant and an HRIS job. `FUZZ_EXAMPLES`
sets the examples per operation and role (default 5), `FUZZ_DEADLINE_MS` the longest
one example may take (default 10,000). Some examples aim at things that exist (the
seeded world's ids in the path) or carry a NUL byte there, the rest at whatever
schemathesis makes up.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.core import NotSet

from gateway.config import GatewaySettings
from gateway.schema import build_schema
from tests.security.authz_table import CORE_USER
from tests.security.fuzzing import (
    STATS,
    Finding,
    graphql_problems,
    known_reason,
    rest_problems,
)
from tests.security.world import World
from tests.support.platform import RunningPlatform

pytestmark = pytest.mark.fuzz

SERVICES = ("enrolment", "matching", "scheduling", "analytics")
ROLES = ("hr_admin", "participant", "hris")
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "5"))
DEADLINE_MS = int(os.environ.get("FUZZ_DEADLINE_MS", "10000"))
SHRINK = os.environ.get("FUZZ_SHRINK", "1") != "0"
AIMS = ("made-up", "seeded", "made-up", "nul")
TIMEOUT_SECONDS = DEADLINE_MS / 1000


def _openapi(part: str) -> Any:
    # Built without starting it, as `python -m upward_common openapi <part>` does.
    app = importlib.import_module(f"{part}.main").create_app()
    schema = schemathesis.openapi.from_dict(app.openapi())
    # The operations declare the bearer scheme; the session's token is the role's, so
    # schemathesis must not make up an Authorization header of its own.
    schema.config.generation.update(with_security_parameters=False)
    return schema


SCHEMAS = {part: _openapi(part) for part in SERVICES}
OPERATIONS = {(part, op.method.upper(), op.path): op
              for part, loaded in SCHEMAS.items()
              for op in (result.ok() for result in loaded.get_all_operations())}
GRAPHQL = schemathesis.graphql.from_dict(build_schema(GatewaySettings()).introspect())
FIELDS = {op.label: op for op in (result.ok() for result in GRAPHQL.get_all_operations())}

FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES, deadline=DEADLINE_MS, database=None, derandomize=False,
    phases=[Phase.explicit, Phase.generate, *([Phase.shrink] if SHRINK else [])],
    suppress_health_check=list(HealthCheck),
)


def _seeded(world: World) -> dict[str, str]:
    return {
        "programme_id": world.programmes["P"], "participant_id": world.participants["A"],
        "employee_id": world.employees["A"], "invitation_id": world.invitation_a,
        "pair_id": world.pair_ab, "session_id": world.session_ab, "run_id": world.run_dry,
        "user_id": world.scim_z, "name": "User", "schema_id": CORE_USER,
        "survey_id": world.pulse_survey,
        "plan_id": world.plan_ab,
        "group_session_id": world.group_session_p,
        # A's calendar feed secret (the route is public by secret: no bearer token needed).
        "token": world.feed_a.removeprefix("/api/v1/calendar/").removesuffix(".ics"),
    }


@pytest.fixture(scope="module")
def sessions(platform: RunningPlatform, world: World) -> dict[str, requests.Session]:
    made = {}
    for role in ROLES:
        session = requests.Session()
        token = platform.token(role, employee_id=world.employees["A"])
        session.headers["Authorization"] = f"Bearer {token}"
        made[role] = session
    return made


def _report(found: list[Finding], where: str, role: str, problems: list[str], request: str,
            response: str) -> None:
    """Known findings are counted; any other fails the example."""
    new = []
    for problem in problems:
        reason = known_reason(where, problem, request)
        if reason is None:
            new.append(problem)
        else:
            STATS.note_known(reason, Finding(where, role, problem, request, response))
    if new:
        finding = Finding(where, role, "; ".join(new), request, response)
        found.append(finding)
        raise AssertionError(f"{where} as {role}: {finding.problem}\n"
                             f"request: {request[:1000]}\nresponse: {response[:1000]}")


def _request_text(case: Any) -> str:
    body = "" if isinstance(case.body, NotSet) else f" body={case.body!r}"
    media = f" ({case.media_type})" if case.media_type else ""
    return f"{case.method} {case.formatted_path} query={case.query!r}{media}{body}"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("key", list(OPERATIONS), ids=" ".join)
def test_service_operation(platform: RunningPlatform, world: World,
                           sessions: dict[str, requests.Session], key: tuple[str, str, str],
                           role: str) -> None:
    part, method, path = key
    operation = OPERATIONS[key]
    where = " ".join(key)
    STATS.operations.add(where)
    seeded = _seeded(world)
    found: list[Finding] = []

    @FUZZ_SETTINGS
    @given(case=operation.as_strategy(), aim=st.sampled_from(AIMS))
    def check(case: Any, aim: str) -> None:
        if aim == "seeded" and case.path_parameters:
            case.path_parameters = {name: seeded.get(name, value)
                                    for name, value in case.path_parameters.items()}
        elif aim == "nul" and case.path_parameters:
            case.path_parameters = {name: f"{seeded.get(name, 'x')}\x00"
                                    for name in case.path_parameters}
        STATS.requests += 1
        try:
            response = case.call(base_url=platform.urls[part], session=sessions[role],
                                 timeout=TIMEOUT_SECONDS)
        except requests.RequestException as exc:
            problems, status, headers, text = [f"no answer: {exc!r}"], 0, {}, ""
        else:
            status, headers, text = response.status_code, response.headers, response.text
            problems = rest_problems(method, path, status, headers, text)
        if problems:
            _report(found, where, role, problems, _request_text(case), f"{status} {text}")

    try:
        check()
    finally:
        if found:
            STATS.failures.append(found[-1])  # the smallest example hypothesis kept


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("label", list(FIELDS))
def test_graphql_field(platform: RunningPlatform, sessions: dict[str, requests.Session],
                       label: str, role: str) -> None:
    operation = FIELDS[label]
    where = f"graphql {label}"
    STATS.operations.add(where)
    found: list[Finding] = []

    @FUZZ_SETTINGS
    @given(case=operation.as_strategy())
    def check(case: Any) -> None:
        STATS.requests += 1
        query = case.body if isinstance(case.body, str) else str(case.body)
        try:
            response = sessions[role].post(f"{platform.urls['gateway']}/graphql",
                                           json={"query": query}, timeout=TIMEOUT_SECONDS)
        except requests.RequestException as exc:
            problems, status, text = [f"no answer: {exc!r}"], 0, ""
        else:
            status, text = response.status_code, response.text
            problems = graphql_problems(status, response.headers, text)
        if problems:
            _report(found, where, role, problems, query, f"{status} {text}")

    try:
        check()
    finally:
        if found:
            STATS.failures.append(found[-1])
