"""The whole platform in a child process, for synchronous callers (fuzzers, tables).

Four services and the gateway run on real ports with a real nats-server, fresh databases
(SQLite, or PostgreSQL under TEST_DATABASE_URL) and their migrations, in a process of
their own: the caller is free to block (schemathesis and hypothesis do), and the two
never share an interpreter (CPython 3.11 can fail parsing source in two threads at once,
and the services build pydantic models while they answer).

`python -m tests.support.platform DIR` runs it until SIGTERM; it writes where each part
answers to DIR/urls.json and its logs to DIR/platform.log.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.stack import TEST_JWT_SECRET, TEST_PULSE_SURVEY_SECRET
from upward_common.auth import mint_token
from upward_common.settings import UpwardSettings

SERVICES = ("enrolment", "matching", "scheduling", "analytics")
ROOT = Path(__file__).resolve().parents[2]

# The suite's settings for a service under test (tests/conftest.py uses the same values).
SERVICE_SETTINGS: dict[str, Any] = {
    "environment": "test",
    "jwt_secret": TEST_JWT_SECRET,
    # Analytics' pulse survey key (the other services ignore it).
    "pulse_survey_secret": TEST_PULSE_SURVEY_SECRET,
    "nats_reconnect_wait_seconds": 0.2,
    "outbox_poll_seconds": 0.5,
    "consumer_backoff_seconds": [0.1, 0.2, 0.4, 0.8],
}


@dataclass
class RunningPlatform:
    """Where each part answers: `urls["enrolment"]`, ..., `urls["gateway"]`."""

    urls: dict[str, str] = field(default_factory=dict)
    log: Path | None = None
    settings: UpwardSettings = field(default_factory=lambda: UpwardSettings(
        environment="test", jwt_secret=TEST_JWT_SECRET))

    def token(self, *roles: str, employee_id: str | None = None) -> str:
        return mint_token(self.settings, roles=list(roles), employee_id=employee_id)


async def _serve(tmp: Path) -> None:
    from gateway.config import GatewaySettings
    from gateway.main import create_app as create_gateway
    from tests.support.databases import DatabaseFactory
    from tests.support.nats import NatsServer
    from tests.support.stack import serve

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    nats_server = NatsServer(tmp / "jetstream")
    nats_server.start()
    databases = DatabaseFactory(tmp)
    urls: dict[str, str] = {}
    try:
        async with AsyncExitStack() as stack:
            for name in SERVICES:
                definition = importlib.import_module(f"{name}.main").SERVICE
                settings = definition.settings_cls(
                    **SERVICE_SETTINGS, nats_url=nats_server.url,
                    database_url=databases.new(name))
                running = await stack.enter_async_context(
                    serve(name, definition.create_app(settings)))
                for _ in range(1000):
                    if running.app.state.bus.is_connected:
                        break
                    await asyncio.sleep(0.02)
                urls[name] = running.url
            gateway = await stack.enter_async_context(serve("gateway", create_gateway(
                GatewaySettings(environment="test", jwt_secret=TEST_JWT_SECRET,
                                enrolment_url=urls["enrolment"], matching_url=urls["matching"],
                                scheduling_url=urls["scheduling"],
                                analytics_url=urls["analytics"], nats_url=nats_server.url))))
            urls["gateway"] = gateway.url
            partial = tmp / "urls.json.part"
            partial.write_text(json.dumps(urls))
            partial.rename(tmp / "urls.json")
            await stop.wait()
    finally:
        databases.drop_all()
        nats_server.stop()


@contextmanager
def running_platform(tmp: Path, *, timeout: float = 120.0) -> Iterator[RunningPlatform]:
    """Start NATS, the four services and the gateway; stop them all when the block ends."""
    log = tmp / "platform.log"
    env = os.environ.copy()
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "tests.support.platform", str(tmp)],
                                   cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL)
    try:
        urls_file = tmp / "urls.json"
        deadline = time.monotonic() + timeout
        while not urls_file.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the platform did not start:\n{log.read_text()[-4000:]}")
            time.sleep(0.05)
        yield RunningPlatform(urls=json.loads(urls_file.read_text()), log=log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def wait_for(predicate: Any, *, timeout: float = 20.0, interval: float = 0.05) -> Any:
    """Poll a synchronous predicate until it returns a truthy value."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")


if __name__ == "__main__":
    asyncio.run(_serve(Path(sys.argv[1])))
