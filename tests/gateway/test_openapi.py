"""The gateway's OpenAPI document shows which routes need a bearer token, as the services' do.

The document is built as `python -m upward_common openapi gateway` builds it (the app
is made, never started). Declaring the scheme changes no answer: the forwarders and the
GraphQL context still verify the token themselves, after their own checks.
"""

from __future__ import annotations

from typing import Any

from fastapi.routing import APIRoute

from gateway import forward
from gateway.config import GatewaySettings
from gateway.main import create_app
from tests.gateway.conftest import Stack
from tests.support.stack import TEST_JWT_SECRET
from upward_common.auth import BEARER

HEALTH = {"/healthz", "/readyz", "/metrics"}
SCHEME = "bearerAuth"
METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def _document() -> dict[str, Any]:
    app = create_app(GatewaySettings(environment="test", jwt_secret=TEST_JWT_SECRET))
    document: dict[str, Any] = app.openapi()
    return document


def _operations(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{method.upper()} {path}": operation
            for path, methods in document["paths"].items()
            for method, operation in methods.items() if method in METHODS}


def test_every_operation_but_health_declares_the_bearer_scheme() -> None:
    document = _document()
    scheme = document["components"]["securitySchemes"][SCHEME]
    assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == ("http", "bearer", "JWT")
    assert "OpenID Connect" in scheme["description"]
    assert "make token" in scheme["description"]

    operations = _operations(document)
    # What the gateway documents: a route added later is held to the same rule.
    assert {"GET /graphql", "POST /graphql", "POST /api/v1/employees/import"} <= set(operations)
    for key, operation in operations.items():
        if key.split(" ", 1)[1] in HEALTH:
            assert "security" not in operation, key
        else:
            assert operation.get("security") == [{SCHEME: []}], key


def test_the_scim_forwarder_declares_it_too_though_it_is_left_out_of_the_document() -> None:
    routes = {route.path: route for route in forward.router.routes
              if isinstance(route, APIRoute)}
    scim = routes[forward.SCIM_PREFIX + "{path:path}"]
    assert not scim.include_in_schema
    for route in routes.values():
        assert any(dependency.call is BEARER for dependency in route.dependant.dependencies)


async def test_the_declared_scheme_refuses_nothing_by_itself(stack: Stack) -> None:
    """The kernel's 401 problem for a missing or non-bearer token, a 400 for a bad path
    before any token is looked at, and the GraphiQL page without one, as before."""
    async with stack.client() as client:
        basic = await client.post("/api/v1/employees/import", content=b"[]",
                                  headers={"Authorization": "Basic dXNlcjpwYXNz",
                                           "content-type": "application/json"})
        scim = await client.get("/scim/v2/Users")
        graphql = await client.post("/graphql", json={"query": "{ programmes { nodes { id } } }"})
        page = await client.get("/graphql", headers={"accept": "text/html"})
        bad_path = await client.get("/scim/v2/Users%2F..%2Fapi")

    for refused in (basic, scim, graphql):
        assert refused.status_code == 401
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.headers["www-authenticate"] == 'Bearer error="invalid_token"'
        assert refused.json()["detail"] == "A bearer token is required"
    assert page.status_code == 200
    assert bad_path.status_code == 400
    assert bad_path.json()["field"] == "path"
    assert all(not recorder.calls for recorder in stack.recorders.values())
