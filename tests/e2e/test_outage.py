"""NATS goes away mid-journey: nothing is lost and nothing arrives twice."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import nats

from tests.support.nats import NatsServer
from tests.support.stack import Running, wait_until
from upward_common.events import STREAM

ENROLMENTS = 50


def employees_csv(count: int) -> str:
    lines = ["external_id,email,given_name,family_name,job_level,department,manager_external_id"]
    lines.append("CEO,ceo@example.com,Ada,Boss,12,Board,")
    for i in range(count):
        lines.append(f"E{i},e{i}@example.com,Given{i},Family{i},9,Dept{i % 5},CEO")
    return "\n".join(lines) + "\n"


async def pool_mentees(matching: Running, admin: str, programme_id: str) -> int:
    async with matching.client(admin) as client:
        response = await client.get(f"/api/v1/programmes/{programme_id}/pool")
        if response.status_code != 200:
            return -1
        return int(response.json()["mentees"])


async def test_enrolments_made_while_nats_is_down_all_reach_matching_exactly_once(
    start_service: Any, nats_server: NatsServer, token: Callable[..., str]
) -> None:
    admin = token("hr_admin")
    async with start_service("enrolment") as enrolment, start_service("matching") as matching:
        async with enrolment.client(token("hris")) as hris:
            imported = await hris.post("/api/v1/employees/import",
                                       content=employees_csv(ENROLMENTS),
                                       headers={"content-type": "text/csv"})
            assert imported.status_code == 200, imported.text
        async with enrolment.client(admin) as client:
            created = await client.post("/api/v1/programmes", json={"name": "Outage",
                                                                     "status": "open"})
            assert created.status_code == 201, created.text
            programme_id = created.json()["id"]
        async with enrolment.client(token("hris")) as hris:
            employees = await _employee_ids(hris, ENROLMENTS)
        await wait_until(lambda: _pool_known(matching, admin, programme_id))

        nats_server.stop()
        async with enrolment.client(admin) as client:
            for employee_id in employees:
                enrolled = await client.post(
                    f"/api/v1/programmes/{programme_id}/participants",
                    json={"employee_id": employee_id, "role": "mentee",
                          "topics_learn": [{"topic": "AI tools", "level": 1}]},
                )
                assert enrolled.status_code == 201, enrolled.text
        assert await pool_mentees(matching, admin, programme_id) == 0
        nats_server.start()

        await wait_until(lambda: _has(matching, admin, programme_id, ENROLMENTS), timeout=60)
        nc = await nats.connect(nats_server.url)
        try:
            js = nc.jetstream()
            info = await js.stream_info(STREAM, subjects_filter="mentoring.participant.enrolled")
            assert (info.state.subjects or {}).get("mentoring.participant.enrolled") == ENROLMENTS
        finally:
            await nc.close()
        assert await pool_mentees(matching, admin, programme_id) == ENROLMENTS


async def _pool_known(matching: Running, admin: str, programme_id: str) -> bool:
    return await pool_mentees(matching, admin, programme_id) == 0


async def _has(matching: Running, admin: str, programme_id: str, expected: int) -> bool:
    return await pool_mentees(matching, admin, programme_id) >= expected


async def _employee_ids(hris: Any, count: int) -> list[str]:
    """Upward's ids of the imported employees, as an HRIS learns them: over SCIM."""
    response = await hris.get("/scim/v2/Users", params={"filter": 'externalId sw "E"',
                                                        "count": count})
    assert response.status_code == 200, response.text
    ids = [user["id"] for user in response.json()["Resources"]]
    assert len(ids) == count
    return ids
