"""Programmes: settings, topic catalogue, lifecycle rules, programme-updated events."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from tests.support.stack import Running, wait_until

FULL = {
    "name": "Digital fluency for leaders",
    "description": "Juniors teach the leadership team.",
    "objectives": "Leaders use data tools weekly.",
    "goal_templates": [{"title": "Raise data-visualisation proficiency by 30 %",
                        "topic": "data analytics and visualisation",
                        "target_change_percent": 30, "within_months": 6}],
    "mentor_max_level": 4, "mentee_min_level": 8, "min_level_gap": 3,
    "enrolment_opens_on": "2020-01-01", "enrolment_closes_on": "2099-12-31",
    "capacity": 40, "session_cadence": "weekly", "session_minutes": 45,
    "duration_weeks": 26, "meeting_format": "hybrid", "mutual": True,
    "matching_mode": "shortlist", "diversity_objective": True,
    "guidelines": [{"kind": "confidentiality", "title": "What is said stays in the pair"},
                   {"kind": "training", "title": "Giving feedback",
                    "url": "https://learning.corp.example/feedback"}],
    "status": "draft",
}


async def test_a_programme_keeps_every_setting_and_seeds_the_topics(
    hr: httpx.AsyncClient, events: Callable[[str], Any]
) -> None:
    created = await hr.post("/api/v1/programmes", json=FULL)
    assert created.status_code == 201, created.text
    body = created.json()
    for key, value in FULL.items():
        if key not in {"goal_templates", "guidelines"}:
            assert body[key] == value, key
    assert body["goal_templates"][0]["target_change_percent"] == 30
    assert body["guidelines"][1]["url"].endswith("/feedback")
    assert "social media" in body["topics"] and "DEI perspectives" in body["topics"]
    assert len(body["topics"]) == 9
    published = await wait_until(lambda: events("mentoring.programme.updated"))
    snapshot = published[0]["data"]["programme"]
    assert snapshot["status"] == "draft" and snapshot["matching_mode"] == "shortlist"
    assert snapshot["session_minutes"] == 45 and snapshot["mutual"] is True


async def test_default_is_open_so_people_can_enrol_right_away(hr: httpx.AsyncClient) -> None:
    created = (await hr.post("/api/v1/programmes", json={"name": "Quick"})).json()
    assert created["status"] == "open" and created["session_cadence"] == "biweekly"


async def test_lifecycle_moves_forward_only(
    hr: httpx.AsyncClient, events: Callable[[str], Any]
) -> None:
    pid = (await hr.post("/api/v1/programmes", json=FULL)).json()["id"]
    skip = await hr.post(f"/api/v1/programmes/{pid}/status", json={"status": "running"})
    assert skip.status_code == 409 and skip.json()["field"] == "status"
    for status in ("open", "running", "closed"):
        moved = await hr.post(f"/api/v1/programmes/{pid}/status", json={"status": status})
        assert moved.status_code == 200 and moved.json()["status"] == status
    back = await hr.post(f"/api/v1/programmes/{pid}/status", json={"status": "open"})
    assert back.status_code == 409
    published = await wait_until(
        lambda: _count(events("mentoring.programme.updated"), 4))
    assert [e["data"]["programme"]["status"] for e in published] == [
        "draft", "open", "running", "closed"]


async def _count(pending: Any, count: int) -> Any:
    got = await pending
    return got if len(got) >= count else None


async def test_each_state_allows_only_its_changes(hr: httpx.AsyncClient) -> None:
    pid = (await hr.post("/api/v1/programmes", json=FULL)).json()["id"]
    draft = await hr.patch(f"/api/v1/programmes/{pid}",
                           json={"mentor_max_level": 5, "topics": ["social media"]})
    assert draft.status_code == 200 and draft.json()["topics"] == ["social media"]
    await hr.post(f"/api/v1/programmes/{pid}/status", json={"status": "open"})
    locked = await hr.patch(f"/api/v1/programmes/{pid}", json={"mentee_min_level": 6})
    assert locked.status_code == 409 and locked.json()["field"] == "mentee_min_level"
    removed = await hr.patch(f"/api/v1/programmes/{pid}", json={"topics": []})
    assert removed.status_code == 409 and removed.json()["field"] == "topics"
    cadence = await hr.patch(f"/api/v1/programmes/{pid}", json={"session_cadence": "monthly"})
    assert cadence.status_code == 200
    await hr.post(f"/api/v1/programmes/{pid}/status", json={"status": "running"})
    running = await hr.patch(f"/api/v1/programmes/{pid}", json={"session_minutes": 30})
    assert running.status_code == 409
    renamed = await hr.patch(f"/api/v1/programmes/{pid}", json={"name": "Renamed"})
    assert renamed.status_code == 200
    await hr.post(f"/api/v1/programmes/{pid}/status", json={"status": "closed"})
    closed = await hr.patch(f"/api/v1/programmes/{pid}", json={"description": "late"})
    assert closed.status_code == 409


async def test_topics_extend_per_programme_without_duplicates(hr: httpx.AsyncClient) -> None:
    pid = (await hr.post("/api/v1/programmes", json={"name": "P"})).json()["id"]
    added = await hr.post(f"/api/v1/programmes/{pid}/topics",
                          json={"topics": ["Prompt engineering", "social  MEDIA"]})
    topics = added.json()["topics"]
    assert topics[-1] == "Prompt engineering" and len(topics) == 10


async def test_bad_programmes_name_the_field(hr: httpx.AsyncClient) -> None:
    minutes = await hr.post("/api/v1/programmes", json={"name": "P", "session_minutes": 50})
    assert minutes.status_code == 422 and minutes.json()["field"] == "session_minutes"
    window = await hr.post("/api/v1/programmes", json={
        "name": "P", "enrolment_opens_on": "2030-02-01", "enrolment_closes_on": "2030-01-01"})
    assert window.status_code == 422 and window.json()["field"] == "enrolment_closes_on"
    mode = await hr.post("/api/v1/programmes", json={"name": "P", "matching_mode": "random"})
    assert mode.status_code == 422 and mode.json()["field"] == "matching_mode"


async def test_participants_cannot_manage_or_see_drafts(
    enrolment: Running, hr: httpx.AsyncClient, token: Callable[..., str]
) -> None:
    draft = (await hr.post("/api/v1/programmes", json=FULL)).json()["id"]
    async with enrolment.client(token("participant", employee_id="e1")) as client:
        assert (await client.post("/api/v1/programmes", json={"name": "X"})).status_code == 403
        assert (await client.get(f"/api/v1/programmes/{draft}")).status_code == 404
        assert all(p["id"] != draft for p in (await client.get("/api/v1/programmes")).json())


async def test_blackout_dates_and_template_ids_are_kept_and_travel_in_the_event(
    hr: httpx.AsyncClient, events: Callable[[str], Any]
) -> None:
    created = await hr.post("/api/v1/programmes", json={
        "name": "Holidays", "blackout_dates": ["2027-12-25", "2027-01-01", "2027-12-25"],
        "goal_templates": [{"title": "Dashboards", "measure": "proficiency", "unit": "points",
                            "baseline": 50, "target_change_percent": 30, "within_months": 6},
                           {"id": "mine", "title": "Given id"}]})
    assert created.status_code == 201, created.text
    body = created.json()
    # Sorted, duplicates dropped; every template has an id, a given one is kept.
    assert body["blackout_dates"] == ["2027-01-01", "2027-12-25"]
    first_id = body["goal_templates"][0]["id"]
    assert first_id and body["goal_templates"][1]["id"] == "mine"
    published = await wait_until(lambda: events("mentoring.programme.updated"))
    snapshot = published[-1]["data"]["programme"]
    assert snapshot["blackout_dates"] == ["2027-01-01", "2027-12-25"]
    assert [t["id"] for t in snapshot["goal_templates"]] == [first_id, "mine"]
    assert snapshot["goal_templates"][0]["unit"] == "points"

    pid = body["id"]
    updated = await hr.patch(f"/api/v1/programmes/{pid}", json={
        "blackout_dates": ["2027-05-01"], "goal_templates": body["goal_templates"]})
    assert updated.status_code == 200, updated.text
    assert updated.json()["blackout_dates"] == ["2027-05-01"]
    assert updated.json()["goal_templates"][0]["id"] == first_id  # ids stay on update

    for bad in (["1899-12-31"], ["not a date"], ["2027-01-01"] * 367, None):
        refused = await hr.patch(f"/api/v1/programmes/{pid}", json={"blackout_dates": bad})
        assert refused.status_code == 422, (bad, refused.text)
        assert "blackout_dates" in refused.text
    twice = await hr.patch(f"/api/v1/programmes/{pid}", json={
        "goal_templates": [{"id": "x", "title": "a"}, {"id": "x", "title": "b"}]})
    assert twice.status_code == 422 and twice.json()["field"] == "goal_templates"
    assert (await hr.get(f"/api/v1/programmes/{pid}")).json()["blackout_dates"] == [
        "2027-05-01"]
