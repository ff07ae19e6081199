"""Participants see who they work with, through the gateway: a mentee chooses from cards,
the mentor sees the mentee who picked them, partners see each other until the pair ends."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.e2e.conftest import Platform
from tests.e2e.test_journey import import_employees, scim_id
from tests.support.stack import wait_until

EMPLOYEES_CSV = (
    "external_id,email,given_name,family_name,job_title,job_level,department,"
    "manager_external_id,location,time_zone\n"
    "C300,ana@example.com,Ana,Lima,Analyst,3,Finance,C002,Lisbon,Europe/Lisbon\n"
    "C301,bo@example.com,Bo,Berg,Designer,3,Digital,C002,Oslo,Europe/Oslo\n"
    "C002,kim@example.com,Kim,Ode,Chief Financial Officer,11,Finance,,London,Europe/London\n"
    "C010,sam@example.com,Sam,Reyes,Sales Director,10,Sales,,London,Europe/London\n"
)
TOPIC = "data analytics and visualisation"

SHORTLIST = """
query Shortlist($programmeId: ID!, $mentee: ID!) {
  suggestions(programmeId: $programmeId, menteeParticipantId: $mentee, limit: 3) {
    mentorParticipantId score
    mentorCard { participantId givenName familyName jobTitle department location timeZone
                 languages topicsTeach { topic level } bio }
  }
}"""
PAIR = """
query Pair($id: ID!) {
  pair(pairId: $id) {
    status partner { participantId givenName bio }
    mentorCard { givenName } menteeCard { givenName jobTitle }
  }
}"""
CARD = "query Card($id: ID!) { participantCard(participantId: $id) { givenName } }"


def _status(body: dict[str, Any]) -> int | None:
    errors = body.get("errors") or []
    return int(errors[0]["extensions"]["status"]) if errors else None


async def test_a_mentee_chooses_from_cards_and_partners_see_each_other_while_paired(
    platform: Platform, token: Callable[..., str],
) -> None:
    gateway = platform.gateway.url
    hris, admin = token("hris"), token("hr_admin")
    await import_employees(gateway, hris, EMPLOYEES_CSV)
    ana_id, bo_id, sam_id = [await scim_id(gateway, hris, e) for e in ("C300", "C301", "C010")]

    async with platform.client(admin) as hr:
        programme = await hr.done(
            'mutation { createProgramme(input: {name: "Cards", mentorMaxLevel: 5,'
            ' menteeMinLevel: 8, minLevelGap: 3, matchingMode: SHORTLIST}) '
            '{ programme { id } errors { code } } }', "createProgramme", "programme")
    enrol = """
    mutation Enrol($programmeId: ID!, $input: EnrolInput!) {
      enrol(programmeId: $programmeId, input: $input) { participant { id } errors { code } }
    }"""
    ids: dict[str, str] = {}
    for name, employee_id, role in (("ana", ana_id, "MENTOR"), ("bo", bo_id, "MENTOR"),
                                    ("sam", sam_id, "MENTEE")):
        topics = ({"topicsTeach": [{"topic": TOPIC, "level": 5}]} if role == "MENTOR"
                  else {"topicsLearn": [{"topic": TOPIC, "level": 1}]})
        async with platform.client(token("participant", employee_id=employee_id)) as person:
            ids[name] = (await person.done(enrol, "enrol", "participant",
                                           programmeId=programme["id"], input={
                "role": role, "languages": ["en"], "bio": f"I am {name}.", **topics}))["id"]

    sam = platform.client(token("participant", employee_id=sam_id))
    ana = platform.client(token("participant", employee_id=ana_id))
    bo = platform.client(token("participant", employee_id=bo_id))
    async with sam, ana, bo:
        # The shortlist shows whom the mentee would pick: each mentor's card, no error.
        async def shortlist() -> list[dict[str, Any]] | None:
            body = await sam.execute(SHORTLIST, programmeId=programme["id"], mentee=ids["sam"])
            found = (body.get("data") or {}).get("suggestions") or []
            ready = len(found) == 2 and all(s["mentorCard"] for s in found)
            return found if ready and not body.get("errors") else None

        offered = await wait_until(shortlist)
        cards = {s["mentorParticipantId"]: s["mentorCard"] for s in offered}
        assert cards[ids["ana"]] == {
            "participantId": ids["ana"], "givenName": "Ana", "familyName": "Lima",
            "jobTitle": "Analyst", "department": "Finance", "location": "Lisbon",
            "timeZone": "Europe/Lisbon", "languages": ["en"],
            "topicsTeach": [{"topic": TOPIC, "level": 5}], "bio": "I am ana."}
        # A mentor on the shortlist does not see the mentee before a pick.
        assert _status(await ana.execute(CARD, id=ids["sam"])) == 403

        pick = """mutation Pick($p: ID!, $mentee: ID!, $mentor: ID!) {
          pickMentor(programmeId: $p, menteeParticipantId: $mentee, mentorParticipantId: $mentor)
          { pair { id status } errors { code } } }"""
        pair = await sam.done(pick, "pickMentor", "pair", p=programme["id"], mentee=ids["sam"],
                              mentor=ids["ana"])
        assert pair["status"] == "PROPOSED"

        # The picked mentor sees the mentee who picked them.
        async def seen_by_ana() -> dict[str, Any] | None:
            body = await ana.execute(PAIR, id=pair["id"])
            found = (body.get("data") or {}).get("pair")
            return found if found and found["partner"] and not body.get("errors") else None

        proposed = await wait_until(seen_by_ana)
        assert proposed["partner"] == {"participantId": ids["sam"], "givenName": "Sam",
                                       "bio": "I am sam."}
        assert proposed["menteeCard"] == {"givenName": "Sam", "jobTitle": "Sales Director"}
        accept = ("mutation A($id: ID!) { acceptPair(pairId: $id) "
                  "{ pair { status } errors { code } } }")
        assert (await ana.done(accept, "acceptPair", "pair", id=pair["id"]))["status"] == "ACTIVE"
        active = await sam.data(PAIR, id=pair["id"])
        assert active["pair"]["partner"]["givenName"] == "Ana"
        # Bo was on the shortlist only: he never sees Sam.
        assert _status(await bo.execute(CARD, id=ids["sam"])) == 403

        end = """mutation E($id: ID!) { endPair(pairId: $id, reason: POOR_FIT)
                 { pair { status } errors { code } } }"""
        await sam.done(end, "endPair", "pair", id=pair["id"])

        # Once the pair ended, the former partners' cards close again.
        async def closed() -> bool:
            return _status(await ana.execute(CARD, id=ids["sam"])) == 403

        await wait_until(closed)
        ended = await ana.execute(PAIR, id=pair["id"])
        assert ended["data"]["pair"]["status"] == "ENDED"
        assert ended["data"]["pair"]["partner"] is None
