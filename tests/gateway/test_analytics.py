"""Analytics' figures through the gateway: retention for one programme or all, and health
for several programmes in one downstream call."""

from __future__ import annotations

from collections.abc import Callable

from tests.gateway.conftest import Stack

RETENTION = """
query ($p: ID, $w: Int!, $d: Date) {
  programmeRetention(programmeId: $p, windowMonths: $w, asOf: $d) {
    programmeId windowMonths asOf
    matching { role participants unmatched }
    groups { group suppressed people retention { months estimate lower upper } }
    comparisons { role pValue }
  }
}
"""


async def test_retention_of_one_programme_or_of_all_reaches_its_own_route(
    stack: Stack, token: Callable[..., str]
) -> None:
    admin = token("programme_manager")
    one = await stack.graphql(RETENTION, {"p": "prog1", "w": 12, "d": "2026-03-31"}, token=admin)
    every = await stack.graphql(RETENTION, {"w": 24}, token=admin)

    report = one.json()["data"]["programmeRetention"]
    assert (report["programmeId"], report["windowMonths"], report["asOf"]) == (
        "prog1", 12, "2026-03-31")
    assert [g["group"] for g in report["groups"]] == ["MENTORS", "MENTEES"]
    assert report["groups"][1] == {"group": "MENTEES", "suppressed": "fewer than 5 people",
                                   "people": None, "retention": []}
    assert report["comparisons"] == [{"role": "MENTOR", "pValue": 0.22}]
    assert every.json()["data"]["programmeRetention"]["programmeId"] is None
    calls = [(c.path, c.query) for c in stack.recorders["analytics"].calls]
    assert calls == [("/api/v1/programmes/prog1/retention", "window_months=12&as_of=2026-03-31"),
                     ("/api/v1/retention", "window_months=24")]


async def test_several_programmes_health_is_one_call(
    stack: Stack, token: Callable[..., str]
) -> None:
    query = """{ a: programmeHealth(programmeId: "prog1") { programmeId attendanceRate
                   funnel { role enrolled } interestTrend { month optIns } }
                 b: programmeHealth(programmeId: "prog2") { programmeId pairsEnded { reason } } }"""
    response = await stack.graphql(query, token=token("hr_admin"))

    data = response.json()["data"]
    assert data["a"] == {"programmeId": "prog1", "attendanceRate": 0.75,
                         "funnel": [{"role": "MENTOR", "enrolled": 3},
                                    {"role": "MENTEE", "enrolled": 4}],
                         "interestTrend": [{"month": "2026-01", "optIns": 7}]}
    assert data["b"] == {"programmeId": "prog2", "pairsEnded": [{"reason": "completed"}]}
    assert stack.recorders["analytics"].paths() == ["/api/v1/batch/programme-health"]


async def test_health_in_depth_of_one_programme_or_all_reaches_its_own_route(
    stack: Stack, token: Callable[..., str]
) -> None:
    query = """{ programmeHealth(programmeId: "prog1") {
                   report(from: "2026-01-01", to: "2026-03-31", levelBand: LEVELS_7_AND_UP) {
                     programmeId start end levelBand funnel { role optedIn invited }
                     timeToMatch { role medianDays p90Days } pairs { atRisk ended { reason } }
                     sessions { attendanceRate } ratings { mean fitPoor distribution { value } }
                     topics { topic sessions } goals { achieved progressMean }
                     leadership { seniorMinLevel share }
                     diversity { role value suppressed people } } }
                 healthReport(department: "Sales") { programmeId department pairs { formed } } }"""
    response = await stack.graphql(query, token=token("hr_admin"))

    data = response.json()["data"]
    report = data["programmeHealth"]["report"]
    assert (report["programmeId"], report["start"], report["end"], report["levelBand"]) == (
        "prog1", "2026-01-01", "2026-03-31", "7+")
    assert report["funnel"] == [{"role": "MENTOR", "optedIn": 6, "invited": 7}]
    assert report["timeToMatch"] == [{"role": "MENTEE", "medianDays": 9.5, "p90Days": 20.0}]
    assert report["pairs"] == {"atRisk": 1, "ended": [{"reason": "completed"}]}
    assert report["ratings"] == {"mean": 4.2, "fitPoor": 1, "distribution": [{"value": "5"}]}
    assert report["leadership"] == {"seniorMinLevel": 7, "share": 0.2}
    assert report["diversity"][1] == {"role": "mentor", "value": "f", "suppressed": True,
                                      "people": None}
    assert data["healthReport"] == {"programmeId": None, "department": "Sales",
                                    "pairs": {"formed": 4}}
    calls = sorted((c.path, c.query) for c in stack.recorders["analytics"].calls
                   if c.path.endswith("/report"))
    assert calls == [
        ("/api/v1/health/report", "department=Sales"),
        ("/api/v1/programmes/prog1/health/report",
         "from=2026-01-01&to=2026-03-31&level_band=7%2B")]
