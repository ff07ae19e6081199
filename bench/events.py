"""Commit-to-delivery latency of one event: outbox commit -> relay -> JetStream -> consumer.

Run: `python -m bench.events` (part of `make bench`). Uses a real nats-server on
a free port, SQLite (or BENCH_DATABASE_URL's PostgreSQL server) and two real
service apps in this process, so both timestamps come from one clock.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.engine import make_url
from sqlmodel.ext.asyncio.session import AsyncSession

from enrolment.config import EnrolmentSettings
from enrolment.main import SERVICE as ENROLMENT
from tests.support.nats import NatsServer
from tests.support.stack import TEST_JWT_SECRET, serve
from upward_common.events import CloudEvent, PairEnded, utcnow
from upward_common.outbox import emit
from upward_common.service import ServiceDefinition

EVENTS = 300


def database_url(tmp: Path, name: str) -> tuple[str, str | None]:
    server = os.environ.get("BENCH_DATABASE_URL")
    if not server:
        return f"sqlite+aiosqlite:///{tmp / name}.db", None
    database = f"upward_bench_{uuid.uuid4().hex[:8]}_{name}"
    admin = make_url(server).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    url = make_url(server).set(drivername="postgresql+psycopg", database=database)
    return url.render_as_string(hide_password=False), database


def drop(database: str | None) -> None:
    if database is None:
        return
    server = os.environ["BENCH_DATABASE_URL"]
    admin = make_url(server).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


async def measure() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        nats_server = NatsServer(tmp / "js")
        nats_server.start()
        created: list[str | None] = []
        try:
            received: dict[str, float] = {}
            arrived = asyncio.Event()

            async def on_event(session: AsyncSession, envelope: CloudEvent, data: Any) -> None:
                received[envelope.id] = time.perf_counter()
                arrived.set()

            def settings(name: str) -> EnrolmentSettings:
                url, database = database_url(tmp, name)
                created.append(database)
                return EnrolmentSettings(environment="test", jwt_secret=TEST_JWT_SECRET,
                                         nats_url=nats_server.url, database_url=url,
                                         log_level="WARNING")

            producer = ENROLMENT.create_app(settings("producer"))
            consumer_definition = ServiceDefinition(
                name="latency", title="latency", description="", settings_cls=EnrolmentSettings,
                migrations_dir=ENROLMENT.migrations_dir, routers=[], handlers={PairEnded: on_event},
            )
            consumer = consumer_definition.create_app(settings("consumer"))
            async with serve("producer", producer) as p, serve("consumer", consumer) as c:
                while not (p.app.state.bus.is_connected and c.app.state.bus.is_connected):
                    await asyncio.sleep(0.05)
                await asyncio.sleep(1.0)  # consumer subscribed
                latencies = []
                for _ in range(EVENTS):
                    arrived.clear()
                    async with p.app.state.sessionmaker() as session:
                        envelope = emit(session, PairEnded(pair_id="p", programme_id="g",
                                                           reason="admin", occurred_at=utcnow()),
                                        source="/bench")
                        await session.commit()
                        committed = time.perf_counter()
                    await asyncio.wait_for(arrived.wait(), timeout=10)
                    latencies.append((received[envelope.id] - committed) * 1000)
            latencies.sort()
            return {
                "events": EVENTS,
                "p50_ms": statistics.median(latencies),
                "p99_ms": latencies[int(len(latencies) * 0.99) - 1],
                "max_ms": latencies[-1],
            }
        finally:
            nats_server.stop()
            for database in created:
                drop(database)


def main() -> None:
    backend = "postgresql" if os.environ.get("BENCH_DATABASE_URL") else "sqlite"
    result = asyncio.run(measure())
    print(f"event commit-to-delivery latency ({backend}, {result['events']} events, one at a "
          f"time): p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms, "
          f"max {result['max_ms']:.1f} ms")


if __name__ == "__main__":
    main()
