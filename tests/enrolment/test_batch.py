"""Batch reads: many employees, participants or programmes in one call, each id answered as
its own route would answer it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.support.stack import Running, wait_until
from upward_common.batch import MAX_BATCH_IDS


@pytest.fixture
async def world(hris: httpx.AsyncClient, hr: httpx.AsyncClient,
                events: Callable[[str], Any]) -> dict[str, Any]:
    """Two employees enrolled in an open programme, and a draft programme."""
    records = [{"external_id": name, "email": f"{name}@corp.example", "given_name": name,
                "family_name": "Batch", "job_level": level}
               for name, level in (("junior", 2), ("senior", 9))]
    assert (await hris.post("/api/v1/employees/import", json=records)).status_code == 200

    async def two() -> Any:
        got = await events("mentoring.employee.updated")
        return got if len(got) >= 2 else None

    # The import reports counts only; the ids are in the events it published.
    employees = {e["data"]["employee"]["external_id"]: e["data"]["employee"]["employee_id"]
                 for e in await wait_until(two)}
    open_programme = (await hr.post("/api/v1/programmes", json={
        "name": "Batch", "mentor_max_level": 4, "mentee_min_level": 7})).json()
    draft = (await hr.post("/api/v1/programmes", json={"name": "Draft",
                                                       "status": "draft"})).json()
    participants = {}
    for name, role in (("junior", "mentor"), ("senior", "mentee")):
        enrolled = await hr.post(f"/api/v1/programmes/{open_programme['id']}/participants",
                                 json={"employee_id": employees[name], "role": role})
        assert enrolled.status_code == 201, enrolled.text
        participants[name] = enrolled.json()["id"]
    return {"employees": employees, "participants": participants,
            "open": open_programme["id"], "draft": draft["id"]}


def _ids(body: dict[str, Any]) -> list[str]:
    return [item["id"] for item in body["items"]]


def _missing(body: dict[str, Any]) -> dict[str, int]:
    return {entry["id"]: entry["status"] for entry in body["missing"]}


async def test_an_admin_reads_many_employees_at_once_and_learns_which_do_not_exist(
    hr: httpx.AsyncClient, world: dict[str, Any],
) -> None:
    junior, senior = world["employees"]["junior"], world["employees"]["senior"]

    response = await hr.get("/api/v1/batch/employees",
                            params={"id": [senior, "nobody", junior, senior]})

    assert response.status_code == 200, response.text
    body = response.json()
    assert _ids(body) == [senior, junior]  # in the order asked, each once
    assert body["items"][0]["given_name"] == "senior"
    assert _missing(body) == {"nobody": 404}


async def test_a_participant_gets_only_what_the_single_routes_let_them_see(
    enrolment: Running, token: Callable[..., str], world: dict[str, Any],
) -> None:
    junior, senior = world["employees"]["junior"], world["employees"]["senior"]
    mentor, mentee = world["participants"]["junior"], world["participants"]["senior"]
    async with enrolment.client(token("participant", employee_id=junior)) as client:
        employees = (await client.get("/api/v1/batch/employees",
                                      params={"id": [junior, senior]})).json()
        single = await client.get(f"/api/v1/employees/{senior}")
        participants = (await client.get("/api/v1/batch/participants",
                                         params={"id": [mentor, mentee, "nobody"]})).json()
        programmes = (await client.get("/api/v1/batch/programmes",
                                       params={"id": [world["open"], world["draft"]]})).json()

    assert _ids(employees) == [junior]
    assert _missing(employees) == {senior: single.status_code} == {senior: 403}
    assert _ids(participants) == [mentor]
    assert _missing(participants) == {mentee: 403, "nobody": 404}
    assert _ids(programmes) == [world["open"]]
    assert _missing(programmes) == {world["draft"]: 404}  # a draft is not there for them


async def test_an_admin_sees_drafts_in_a_programme_batch(
    hr: httpx.AsyncClient, world: dict[str, Any],
) -> None:
    response = await hr.get("/api/v1/batch/programmes",
                            params={"id": [world["draft"], world["open"]]})

    assert _ids(response.json()) == [world["draft"], world["open"]]


@pytest.mark.parametrize("route", ["employees", "participants", "programmes"])
async def test_a_batch_takes_1_to_the_cap_of_identifiers_and_names_the_field_beyond(
    hr: httpx.AsyncClient, route: str,
) -> None:
    at_cap = await hr.get(f"/api/v1/batch/{route}",
                          params={"id": [f"x{n}" for n in range(MAX_BATCH_IDS)]})
    over = await hr.get(f"/api/v1/batch/{route}",
                        params={"id": [f"x{n}" for n in range(MAX_BATCH_IDS + 1)]})
    none = await hr.get(f"/api/v1/batch/{route}")
    bad = await hr.get(f"/api/v1/batch/{route}", params={"id": ["ok", "../etc"]})

    assert at_cap.status_code == 200 and len(at_cap.json()["missing"]) == MAX_BATCH_IDS
    for refused, field in ((over, "id"), (none, "id"), (bad, "id.1")):
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["field"] == field
