"""Gateway: GraphQL under 64 concurrent clients against the raw REST rate it mostly calls.

Run: `python -m bench gateway` (part of `make bench`). In one run, on one nats-server:

- the four services and the gateway each run in a process of their own (uvicorn on a
  free 127.0.0.1 port; SQLite files in a temporary directory, or fresh PostgreSQL
  databases, dropped afterwards, when BENCH_DATABASE_URL names a server), migrated by
  their own start;
- one programme is seeded through the services' real APIs: 200 employees (an HRIS CSV
  import), a programme with goal templates, 100 mentors and 100 mentees (a participant
  import), 100 pairs formed by an admin; scheduling plans a session per pair when
  matching's `pair.formed` reaches it. The run starts once the gateway answers the
  dashboard query with every pair, both people and a session;
- this process is the load generator: 64 clients (asyncio, one httpx client and one
  connection each, so the load's own pool is not what is measured), each sending its
  request as soon as the last one answered, for BENCH_GATEWAY_SECONDS (default 10) per
  scenario or BENCH_GATEWAY_MAX_REQUESTS (default 200,000), whichever comes first.

Scenarios: a participant's query (their pairs with the partner's ids, their own profile,
the next session and the programme's goals), each client a different mentee with their
own token, against the same clients on matching's `GET /api/v1/pairs?participant_id=...`;
an HR dashboard (the programme's 100 pairs with both people and their next session),
against matching's `GET /api/v1/pairs?programme_id=...` with the same admin token; then
the dashboard again through a second gateway whose per-service call cap, and so its
downstream pools (all connections kept alive), is 256 instead of 32, to tell whether the
pool is what limits it (httpx issue #3215: the gateway's transport is aiohttp's for it);
last, one query whose answer holds at least 10,000 objects (the pairs under as many
aliases as that takes, within the default `max_result_items`), sent
BENCH_GATEWAY_10K_RUNS times (default 50) one after another.

It prints each scenario's requests/s and p50/p95/p99 latency, each gateway scenario's
share of its raw rate, each busy process's CPU use, and whether the targets hold (at
least 25 % of raw; the 10,000 objects' p95 under 500 ms). What shares a core: every
process here shares the machine's cores; under a gateway scenario the gateway,
enrolment, matching, scheduling and this load generator all work, under a raw one only
matching and the load generator, so the share measures what the gateway path costs the
whole machine. Figures mean something only on an otherwise idle machine.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
import os
import statistics
import tempfile
import time
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench._parts import SERVICES, Parts, cpu_seconds, parts_running
from bench.enrolment import Databases
from tests.support.nats import NatsServer
from tests.support.stack import TEST_JWT_SECRET, TEST_PULSE_SURVEY_SECRET
from upward_common.auth import mint_token
from upward_common.settings import UpwardSettings

# --- the queries, in one place ------------------------------------------------------------

# A mentee's home page: their pairs, the partner, what comes next, what to work towards.
# The partner is their ids only: enrolment answers a participant's own record and
# employee, not their partner's (403), so `mentor { employee { ... } }` would fail.
PARTICIPANT_QUERY = """
query MyPairs($me: ID!) {
  pairs(participantId: $me) { nodes {
    id status formedAt mentorParticipantId mentorEmployeeId
    mentee { id role status employee { id givenName familyName jobTitle timeZone } }
    nextSession { id startsAt durationMinutes status }
    programme { id name goalTemplates { title topic measure targetChangePercent withinMonths } }
  } }
}"""
# The service call that query mostly stands for, with the same token: (service, path, params).
PARTICIPANT_RAW = ("matching", "/api/v1/pairs", "participant_id")

# HR's dashboard: every pair of the programme with both people and their session.
DASHBOARD_QUERY = """
query Dashboard($programmeId: ID!) {
  pairs(programmeId: $programmeId, first: 100) { totalCount nodes {
    id status score formedAt
    mentor { id employee { id givenName familyName jobTitle department } }
    mentee { id employee { id givenName familyName jobTitle department } }
    nextSession { id startsAt status }
  } }
}"""
DASHBOARD_RAW = ("matching", "/api/v1/pairs", "programme_id")

# One alias of the 10,000-object query; the run repeats it under as many aliases as the
# answer needs to hold at least TEN_K objects (counted in the answer, not assumed).
TEN_K_SELECTION = """pairs(programmeId: $programmeId, first: 100) { nodes {
    id status score
    breakdown { factor points }
    mentor { id role employee { id givenName familyName manager { id familyName } } }
    mentee { id role employee { id givenName familyName manager { id familyName } } }
    nextSession { id startsAt status }
    programme { id name }
  } }"""
TEN_K = 10_000

# --- the run's shape ----------------------------------------------------------------------

PAIRS = 100
CLIENTS = 64
SECONDS = float(os.environ.get("BENCH_GATEWAY_SECONDS", "10"))
MAX_REQUESTS = int(os.environ.get("BENCH_GATEWAY_MAX_REQUESTS", "200000"))
TEN_K_RUNS = int(os.environ.get("BENCH_GATEWAY_10K_RUNS", "50"))
TARGET_SHARE = 0.25
TEN_K_P95_MS = 500.0
# The comparison gateway's downstream pools: connections per service, all kept alive.
LARGE_POOL = 256
SETTLE_SECONDS = 120.0
SERVICE_SETTINGS: dict[str, Any] = {
    "environment": "test", "jwt_secret": TEST_JWT_SECRET, "log_level": "WARNING",
    "outbox_poll_seconds": 0.2, "nats_reconnect_wait_seconds": 0.2,
    # Analytics' pulse survey key (the other services ignore it).
    "pulse_survey_secret": TEST_PULSE_SURVEY_SECRET,
}
TOKENS = UpwardSettings(environment="test", jwt_secret=TEST_JWT_SECRET)


# --- the programme --------------------------------------------------------------------------


@dataclasses.dataclass
class Seeded:
    programme_id: str
    admin: str
    # (participant id, token) of each mentee.
    mentees: list[tuple[str, str]]


def employees_csv() -> str:
    """A CEO, two directors, and under each 100 people: juniors who mentor, seniors who learn."""
    rows = ["external_id,email,given_name,family_name,job_title,job_level,department,"
            "manager_external_id,location,time_zone",
            "CEO,ceo@corp.example,Lee,Park,Chief Executive,14,Board,,London,Europe/London",
            "D1,d1@corp.example,Kim,Ode,Director of Analytics,12,Analytics,CEO,London,"
            "Europe/London",
            "D2,d2@corp.example,Sam,Reyes,Director of Sales,12,Sales,CEO,London,Europe/London"]
    for i in range(PAIRS):
        rows.append(f"J{i:03d},junior{i}@corp.example,Junior{i},Lima,Analyst,3,Analytics,D1,"
                    "Lisbon,Europe/Lisbon")
        rows.append(f"S{i:03d},senior{i}@corp.example,Senior{i},Moreau,Sales Manager,10,Sales,"
                    "D2,Paris,Europe/Paris")
    return "\n".join(rows) + "\n"


def participants_ndjson() -> str:
    consent = datetime(2026, 1, 5, 10, tzinfo=UTC).isoformat()
    lines = []
    for i in range(PAIRS):
        lines.append({"external_id": f"J{i:03d}", "role": "mentor", "consent_at": consent,
                      "languages": ["en"],
                      "topics_teach": [{"topic": "data analytics and visualisation", "level": 5}]})
        lines.append({"external_id": f"S{i:03d}", "role": "mentee", "consent_at": consent,
                      "languages": ["en"],
                      "topics_learn": [{"topic": "data analytics and visualisation", "level": 1}]})
    return "\n".join(json.dumps(line) for line in lines) + "\n"


def _ok(response: httpx.Response, *statuses: int) -> Any:
    if response.status_code not in (statuses or (200,)):
        raise RuntimeError(f"{response.request.method} {response.request.url}: "
                           f"{response.status_code} {response.text[:500]}")
    return response.json()


async def seed(urls: dict[str, str]) -> Seeded:
    """One programme with 100 formed pairs, through the services' own APIs."""
    admin = mint_token(TOKENS, roles=["hr_admin"])
    hris = mint_token(TOKENS, roles=["hris"])
    timeout = httpx.Timeout(60)
    async with AsyncExitStack() as stack:
        def client(service: str, token: str) -> httpx.AsyncClient:
            return httpx.AsyncClient(base_url=urls[service], timeout=timeout,
                                     headers={"Authorization": f"Bearer {token}"})

        enrolment = await stack.enter_async_context(client("enrolment", admin))
        matching = await stack.enter_async_context(client("matching", admin))
        async with client("enrolment", hris) as importer:
            report = _ok(await importer.post("/api/v1/employees/import",
                                             content=employees_csv(),
                                             headers={"content-type": "text/csv"}))
        if report.get("created") != 2 * PAIRS + 3:
            raise RuntimeError(f"employee import: {str(report)[:500]}")
        programme = _ok(await enrolment.post("/api/v1/programmes", json={
            "name": "Reverse mentoring: data", "mentor_max_level": 5, "mentee_min_level": 8,
            "min_level_gap": 3, "goal_templates": [
                {"title": "Build a dashboard", "topic": "data analytics and visualisation",
                 "measure": "dashboards shipped", "target_change_percent": 30,
                 "within_months": 6},
                {"title": "Read a cohort analysis", "within_months": 3}]}), 201)
        programme_id = programme["id"]
        enrolled = _ok(await enrolment.post(
            f"/api/v1/programmes/{programme_id}/participants/import",
            content=participants_ndjson(), headers={"content-type": "application/x-ndjson"}))
        if enrolled.get("enrolled") != 2 * PAIRS:
            raise RuntimeError(f"participant import: {str(enrolled)[:500]}")
        participants = _ok(await enrolment.get(
            f"/api/v1/programmes/{programme_id}/participants"))
        by_employee = {p["employee_id"]: p for p in participants}
        employees = {}
        for p in participants:
            employee = _ok(await enrolment.get(f"/api/v1/employees/{p['employee_id']}"))
            employees[employee["external_id"]] = employee["id"]

        # Matching learns the programme and every participant from enrolment's events
        # (404 until the programme's event reaches it).
        deadline = time.monotonic() + SETTLE_SECONDS
        while True:
            pool = _ok(await matching.get(f"/api/v1/programmes/{programme_id}/pool"), 200, 404)
            if pool.get("mentors") == PAIRS and pool.get("mentees") == PAIRS:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"matching did not learn every participant: {pool}")
            await asyncio.sleep(0.2)
        mentees = []
        for i in range(PAIRS):
            mentor = by_employee[employees[f"J{i:03d}"]]
            mentee = by_employee[employees[f"S{i:03d}"]]
            _ok(await matching.post("/api/v1/pairs", json={
                "programme_id": programme_id, "mentee_participant_id": mentee["id"],
                "mentor_participant_id": mentor["id"],
                # Some soft rules (availability, time zones) may object; HR decides here.
                "override_reason": "Paired by HR for the quarter"}), 201)
            mentees.append((mentee["id"], mint_token(TOKENS, roles=["participant"],
                                                     employee_id=mentee["employee_id"])))
    return Seeded(programme_id, admin, mentees)


def count_objects(value: Any) -> int:
    """JSON objects in an answer, nested ones included (the `data` object not counted)."""
    if isinstance(value, dict):
        return 1 + sum(count_objects(v) for v in value.values())
    if isinstance(value, list):
        return sum(count_objects(v) for v in value)
    return 0


async def graphql(client: httpx.AsyncClient, query: str, **variables: Any) -> dict[str, Any]:
    response = await client.post("/graphql", json={"query": query, "variables": variables})
    body: dict[str, Any] = response.json()
    if response.status_code != 200 or body.get("errors"):
        raise RuntimeError(f"{response.status_code}: {response.text[:1000]}")
    data: dict[str, Any] = body["data"]
    return data


async def settled(gateway: str, seeded: Seeded) -> None:
    """Until the gateway serves every pair with both people and scheduling's session."""
    async with httpx.AsyncClient(base_url=gateway, timeout=60, headers={
            "Authorization": f"Bearer {seeded.admin}"}) as client:
        deadline = time.monotonic() + SETTLE_SECONDS
        while True:
            pairs = (await graphql(client, DASHBOARD_QUERY,
                                   programmeId=seeded.programme_id))["pairs"]["nodes"]
            if len(pairs) == PAIRS and all(
                    p["nextSession"] and p["mentor"]["employee"] and p["mentee"]["employee"]
                    for p in pairs):
                return
            if time.monotonic() > deadline:
                planned = sum(1 for p in pairs if p["nextSession"])
                raise RuntimeError(f"{len(pairs)} pairs, {planned} with a session, "
                                   f"after {SETTLE_SECONDS:.0f} s")
            await asyncio.sleep(0.2)


# --- load -------------------------------------------------------------------------------------


@dataclasses.dataclass
class Request:
    """What one client sends: GraphQL (query and variables) or a GET with params."""

    token: str
    query: str | None = None
    variables: dict[str, Any] = dataclasses.field(default_factory=dict)
    path: str = "/graphql"
    params: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Measured:
    name: str
    requests: int
    failed: int
    seconds: float
    latencies: list[float]
    # The first failed answer, to say why.
    failure: str = ""
    # Each process's CPU use over the scenario, as a share of one core.
    cpu: dict[str, float] = dataclasses.field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, p: int) -> float:
        """The p-th percentile latency in milliseconds."""
        if len(self.latencies) < 2:
            return self.latencies[0] * 1000 if self.latencies else math.nan
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[p - 1] * 1000


def cpu_use(pids: dict[str, int], before: dict[str, float | None], seconds: float
            ) -> dict[str, float]:
    """Each process's CPU time since `before`, as a share of one core over `seconds`."""
    shares = {}
    for name, used in cpu_snapshot(pids).items():
        start = before.get(name)
        if used is not None and start is not None and seconds > 0:
            shares[name] = (used - start) / seconds
    return shares


def cpu_snapshot(pids: dict[str, int]) -> dict[str, float | None]:
    """The CPU time used so far by each watched process and by this one ("load")."""
    return {"load": cpu_seconds(), **{name: cpu_seconds(pid) for name, pid in pids.items()}}


async def load(name: str, url: str, requests: list[Request], *, pids: dict[str, int],
               seconds: float = SECONDS, limit: int = MAX_REQUESTS) -> Measured:
    """CLIENTS clients, each sending its request again as soon as it is answered."""
    latencies: list[float] = []
    failures = [0]
    first_failure: list[str] = []
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    clients = [httpx.AsyncClient(base_url=url, timeout=60, limits=limits, headers={
                   "Authorization": f"Bearer {requests[i % len(requests)].token}"})
               for i in range(CLIENTS)]

    async def send(client: httpx.AsyncClient, request: Request) -> bool:
        if request.query is None:
            response = await client.get(request.path, params=request.params)
        else:
            response = await client.post(request.path, json={"query": request.query,
                                                              "variables": request.variables})
        ok = response.status_code == 200 and b'"errors"' not in response.content
        if not ok and not first_failure:
            first_failure.append(f"{response.status_code} {response.text[:300]}")
        return ok

    async def client_loop(client: httpx.AsyncClient, request: Request, deadline: float) -> None:
        while time.perf_counter() < deadline and len(latencies) < limit:
            began = time.perf_counter()
            ok = await send(client, request)
            latencies.append(time.perf_counter() - began)
            failures[0] += not ok

    try:
        # One request each opens every connection (and warms every cache) before the clock.
        await asyncio.gather(*(send(client, requests[i % len(requests)])
                               for i, client in enumerate(clients)))
        before = cpu_snapshot(pids)
        started = time.perf_counter()
        await asyncio.gather(*(client_loop(client, requests[i % len(requests)],
                                           started + seconds)
                               for i, client in enumerate(clients)))
        elapsed = time.perf_counter() - started
        cpu = cpu_use(pids, before, elapsed)
    finally:
        await asyncio.gather(*(client.aclose() for client in clients))
    return Measured(name, len(latencies), failures[0], elapsed, latencies,
                    "".join(first_failure), cpu)


async def sequential(name: str, url: str, request: Request, runs: int) -> Measured:
    """One client, `runs` requests one after another (after two unmeasured ones)."""
    latencies: list[float] = []
    failed = 0
    failure = ""
    async with httpx.AsyncClient(base_url=url, timeout=60, headers={
            "Authorization": f"Bearer {request.token}"}) as client:
        body = {"query": request.query, "variables": request.variables}
        for _ in range(2):
            await client.post(request.path, json=body)
        started = time.perf_counter()
        for _ in range(runs):
            began = time.perf_counter()
            response = await client.post(request.path, json=body)
            latencies.append(time.perf_counter() - began)
            if response.status_code != 200 or b'"errors"' in response.content:
                failed += 1
                failure = failure or f"{response.status_code} {response.text[:300]}"
        elapsed = time.perf_counter() - started
    return Measured(name, runs, failed, elapsed, latencies, failure)


def ten_k_query(aliases: int) -> str:
    """TEN_K_SELECTION under `aliases` aliases: one request, that many times the pairs."""
    fields = "\n  ".join(f"a{i}: {TEN_K_SELECTION}" for i in range(aliases))
    return f"query TenThousand($programmeId: ID!) {{\n  {fields}\n}}"


# --- the run --------------------------------------------------------------------------------


async def measure(parts: Parts, seeded: Seeded) -> dict[str, Any]:
    urls, pids = parts.urls, parts.pids
    gateway, large_pool, matching = urls["gateway"], urls["gateway-pool"], urls["matching"]
    # The CPU figures name the parts a scenario puts to work.
    through = {k: v for k, v in pids.items() if k != "gateway-pool"}
    raw = {"matching": pids["matching"]}
    pooled = {k: v for k, v in pids.items() if k != "gateway"}
    await settled(gateway, seeded)
    mine = [Request(token, PARTICIPANT_QUERY, {"me": participant})
            for participant, token in seeded.mentees]
    mine_raw = [Request(token, path=PARTICIPANT_RAW[1], params={PARTICIPANT_RAW[2]: participant})
                for participant, token in seeded.mentees]
    dashboard = [Request(seeded.admin, DASHBOARD_QUERY, {"programmeId": seeded.programme_id})]
    dashboard_raw = [Request(seeded.admin, path=DASHBOARD_RAW[1],
                             params={DASHBOARD_RAW[2]: seeded.programme_id})]
    result: dict[str, Any] = {"pairs": [
        (await load("participant query (gateway)", gateway, mine, pids=through),
         await load(f"raw GET {PARTICIPANT_RAW[1]}?{PARTICIPANT_RAW[2]}= ({PARTICIPANT_RAW[0]})",
                    matching, mine_raw, pids=raw)),
        (await load("HR dashboard query (gateway)", gateway, dashboard, pids=through),
         await load(f"raw GET {DASHBOARD_RAW[1]}?{DASHBOARD_RAW[2]}= ({DASHBOARD_RAW[0]})",
                    matching, dashboard_raw, pids=raw)),
    ]}
    result["pool"] = await load(f"HR dashboard, pools of {LARGE_POOL}", large_pool, dashboard,
                                pids=pooled)

    async with httpx.AsyncClient(base_url=gateway, timeout=60, headers={
            "Authorization": f"Bearer {seeded.admin}"}) as client:
        one = count_objects(await graphql(client, ten_k_query(1),
                                          programmeId=seeded.programme_id))
        aliases = math.ceil(TEN_K / one)
        query = ten_k_query(aliases)
        objects = count_objects(await graphql(client, query, programmeId=seeded.programme_id))
    result["ten_k"] = {"aliases": aliases, "objects": objects, "measured": await sequential(
        f"{objects:,} objects ({aliases} aliases)", gateway,
        Request(seeded.admin, query, {"programmeId": seeded.programme_id}), TEN_K_RUNS)}
    return result


def line(m: Measured, extra: str = "") -> str:
    failed = f"\n      {m.failed} FAILED, the first: {m.failure}" if m.failed else ""
    busy = {name: share for name, share in m.cpu.items() if share >= 0.05}
    cpu = ("\n      cpu (share of one core): "
           + ", ".join(f"{name} {share:.0%}" for name, share in busy.items())) if busy else ""
    return (f"  {m.name:<50} {m.rate:7.0f} req/s  p50 {m.percentile(50):7.1f}  "
            f"p95 {m.percentile(95):7.1f}  p99 {m.percentile(99):7.1f} ms  "
            f"({m.requests} requests){extra}{failed}{cpu}")


def report(backend: str, result: dict[str, Any]) -> None:
    print(f"[{backend}] {PAIRS} pairs, {CLIENTS} clients, {SECONDS:g} s per scenario "
          f"(at most {MAX_REQUESTS} requests)")
    met = []
    for gateway, raw in result["pairs"]:
        share = gateway.rate / raw.rate if raw.rate else 0.0
        ok = share >= TARGET_SHARE and not gateway.failed and not raw.failed
        met.append(ok)
        print(line(gateway, f"  = {share:.0%} of raw (target >= {TARGET_SHARE:.0%}: "
                            f"{'met' if ok else 'MISSED'})"))
        print(line(raw))
    dashboard = result["pairs"][1][0]
    pool: Measured = result["pool"]
    gain = pool.rate / dashboard.rate if dashboard.rate else math.nan
    verdict = ("the pool limits the gateway here" if gain >= 1.2
               else "the pool is not what limits the gateway here")
    print(line(pool, f"  = {gain:.2f}x the default pools ({verdict})"))
    ten_k = result["ten_k"]
    measured: Measured = ten_k["measured"]
    p95 = measured.percentile(95)
    ok = p95 < TEN_K_P95_MS and not measured.failed and ten_k["objects"] >= TEN_K
    met.append(ok)
    print(line(measured, f"  sequential, p95 target < {TEN_K_P95_MS:.0f} ms: "
                         f"{'met' if ok else 'MISSED'}"))
    print(f"  [{backend}] targets: {'all met' if all(met) else 'NOT all met'}", flush=True)


async def run(backend: str, server: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        databases = Databases(tmp, server)
        nats_server = NatsServer(tmp / "jetstream")
        nats_server.start()
        try:
            configs: dict[str, dict[str, Any]] = {
                name: {"settings": {**SERVICE_SETTINGS, "nats_url": nats_server.url,
                                    "database_url": databases.new(name)}}
                for name in SERVICES}
            with parts_running(tmp, configs) as services:
                gateway: dict[str, Any] = {
                    "environment": "test", "jwt_secret": TEST_JWT_SECRET, "log_level": "WARNING",
                    "nats_url": nats_server.url,
                    **{f"{name}_url": services.urls[name] for name in SERVICES}}
                with parts_running(tmp, {"gateway": {"settings": gateway},
                                         "gateway-pool": {"settings": {
                                             **gateway, "max_concurrent_calls_per_service":
                                             LARGE_POOL}}}) as gateways:
                    seeded = await seed(services.urls)
                    report(backend, await measure(
                        Parts({**services.urls, **gateways.urls},
                              {**services.pids, **gateways.pids}), seeded))
        finally:
            nats_server.stop()
            databases.drop_all()


def main() -> None:
    asyncio.run(run("sqlite", None))
    server = os.environ.get("BENCH_DATABASE_URL")
    if server:
        asyncio.run(run("postgresql", server))
    else:
        print("[postgresql] skipped: set BENCH_DATABASE_URL to a server to measure it")


if __name__ == "__main__":
    main()
