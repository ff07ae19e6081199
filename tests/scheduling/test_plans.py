"""A pair's recurring plan through the API: proposed from events, accepted, moved, cancelled."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from hashlib import sha256
from itertools import pairwise
from typing import Any

import recurring_ical_events
from icalendar import Calendar
from sqlalchemy import update
from sqlmodel import col, func, select

from scheduling import ical, service
from scheduling.models import CalendarFeed, MentoringSession
from tests.support.databases import statements
from tests.support.stack import Running, wait_until
from tests.support.stream import Stream
from upward_common.events import (
    AvailabilityWindow,
    EmployeeSnapshot,
    PairFormed,
    ParticipantRole,
    ParticipantState,
    ParticipantUpdated,
    ProgrammeSnapshot,
    ProgrammeUpdated,
    utcnow,
)
from upward_common.tables import OutboxEvent

StartService = Callable[..., AbstractAsyncContextManager[Running]]
Windows = list[tuple[int, str, str]]

MENTOR, MENTEE, OTHER_MENTEE, OUTSIDER = "emp-mentor", "emp-mentee", "emp-mentee-2", "emp-out"
ALL_WEEK: Windows = [(day, "00:00", "24:00") for day in range(7)]


def participant(programme_id: str, employee_id: str, role: ParticipantRole, zone: str,
                windows: Windows) -> ParticipantState:
    return ParticipantState(
        participant_id=f"part-{employee_id}", programme_id=programme_id, role=role,
        employee=EmployeeSnapshot(employee_id=employee_id, external_id=f"x-{employee_id}",
                                  email=f"{employee_id}@example.com", given_name="Ada",
                                  family_name="Lovelace"),
        time_zone=zone,
        availability=[AvailabilityWindow(weekday=d, start=s, end=e) for d, s, e in windows])


class Scenario:
    def __init__(self, svc: Running, stream: Stream, token: Callable[..., str]) -> None:
        self.svc, self.stream, self.token = svc, stream, token
        self.programme_id = str(uuid.uuid4())

    def as_(self, who: str) -> str:
        if who in ("hr_admin", "programme_manager"):
            return self.token(who)
        return self.token("participant", employee_id=who)

    async def call(self, who: str, method: str, path: str, **kwargs: Any) -> Any:
        async with self.svc.client(self.as_(who)) as client:
            return await client.request(method, path, **kwargs)

    async def programme(self, *, cadence: str = "weekly", weeks: int = 6) -> None:
        await self.stream.publish(ProgrammeUpdated(
            programme=ProgrammeSnapshot(programme_id=self.programme_id, name="Digital",
                                        status="running", session_cadence=cadence,
                                        duration_weeks=weeks, session_minutes=60),
            occurred_at=datetime(2026, 1, 1, tzinfo=UTC)))

    async def available(self, employee_id: str, role: ParticipantRole, zone: str,
                        windows: Windows, *, at: datetime) -> None:
        await self.stream.publish(ParticipantUpdated(
            participant=participant(self.programme_id, employee_id, role, zone, windows),
            occurred_at=at))

    async def form(self, mentee: str, *, at: datetime) -> str:
        pair_id = str(uuid.uuid4())
        await self.stream.publish(PairFormed(
            pair_id=pair_id, programme_id=self.programme_id,
            mentor_participant_id=f"part-{MENTOR}", mentee_participant_id=f"part-{mentee}",
            mentor_employee_id=MENTOR, mentee_employee_id=mentee, score=0.8, occurred_at=at))
        await wait_until(lambda: self.plan(pair_id))
        return pair_id

    async def plan(self, pair_id: str, who: str = "hr_admin") -> dict[str, Any] | None:
        response = await self.call(who, "GET", f"/api/v1/pairs/{pair_id}/plan")
        return response.json() if response.status_code == 200 else None

    async def count(self, query: Any) -> int:
        async with self.svc.app.state.sessionmaker() as db:
            return int((await db.exec(query)).one())


async def test_occurrences_a_clock_change_shuts_out_are_flagged_with_the_nearest_fit(
    start_service: StartService, stream: Stream, token: Callable[..., str],
) -> None:
    async with start_service("scheduling") as svc:
        s = Scenario(svc, stream, token)
        await s.programme(weeks=6)
        formed = datetime(2026, 3, 1, 10, tzinfo=UTC)
        await s.available(MENTOR, "mentor", "America/New_York", [(0, "09:00", "10:00")],
                          at=formed - timedelta(days=1))
        await s.available(MENTEE, "mentee", "Europe/London", [(0, "13:00", "18:00")],
                          at=formed - timedelta(days=1))
        pair_id = await s.form(MENTEE, at=formed)
        plan = await s.plan(pair_id, MENTEE)
        assert plan is not None
        assert plan["status"] == "proposed" and plan["overlap"] is True
        assert plan["anchor_time_zone"] == "Europe/London"
        [series] = plan["series"]
        assert (series["weekday"], series["local_start"], series["count"]) == (0, "14:00", 6)
        flagged = [(o["starts_at"][:16], o["conflict_side"],
                    (o["alternative_starts_at"] or "")[:16]) for o in plan["occurrences"]]
        assert flagged == [
            ("2026-03-02T14:00", None, ""),
            ("2026-03-09T14:00", "mentor", "2026-03-09T13:00"),
            ("2026-03-16T14:00", "mentor", "2026-03-16T13:00"),
            ("2026-03-23T14:00", "mentor", "2026-03-23T13:00"),
            ("2026-03-30T13:00", None, ""),
            ("2026-04-06T13:00", None, ""),
        ]
        assert [o["occurrence_index"] for o in plan["occurrences"]] == list(range(6))

        # The mentor's new hours cover 10:00 too: the flags go; other days flag it all.
        await s.available(MENTOR, "mentor", "America/New_York", [(0, "09:00", "11:00")],
                          at=formed + timedelta(hours=1))

        async def unflagged() -> bool:
            plan = await s.plan(pair_id)
            return plan is not None and all(
                o["conflict_side"] is None for o in plan["occurrences"])

        await wait_until(unflagged)
        await s.available(MENTOR, "mentor", "America/New_York", [(1, "08:00", "10:00")],
                          at=formed + timedelta(hours=2))

        async def all_flagged() -> bool:
            plan = await s.plan(pair_id)
            return plan is not None and all(
                o["conflict_side"] == "mentor" for o in plan["occurrences"])

        await wait_until(all_flagged)


TWO_MENTEES_FORMED = datetime(2027, 5, 2, tzinfo=UTC)


async def _one_mentor_two_mentees(s: Scenario) -> tuple[str, str]:
    """A four-week programme; a mentor and two mentees free on Tuesdays 10-12 in Berlin,
    paired with both: the two pairs' ids."""
    await s.programme(weeks=4)
    formed = TWO_MENTEES_FORMED
    for employee_id, role in [(MENTOR, "mentor"), (MENTEE, "mentee"),
                              (OTHER_MENTEE, "mentee")]:
        await s.available(employee_id, role, "Europe/Berlin",  # type: ignore[arg-type]
                          [(2, "10:00", "12:00")], at=formed - timedelta(days=1))
    return await s.form(MENTEE, at=formed), await s.form(OTHER_MENTEE, at=formed)


async def test_a_mentor_with_two_mentees_is_never_double_booked(
    start_service: StartService, stream: Stream, token: Callable[..., str],
) -> None:
    async with start_service("scheduling") as svc:
        s = Scenario(svc, stream, token)
        first, second = await _one_mentor_two_mentees(s)
        one, two = await s.plan(first), await s.plan(second)
        assert one is not None and two is not None
        assert one["series"][0]["local_start"] == "10:00"
        assert two["series"][0]["local_start"] == "11:00"
        mine = (await s.call(MENTOR, "GET", "/api/v1/sessions")).json()
        spans = sorted((datetime.fromisoformat(x["starts_at"]), x["duration_minutes"])
                       for x in mine)
        assert len(spans) == 8
        assert all(a + timedelta(minutes=m) <= b for (a, m), (b, _) in pairwise(spans))

        # Moving one of the first pair's sessions onto the second pair's is refused.
        taken = two["occurrences"][0]["starts_at"]
        session_id = one["occurrences"][0]["session_id"]
        response = await s.call(MENTEE, "POST", f"/api/v1/sessions/{session_id}/reschedule",
                                json={"starts_at": taken, "override": True})
        assert response.status_code == 409, response.text
        assert response.json()["field"] == "starts_at"


async def test_a_batch_of_next_sessions_reads_one_planned_session_a_pair(
    start_service: StartService, stream: Stream, token: Callable[..., str],
) -> None:
    async with start_service("scheduling") as svc:
        s = Scenario(svc, stream, token)
        first, second = await _one_mentor_two_mentees(s)
        # The first pair's first occurrence is cancelled: its next is the second one.
        plan = await s.plan(first, MENTEE)
        assert plan is not None and len(plan["occurrences"]) == 4
        cancelled = plan["occurrences"][0]["session_id"]
        response = await s.call(MENTEE, "POST", f"/api/v1/sessions/{cancelled}/cancel",
                                json={"reason": "ill"})
        assert response.status_code == 200, response.text
        # A third pair with nothing planned any more: answered, with no session.
        third = await s.form(OTHER_MENTEE, at=TWO_MENTEES_FORMED + timedelta(days=1))
        async with svc.app.state.sessionmaker() as db:
            await db.exec(update(MentoringSession)
                          .where(col(MentoringSession.pair_id) == third)
                          .values(status="cancelled"))
            await db.commit()
        unknown = str(uuid.uuid4())
        ids = [first, second, third, unknown]

        async def batch(who: str, ids: list[str], **params: str) -> dict[str, Any]:
            response = await s.call(who, "GET", "/api/v1/batch/pair-sessions",
                                    params={"id": ids, **params})
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            return body

        whole = await batch("hr_admin", ids)
        with statements(svc.app.state.engine, leaving_out="outbox") as for_one:
            await batch("hr_admin", [first], next_only="true")
        with statements(svc.app.state.engine, leaving_out="outbox") as for_all:
            nexts = await batch("hr_admin", ids, next_only="true")

        # Each pair's first planned session of its whole list, exactly as the list shows it.
        def planned(sessions: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [x for x in sessions if x["status"] == "planned"][:1]

        assert [item["pair_id"] for item in nexts["items"]] == [first, second, third]
        assert {item["pair_id"]: item["sessions"] for item in nexts["items"]} == {
            item["pair_id"]: planned(item["sessions"]) for item in whole["items"]}
        assert [len(item["sessions"]) for item in whole["items"]][:2] == [4, 4]
        assert [len(item["sessions"]) for item in nexts["items"]] == [1, 1, 0]
        assert nexts["items"][0]["sessions"][0]["id"] == plan["occurrences"][1]["session_id"]
        assert nexts["missing"] == whole["missing"]
        assert [(m["id"], m["status"]) for m in nexts["missing"]] == [(unknown, 404)]
        # One read of the sessions, ranked in SQL: as many statements for three pairs as
        # for one.
        assert len(for_all) == len(for_one), for_all
        assert len([sql for sql in for_all if "FROM scheduling_session" in sql]) == 1, for_all

        # A member: their own pair's next session; the others missing as without next_only.
        mine = await batch(MENTEE, ids, next_only="true")
        assert mine["missing"] == (await batch(MENTEE, ids))["missing"]
        assert [(m["id"], m["status"]) for m in mine["missing"]] == [
            (second, 403), (third, 403), (unknown, 404)]
        assert [item["sessions"] for item in mine["items"]] == [
            planned(whole["items"][0]["sessions"])]


async def test_accept_reschedule_and_cancel_through_the_api(
    start_service: StartService, stream: Stream, token: Callable[..., str],
) -> None:
    async with start_service("scheduling") as svc:
        s = Scenario(svc, stream, token)
        await s.programme(weeks=4)
        # Formed almost a day ago: the first session is within the next 24 hours.
        formed = utcnow().replace(second=0, microsecond=0) - timedelta(hours=23)
        await s.available(MENTOR, "mentor", "Europe/Lisbon", ALL_WEEK,
                          at=formed - timedelta(days=1))
        await s.available(MENTEE, "mentee", "America/Sao_Paulo",
                          [(day, "06:00", "23:00") for day in range(7)],
                          at=formed - timedelta(days=1))
        pair_id = await s.form(MENTEE, at=formed)
        plan = await s.plan(pair_id, MENTOR)
        assert plan is not None
        plan_id, occurrences = plan["id"], plan["occurrences"]
        assert plan["changes_within_24h"] == []

        # Only a member accepts; admins read, outsiders do not even read.
        for who, status in [(OUTSIDER, 403), ("hr_admin", 403), ("programme_manager", 403)]:
            response = await s.call(who, "POST", f"/api/v1/plans/{plan_id}/accept")
            assert response.status_code == status, (who, response.text)
        assert (await s.call(OUTSIDER, "GET", f"/api/v1/pairs/{pair_id}/plan")).status_code == 403
        accepted = await s.call(MENTEE, "POST", f"/api/v1/plans/{plan_id}/accept")
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["status"] == "accepted"
        assert accepted.json()["accepted_by_employee_id"] == MENTEE
        assert (await s.call(MENTOR, "POST", f"/api/v1/plans/{plan_id}/accept")).status_code == 409
        [event] = await stream.events("mentoring.plan.accepted")
        assert event.data["plan_id"] == plan_id and event.data["occurrences"] == 4

        second = occurrences[1]
        path = f"/api/v1/sessions/{second['session_id']}/reschedule"
        starts = datetime.fromisoformat(second["starts_at"])
        # Past, outside the mentee's hours (02:00 in São Paulo), or unknown fields: refused.
        before = await s.count(select(func.count()).select_from(OutboxEvent))
        for body, field in [
            ({"starts_at": (utcnow() - timedelta(hours=1)).isoformat()}, "starts_at"),
            ({"starts_at": "2026-12-01T09:00:00"}, "starts_at"),
            ({"starts_at": starts.replace(hour=5, minute=0).isoformat()}, "starts_at"),
            ({"starts_at": starts.isoformat(), "scope": "all"}, "scope"),
        ]:
            response = await s.call(MENTOR, "POST", path, json=body)
            assert response.status_code == 422, (body, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.json()["field"] == field, body
        assert await s.count(select(func.count()).select_from(OutboxEvent)) == before
        # With override the same out-of-hours time is taken.
        moved = await s.call(MENTOR, "POST", path, json={
            "starts_at": starts.replace(hour=5, minute=0).isoformat(), "override": True})
        assert moved.status_code == 200, moved.text
        after = {o["session_id"]: o for o in moved.json()["occurrences"]}
        assert after[second["session_id"]]["starts_at"][11:16] == "05:00"
        assert after[second["session_id"]]["original_starts_at"] == second["starts_at"]
        assert after[second["session_id"]]["sequence"] == 1
        [rescheduled] = await stream.events("mentoring.session.rescheduled")
        assert rescheduled.data["session_id"] == second["session_id"]

        # This and following: the third and fourth move by the same shift (one hour later).
        third = occurrences[2]
        later = datetime.fromisoformat(third["starts_at"]) + timedelta(hours=1)
        following = await s.call(MENTEE, "POST",
                                 f"/api/v1/sessions/{third['session_id']}/reschedule",
                                 json={"starts_at": later.isoformat(), "scope": "following",
                                       "override": True})
        assert following.status_code == 200, following.text
        shifted = {o["session_id"]: o for o in following.json()["occurrences"]}
        for original in occurrences[2:]:
            assert (datetime.fromisoformat(shifted[original["session_id"]]["starts_at"])
                    - datetime.fromisoformat(original["starts_at"])) == timedelta(hours=1)

        # Cancel the first (within 24 hours): the plan lists it among the near changes.
        first = occurrences[0]
        cancel = f"/api/v1/sessions/{first['session_id']}/cancel"
        assert (await s.call(MENTOR, "POST", cancel, json={"reason": "x" * 201})
                ).status_code == 422
        assert (await s.call(OUTSIDER, "POST", cancel, json={"reason": "ill"})).status_code == 403
        cancelled = await s.call(MENTOR, "POST", cancel, json={"reason": "ill"})
        assert cancelled.status_code == 200, cancelled.text
        body = cancelled.json()
        assert [o["session_id"] for o in body["changes_within_24h"]] == [first["session_id"]]
        assert body["occurrences"][0]["status"] == "cancelled"
        assert body["occurrences"][0]["cancel_reason"] == "ill"
        [event] = await stream.events("mentoring.session.cancelled")
        assert event.data["reason"] == "ill"
        assert (await s.call(MENTOR, "POST", cancel, json={"reason": "ill"})).status_code == 409
        assert await s.count(select(func.count()).select_from(MentoringSession)
                             .where(MentoringSession.status == "cancelled")) == 1


async def test_a_secret_feed_address_serves_the_calendar_until_revoked(
    start_service: StartService, stream: Stream, token: Callable[..., str],
) -> None:
    async with start_service("scheduling") as svc:
        s = Scenario(svc, stream, token)
        await s.programme(weeks=3)
        await s.available(MENTEE, "mentee", "Europe/Paris", ALL_WEEK,
                          at=datetime(2027, 1, 1, tzinfo=UTC))
        pair_id = await s.form(MENTEE, at=datetime(2027, 2, 1, tzinfo=UTC))
        plan = await s.plan(pair_id)
        assert plan is not None

        issued = await s.call(MENTEE, "POST", "/api/v1/calendar-feeds")
        assert issued.status_code == 201, issued.text
        secret, path = issued.json()["token"], issued.json()["path"]
        assert path == f"/api/v1/calendar/{secret}.ics"
        async with svc.client(None) as anonymous:  # a calendar app sends no bearer token
            feed = await anonymous.get(path)
        assert feed.status_code == 200, feed.text
        assert feed.headers["content-type"].startswith("text/calendar")
        calendar = Calendar.from_ical(feed.content)
        assert {str(e["UID"]) for e in calendar.walk("VEVENT")} == {
            f"{plan['series'][0]['id']}@upward.scheduling"}
        assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["Europe/Paris"]
        # A calendar holding the current copy gets a 304 without a body; any change to the
        # plan's occurrences is a new ETag, and the same bytes a fresh rendering gives.
        etag = feed.headers["etag"]
        async with svc.client(None) as anonymous:
            same = await anonymous.get(path, headers={"If-None-Match": etag})
            assert (same.status_code, same.content, same.headers["etag"]) == (304, b"", etag)
            assert (await anonymous.get(path, headers={
                "If-None-Match": f'"other", W/{etag}'})).status_code == 304
            cancelled = await s.call(MENTEE, "POST", "/api/v1/sessions/"
                                     f"{plan['occurrences'][1]['session_id']}/cancel",
                                     json={"reason": "travelling"})
            assert cancelled.status_code == 200, cancelled.text
            changed = await anonymous.get(path, headers={"If-None-Match": etag})
        assert changed.status_code == 200 and changed.headers["etag"] != etag
        assert b"EXDATE" in changed.content
        async with svc.app.state.sessionmaker() as db:
            fresh = await service.calendar_feed(db, token=secret, rendered=ical.RenderedFeeds())
        assert (fresh.body, fresh.etag) == (changed.content, changed.headers["etag"])
        # Only the hash is stored.
        async with svc.app.state.sessionmaker() as db:
            stored = (await db.exec(select(CalendarFeed))).all()
        assert [row.token_sha256 for row in stored] == [sha256(secret.encode()).hexdigest()]

        # An admin has no feed of their own; a re-issued address replaces the old one.
        assert (await s.call("hr_admin", "POST", "/api/v1/calendar-feeds")).status_code == 403
        again = (await s.call(MENTEE, "POST", "/api/v1/calendar-feeds")).json()
        async with svc.client(None) as anonymous:
            old = await anonymous.get(path)
            assert old.status_code == 404
            assert old.headers["content-type"].startswith("application/problem+json")
            assert old.json()["field"] == "token"
            assert (await anonymous.get(again["path"])).status_code == 200
            revoked = await s.call(MENTEE, "DELETE", "/api/v1/calendar-feeds")
            assert revoked.status_code == 200 and revoked.json() == {"revoked": 1}
            assert (await anonymous.get(again["path"])).status_code == 404

        # The plan's invitation and its cancellation, for the pair and admins.
        invite = f"/api/v1/plans/{plan['id']}/invitation.ics"
        request = await s.call(MENTOR, "GET", invite)
        assert request.status_code == 200
        assert b"METHOD:REQUEST" in request.content
        cancel = await s.call("hr_admin", "GET", invite, params={"method": "cancel"})
        assert b"METHOD:CANCEL" in cancel.content and b"STATUS:CANCELLED" in cancel.content
        assert (await s.call(OUTSIDER, "GET", invite)).status_code == 403


async def test_a_member_proposes_another_slot_and_the_other_accepts_it(
    start_service: StartService, stream: Stream, token: Callable[..., str],
) -> None:
    async with start_service("scheduling") as svc:
        s = Scenario(svc, stream, token)
        await s.programme(weeks=3)
        office: Windows = [(day, "09:00", "17:00") for day in range(5)]
        for employee_id, role in [(MENTOR, "mentor"), (MENTEE, "mentee")]:
            await s.available(employee_id, role, "Europe/Paris",  # type: ignore[arg-type]
                              office, at=datetime(2027, 1, 1, tzinfo=UTC))
        pair_id = await s.form(MENTEE, at=datetime(2027, 2, 1, tzinfo=UTC))
        plan = await s.plan(pair_id)
        assert plan is not None
        path = f"/api/v1/plans/{plan['id']}/slot"

        for body, field in [({"weekday": 5, "local_start": "10:00"}, "local_start"),  # Saturday
                            ({"weekday": 2, "local_start": "10:00", "starts_on": "2020-01-01"},
                             "starts_on"),
                            ({"weekday": 7, "local_start": "10:00"}, "weekday"),
                            ({"weekday": 2, "local_start": "25:00"}, "local_start")]:
            refused = await s.call(MENTOR, "POST", path, json=body)
            assert refused.status_code == 422, (body, refused.text)
            assert refused.json()["field"] == field, body
        assert (await s.call(OUTSIDER, "POST", path, json={"weekday": 2, "local_start": "10:00"})
                ).status_code == 403

        proposed = await s.call(MENTOR, "POST", path, json={
            "weekday": 2, "local_start": "10:00", "starts_on": "2027-02-01"})
        assert proposed.status_code == 200, proposed.text
        body = proposed.json()
        assert body["status"] == "proposed" and body["proposed_by_employee_id"] == MENTOR
        live = [o for o in body["occurrences"] if o["status"] == "planned"]
        # Wednesdays at 10:00 in Paris (09:00 UTC in winter), as many as remained.
        assert [o["starts_at"][:16] for o in live] == [
            "2027-02-03T09:00", "2027-02-10T09:00", "2027-02-17T09:00"]
        assert len([o for o in body["occurrences"] if o["status"] == "cancelled"]) == 3
        # The proposer does not accept their own slot; the other member does.
        assert (await s.call(MENTOR, "POST", f"/api/v1/plans/{plan['id']}/accept")
                ).status_code == 409
        assert (await s.call(MENTEE, "POST", f"/api/v1/plans/{plan['id']}/accept")
                ).status_code == 200

        # The feed shows the new series only (the old one ended before its first occurrence).
        secret = (await s.call(MENTEE, "POST", "/api/v1/calendar-feeds")).json()["path"]
        async with svc.client(None) as anonymous:
            feed = Calendar.from_ical((await anonymous.get(secret)).content)
        expanded = sorted(
            event["DTSTART"].dt.astimezone(UTC) for event in recurring_ical_events.of(feed)
            .between(datetime(2027, 1, 1, tzinfo=UTC), datetime(2028, 1, 1, tzinfo=UTC)))
        assert expanded == [datetime.fromisoformat(o["starts_at"]) for o in live]
