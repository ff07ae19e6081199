"""Programme blackout dates: the planner skips them, a later update skips what falls on them."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import recurring_ical_events
from icalendar import Calendar
from sqlmodel import select

from scheduling.models import Programme
from tests.scheduling.test_plans import ALL_WEEK, MENTEE, MENTOR, Scenario, StartService
from tests.support.stack import wait_until
from tests.support.stream import Stream
from upward_common.events import ProgrammeSnapshot, ProgrammeUpdated
from upward_common.tables import OutboxEvent

FORMED = datetime(2027, 2, 28, 10, tzinfo=UTC)  # a Sunday: Monday 1 March is the first slot


async def holidays(s: Scenario, days: list[date], *, at: datetime) -> None:
    await s.stream.publish(ProgrammeUpdated(
        programme=ProgrammeSnapshot(programme_id=s.programme_id, name="Digital",
                                    status="running", session_cadence="weekly",
                                    duration_weeks=6, session_minutes=60,
                                    blackout_dates=days),
        occurred_at=at))


def feed_starts(body: bytes) -> set[datetime]:
    calendar = Calendar.from_ical(body)
    return {event["DTSTART"].dt.astimezone(UTC) for event in recurring_ical_events.of(
        calendar).between(datetime(2026, 1, 1, tzinfo=UTC), datetime(2029, 1, 1, tzinfo=UTC))}


async def test_the_planner_skips_blackout_dates_and_a_later_update_skips_more(
    start_service: StartService, stream: Stream, token: Callable[..., str],
) -> None:
    async with start_service("scheduling") as svc:
        s = Scenario(svc, stream, token)
        # 1 March (the first free Monday) and 15 March are holidays.
        await holidays(s, [date(2027, 3, 1), date(2027, 3, 15)], at=datetime(2027, 1, 1,
                                                                           tzinfo=UTC))
        await s.available(MENTOR, "mentor", "America/New_York", ALL_WEEK,
                          at=FORMED - timedelta(days=1))
        await s.available(MENTEE, "mentee", "Europe/London", [(0, "13:00", "18:00")],
                          at=FORMED - timedelta(days=1))
        pair_id = await s.form(MENTEE, at=FORMED)
        plan = await s.plan(pair_id, MENTEE)
        assert plan is not None
        [series] = plan["series"]
        # The series starts on the next Monday; 15 March is skipped as an exception.
        assert series["starts_on"] == "2027-03-08" and series["count"] == 6
        shown = [(o["starts_at"][:10], o["status"], o["blackout"]) for o in plan["occurrences"]]
        assert shown == [
            ("2027-03-08", "planned", False), ("2027-03-15", "cancelled", True),
            ("2027-03-22", "planned", False), ("2027-03-29", "planned", False),
            ("2027-04-05", "planned", False), ("2027-04-12", "planned", False),
        ]
        assert plan["occurrences"][1]["cancel_reason"] == "blackout"
        async with svc.app.state.sessionmaker() as db:
            scheduled = [row for row in (await db.exec(select(OutboxEvent))).all()
                         if row.subject == "mentoring.session.scheduled"]
        assert len(scheduled) == 5  # the skipped one was never scheduled

        # The feed has it as an EXDATE: the expansion is the service's planned list.
        issued = (await s.call(MENTEE, "POST", "/api/v1/calendar-feeds")).json()

        async def feed() -> set[datetime]:
            async with svc.client(None) as anonymous:
                return feed_starts((await anonymous.get(issued["path"])).content)

        def planned(plan: dict) -> set[datetime]:  # type: ignore[type-arg]
            return {datetime.fromisoformat(o["starts_at"]) for o in plan["occurrences"]
                    if o["status"] == "planned"}

        assert await feed() == planned(plan) and len(planned(plan)) == 5

        # A later update adds 29 March (and Easter Monday, 5 April): both are skipped from
        # the event's time on, with session.cancelled, and the feed follows.
        update_at = FORMED + timedelta(days=2)
        await holidays(s, [date(2027, 3, 1), date(2027, 3, 15), date(2027, 3, 29),
                           date(2027, 4, 5)], at=update_at)

        async def skipped() -> dict | None:  # type: ignore[type-arg]
            now = await s.plan(pair_id, MENTEE)
            return now if now and sum(o["blackout"] for o in now["occurrences"]) == 3 else None

        after = await wait_until(skipped)
        assert [o["starts_at"][:10] for o in after["occurrences"] if o["blackout"]] == [
            "2027-03-15", "2027-03-29", "2027-04-05"]
        assert after["sequence"] == plan["sequence"] + 1
        assert await feed() == planned(after) and len(planned(after)) == 3
        async with svc.app.state.sessionmaker() as db:
            cancelled = [json.loads(row.payload) for row in (await db.exec(
                select(OutboxEvent))).all() if row.subject == "mentoring.session.cancelled"]
        assert len(cancelled) == 2
        assert all(event["data"]["reason"] == "blackout" for event in cancelled)
        assert {event["data"]["occurred_at"][:10] for event in cancelled} == {"2027-03-02"}

        # The same update again (a replay, another id) skips nothing more.
        await holidays(s, [date(2027, 3, 1), date(2027, 3, 15), date(2027, 3, 29),
                           date(2027, 4, 5)], at=update_at + timedelta(seconds=1))
        await holidays(s, [date(2027, 3, 1), date(2027, 3, 15), date(2027, 3, 29),
                           date(2027, 4, 5), date(2027, 4, 6)], at=update_at + timedelta(2))
        await wait_until(lambda: _programme_days(s, 5))
        async with svc.app.state.sessionmaker() as db:
            rows = (await db.exec(select(OutboxEvent))).all()
        assert sum(row.subject == "mentoring.session.cancelled" for row in rows) == 2

        # Moving an occurrence onto a blackout date is refused unless overridden.
        target = next(o for o in after["occurrences"] if o["status"] == "planned"
                      and o["starts_at"] >= "2027-04-12")
        onto = datetime(2027, 3, 29, 12, tzinfo=UTC).isoformat()
        refused = await s.call(MENTEE, "POST",
                               f"/api/v1/sessions/{target['session_id']}/reschedule",
                               json={"starts_at": onto})
        assert refused.status_code == 422, refused.text
        assert refused.json()["field"] == "starts_at" and "blackout" in refused.text


async def _programme_days(s: Scenario, count: int) -> bool:
    async with s.svc.app.state.sessionmaker() as db:
        row = await db.get(Programme, s.programme_id)
    return row is not None and len(row.blackout_dates) == count
