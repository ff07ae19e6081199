"""CORS on /graphql: a browser app on a listed origin can call it; other origins get nothing."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import httpx
import pytest
from pydantic import ValidationError

from gateway.config import GatewaySettings
from tests.gateway.conftest import Stack

APP = "http://localhost:5173"
OTHER = "https://elsewhere.example"
QUERY = {"query": "{ programmes { nodes { id } } }"}


def preflight(origin: str) -> dict[str, str]:
    return {"Origin": origin, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type"}


def cors_headers(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.startswith("access-control-")}


async def test_a_listed_origin_gets_its_preflight_answered_and_may_read_answers(
    start_stack: Callable[..., AbstractAsyncContextManager[Stack]], token: Callable[..., str],
) -> None:
    async with start_stack(settings={"cors_origins": [APP]}) as stack, \
            stack.client() as client:
        allowed = await client.options("/graphql", headers=preflight(APP))
        answered = await client.post("/graphql", json=QUERY, headers={
            "Origin": APP, "Authorization": f"Bearer {token('hr_admin')}"})
        refused = await client.post("/graphql", json=QUERY, headers={"Origin": APP})

    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == APP
    assert {m.strip() for m in allowed.headers["access-control-allow-methods"].split(",")} == {
        "GET", "POST", "OPTIONS"}
    allowed_headers = {h.strip().lower()
                       for h in allowed.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type"} <= allowed_headers
    assert "access-control-allow-credentials" not in allowed.headers  # bearer tokens, no cookies
    assert answered.status_code == 200
    assert answered.headers["access-control-allow-origin"] == APP
    assert "Origin" in answered.headers["vary"]
    # The app can read why it was refused, too.
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == APP


async def test_another_origin_gets_no_cors_headers(
    start_stack: Callable[..., AbstractAsyncContextManager[Stack]], token: Callable[..., str],
) -> None:
    async with start_stack(settings={"cors_origins": [APP]}) as stack, \
            stack.client() as client:
        foreign = await client.options("/graphql", headers=preflight(OTHER))
        lookalike = await client.options("/graphql", headers=preflight(APP + "/"))
        answered = await client.post("/graphql", json=QUERY, headers={
            "Origin": OTHER, "Authorization": f"Bearer {token('hr_admin')}"})

    assert foreign.status_code == 405  # as if CORS were off
    assert cors_headers(foreign) == {}
    assert cors_headers(lookalike) == {}
    assert answered.status_code == 200  # not a browser: the server answers, the browser refuses
    assert cors_headers(answered) == {}


async def test_without_listed_origins_there_are_no_cors_headers(stack: Stack) -> None:
    async with stack.client() as client:
        preflighted = await client.options("/graphql", headers=preflight(APP))
        answered = await client.post("/graphql", json=QUERY, headers={"Origin": APP})

    assert preflighted.status_code == 405
    assert cors_headers(preflighted) == {}
    assert cors_headers(answered) == {}


async def test_only_graphql_is_open_to_pages(
    start_stack: Callable[..., AbstractAsyncContextManager[Stack]],
) -> None:
    async with start_stack(settings={"cors_origins": [APP]}) as stack, \
            stack.client() as client:
        scim = await client.options("/scim/v2/Users", headers=preflight(APP))
        health = await client.get("/healthz", headers={"Origin": APP})

    assert cors_headers(scim) == {}
    assert cors_headers(health) == {}


def test_origins_come_from_a_json_list_in_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert GatewaySettings().cors_origins == []

    monkeypatch.setenv("GATEWAY_CORS_ORIGINS", '["https://app.example.com", "http://localhost:5173"]')

    assert GatewaySettings().cors_origins == ["https://app.example.com", "http://localhost:5173"]


@pytest.mark.parametrize("origin", ["https://app.example.com/", "https://app.example.com/ui",
                                    "*", "https://*.example.com", "app.example.com",
                                    "https://App.example.com", "ftp://app.example.com"])
def test_what_is_not_an_origin_is_refused_at_start(origin: str) -> None:
    with pytest.raises(ValidationError, match="not an origin as a browser sends it"):
        GatewaySettings(cors_origins=[origin])
