"""The enrolment funnel's first step through the gateway: HR's invitations reach analytics'
health report, answered or not, cut by the invitee's department."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.e2e.conftest import Platform
from tests.e2e.test_journey import import_employees, scim_id
from tests.support.stack import wait_until

EMPLOYEES_CSV = (
    "external_id,email,given_name,family_name,job_title,job_level,department,"
    "manager_external_id,location,time_zone\n"
    "F300,ines@example.com,Ines,Costa,Analyst,3,Finance,,Lisbon,Europe/Lisbon\n"
    "F011,omar@example.com,Omar,Haddad,Sales Director,11,Sales,,London,Europe/London\n"
)
INVITE = """mutation I($p: ID!, $e: ID!, $role: ParticipantRole!) { invite(programmeId: $p,
    input: {employeeId: $e, role: $role, message: "A word for you"})
    { invitation { id } errors { code } } }"""
REPORT = """query R($p: ID!, $department: String) { programmeHealth(programmeId: $p) {
    report(department: $department) { funnel { role invited optedIn } } } }"""


async def test_invitations_count_in_the_funnel_by_role_and_department(
    platform: Platform, token: Callable[..., str],
) -> None:
    gateway = platform.gateway.url
    hris, admin = token("hris"), token("hr_admin")
    await import_employees(gateway, hris, EMPLOYEES_CSV)
    ines_id, omar_id = [await scim_id(gateway, hris, e) for e in ("F300", "F011")]

    async with platform.client(admin) as hr:
        programme = await hr.done("""mutation { createProgramme(input: {name: "Funnel",
            mentorMaxLevel: 5, menteeMinLevel: 8}) { programme { id } errors { code } } }""",
                                  "createProgramme", "programme")
        await hr.done(INVITE, "invite", "invitation", p=programme["id"], e=ines_id,
                      role="MENTOR")
        sent = await hr.done(INVITE, "invite", "invitation", p=programme["id"], e=omar_id,
                             role="MENTEE")
    async with platform.client(token("participant", employee_id=omar_id)) as omar:
        await omar.done("""mutation D($i: ID!) { declineInvitation(invitationId: $i)
            { invitation { id } errors { code } } }""", "declineInvitation", "invitation",
                        i=sent["id"])

    async with platform.client(admin) as hr:
        async def counted() -> Any:
            funnel = (await hr.data(REPORT, p=programme["id"]))["programmeHealth"][
                "report"]["funnel"]
            return funnel if sum(step["invited"] for step in funnel) == 2 else None

        # Invited, whatever they answered; nobody has opted in.
        assert await wait_until(counted) == [
            {"role": "MENTOR", "invited": 1, "optedIn": 0},
            {"role": "MENTEE", "invited": 1, "optedIn": 0}]
        finance = (await hr.data(REPORT, p=programme["id"], department="Finance"))[
            "programmeHealth"]["report"]["funnel"]
        assert [step["invited"] for step in finance] == [1, 0]
