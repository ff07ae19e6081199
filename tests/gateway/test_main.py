"""The gateway process: health, readiness on its four services, metrics, clean shutdown."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import pytest

from gateway.clients import Downstreams
from gateway.config import GatewaySettings
from tests.gateway.conftest import Stack


async def test_ready_when_every_service_answers_its_health_check(stack: Stack) -> None:
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


async def test_graphql_requests_are_counted_in_the_metrics(
    stack: Stack, token: Callable[..., str]
) -> None:
    await stack.graphql("{ programmes { id } }", token=token("hr_admin"))

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
            await stack.graphql("{ programmes { id } }", token=token("hr_admin"))
        assert stack.gateway.app.state.downstreams is downstreams
        assert not downstreams.enrolment.is_closed

    assert all(http.is_closed for http in downstreams.by_name().values())


def test_service_addresses_come_from_gateway_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_MATCHING_URL", "http://matching:8002")
    monkeypatch.setenv("UPWARD_LOG_LEVEL", "DEBUG")

    settings = GatewaySettings()

    assert str(settings.matching_url) == "http://matching:8002/"
    assert str(settings.enrolment_url) == "http://127.0.0.1:8001/"
    assert settings.port == 8000
    assert settings.log_level == "DEBUG"
