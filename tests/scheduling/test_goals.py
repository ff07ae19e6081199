"""A pair's SMART goals: set by a member, progressed by either, closed, each change announced."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import func, select

from scheduling.models import Goal, GoalProgress
from tests.scheduling.test_api import (
    CATALOGUE,
    MENTEE,
    MENTOR,
    OUTSIDER,
    PlannedPair,
    StartService,
    planned_pair,
)
from tests.support.stack import wait_until
from tests.support.stream import Stream
from upward_common.events import (
    GoalTemplateSnapshot,
    PairEnded,
    ProgrammeSnapshot,
    ProgrammeUpdated,
    utcnow,
)
from upward_common.tables import OutboxEvent


def today() -> date:
    """Today in UTC, as the service reads it: asked at the moment of use, since a run
    that crosses midnight would otherwise hold yesterday."""
    return datetime.now(UTC).date()


# Its due date moves with the day: `_create` sends it as of the call.
GOAL = {"text": "Raise proficiency in data visualisation by 30 % within six months",
        "measure": "self-assessed proficiency", "unit": "points", "baseline": 50,
        "target": 65}


@pytest.fixture
def pair(
    start_service: StartService, stream: Stream, token: Callable[..., str]
) -> AbstractAsyncContextManager[PlannedPair]:
    return planned_pair(start_service, stream, token)


async def _create(p: PlannedPair, who: str = MENTEE, **changes: Any) -> Any:
    due_on = (today() + timedelta(days=180)).isoformat()
    return await p.call(who, "POST", f"/api/v1/pairs/{p.pair_id}/goals",
                        json={**GOAL, "due_on": due_on, **changes})


async def test_members_set_and_progress_a_goal_and_each_change_is_announced(
    pair: AbstractAsyncContextManager[PlannedPair], stream: Stream,
) -> None:
    async with pair as p:
        created = await _create(p)
        assert created.status_code == 201, created.text
        goal = created.json()
        assert goal["status"] == "active" and goal["progress_percent"] == 0
        assert goal["current"] == 50 and goal["unit"] == "points"

        path = f"/api/v1/goals/{goal['id']}/progress"
        yesterday = (today() - timedelta(days=1)).isoformat()
        # Either member records progress; the latest day's value is the current one.
        first = await p.call(MENTOR, "POST", path,
                             json={"value": 56, "recorded_on": today().isoformat()})
        assert first.status_code == 200, first.text
        assert first.json()["progress_percent"] == 40
        # A goal set today takes no entry for yesterday.
        early = await p.call(MENTEE, "POST", path, json={"value": 53, "recorded_on": yesterday})
        assert early.status_code == 422 and early.json()["field"] == "recorded_on"

        achieved = await p.call(MENTEE, "POST", f"/api/v1/goals/{goal['id']}/status",
                                json={"status": "achieved"})
        assert achieved.status_code == 200, achieved.text
        assert achieved.json()["status"] == "achieved"
        again = await p.call(MENTOR, "POST", path, json={"value": 60,
                                                         "recorded_on": today().isoformat()})
        assert again.status_code == 409

        listed = (await p.call("hr_admin", "GET", f"/api/v1/pairs/{p.pair_id}/goals")).json()
        assert [g["status"] for g in listed] == ["achieved"]
        assert [u["value"] for u in listed[0]["progress"]] == [56]

        updates = await stream.events("mentoring.goal.updated")
        assert [(e.data["status"], e.data["progress_percent"]) for e in updates] == [
            ("active", 0), ("active", 40), ("achieved", 40)]
        assert all(e.data["goal_id"] == goal["id"] for e in updates)
        assert GOAL["text"] not in " ".join(e.model_dump_json() for e in updates)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        # Today at collection: today or, past midnight, yesterday: refused either way.
        ({"due_on": today().isoformat()}, "due_on"),
        ({"target": 50}, "target"),
        ({"text": ""}, "text"),
        ({"text": "x" * 4_001}, "text"),
        ({"unit": "x" * 101}, "unit"),
        ({"baseline": "NaN"}, "baseline"),
        ({"target": 1e13}, "target"),
    ],
)
async def test_a_bad_goal_is_refused_naming_the_field_and_writes_nothing(
    pair: AbstractAsyncContextManager[PlannedPair], changes: dict[str, Any], field: str,
) -> None:
    async with pair as p:
        response = await _create(p, **changes)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["field"] == field
        assert await p.count(select(func.count()).select_from(Goal)) == 0
        assert await p.count(select(func.count()).select_from(OutboxEvent)
                             .where(OutboxEvent.subject == "mentoring.goal.updated")) == 0


async def test_only_the_pair_sets_or_progresses_goals(
    pair: AbstractAsyncContextManager[PlannedPair],
) -> None:
    async with pair as p:
        for who in (OUTSIDER, "hr_admin"):
            assert (await _create(p, who)).status_code == 403, who
        goal = (await _create(p)).json()
        for who in (OUTSIDER, "hr_admin"):
            response = await p.call(who, "POST", f"/api/v1/goals/{goal['id']}/progress",
                                    json={"value": 1, "recorded_on": today().isoformat()})
            assert response.status_code == 403, who
            response = await p.call(who, "POST", f"/api/v1/goals/{goal['id']}/status",
                                    json={"status": "missed"})
            assert response.status_code == 403, who
        outsider = await p.call(OUTSIDER, "GET", f"/api/v1/pairs/{p.pair_id}/goals")
        assert outsider.status_code == 403
        future = (today() + timedelta(days=1)).isoformat()
        ahead = await p.call(MENTOR, "POST", f"/api/v1/goals/{goal['id']}/progress",
                             json={"value": 1, "recorded_on": future})
        assert ahead.status_code == 422 and ahead.json()["field"] == "recorded_on"
        assert await p.count(select(func.count()).select_from(GoalProgress)) == 0


async def test_an_ended_pair_takes_no_new_goal(
    start_service: StartService, stream: Stream, token: Callable[..., str],
) -> None:
    async with planned_pair(start_service, stream, token) as p:
        # Ended before its first session, which is cancelled: the sign the end was applied.
        await stream.publish(PairEnded(pair_id=p.pair_id, programme_id="x", reason="completed",
                                       occurred_at=datetime(2026, 11, 19, tzinfo=UTC)))

        async def ended() -> bool:
            return (await p.session(MENTOR))["status"] == "cancelled"

        await wait_until(ended)
        response = await _create(p)
        # Refused for the ended pair, not for the goal (due six months from today).
        assert response.status_code == 409, response.text
        assert response.json()["detail"] != "" and "due_on" not in response.text


async def test_a_goal_starts_from_a_programme_template_and_explicit_fields_win(
    pair: AbstractAsyncContextManager[PlannedPair], stream: Stream,
) -> None:
    async with pair as p:
        programme_id = (await p.session(MENTEE))["programme_id"]
        # Without the template the programme has none: 422 naming template_id.
        unknown = await p.call(MENTEE, "POST", f"/api/v1/pairs/{p.pair_id}/goals",
                               json={"template_id": "dataviz"})
        assert unknown.status_code == 422 and unknown.json()["field"] == "template_id"
        await stream.publish(ProgrammeUpdated(
            programme=ProgrammeSnapshot(
                programme_id=programme_id, name="One week", status="open",
                session_cadence="weekly", duration_weeks=1, topics=CATALOGUE,
                goal_templates=[GoalTemplateSnapshot(
                    id="dataviz", title="Raise data-visualisation proficiency by 30 %",
                    measure="self-assessed proficiency", unit="points", baseline=50,
                    target_change_percent=30, within_months=6)]),
            occurred_at=utcnow()))

        async def from_template() -> Any:
            response = await p.call(MENTEE, "POST", f"/api/v1/pairs/{p.pair_id}/goals",
                                    json={"template_id": "dataviz"})
            return response if response.status_code == 201 else None

        created = (await wait_until(from_template)).json()
        assert created["text"] == "Raise data-visualisation proficiency by 30 %"
        assert (created["measure"], created["unit"]) == ("self-assessed proficiency", "points")
        assert (created["baseline"], created["target"]) == (50, 65)
        assert created["template_id"] == "dataviz"
        due = date.fromisoformat(created["due_on"])
        assert 180 <= (due - today()).days <= 185  # six months from today

        # Explicit fields win; the target follows an explicit baseline (+30 %).
        own = await p.call(MENTOR, "POST", f"/api/v1/pairs/{p.pair_id}/goals", json={
            "template_id": "dataviz", "text": "Our own words", "baseline": 40,
            "due_on": (today() + timedelta(days=30)).isoformat()})
        assert own.status_code == 201, own.text
        assert own.json()["text"] == "Our own words"
        assert (own.json()["baseline"], own.json()["target"]) == (40, 52)
        assert own.json()["due_on"] == (today() + timedelta(days=30)).isoformat()

        # Without a template every field is required, named.
        before = await p.count(select(func.count()).select_from(Goal))
        bare = await p.call(MENTEE, "POST", f"/api/v1/pairs/{p.pair_id}/goals",
                            json={"text": "Only text"})
        assert bare.status_code == 422 and bare.json()["field"] == "measure"
        assert await p.count(select(func.count()).select_from(Goal)) == before
