"""The gateway process: health, readiness on its four services, metrics, clean shutdown."""

from __future__ import annotations

import gc
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import pytest

from gateway.clients import KEEPALIVE_SECONDS, AiohttpTransport, Downstreams
from gateway.config import GatewaySettings
from tests.gateway.conftest import Stack
from upward_common.heap import THRESHOLDS


async def test_ready_when_every_service_is_ready(stack: Stack) -> None:
    async with stack.client() as client:
        alive = await client.get("/healthz")
        ready = await client.get("/readyz")

    assert alive.status_code == 200
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"enrolment": True, "matching": True, "scheduling": True,
                                      "analytics": True}


async def test_not_ready_names_the_service_that_is_down(
    start_stack: Callable[..., AbstractAsyncContextManager[Stack]],
) -> None:
    async with start_stack(scheduling=None) as stack, stack.client() as client:
        alive = await client.get("/healthz")
        ready = await client.get("/readyz")

    assert alive.status_code == 200
    assert ready.status_code == 503
    assert ready.json()["checks"]["scheduling"] is False
    assert ready.json()["checks"]["enrolment"] is True
    assert ready.json()["reasons"] == {"scheduling": "it could not be reached"}


async def test_not_ready_while_a_service_is_alive_but_not_ready_itself(stack: Stack) -> None:
    stack.recorders["matching"].not_ready = "the database does not answer"

    async with stack.client() as client, stack.fakes["matching"].client() as matching:
        alive = await matching.get("/healthz")
        ready = await client.get("/readyz")

    assert alive.status_code == 200
    assert ready.status_code == 503
    assert ready.json() == {
        "status": "unavailable",
        "checks": {"enrolment": True, "matching": False, "scheduling": True,
                   "analytics": True},
        "reasons": {"matching": "its /readyz answered 503: database: the database does not "
                                "answer"},
    }


async def test_ready_once_every_service_was_ready_together(stack: Stack) -> None:
    async with stack.client() as client:
        stack.recorders["matching"].not_ready = "not connected to NATS"
        first = await client.get("/readyz")
        # Another service failing as the first recovers: never all ready at once yet.
        stack.recorders["matching"].not_ready = None
        stack.recorders["analytics"].not_ready = "the outbox cannot be read"
        second = await client.get("/readyz")
        stack.recorders["analytics"].not_ready = None
        third = await client.get("/readyz")

    assert (first.status_code, second.status_code, third.status_code) == (503, 503, 200)
    assert second.json()["checks"]["matching"] is True
    assert second.json()["checks"]["analytics"] is False
    assert third.json() == {"status": "ready", "checks": {
        "enrolment": True, "matching": True, "scheduling": True, "analytics": True}}


async def test_once_ready_a_service_failing_later_is_reported_not_a_503(
    stack: Stack,
) -> None:
    async with stack.client() as client:
        assert (await client.get("/readyz")).status_code == 200
        stack.recorders["analytics"].not_ready = "the database does not answer"
        later = await client.get("/readyz")
        # Stopped altogether, not merely unready: still reported, still 200.
        analytics = stack.fakes["analytics"]
        analytics.server.should_exit = True
        await analytics.task
        stopped = await client.get("/readyz")

    # The gateway stays in its load balancer: its answers are partial meanwhile.
    assert later.status_code == 200
    assert later.json() == {
        "status": "ready",
        "checks": {"enrolment": True, "matching": True, "scheduling": True,
                   "analytics": False},
        "reasons": {"analytics": "its /readyz answered 503: database: the database does "
                                 "not answer"},
    }
    assert stopped.status_code == 200
    assert stopped.json()["checks"]["analytics"] is False
    assert stopped.json()["reasons"] == {"analytics": "it could not be reached"}


async def test_graphql_requests_are_counted_in_the_metrics(
    stack: Stack, token: Callable[..., str]
) -> None:
    await stack.graphql("{ programmes { nodes { id } } }", token=token("hr_admin"))

    async with stack.client() as client:
        metrics = (await client.get("/metrics")).text

    assert 'http_requests_total{method="POST",route="/graphql",status="200"} 1.0' in metrics


async def test_the_service_connections_are_shared_and_closed_on_shutdown(
    start_stack: Callable[..., AbstractAsyncContextManager[Stack]],
    token: Callable[..., str],
) -> None:
    async with start_stack() as stack:
        downstreams: Downstreams = stack.gateway.app.state.downstreams
        for _ in range(3):
            await stack.graphql("{ programmes { nodes { id } } }", token=token("hr_admin"))
        assert stack.gateway.app.state.downstreams is downstreams
        assert not downstreams.enrolment.is_closed

    assert all(http.is_closed for http in downstreams.by_name().values())
    assert downstreams.uploads.is_closed


def test_service_addresses_come_from_gateway_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_MATCHING_URL", "http://matching:8002")
    monkeypatch.setenv("UPWARD_LOG_LEVEL", "DEBUG")

    settings = GatewaySettings()

    assert str(settings.matching_url) == "http://matching:8002/"
    assert str(settings.enrolment_url) == "http://127.0.0.1:8001/"
    assert settings.port == 8000
    assert settings.log_level == "DEBUG"


async def test_each_service_pool_keeps_as_many_connections_as_calls_may_be_in_flight(
    start_stack: Callable[..., AbstractAsyncContextManager[Stack]],
    token: Callable[..., str],
) -> None:
    async with start_stack(settings={"max_concurrent_calls_per_service": 48}) as stack:
        await stack.graphql("{ programmes { nodes { id } } }", token=token("hr_admin"))
        downstreams: Downstreams = stack.gateway.app.state.downstreams
        for http in downstreams.by_name().values():
            # Sent by aiohttp, whose pool does not walk its connections on every call.
            transport = http._transport  # type: ignore[attr-defined]
            assert isinstance(transport, AiohttpTransport)
            assert transport.limits.max_keepalive_connections == 48
        session = downstreams.enrolment._transport.client  # type: ignore[attr-defined]
        # httpx's default (100 connections, 20 kept alive) would reconnect past 20;
        # idle ones go before the service's own server (uvicorn: 5 s) closes them.
        assert session.connector.limit == 48
        assert session.connector._keepalive_timeout == KEEPALIVE_SECONDS < 5


async def test_a_running_gateway_keeps_its_start_up_heap_out_of_collections(
    start_stack: Callable[..., AbstractAsyncContextManager[Stack]],
) -> None:
    before = gc.get_threshold()
    async with start_stack():
        # Its schema, clients and validation caches are in no collection's walk.
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == THRESHOLDS
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before
