"""`me` through the gateway: a self-enrolled employee finds their participant ids again,
with their employee record, invitations, pairs and next sessions, in one query."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.e2e.conftest import Platform
from tests.e2e.test_journey import import_employees, scim_id
from tests.support.stack import wait_until

EMPLOYEES_CSV = (
    "external_id,email,given_name,family_name,job_title,job_level,department,"
    "manager_external_id,location,time_zone\n"
    "M300,ana@example.com,Ana,Lima,Analyst,3,Finance,,Lisbon,Europe/Lisbon\n"
    "M010,sam@example.com,Sam,Reyes,Sales Director,10,Sales,,London,Europe/London\n"
)
TOPIC = "data analytics and visualisation"
ME = """
query {
  me {
    employeeId
    employee { externalId givenName }
    participations { totalCount nodes { id role programmeId } }
    invitations { totalCount nodes { id role status } }
    pairs { totalCount nodes { id status partner { givenName } } }
    nextSessions { totalCount nodes { id status pair { id } } }
  }
}"""


async def test_me_answers_the_callers_record_participations_invitations_pairs_and_sessions(
    platform: Platform, token: Callable[..., str],
) -> None:
    gateway = platform.gateway.url
    hris, admin = token("hris"), token("hr_admin")
    await import_employees(gateway, hris, EMPLOYEES_CSV)
    ana_id, sam_id = [await scim_id(gateway, hris, e) for e in ("M300", "M010")]

    create = """mutation C($name: String!) { createProgramme(input: {name: $name,
        mentorMaxLevel: 5, menteeMinLevel: 8, minLevelGap: 3})
        { programme { id } errors { code } } }"""
    async with platform.client(admin) as hr:
        first = await hr.done(create, "createProgramme", "programme", name="First")
        second = await hr.done(create, "createProgramme", "programme", name="Second")
        await hr.done("""mutation I($p: ID!, $e: ID!) { invite(programmeId: $p,
            input: {employeeId: $e, role: MENTOR}) { invitation { id } errors { code } } }""",
                      "invite", "invitation", p=second["id"], e=ana_id)
    enrol = """
    mutation Enrol($programmeId: ID!, $input: EnrolInput!) {
      enrol(programmeId: $programmeId, input: $input) { participant { id } errors { code } }
    }"""
    async with platform.client(token("participant", employee_id=ana_id)) as ana:
        mentor = await ana.done(enrol, "enrol", "participant", programmeId=first["id"], input={
            "role": "MENTOR", "topicsTeach": [{"topic": TOPIC, "level": 5}]})
        # Nothing paired yet: the self-enrolled employee finds their participant id again.
        mine = (await ana.data(ME))["me"]
        assert mine["employeeId"] == ana_id
        assert mine["employee"] == {"externalId": "M300", "givenName": "Ana"}
        assert mine["participations"] == {"totalCount": 1, "nodes": [
            {"id": mentor["id"], "role": "MENTOR", "programmeId": first["id"]}]}
        assert mine["invitations"]["totalCount"] == 1
        assert mine["invitations"]["nodes"][0]["status"] == "PENDING"
        assert mine["pairs"]["totalCount"] == 0 and mine["nextSessions"]["totalCount"] == 0
    async with platform.client(token("participant", employee_id=sam_id)) as sam:
        mentee = await sam.done(enrol, "enrol", "participant", programmeId=first["id"], input={
            "role": "MENTEE", "topicsLearn": [{"topic": TOPIC, "level": 1}]})

    async with platform.client(admin) as hr:
        form = """mutation F($input: FormPairInput!) { formPair(input: $input) {
            pair { id } errors { code } } }"""

        async def formed() -> Any:
            body = await hr.execute(form, input={
                "programmeId": first["id"], "menteeParticipantId": mentee["id"],
                "mentorParticipantId": mentor["id"]})
            payload = (body.get("data") or {}).get("formPair") or {}
            return payload.get("pair")

        pair = await wait_until(formed)
        # An admin's token names no employee: `me` has nothing of anyone's.
        theirs = (await hr.data(ME))["me"]
        assert theirs["employeeId"] is None and theirs["participations"]["totalCount"] == 0
        assert theirs["pairs"]["totalCount"] == 0

    async with platform.client(token("participant", employee_id=ana_id)) as ana:
        async def with_session() -> dict[str, Any] | None:
            found = (await ana.data(ME))["me"]
            # The pair's plan: every occurrence to come, planned at once; and the partner's
            # card, null until enrolment has heard of the pair.
            pairs = found["pairs"]["nodes"]
            return (found if found["nextSessions"]["totalCount"] > 1
                    and pairs and pairs[0]["partner"] else None)

        mine = await wait_until(with_session)
        assert mine["pairs"]["nodes"] == [{"id": pair["id"], "status": "ACTIVE",
                                           "partner": {"givenName": "Sam"}}]
        assert {(s["status"], s["pair"]["id"]) for s in mine["nextSessions"]["nodes"]} == {
            ("PLANNED", pair["id"])}

    async with platform.client(hris) as job:
        refused = await job.execute(ME)
    assert refused["data"]["me"] is None
    assert refused["errors"][0]["extensions"]["status"] == 403
