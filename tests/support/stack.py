"""Run services and the gateway in-process on real HTTP ports."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from tests.support.nats import free_port

TEST_JWT_SECRET = "test-secret-for-the-suite-only-0123456789abcdef"
TEST_PULSE_SURVEY_SECRET = "test-pulse-survey-secret-for-the-suite-only-0123456789"


@dataclass
class Running:
    name: str
    app: FastAPI
    url: str
    port: int
    server: uvicorn.Server
    task: asyncio.Task[None]

    def client(self, token: str | None = None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=30)


@asynccontextmanager
async def serve(name: str, app: FastAPI, port: int | None = None) -> AsyncIterator[Running]:
    """Serve `app` with uvicorn on 127.0.0.1 until the block ends (lifespan included)."""
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                            lifespan="on")
    server = uvicorn.Server(config)
    # Signals belong to pytest, not to the servers it runs.
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    for _ in range(600):
        if server.started or task.done():
            break
        await asyncio.sleep(0.02)
    if task.done():
        task.result()
        raise RuntimeError(f"{name} did not start")
    try:
        yield Running(name, app, f"http://127.0.0.1:{port}", port, server, task)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=30)


async def wait_until(predicate: Any, *, timeout: float = 20.0, interval: float = 0.05) -> Any:
    """Poll an async or sync predicate until it returns a truthy value."""
    deadline = asyncio.get_running_loop().time() + timeout
    last: Any = None
    while asyncio.get_running_loop().time() < deadline:
        last = predicate()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")
