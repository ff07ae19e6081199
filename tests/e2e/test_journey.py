"""The thin slice of the whole journey, through the gateway, on the real backbone.

HRIS pushes employees; HR opens a programme; a junior opts in as mentor and a
senior as mentee; HR asks matching for suggestions and confirms a pair;
scheduling plans the first session; a participant logs it; analytics counts
all of it from events alone.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from websockets.asyncio.client import connect

from tests.e2e.conftest import Platform
from tests.support.stack import wait_until

EMPLOYEES_CSV = (
    "external_id,email,given_name,family_name,job_title,job_level,department,"
    "manager_external_id,location,time_zone\n"
    # The mentor reports to the CFO, outside the mentee's line.
    "W300,ana@example.com,Ana,Lima,Analyst,3,Finance,W002,Lisbon,Europe/Lisbon\n"
    "W001,lee@example.com,Lee,Park,Chief Executive,12,Board,,London,Europe/London\n"
    "W002,kim@example.com,Kim,Ode,Chief Financial Officer,11,Finance,W001,London,Europe/London\n"
    "W010,sam@example.com,Sam,Reyes,Sales Director,10,Sales,W001,London,Europe/London\n"
)

SUGGESTIONS = """
query Suggest($programmeId: ID!, $mentee: ID!) {
  suggestions(programmeId: $programmeId, menteeParticipantId: $mentee, limit: 3) {
    mentorParticipantId score breakdown { factor points reason }
  }
}"""


async def import_employees(gateway_url: str, hris: str, csv: str) -> dict[str, Any]:
    """An HRIS job pushes employees through the gateway's one public address: the report."""
    async with httpx.AsyncClient(base_url=gateway_url,
                                 headers={"Authorization": f"Bearer {hris}"}) as client:
        imported = await client.post("/api/v1/employees/import", content=csv,
                                     headers={"content-type": "text/csv"})
    assert imported.status_code == 200, imported.text
    report: dict[str, Any] = imported.json()
    return report


async def scim_id(gateway_url: str, hris: str, external_id: str) -> str:
    async with httpx.AsyncClient(base_url=gateway_url,
                                 headers={"Authorization": f"Bearer {hris}"}) as client:
        response = await client.get("/scim/v2/Users",
                                    params={"filter": f'externalId eq "{external_id}"'})
        assert response.status_code == 200, response.text
        [user] = response.json()["Resources"]
        return str(user["id"])


async def test_the_journey_runs_through_the_gateway_with_minted_tokens(
    platform: Platform, token: Callable[..., str]
) -> None:
    gateway = platform.gateway.url
    hris, admin = token("hris"), token("hr_admin")

    # An HRIS job pushes employees through the gateway's one public address.
    assert (await import_employees(gateway, hris, EMPLOYEES_CSV))["created"] == 4
    mentor_employee = await scim_id(gateway, hris, "W300")
    mentee_employee = await scim_id(gateway, hris, "W010")

    async with platform.client(admin) as hr:
        created = await hr.done(
            'mutation { createProgramme(input: {name: "Digital first", mentorMaxLevel: 5,'
            ' menteeMinLevel: 8, minLevelGap: 3}) { programme { id status } errors { code } } }',
            "createProgramme", "programme")
        programme_id = created["id"]
        assert created["status"] == "OPEN"

    enrol = """
    mutation Enrol($programmeId: ID!, $input: EnrolInput!) {
      enrol(programmeId: $programmeId, input: $input) {
        participant { id role status employeeId } errors { field code message } }
    }"""
    async with platform.client(token("participant", employee_id=mentor_employee)) as ana:
        mentor = await ana.done(enrol, "enrol", "participant", programmeId=programme_id, input={
            "role": "MENTOR", "languages": ["en"],
            "topicsTeach": [{"topic": "data analytics and visualisation", "level": 5}],
        })
        # A participant cannot act for someone else: the service says so in the payload.
        refused = (await ana.data(enrol, programmeId=programme_id, input={
            "employeeId": mentee_employee, "role": "MENTEE"}))["enrol"]
        assert refused["participant"] is None
        assert [e["code"] for e in refused["errors"]] == ["FORBIDDEN"]
    async with platform.client(token("participant", employee_id=mentee_employee)) as sam:
        mentee = await sam.done(enrol, "enrol", "participant", programmeId=programme_id, input={
            "role": "MENTEE", "languages": ["en"],
            "topicsLearn": [{"topic": "data analytics and visualisation", "level": 1}],
        })
    assert (mentor["role"], mentee["role"]) == ("MENTOR", "MENTEE")

    # The mentee watches live: the gateway's subscriptions are fed by the same stream.
    await wait_until(lambda: platform.gateway.app.state.feed.is_live)
    live = await connect(platform.gateway.url.replace("http://", "ws://") + "/graphql",
                         subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
    await live.send(json.dumps({"type": "connection_init", "payload": {
        "Authorization": f"Bearer {token('participant', employee_id=mentee_employee)}"}}))
    assert json.loads(await live.recv())["type"] == "connection_ack"
    for op, query in (("pairs", "subscription { pairFormed { pairId menteeEmployeeId } }"),
                      ("sessions", "subscription { sessionScheduled { sessionId pairId } }")):
        await live.send(json.dumps({"id": op, "type": "subscribe",
                                    "payload": {"query": query}}))
    await wait_until(lambda: len(platform.gateway.app.state.feed.subscribers) == 2)

    async with platform.client(admin) as hr:
        # participant-enrolled reaches matching through the outbox and JetStream.
        async def suggested() -> list[dict[str, Any]]:
            body = await hr.execute(SUGGESTIONS, programmeId=programme_id,
                                    mentee=mentee["id"])
            return list((body.get("data") or {}).get("suggestions") or [])

        [best] = await wait_until(suggested)
        assert best["mentorParticipantId"] == mentor["id"]
        assert 0 < best["score"] <= 100
        assert any("data analytics" in f["reason"].lower() for f in best["breakdown"])

        pair = await hr.done(
            """mutation Pair($input: FormPairInput!) {
                 formPair(input: $input) { pair { id status score } errors { code } } }""",
            "formPair", "pair",
            input={"programmeId": programme_id, "menteeParticipantId": mentee["id"],
                   "mentorParticipantId": mentor["id"]})
        assert pair["status"] == "ACTIVE"
        assert pair["score"] == best["score"]

    # matching's pair.formed, then scheduling's session.scheduled, reach the mentee live.
    seen: dict[str, dict[str, Any]] = {}
    for _ in range(2):
        message = json.loads(await asyncio.wait_for(live.recv(), 20))
        assert message["type"] == "next" and "errors" not in message["payload"], message
        seen[message["id"]] = next(iter(message["payload"]["data"].values()))
    assert seen["pairs"] == {"pairId": pair["id"], "menteeEmployeeId": mentee_employee}
    assert seen["sessions"]["pairId"] == pair["id"]
    await live.close()

    # pair-formed reaches scheduling, which plans the pair's recurring sessions at once.
    async with platform.client(token("participant", employee_id=mentor_employee)) as ana:
        async def planned() -> list[dict[str, Any]]:
            body = await ana.execute(
                "{ mySessions { nodes { id status startsAt pair { id } } } }")
            return list(((body.get("data") or {}).get("mySessions") or {}).get("nodes") or [])

        sessions = await wait_until(planned)
        assert len(sessions) > 1
        assert {(s["status"], s["pair"]["id"]) for s in sessions} == {("PLANNED", pair["id"])}
        session = min(sessions, key=lambda s: str(s["startsAt"]))
        # Held just now: after the pair formed (to the microsecond), not in the future.
        held_at = datetime.now(UTC).isoformat()
        logged = await ana.done(
            """mutation Log($id: ID!, $input: LogSessionInput!) {
                 logSession(sessionId: $id, input: $input) {
                   session { status recap myPrivateNote logs { authorRole mine rating fit } }
                   errors { code } } }""",
            "logSession", "session", id=session["id"], input={"heldAt": held_at,
                                     "durationMinutes": 45, "rating": 5, "fit": "GOOD",
                                     "recap": "Built a first dashboard together",
                                     "privateNote": "Sam prefers examples from sales"},
        )
        assert logged == {"status": "HELD", "recap": "Built a first dashboard together",
                          "myPrivateNote": "Sam prefers examples from sales",
                          "logs": [{"authorRole": "MENTOR", "mine": True, "rating": 5,
                                    "fit": "GOOD"}]}

        # The pair sets a SMART goal and records progress on it.
        due = (datetime.now(UTC).date() + timedelta(days=180)).isoformat()
        goal = await ana.done(
            """mutation Goal($id: ID!, $input: CreateGoalInput!) {
                 createGoal(pairId: $id, input: $input) { goal { id status } errors { code } } }""",
            "createGoal", "goal", id=pair["id"], input={
                "text": "Raise proficiency in data visualisation by 30 %",
                "measure": "self-assessed proficiency", "unit": "points", "baseline": 50,
                "target": 65, "dueOn": due})
        assert goal["status"] == "ACTIVE"
        progressed = await ana.done(
            """mutation P($id: ID!, $on: Date!) {
                 updateGoalProgress(goalId: $id, value: 59, recordedOn: $on) {
                   goal { progressPercent current } errors { code } } }""",
            "updateGoalProgress", "goal", id=goal["id"],
            on=datetime.now(UTC).date().isoformat())
        assert progressed == {"progressPercent": 60, "current": 59.0}

    # The partner sees the recap, never the other's private note.
    async with platform.client(token("participant", employee_id=mentee_employee)) as sam:
        seen = (await sam.data(
            "query S($id: ID!) { session(sessionId: $id) { recap myPrivateNote "
            "logs { mine rating } } }", id=session["id"]))["session"]
        assert seen == {"recap": "Built a first dashboard together", "myPrivateNote": None,
                        "logs": [{"mine": False, "rating": None}]}
        goals = (await sam.data("query G($id: ID!) { goals(pairId: $id) { nodes { current } } }",
                                id=pair["id"]))["goals"]
        assert goals == {"nodes": [{"current": 59.0}]}

    # session-logged reaches analytics, which answers from events alone.
    async with platform.client(admin) as hr:
        async def summary() -> dict[str, Any] | None:
            body = await hr.execute(
                """query S($id: ID!) { programmeSummary(programmeId: $id) {
                     participantsEnrolled pairsFormed sessionsHeld } }""", id=programme_id)
            found = (body.get("data") or {}).get("programmeSummary")
            return found if found and found["sessionsHeld"] == 1 else None

        assert await wait_until(summary) == {"participantsEnrolled": 2, "pairsFormed": 1,
                                             "sessionsHeld": 1}


async def test_the_gateway_refuses_a_request_without_a_valid_token(platform: Platform) -> None:
    async with httpx.AsyncClient(base_url=platform.gateway.url) as client:
        response = await client.post("/graphql",
                                     json={"query": "{ programmes { nodes { id } } }"})
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("application/problem+json")
        forged = await client.post("/graphql",
                                   json={"query": "{ programmes { nodes { id } } }"},
                                   headers={"Authorization": "Bearer not-a-token"})
        assert forged.status_code == 401
