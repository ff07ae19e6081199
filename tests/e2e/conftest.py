"""The whole platform in one test: four services and the gateway on real ports."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from gateway.config import GatewaySettings
from gateway.main import create_app as create_gateway
from tests.support.nats import NatsServer
from tests.support.stack import TEST_JWT_SECRET, Running, serve

SERVICES = ("enrolment", "matching", "scheduling", "analytics")


@dataclass
class Platform:
    services: dict[str, Running]
    gateway: Running

    def client(self, token: str) -> GraphQLClient:
        return GraphQLClient(self.gateway.url, token)


class GraphQLClient:
    """Posts GraphQL to the gateway with one caller's token."""

    def __init__(self, url: str, token: str) -> None:
        self.http = httpx.AsyncClient(base_url=url, timeout=30,
                                      headers={"Authorization": f"Bearer {token}"})

    async def __aenter__(self) -> GraphQLClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()

    async def execute(self, query: str, **variables: Any) -> dict[str, Any]:
        """The whole response (`data` and `errors`).

        A query that ran is 200; one refused before it ran (syntax, validation, a limit) is
        a 4xx without `data` (GraphQL over HTTP, application/graphql-response+json).
        """
        response = await self.http.post("/graphql", json={"query": query, "variables": variables})
        body: dict[str, Any] = response.json()
        if response.status_code != 200:
            assert 400 <= response.status_code < 500 and "data" not in body, response.text
            assert body["errors"], response.text
        return body

    async def data(self, query: str, **variables: Any) -> dict[str, Any]:
        """`data` of a response that must have no errors."""
        body = await self.execute(query, **variables)
        assert not body.get("errors"), body["errors"]
        data: dict[str, Any] = body["data"]
        return data

    async def done(self, query: str, mutation: str, result: str, **variables: Any) -> Any:
        """The result in `mutation`'s payload, which must carry no user errors."""
        payload = (await self.data(query, **variables))[mutation]
        assert payload["errors"] == [], payload["errors"]
        return payload[result]


@pytest.fixture
async def platform(start_service: Callable[..., Any],
                   nats_server: NatsServer) -> AsyncIterator[Platform]:
    async with AsyncExitStack() as stack:
        services = {name: await stack.enter_async_context(start_service(name))
                    for name in SERVICES}
        settings = GatewaySettings(
            environment="test", jwt_secret=TEST_JWT_SECRET,
            enrolment_url=services["enrolment"].url, matching_url=services["matching"].url,
            scheduling_url=services["scheduling"].url, analytics_url=services["analytics"].url,
            # The stream the services publish to feeds the gateway's subscriptions.
            nats_url=nats_server.url, nats_reconnect_wait_seconds=0.2,
        )
        gateway = await stack.enter_async_context(serve("gateway", create_gateway(settings)))
        yield Platform(services, gateway)
