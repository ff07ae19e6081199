"""Scheduling: plans for 10,000 pairs formed at once, and calendar feeds of a year of sessions.

Run: `python -m bench scheduling` (part of `make bench`), or `python -m bench.scheduling 1k`
for another number of pairs (BENCH_PAIRS works too; default 10,000). For each database,
in one run and on one nats-server of its own:

- a programme (weekly sessions for 52 weeks) and one `participant.updated` per person
  (a mentor and a mentee per pair, in a handful of IANA zones, with weekday
  availability) go into JetStream, and scheduling applies them (not timed), then stops;
- one `pair.formed` per pair goes into the stream at once (published straight to
  JetStream, as matching's relay would);
- a raw nats-py pull consumer (fetch a batch, ack each message, no parsing, no
  database) reads the same `pair.formed` messages: the rate nothing can beat;
- scheduling starts again on its database and is timed from its start until its
  durable consumer has nothing pending or unacknowledged; then every pair must have
  its plan. Its rate is set against the raw one (target: at least 40 %).

Then the feeds, through scheduling's HTTP API (uvicorn on 127.0.0.1): the first
`FEEDS` mentees cancel one occurrence and move another through the API, the first
one moves three more (one with `scope: following`) and cancels three more; each
issues its feed address. Measured: `GET /api/v1/calendar/{token}.ics` of the first
mentee's feed `BENCH_FEED_REQUESTS` times one after another (p50/p99; target p99
under 20 ms; the first renders it, the others find it rendered, as a subscribed
calendar's next poll does), then `BENCH_COLD_FEEDS` (200) different feeds one after
another, each rendered afresh, and the `FEEDS` different feeds fetched at once under
a bound of `BENCH_FEED_CONCURRENCY` requests in flight (total time, p50/p99), each
rendered afresh too: the replica's rendered feeds are forgotten before each of these.

SQLite always; PostgreSQL too when BENCH_DATABASE_URL names a server (fresh
databases, dropped afterwards). Figures go to stdout; they mean something only on an
otherwise idle machine.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import nats
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from sqlmodel import func, select

from bench.consumers import drained
from bench.enrolment import Databases, published_count
from scheduling.main import SERVICE
from scheduling.models import Plan
from scheduling.service import RENDERED_FEEDS
from tests.support.nats import NatsServer
from tests.support.stack import TEST_JWT_SECRET, serve
from upward_common.auth import mint_token
from upward_common.bus import ensure_streams
from upward_common.db import upgrade
from upward_common.events import (
    STREAM,
    EmployeeSnapshot,
    EventData,
    PairFormed,
    ParticipantState,
    ParticipantUpdated,
    ProgrammeSnapshot,
    ProgrammeUpdated,
)
from upward_common.settings import ServiceSettings

DEFAULT_PAIRS = 10_000
TARGET_SHARE = 0.40
TARGET_FEED_P99_MS = 20.0
FEEDS = int(os.environ.get("BENCH_FEEDS", "1000"))
FEED_REQUESTS = int(os.environ.get("BENCH_FEED_REQUESTS", "500"))
FEED_CONCURRENCY = int(os.environ.get("BENCH_FEED_CONCURRENCY", "32"))
COLD_FEEDS = int(os.environ.get("BENCH_COLD_FEEDS", "200"))
LIMIT_SECONDS = float(os.environ.get("BENCH_SCHEDULING_LIMIT", "1800"))
POLL_SECONDS = 0.1
SUBJECT = PairFormed.nats_subject()
BATCH = ServiceSettings.model_fields["consumer_batch_size"].default
PROGRAMME = "bench-programme"
# Zones on both sides of the Atlantic and beyond, so some pairs share no hours and
# some series cross clock changes that differ between the two sides.
ZONES = ("Europe/London", "Europe/Berlin", "America/New_York", "America/Chicago",
         "Asia/Kolkata", "Asia/Tokyo", "Australia/Sydney", "UTC")
SOURCE = "//upward/bench"


def size(argv: list[str]) -> int:
    """`1k`, `10000` or `10k` from the command line, else BENCH_PAIRS, else 10,000."""
    text = (argv[0] if argv else os.environ.get("BENCH_PAIRS", "")).strip().lower()
    if not text:
        return DEFAULT_PAIRS
    factor = {"k": 1_000, "m": 1_000_000}.get(text[-1], 1)
    return int(float(text[:-1] if factor > 1 else text) * factor)


def employee(pair: int, role: str) -> str:
    return f"{role}-{pair:06d}"


def participant_event(pair: int, role: str, occurred_at: datetime) -> ParticipantUpdated:
    """A participant with weekday availability in their zone (two windows a day)."""
    zone = ZONES[(pair * (3 if role == "mentor" else 1)) % len(ZONES)]
    start = 8 + pair % 3
    windows = [{"weekday": day, "start": f"{start:02d}:00", "end": "12:00"} for day in range(5)]
    windows += [{"weekday": day, "start": "13:00", "end": f"{15 + pair % 3}:30"}
                for day in range(5)]
    employee_id = employee(pair, role)
    return ParticipantUpdated(
        participant=ParticipantState.model_validate({
            "participant_id": f"p-{employee_id}", "programme_id": PROGRAMME, "role": role,
            "employee": EmployeeSnapshot(
                employee_id=employee_id, external_id=employee_id,
                email=f"{employee_id}@corp.example", given_name="Bench", family_name=role,
                time_zone=zone),
            "availability": windows, "time_zone": zone}),
        occurred_at=occurred_at)


def pair_event(pair: int, occurred_at: datetime) -> PairFormed:
    return PairFormed(
        pair_id=f"pair-{pair:06d}", programme_id=PROGRAMME,
        mentor_participant_id=f"p-{employee(pair, 'mentor')}",
        mentee_participant_id=f"p-{employee(pair, 'mentee')}",
        mentor_employee_id=employee(pair, "mentor"), mentee_employee_id=employee(pair, "mentee"),
        score=0.5, occurred_at=occurred_at)


async def publish(js: JetStreamContext, events: list[EventData]) -> None:
    """Each event as its producer's relay would send it: the envelope, id as Nats-Msg-Id."""
    pending = []
    for data in events:
        envelope = data.envelope(source=SOURCE)
        pending.append(js.publish(data.nats_subject(),
                                  envelope.model_dump_json(exclude_none=True).encode(),
                                  headers={"Nats-Msg-Id": envelope.id}))
        if len(pending) >= 1000:
            await asyncio.gather(*pending)
            pending = []
    await asyncio.gather(*pending)


def settings_for(nats_url: str, database_url: str) -> Any:
    return SERVICE.settings_cls(environment="test", jwt_secret=TEST_JWT_SECRET,
                                nats_url=nats_url, database_url=database_url,
                                log_level="WARNING", migrate_on_start=False,
                                sweep_interval_seconds=0)


async def until_drained(js: JetStreamContext, started: float) -> tuple[bool, int]:
    done, acked = False, 0
    while time.perf_counter() - started < LIMIT_SECONDS:
        done, acked = await drained(js, SERVICE.name)
        if done:
            break
        await asyncio.sleep(POLL_SECONDS)
    return done, acked


async def raw_consumer(js: JetStreamContext, expected: int) -> dict[str, Any]:
    """A plain pull consumer of the `pair.formed` messages: fetch a batch, ack each."""
    durable = f"bench-raw-{uuid.uuid4().hex[:6]}"
    config = ConsumerConfig(durable_name=durable, deliver_policy=DeliverPolicy.ALL,
                            ack_policy=AckPolicy.EXPLICIT, ack_wait=30,
                            max_ack_pending=BATCH * 16, filter_subject=SUBJECT)
    started = time.perf_counter()
    subscription = await js.pull_subscribe(SUBJECT, durable=durable, stream=STREAM,
                                           config=config)
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
        await subscription.unsubscribe()
        await js.delete_consumer(STREAM, durable)
    return {"seconds": seconds, "events": read, "done": read >= expected}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def _change(client: httpx.AsyncClient, token: str, pair: int, *, moves: int,
                  cancels: int, following: bool) -> None:
    """A mentee moves and cancels some of their future occurrences through the API."""
    headers = {"Authorization": f"Bearer {token}"}
    response = await client.get(f"/api/v1/pairs/pair-{pair:06d}/plan", headers=headers)
    response.raise_for_status()
    occurrences = [o for o in response.json()["occurrences"] if o["status"] == "planned"]
    # Spread over the year: every fifth occurrence from the third on.
    chosen = occurrences[2::5][:moves + cancels + (1 if following else 0)]
    for index, occurrence in enumerate(chosen):
        path = f"/api/v1/sessions/{occurrence['session_id']}"
        if index < cancels:
            response = await client.post(f"{path}/cancel", headers=headers,
                                         json={"reason": "travelling"})
        else:
            starts_at = datetime.fromisoformat(occurrence["starts_at"]) + timedelta(hours=1)
            scope = "following" if following and index == len(chosen) - 1 else "this"
            response = await client.post(f"{path}/reschedule", headers=headers, json={
                "starts_at": starts_at.isoformat(), "scope": scope, "override": True})
        if response.status_code != 200:
            raise RuntimeError(f"{path}: {response.status_code} {response.text[:300]}")


async def _single(client: httpx.AsyncClient, path: str) -> list[float]:
    """The same feed `FEED_REQUESTS` times in turn, in ms each."""
    times: list[float] = []
    for _ in range(FEED_REQUESTS):
        began = time.perf_counter()
        response = await client.get(path)
        times.append((time.perf_counter() - began) * 1000)
        response.raise_for_status()
    return times


async def feeds(url: str, settings: Any, pairs: int, relay: Any) -> dict[str, Any]:
    """Change some occurrences, issue the feeds, then time fetching them: one feed while
    the relay still publishes the plans' events (the same process) and once it is done,
    then feeds rendered afresh, in turn and at once."""
    count = min(FEEDS, pairs)
    tokens = [mint_token(settings, roles=["participant"], employee_id=employee(i, "mentee"))
              for i in range(count)]
    limit = asyncio.Semaphore(FEED_CONCURRENCY)
    async with httpx.AsyncClient(base_url=url, timeout=120,
                                 limits=httpx.Limits(max_connections=FEED_CONCURRENCY)
                                 ) as client:
        started = time.perf_counter()

        # Writes a few at a time: SQLite takes one writer, and the others wait on its lock.
        writers = asyncio.Semaphore(4)

        async def prepare(i: int) -> str:
            async with writers:
                await _change(client, tokens[i], i, moves=3 if i == 0 else 1,
                              cancels=4 if i == 0 else 1, following=i == 0)
                response = await client.post("/api/v1/calendar-feeds", headers={
                    "Authorization": f"Bearer {tokens[i]}"})
                response.raise_for_status()
                return str(response.json()["path"])

        paths = await asyncio.gather(*(prepare(i) for i in range(count)))
        prepared = time.perf_counter() - started
        first = await client.get(paths[0])
        first.raise_for_status()
        body = first.text
        backlog = await relay.count_pending()
        single = await _single(client, paths[0])
        while await relay.count_pending() and time.perf_counter() - started < LIMIT_SECONDS:
            await asyncio.sleep(POLL_SECONDS)
        drained_s = time.perf_counter() - started
        quiet = await _single(client, paths[0])

        # Each feed rendered afresh: the replica's rendered feeds forgotten first (the
        # service runs in this process).
        RENDERED_FEEDS.clear()
        cold: list[float] = []
        for path in paths[:COLD_FEEDS]:
            began = time.perf_counter()
            response = await client.get(path)
            cold.append((time.perf_counter() - began) * 1000)
            response.raise_for_status()

        async def fetch(path: str) -> float:
            async with limit:
                began = time.perf_counter()
                response = await client.get(path)
                response.raise_for_status()
                return (time.perf_counter() - began) * 1000

        RENDERED_FEEDS.clear()
        began = time.perf_counter()
        many = await asyncio.gather(*(fetch(path) for path in paths))
        total = time.perf_counter() - began
    return {"prepare_s": prepared, "bytes": len(body), "events": body.count("BEGIN:VEVENT"),
            "exdates": body.count("EXDATE"), "overrides": body.count("RECURRENCE-ID"),
            "single": single, "backlog": backlog, "drained_s": drained_s, "quiet": quiet,
            "cold": cold, "many": list(many), "many_s": total, "feeds": count}


async def measure(backend: str, server: str | None, pairs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        databases = Databases(tmp, server)
        nats_server = NatsServer(tmp / "jetstream")
        nats_server.start()
        connection = await nats.connect(nats_server.url)
        try:
            js = connection.jetstream()
            await ensure_streams(js, 1)
            url = databases.new(SERVICE.name)
            await asyncio.to_thread(upgrade, SERVICE.migrations_dir, url)
            settings = settings_for(nats_server.url, url)
            now = datetime.now(UTC).replace(microsecond=0)
            setup: list[EventData] = [ProgrammeUpdated(programme=ProgrammeSnapshot(
                programme_id=PROGRAMME, name="Bench", status="running",
                session_cadence="weekly", session_minutes=60, duration_weeks=52,
                topics=["social media"]), occurred_at=now - timedelta(hours=1))]
            setup += [participant_event(i, role, now - timedelta(minutes=30))
                      for i in range(pairs) for role in ("mentor", "mentee")]
            result: dict[str, Any] = {"backend": backend, "pairs": pairs}
            began = time.perf_counter()
            await publish(js, setup)
            async with serve(SERVICE.name, SERVICE.create_app(settings)):
                done, _ = await until_drained(js, began)
                if not done:
                    raise RuntimeError("scheduling did not apply the participants in time")
            result["setup_s"] = time.perf_counter() - began
            result["setup_events"] = len(setup)
            await publish(js, [pair_event(i, now) for i in range(pairs)])
            while await published_count(js, SUBJECT) < pairs:
                await asyncio.sleep(POLL_SECONDS)
            result["raw"] = await raw_consumer(js, pairs)
            started = time.perf_counter()
            async with serve(SERVICE.name, SERVICE.create_app(settings)) as running:
                done, acked = await until_drained(js, started)
                seconds = time.perf_counter() - started
                async with running.app.state.sessionmaker() as session:
                    plans = int(await session.scalar(
                        select(func.count()).select_from(Plan)) or 0)
                result["service"] = {"seconds": seconds, "done": done, "acked_to": acked,
                                     "plans": plans}
                report_plans(result)
                result["feeds"] = await feeds(running.url, settings, pairs,
                                              running.app.state.relay)
            return result
        finally:
            await connection.close()
            nats_server.stop()
            databases.drop_all()


def report_plans(result: dict[str, Any]) -> None:
    n = result["pairs"]
    raw, service = result["raw"], result["service"]
    raw_rate = raw["events"] / raw["seconds"]
    rate = n / service["seconds"]
    share = rate / raw_rate
    plans_met = share >= TARGET_SHARE and service["done"] and service["plans"] == n
    print(f"[{result['backend']}] {n} pair.formed events after {result['setup_events']} "
          f"programme/participant events (applied in {result['setup_s']:.1f} s); "
          f"fetch batch {BATCH}")
    short = "" if raw["done"] else f"  (read only {raw['events']})"
    print(f"  raw nats-py pull consumer   : {raw['seconds']:7.2f} s  {raw_rate:9.0f} "
          f"events/s{short}")
    line = (f"  scheduling, every plan made: {service['seconds']:7.2f} s  {rate:9.0f} events/s"
            f"  = {share:.0%} of raw (target >= {TARGET_SHARE:.0%}: "
            f"{'met' if plans_met else 'MISSED'})")
    if not service["done"]:
        line += f"  NOT DONE (acked up to stream sequence {service['acked_to']})"
    print(line)
    if service["plans"] != n:
        print(f"    scheduling holds {service['plans']} of {n} plans", flush=True)


def report_feeds(result: dict[str, Any]) -> None:
    feed = result["feeds"]
    single, many = feed["single"], feed["many"]
    p99 = percentile(single, 0.99)
    feed_met = p99 < TARGET_FEED_P99_MS
    print(f"  feeds prepared (moves, cancels, addresses) in {feed['prepare_s']:.1f} s; "
          f"the first: {feed['bytes']} bytes, {feed['events']} VEVENTs, "
          f"{feed['exdates']} EXDATE lines, {feed['overrides']} overrides")
    quiet = feed["quiet"]
    quiet_p99 = percentile(quiet, 0.99)
    print(f"  one feed, {len(single)} GETs in turn, the relay publishing a backlog of "
          f"{feed['backlog']} events: p50 {statistics.median(single):.1f} ms, p99 {p99:.1f} ms "
          f"(target p99 < {TARGET_FEED_P99_MS:.0f} ms: {'met' if feed_met else 'MISSED'})")
    print(f"  the same once the relay is done ({feed['drained_s']:.0f} s after the feeds' "
          f"changes began): p50 {statistics.median(quiet):.1f} ms, p99 {quiet_p99:.1f} ms "
          f"(target: {'met' if quiet_p99 < TARGET_FEED_P99_MS else 'MISSED'})")
    cold = feed["cold"]
    print(f"  {len(cold)} different feeds in turn, each rendered afresh: "
          f"p50 {statistics.median(cold):.1f} ms, p99 {percentile(cold, 0.99):.1f} ms")
    print(f"  {feed['feeds']} different feeds, {FEED_CONCURRENCY} in flight, each rendered "
          "afresh: "
          f"{feed['many_s']:.2f} s ({feed['feeds'] / feed['many_s']:.0f}/s), "
          f"p50 {statistics.median(many):.1f} ms, p99 {percentile(many, 0.99):.1f} ms",
          flush=True)


def main(argv: list[str] | None = None) -> None:
    pairs = size(argv or [])
    report_feeds(asyncio.run(measure("sqlite", None, pairs)))
    server = os.environ.get("BENCH_DATABASE_URL")
    if server:
        report_feeds(asyncio.run(measure("postgresql", server, pairs)))
    else:
        print("[postgresql] skipped: set BENCH_DATABASE_URL to a server to measure it")


if __name__ == "__main__":
    main(sys.argv[1:])
