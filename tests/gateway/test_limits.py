"""What one query may cost the gateway: refused before anything runs, capped while it runs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
import pytest
from graphql import get_introspection_query

from gateway.config import GatewaySettings
from tests.gateway.conftest import Stack
from tests.gateway.fakes import PROGRAMMES
from tests.support.logs import logged
from tests.support.stack import wait_until

StartStack = Callable[..., AbstractAsyncContextManager[Stack]]


def _doubling_fragments(levels: int) -> str:
    """~1.3 KB whose fragments, spread twice at each level, expand to 2**levels fields."""
    query = f"{{ programmes {{ nodes {{ ...F{levels} }} }} }}\nfragment F0 on Programme {{ id }}\n"
    for level in range(1, levels + 1):
        query += f"fragment F{level} on Programme {{ ...F{level - 1} ...F{level - 1} }}\n"
    return query


def _nested(levels: int) -> str:
    """An admin's cyclic query: programmes, their pairs, each pair's programme, its pairs..."""
    inner = "id"
    for _ in range(levels):
        inner = f"pairs {{ nodes {{ programme {{ {inner} }} }} }}"
    return f"{{ programmes {{ nodes {{ {inner} }} }} }}"


def _no_calls(stack: Stack) -> bool:
    return all(not recorder.calls for recorder in stack.recorders.values())


def _error(response: httpx.Response) -> dict[str, Any]:
    """The one error of an answer without data (in application/graphql-response+json).

    A query refused before it runs is a request error: no `data`, and the HTTP status of its
    problem (400 when it has none). One stopped while it ran has `data: null` and 200.
    """
    body = response.json()
    [error] = body["errors"]
    if "data" in body:
        assert body["data"] is None, body
        assert response.status_code == 200, response.text
    else:
        assert response.status_code == (error.get("extensions") or {}).get("status", 400), \
            response.text
    return dict(error)


async def test_fragments_that_double_are_refused_before_validation_and_any_call(
    stack: Stack, token: Callable[..., str]
) -> None:
    query = _doubling_fragments(32)
    assert len(query) < 1_500

    with logged() as records:
        response = await stack.graphql(query, token=token("hr_admin"))

    error = _error(response)
    assert error["message"] == ("The query selects 4294967298 fields once its fragments "
                                "are expanded; at most 1000 are allowed")
    assert error["extensions"]["status"] == 400
    assert error["extensions"]["type"].endswith("/query-too-complex")
    assert _no_calls(stack)
    assert not [r for r in records if r.levelno >= logging.ERROR]
    assert any(r.getMessage() == "query refused" for r in records)


async def test_a_fragment_that_spreads_itself_is_refused(
    stack: Stack, token: Callable[..., str]
) -> None:
    query = ("{ programmes { nodes { ...A } } }"
             " fragment A on Programme { pairs { nodes { programme { ...B } } } }"
             " fragment B on Programme { ...A }")

    response = await stack.graphql(query, token=token("hr_admin"))

    error = _error(response)
    assert error["message"] == "Fragment A spreads itself"
    assert _no_calls(stack)


async def test_a_query_nested_past_the_depth_limit_is_refused(
    stack: Stack, token: Callable[..., str]
) -> None:
    with logged() as records:
        response = await stack.graphql(_nested(6), token=token("hr_admin"))

    error = _error(response)
    assert error["message"] == "'anonymous' exceeds maximum operation depth of 10"
    assert _no_calls(stack)
    assert not [r for r in records if r.levelno >= logging.ERROR]


async def test_a_query_within_the_depth_limit_runs(
    stack: Stack, token: Callable[..., str]
) -> None:
    # Depth 9: each level of connection is two (`pairs { nodes { ... } }`).
    response = await stack.graphql(_nested(2), token=token("hr_admin"))

    assert response.json().get("errors") is None
    [first, *_] = response.json()["data"]["programmes"]["nodes"]
    assert len(first["pairs"]["nodes"][0]["programme"]["pairs"]["nodes"]) == 5


async def test_aliases_past_the_limit_are_refused(
    stack: Stack, token: Callable[..., str]
) -> None:
    many = " ".join(f'p{i}: programme(programmeId: "prog1") {{ id }}' for i in range(51))

    response = await stack.graphql(f"{{ {many} }}", token=token("hr_admin"))

    assert _error(response)["message"] == "51 aliases found. Allowed: 50"
    assert _no_calls(stack)


async def test_two_thousand_aliases_make_no_call(
    stack: Stack, token: Callable[..., str]
) -> None:
    many = " ".join(f"a{i}:programmes{{ nodes {{id}} }}" for i in range(2_000))

    response = await stack.graphql(f"{{{many}}}", token=token("hr_admin"))

    error = _error(response)
    assert error["extensions"]["status"] == 413
    assert error["extensions"]["type"].endswith("/query-too-large")
    assert _no_calls(stack)


async def test_a_query_past_the_token_limit_is_refused_while_it_is_parsed(
    start_stack: StartStack, token: Callable[..., str]
) -> None:
    async with start_stack(settings={"max_tokens": 100}) as stack:
        response = await stack.graphql(
            "{ programmes { nodes { " + "id " * 200 + "} } }", token=token("hr_admin"))

    assert "more than 100 tokens" in _error(response)["message"]
    assert _no_calls(stack)


async def test_a_body_past_its_cap_is_a_413_problem(
    start_stack: StartStack, token: Callable[..., str]
) -> None:
    records = [{"externalId": f"W{i}", "email": f"w{i}@example.com", "givenName": "G",
                "familyName": "F"} for i in range(200)]
    mutation = ("mutation ($r: [EmployeeInput!]!) { importEmployees(records: $r) "
                "{ report { created } } }")

    async with start_stack(settings={"max_body_bytes": 4_096}) as stack:
        response = await stack.graphql(mutation, {"r": records}, token=token("hris"))

    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["field"] == "body"
    assert _no_calls(stack)


async def test_graphiql_can_still_read_the_schema(
    stack: Stack, token: Callable[..., str]
) -> None:
    response = await stack.graphql(get_introspection_query(), token=token("participant"))

    assert response.json().get("errors") is None
    assert response.json()["data"]["__schema"]["queryType"]["name"] == "Query"


async def test_an_answer_past_the_list_budget_is_one_error_not_a_partial_answer(
    start_stack: StartStack, token: Callable[..., str]
) -> None:
    async with start_stack(settings={"max_result_items": 20}) as stack:
        fits = await stack.graphql("{ programmes { nodes { id pairs { nodes { id } } } } }",
                                   token=token("hr_admin"))
        stack.clear()
        response = await stack.graphql(_nested(2), token=token("hr_admin"))

    assert fits.json().get("errors") is None  # 3 programmes, 5 pairs
    error = _error(response)
    assert error["message"] == ("The answer would hold more than 20 list items; ask for fewer "
                                "nested lists or narrower ones")
    assert error["extensions"]["type"].endswith("/answer-too-large")


def _more_programmes(monkeypatch: pytest.MonkeyPatch, count: int) -> None:
    for i in range(4, 4 + count):
        monkeypatch.setitem(PROGRAMMES, f"prog{i}", {**PROGRAMMES["prog2"], "id": f"prog{i}"})


async def test_calls_in_flight_stay_under_the_request_and_service_caps_and_health_answers(
    start_stack: StartStack, token: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # 60 programmes: 60 match-run lists per query (a read that is not batched).
    _more_programmes(monkeypatch, 57)
    admin = token("hr_admin")
    caps = {"max_concurrent_calls_per_request": 3, "max_concurrent_calls_per_service": 5}

    async with start_stack(settings=caps) as stack:
        matching = stack.recorders["matching"]
        matching.delay = 0.02
        queries = [asyncio.create_task(stack.graphql(
            "{ programmes(first: 60) { nodes { id matchRuns { nodes { id } } } } }", token=admin))
            for _ in range(3)]
        await wait_until(lambda: matching.in_flight > 0)
        async with stack.client() as client:
            alive = await client.get("/healthz")
        running = not all(query.done() for query in queries)
        responses = await asyncio.gather(*queries)

    assert alive.status_code == 200
    assert running  # the gateway answered its health check while the queries ran
    assert all(len(r.json()["data"]["programmes"]["nodes"]) == 60 for r in responses)
    assert len(matching.paths()) == 3 * 60
    assert matching.most_in_flight == 5
    assert len(matching.most_in_flight_by_request) == 3
    assert set(matching.most_in_flight_by_request.values()) == {3}


async def test_a_query_past_the_request_timeout_is_cancelled_with_an_error(
    start_stack: StartStack, token: Callable[..., str]
) -> None:
    settings = {"request_timeout_seconds": 1, "downstream_timeout_seconds": 30}
    async with start_stack(settings=settings) as stack:
        # The query's first and only call is held, so the timeout always finds it waiting
        # (however slow the machine is, no earlier call can use up the time).
        enrolment = stack.recorders["enrolment"]
        enrolment.hold = asyncio.Event()
        response = await stack.graphql('{ programme(programmeId: "prog1") { name } }',
                                       token=token("hr_admin"))
        # The gateway hung up on the call it was waiting for.
        await wait_until(lambda: enrolment.abandoned == 1, timeout=5)
        assert len(enrolment.paths()) == 1

    error = _error(response)
    assert error["message"] == "The query did not finish within 1 s; ask for less"
    assert error["extensions"]["status"] == 504
    assert error["extensions"]["type"].endswith("/query-timeout")


async def test_a_client_that_hangs_up_stops_the_downstream_work(
    start_stack: StartStack, token: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _more_programmes(monkeypatch, 17)  # 20 programmes
    settings = {"max_concurrent_calls_per_request": 2, "downstream_timeout_seconds": 30}
    async with start_stack(settings=settings) as stack:
        matching = stack.recorders["matching"]
        matching.hold = asyncio.Event()
        client = stack.client(token("hr_admin"))
        query = asyncio.create_task(client.post(
            "/graphql",
            json={"query": "{ programmes { nodes { id matchRuns { nodes { id } } } } }"}))
        await wait_until(lambda: matching.in_flight == 2)

        query.cancel()  # the client hangs up
        await asyncio.gather(query, return_exceptions=True)
        await client.aclose()

        await wait_until(lambda: matching.abandoned == 2, timeout=5)
        matching.hold.set()
        await asyncio.sleep(0.3)  # time enough for any further call to arrive

    assert len(matching.calls) == 2  # the 18 other run lists were never asked for


def test_the_limits_have_documented_defaults_and_come_from_gateway_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GATEWAY_MAX_DEPTH", "6")

    settings = GatewaySettings()

    assert settings.max_depth == 6
    assert (settings.max_query_bytes, settings.max_tokens, settings.max_aliases,
            settings.max_selections, settings.max_body_bytes) == (32_768, 5_000, 50, 1_000,
                                                                  1_048_576)
    assert (settings.max_result_items, settings.max_concurrent_calls_per_request,
            settings.max_concurrent_calls_per_service, settings.request_timeout_seconds) == (
        100_000, 8, 32, 30.0)
