"""Enrolment: bulk import of 100,000 employees against a raw Core insert, and SCIM POST latency.

Run: `python -m bench enrolment` (`make bench BENCH=enrolment`). For each database
it measures, in one run and on the same machine:

- a plain SQLAlchemy Core executemany insert of the generated rows (the raw rate);
- `POST /api/v1/employees/import` of the same people as CSV sent to the real
  service over HTTP (upload, parsing, validation, manager resolution, rows and
  outbox events included), then how long after the response every event is in
  JetStream;
- the same import sent through the gateway, as HRIS jobs send it, as plain CSV and
  gzip-compressed;
- a re-import of the unchanged file (idempotent: nothing written);
- SCIM `POST /Users` latency, one request at a time;
- the import of BENCH_PARTICIPANTS (default 10,000) consented participants with their
  surveys (NDJSON, into one open programme), in records/s beside the employee
  import's rows/s (target: at least a quarter of it); timed once the employees it
  needs are imported and their events are all in JetStream, so the setup's relay
  does not share enrolment's event loop with the timed import.

Enrolment and the gateway each run in a process of their own, as `make run` starts
them (uvicorn on a free 127.0.0.1 port, a fresh database and nats-server per import,
stopped by process id afterwards); this process only sends the file. Each import
reports its phases in `Server-Timing` (read: the upload arriving, parse, apply,
commit); the best run's are printed with the CPU each process used during it, so the
time the gateway adds shows up in `read` and outside enrolment. Raw insert and the
imports alternate BENCH_RUNS times (default 2; the paths' order rotates each run) and
the best of each is compared; the drain reported is the slowest run's. SQLite always;
PostgreSQL too when BENCH_DATABASE_URL names a server (a fresh database per
measurement, dropped afterwards). Set BENCH_EMPLOYEES to change 100,000 (a busy
machine: 5,000 proves it works).
"""

from __future__ import annotations

import asyncio
import csv
import gzip
import io
import json
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import nats
import psycopg
from sqlalchemy import insert
from sqlalchemy.engine import make_url

from bench._parts import Parts, cpu_seconds, parts_running
from enrolment.main import SERVICE
from enrolment.models import Employee
from tests.support.nats import NatsServer, free_port
from tests.support.stack import TEST_JWT_SECRET
from upward_common.auth import mint_token
from upward_common.db import create_engine, upgrade
from upward_common.events import STREAM, EmployeeUpdated
from upward_common.settings import UpwardSettings

EMPLOYEES = int(os.environ.get("BENCH_EMPLOYEES", "100000"))
SCIM_REQUESTS = 500
# Raw insert and import alternate this many times; the best of each is compared
# (the machine may be busy with something else during one of them).
RUNS = int(os.environ.get("BENCH_RUNS", "2"))
TARGET_SHARE = 0.40
# The import through the gateway against the same import sent to enrolment directly.
GATEWAY_TARGET = 0.90
PATHS = ("direct", "gateway", "gateway-gzip")
# A small import of other people before each timed one, through the gateway, so no
# process times its first request.
WARM_EMPLOYEES = 200
# Consented participants with their surveys, imported into one programme (issue 15).
PARTICIPANTS = int(os.environ.get("BENCH_PARTICIPANTS", "10000"))
# Their import's records/s against the employee import's rows/s (sent directly).
PARTICIPANT_TARGET = 0.25
TOPICS = ("data analytics and visualisation", "public speaking", "product strategy",
          "negotiation", "cloud architecture", "people management", "social media",
          "financial planning")
INTERESTS = ("running", "chess", "cooking", "photography", "music", "hiking", "film")
TOKENS = UpwardSettings(environment="test", jwt_secret=TEST_JWT_SECRET)
PUBLISH_WITHIN_SECONDS = 10.0
ZONES = ("Europe/Paris", "Europe/London", "America/New_York", "Asia/Singapore",
         "Europe/Berlin", "America/Sao_Paulo")
DEPARTMENTS = ("Sales", "Marketing", "Engineering", "Finance", "Operations", "People",
               "Legal", "Product")
CITIES = ("Paris", "Lyon", "London", "New York", "Singapore", "Berlin", "Sao Paulo")


def generate(count: int, seed: int = 7, prefix: str = "E") -> list[dict[str, Any]]:
    """A company: one CEO, managers with 3-9 reports, levels falling with depth."""
    rng = random.Random(seed)
    people: list[dict[str, Any]] = []
    frontier: list[tuple[int, int]] = []  # (index of a manager, depth)

    def add(manager: int | None, depth: int) -> int:
        index = len(people)
        people.append({
            "external_id": f"{prefix}{index:06d}",
            "email": f"{'' if prefix == 'E' else prefix.lower()}person{index}@corp.example",
            "given_name": f"Given{index}",
            "family_name": f"Family{index % 977}",
            "job_title": "Chief Executive" if manager is None else f"Role {depth}",
            "job_level": max(1, 14 - 2 * depth - rng.randint(0, 1)),
            "department": rng.choice(DEPARTMENTS),
            "manager_external_id": None if manager is None else f"{prefix}{manager:06d}",
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


def _down() -> dict[str, str]:
    """Addresses where nothing answers: the services the import does not need."""
    return {f"{name}_url": f"http://127.0.0.1:{free_port()}"
            for name in ("matching", "scheduling", "analytics")}


@contextmanager
def _enrolment_and_gateway(tmp: Path, settings: dict[str, Any]) -> Iterator[Parts]:
    """Enrolment, then a gateway in front of it, each in a process of its own."""
    tmp = _fresh(tmp)
    with parts_running(tmp, {"enrolment": {"settings": settings}}) as enrolment:
        gateway = {"environment": "test", "jwt_secret": TEST_JWT_SECRET,
                   "log_level": "WARNING", "enrolment_url": enrolment.urls["enrolment"],
                   **_down()}
        with parts_running(tmp, {"gateway": {"settings": gateway}}) as front:
            yield Parts({**enrolment.urls, **front.urls}, {**enrolment.pids, **front.pids})


def _fresh(tmp: Path) -> Path:
    """A directory of its own for one import's parts (their settings, logs, addresses)."""
    directory = tmp / f"parts-{uuid.uuid4().hex[:8]}"
    directory.mkdir()
    return directory


def _service_settings(databases: Databases, nats_url: str) -> dict[str, Any]:
    return {"environment": "test", "jwt_secret": TEST_JWT_SECRET, "nats_url": nats_url,
            "database_url": databases.new("import"), "log_level": "WARNING"}


async def _post_import(client: httpx.AsyncClient, content: bytes, headers: dict[str, str],
                       expected: int) -> httpx.Response:
    response = await client.post("/api/v1/employees/import", content=content,
                                 headers=headers)
    report = response.json()
    if response.status_code != 200 or report["created"] != expected:
        raise RuntimeError(f"import failed: {response.status_code} {str(report)[:500]}")
    return response


async def import_run(databases: Databases, body: bytes, packed: bytes, expected: int, *,
                     path: str, scim: bool) -> dict[str, Any]:
    """One import along `path` into a fresh enrolment, gateway, database and NATS server.

    Enrolment and the gateway each run in a process of their own, as `make run` starts
    them. Before the timed import a small one of other people goes through the
    gateway (gzip), so neither process times its first request's imports.
    """
    result: dict[str, Any] = {}
    nats_server = NatsServer(databases.tmp / f"jetstream-{uuid.uuid4().hex[:6]}")
    nats_server.start()
    try:
        settings = _service_settings(databases, nats_server.url)
        token = mint_token(TOKENS, roles=["hris"])
        with _enrolment_and_gateway(databases.tmp, settings) as parts:
            connection = await nats.connect(nats_server.url)
            js = connection.jetstream()
            subject = EmployeeUpdated.nats_subject()
            auth = {"Authorization": f"Bearer {token}"}
            warm = to_csv(generate(WARM_EMPLOYEES, prefix="W"))
            async with httpx.AsyncClient(base_url=parts.urls["gateway"], timeout=600,
                                         headers=auth) as warmer:
                await _post_import(warmer, gzip.compress(warm), {
                    "content-type": "text/csv", "content-encoding": "gzip"}, WARM_EMPLOYEES)
            url = parts.urls["enrolment" if path == "direct" else "gateway"]
            headers = {"content-type": "text/csv"}
            content = body
            if path == "gateway-gzip":
                headers["content-encoding"] = "gzip"
                content = packed
            async with httpx.AsyncClient(base_url=url, timeout=600, headers=auth) as client:
                cpu_before = {name: cpu_seconds(pid) for name, pid in parts.pids.items()}
                started = time.perf_counter()
                response = await _post_import(client, content, headers, expected)
                result["import_s"] = time.perf_counter() - started
                result["cpu_s"] = {
                    name: (after - before) if after is not None and before is not None
                    else None
                    for name, pid in parts.pids.items()
                    for before, after in [(cpu_before[name], cpu_seconds(pid))]}
                result["phases"] = server_timing(response.headers.get("server-timing", ""))
                returned = time.perf_counter()
                total = expected + WARM_EMPLOYEES
                while await published_count(js, subject) < total:
                    if time.perf_counter() - returned > 120:
                        break
                    await asyncio.sleep(0.05)
                result["drain_s"] = time.perf_counter() - returned
                result["published"] = await published_count(js, subject) - WARM_EMPLOYEES
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


def participants_ndjson(people: list[dict[str, Any]], seed: int = 13) -> bytes:
    """Each person opted in with a filled-in survey; every other one a mentor."""
    rng = random.Random(seed)
    consent = datetime(2026, 1, 5, 10, tzinfo=UTC).isoformat()
    lines = []
    for index, person in enumerate(people):
        mentor = index % 2 == 0
        topics = rng.sample(TOPICS, 2)
        day = rng.randint(0, 4)
        lines.append(json.dumps({
            "external_id": person["external_id"], "role": "mentor" if mentor else "mentee",
            "consent_at": consent,
            "topics_teach" if mentor else "topics_learn": [
                {"topic": topic, "level": rng.randint(1, 5)} for topic in topics],
            "interests": rng.sample(INTERESTS, 2),
            "availability": [{"weekday": day, "start": "09:00", "end": "10:30"},
                             {"weekday": day + 2, "start": "14:00", "end": "15:00"}],
            "time_zone": person["time_zone"],
            "meeting_formats": [rng.choice(("virtual", "in_person", "hybrid"))],
            "languages": ["en"] if rng.random() < 0.7 else ["en", "fr"],
            "mentor_capacity": rng.randint(1, 3) if mentor else 1,
            "bio": f"{person['job_title']} in {person['department']}, {person['location']}.",
        }))
    return ("\n".join(lines) + "\n").encode()


async def participant_run(databases: Databases, people: list[dict[str, Any]],
                          records: bytes) -> float:
    """Seconds to import the participants (NDJSON with surveys) into a programme.

    A fresh enrolment in its own process: the employees are imported first (not
    timed), a programme is opened, then the participant import is timed. The route
    is enrolment's own (the gateway forwards HRIS routes only).
    """
    nats_server = NatsServer(databases.tmp / f"jetstream-{uuid.uuid4().hex[:6]}")
    nats_server.start()
    try:
        settings = _service_settings(databases, nats_server.url)
        with parts_running(_fresh(databases.tmp),
                           {"enrolment": {"settings": settings}}) as parts:
            url = parts.urls["enrolment"]
            hris = {"Authorization": f"Bearer {mint_token(TOKENS, roles=['hris'])}"}
            admin = {"Authorization": f"Bearer {mint_token(TOKENS, roles=['hr_admin'])}"}
            async with httpx.AsyncClient(base_url=url, timeout=1800) as client:
                ids = {person["external_id"] for person in people}
                staff = [{**person, "manager_external_id": person["manager_external_id"]
                          if person["manager_external_id"] in ids else None}
                         for person in people]
                imported = await client.post("/api/v1/employees/import",
                                             content=to_csv(staff), headers={
                                                 **hris, "content-type": "text/csv"})
                if imported.status_code != 200:
                    raise RuntimeError(f"employee import: {imported.text[:300]}")
                await _published(nats_server.url, EmployeeUpdated.nats_subject(), len(staff))
                programme = await client.post("/api/v1/programmes", headers=admin, json={
                    "name": "Reverse mentoring at scale", "topics": list(TOPICS)})
                if programme.status_code != 201:
                    raise RuntimeError(f"programme: {programme.text[:300]}")
                programme_id = programme.json()["id"]
                started = time.perf_counter()
                enrolled = await client.post(
                    f"/api/v1/programmes/{programme_id}/participants/import",
                    content=records,
                    headers={**admin, "content-type": "application/x-ndjson"})
                seconds = time.perf_counter() - started
                report = enrolled.json()
                if enrolled.status_code != 200 or report.get("enrolled") != len(people):
                    raise RuntimeError(f"participant import: {enrolled.status_code} "
                                       f"{str(report)[:500]}")
                return seconds
    finally:
        nats_server.stop()


async def _published(nats_url: str, subject: str, count: int, limit: float = 300.0) -> None:
    """Wait until `count` events of `subject` are in JetStream: the setup's relay is done
    before the timed import starts, so the two do not share enrolment's event loop."""
    connection = await nats.connect(nats_url)
    try:
        js = connection.jetstream()
        deadline = time.perf_counter() + limit
        while await published_count(js, subject) < count:
            if time.perf_counter() > deadline:
                raise RuntimeError(f"only {await published_count(js, subject)} of {count} "
                                   f"{subject} events reached JetStream")
            await asyncio.sleep(0.1)
    finally:
        await connection.close()


async def measure(backend: str, server: str | None, people: list[dict[str, Any]],
                  body: bytes, packed: bytes) -> dict[str, Any]:
    """Raw insert and each import path alternated RUNS times; best rates, slowest drain.

    Then, once, the participant import (its first PARTICIPANTS people enrolled).
    """
    rows = raw_rows(people)
    raws: list[float] = []
    runs: dict[str, list[dict[str, Any]]] = {path: [] for path in PATHS}
    with tempfile.TemporaryDirectory() as tmp_name:
        databases = Databases(Path(tmp_name), server)
        try:
            for run in range(RUNS):
                raws.append(await raw_insert_seconds(databases.new("raw"), rows))
                # Rotated each run: the first import after the raw insert pays for
                # it (a freshly written file, a heap full of its rows), and no path
                # should always be the one that does.
                for path in PATHS[run % len(PATHS):] + PATHS[:run % len(PATHS)]:
                    runs[path].append(await import_run(
                        databases, body, packed, len(people), path=path,
                        scim=run == RUNS - 1 and path == "direct"))
            # Leavers cannot enrol.
            enrolled = [person for person in people if not person["leave_date"]][:PARTICIPANTS]
            participants_s = await participant_run(databases, enrolled,
                                                   participants_ndjson(enrolled))
        finally:
            databases.drop_all()
    best = {path: min(results, key=lambda r: r["import_s"]) for path, results in runs.items()}
    last = runs["direct"][-1]
    every = [r for results in runs.values() for r in results]
    return {
        "backend": backend, "employees": len(people), "runs": RUNS, "raw_s": min(raws),
        "import_s": best["direct"]["import_s"],
        "paths": {path: (best[path]["import_s"], best[path]["phases"], best[path]["cpu_s"])
                  for path in PATHS},
        "every_s": {"raw": raws, **{path: [r["import_s"] for r in results]
                                    for path, results in runs.items()}},
        "drain_s": max(r["drain_s"] for r in every),
        "published": min(r["published"] for r in every),
        "reimport_s": last["reimport_s"], "scim_p50_ms": last["scim_p50_ms"],
        "scim_p99_ms": last["scim_p99_ms"], "body_mb": len(body) / 1e6,
        "packed_mb": len(packed) / 1e6, "participants": len(enrolled),
        "participants_s": participants_s,
    }


def _phases(phases: dict[str, float], total: float) -> str:
    shown = ", ".join(f"{name} {seconds:.2f}" for name, seconds in phases.items())
    rest = total - sum(phases.values())
    return f"{shown}, outside enrolment {rest:.2f} s" if phases else "no Server-Timing"


def _cpu(cpu: dict[str, float | None]) -> str:
    return ", ".join(f"{name} {'?' if seconds is None else f'{seconds:.2f}'} s"
                     for name, seconds in cpu.items())


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
    print("  every run (s, in run order) : " + "; ".join(
        f"{path} {' / '.join(f'{seconds:.2f}' for seconds in times)}"
        for path, times in result["every_s"].items()))
    print(f"  where the time went (s)     : body {result['body_mb']:.1f} MB, gzip "
          f"{result['packed_mb']:.1f} MB")
    for path in PATHS:
        seconds, phases, cpu = result["paths"][path]
        print(f"    {path:<12}: {_phases(phases, seconds)}; CPU {_cpu(cpu)}")
    print(f"  events published            : {result['published']}/{n}, all in JetStream "
          f"{result['drain_s']:.2f} s (slowest run) after the import returned (target <= "
          f"{PUBLISH_WITHIN_SECONDS:.0f} s: {'met' if published_ok else 'MISSED'})")
    count = result["participants"]
    participant_rate = count / result["participants_s"]
    of_import = participant_rate / import_rate
    print(f"  participant import (NDJSON) : {result['participants_s']:7.2f} s  "
          f"{participant_rate:9.0f} records/s = {of_import:.0%} of the employee import "
          f"({count} consented, with surveys; target >= {PARTICIPANT_TARGET:.0%}: "
          f"{'met' if of_import >= PARTICIPANT_TARGET else 'MISSED'})")
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
