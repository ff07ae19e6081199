"""`python -m analytics rebuild`: rebuild every read model by replaying the stream.

Run it while the analytics service is stopped (or scaled to zero), or use
`POST /api/v1/admin/rebuild`, which pauses the service's own consumer: this command
cannot pause a running service's consumer. On PostgreSQL the rebuild's table locks make
running consumers wait for it; on SQLite a running service's writes would wait on the
database lock, past their busy timeout.
"""

from __future__ import annotations

import asyncio
import sys

from prometheus_client import CollectorRegistry

from analytics.config import AnalyticsSettings
from analytics.main import SERVICE
from analytics.rebuild import Replay, rebuild
from upward_common.bus import Bus
from upward_common.consumer import EventConsumer
from upward_common.db import create_engine, make_sessionmaker, upgrade_async
from upward_common.logs import configure_logging
from upward_common.outbox import SOURCE_KEY

USAGE = "usage: python -m analytics rebuild"


async def run_rebuild(settings: AnalyticsSettings) -> Replay:
    """Migrate, connect, replay; the figures of the rebuild."""
    await upgrade_async(SERVICE.migrations_dir, settings.database_url)
    engine = create_engine(settings.database_url)
    bus = Bus(settings.nats_url, name="analytics-rebuild",
              reconnect_wait=settings.nats_reconnect_wait_seconds,
              replicas=settings.stream_replicas)
    bus.start()
    try:
        await asyncio.wait_for(bus.ready.wait(), timeout=30)
        assert bus.js is not None
        sessionmaker = make_sessionmaker(engine, **{SOURCE_KEY: SERVICE.source})
        # Only its parser and handlers are used: it never fetches from the durable consumer.
        consumer = EventConsumer(
            service=SERVICE.name, bus=bus, sessionmaker=sessionmaker,
            handlers=SERVICE.handlers, batch_size=settings.consumer_batch_size,
            max_deliver=settings.consumer_max_deliver,
            backoff_seconds=settings.consumer_backoff_seconds,
            ack_wait_seconds=settings.consumer_ack_wait_seconds,
            registry=CollectorRegistry())
        return await rebuild(sessionmaker, bus.js, consumer)
    finally:
        await bus.close()
        await engine.dispose()


def main(argv: list[str]) -> int:
    if argv != ["rebuild"]:
        print(USAGE, file=sys.stderr)
        return 2
    settings = AnalyticsSettings()
    configure_logging(SERVICE.name, settings.log_level)
    done = asyncio.run(run_rebuild(settings))
    print(f"rebuilt: {done.applied} events applied, {done.skipped} skipped, "
          f"up to stream sequence {done.up_to_sequence}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
