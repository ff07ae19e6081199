"""Analytics over a generated history: ingest, dashboards and the retention report, a rebuild.

Run: `python -m bench analytics` (`make bench BENCH=analytics`) for the full size, 100,000
employees (15 % of them leavers, 5 % promoted once), 20,000 pairs of 40,000 participants in
20 programmes and 500,000 sessions (each scheduled; 80 % held, 10 % cancelled), about 1.1
million events; or `python -m bench.analytics 10k` (BENCH_EMPLOYEES works too) for a
smaller history in the same proportions (pairs = employees / 5, sessions = employees * 5).
For each database, in one run and on a nats-server of its own:

- the history is published straight to JetStream, as the other services' relays would;
- (a) ingest: a raw nats-py pull consumer (fetch a batch, ack each message, no database,
  no parsing) reads every message, then analytics, on a fresh migrated database, from its
  start until its durable consumer has acknowledged the whole history (the milestones it
  announces meanwhile come on top); the rate of each and analytics' share of raw (target
  at least 40 %);
- (b) queries over it through the HTTP API, each repeated: a programme's summary, health
  and celebrations, the batch health of every programme, a programme's retention report
  and the one across programmes: p50 and p99 (target p99 under 200 ms on PostgreSQL). A
  retention report's first request computes and stores it and is timed on its own
  (cold); the repeated ones that follow read the stored report;
- (c) a full rebuild (`POST /api/v1/admin/rebuild` until its status says it succeeded):
  its time, and that the summary answers the same after it.

SQLite always; PostgreSQL too when BENCH_DATABASE_URL (or TEST_DATABASE_URL) names a server
(fresh databases, dropped afterwards). Figures go to stdout; they mean something only on an
otherwise idle machine.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import nats
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from analytics.main import SERVICE as ANALYTICS
from bench.consumers import database_server, size
from bench.enrolment import Databases
from tests.support.nats import NatsServer
from tests.support.stack import TEST_JWT_SECRET, TEST_PULSE_SURVEY_SECRET, serve
from upward_common.auth import mint_token
from upward_common.bus import ensure_streams
from upward_common.db import upgrade
from upward_common.events import (
    STREAM,
    EmployeeSnapshot,
    EmployeeUpdated,
    EventData,
    PairEnded,
    PairFormed,
    ParticipantEnrolled,
    ParticipantState,
    ProgrammeSnapshot,
    ProgrammeUpdated,
    SessionCancelled,
    SessionLogged,
    SessionScheduled,
)
from upward_common.settings import ServiceSettings

TARGET_SHARE = 0.40
TARGET_P99_MS = 200.0
PROGRAMMES = 20
LIMIT_SECONDS = float(os.environ.get("BENCH_ANALYTICS_LIMIT", "3600"))
REPEATS = int(os.environ.get("BENCH_ANALYTICS_REPEATS", "20"))
POLL_SECONDS = 0.1
BATCH = ServiceSettings.model_fields["consumer_batch_size"].default
ANALYTICS_SUBJECTS = sorted({model.nats_subject() for model in ANALYTICS.handlers})
T0 = datetime(2023, 1, 2, 9, tzinfo=UTC)
AS_OF = "2026-06-30"


def history(employees: int, seed: int = 14) -> Iterator[EventData]:
    """The generated history, in the order the platform would publish it."""
    rng = random.Random(seed)
    pairs, sessions = employees // 5, employees * 5
    programmes = [f"bench-p{n}" for n in range(PROGRAMMES)]
    for n, programme_id in enumerate(programmes):
        yield ProgrammeUpdated(programme=ProgrammeSnapshot(
            programme_id=programme_id, name=f"Programme {n}", status="running"),
            occurred_at=T0)
    people: list[EmployeeSnapshot] = []
    for n in range(employees):
        hire = date(2012, 1, 2) + timedelta(days=rng.randrange(0, 11 * 365))
        leaves = rng.random() < 0.15
        person = EmployeeSnapshot(
            employee_id=f"bench-e{n}", external_id=f"x{n}", email=f"e{n}@example.com",
            given_name="Ada", family_name="Lovelace", job_level=rng.randint(1, 9),
            department=f"dept-{rng.randrange(30)}", hire_on=hire,
            leave_on=date(2023, 6, 1) + timedelta(days=rng.randrange(0, 1000))
            if leaves else None, active=not leaves)
        people.append(person)
        yield EmployeeUpdated(employee=person, occurred_at=T0)
    for person in rng.sample(people, employees // 20):
        yield EmployeeUpdated(employee=person.model_copy(update={
            "job_level": (person.job_level or 1) + 1}), occurred_at=T0 + timedelta(days=300))
    chosen = rng.sample(people, 2 * pairs)
    for p in range(pairs):
        programme_id = programmes[p % PROGRAMMES]
        mentor, mentee = chosen[2 * p], chosen[2 * p + 1]
        start = T0 + timedelta(days=rng.randrange(0, 700))
        for role, person in (("mentor", mentor), ("mentee", mentee)):
            yield ParticipantEnrolled(participant=ParticipantState(
                participant_id=f"pt-{person.employee_id}", programme_id=programme_id,
                role=role, employee=person), occurred_at=start)
        pair_id = f"bench-pair{p}"
        yield PairFormed(pair_id=pair_id, programme_id=programme_id,
                         mentor_participant_id=f"pt-{mentor.employee_id}",
                         mentee_participant_id=f"pt-{mentee.employee_id}",
                         mentor_employee_id=mentor.employee_id,
                         mentee_employee_id=mentee.employee_id, score=0.5,
                         occurred_at=start + timedelta(days=7))
        for s in range(sessions // pairs):
            session_id = f"{pair_id}-s{s}"
            when = start + timedelta(days=14 * (s + 1))
            yield SessionScheduled(session_id=session_id, pair_id=pair_id,
                                   programme_id=programme_id, starts_at=when,
                                   duration_minutes=60, occurred_at=when - timedelta(days=7))
            fate = rng.random()
            if fate < 0.8:
                yield SessionLogged(session_id=session_id, pair_id=pair_id,
                                    programme_id=programme_id, held_at=when,
                                    duration_minutes=45, occurred_at=when,
                                    logged_by_employee_id=mentor.employee_id)
            elif fate < 0.9:
                yield SessionCancelled(session_id=session_id, pair_id=pair_id,
                                       programme_id=programme_id, reason="ill",
                                       occurred_at=when - timedelta(days=1))
        if rng.random() < 0.4:
            yield PairEnded(pair_id=pair_id, programme_id=programme_id,
                            reason=rng.choice(["completed", "completed", "poor_fit"]),
                            occurred_at=start + timedelta(days=200))


async def publish(nc: Any, js: JetStreamContext, employees: int) -> int:
    """Every event of the history into JetStream; the stream's last sequence after it."""
    sent = 0
    for data in history(employees):
        envelope = data.envelope(source="/upward/bench")
        # A core publish the stream captures: no round trip per message.
        await nc.publish(data.nats_subject(),
                         envelope.model_dump_json(exclude_none=True).encode())
        sent += 1
        if sent % 5000 == 0:
            await nc.flush(timeout=30)
    await nc.flush(timeout=30)
    started = time.perf_counter()
    while (info := await js.stream_info(STREAM)).state.messages < sent:
        if time.perf_counter() - started > 60:
            raise RuntimeError(f"only {info.state.messages} of {sent} events reached JetStream")
        await asyncio.sleep(POLL_SECONDS)
    return int(info.state.last_seq)


async def raw_consumer(js: JetStreamContext, expected: int) -> dict[str, Any]:
    """A plain pull consumer on every subject: fetch a batch, ack each message."""
    durable = f"bench-raw-{uuid.uuid4().hex[:6]}"
    config = ConsumerConfig(durable_name=durable, deliver_policy=DeliverPolicy.ALL,
                            ack_policy=AckPolicy.EXPLICIT, ack_wait=30,
                            max_ack_pending=BATCH * 16, filter_subjects=ANALYTICS_SUBJECTS)
    started = time.perf_counter()
    subscription = await js.pull_subscribe("", durable=durable, stream=STREAM, config=config)
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
        seconds = time.perf_counter() - started
    finally:
        await subscription.unsubscribe()
        await js.delete_consumer(STREAM, durable)
    return {"seconds": seconds, "events": read}


async def acked_to(js: JetStreamContext, durable: str) -> int:
    try:
        info = await js.consumer_info(STREAM, durable)
    except NotFoundError:
        return 0
    return int(info.ack_floor.stream_seq or 0) if info.ack_floor else 0


def percentiles(seconds: list[float]) -> tuple[float, float]:
    ordered = sorted(seconds)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p99 * 1000


async def timed_get(client: httpx.AsyncClient, name: str, path: str,
                    params: dict[str, Any]) -> float:
    started = time.perf_counter()
    response = await client.get(path, params=params)
    seconds = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"{name}: {response.status_code} {response.text[:300]}")
    return seconds


async def queries(client: httpx.AsyncClient
                  ) -> tuple[dict[str, tuple[float, float]], dict[str, float]]:
    """p50 and p99 (ms) of each query's repeated requests; and, of the retention reports,
    the first request's time (ms), which computes the report and stores it."""
    ids = [f"bench-p{n}" for n in range(PROGRAMMES)]
    # (path, query, repeats, whether the first request is timed on its own)
    asked: dict[str, tuple[str, dict[str, Any], int, bool]] = {
        "summary": ("/api/v1/programmes/bench-p0/summary", {}, REPEATS, False),
        "health": ("/api/v1/programmes/bench-p0/health", {}, REPEATS, False),
        "batch health (every programme)": ("/api/v1/batch/programme-health", {"id": ids},
                                           REPEATS, False),
        "celebrations": ("/api/v1/programmes/bench-p0/celebrations", {}, REPEATS, False),
        "retention (a programme)": ("/api/v1/programmes/bench-p0/retention",
                                    {"as_of": AS_OF}, REPEATS, True),
        "retention (every programme)": ("/api/v1/retention", {"as_of": AS_OF}, REPEATS,
                                        True),
    }
    found: dict[str, tuple[float, float]] = {}
    cold: dict[str, float] = {}
    for name, (path, params, repeats, first_apart) in asked.items():
        if first_apart:
            cold[name] = await timed_get(client, name, path, params) * 1000
        times = [await timed_get(client, name, path, params) for _ in range(repeats)]
        found[name] = percentiles(times)
    return found, cold


async def rebuild(client: httpx.AsyncClient) -> dict[str, Any]:
    before = (await client.get("/api/v1/programmes/bench-p0/summary")).json()
    started = time.perf_counter()
    response = await client.post("/api/v1/admin/rebuild")
    if response.status_code != 202:
        raise RuntimeError(f"rebuild: {response.status_code} {response.text[:300]}")
    while (status := (await client.get("/api/v1/admin/rebuild")).json())["state"] == "running":
        if time.perf_counter() - started > LIMIT_SECONDS:
            break
        await asyncio.sleep(POLL_SECONDS)
    seconds = time.perf_counter() - started
    after = (await client.get("/api/v1/programmes/bench-p0/summary")).json()
    return {"seconds": seconds, "status": status, "same": before == after}


async def measure(backend: str, server: str | None, employees: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        databases = Databases(tmp, server)
        nats_server = NatsServer(tmp / "jetstream")
        nats_server.start()
        connection = await nats.connect(nats_server.url)
        try:
            js = connection.jetstream()
            await ensure_streams(js, 1)  # the streams as the services create them
            started = time.perf_counter()
            last = await publish(connection, js, employees)
            result: dict[str, Any] = {"backend": backend, "employees": employees,
                                      "events": last,
                                      "publish_s": time.perf_counter() - started}
            result["raw"] = await raw_consumer(js, last)
            url = databases.new("analytics")
            await asyncio.to_thread(upgrade, ANALYTICS.migrations_dir, url)
            settings = ANALYTICS.settings_cls(
                environment="test", jwt_secret=TEST_JWT_SECRET,
                pulse_survey_secret=TEST_PULSE_SURVEY_SECRET, nats_url=nats_server.url,
                database_url=url, log_level="WARNING", migrate_on_start=False)
            token = mint_token(settings, roles=["hr_admin"])
            started = time.perf_counter()
            async with serve("analytics", ANALYTICS.create_app(settings)) as running:
                while (acked := await acked_to(js, ANALYTICS.name)) < last:
                    if time.perf_counter() - started > LIMIT_SECONDS:
                        break
                    await asyncio.sleep(POLL_SECONDS)
                result["ingest"] = {"seconds": time.perf_counter() - started,
                                    "done": acked >= last, "acked_to": acked}
                async with httpx.AsyncClient(base_url=running.url, timeout=LIMIT_SECONDS,
                                             headers={"Authorization": f"Bearer {token}"}
                                             ) as client:
                    result["queries"], result["cold"] = await queries(client)
                    result["rebuild"] = await rebuild(client)
            return result
        finally:
            await connection.close()
            nats_server.stop()
            databases.drop_all()


def report(result: dict[str, Any]) -> None:
    backend = result["backend"]
    raw, ingest = result["raw"], result["ingest"]
    raw_rate = raw["events"] / raw["seconds"]
    rate = result["events"] / ingest["seconds"]
    share = rate / raw_rate
    print(f"[{backend}] {result['employees']} employees, {result['events']} events "
          f"(published in {result['publish_s']:.1f} s); fetch batch {BATCH}")
    print(f"  raw nats-py pull consumer : {raw['seconds']:8.2f} s {raw_rate:9.0f} events/s")
    met = share >= TARGET_SHARE and ingest["done"]
    line = (f"  analytics ingest          : {ingest['seconds']:8.2f} s {rate:9.0f} events/s"
            f" = {share:.0%} of raw (target >= {TARGET_SHARE:.0%}: "
            f"{'met' if met else 'MISSED'})")
    if not ingest["done"]:
        line += f"  NOT DONE (acked up to {ingest['acked_to']} of {result['events']})"
    print(line)
    for name, (p50, p99) in result["queries"].items():
        first = result["cold"].get(name)
        print(f"  {name:<32}: p50 {p50:8.1f} ms  p99 {p99:8.1f} ms"
              f"{'' if p99 < TARGET_P99_MS else f'  (over {TARGET_P99_MS:.0f} ms)'}"
              f"{'' if first is None else f'; first (cold) {first:.1f} ms'}")
    rebuilt = result["rebuild"]
    status = rebuilt["status"]
    print(f"  rebuild                   : {rebuilt['seconds']:8.2f} s, {status['state']}, "
          f"{status['events_applied']} events applied, {status['events_skipped']} skipped; "
          f"summary {'unchanged' if rebuilt['same'] else 'CHANGED'}", flush=True)


def main(argv: list[str] | None = None) -> None:
    employees = size(argv or [])
    report(asyncio.run(measure("sqlite", None, employees)))
    server = database_server()
    if server:
        report(asyncio.run(measure("postgresql", server, employees)))
    else:
        print("[postgresql] skipped: set BENCH_DATABASE_URL to a server to measure it")


if __name__ == "__main__":
    main(sys.argv[1:])
