"""Enrolment fixtures: the real service on a free port, and readers of what it published."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
import nats
import pytest

from tests.support.nats import NatsServer
from tests.support.stack import Running

Stack = tuple[Running, httpx.AsyncClient]


@pytest.fixture
async def enrolment(
    start_service: Callable[..., AbstractAsyncContextManager[Running]],
) -> AsyncIterator[Running]:
    async with start_service("enrolment") as running:
        yield running


@pytest.fixture
async def hr(enrolment: Running, token: Callable[..., str]) -> AsyncIterator[httpx.AsyncClient]:
    """An HR admin's client."""
    async with enrolment.client(token("hr_admin")) as client:
        yield client


@pytest.fixture
async def hris(enrolment: Running, token: Callable[..., str]) -> AsyncIterator[httpx.AsyncClient]:
    """The HRIS integration's client."""
    async with enrolment.client(token("hris")) as client:
        yield client


async def published(nats_url: str, subject: str, *, settle: float = 0.3) -> list[dict[str, Any]]:
    """Every CloudEvent on `subject` in the stream so far (data payloads, oldest first)."""
    connection = await nats.connect(nats_url)
    try:
        js = connection.jetstream()
        try:
            info = await js.stream_info("MENTORING", subjects_filter=subject)
        except Exception:  # noqa: BLE001 - no stream yet means nothing published
            return []
        expected = (info.state.subjects or {}).get(subject, 0)
        if not expected:
            return []
        sub = await js.pull_subscribe(subject, durable=None)
        out: list[dict[str, Any]] = []
        while len(out) < expected:
            for message in await sub.fetch(min(expected - len(out), 1000), timeout=5):
                out.append(json.loads(message.data))
                await message.ack()
        await sub.unsubscribe()
        await asyncio.sleep(0)
        return out
    finally:
        await connection.close()


@pytest.fixture
def events(nats_server: NatsServer) -> Callable[[str], Any]:
    """`await events("mentoring.employee.updated")`: what reached NATS on a subject."""

    async def read(subject: str) -> list[dict[str, Any]]:
        return await published(nats_server.url, subject)

    return read
