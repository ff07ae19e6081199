"""Enrolment and matching in depth, through the gateway's GraphQL, on the real backbone.

HR sets a programme up as a draft and opens it; a junior is invited and
accepts with their survey, then updates it; two seniors opt in; one picks the
junior from their shortlist and the junior accepts; HR then asks for a dry
run over the rest of the cohort.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import GraphQLClient, Platform
from tests.support.stack import wait_until

TOPIC = "data analytics and visualisation"

EMPLOYEES = """mutation ($records: [EmployeeInput!]!) {
  importEmployees(records: $records) { report { created rejected } errors { code } } }"""

RECORDS = [
    {"externalId": "D300", "email": "ana@example.com", "givenName": "Ana", "familyName": "Lima",
     "jobLevel": 3, "department": "Finance", "timeZone": "Europe/Lisbon"},
    {"externalId": "D010", "email": "sam@example.com", "givenName": "Sam",
     "familyName": "Reyes", "jobLevel": 10, "department": "Sales",
     "timeZone": "Europe/London"},
    {"externalId": "D011", "email": "kim@example.com", "givenName": "Kim", "familyName": "Ode",
     "jobLevel": 11, "department": "Legal", "timeZone": "Europe/London"},
]

PROGRAMME_FIELDS = "id status capacity sessionMinutes matchingMode mentorMaxLevel topics"

ENROL = """mutation ($programmeId: ID!, $input: EnrolInput!) {
  enrol(programmeId: $programmeId, input: $input) { participant { id role } errors { code } } }"""


async def _employee_id(gateway_url: str, hris: str, external_id: str) -> str:
    # GraphQL has no look-up by HRIS id; the HRIS finds its people through SCIM.
    async with httpx.AsyncClient(base_url=gateway_url,
                                 headers={"Authorization": f"Bearer {hris}"}) as client:
        response = await client.get("/scim/v2/Users",
                                    params={"filter": f'externalId eq "{external_id}"'})
        assert response.status_code == 200, response.text
        [user] = response.json()["Resources"]
        return str(user["id"])


async def _when(client: GraphQLClient, query: str, pick: Callable[[dict[str, Any]], Any],
                **variables: Any) -> Any:
    """Poll a query until `pick` finds what an event has yet to bring."""

    async def probe() -> Any:
        body = await client.execute(query, **variables)
        return pick(body["data"]) if body.get("data") else None

    return await wait_until(probe)


async def test_invitation_survey_shortlist_pick_and_a_dry_run_through_graphql(
    platform: Platform, token: Callable[..., str]
) -> None:
    hris, admin = token("hris"), token("hr_admin")

    async with platform.client(hris) as job:
        imported = await job.done(EMPLOYEES, "importEmployees", "report", records=RECORDS)
    assert imported == {"created": 3, "rejected": 0}
    ana, sam, kim = [await _employee_id(platform.gateway.url, hris, r["externalId"])
                     for r in RECORDS]

    # HR sets the programme up as a draft, then opens it.
    async with platform.client(admin) as hr:
        draft = await hr.done(
            f"""mutation ($input: ProgrammeInput!) {{
                 createProgramme(input: $input) {{ programme {{ {PROGRAMME_FIELDS} }}
                 errors {{ code }} }} }}""", "createProgramme", "programme",
            input={"name": "Data for leaders", "status": "DRAFT", "mentorMaxLevel": 5,
                   "menteeMinLevel": 8, "minLevelGap": 3, "matchingMode": "SHORTLIST"},
        )
        programme_id = draft["id"]
        assert (draft["status"], draft["matchingMode"]) == ("DRAFT", "SHORTLIST")
        assert TOPIC in draft["topics"]
        updated = await hr.done(
            f"""mutation ($id: ID!, $input: ProgrammeUpdateInput!) {{
                 updateProgramme(programmeId: $id, input: $input) {{
                 programme {{ {PROGRAMME_FIELDS} }} errors {{ code }} }} }}""",
            "updateProgramme", "programme",
            id=programme_id, input={"capacity": 10, "sessionMinutes": 45},
        )
        assert (updated["capacity"], updated["sessionMinutes"]) == (10, 45)
        opened = await hr.done(
            """mutation ($id: ID!) { changeProgrammeStatus(programmeId: $id, status: OPEN) {
                 programme { status } errors { code } } }""", "changeProgrammeStatus",
            "programme", id=programme_id)
        assert opened == {"status": "OPEN"}
        invitation = await hr.done(
            """mutation ($id: ID!, $employee: ID!) { invite(programmeId: $id, input: {
                 employeeId: $employee, role: MENTOR, message: "Teach us dashboards"}) {
                 invitation { id status } errors { code } } }""", "invite", "invitation",
            id=programme_id, employee=ana)
        assert invitation["status"] == "PENDING"

    # The junior sees the invitation, accepts with the survey, then changes the survey.
    async with platform.client(token("participant", employee_id=ana)) as junior:
        mine = await junior.data("{ myInvitations { nodes { id role programme { name } } } }")
        assert mine["myInvitations"]["nodes"] == [{"id": invitation["id"], "role": "MENTOR",
                                          "programme": {"name": "Data for leaders"}}]
        mentor = await junior.done(
            """mutation ($id: ID!, $input: SurveyInput!) {
                 acceptInvitation(invitationId: $id, input: $input) {
                 participant { id role source surveyVersion } errors { code } } }""",
            "acceptInvitation", "participant",
            id=invitation["id"], input={"topicsTeach": [{"topic": TOPIC, "level": 5}],
                                        "languages": ["en"], "timeZone": "Europe/Lisbon"},
        )
        assert (mentor["role"], mentor["source"], mentor["surveyVersion"]) == (
            "MENTOR", "INVITATION", 1)
        surveyed = await junior.done(
            """mutation ($id: ID!, $input: SurveyInput!) {
                 updateSurvey(participantId: $id, input: $input) { participant {
                 surveyVersion mentorCapacity availability { weekday start end } }
                 errors { code } } }""", "updateSurvey", "participant",
            id=mentor["id"], input={
                "topicsTeach": [{"topic": TOPIC, "level": 5}], "languages": ["en"],
                "timeZone": "Europe/Lisbon", "mentorCapacity": 2,
                "availability": [{"weekday": 1, "start": "09:00", "end": "12:00"}]},
        )
        assert surveyed == {"surveyVersion": 2, "mentorCapacity": 2,
                            "availability": [{"weekday": 1, "start": "09:00", "end": "12:00"}]}
        versions = await junior.data(
            "query ($id: ID!) { surveyVersions(participantId: $id) { version } }",
            id=mentor["id"])
        assert [v["version"] for v in versions["surveyVersions"]] == [1, 2]

    # Two seniors opt in as mentees.
    mentees = {}
    for senior in (sam, kim):
        async with platform.client(token("participant", employee_id=senior)) as client:
            mentees[senior] = await client.done(
                ENROL, "enrol", "participant", programmeId=programme_id, input={
                    "role": "MENTEE", "languages": ["en"],
                    "topicsLearn": [{"topic": TOPIC, "level": 1}]})

    # Sam picks the junior from the shortlist once matching has heard of both.
    async with platform.client(token("participant", employee_id=sam)) as senior:
        shortlist = await _when(
            senior,
            """query ($p: ID!, $m: ID!) { suggestions(programmeId: $p, menteeParticipantId: $m) {
                 mentorParticipantId score } }""",
            lambda data: data["suggestions"], p=programme_id, m=mentees[sam]["id"])
        assert [s["mentorParticipantId"] for s in shortlist] == [mentor["id"]]
        proposed = await senior.done(
            """mutation ($p: ID!, $mentee: ID!, $mentor: ID!) { pickMentor(programmeId: $p,
                 menteeParticipantId: $mentee, mentorParticipantId: $mentor) {
                 pair { id status origin score } errors { code } } }""", "pickMentor", "pair",
            p=programme_id, mentee=mentees[sam]["id"], mentor=mentor["id"])
        assert (proposed["status"], proposed["origin"]) == ("PROPOSED", "SHORTLIST")
        assert proposed["score"] == shortlist[0]["score"]

    async with platform.client(token("participant", employee_id=ana)) as junior:
        accepted = await junior.done(
            """mutation ($id: ID!) { acceptPair(pairId: $id) {
                 pair { status formedAt } errors { code } } }""", "acceptPair", "pair",
            id=proposed["id"])
        assert accepted["status"] == "ACTIVE"
        assert accepted["formedAt"] is not None

    async with platform.client(admin) as hr:
        # The run sees Kim and the junior's second place once the survey update has landed.
        pool = await _when(
            hr, """query ($id: ID!) { poolStats(programmeId: $id) {
                     mentors mentees totalCapacity freeCapacity unpairedMentees } }""",
            lambda data: (data["poolStats"] if data["poolStats"]
                          and data["poolStats"]["totalCapacity"] == 2
                          and data["poolStats"]["mentees"] == 2 else None),
            id=programme_id)
        assert pool == {"mentors": 1, "mentees": 2, "totalCapacity": 2, "freeCapacity": 1,
                        "unpairedMentees": 1}
        run = await hr.done(
            """mutation ($id: ID!) { runMatching(programmeId: $id, objective: MAX_SCORE,
                 dryRun: true) { matchRun {
                 dryRun status totalScore matched unmatched
                 pairs { menteeParticipantId mentorParticipantId score
                         breakdown { factor points reason } }
                 unmatchedMentees { reason } pairIds } errors { code } } }""",
            "runMatching", "matchRun", id=programme_id)
        assert (run["dryRun"], run["status"]) == (True, "DRAFT")
        assert (run["matched"], run["unmatched"], run["unmatchedMentees"]) == (1, 0, [])
        [planned] = run["pairs"]
        assert (planned["menteeParticipantId"], planned["mentorParticipantId"]) == (
            mentees[kim]["id"], mentor["id"])
        assert 0 < planned["score"] <= 100
        assert sum(f["points"] for f in planned["breakdown"]) == pytest.approx(planned["score"])
        assert all(f["reason"] for f in planned["breakdown"])
        assert run["totalScore"] == pytest.approx(planned["score"])
        # A dry run forms nothing: the only pair is still the one the junior accepted.
        pairs = await hr.data(
            """query ($id: ID!) { pairs(programmeId: $id, first: 1) { totalCount
                 nodes { id status } pageInfo { hasNextPage endCursor } } }""",
            id=programme_id)
        assert pairs["pairs"]["nodes"] == [{"id": proposed["id"], "status": "ACTIVE"}]
        assert pairs["pairs"]["totalCount"] == 1
        assert pairs["pairs"]["pageInfo"]["hasNextPage"] is False
        rest = await hr.data(
            """query ($id: ID!, $after: String) { pairs(programmeId: $id, after: $after) {
                 nodes { id } pageInfo { hasNextPage hasPreviousPage } } }""",
            id=programme_id, after=pairs["pairs"]["pageInfo"]["endCursor"])
        assert rest["pairs"] == {"nodes": [], "pageInfo": {"hasNextPage": False,
                                                           "hasPreviousPage": True}}


DEI = "DEI perspectives"
DEI_PEOPLE = [
    {"externalId": "X301", "email": "lea@example.com", "givenName": "Lea", "familyName": "Moe",
     "jobLevel": 3, "department": "Finance", "timeZone": "Europe/Lisbon"},
    {"externalId": "X302", "email": "noa@example.com", "givenName": "Noa", "familyName": "Pym",
     "jobLevel": 3, "department": "Legal", "timeZone": "Europe/Lisbon"},
    {"externalId": "X310", "email": "ola@example.com", "givenName": "Ola", "familyName": "Ruiz",
     "jobLevel": 10, "department": "Sales", "timeZone": "Europe/London"},
]


async def test_a_mentor_without_the_dei_opt_in_is_never_shortlisted_for_dei_perspectives(
    platform: Platform, token: Callable[..., str]
) -> None:
    """Enrolment's catalogue names the DEI topic; matching learns it from the programme's
    events, so its safeguard fires for it in a programme with default settings."""
    hris, admin = token("hris"), token("hr_admin")
    async with platform.client(hris) as job:
        assert (await job.done(EMPLOYEES, "importEmployees", "report",
                               records=DEI_PEOPLE))["created"] == 3
    lea, noa, ola = [await _employee_id(platform.gateway.url, hris, r["externalId"])
                     for r in DEI_PEOPLE]
    async with platform.client(admin) as hr:
        created = await hr.done(
            """mutation { createProgramme(input: {name: "Inclusive leaders",
                 matchingMode: SHORTLIST}) { programme { id topics } errors { code } } }""",
            "createProgramme", "programme")
        assert DEI in created["topics"]
        programme_id = created["id"]
        await hr.done("""mutation ($id: ID!) { changeProgrammeStatus(programmeId: $id,
                           status: OPEN) { programme { status } errors { code } } }""",
                      "changeProgrammeStatus", "programme", id=programme_id)
    mentors = {}
    for who, opted_in in ((lea, False), (noa, True)):
        async with platform.client(token("participant", employee_id=who)) as client:
            teaches = [{"topic": TOPIC, "level": 5}]
            if opted_in:
                teaches.append({"topic": DEI, "level": 4})
            mentors[who] = await client.done(ENROL, "enrol", "participant",
                                             programmeId=programme_id, input={
                "role": "MENTOR", "languages": ["en"], "deiOptIn": opted_in,
                "topicsTeach": teaches})
    async with platform.client(token("participant", employee_id=ola)) as senior:
        mentee = await senior.done(ENROL, "enrol", "participant", programmeId=programme_id,
                                   input={"role": "MENTEE", "languages": ["en"],
                                          "topicsLearn": [{"topic": DEI, "level": 1},
                                                          {"topic": TOPIC, "level": 1}]})
        shortlist = await _when(
            senior,
            """query ($p: ID!, $m: ID!) { suggestions(programmeId: $p, menteeParticipantId: $m,
                 limit: 10) { mentorParticipantId } }""",
            lambda data: data["suggestions"] or None, p=programme_id, m=mentee["id"])
        # Lea teaches the other topic well, but did not opt in: never on the shortlist.
        assert [s["mentorParticipantId"] for s in shortlist] == [mentors[noa]["id"]]
        picked = await senior.data(
            """mutation ($p: ID!, $mentee: ID!, $mentor: ID!) { pickMentor(programmeId: $p,
                 menteeParticipantId: $mentee, mentorParticipantId: $mentor) {
                 pair { id } errors { code message } } }""",
            p=programme_id, mentee=mentee["id"], mentor=mentors[lea]["id"])
        assert picked["pickMentor"]["pair"] is None
        assert "deiOptIn" in picked["pickMentor"]["errors"][0]["message"]
    async with platform.client(admin) as hr:
        config = await hr.data("""query ($p: ID!) { matchingConfig(programmeId: $p) {
                                    deiTopics } }""", p=programme_id)
        assert config["matchingConfig"]["deiTopics"] == [DEI]


async def test_in_an_admin_programme_pick_mentor_is_refused_naming_the_mode(
    platform: Platform, token: Callable[..., str]
) -> None:
    hris, admin = token("hris"), token("hr_admin")
    async with platform.client(hris) as job:
        assert (await job.done(EMPLOYEES, "importEmployees", "report",
                               records=DEI_PEOPLE))["created"] == 3
    lea, _, ola = [await _employee_id(platform.gateway.url, hris, r["externalId"])
                   for r in DEI_PEOPLE]
    async with platform.client(admin) as hr:
        created = await hr.done(
            """mutation { createProgramme(input: {name: "Admin-paired", status: OPEN,
                 matchingMode: ADMIN}) { programme { id matchingMode } errors { code } } }""",
            "createProgramme", "programme")
        assert created["matchingMode"] == "ADMIN"
    roles = ((lea, "MENTOR", "topicsTeach", 5), (ola, "MENTEE", "topicsLearn", 1))
    ids = {}
    for who, role, topics, level in roles:
        async with platform.client(token("participant", employee_id=who)) as client:
            ids[who] = (await client.done(ENROL, "enrol", "participant",
                                          programmeId=created["id"], input={
                "role": role, "languages": ["en"],
                topics: [{"topic": TOPIC, "level": level}]}))["id"]
    async with platform.client(token("participant", employee_id=ola)) as senior:
        await _when(senior, """query ($p: ID!, $m: ID!) { suggestions(programmeId: $p,
                      menteeParticipantId: $m) { mentorParticipantId } }""",
                    lambda data: data["suggestions"] or None, p=created["id"], m=ids[ola])
        picked = (await senior.data(
            """mutation ($p: ID!, $mentee: ID!, $mentor: ID!) { pickMentor(programmeId: $p,
                 menteeParticipantId: $mentee, mentorParticipantId: $mentor) {
                 pair { id } errors { field code message } } }""",
            p=created["id"], mentee=ids[ola], mentor=ids[lea]))["pickMentor"]
    assert picked["pair"] is None
    [error] = picked["errors"]
    assert error["code"] == "CONFLICT" and "matchingMode is admin" in error["message"]
    assert error["field"] == "programmeId"
