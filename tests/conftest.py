"""Fixtures shared by the whole suite: real NATS, fresh databases, settings, tokens."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import nats
import pytest

from tests.support.databases import DatabaseFactory
from tests.support.nats import NatsServer
from tests.support.stack import (
    TEST_JWT_SECRET,
    TEST_PULSE_SURVEY_SECRET,
    Running,
    serve,
    wait_until,
)
from tests.support.stream import Stream
from upward_common.auth import mint_token
from upward_common.settings import UpwardSettings


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    """A nats-server of this test's own: fresh stream, fresh consumers."""
    server = NatsServer(tmp_path / "jetstream")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def stream(nats_server: NatsServer) -> AsyncIterator[Stream]:
    """Publish events to this test's JetStream as another service would, and read them."""
    nc = await nats.connect(nats_server.url)
    try:
        yield Stream(nc, nc.jetstream())
    finally:
        await nc.close()


@pytest.fixture
def databases(tmp_path: Path) -> Iterator[DatabaseFactory]:
    factory = DatabaseFactory(tmp_path)
    try:
        yield factory
    finally:
        factory.drop_all()


COMMON_TEST_SETTINGS: dict[str, Any] = {
    "environment": "test",
    "jwt_secret": TEST_JWT_SECRET,
    # Analytics' pulse survey key (the other services ignore it).
    "pulse_survey_secret": TEST_PULSE_SURVEY_SECRET,
    "nats_reconnect_wait_seconds": 0.2,
    "outbox_poll_seconds": 0.5,
    "consumer_backoff_seconds": [0.1, 0.2, 0.4, 0.8],
}


@pytest.fixture
def settings_for(
    nats_server: NatsServer, databases: DatabaseFactory
) -> Callable[..., Any]:
    """Settings for a service: a fresh database, this test's NATS, the test secret."""

    def make(settings_cls: type[Any], name: str, **overrides: Any) -> Any:
        values = dict(COMMON_TEST_SETTINGS)
        values.update(nats_url=nats_server.url, database_url=databases.new(name))
        values.update(overrides)
        return settings_cls(**values)

    return make


@pytest.fixture
def token() -> Callable[..., str]:
    """Mint a test token: token("hr_admin") or token("participant", employee_id=...)."""
    settings = UpwardSettings(environment="test", jwt_secret=TEST_JWT_SECRET)

    def make(*roles: str, employee_id: str | None = None) -> str:
        return mint_token(settings, roles=list(roles), employee_id=employee_id)

    return make


@pytest.fixture
def start_service(
    settings_for: Callable[..., Any],
) -> Callable[..., AbstractAsyncContextManager[Running]]:
    """`async with start_service("matching") as svc:` runs it on a free port until ready."""

    @asynccontextmanager
    async def start(name: str, **overrides: Any) -> AsyncIterator[Running]:
        definition = importlib.import_module(f"{name}.main").SERVICE
        settings = settings_for(definition.settings_cls, name, **overrides)
        async with serve(name, definition.create_app(settings)) as running:
            await wait_until(lambda: running.app.state.bus.is_connected)
            yield running

    return start
