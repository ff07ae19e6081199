"""Whole-cohort match runs through the API: dry runs, objectives, publishing, reasons."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import text

from tests.matching.conftest import (
    Feed,
    at,
    employee,
    participant,
    skills,
    wait_pool,
    wait_published,
    wishes,
)
from tests.support.nats import NatsServer
from tests.support.stack import Running, wait_until

PROGRAMME = "prog-runs"


async def small_cohort(feed: Feed, admin: httpx.AsyncClient) -> None:
    """Two mentees want the same star mentor; a third mentee is too junior for anyone."""
    await feed.programme(PROGRAMME, min_level_gap=2)
    await feed.enrol(participant(PROGRAMME, "mentor", employee("emp-star", job_level=2),
                                 "p-star", topics_teach=skills("AI tools", "Python", level=5)))
    await feed.enrol(participant(PROGRAMME, "mentor", employee("emp-plain", job_level=2),
                                 "p-plain", topics_teach=skills("Knitting", level=2),
                                 avoid_employee_ids=["emp-b"]))
    await feed.enrol(participant(PROGRAMME, "mentee", employee("emp-a", job_level=9), "p-a",
                                 topics_learn=wishes("AI tools", "Python")))
    await feed.enrol(participant(PROGRAMME, "mentee", employee("emp-b", job_level=9), "p-b",
                                 topics_learn=wishes("AI tools", "Cooking")))
    await feed.enrol(participant(PROGRAMME, "mentee", employee("emp-c", job_level=3), "p-c",
                                 topics_learn=wishes("AI tools")))
    await wait_pool(admin, PROGRAMME, mentors=2, mentees=3)
    # Topics only, so the two objectives disagree.
    weights = {f: 0 for f in ("interests", "availability", "language", "format",
                              "department", "level_gap")}
    response = await admin.put(f"/api/v1/programmes/{PROGRAMME}/matching-config",
                               json={"weights": weights})
    assert response.status_code == 200


async def test_a_dry_run_reports_pairs_totals_and_reasons_and_forms_nothing(
    feed: Feed, admin: httpx.AsyncClient
) -> None:
    await small_cohort(feed, admin)
    response = await admin.post(f"/api/v1/programmes/{PROGRAMME}/match-runs",
                                json={"objective": "max_score", "dry_run": True})
    assert response.status_code == 201, response.text
    run = response.json()
    assert run["status"] == "draft" and run["optimal"] is True
    assert run["matched"] == 1 and run["total_score"] == 100.0
    assert [(p["mentee_participant_id"], p["mentor_participant_id"], p["score"])
            for p in run["pairs"]] == [("p-a", "p-star", 100.0)]
    # Every pair of a run carries its breakdown, and the points add up to the score.
    (pair,) = run["pairs"]
    assert [f["factor"] for f in pair["breakdown"]] == ["complementarity"]
    assert sum(f["points"] for f in pair["breakdown"]) == pair["score"]
    assert "teaches AI tools (5/5)" in pair["breakdown"][0]["reason"]
    reasons = {u["mentee_participant_id"]: u["reason"] for u in run["unmatched_mentees"]}
    assert reasons == {"p-b": "capacity_taken", "p-c": "no_eligible_mentor"}
    assert (await admin.get("/api/v1/pairs", params={"programme_id": PROGRAMME})).json() == []
    listed = (await admin.get(f"/api/v1/programmes/{PROGRAMME}/match-runs")).json()
    assert [r["id"] for r in listed] == [run["id"]]


async def test_max_participation_matches_more_mentees(
    feed: Feed, admin: httpx.AsyncClient
) -> None:
    await small_cohort(feed, admin)
    run = (await admin.post(f"/api/v1/programmes/{PROGRAMME}/match-runs",
                            json={"objective": "max_participation", "dry_run": True})).json()
    assert run["matched"] == 2
    assert {(p["mentee_participant_id"], p["mentor_participant_id"]) for p in run["pairs"]} == {
        ("p-a", "p-plain"), ("p-b", "p-star")}


async def test_a_run_answers_a_page_of_its_lists_and_counts_them_whole(
    feed: Feed, admin: httpx.AsyncClient
) -> None:
    """A 100,000-mentee run has 100,000 explained pairs: every answer carries one page."""
    await small_cohort(feed, admin)
    await feed.enrol(participant(PROGRAMME, "mentee", employee("emp-d", job_level=3), "p-d",
                                 topics_learn=wishes("AI tools")))
    await wait_pool(admin, PROGRAMME, mentors=2, mentees=4)
    run = (await admin.post(f"/api/v1/programmes/{PROGRAMME}/match-runs",
                            json={"objective": "max_participation", "dry_run": True})).json()
    assert len(run["pairs"]) == 2 and len(run["unmatched_mentees"]) == 2 and run["offset"] == 0
    url = f"/api/v1/match-runs/{run['id']}"
    page = (await admin.get(url, params={"offset": 1, "limit": 1})).json()
    assert page["pairs"] == run["pairs"][1:2]
    assert page["unmatched_mentees"] == run["unmatched_mentees"][1:2]
    assert (page["offset"], page["matched"], page["unmatched"]) == (1, 2, 2)
    figures = (await admin.get(url, params={"limit": 0})).json()
    assert figures["pairs"] == [] and figures["unmatched_mentees"] == []
    assert figures["total_score"] == run["total_score"]
    listed = (await admin.get(f"/api/v1/programmes/{PROGRAMME}/match-runs",
                              params={"limit": 0})).json()
    assert [(r["id"], r["pairs"], r["matched"]) for r in listed] == [(run["id"], [], 2)]
    for params, field in (({"limit": 10_001}, "limit"), ({"offset": -1}, "offset")):
        refused = await admin.get(url, params=params)
        assert refused.status_code == 422 and refused.json()["field"] == field, refused.text
    published = (await admin.post(f"{url}/publish", params={"limit": 1})).json()
    assert published["formed"] == 2 and len(published["pair_ids"]) == 1
    both = (await admin.get(url)).json()["pair_ids"]
    assert published["pair_ids"] == both[:1] and len(both) == 2
    listed = (await admin.get(f"/api/v1/programmes/{PROGRAMME}/match-runs")).json()
    assert [(r["status"], r["formed"]) for r in listed] == [("published", 2)]


async def test_publishing_a_run_forms_its_pairs_once(
    feed: Feed, admin: httpx.AsyncClient, nats_server: NatsServer
) -> None:
    await small_cohort(feed, admin)
    run = (await admin.post(f"/api/v1/programmes/{PROGRAMME}/match-runs",
                            json={"objective": "max_participation", "dry_run": True})).json()
    published = await admin.post(f"/api/v1/match-runs/{run['id']}/publish")
    assert published.status_code == 200, published.text
    assert published.json()["status"] == "published"
    assert len(published.json()["pair_ids"]) == 2
    events = await wait_published(nats_server.url, "mentoring.pair.formed", 2)
    assert {e["data"]["pair_id"] for e in events} == set(published.json()["pair_ids"])
    pairs = (await admin.get("/api/v1/pairs", params={"programme_id": PROGRAMME})).json()
    assert {p["status"] for p in pairs} == {"active"} and len(pairs) == 2
    again = await admin.post(f"/api/v1/match-runs/{run['id']}/publish")
    assert again.status_code == 409
    # Everyone eligible is paired now: a new run has nothing left to match.
    next_run = (await admin.post(f"/api/v1/programmes/{PROGRAMME}/match-runs",
                                 json={"objective": "max_score", "dry_run": True})).json()
    assert next_run["matched"] == 0 and next_run["unmatched"] == 1


async def test_a_run_without_dry_run_publishes_at_once_and_only_admins_run(
    feed: Feed, admin: httpx.AsyncClient, matching: Running, token: Callable[..., str]
) -> None:
    await small_cohort(feed, admin)
    async with matching.client(token("participant", employee_id="emp-a")) as mentee:
        refused = await mentee.post(f"/api/v1/programmes/{PROGRAMME}/match-runs",
                                    json={"objective": "max_score", "dry_run": True})
        assert refused.status_code == 403
    run = (await admin.post(f"/api/v1/programmes/{PROGRAMME}/match-runs",
                            json={"objective": "max_score", "dry_run": False})).json()
    assert run["status"] == "published" and len(run["pair_ids"]) == 1
    fetched = (await admin.get(f"/api/v1/match-runs/{run['id']}")).json()
    assert fetched["pair_ids"] == run["pair_ids"]


async def test_the_diversity_factor_is_named_only_to_hr_admins(
    feed: Feed, admin: httpx.AsyncClient, matching: Running, token: Callable[..., str]
) -> None:
    """A mentee reading their pair (or a programme manager a run) never learns the attribute."""
    programme = "prog-objective"
    await feed.programme(programme, min_level_gap=2, diversity_objective=True)
    await feed.enrol(participant(programme, "mentor", employee("emp-d", job_level=2), "p-d",
                                 topics_teach=skills("AI tools"),
                                 diversity={"under_represented": "yes"}))
    await feed.enrol(participant(programme, "mentee", employee("emp-m", job_level=9), "p-m",
                                 topics_learn=wishes("AI tools")))
    await wait_pool(admin, programme, mentors=1, mentees=1)
    run = (await admin.post(f"/api/v1/programmes/{programme}/match-runs",
                            json={"objective": "max_score", "dry_run": False})).json()
    factors = {f["factor"]: f for f in run["pairs"][0]["breakdown"]}
    assert "counts toward" in factors["diversity"]["reason"]
    (pair_id,) = run["pair_ids"]
    async with matching.client(token("participant", employee_id="emp-m")) as mentee:
        for pair in [(await mentee.get(f"/api/v1/pairs/{pair_id}")).json(),
                     *(await mentee.get("/api/v1/pairs")).json()]:
            shown = {f["factor"]: f for f in pair["breakdown"]}
            assert "diversity" not in shown
            assert "diversity" not in str(pair["breakdown"]).replace("programme_objective", "")
            assert shown["programme_objective"]["points"] == factors["diversity"]["points"]
    async with matching.client(token("programme_manager")) as manager:
        seen = (await manager.get(f"/api/v1/match-runs/{run['id']}")).json()
        assert "diversity" not in {f["factor"] for f in seen["pairs"][0]["breakdown"]}
    admin_view = (await admin.get(f"/api/v1/pairs/{pair_id}")).json()
    assert "diversity" in {f["factor"] for f in admin_view["breakdown"]}


async def test_every_finished_run_is_announced_after_its_pairs(
    feed: Feed, admin: httpx.AsyncClient, nats_server: NatsServer
) -> None:
    """A dry run is announced as a draft; publishing it announces it again once its pairs
    formed, so a listener that sees the run published already has their `pair.formed`."""
    await small_cohort(feed, admin)
    run = (await admin.post(f"/api/v1/programmes/{PROGRAMME}/match-runs",
                            json={"objective": "max_participation", "dry_run": True})).json()
    [draft] = await wait_published(nats_server.url, "mentoring.matchrun.finished", 1)
    assert draft["type"] == "matchrun.finished.v1" and draft["subject"] == run["id"]
    assert {k: draft["data"][k] for k in ("run_id", "programme_id", "objective", "dry_run",
                                          "status", "matched", "unmatched", "formed_pairs")} == {
        "run_id": run["id"], "programme_id": PROGRAMME, "objective": "max_participation",
        "dry_run": True, "status": "draft", "matched": 2, "unmatched": 1, "formed_pairs": 0}
    published = await admin.post(f"/api/v1/match-runs/{run['id']}/publish")
    assert published.status_code == 200, published.text
    assert (published.json()["status"], published.json()["dry_run"]) == ("published", False)
    listed = (await admin.get(f"/api/v1/programmes/{PROGRAMME}/match-runs")).json()
    assert [(r["status"], r["dry_run"]) for r in listed] == [("published", False)]
    finished = await wait_published(nats_server.url, "mentoring.matchrun.finished", 2)
    assert [(e["data"]["status"], e["data"]["formed_pairs"], e["data"]["dry_run"])
            for e in finished] == [("draft", 0, True), ("published", 2, False)]
    # Written after its pairs' events in the same transaction (the relay sends in that order).
    pairs = await wait_published(nats_server.url, "mentoring.pair.formed", 2)
    assert max(e["time"] for e in pairs) <= finished[1]["time"]


async def test_an_automatic_programme_is_matched_once_when_it_starts_running(
    feed: Feed, admin: httpx.AsyncClient, nats_server: NatsServer, matching: Running
) -> None:
    await small_cohort(feed, admin)
    await feed.programme(PROGRAMME, minutes=2, min_level_gap=2, matching_mode="automatic")
    runs_path = f"/api/v1/programmes/{PROGRAMME}/match-runs"
    assert (await admin.get(runs_path)).json() == []  # open: nothing runs yet
    await feed.programme(PROGRAMME, minutes=5, min_level_gap=2, matching_mode="automatic",
                         status="running")

    async def published() -> list[dict[str, Any]] | None:
        found = (await admin.get(runs_path)).json()
        return found if found else None

    [run] = await wait_until(published)
    assert (run["status"], run["dry_run"], run["objective"]) == (
        "published", False, "max_participation")
    assert run["formed"] == 2
    assert datetime.fromisoformat(run["published_at"].replace("Z", "+00:00")) == at(5)
    pairs = (await admin.get("/api/v1/pairs", params={"programme_id": PROGRAMME})).json()
    assert len(pairs) == 2 and {p["origin"] for p in pairs} == {"run"}
    # A later change while running (or the same event again) runs nothing more.
    await feed.programme(PROGRAMME, minutes=6, min_level_gap=2, matching_mode="automatic",
                         status="running", name="Renamed")

    async def renamed() -> bool | None:
        async with matching.app.state.engine.connect() as connection:
            name = (await connection.execute(
                text("SELECT name FROM matching_programme WHERE id = :id"),
                {"id": PROGRAMME})).scalar()
        return True if name == "Renamed" else None

    await wait_until(renamed)
    formed = await wait_published(nats_server.url, "mentoring.pair.formed", 2)
    assert len(formed) == 2
    assert len((await admin.get(runs_path)).json()) == 1
