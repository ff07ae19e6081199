"""The gateway on a real port in front of four fake services on theirs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from gateway.config import GatewaySettings
from gateway.main import create_app
from tests.gateway.fakes import FAKES, Recorder
from tests.support.nats import free_port
from tests.support.stack import TEST_JWT_SECRET, Running, serve


@dataclass
class Stack:
    gateway: Running
    fakes: dict[str, Running]
    recorders: dict[str, Recorder]

    def client(self, token: str | None = None) -> httpx.AsyncClient:
        return self.gateway.client(token)

    async def graphql(self, query: str, variables: dict[str, Any] | None = None, *,
                      token: str | None, headers: dict[str, str] | None = None,
                      ) -> httpx.Response:
        async with self.client(token) as client:
            return await client.post("/graphql", json={"query": query,
                                                       "variables": variables or {}},
                                     headers=headers)

    def clear(self) -> None:
        for recorder in self.recorders.values():
            recorder.clear()


@pytest.fixture
def start_stack() -> Callable[..., AbstractAsyncContextManager[Stack]]:
    """`async with start_stack(analytics=None) as stack:`; None leaves that service down.

    `settings` overrides the gateway's (`{"max_depth": 3}`).
    """

    @asynccontextmanager
    async def start(*, settings: dict[str, Any] | None = None,
                    **down: None) -> AsyncIterator[Stack]:
        async with AsyncExitStack() as stack:
            recorders = {name: Recorder() for name in FAKES}
            fakes: dict[str, Running] = {}
            urls: dict[str, str] = {}
            for name, make in FAKES.items():
                if name in down:
                    # A port nobody listens on: the service is down.
                    urls[f"{name}_url"] = f"http://127.0.0.1:{free_port()}"
                    continue
                fakes[name] = await stack.enter_async_context(serve(name,
                                                                    make(recorders[name])))
                urls[f"{name}_url"] = fakes[name].url
            gateway_settings = GatewaySettings(**{
                "environment": "test", "jwt_secret": TEST_JWT_SECRET,
                "downstream_timeout_seconds": 5, **urls, **(settings or {})})
            gateway = await stack.enter_async_context(serve("gateway",
                                                            create_app(gateway_settings)))
            yield Stack(gateway, fakes, recorders)

    return start


@pytest.fixture
async def stack(start_stack: Callable[..., AbstractAsyncContextManager[Stack]],
                ) -> AsyncIterator[Stack]:
    async with start_stack() as running:
        yield running
