"""The authorisation table, checked against the real services and the gateway.

One test per row of tests/security/authz_table.py; the world each relation needs is
seeded once for the module through the real APIs (tests/security/world.py).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from gateway.config import GatewaySettings
from gateway.schema import build_schema
from tests.security.authz_table import (
    ALLOWED,
    BY_KEY,
    FIELDS,
    FIELDS_BY_KEY,
    KNOWN_FAILURES,
    MALFORMED,
    OPS,
    ROLES,
    ROWS,
    Field,
    Op,
    Row,
)
from tests.security.conftest import Api, malformed_token
from tests.security.world import World

PROBLEM_JSON = "application/problem+json"
SCIM_JSON = "application/scim+json"


def _params() -> list[Any]:
    params = []
    for row in ROWS:
        reason = next((why for matches, why in KNOWN_FAILURES if matches(row)), None)
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        params.append(pytest.param(row, id=row.id, marks=marks))
    return params


def _token(api: Api, world: World, row: Row) -> str | None:
    target = BY_KEY[row.target.via] if isinstance(row.target, Field) else row.target
    employee_id = world.employees[target.cast[row.relation]]
    if row.role in ROLES:
        return api.token(row.role, employee_id=employee_id)
    if row.role in MALFORMED:
        return malformed_token(api.platform, row.role, employee_id)
    return None


def _describe(response: httpx.Response) -> str:
    return (f"{response.request.method} {response.request.url.path} -> "
            f"{response.status_code} {response.headers.get('content-type')}: "
            f"{response.text[:600]}")


def _check_refusal(response: httpx.Response, expected: int, path: str) -> None:
    assert response.status_code == expected, _describe(response)
    media = response.headers.get("content-type", "").split(";")[0]
    # SCIM may answer its own errors (RFC 7644 section 3.12); everything else problem+json.
    wanted = {PROBLEM_JSON, SCIM_JSON} if path.startswith("/scim/") else {PROBLEM_JSON}
    assert media in wanted, _describe(response)
    if media == PROBLEM_JSON:
        body = response.json()
        assert body["status"] == expected and body.get("title"), _describe(response)


def _call_op(api: Api, world: World, op: Op, row: Row) -> httpx.Response:
    call = op.call(world, row.relation)
    path = call.path
    if op.prepare is not None:
        path = path.format(**op.prepare(world, api))
    return api.call(op.service, op.method, path, token=_token(api, world, row),
                    headers=dict(call.headers), params=dict(call.params), json=call.json,
                    content=call.content, fresh=row.role not in ROLES)


@pytest.mark.parametrize("row", [p for p in _params() if isinstance(p.values[0].target, Op)])
def test_route(api: Api, world: World, row: Row) -> None:
    op = row.target
    assert isinstance(op, Op)
    response = _call_op(api, world, op, row)
    wanted = op.wanted_id(world, row.relation)
    if wanted is not None and response.status_code == 200:
        assert _outcome_of(response, wanted) == row.expected, _describe(response)
    elif row.expected == ALLOWED:
        assert response.status_code in op.ok, _describe(response)
    else:
        assert isinstance(row.expected, int)
        _check_refusal(response, row.expected, op.path)


# A mutation's user errors carry a code, not a status; these are the statuses they come from.
_CODE_STATUS = {"UNAUTHENTICATED": 401, "FORBIDDEN": 403, "NOT_FOUND": 404, "CONFLICT": 409,
                "INVALID": 422, "TOO_LARGE": 413, "RATE_LIMITED": 429}


def _outcome_of(response: httpx.Response, wanted: str) -> object:
    """Where a batch read put one id: ALLOWED among its items, else its `missing` status."""
    body = response.json()
    keys = ("id", "pair_id", "programme_id", "participant_id")
    if any(wanted in (item.get(key) for key in keys) for item in body["items"]):
        return ALLOWED
    statuses = [entry["status"] for entry in body["missing"] if entry["id"] == wanted]
    assert len(statuses) == 1, _describe(response)
    return statuses[0]


def _graphql_status(body: dict[str, Any], name: str) -> int:
    """The field's outcome as a status: its first error's (a GraphQL error's, or a mutation
    payload's user error), or 200 when it has none."""
    errors = [e for e in body.get("errors") or [] if (e.get("path") or [name])[0] == name]
    if not errors:
        assert name in (body.get("data") or {}), body
        payload = body["data"][name]
        user_errors = payload.get("errors") if isinstance(payload, dict) else None
        if user_errors:
            return _CODE_STATUS[user_errors[0]["code"]]
        return 200
    return int((errors[0].get("extensions") or {}).get("status") or 500)


@pytest.mark.parametrize("row", [p for p in _params() if isinstance(p.values[0].target, Field)])
def test_graphql_field(api: Api, world: World, row: Row) -> None:
    target = row.target
    assert isinstance(target, Field)
    op = BY_KEY[target.via]
    token = _token(api, world, row)
    response = api.call("gateway", "POST", "/graphql", token=token,
                        json={"query": target.document,
                              "variables": target.values(world, row.relation)},
                        fresh=row.role not in ROLES)
    if row.role not in ROLES:
        _check_refusal(response, 401, "/graphql")
        return
    assert response.status_code == 200, _describe(response)
    status = _graphql_status(response.json(), target.name)
    if row.expected == ALLOWED:
        allowed = {200 if 200 <= s < 300 else s for s in op.ok}
        assert status in allowed, _describe(response)
    else:
        assert status == row.expected, _describe(response)


def test_every_route_is_in_the_table(api: Api) -> None:
    """A route in an OpenAPI document (or a root field in the schema) joins the table."""
    documented = set()
    for part in ("enrolment", "matching", "scheduling", "analytics", "gateway"):
        document = api.call(part, "GET", "/openapi.json").json()
        documented |= {f"{part} {method.upper()} {path}"
                       for path, methods in document["paths"].items() for method in methods}
    tabled = {op.key for op in OPS}
    assert documented - tabled == set(), "routes missing from tests/security/authz_table.py"
    # Routes the table names beyond the documents must still answer (SCIM via the gateway).
    assert tabled - documented == {"gateway GET /scim/v2/Users"}

    introspection = build_schema(GatewaySettings()).introspect()
    types = {t["name"]: t for t in introspection["__schema"]["types"]}
    fields = {f"graphql {kind} {f['name']}"
              for kind in ("query", "mutation") for f in types[kind.title()]["fields"]}
    assert fields - set(FIELDS_BY_KEY) == set(), "root fields missing from the table"
    assert set(FIELDS_BY_KEY) - fields == set(), "the table names root fields that are gone"
    assert len(FIELDS) == len(fields)
