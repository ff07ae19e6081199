"""Consumers: how fast matching and analytics apply a 100,000-employee HRIS import.

Run: `python -m bench consumers` (part of `make bench`), or `python -m bench.consumers 10k`
for another size (BENCH_EMPLOYEES works too), optionally followed by the consumers to
measure (`python -m bench.consumers 10k analytics`; BENCH_CONSUMERS=analytics works too;
every one by default). For each database, in one run and on one nats-server:

- enrolment imports the employees (bench.enrolment's generated company, as CSV through
  `POST /api/v1/employees/import`) and its relay puts one `employee.updated` event per
  person in JetStream; enrolment then stops;
- a raw nats-py pull consumer (fetch a batch, ack each message, no database, no parsing)
  reads the same events on the same stream: the raw rate the target is set against;
- the same raw consumer fetching with the kernel's `Pull` (upward_common.pull), which the
  services' consumers use and which is cheaper than nats-py's `fetch`: printed with the
  consumers' share of it, for the record (the target stays the one against nats-py);
- matching, then analytics, each alone on a fresh, migrated database, from its start
  until its durable consumer has nothing pending or unacknowledged (consumer info
  `num_pending == 0` and `num_ack_pending == 0`); each then must hold every employee.

Per database it prints the raw rate, each consumer's rate and its share of the raw
rate, and whether every consumer met the target (at least 40 % of raw).

The services run one after another in this process, so each has the event loop (and a
core) to itself, as it would in a deployment. SQLite always; PostgreSQL too when
BENCH_DATABASE_URL (or TEST_DATABASE_URL) names a server (fresh databases, dropped
afterwards). Figures go to stdout; they mean something only on an otherwise idle machine.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import nats
from nats.aio.client import Client
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from sqlmodel import SQLModel, func, select

from analytics.main import SERVICE as ANALYTICS
from analytics.models import Employee as AnalyticsEmployee
from bench.enrolment import Databases, generate, published_count, to_csv
from enrolment.config import EnrolmentSettings
from enrolment.main import SERVICE as ENROLMENT
from matching.main import SERVICE as MATCHING
from matching.models import MatchingEmployee
from tests.support.nats import NatsServer
from tests.support.stack import TEST_JWT_SECRET, TEST_PULSE_SURVEY_SECRET, serve
from upward_common.auth import mint_token
from upward_common.db import upgrade
from upward_common.events import STREAM, EmployeeUpdated
from upward_common.pull import Pull
from upward_common.service import ServiceDefinition
from upward_common.settings import ServiceSettings

DEFAULT_EMPLOYEES = 100_000
TARGET_SHARE = 0.40
# Past this a consumer is reported as not done, with how far it got.
LIMIT_SECONDS = float(os.environ.get("BENCH_CONSUMERS_LIMIT", "1800"))
POLL_SECONDS = 0.1
SUBJECT = EmployeeUpdated.nats_subject()
BATCH = ServiceSettings.model_fields["consumer_batch_size"].default
CONSUMERS: tuple[tuple[ServiceDefinition, type[SQLModel]], ...] = (
    (MATCHING, MatchingEmployee),
    (ANALYTICS, AnalyticsEmployee),
)


def size(argv: list[str]) -> int:
    """`10k`, `100000` or `1m` from the command line, else BENCH_EMPLOYEES, else 100,000."""
    text = (argv[0] if argv else os.environ.get("BENCH_EMPLOYEES", "")).strip().lower()
    if not text:
        return DEFAULT_EMPLOYEES
    factor = {"k": 1_000, "m": 1_000_000}.get(text[-1], 1)
    return int(float(text[:-1] if factor > 1 else text) * factor)


def chosen(argv: list[str]) -> tuple[tuple[ServiceDefinition, type[SQLModel]], ...]:
    """The consumers named after the size (or in BENCH_CONSUMERS), else all of them."""
    names = set(argv[1:] or filter(None, os.environ.get("BENCH_CONSUMERS", "").split(",")))
    unknown = names - {definition.name for definition, _ in CONSUMERS}
    if unknown:
        raise SystemExit(f"unknown consumers: {', '.join(sorted(unknown))}")
    return tuple(c for c in CONSUMERS if not names or c[0].name in names)


def database_server() -> str | None:
    return os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")


async def import_employees(databases: Databases, nats_url: str, js: JetStreamContext,
                           body: bytes, expected: int) -> dict[str, float]:
    """Enrolment imports the CSV; returns once every employee.updated is in the stream."""
    settings = EnrolmentSettings(environment="test", jwt_secret=TEST_JWT_SECRET,
                                 nats_url=nats_url, database_url=databases.new("enrolment"),
                                 log_level="WARNING")
    token = mint_token(settings, roles=["hris"])
    async with serve("enrolment", ENROLMENT.create_app(settings)) as running:
        while not running.app.state.bus.is_connected:
            await asyncio.sleep(0.05)
        async with httpx.AsyncClient(base_url=running.url, timeout=1800, headers={
                "Authorization": f"Bearer {token}"}) as client:
            started = time.perf_counter()
            response = await client.post("/api/v1/employees/import", content=body,
                                         headers={"content-type": "text/csv"})
            imported = time.perf_counter()
            if response.status_code != 200 or response.json().get("created") != expected:
                raise RuntimeError(f"import failed: {response.status_code} {response.text[:500]}")
        while await published_count(js, SUBJECT) < expected:
            if time.perf_counter() - imported > LIMIT_SECONDS:
                raise RuntimeError("the import's events did not all reach JetStream")
            await asyncio.sleep(POLL_SECONDS)
        return {"import_s": imported - started, "publish_s": time.perf_counter() - imported}


async def drained(js: JetStreamContext, durable: str) -> tuple[bool, int]:
    """Whether the durable consumer has nothing pending or unacknowledged; what it acked."""
    try:
        info = await js.consumer_info(STREAM, durable)
    except NotFoundError:
        return False, 0
    acked = info.ack_floor.stream_seq if info.ack_floor and info.ack_floor.stream_seq else 0
    return info.num_pending == 0 and info.num_ack_pending == 0 and acked > 0, acked


async def raw_consumer(js: JetStreamContext, expected: int,
                       nc: Client | None = None) -> dict[str, Any]:
    """A plain pull consumer on the same subject: fetch a batch, ack each message; with
    `nc`, fetched by the kernel's `Pull` (what the services' consumers use) instead of
    nats-py's `fetch`."""
    durable = f"bench-raw-{uuid.uuid4().hex[:6]}"
    config = ConsumerConfig(durable_name=durable, deliver_policy=DeliverPolicy.ALL,
                            ack_policy=AckPolicy.EXPLICIT, ack_wait=30,
                            max_ack_pending=BATCH * 16, filter_subject=SUBJECT)
    started = time.perf_counter()
    subscription: Any
    if nc is None:
        subscription = await js.pull_subscribe(SUBJECT, durable=durable, stream=STREAM,
                                               config=config)
    else:
        await js.add_consumer(STREAM, config)
        subscription = await Pull(nc, STREAM, durable).open()
    read = 0
    try:
        while read < expected and time.perf_counter() - started < LIMIT_SECONDS:
            try:
                messages = await subscription.fetch(BATCH, timeout=1.0)
            except (NatsTimeout, TimeoutError):
                continue
            for message in messages:
                await message.ack()
            read += len(messages)
        while not (await drained(js, durable))[0]:
            if time.perf_counter() - started > LIMIT_SECONDS:
                break
            await asyncio.sleep(POLL_SECONDS / 10)
        seconds = time.perf_counter() - started
    finally:
        await (subscription.unsubscribe() if nc is None else subscription.close())
        await js.delete_consumer(STREAM, durable)
    name = "raw nats-py pull consumer" if nc is None else "raw pull, the kernel's fetch"
    return {"name": name, "seconds": seconds, "events": read, "done": read >= expected}


async def service_consumer(definition: ServiceDefinition, model: type[SQLModel],
                           databases: Databases, nats_url: str, js: JetStreamContext,
                           expected: int) -> dict[str, Any]:
    """The service from its start until its durable consumer has applied and acked it all."""
    url = databases.new(definition.name)
    await asyncio.to_thread(upgrade, definition.migrations_dir, url)
    settings = definition.settings_cls(environment="test", jwt_secret=TEST_JWT_SECRET,
                                       pulse_survey_secret=TEST_PULSE_SURVEY_SECRET,
                                       nats_url=nats_url, database_url=url,
                                       log_level="WARNING", migrate_on_start=False)
    started = time.perf_counter()
    async with serve(definition.name, definition.create_app(settings)) as running:
        acked = 0
        done = False
        while time.perf_counter() - started < LIMIT_SECONDS:
            done, acked = await drained(js, definition.name)
            if done:
                break
            await asyncio.sleep(POLL_SECONDS)
        seconds = time.perf_counter() - started
        async with running.app.state.sessionmaker() as session:
            rows = int(await session.scalar(select(func.count()).select_from(model)) or 0)
    return {"name": f"{definition.name} consumer", "seconds": seconds, "events": expected,
            "done": done, "acked_to": acked, "rows": rows}


async def measure(backend: str, server: str | None, expected: int, body: bytes,
                  consumers: tuple[tuple[ServiceDefinition, type[SQLModel]], ...]
                  ) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        databases = Databases(tmp, server)
        nats_server = NatsServer(tmp / "jetstream")
        nats_server.start()
        connection = await nats.connect(nats_server.url)
        try:
            js = connection.jetstream()
            result: dict[str, Any] = {"backend": backend, "employees": expected}
            result.update(await import_employees(databases, nats_server.url, js, body,
                                                 expected))
            result["raw"] = await raw_consumer(js, expected)
            result["raw_kernel"] = await raw_consumer(js, expected, connection)
            result["consumers"] = [
                await service_consumer(definition, model, databases, nats_server.url, js,
                                       expected)
                for definition, model in consumers
            ]
            return result
        finally:
            await connection.close()
            nats_server.stop()
            databases.drop_all()


def report(result: dict[str, Any]) -> None:
    n = result["employees"]
    raw = result["raw"]
    raw_rate = raw["events"] / raw["seconds"]
    print(f"[{result['backend']}] {n} employee.updated events (import {result['import_s']:.1f} s, "
          f"all in JetStream {result['publish_s']:.1f} s later); fetch batch {BATCH}")
    short = "" if raw["done"] else f"  (read only {raw['events']})"
    print(f"  {raw['name']:<28}: {raw['seconds']:7.2f} s  {raw_rate:9.0f} events/s{short}")
    missed = []
    for consumer in result["consumers"]:
        rate = n / consumer["seconds"]
        share = rate / raw_rate
        met = share >= TARGET_SHARE and consumer["done"] and consumer["rows"] == n
        if not met:
            missed.append(consumer["name"])
        line = (f"  {consumer['name']:<28}: {consumer['seconds']:7.2f} s  {rate:9.0f} events/s"
                f"  = {share:.0%} of raw (target >= {TARGET_SHARE:.0%}: "
                f"{'met' if met else 'MISSED'})")
        if not consumer["done"]:
            line += (f"  NOT DONE within {LIMIT_SECONDS:.0f} s "
                     f"(acked up to stream sequence {consumer['acked_to']})")
        print(line)
        if consumer["rows"] != n:
            print(f"    {consumer['name']} holds {consumer['rows']} of {n} employees")
    kernel = result["raw_kernel"]
    kernel_rate = kernel["events"] / kernel["seconds"]
    shares = ", ".join(f"{c['name'].split()[0]} {n / c['seconds'] / kernel_rate:.0%}"
                       for c in result["consumers"])
    print(f"  {kernel['name']:<28}: {kernel['seconds']:7.2f} s  {kernel_rate:9.0f} events/s"
          f"  (not the target's raw; the consumers' share of it: {shares})")
    verdict = f"MISSED by {', '.join(missed)}" if missed else "met by every consumer"
    print(f"  [{result['backend']}] target (each consumer >= {TARGET_SHARE:.0%} of raw): "
          f"{verdict}", flush=True)


def main(argv: list[str] | None = None) -> None:
    employees = size(argv or [])
    consumers = chosen(argv or [])
    people = generate(employees)
    body = to_csv(people)
    print(f"generated {len(people)} employees ({len(body) / 1e6:.1f} MB CSV, shuffled)",
          flush=True)
    report(asyncio.run(measure("sqlite", None, len(people), body, consumers)))
    server = database_server()
    if server:
        report(asyncio.run(measure("postgresql", server, len(people), body, consumers)))
    else:
        print("[postgresql] skipped: set BENCH_DATABASE_URL to a server to measure it")


if __name__ == "__main__":
    main(sys.argv[1:])
