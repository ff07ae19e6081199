"""Stored retention reports: served while their inputs are unchanged, exactly what computing
them afresh gives; every write of an input makes them stale; the refresher recomputes the
stale ones without a request, and drops the ones nobody asks for."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

import pytest
import sqlalchemy as sa

from analytics import report_store, repository, retention, service
from analytics.models import ParticipationHistoryCreate, ProgrammeRetention
from analytics.rebuild import replay
from analytics.report_store import Refresher
from tests.analytics import test_rebuild
from tests.analytics.test_service import analytics_database, messages
from tests.support.databases import DatabaseFactory, on_postgres, statements
from tests.support.logs import logged
from tests.support.stack import Running, wait_until
from tests.support.stream import Stream
from upward_common.bus import ensure_streams
from upward_common.consumer import EventConsumer
from upward_common.db import Sessionmaker
from upward_common.events import (
    EmployeeErased,
    EmployeeSnapshot,
    EmployeeUpdated,
    EventData,
    ParticipantEnrolled,
    ParticipantRole,
    ParticipantState,
    ParticipantUpdated,
    ParticipantWithdrawn,
)

StartService = Callable[..., AbstractAsyncContextManager[Running]]
PROGRAMME = "prog-1"
AS_OF = date(2024, 6, 30)
NOW = datetime(2024, 7, 1, 8, tzinfo=UTC)
HR_DAY = datetime(2021, 6, 1, tzinfo=UTC)
START = datetime(2022, 1, 3, 9, tzinfo=UTC)
MENTORS = [f"e{n}" for n in range(8)]
MENTEES = [f"e{n}" for n in range(8, 14)]
OTHERS = [f"e{n}" for n in range(14, 50)]


@pytest.fixture
def matched(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How often a report was computed (each computation matches controls once)."""
    calls: list[int] = []
    real = retention.match

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(retention, "match", counting)
    return calls


def record(employee_id: str, *, level: int = 3,
           leave_on: date | None = None) -> EmployeeSnapshot:
    return EmployeeSnapshot(employee_id=employee_id, external_id=f"x-{employee_id}",
                            email=f"{employee_id}@example.com", given_name="Ada",
                            family_name="Lovelace", job_level=level, department="Sales",
                            hire_on=date(2019, 3, 1), leave_on=leave_on,
                            active=leave_on is None)


def hr(employee_id: str, *, at: datetime = HR_DAY, **values: Any) -> EmployeeUpdated:
    return EmployeeUpdated(employee=record(employee_id, **values), occurred_at=at)


def state(employee_id: str, role: ParticipantRole, **values: Any) -> ParticipantState:
    return ParticipantState(participant_id=f"pt-{employee_id}", programme_id=PROGRAMME,
                            role=role, employee=record(employee_id), **values)


def enrolled(employee_id: str, role: ParticipantRole = "mentor", *,
             at: datetime = START) -> ParticipantEnrolled:
    return ParticipantEnrolled(participant=state(employee_id, role), occurred_at=at)


def workforce() -> list[EventData]:
    """One stratum: 8 mentors and 6 mentees from 2022, 36 others, some of them leaving."""
    leaving = {employee_id: date(2022, 3, 1) + timedelta(days=61 * n)
               for n, employee_id in enumerate(OTHERS[:8])}
    return [*[hr(e, leave_on=leaving.get(e)) for e in MENTORS + MENTEES + OTHERS],
            *[enrolled(e) for e in MENTORS], *[enrolled(e, "mentee") for e in MENTEES]]


async def apply(consumer: EventConsumer, events: list[EventData], *,
                alone: bool = False) -> None:
    """Events as fetched batches: one batch (the bulk forms), or one event a batch."""
    if alone:
        for message in messages(list(events)):
            await consumer.handle_batch(cast(Any, [message]))
    else:
        await consumer.handle_batch(cast(Any, messages(list(events))))


async def served(sessionmaker: Sessionmaker, programme_id: str | None, *,
                 now: datetime = NOW, window_months: int = 24) -> str:
    """The report as a request gets it (stored or computed, then committed), as JSON."""
    async with sessionmaker() as session:
        report = await report_store.retention_report(
            session, programme_id=programme_id, window_months=window_months, as_of=AS_OF,
            now=now)
        await session.commit()
    return report.model_dump_json()


async def fresh(sessionmaker: Sessionmaker, programme_id: str | None) -> str:
    """The report computed afresh from the read models, stored nowhere."""
    async with sessionmaker() as session:
        report = await service.programme_retention(session, programme_id=programme_id,
                                                   window_months=24, as_of=AS_OF)
    return report.model_dump_json()


async def version(sessionmaker: Sessionmaker) -> int | None:
    async with sessionmaker() as session:
        return await repository.retention_inputs_version(session)


async def stored_versions(sessionmaker: Sessionmaker) -> dict[str, int]:
    async with sessionmaker() as session:
        return {row[0]: row[3] for row in await repository.stored_reports(session)}


async def count(sessionmaker: Sessionmaker, table: str) -> int:
    async with sessionmaker() as session:
        connection = await session.connection()
        result = await connection.execute(sa.text(f"SELECT count(*) FROM {table}"))
        return int(result.scalar_one())


def groups(report: str) -> dict[str, dict[str, Any]]:
    return {group["group"]: group for group in json.loads(report)["groups"]}


# --- served from the store, and exactly the fresh report -----------------------------------


async def test_a_stored_report_is_the_fresh_one_and_the_next_request_reads_it(
    databases: DatabaseFactory, matched: list[int],
) -> None:
    events, _ = test_rebuild.history("s")
    as_of = date.fromisoformat(test_rebuild.AS_OF)
    async with analytics_database(databases, "stored") as (_, consumer):
        for start in range(0, len(events), 64):
            await apply(consumer, events[start:start + 64])
        for programme_id in ("s-P", None):
            async with consumer.sessionmaker() as session:
                computed = await service.programme_retention(
                    session, programme_id=programme_id, window_months=24, as_of=as_of)
            calls = len(matched)
            first: list[ProgrammeRetention] = []
            second: list[ProgrammeRetention] = []
            for answers in (first, second):
                async with consumer.sessionmaker() as session:
                    answers.append(await report_store.retention_report(
                        session, programme_id=programme_id, window_months=24, as_of=as_of,
                        now=NOW))
                    await session.commit()
            # Computed for the first request only; the second read what it stored.
            assert len(matched) == calls + 1
            assert first[0].model_dump_json() == second[0].model_dump_json() == (
                computed.model_dump_json())
            assert first[0] == second[0] == computed
            # Not a trivial report: figures, curves and a test.
            shown = [g for g in computed.groups if g.suppressed is None]
            assert len(shown) >= 2 and all(len(g.curve) > 1 for g in shown)
            assert any(c.p_value is not None for c in computed.comparisons)
        # Each key its own report: another window is computed, then stored too.
        await served(consumer.sessionmaker, "s-P", window_months=12)
        assert len(matched) == calls + 2
        await served(consumer.sessionmaker, "s-P", window_months=12)
        assert len(matched) == calls + 2


async def test_the_api_answers_the_stored_report_byte_for_byte(
    start_service: StartService, stream: Stream, token: Callable[..., str],
    matched: list[int],
) -> None:
    programme = str(uuid.uuid4())
    async with start_service("analytics") as svc:
        sessionmaker: Sessionmaker = svc.app.state.sessionmaker
        for event in workforce()[:50]:  # the employees; the participations are imported
            await stream.publish(event)

        async def all_in() -> bool:
            return await count(sessionmaker, "analytics_employee") == 50

        await wait_until(all_in)
        path = f"/api/v1/programmes/{programme}/retention"
        async with svc.client(token("hr_admin")) as client:
            response = await client.post("/api/v1/participation-history", json=[
                {"employee_id": e, "programme_id": programme, "role": "mentor",
                 "started_on": "2022-01-03"} for e in MENTORS])
            assert response.status_code == 200, response.text
            calls = len(matched)
            answers = [await client.get(p, params={"as_of": AS_OF.isoformat()})
                       for p in (path, path, "/api/v1/retention", "/api/v1/retention",
                                 f"{path}.csv", "/api/v1/retention.csv")]
    assert all(answer.status_code == 200 for answer in answers)
    # Each computed for its first request only; the second is the stored report, byte for
    # byte what the computation answered. The CSV exports read the same stored reports.
    assert len(matched) == calls + 2
    assert answers[0].content == answers[1].content
    assert answers[2].content == answers[3].content
    assert groups(answers[0].text)["mentor_comparison"]["people"] == 16
    assert b"mentor_comparison" in answers[4].content


async def test_a_report_is_computed_off_the_event_loop(
    start_service: StartService, token: Callable[..., str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Matching and the fits run in a worker thread: the service answers meanwhile."""
    entered, gate = threading.Event(), threading.Event()
    released: list[bool] = []
    real = retention.match

    def gated(*args: Any, **kwargs: Any) -> Any:
        entered.set()
        # On the event loop this would hold everything up until the timeout.
        released.append(gate.wait(timeout=10))
        return real(*args, **kwargs)

    monkeypatch.setattr(retention, "match", gated)
    async with start_service("analytics") as svc, svc.client(token("hr_admin")) as client:
        asked = asyncio.create_task(client.get("/api/v1/retention",
                                               params={"as_of": AS_OF.isoformat()}))
        await wait_until(entered.is_set)
        assert (await client.get("/healthz")).status_code == 200
        gate.set()
        assert (await asked).status_code == 200
    assert released == [True]


async def test_a_report_stored_by_other_rules_is_computed_again(
    databases: DatabaseFactory, matched: list[int], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A build whose rules differ (a new release) never serves the old build's reports."""
    async with analytics_database(databases, "method") as (_, consumer):
        await apply(consumer, workforce())
        await served(consumer.sessionmaker, PROGRAMME)
        await served(consumer.sessionmaker, None)
        monkeypatch.setattr(report_store, "METHOD", "f" * 64)
        calls = len(matched)
        await served(consumer.sessionmaker, PROGRAMME)
        assert len(matched) == calls + 1
        await served(consumer.sessionmaker, PROGRAMME)
        assert len(matched) == calls + 1  # stored by this build now
        refresher = Refresher(sessionmaker=consumer.sessionmaker, postgres=on_postgres(),
                              clock=lambda: NOW)
        assert await refresher.refresh() == report_store.RefreshRound(ran=True, refreshed=1)
        await served(consumer.sessionmaker, None)
        assert len(matched) == calls + 2


async def test_two_replicas_storing_one_report_at_once_both_answer(
    databases: DatabaseFactory, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The second waits for the first's commit, then overwrites it: no key conflict."""
    async with analytics_database(databases, "racing") as (_, consumer):
        await apply(consumer, workforce())
        async with consumer.sessionmaker() as first, consumer.sessionmaker() as second:
            storing = asyncio.Event()
            real = repository.store_report

            async def store(session: Any, row: Any, *, requested: bool) -> None:
                if session is second:
                    storing.set()
                await real(session, row, requested=requested)

            monkeypatch.setattr(repository, "store_report", store)

            async def ask(session: Any) -> ProgrammeRetention:
                return await report_store.retention_report(
                    session, programme_id=PROGRAMME, window_months=24, as_of=AS_OF, now=NOW)

            mine = await ask(first)  # stored, not committed yet
            theirs = asyncio.create_task(ask(second))
            await storing.wait()
            await asyncio.sleep(0.05)  # its upsert reaches the database and waits
            await first.commit()
            assert await theirs == mine
            await second.commit()
        assert list(await stored_versions(consumer.sessionmaker)) == [PROGRAMME]


# --- every write of an input makes the stored reports stale -----------------------------


async def import_past(consumer: EventConsumer) -> None:
    async with consumer.sessionmaker() as session:
        await service.import_history(session, rows=[ParticipationHistoryCreate(
            employee_id=OTHERS[2], programme_id=PROGRAMME, role="mentor",
            started_on=date(2021, 1, 4))])
        await session.commit()


def events_of(events: list[EventData], *, alone: bool = False
              ) -> Callable[[EventConsumer], Awaitable[None]]:
    async def change(consumer: EventConsumer) -> None:
        await apply(consumer, events, alone=alone)
    return change


LEAVES = date(2023, 2, 1)
WRITES: dict[str, Callable[[EventConsumer], Awaitable[None]]] = {
    # employee.updated alone, and a run of them in bulk: a mentor, then two, leave.
    "employee.updated": events_of([hr(MENTORS[0], at=START, leave_on=LEAVES)], alone=True),
    "employee.updated in bulk": events_of([hr(MENTORS[0], at=START, leave_on=LEAVES),
                                           hr(MENTORS[1], at=START, leave_on=LEAVES),
                                           hr(OTHERS[20], at=START, level=3)]),
    # The level history: a mentor promoted (promotion is read from it).
    "employee.updated with a new level": events_of([hr(MENTORS[2], at=START + timedelta(
        days=150), level=4)], alone=True),
    "employee.erased": events_of([EmployeeErased(employee_id=MENTORS[3], occurred_at=START)],
                                 alone=True),
    "participant.enrolled": events_of([enrolled(OTHERS[0])], alone=True),
    "participant.enrolled in bulk": events_of([enrolled(OTHERS[0]), enrolled(OTHERS[1])]),
    # The role changes (a mentee becomes a mentor).
    "participant.updated": events_of([ParticipantUpdated(
        participant=state(MENTEES[0], "mentor"), occurred_at=START + timedelta(days=1))],
        alone=True),
    # An earlier enrolment arriving late moves the start.
    "participant.enrolled earlier": events_of([enrolled(MENTORS[4], at=START - timedelta(
        days=200))], alone=True),
    "participation-history import": import_past,
}


@pytest.mark.parametrize("write", list(WRITES))
async def test_a_write_of_an_input_makes_the_stored_reports_stale(
    databases: DatabaseFactory, matched: list[int], write: str,
) -> None:
    async with analytics_database(databases, "writes") as (_, consumer):
        await apply(consumer, workforce())
        before = {key: await served(consumer.sessionmaker, key) for key in (PROGRAMME, None)}
        calls = len(matched)
        assert {key: await served(consumer.sessionmaker, key) for key in before} == before
        assert len(matched) == calls  # stored
        was = await version(consumer.sessionmaker)
        await WRITES[write](consumer)
        assert await version(consumer.sessionmaker) == cast(int, was) + 1
        for key, earlier in before.items():
            now = await served(consumer.sessionmaker, key)
            assert now == await fresh(consumer.sessionmaker, key)
            assert now != earlier, key


async def test_a_rebuild_makes_the_stored_reports_stale(
    databases: DatabaseFactory, stream: Stream,
) -> None:
    """Even one that replays nothing: its emptied tables are inputs too."""
    await ensure_streams(stream.js, 1)
    async with analytics_database(databases, "rebuilt") as (_, consumer):
        await apply(consumer, workforce())
        before = await served(consumer.sessionmaker, PROGRAMME)
        async with consumer.sessionmaker() as session:
            done = await replay(session, stream.js, consumer)
            await session.commit()
        assert done.up_to_sequence == 0
        after = await served(consumer.sessionmaker, PROGRAMME)
    assert groups(before)["mentors"]["people"] == 8
    assert groups(after)["mentors"]["suppressed"] == "fewer than 5 people"
    assert json.loads(after)["matching"][0]["participants"] == 0


async def test_what_retention_does_not_read_leaves_the_stored_reports_current(
    databases: DatabaseFactory, matched: list[int],
) -> None:
    """A withdrawal (followed all the same: intention to treat), a new profile, a pair."""
    async with analytics_database(databases, "unread") as (_, consumer):
        await apply(consumer, workforce())
        before = await served(consumer.sessionmaker, PROGRAMME)
        was, calls = await version(consumer.sessionmaker), len(matched)
        later = START + timedelta(days=30)
        await apply(consumer, [
            ParticipantWithdrawn(participant_id=f"pt-{MENTORS[0]}", programme_id=PROGRAMME,
                                 employee_id=MENTORS[0], occurred_at=later),
            ParticipantUpdated(participant=state(MENTORS[1], "mentor", interests=["chess"]),
                               occurred_at=later)])
        assert await version(consumer.sessionmaker) == was
        assert await served(consumer.sessionmaker, PROGRAMME) == before
        assert len(matched) == calls
        assert before == await fresh(consumer.sessionmaker, PROGRAMME)


async def test_a_batch_moves_the_inputs_version_on_once(databases: DatabaseFactory) -> None:
    async with analytics_database(databases, "once") as (engine, consumer):
        await apply(consumer, workforce()[:10])
        was = await version(consumer.sessionmaker)
        mixed: list[EventData] = [hr(OTHERS[0], at=START), hr(OTHERS[1], at=START),
                                  enrolled(OTHERS[2]), enrolled(OTHERS[3]),
                                  hr(OTHERS[4], at=START),
                                  EmployeeErased(employee_id=OTHERS[5], occurred_at=START)]
        with statements(engine) as seen:
            await apply(consumer, mixed)
    bumps = [sql for sql in seen if "UPDATE analytics_retention_inputs" in sql]
    assert len(bumps) == 1, bumps
    assert await version(consumer.sessionmaker) == cast(int, was) + 1


async def test_a_savepoint_rolled_back_loses_no_bump(databases: DatabaseFactory) -> None:
    """As in a rebuild, whose batches each run in a savepoint and commit together."""
    async with analytics_database(databases, "savepoints") as (_, consumer):
        was = cast(int, await version(consumer.sessionmaker))
        async with consumer.sessionmaker() as session:
            async with session.begin_nested():
                await service.import_history(session, rows=[ParticipationHistoryCreate(
                    employee_id="e-1", programme_id=PROGRAMME, role="mentor",
                    started_on=date(2021, 1, 4))])
            with pytest.raises(RuntimeError):
                async with session.begin_nested():
                    raise RuntimeError("a failing batch")
            await session.commit()
        assert await version(consumer.sessionmaker) == was + 1
        async with consumer.sessionmaker() as session:
            async with session.begin_nested():
                await (await session.connection()).execute(sa.text("SELECT 1"))
            await session.commit()  # nothing noted: nothing bumped
        assert await version(consumer.sessionmaker) == was + 1
        async with consumer.sessionmaker() as session:
            await service.import_history(session, rows=[ParticipationHistoryCreate(
                employee_id="e-2", programme_id=PROGRAMME, role="mentor",
                started_on=date(2021, 1, 4))])
            await session.rollback()
            await (await session.connection()).execute(sa.text("SELECT 1"))
            await session.commit()  # the mark went with the rollback
        assert await version(consumer.sessionmaker) == was + 1


# --- the refresher --------------------------------------------------------------------------


async def test_the_refresher_recomputes_stale_reports_once_the_inputs_settle(
    databases: DatabaseFactory, matched: list[int], monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with analytics_database(databases, "refresher") as (_, consumer):
        sessionmaker = consumer.sessionmaker
        await apply(consumer, workforce())
        for key in (PROGRAMME, None):
            await served(sessionmaker, key)
        refresher = Refresher(sessionmaker=sessionmaker, postgres=on_postgres(),
                              clock=lambda: NOW)
        assert not (await refresher.look()).ran  # the first look only learns the version
        assert await refresher.look() == report_store.RefreshRound(ran=True)  # nothing stale
        await apply(consumer, [hr(MENTORS[0], at=START, leave_on=LEAVES)])
        assert not (await refresher.look()).ran  # changed since the last look: wait
        calls = len(matched)
        done = await refresher.look()
        assert done == report_store.RefreshRound(ran=True, refreshed=2)
        assert len(matched) == calls + 2
        current = await version(sessionmaker)
        assert set((await stored_versions(sessionmaker)).values()) == {current}
        # Requests now read what the refresher stored: the fresh report.
        for key in (PROGRAMME, None):
            assert await served(sessionmaker, key) == await fresh(sessionmaker, key)
        assert len(matched) == calls + 2 + 2  # the two fresh ones only
        assert groups(await served(sessionmaker, PROGRAMME))["mentors"]["leavers"] == 1
        # Inputs that never settle hold it back for MAX_WAITS looks at most.
        monkeypatch.setattr(report_store, "MAX_WAITS", 2)
        rounds = []
        for n in range(3):
            await apply(consumer, [hr(OTHERS[30], at=START + timedelta(days=n + 1))])
            rounds.append(await refresher.look())
        assert [r.ran for r in rounds] == [False, False, True]
        assert rounds[-1].refreshed == 2


async def test_the_refresher_recomputes_only_the_most_recently_requested(
    databases: DatabaseFactory,
) -> None:
    async with analytics_database(databases, "recent") as (_, consumer):
        sessionmaker = consumer.sessionmaker
        await apply(consumer, workforce())
        await served(sessionmaker, None, now=NOW)
        await served(sessionmaker, PROGRAMME, now=NOW + timedelta(minutes=5))
        await apply(consumer, [hr(MENTORS[0], at=START, leave_on=LEAVES)])
        refresher = Refresher(sessionmaker=sessionmaker, postgres=on_postgres(), reports=1,
                              clock=lambda: NOW)
        assert await refresher.refresh() == report_store.RefreshRound(ran=True, refreshed=1)
        current = await version(sessionmaker)
        stored = await stored_versions(sessionmaker)
        assert stored[PROGRAMME] == current and stored[report_store.ALL_PROGRAMMES] != current


async def test_reports_nobody_asks_for_are_dropped(databases: DatabaseFactory) -> None:
    async with analytics_database(databases, "dropped") as (_, consumer):
        sessionmaker = consumer.sessionmaker
        await apply(consumer, workforce())
        await served(sessionmaker, PROGRAMME, now=NOW)
        await served(sessionmaker, None, now=NOW + timedelta(minutes=10))
        # Read again two hours on, the programme's becomes the most recently requested.
        await served(sessionmaker, PROGRAMME, now=NOW + timedelta(hours=2))
        capped = Refresher(sessionmaker=sessionmaker, postgres=on_postgres(), kept=1,
                           clock=lambda: NOW + timedelta(hours=2))
        assert await capped.refresh() == report_store.RefreshRound(ran=True, dropped=1)
        assert set(await stored_versions(sessionmaker)) == {PROGRAMME}
        later = Refresher(sessionmaker=sessionmaker, postgres=on_postgres(),
                          clock=lambda: NOW + timedelta(hours=2) + timedelta(days=31))
        assert await later.refresh() == report_store.RefreshRound(ran=True, dropped=1)
        assert await stored_versions(sessionmaker) == {}


async def test_the_service_refreshes_stale_reports_in_the_background(
    start_service: StartService, stream: Stream, token: Callable[..., str],
    matched: list[int],
) -> None:
    async with start_service("analytics", retention_refresh_seconds=0.05) as svc:
        sessionmaker: Sessionmaker = svc.app.state.sessionmaker
        for event in workforce():
            await stream.publish(event)

        async def all_in() -> bool:
            return (await count(sessionmaker, "analytics_employee") == 50
                    and await count(sessionmaker, "analytics_participant") == 14)

        await wait_until(all_in)
        path = f"/api/v1/programmes/{PROGRAMME}/retention"
        async with svc.client(token("hr_admin")) as client:
            asked = await version(sessionmaker)
            assert (await client.get(path, params={"as_of": AS_OF.isoformat()})).is_success
            assert await stored_versions(sessionmaker) == {PROGRAMME: asked}
            await stream.publish(hr(MENTORS[0], at=START, leave_on=LEAVES))

            async def refreshed() -> bool:
                current = await version(sessionmaker)
                return current != asked and (await stored_versions(sessionmaker)) == {
                    PROGRAMME: current}

            await wait_until(refreshed)
            calls = len(matched)
            response = await client.get(path, params={"as_of": AS_OF.isoformat()})
    assert len(matched) == calls  # served as the refresher stored it
    assert groups(response.text)["mentors"]["leavers"] == 1


async def test_a_failing_round_is_logged_and_the_next_look_tries_again(
    start_service: StartService, monkeypatch: pytest.MonkeyPatch,
) -> None:
    rounds: list[str] = []
    failures: list[Exception] = []
    real = Refresher.refresh

    async def refresh(self: Refresher) -> report_store.RefreshRound:
        if failures:
            rounds.append("failed")
            raise failures.pop()
        rounds.append("ran")
        return await real(self)

    monkeypatch.setattr(Refresher, "refresh", refresh)
    async with start_service("analytics", retention_refresh_seconds=0.02):
        with logged() as records:  # the service's logging is set up by now
            failures.append(RuntimeError("the database went away"))
            await wait_until(lambda: "failed" in rounds
                             and "ran" in rounds[rounds.index("failed"):])
    assert any(r.getMessage().startswith("refreshing the stored retention reports failed")
               and r.exc_info is not None for r in records)
