"""Enrolment: bulk import of 100,000 employees against a raw Core insert, and SCIM POST latency.

Run: `python -m bench enrolment` (`make bench BENCH=enrolment`). For each database
it measures, in one run and on the same machine:

- a plain SQLAlchemy Core executemany insert of the generated rows (the raw rate);
- `POST /api/v1/employees/import` of the same people as CSV sent to the real
  service over HTTP (upload, parsing, validation, manager resolution, rows and
  outbox events included), then how long after the response every event is in
  JetStream;
- the same import sent through the gateway, as HRIS jobs send it (real uvicorn
  servers on free 127.0.0.1 ports), as plain CSV and gzip-compressed;
- a re-import of the unchanged file (idempotent: nothing written);
- SCIM `POST /Users` latency, one request at a time.

Each import reports its phases in `Server-Timing` (read: the upload arriving,
parse, apply, commit); the best run's are printed, so the time the gateway adds
shows up in `read` and outside enrolment. Raw insert and the imports alternate
BENCH_RUNS times (default 2; the paths' order rotates each run) and the best of
each is compared; the drain reported is the
slowest run's. SQLite always; PostgreSQL too when BENCH_DATABASE_URL names a
server (a fresh database per measurement, dropped afterwards). Set
BENCH_EMPLOYEES to change 100,000 (a busy machine: 5,000 proves it works).
"""

from __future__ import annotations

import asyncio
import csv
import gzip
import io
import os
import random
import statistics
import tempfile
import time
import uuid
from contextlib import AbstractAsyncContextManager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import nats
import psycopg
from sqlalchemy import insert
from sqlalchemy.engine import make_url

from enrolment.config import EnrolmentSettings
from enrolment.main import SERVICE
from enrolment.models import Employee
from gateway.config import GatewaySettings
from gateway.main import create_app as create_gateway
from tests.support.nats import NatsServer, free_port
from tests.support.stack import TEST_JWT_SECRET, Running, serve
from upward_common.auth import mint_token
from upward_common.db import create_engine, upgrade
from upward_common.events import STREAM, EmployeeUpdated

EMPLOYEES = int(os.environ.get("BENCH_EMPLOYEES", "100000"))
SCIM_REQUESTS = 500
# Raw insert and import alternate this many times; the best of each is compared
# (the machine may be busy with something else during one of them).
RUNS = int(os.environ.get("BENCH_RUNS", "2"))
TARGET_SHARE = 0.40
# The import through the gateway against the same import sent to enrolment directly.
GATEWAY_TARGET = 0.90
PATHS = ("direct", "gateway", "gateway-gzip")
PUBLISH_WITHIN_SECONDS = 10.0
ZONES = ("Europe/Paris", "Europe/London", "America/New_York", "Asia/Singapore",
         "Europe/Berlin", "America/Sao_Paulo")
DEPARTMENTS = ("Sales", "Marketing", "Engineering", "Finance", "Operations", "People",
               "Legal", "Product")
CITIES = ("Paris", "Lyon", "London", "New York", "Singapore", "Berlin", "Sao Paulo")


def generate(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """A company: one CEO, managers with 3-9 reports, levels falling with depth."""
    rng = random.Random(seed)
    people: list[dict[str, Any]] = []
    frontier: list[tuple[int, int]] = []  # (index of a manager, depth)

    def add(manager: int | None, depth: int) -> int:
        index = len(people)
        people.append({
            "external_id": f"E{index:06d}",
            "email": f"person{index}@corp.example",
            "given_name": f"Given{index}",
            "family_name": f"Family{index % 977}",
            "job_title": "Chief Executive" if manager is None else f"Role {depth}",
            "job_level": max(1, 14 - 2 * depth - rng.randint(0, 1)),
            "department": rng.choice(DEPARTMENTS),
            "manager_external_id": None if manager is None else f"E{manager:06d}",
            "location": rng.choice(CITIES),
            "time_zone": rng.choice(ZONES),
            "hire_date": (date(2005, 1, 3) + timedelta(days=rng.randint(0, 7000))).isoformat(),
            # About 3 % are leavers, kept for retention analytics.
            "leave_date": (date(2025, 1, 6) + timedelta(days=rng.randint(0, 300))).isoformat()
            if rng.random() < 0.03 else None,
        })
        return index

    frontier.append((add(None, 0), 0))
    while len(people) < count:
        manager, depth = frontier.pop(0)
        for _ in range(rng.randint(3, 9)):
            if len(people) >= count:
                break
            frontier.append((add(manager, depth + 1), depth + 1))
    return people


def to_csv(people: list[dict[str, Any]], seed: int = 11) -> bytes:
    rows = list(people)
    random.Random(seed).shuffle(rows)  # HR exports come in any order
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return out.getvalue().encode()


def raw_rows(people: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The employee rows an import writes, managers before their reports."""
    now = datetime.now(UTC)
    ids = {p["external_id"]: str(uuid.uuid4()) for p in people}
    rows = []
    for p in people:  # generation order is breadth-first: managers come first
        leave = date.fromisoformat(p["leave_date"]) if p["leave_date"] else None
        rows.append({
            "id": ids[p["external_id"]], "external_id": p["external_id"], "user_name": None,
            "email": p["email"], "given_name": p["given_name"], "family_name": p["family_name"],
            "job_title": p["job_title"], "job_level": p["job_level"],
            "department": p["department"],
            "manager_id": ids[p["manager_external_id"]] if p["manager_external_id"] else None,
            "location": p["location"], "time_zone": p["time_zone"],
            "hire_on": date.fromisoformat(p["hire_date"]), "leave_on": leave,
            "active": leave is None or leave > now.date(), "scim_attributes": None,
            "version": 1, "erased_at": None, "deprovisioned_at": None,
            "created_at": now, "updated_at": now,
        })
    return rows


class Databases:
    """Fresh databases: SQLite files, or PostgreSQL databases dropped at the end."""

    def __init__(self, tmp: Path, server: str | None) -> None:
        self.tmp = tmp
        self.server = server
        self.created: list[str] = []

    def _admin(self) -> str:
        assert self.server is not None
        url = make_url(self.server).set(drivername="postgresql")
        return url.render_as_string(hide_password=False)

    def new(self, name: str) -> str:
        if self.server is None:
            return f"sqlite+aiosqlite:///{self.tmp / name}-{uuid.uuid4().hex[:8]}.db"
        database = f"upward_bench_{uuid.uuid4().hex[:8]}_{name}"
        with psycopg.connect(self._admin(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{database}"')
        self.created.append(database)
        url = make_url(self.server).set(drivername="postgresql+psycopg", database=database)
        return url.render_as_string(hide_password=False)

    def drop_all(self) -> None:
        if self.server is None:
            return
        with psycopg.connect(self._admin(), autocommit=True) as conn:
            for database in self.created:
                conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


async def raw_insert_seconds(url: str, rows: list[dict[str, Any]]) -> float:
    """A plain Core executemany insert of the rows into a freshly migrated database."""
    await asyncio.to_thread(upgrade, SERVICE.migrations_dir, url)
    engine = create_engine(url)
    try:
        started = time.perf_counter()
        async with engine.begin() as connection:
            await connection.execute(insert(Employee.__table__), rows)  # type: ignore[attr-defined]
        return time.perf_counter() - started
    finally:
        await engine.dispose()


async def published_count(js: Any, subject: str) -> int:
    info = await js.stream_info(STREAM, subjects_filter=subject)
    return int((info.state.subjects or {}).get(subject, 0))


def scim_user(index: int) -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                    "urn:upward:scim:schemas:extension:employee:1.0:User"],
        "userName": f"scim{index}@corp.example", "externalId": f"S{index:06d}",
        "name": {"givenName": f"Scim{index}", "familyName": "User"},
        "emails": [{"value": f"scim{index}@corp.example", "primary": True}],
        "active": True,
        "urn:upward:scim:schemas:extension:employee:1.0:User": {
            "jobLevel": 3, "hireDate": "2023-02-01", "timeZone": "Europe/Paris"},
    }


def server_timing(header: str) -> dict[str, float]:
    """`read;dur=12.5, parse;dur=3.0` as seconds by phase."""
    phases: dict[str, float] = {}
    for part in header.split(","):
        name, _, rest = part.strip().partition(";")
        if rest.startswith("dur="):
            phases[name] = float(rest.removeprefix("dur=")) / 1000
    return phases


def _gateway_before(url: str) -> AbstractAsyncContextManager[Running]:
    """A gateway whose enrolment is at `url` (the other services are not needed)."""
    down = {f"{name}_url": f"http://127.0.0.1:{free_port()}"
            for name in ("matching", "scheduling", "analytics")}
    settings = GatewaySettings(environment="test", jwt_secret=TEST_JWT_SECRET,
                               enrolment_url=url, log_level="WARNING", **down)
    return serve("gateway", create_gateway(settings))


async def import_run(databases: Databases, body: bytes, packed: bytes, expected: int, *,
                     path: str, scim: bool) -> dict[str, Any]:
    """One import along `path` into a fresh service, database and NATS server."""
    result: dict[str, Any] = {}
    nats_server = NatsServer(databases.tmp / f"jetstream-{uuid.uuid4().hex[:6]}")
    nats_server.start()
    try:
        settings = EnrolmentSettings(
            environment="test", jwt_secret=TEST_JWT_SECRET, nats_url=nats_server.url,
            database_url=databases.new("import"), log_level="WARNING")
        token = mint_token(settings, roles=["hris"])
        async with serve("enrolment", SERVICE.create_app(settings)) as running, \
                _gateway_before(running.url) as gateway:
            while not running.app.state.bus.is_connected:
                await asyncio.sleep(0.05)
            connection = await nats.connect(nats_server.url)
            js = connection.jetstream()
            subject = EmployeeUpdated.nats_subject()
            url = running.url if path == "direct" else gateway.url
            headers = {"content-type": "text/csv"}
            content = body
            if path == "gateway-gzip":
                headers["content-encoding"] = "gzip"
                content = packed
            async with httpx.AsyncClient(base_url=url, timeout=600, headers={
                    "Authorization": f"Bearer {token}"}) as client:
                started = time.perf_counter()
                response = await client.post("/api/v1/employees/import", content=content,
                                             headers=headers)
                result["import_s"] = time.perf_counter() - started
                result["phases"] = server_timing(response.headers.get("server-timing", ""))
                report = response.json()
                if response.status_code != 200 or report["created"] != expected:
                    raise RuntimeError(f"import failed: {response.status_code} "
                                       f"{str(report)[:500]}")
                returned = time.perf_counter()
                while await published_count(js, subject) < expected:
                    if time.perf_counter() - returned > 120:
                        break
                    await asyncio.sleep(0.05)
                result["drain_s"] = time.perf_counter() - returned
                result["published"] = await published_count(js, subject)
                if scim:
                    started = time.perf_counter()
                    again = await client.post("/api/v1/employees/import", content=body,
                                              headers={"content-type": "text/csv"})
                    result["reimport_s"] = time.perf_counter() - started
                    if again.json().get("unchanged") != expected:
                        raise RuntimeError(f"re-import changed rows: {again.text[:300]}")
                    latencies = []
                    for index in range(SCIM_REQUESTS):
                        started = time.perf_counter()
                        created = await client.post(
                            "/scim/v2/Users", json=scim_user(index),
                            headers={"content-type": "application/scim+json"})
                        latencies.append((time.perf_counter() - started) * 1000)
                        if created.status_code != 201:
                            raise RuntimeError(f"SCIM POST failed: {created.text[:300]}")
                    latencies.sort()
                    result["scim_p50_ms"] = statistics.median(latencies)
                    result["scim_p99_ms"] = latencies[int(len(latencies) * 0.99) - 1]
            await connection.close()
    finally:
        nats_server.stop()
    return result


async def measure(backend: str, server: str | None, people: list[dict[str, Any]],
                  body: bytes, packed: bytes) -> dict[str, Any]:
    """Raw insert and each import path alternated RUNS times; best rates, slowest drain."""
    rows = raw_rows(people)
    raws: list[float] = []
    runs: dict[str, list[dict[str, Any]]] = {path: [] for path in PATHS}
    with tempfile.TemporaryDirectory() as tmp_name:
        databases = Databases(Path(tmp_name), server)
        try:
            # A small import along the longest path first: the first of each code
            # path in this process (imports, validators, clients) is not timed.
            warm = generate(200)
            warm_body = to_csv(warm)
            await import_run(databases, warm_body, gzip.compress(warm_body), len(warm),
                             path="gateway-gzip", scim=False)
            for run in range(RUNS):
                raws.append(await raw_insert_seconds(databases.new("raw"), rows))
                # Rotated each run: the first import after the raw insert pays for
                # it (a freshly written file, a heap full of its rows), and no path
                # should always be the one that does.
                for path in PATHS[run % len(PATHS):] + PATHS[:run % len(PATHS)]:
                    runs[path].append(await import_run(
                        databases, body, packed, len(people), path=path,
                        scim=run == RUNS - 1 and path == "direct"))
        finally:
            databases.drop_all()
    best = {path: min(results, key=lambda r: r["import_s"]) for path, results in runs.items()}
    last = runs["direct"][-1]
    every = [r for results in runs.values() for r in results]
    return {
        "backend": backend, "employees": len(people), "runs": RUNS, "raw_s": min(raws),
        "import_s": best["direct"]["import_s"],
        "paths": {path: (best[path]["import_s"], best[path]["phases"]) for path in PATHS},
        "drain_s": max(r["drain_s"] for r in every),
        "published": min(r["published"] for r in every),
        "reimport_s": last["reimport_s"], "scim_p50_ms": last["scim_p50_ms"],
        "scim_p99_ms": last["scim_p99_ms"], "body_mb": len(body) / 1e6,
        "packed_mb": len(packed) / 1e6,
    }


def _phases(phases: dict[str, float], total: float) -> str:
    shown = ", ".join(f"{name} {seconds:.2f}" for name, seconds in phases.items())
    rest = total - sum(phases.values())
    return f"{shown}, outside enrolment {rest:.2f} s" if phases else "no Server-Timing"


def report(result: dict[str, Any]) -> None:
    n = result["employees"]
    raw_rate = n / result["raw_s"]
    import_rate = n / result["import_s"]
    share = import_rate / raw_rate
    published_ok = result["published"] >= n and result["drain_s"] <= PUBLISH_WITHIN_SECONDS
    print(f"[{result['backend']}] {n} employees, best of {result['runs']} runs")
    print(f"  raw Core executemany insert : {result['raw_s']:7.2f} s  {raw_rate:9.0f} rows/s")
    print(f"  POST /employees/import (CSV): {result['import_s']:7.2f} s  {import_rate:9.0f} "
          f"rows/s  = {share:.0%} of raw (target >= {TARGET_SHARE:.0%}: "
          f"{'met' if share >= TARGET_SHARE else 'MISSED'})")
    direct_s = result["import_s"]
    for path, label in (("gateway", "via gateway (CSV)          "),
                        ("gateway-gzip", "via gateway (CSV, gzip)    ")):
        seconds = result["paths"][path][0]
        rate = n / seconds
        of_direct = direct_s / seconds
        print(f"  {label}: {seconds:7.2f} s  {rate:9.0f} rows/s  = {rate / raw_rate:.0%} of "
              f"raw, {of_direct:.0%} of direct (target >= {GATEWAY_TARGET:.0%}: "
              f"{'met' if of_direct >= GATEWAY_TARGET else 'MISSED'})")
    print(f"  where the time went (s)     : body {result['body_mb']:.1f} MB, gzip "
          f"{result['packed_mb']:.1f} MB")
    for path in PATHS:
        seconds, phases = result["paths"][path]
        print(f"    {path:<12}: {_phases(phases, seconds)}")
    print(f"  events published            : {result['published']}/{n}, all in JetStream "
          f"{result['drain_s']:.2f} s (slowest run) after the import returned (target <= "
          f"{PUBLISH_WITHIN_SECONDS:.0f} s: {'met' if published_ok else 'MISSED'})")
    print(f"  re-import, nothing changed  : {result['reimport_s']:7.2f} s")
    print(f"  SCIM POST /Users latency    : p50 {result['scim_p50_ms']:.1f} ms, "
          f"p99 {result['scim_p99_ms']:.1f} ms ({SCIM_REQUESTS} sequential requests)")


def main() -> None:
    people = generate(EMPLOYEES)
    body = to_csv(people)
    packed = gzip.compress(body, compresslevel=6)  # what `gzip` does by default
    print(f"generated {len(people)} employees ({len(body) / 1e6:.1f} MB CSV, shuffled)")
    report(asyncio.run(measure("sqlite", None, people, body, packed)))
    server = os.environ.get("BENCH_DATABASE_URL")
    if server:
        report(asyncio.run(measure("postgresql", server, people, body, packed)))
    else:
        print("[postgresql] skipped: set BENCH_DATABASE_URL to a server to measure it")


if __name__ == "__main__":
    main()
