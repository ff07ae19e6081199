"""Each member logs their own part of a session, corrects it in its window, and flags a poor fit."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlmodel import func, select

from scheduling.models import Goal, MemberLog, MentoringSession, PrivateNote
from tests.scheduling.test_api import (
    MENTEE,
    MENTOR,
    OUTSIDER,
    PlannedPair,
    StartService,
    planned_pair,
)
from tests.support.stack import wait_until
from tests.support.stream import Stream
from upward_common.events import EmployeeErased
from upward_common.tables import OutboxEvent


@pytest.fixture
def pair(
    start_service: StartService, stream: Stream, token: Callable[..., str]
) -> AbstractAsyncContextManager[PlannedPair]:
    return planned_pair(start_service, stream, token)


# Relative to the clock: the correction window runs from `held_at` in real time.
RECENT = (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0)
PART = {"held_at": RECENT.isoformat(), "duration_minutes": 55, "mentor_attended": True,
        "mentee_attended": True, "topics": ["social media"], "rating": 4, "fit": "good"}


async def test_the_second_member_logs_their_own_part_and_keeps_their_own_note(
    pair: AbstractAsyncContextManager[PlannedPair], stream: Stream,
) -> None:
    async with pair as p:
        first = await p.log(MENTOR, {**PART, "recap": "Posting etiquette.",
                                     "key_takeaways": ["Post weekly"],
                                     "private_note": "mentor's own"})
        assert first.status_code == 200, first.text
        second = await p.log(MENTEE, {**PART, "duration_minutes": 50, "rating": 2,
                                      "fit": "poor", "private_note": "mentee's own"})
        assert second.status_code == 200, second.text

        mentee_view = await p.session(MENTEE)
        assert mentee_view["status"] == "held"
        assert mentee_view["duration_minutes"] == 55  # the first log set the session's length
        assert mentee_view["recap"] == "Posting etiquette."  # shared: the mentee left it
        assert mentee_view["key_takeaways"] == ["Post weekly"]
        assert mentee_view["my_private_note"] == "mentee's own"
        by_role = {log["author_role"]: log for log in mentee_view["logs"]}
        assert by_role["mentee"]["mine"] and by_role["mentee"]["rating"] == 2
        assert by_role["mentee"]["fit"] == "poor"
        # The partner's rating and fit answer are the partner's.
        assert not by_role["mentor"]["mine"]
        assert by_role["mentor"]["rating"] is None and by_role["mentor"]["fit"] is None
        assert by_role["mentor"]["topics"] == ["social media"]
        assert (await p.session(MENTOR))["my_private_note"] == "mentor's own"

        admin = await p.session("hr_admin")
        assert admin["recap"] is None and admin["key_takeaways"] is None
        assert admin["my_private_note"] is None
        assert {log["rating"] for log in admin["logs"]} == {None}
        assert "own" not in str(admin)

        logged = await stream.events("mentoring.session.logged")
        assert [e.data["author_role"] for e in logged] == ["mentor", "mentee"]
        assert logged[1].data["rating"] == 2 and logged[1].data["fit"] == "poor"
        assert logged[1].data["topics"] == ["social media"]
        assert logged[1].data["mentor_attended"] is True
        raw = " ".join(e.model_dump_json() for e in logged)
        assert "Posting etiquette" not in raw and "Post weekly" not in raw
        assert "own" not in raw


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**PART, "held_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat()}, "held_at"),
        # The pair formed on 2026-11-18 10:00 UTC.
        ({**PART, "held_at": "2026-11-18T09:59:00+00:00"}, "held_at"),
        ({**PART, "topics": ["knitting"]}, "topics"),
        ({**PART, "topics": ["social media"] * 21}, "topics"),
        ({**PART, "rating": 6}, "rating"),
        ({**PART, "rating": 0}, "rating"),
        ({**PART, "fit": "meh"}, "fit"),
        ({**PART, "key_takeaways": ["x" * 4_001]}, "key_takeaways"),
    ],
)
async def test_a_bad_log_is_refused_naming_the_field_and_writes_nothing(
    pair: AbstractAsyncContextManager[PlannedPair], body: dict[str, Any], field: str,
) -> None:
    async with pair as p:
        response = await p.log(MENTOR, {**body, "private_note": "mine"})
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        # A list's item is named with its index (`key_takeaways.0`).
        assert response.json()["field"].split(".")[0] == field
        assert (await p.session(MENTOR))["status"] == "planned"
        assert await p.count(select(func.count()).select_from(MemberLog)) == 0
        assert await p.count(select(func.count()).select_from(PrivateNote)) == 0
        assert await p.count(select(func.count()).select_from(OutboxEvent)
                             .where(OutboxEvent.subject == "mentoring.session.logged")) == 0


async def test_the_author_corrects_their_log_and_nobody_else_does(
    pair: AbstractAsyncContextManager[PlannedPair], stream: Stream,
) -> None:
    async with pair as p:
        recent = {**PART, "held_at": RECENT.isoformat(), "private_note": "first"}
        assert (await p.log(MENTOR, recent)).status_code == 200
        path = f"/api/v1/sessions/{p.session_id}/log"
        # The partner has no log of their own to correct; an outsider is not in the pair.
        assert (await p.call(MENTEE, "PATCH", path, json={"rating": 1})).status_code == 404
        assert (await p.call(OUTSIDER, "PATCH", path, json={"rating": 1})).status_code == 403
        assert (await p.call("hr_admin", "PATCH", path, json={"rating": 1})).status_code == 403

        corrected = await p.call(MENTOR, "PATCH", path, json={
            "duration_minutes": 40, "mentee_attended": False, "topics": ["hybrid working"],
            "private_note": "second",
            "held_at": (RECENT - timedelta(hours=1)).astimezone(timezone(timedelta(hours=1)))
            .isoformat()})
        assert corrected.status_code == 200, corrected.text
        body = corrected.json()
        assert body["duration_minutes"] == 40
        assert datetime.fromisoformat(body["held_at"]) == RECENT - timedelta(hours=1)
        assert body["my_private_note"] == "second"
        (mine,) = body["logs"]
        assert mine["mentee_attended"] is False and mine["topics"] == ["hybrid working"]
        assert mine["rating"] == 4 and mine["corrected_at"] is not None
        # The window runs from the first held_at: a correction does not move it.
        assert datetime.fromisoformat(mine["correctable_until"]) == (
            RECENT + timedelta(days=7))

        bad = await p.call(MENTOR, "PATCH", path, json={"topics": ["knitting"]})
        assert bad.status_code == 422 and bad.json()["field"] == "topics"
        future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
        bad = await p.call(MENTOR, "PATCH", path, json={"held_at": future})
        assert bad.status_code == 422 and bad.json()["field"] == "held_at"

        logged = await stream.events("mentoring.session.logged")
        assert [e.data["corrected"] for e in logged] == [False, True]
        assert "second" not in logged[1].model_dump_json()


async def test_a_log_past_its_window_cannot_be_corrected(
    start_service: StartService, stream: Stream, token: Callable[..., str],
) -> None:
    # A window of zero days closes at held_at: two hours ago.
    async with planned_pair(start_service, stream, token, log_correction_days=0) as p:
        assert (await p.log(MENTEE, {**PART, "held_at": RECENT.isoformat()})).status_code == 200
        late = await p.call(MENTEE, "PATCH", f"/api/v1/sessions/{p.session_id}/log",
                            json={"rating": 5})
        assert late.status_code == 409, late.text
        assert late.headers["content-type"].startswith("application/problem+json")
        assert "correctable_until" in late.json()
        (log,) = (await p.session(MENTEE))["logs"]
        assert log["rating"] == 4


async def test_a_poor_fit_reported_twice_flags_the_pair_once(
    start_service: StartService, stream: Stream, token: Callable[..., str],
) -> None:
    async with planned_pair(start_service, stream, token) as p:
        assert (await p.log(MENTOR, {**PART, "fit": "poor"})).status_code == 200
        assert await stream.events("mentoring.pair.fitflagged") == []
        assert (await p.log(MENTEE, {**PART, "fit": "poor"})).status_code == 200
        path = f"/api/v1/sessions/{p.session_id}/log"
        # A third report (a correction) announces nothing new.
        assert (await p.call(MENTEE, "PATCH", path, json={"fit": "poor"})).status_code == 200
        flagged = await stream.events("mentoring.pair.fitflagged")
        assert len(flagged) == 1
        assert flagged[0].data["pair_id"] == p.pair_id
        assert flagged[0].data["poor_fit_reports"] == 2


async def test_logging_a_cancelled_session_is_a_conflict(
    pair: AbstractAsyncContextManager[PlannedPair],
) -> None:
    async with pair as p:
        async with p.svc.app.state.sessionmaker() as db:
            row = await db.get(MentoringSession, p.session_id)
            assert row is not None
            row.status = "cancelled"
            db.add(row)
            await db.commit()
        response = await p.log(MENTOR, PART)
        assert response.status_code == 409
        assert await p.count(select(func.count()).select_from(MemberLog)) == 0


async def test_an_erased_member_leaves_their_log_and_goals_authorless_and_their_note_gone(
    pair: AbstractAsyncContextManager[PlannedPair], stream: Stream,
) -> None:
    async with pair as p:
        assert (await p.log(MENTOR, {**PART, "private_note": "mine"})).status_code == 200
        goal = await p.call(MENTOR, "POST", f"/api/v1/pairs/{p.pair_id}/goals", json={
            "text": "Post weekly", "measure": "posts", "unit": "posts a month", "baseline": 0,
            "target": 4, "due_on": (datetime.now(UTC).date() + timedelta(days=30)).isoformat()})
        assert goal.status_code == 201, goal.text
        await stream.publish(EmployeeErased(employee_id=MENTOR, occurred_at=datetime.now(UTC)))

        async def forgotten() -> bool:
            return await p.count(select(func.count()).select_from(MemberLog)
                                 .where(MemberLog.author_employee_id == MENTOR)) == 0

        await wait_until(forgotten)
        assert await p.count(select(func.count()).select_from(MemberLog)) == 1
        assert await p.count(select(func.count()).select_from(PrivateNote)) == 0
        assert await p.count(select(func.count()).select_from(Goal)
                             .where(Goal.created_by_employee_id == MENTOR)) == 0
