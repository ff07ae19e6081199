"""Finding people through the gateway: the HR invite picker's employee search, and an
employee looked up by the HRIS's own id."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.e2e.conftest import Platform

EMPLOYEES_CSV = (
    "external_id,email,given_name,family_name,job_title,job_level,department,"
    "manager_external_id,location,time_zone\n"
    "E0001,ana.lima@example.com,Ana,Lima,Analyst,3,Finance,,Lisbon,Europe/Lisbon\n"
    "E0002,bo.berg@example.com,Bo,Berg,Designer,3,Digital,,Oslo,Europe/Oslo\n"
    "E0003,cy.lim@example.com,Cy,Lim,Director,12,Finance,,London,Europe/London\n"
    "E0004,di.ng@example.com,Di,Ng,Engineer,4,Digital,,London,Europe/London\n"
    "E0005,ed.park@example.com,Ed,Park,Analyst,3,Finance,,London,Europe/London\n"
)
SEARCH = """
query Find($search: String, $department: String, $level: Int, $after: String) {
  employees(search: $search, department: $department, jobLevel: $level, first: 2,
            after: $after) {
    totalCount nodes { externalId givenName familyName }
    pageInfo { hasNextPage hasPreviousPage endCursor }
  }
}"""


async def test_hr_searches_employees_page_by_page_and_finds_one_by_external_id(
    platform: Platform, token: Callable[..., str],
) -> None:
    hris = token("hris")
    async with httpx.AsyncClient(base_url=platform.gateway.url,
                                 headers={"Authorization": f"Bearer {hris}"}) as client:
        imported = await client.post("/api/v1/employees/import", content=EMPLOYEES_CSV,
                                     headers={"content-type": "text/csv"})
    assert imported.status_code == 200, imported.text

    async with platform.client(token("hr_admin")) as hr:
        # "lim" finds Lima and Lim by family name, by family name then given name.
        found = (await hr.data(SEARCH, search="LIM"))["employees"]
        assert found["totalCount"] == 2
        assert [n["familyName"] for n in found["nodes"]] == ["Lim", "Lima"]
        # Department and level narrow it; pages follow each other with the cursor.
        first = (await hr.data(SEARCH, department="finance", level=3))["employees"]
        assert first["totalCount"] == 2 and first["pageInfo"]["hasNextPage"] is False
        everyone = (await hr.data(SEARCH))["employees"]
        assert everyone["totalCount"] == 5 and everyone["pageInfo"]["hasNextPage"] is True
        names = [n["familyName"] for n in everyone["nodes"]]
        after = everyone["pageInfo"]["endCursor"]
        while after:
            page = (await hr.data(SEARCH, after=after))["employees"]
            assert page["pageInfo"]["hasPreviousPage"] is True
            names += [n["familyName"] for n in page["nodes"]]
            after = page["pageInfo"]["endCursor"] if page["pageInfo"]["hasNextPage"] else None
        assert names == ["Berg", "Lim", "Lima", "Ng", "Park"]
        # The search text is capped.
        long = await hr.execute(SEARCH, search="x" * 101)
        assert not (long.get("data") or {}).get("employees")
        assert long["errors"][0]["extensions"]["status"] == 422
        assert long["errors"][0]["extensions"]["field"] == "search"

        # The HRIS's own id, where employee(employeeId) takes Upward's.
        by_hris_id = """query ($x: String!) {
          employeeByExternalId(externalId: $x) { id externalId givenName } }"""
        ana = (await hr.data(by_hris_id, x="E0001"))["employeeByExternalId"]
        assert ana["externalId"] == "E0001" and ana["givenName"] == "Ana"
        same = (await hr.data("query ($id: ID!) { employee(employeeId: $id) { externalId } }",
                              id=ana["id"]))["employee"]
        assert same == {"externalId": "E0001"}
        missing = await hr.execute(by_hris_id, x="E9999")
        assert missing["errors"][0]["extensions"]["status"] == 404
    async with platform.client(hris) as job:
        assert (await job.data(by_hris_id, x="E0002"))["employeeByExternalId"]["externalId"] \
            == "E0002"
        refused = await job.execute(SEARCH, search="lim")
        assert refused["errors"][0]["extensions"]["status"] == 403
