"""The retention report over the API: past cohorts imported, employees from events, groups
under 5 people suppressed, and an import with a bad row writing nothing."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, date, datetime
from typing import Any, cast

import pytest

from analytics.models import HISTORY_IMPORT_MAX
from tests.support.databases import DatabaseFactory
from tests.support.stack import Running, wait_until
from tests.support.stream import Stream
from upward_common.events import EmployeeErased, EmployeeSnapshot, EmployeeUpdated, EventData

StartService = Callable[..., AbstractAsyncContextManager[Running]]
AS_OF = "2024-06-30"


def hr_record(employee_id: str, department: str, *, level: int = 2,
              leave_on: date | None = None) -> EmployeeSnapshot:
    return EmployeeSnapshot(employee_id=employee_id, external_id=f"x-{employee_id}",
                            email=f"{employee_id}@example.com", given_name="Ada",
                            family_name="Lovelace", job_level=level, department=department,
                            hire_on=date(2019, 3, 1), leave_on=leave_on,
                            active=leave_on is None)


def past(employee_id: str, programme_id: str, role: str = "mentor") -> dict[str, Any]:
    return {"employee_id": employee_id, "programme_id": programme_id, "role": role,
            "started_on": "2022-01-03", "ended_on": "2022-12-16"}


async def report(svc: Running, token: str, programme_id: str, **params: Any) -> dict[str, Any]:
    async with svc.client(token) as client:
        response = await client.get(f"/api/v1/programmes/{programme_id}/retention",
                                    params={"as_of": AS_OF, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def group(body: dict[str, Any], name: str) -> dict[str, Any]:
    [found] = [g for g in body["groups"] if g["group"] == name]
    return found


async def test_a_programme_with_past_cohorts_gets_its_retention_against_matched_controls(
    start_service: StartService, stream: Stream, token: Callable[..., str],
) -> None:
    programme, department = str(uuid.uuid4()), f"dept-{uuid.uuid4()}"
    mentors = [f"m-{n}-{department}" for n in range(6)]
    others = [f"c-{n}-{department}" for n in range(12)]
    # Two controls leave, after 9 and 19 months; one mentor is promoted in the programme's year.
    leaving = {others[0]: date(2022, 10, 1), others[1]: date(2023, 8, 1)}
    async with start_service("analytics") as svc:
        admin = token("hr_admin")
        for employee_id in mentors + others:
            await stream.publish(EmployeeUpdated(
                employee=hr_record(employee_id, department, leave_on=leaving.get(employee_id)),
                occurred_at=datetime(2021, 6, 1, tzinfo=UTC)))
        await stream.publish(EmployeeUpdated(
            employee=hr_record(mentors[0], department, level=3),
            occurred_at=datetime(2022, 9, 1, tzinfo=UTC)))
        async with svc.client(admin) as client:
            response = await client.post("/api/v1/participation-history",
                                         json=[past(m, programme) for m in mentors])
        assert response.status_code == 200, response.text
        assert response.json() == {"imported": 6}

        async def matched() -> bool:
            body = await report(svc, admin, programme)
            return group(body, "mentor_comparison").get("people") == 12

        await wait_until(matched)
        body = await report(svc, admin, programme)
    assert body["programme_id"] == programme and body["as_of"] == AS_OF
    assert body["window_months"] == 24 and body["controls_per_participant"] == 2
    assert {m["role"]: (m["participants"], m["unmatched"]) for m in body["matching"]} == {
        "mentor": (6, 0), "mentee": (0, 0)}
    taking_part, controls = group(body, "mentors"), group(body, "mentor_comparison")
    assert (taking_part["people"], taking_part["leavers"]) == (6, 0)
    assert controls["leavers"] == 2
    # Followed from the programme's start to the as-of day (30 months), capped at the window.
    assert taking_part["follow_up_months_total"] >= 6 * 24
    assert [f["months"] for f in taking_part["retention"]] == [6, 12, 24]
    assert taking_part["retention"][1]["estimate"] == 1.0
    twelve = controls["retention"][1]
    assert twelve["estimate"] == pytest.approx(11 / 12)
    assert twelve["lower"] < 11 / 12 < twelve["upper"]
    assert controls["retention"][2]["estimate"] == pytest.approx(10 / 12)
    assert controls["curve"][0] == {"months": 0.0, "estimate": 1.0, "lower": 1.0, "upper": 1.0}
    # One of the six mentors was promoted within 12 months (matched on the level held at
    # the start, not the one after the promotion).
    assert taking_part["promotion"][1]["estimate"] == pytest.approx(1 / 6)
    [mentor_test, mentee_test] = body["comparisons"]
    assert mentor_test["role"] == "mentor" and 0 < mentor_test["p_value"] <= 1
    # No mentees: the groups and the test say why they have no figures.
    assert group(body, "mentees") == {
        "group": "mentees", "suppressed": "fewer than 5 people", "people": None,
        "leavers": None, "follow_up_months_total": None, "follow_up_months_median": None,
        "curve": [], "retention": [], "promotion": []}
    assert mentee_test["suppressed"] == "fewer than 5 people"
    assert mentee_test["p_value"] is None


async def test_a_bad_row_is_named_and_nothing_is_written(
    start_service: StartService, token: Callable[..., str],
) -> None:
    programme = str(uuid.uuid4())
    rows = [past("e-1", programme), {**past("e-2", programme), "role": "coach"},
            {**past("e-3", programme), "ended_on": "2021-01-01"},
            {**past("e-4", programme), "employee_id": "x" * 65}]
    async with start_service("analytics") as svc, svc.client(token("hr_admin")) as client:
        response = await client.post("/api/v1/participation-history", json=rows)
        assert response.status_code == 422
        assert response.headers["content-type"].startswith("application/problem+json")
        fields = [error["field"] for error in response.json()["errors"]]
        assert fields == ["1.role", "2.ended_on", "3.employee_id"]
        too_many = [past(f"e-{n}", programme) for n in range(HISTORY_IMPORT_MAX + 1)]
        response = await client.post("/api/v1/participation-history", json=too_many)
        assert response.status_code == 422
        assert response.json()["field"] == "body"
        assert (await client.post("/api/v1/participation-history", json=[])).status_code == 422
        response = await client.get(f"/api/v1/programmes/{programme}/retention",
                                    params={"as_of": AS_OF})
        assert response.json()["matching"][0]["participants"] == 0
        response = await client.get("/api/v1/retention", params={"window_months": 0})
        assert response.status_code == 422 and response.json()["field"] == "window_months"


async def test_only_admins_read_retention_and_only_hr_admins_import(
    start_service: StartService, token: Callable[..., str],
) -> None:
    programme = str(uuid.uuid4())
    async with start_service("analytics") as svc:
        for caller in (token("participant", employee_id="emp-1"), token("hris")):
            async with svc.client(caller) as client:
                assert (await client.get("/api/v1/retention")).status_code == 403
                assert (await client.get(
                    f"/api/v1/programmes/{programme}/retention")).status_code == 403
        async with svc.client(token("programme_manager")) as client:
            assert (await client.get("/api/v1/retention")).status_code == 200
            response = await client.post("/api/v1/participation-history",
                                         json=[past("e-1", programme)])
            assert response.status_code == 403


async def test_an_erasure_deletes_the_level_history_and_past_participations(
    databases: DatabaseFactory,
) -> None:
    from analytics import service
    from analytics.models import ParticipationHistoryCreate
    from tests.analytics.test_service import Message, analytics_database, messages, tables

    def update(level: int, day: int) -> EmployeeUpdated:
        return EmployeeUpdated(employee=hr_record("e-1", "Sales", level=level),
                               occurred_at=datetime(2024, 1, day, tzinfo=UTC))

    async with analytics_database(databases, "erasure") as (engine, consumer):
        await consumer.handle_batch(cast(Any, messages([update(2, 1), update(3, 5)])))
        assert len((await tables(engine))["analytics_employee_level"]) == 2
        async with consumer.sessionmaker() as session:
            await service.import_history(session, rows=[
                ParticipationHistoryCreate.model_validate(past("e-1", "p-1"))])
            await session.commit()
        erased = EmployeeErased(employee_id="e-1", occurred_at=datetime(2024, 2, 1, tzinfo=UTC))
        late: list[EventData | Message] = [erased, update(4, 3)]
        for event in messages(late):
            await consumer.handle_batch(cast(Any, [event]))
        left = await tables(engine)
    assert left["analytics_employee_level"] == {}
    assert left["analytics_participation_history"] == {}
