"""Touchpoints (a pair's check-ins between sessions) and programme-wide group sessions."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from icalendar import Calendar
from sqlmodel import func, select

from gateway.config import GatewaySettings
from gateway.main import create_app as create_gateway
from scheduling.models import GroupSession, Touchpoint
from tests.scheduling.test_api import (
    MENTEE,
    MENTOR,
    OUTSIDER,
    PlannedPair,
    StartService,
    planned_pair,
)
from tests.support.stack import TEST_JWT_SECRET, serve
from tests.support.stream import Stream

NOTE = "Shared the deck on hybrid meetings we talked about."
SOON = (datetime.now(UTC) + timedelta(days=10)).replace(microsecond=0)
GATHERING = {"title": "Monthly gathering", "starts_at": SOON.isoformat(),
             "duration_minutes": 90, "location": "Atrium, 2nd floor",
             "link": "https://meet.example.com/monthly"}


@pytest.fixture
def pair(
    start_service: StartService, stream: Stream, token: Callable[..., str]
) -> AbstractAsyncContextManager[PlannedPair]:
    return planned_pair(start_service, stream, token)


async def _programme(p: PlannedPair) -> str:
    programme: str = (await p.session("hr_admin"))["programme_id"]
    return programme


async def test_members_record_touchpoints_and_admins_see_counts_only(
    pair: AbstractAsyncContextManager[PlannedPair], stream: Stream,
) -> None:
    async with pair as p:
        path = f"/api/v1/pairs/{p.pair_id}/touchpoints"
        at = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
        recorded = await p.call(MENTEE, "POST", path,
                                json={"kind": "call", "at": at, "minutes": 15, "note": NOTE})
        assert recorded.status_code == 201, recorded.text
        assert recorded.json()["author_role"] == "mentee" and recorded.json()["mine"] is True

        # The partner sees it, with the shared note.
        seen = (await p.call(MENTOR, "GET", path)).json()
        assert seen["count"] == 1 and seen["minutes"] == 15
        assert [(t["kind"], t["note"], t["mine"]) for t in seen["items"]] == [
            ("call", NOTE, False)]
        # Admins see how many and how long, never the items.
        admin = await p.call("hr_admin", "GET", path)
        assert admin.status_code == 200
        assert admin.json() == {"pair_id": p.pair_id, "count": 1, "minutes": 15, "items": []}
        # Outside the pair: 403, to read and to record.
        assert (await p.call(OUTSIDER, "GET", path)).status_code == 403
        assert (await p.call(OUTSIDER, "POST", path, json={
            "kind": "chat", "at": at, "minutes": 5})).status_code == 403
        # Admins do not record a pair's touchpoints.
        assert (await p.call("hr_admin", "POST", path, json={
            "kind": "chat", "at": at, "minutes": 5})).status_code == 403

        events = await stream.events("mentoring.touchpoint.recorded")
        assert [(e.data["kind"], e.data["minutes"], e.data["author_role"]) for e in events] == [
            ("call", 15, "mentee")]
        assert NOTE not in events[0].model_dump_json()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"at": (datetime.now(UTC) + timedelta(hours=2)).isoformat()}, "at"),
        ({"at": "2020-01-01T10:00:00+00:00"}, "at"),
        ({"at": "2026-11-25T10:00:00"}, "at"),
        ({"minutes": 0}, "minutes"),
        ({"minutes": 61}, "minutes"),
        ({"kind": "letter"}, "kind"),
        ({"note": "x" * 4_001}, "note"),
    ],
)
async def test_a_bad_touchpoint_is_refused_naming_the_field_and_nothing_is_written(
    pair: AbstractAsyncContextManager[PlannedPair], changes: dict[str, Any], field: str,
) -> None:
    async with pair as p:
        body = {"kind": "message", "at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
                "minutes": 5, **changes}
        response = await p.call(MENTOR, "POST", f"/api/v1/pairs/{p.pair_id}/touchpoints",
                                json=body)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["field"] == field
        assert await p.count(select(func.count()).select_from(Touchpoint)) == 0


async def test_group_sessions_are_scheduled_answered_within_capacity_and_cancelled(
    pair: AbstractAsyncContextManager[PlannedPair], stream: Stream,
) -> None:
    async with pair as p:
        programme = await _programme(p)
        path = f"/api/v1/programmes/{programme}/group-sessions"
        # Participants do not schedule gatherings.
        assert (await p.call(MENTEE, "POST", path, json=GATHERING)).status_code == 403
        created = await p.call("hr_admin", "POST", path, json={**GATHERING, "capacity": 1})
        assert created.status_code == 201, created.text
        gathering = created.json()
        assert gathering["counts"] == {"yes": 0, "no": 0, "maybe": 0}
        assert gathering["sequence"] == 0 and gathering["my_response"] is None
        rsvp = f"/api/v1/group-sessions/{gathering['id']}/rsvp"

        yes = await p.call(MENTEE, "POST", rsvp, json={"response": "yes"})
        assert yes.status_code == 200, yes.text
        assert yes.json()["my_response"] == "yes" and yes.json()["counts"]["yes"] == 1
        # Full: the partner's yes is refused naming `response`; a maybe is fine.
        full = await p.call(MENTOR, "POST", rsvp, json={"response": "yes"})
        assert full.status_code == 409 and full.json()["field"] == "response"
        assert (await p.call(MENTOR, "POST", rsvp, json={"response": "maybe"})).status_code == 200
        # The same person saying yes again is no extra place.
        assert (await p.call(MENTEE, "POST", rsvp, json={"response": "yes"})).status_code == 200
        # Someone outside the programme does not answer; an admin neither.
        assert (await p.call(OUTSIDER, "POST", rsvp, json={"response": "yes"})).status_code == 403
        assert (await p.call("hr_admin", "POST", rsvp, json={"response": "no"})).status_code == 403
        bad = await p.call(MENTOR, "POST", rsvp, json={"response": "perhaps"})
        assert bad.status_code == 422 and bad.json()["field"] == "response"

        mine = (await p.call(MENTOR, "GET", "/api/v1/group-sessions")).json()
        assert [(g["id"], g["my_response"], g["counts"]) for g in mine] == [
            (gathering["id"], "maybe", {"yes": 1, "no": 0, "maybe": 1})]
        assert (await p.call(OUTSIDER, "GET", "/api/v1/group-sessions")).json() == []
        assert (await p.call(OUTSIDER, "GET", path)).status_code == 403
        assert len((await p.call("hr_admin", "GET", path)).json()) == 1

        # The capacity may not fall below the yes already given; other changes bump SEQUENCE.
        below = await p.call("hr_admin", "PATCH", f"/api/v1/group-sessions/{gathering['id']}",
                             json={"capacity": 1, "title": "Monthly gathering: AI at work"})
        assert below.status_code == 200, below.text
        assert below.json()["sequence"] == 1
        moved = await p.call("hr_admin", "PATCH", f"/api/v1/group-sessions/{gathering['id']}",
                             json={"starts_at": "2020-01-01T10:00:00+00:00"})
        assert moved.status_code == 422 and moved.json()["field"] == "starts_at"

        cancelled = await p.call("hr_admin", "POST",
                                 f"/api/v1/group-sessions/{gathering['id']}/cancel",
                                 json={"reason": "Room unavailable"})
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["status"] == "cancelled" and cancelled.json()["sequence"] == 2
        late = await p.call(MENTOR, "POST", rsvp, json={"response": "no"})
        assert late.status_code == 409

        scheduled = await stream.events("mentoring.groupsession.scheduled")
        assert [e.data["sequence"] for e in scheduled] == [0, 1]
        answered = await stream.events("mentoring.groupsession.rsvped")
        assert [(e.data["response"], e.data["yes"], e.data["maybe"]) for e in answered] == [
            ("yes", 1, 0), ("maybe", 1, 1), ("yes", 1, 1)]
        gone = await stream.events("mentoring.groupsession.cancelled")
        assert [e.data["group_session_id"] for e in gone] == [gathering["id"]]
        raw = " ".join(e.model_dump_json() for e in [*scheduled, *answered, *gone])
        assert "Room unavailable" not in raw and MENTEE not in raw and MENTOR not in raw


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"starts_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat()}, "starts_at"),
        ({"starts_at": "2030-01-01T10:00:00"}, "starts_at"),
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"duration_minutes": 0}, "duration_minutes"),
        ({"capacity": 0}, "capacity"),
        ({"location": "x" * 201}, "location"),
        ({"link": "javascript:alert(1)"}, "link"),
        ({"link": "https://example.com/" + "x" * 2_000}, "link"),
    ],
)
async def test_a_bad_group_session_is_refused_naming_the_field_and_nothing_is_written(
    pair: AbstractAsyncContextManager[PlannedPair], changes: dict[str, Any], field: str,
) -> None:
    async with pair as p:
        programme = await _programme(p)
        response = await p.call("hr_admin", "POST",
                                f"/api/v1/programmes/{programme}/group-sessions",
                                json={**GATHERING, **changes})
        assert response.status_code == 422, response.text
        assert response.json()["field"] == field
        assert await p.count(select(func.count()).select_from(GroupSession)) == 0


async def test_a_group_session_said_yes_to_is_in_the_feed_with_a_stable_uid_and_sequence(
    pair: AbstractAsyncContextManager[PlannedPair],
) -> None:
    async with pair as p:
        programme = await _programme(p)
        gathering = (await p.call("hr_admin", "POST",
                                  f"/api/v1/programmes/{programme}/group-sessions",
                                  json=GATHERING)).json()
        other = (await p.call("hr_admin", "POST",
                              f"/api/v1/programmes/{programme}/group-sessions",
                              json={**GATHERING, "title": "Not answered"})).json()
        feed = (await p.call(MENTEE, "POST", "/api/v1/calendar-feeds")).json()["path"]

        async def group_events() -> list[Any]:
            async with p.svc.client() as client:
                body = (await client.get(feed)).content
            return [e for e in Calendar.from_ical(body).walk("VEVENT")
                    if str(e["uid"]).endswith("@upward.groupsession")]

        assert await group_events() == []
        await p.call(MENTEE, "POST", f"/api/v1/group-sessions/{gathering['id']}/rsvp",
                     json={"response": "yes"})
        await p.call(MENTEE, "POST", f"/api/v1/group-sessions/{other['id']}/rsvp",
                     json={"response": "maybe"})
        [event] = await group_events()
        assert str(event["uid"]) == f"{gathering['id']}@upward.groupsession"
        assert int(event["sequence"]) == 0 and str(event["status"]) == "CONFIRMED"
        assert event.decoded("dtstart") == SOON
        assert event.decoded("dtend") - event.decoded("dtstart") == timedelta(minutes=90)

        await p.call("hr_admin", "POST", f"/api/v1/group-sessions/{gathering['id']}/cancel",
                     json={"reason": "Room unavailable"})
        [event] = await group_events()
        assert str(event["uid"]) == f"{gathering['id']}@upward.groupsession"
        assert int(event["sequence"]) == 1 and str(event["status"]) == "CANCELLED"


async def _graphql(url: str, bearer: str, query: str, **variables: Any) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url, timeout=30,
                                 headers={"Authorization": f"Bearer {bearer}"}) as client:
        response = await client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert not body.get("errors"), body["errors"]
    data: dict[str, Any] = body["data"]
    return data


async def test_touchpoints_and_group_sessions_through_the_gateway(
    pair: AbstractAsyncContextManager[PlannedPair],
) -> None:
    async with pair as p:
        programme = await _programme(p)
        url = p.svc.url
        settings = GatewaySettings(environment="test", jwt_secret=TEST_JWT_SECRET,
                                   enrolment_url=url, matching_url=url, scheduling_url=url,
                                   analytics_url=url)
        async with serve("gateway", create_gateway(settings)) as gateway:
            mentee, admin = p.as_(MENTEE), p.as_("hr_admin")
            at = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
            recorded = (await _graphql(gateway.url, mentee, """
              mutation ($id: ID!, $at: DateTime!) {
                recordTouchpoint(pairId: $id, input: {kind: CHAT, at: $at, minutes: 10,
                                                      note: "Quick one"}) {
                  touchpoint { kind minutes mine note authorRole } errors { field code } } }""",
                id=p.pair_id, at=at))["recordTouchpoint"]
            assert recorded == {"touchpoint": {"kind": "CHAT", "minutes": 10, "mine": True,
                                               "note": "Quick one", "authorRole": "MENTEE"},
                                "errors": []}
            future = (await _graphql(gateway.url, mentee, """
              mutation ($id: ID!, $at: DateTime!) {
                recordTouchpoint(pairId: $id, input: {kind: CALL, at: $at, minutes: 10}) {
                  touchpoint { kind } errors { field code } } }""",
                id=p.pair_id, at=(datetime.now(UTC) + timedelta(hours=2)).isoformat()))
            assert future["recordTouchpoint"]["touchpoint"] is None
            assert [e["field"] for e in future["recordTouchpoint"]["errors"]] == ["input.at"]
            counted = (await _graphql(gateway.url, admin, """
              query ($id: ID!) { touchpoints(pairId: $id) { count minutes items { note } } }""",
                id=p.pair_id))["touchpoints"]
            assert counted == {"count": 1, "minutes": 10, "items": []}

            schedule = """mutation ($p: ID!, $at: DateTime!) {
              scheduleGroupSession(programmeId: $p, input: {title: "Monthly gathering",
                                   startsAt: $at, durationMinutes: 60, capacity: 1}) {
                groupSession { id sequence status } errors { field code } } }"""
            past = (await _graphql(gateway.url, admin, schedule, p=programme,
                                   at="2020-01-01T10:00:00Z"))["scheduleGroupSession"]
            assert past["groupSession"] is None
            assert [e["field"] for e in past["errors"]] == ["input.startsAt"]
            created = (await _graphql(gateway.url, admin, schedule, p=programme,
                                      at=SOON.isoformat()))["scheduleGroupSession"]
            gathering = created["groupSession"]
            assert created["errors"] == [] and gathering["status"] == "SCHEDULED"

            rsvp = """mutation ($id: ID!, $r: RsvpResponse!) {
              rsvpGroupSession(groupSessionId: $id, response: $r) {
                groupSession { myResponse counts { yes maybe } } errors { field code } } }"""
            yes = (await _graphql(gateway.url, mentee, rsvp, id=gathering["id"], r="YES"))
            assert yes["rsvpGroupSession"] == {
                "groupSession": {"myResponse": "YES", "counts": {"yes": 1, "maybe": 0}},
                "errors": []}
            full = (await _graphql(gateway.url, p.as_(MENTOR), rsvp, id=gathering["id"],
                                   r="YES"))["rsvpGroupSession"]
            assert full["errors"] == [{"field": "response", "code": "CONFLICT"}]
            mine = (await _graphql(gateway.url, mentee,
                                   "{ myGroupSessions { id myResponse } }"))["myGroupSessions"]
            assert mine == [{"id": gathering["id"], "myResponse": "YES"}]

            updated = (await _graphql(gateway.url, admin, """
              mutation ($id: ID!) { updateGroupSession(groupSessionId: $id,
                                                       input: {capacity: null}) {
                groupSession { capacity sequence } errors { code } } }""",
                id=gathering["id"]))["updateGroupSession"]
            assert updated == {"groupSession": {"capacity": None, "sequence": 1}, "errors": []}
            cancelled = (await _graphql(gateway.url, admin, """
              mutation ($id: ID!) { cancelGroupSession(groupSessionId: $id, reason: "Ill") {
                groupSession { status cancelReason } errors { code } } }""",
                id=gathering["id"]))["cancelGroupSession"]
            assert cancelled["groupSession"] == {"status": "CANCELLED", "cancelReason": "Ill"}
            listed = (await _graphql(gateway.url, admin, """
              query ($p: ID!) { groupSessions(programmeId: $p) { id status } }""",
                p=programme))["groupSessions"]
            assert listed == [{"id": gathering["id"], "status": "CANCELLED"}]
