"""Authorisation shows in OpenAPI: the bearer scheme on every operation, a gate's roles on it.

Each service's document is built as `python -m upward_common openapi <part>` builds it
(the app is made, never started). The roles an operation lists must be the roles the
authorisation table (tests/security/authz_table.py) admits to it, so the document and
the behaviour the security suite checks cannot drift apart.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI

from enrolment.config import EnrolmentSettings
from enrolment.main import SERVICE as ENROLMENT
from tests.security.authz_table import (
    ALLOWED,
    KNOWN_FAILURES,
    OPS,
    ROLES,
    Op,
    expand,
)
from tests.support.stack import TEST_JWT_SECRET, TEST_PULSE_SURVEY_SECRET
from tests.support.tokens import signed_token
from upward_common.auth import (
    ROLES_EXTENSION,
    CurrentUser,
    HrAdmin,
    Hris,
    HrisOrHrAdmin,
    Principal,
    ProgrammeAdmin,
)
from upward_common.problems import PROBLEM_BASE

SERVICES = ("enrolment", "matching", "scheduling", "analytics")
HEALTH = {"/healthz", "/readyz", "/metrics"}
# Public by secret: calendar apps send no bearer token; the secret in the path is the key.
BY_SECRET = {"/api/v1/calendar/{token}.ics"}
SCHEME = "bearerAuth"
METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def _document(part: str) -> dict[str, Any]:
    definition = importlib.import_module(f"{part}.main").SERVICE
    settings = definition.settings_cls(environment="test", jwt_secret=TEST_JWT_SECRET,
                                       pulse_survey_secret=TEST_PULSE_SURVEY_SECRET)
    document: dict[str, Any] = definition.create_app(settings).openapi()
    return document


def _operations(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{method.upper()} {path}": operation
            for path, methods in document["paths"].items()
            for method, operation in methods.items() if method in METHODS}


DOCUMENTS = {part: _document(part) for part in SERVICES}


def _admitted(op: Op) -> frozenset[str] | None:
    """The roles the table admits to `op` whatever the caller's relation; None if it depends
    on the relation, or refuses with anything but 403 (a resource check, not a gate)."""
    admitted = set()
    for role in ROLES:
        outcomes = {op.rule(role, relation) for relation in op.relations}
        if len(outcomes) != 1 or not outcomes <= {ALLOWED, 403}:
            return None
        if outcomes == {ALLOWED}:
            admitted.add(role)
    return frozenset(admitted)


def _refused(op: Op) -> frozenset[str]:
    """The roles the table refuses (403) to `op` whatever the caller's relation."""
    return frozenset(role for role in ROLES
                     if {op.rule(role, relation) for relation in op.relations} == {403})


def _table(part: str) -> dict[str, Op]:
    return {f"{op.method} {op.path}": op for op in OPS if op.service == part}


@pytest.mark.parametrize("part", SERVICES)
def test_every_operation_but_health_declares_the_bearer_scheme(part: str) -> None:
    document = DOCUMENTS[part]
    scheme = document["components"]["securitySchemes"][SCHEME]
    assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == ("http", "bearer", "JWT")
    # Where a token comes from, in production and in development.
    assert "OpenID Connect" in scheme["description"]
    assert "make token" in scheme["description"]

    for key, operation in _operations(document).items():
        if key.split(" ", 1)[1] in HEALTH | BY_SECRET:
            assert "security" not in operation, key
        else:
            assert operation.get("security") == [{SCHEME: []}], key


@pytest.mark.parametrize("part", SERVICES)
def test_a_gated_operation_lists_the_roles_the_table_admits(part: str) -> None:
    table = _table(part)
    gated = {key: operation[ROLES_EXTENSION] for key, operation
             in _operations(DOCUMENTS[part]).items() if ROLES_EXTENSION in operation}
    # A gate refuses exactly the roles the table refuses whatever the relation; the
    # roles it lets through may still depend on the caller's relation to the thing.
    for key, roles in gated.items():
        assert roles == sorted(roles), key
        assert frozenset(ROLES) - frozenset(roles) == _refused(table[key]), key


@pytest.mark.parametrize("part", SERVICES)
def test_every_operation_the_table_admits_by_role_alone_has_its_gate(part: str) -> None:
    """A route that only some roles may call shows them; the service checks no role itself."""
    operations = _operations(DOCUMENTS[part])
    if part == "matching" and not any(ROLES_EXTENSION in op for op in operations.values()):
        pytest.skip("matching's role checks are still in its service layer")
    for key, op in _table(part).items():
        admitted = _admitted(op)
        if admitted is None or admitted == frozenset(ROLES) or key.split(" ", 1)[1] in HEALTH:
            continue
        # Rows the table knows today's code gets wrong (marked xfail there) are no gate yet.
        if any(matches(row) for row in expand(op) for matches, _ in KNOWN_FAILURES):
            continue
        assert operations[key].get(ROLES_EXTENSION) == sorted(admitted), key


# --- the gates themselves, on an app the kernel builds ---------------------------------

router = APIRouter()


@router.get("/hr-admin")
async def hr_admin(user: HrAdmin) -> str:
    return user.sub


@router.get("/programme-admin")
async def programme_admin(user: ProgrammeAdmin) -> str:
    return user.sub


@router.get("/hris")
async def hris(user: Hris) -> str:
    return user.sub


@router.get("/hris-or-hr-admin")
async def hris_or_hr_admin(user: HrisOrHrAdmin) -> str:
    return user.sub


@router.get("/anyone")
async def anyone(user: CurrentUser) -> str:
    return user.sub


async def _programme_admin_too(user: ProgrammeAdmin) -> Principal:
    return user


@router.get("/two-gates")
async def two_gates(user: HrAdmin,
                    also: Annotated[Principal, Depends(_programme_admin_too)]) -> str:
    """Two gates, one nested in another dependency: the caller must pass both."""
    return user.sub


GATES = {
    "/hr-admin": ("hr_admin",),
    "/programme-admin": ("hr_admin", "programme_manager"),
    "/hris": ("hris",),
    "/hris-or-hr-admin": ("hr_admin", "hris"),
    "/two-gates": ("hr_admin",),
}


@pytest.fixture(scope="module")
def app() -> FastAPI:
    definition = replace(ENROLMENT, name="gates", routers=[router], handlers={})
    return definition.create_app(EnrolmentSettings(environment="test",
                                                   jwt_secret=TEST_JWT_SECRET))


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://gates") as client:
        yield client


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("path", GATES)
async def test_a_gate_admits_its_roles_and_refuses_the_others_with_403(
    client: httpx.AsyncClient, path: str, role: str
) -> None:
    response = await client.get(path, headers={
        "Authorization": f"Bearer {signed_token(sub=f'a-{role}', roles=[role])}"})
    if role in GATES[path]:
        assert (response.status_code, response.json()) == (200, f"a-{role}")
        return
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json() == {
        "type": PROBLEM_BASE + "forbidden", "title": "Forbidden", "status": 403,
        "detail": f"This needs one of the roles: {', '.join(GATES[path])}", "instance": path,
    }


@pytest.mark.parametrize("path", [*GATES, "/anyone"])
@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer   ", "Basic dXNlcjpwYXNz",
                                    "Token abc"])
async def test_no_bearer_token_is_a_401_before_any_gate(
    client: httpx.AsyncClient, path: str, header: str | None
) -> None:
    headers = {} if header is None else {"Authorization": header}
    response = await client.get(path, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["detail"] == "A bearer token is required"


async def test_a_bad_token_is_a_401_naming_why(client: httpx.AsyncClient) -> None:
    response = await client.get("/hr-admin", headers={"Authorization": "Bearer not-a-jwt"})
    assert response.status_code == 401
    assert response.json()["detail"].startswith("The token is not valid")
    # Any role passes the plain bearer dependency; a surplus role does not hurt a gate.
    both = signed_token(roles=["participant", "hr_admin"])
    assert (await client.get("/hr-admin", headers={"Authorization": f"Bearer {both}"})
            ).status_code == 200
    participant = signed_token(roles=["participant"], employee_id="e1")
    assert (await client.get("/anyone", headers={"Authorization": f"Bearer {participant}"})
            ).status_code == 200


def test_the_kernel_documents_each_gate_and_the_scheme(app: FastAPI) -> None:
    operations = _operations(app.openapi())
    for path, roles in GATES.items():
        assert operations[f"GET {path}"][ROLES_EXTENSION] == list(roles)
        assert operations[f"GET {path}"]["security"] == [{SCHEME: []}]
    assert ROLES_EXTENSION not in operations["GET /anyone"]
    assert operations["GET /anyone"]["security"] == [{SCHEME: []}]
    for path in HEALTH:
        assert "security" not in operations[f"GET {path}"]
    # Swagger UI shows the x-roles beside the Authorize button's scheme.
    assert app.swagger_ui_parameters is not None
    assert app.swagger_ui_parameters.get("showExtensions") is True
