"""A participant's changes soon, across all their plans (subscribed calendars lag behind)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from tests.scheduling.test_plans import (
    ALL_WEEK,
    MENTEE,
    MENTOR,
    OTHER_MENTEE,
    OUTSIDER,
    Scenario,
    StartService,
)
from tests.support.stream import Stream
from upward_common.events import utcnow


async def test_moved_and_cancelled_occurrences_soon_across_every_plan(
    start_service: StartService, stream: Stream, token: Callable[..., str],
) -> None:
    async with start_service("scheduling") as svc:
        s = Scenario(svc, stream, token)
        await s.programme(weeks=4)
        # Formed almost a day ago: each pair's first session is within the next 24 hours.
        formed = utcnow().replace(second=0, microsecond=0) - timedelta(hours=23)
        for employee_id, role in [(MENTOR, "mentor"), (MENTEE, "mentee"),
                                  (OTHER_MENTEE, "mentee")]:
            await s.available(employee_id, role, "Europe/Lisbon",  # type: ignore[arg-type]
                              ALL_WEEK, at=formed - timedelta(days=1))
        one = await s.plan(await s.form(MENTEE, at=formed), MENTEE)
        two = await s.plan(await s.form(OTHER_MENTEE, at=formed), OTHER_MENTEE)
        assert one is not None and two is not None

        async def changes(who: str, **params: int) -> list[dict]:  # type: ignore[type-arg]
            response = await s.call(who, "GET", "/api/v1/me/changes", params=params)
            assert response.status_code == 200, response.text
            return response.json()  # type: ignore[no-any-return]

        assert await changes(MENTOR) == []
        # The first pair cancels its first session (soon); the second moves its second one
        # (a week away) to 30 hours from now.
        first = one["occurrences"][0]
        cancelled = await s.call(MENTEE, "POST",
                                 f"/api/v1/sessions/{first['session_id']}/cancel",
                                 json={"reason": "ill"})
        assert cancelled.status_code == 200, cancelled.text
        second = two["occurrences"][1]
        soon = (utcnow() + timedelta(hours=30)).replace(minute=0, second=0, microsecond=0)
        moved = await s.call(OTHER_MENTEE, "POST",
                             f"/api/v1/sessions/{second['session_id']}/reschedule",
                             json={"starts_at": soon.isoformat()})
        assert moved.status_code == 200, moved.text

        # The mentor sees the cancellation in the next 24 hours, and both within 48.
        [day] = await changes(MENTOR)
        assert (day["session_id"], day["status"], day["cancel_reason"]) == (
            first["session_id"], "cancelled", "ill")
        assert (day["pair_id"], day["plan_id"]) == (one["pair_id"], one["id"])
        both = await changes(MENTOR, within_hours=48)
        assert [c["session_id"] for c in both] == [first["session_id"], second["session_id"]]
        assert datetime.fromisoformat(both[1]["starts_at"]) == soon
        assert both[1]["original_starts_at"] == second["starts_at"]
        # Each mentee sees only their own plan's.
        assert [c["session_id"] for c in await changes(MENTEE, within_hours=48)] == [
            first["session_id"]]
        assert [c["session_id"] for c in await changes(OTHER_MENTEE, within_hours=48)] == [
            second["session_id"]]
        assert await changes(OUTSIDER, within_hours=168) == []

        # Hours outside 1..168: a 422 naming within_hours; not a participant: 403.
        for hours in (0, 169, -1):
            refused = await s.call(MENTOR, "GET", "/api/v1/me/changes",
                                   params={"within_hours": hours})
            assert refused.status_code == 422, refused.text
            assert refused.headers["content-type"].startswith("application/problem+json")
            assert refused.json()["field"] == "within_hours"
        admin = await s.call("hr_admin", "GET", "/api/v1/me/changes")
        assert admin.status_code == 403
