"""Pair members log their sessions; recaps are shared by the pair, private notes by no one."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlmodel import func, select

from scheduling.models import MentoringSession, PrivateNote
from tests.support.stack import Running, wait_until
from tests.support.stream import Stream
from tests.support.tokens import signed_token
from upward_common.events import PairFormed, ProgrammeSnapshot, ProgrammeUpdated
from upward_common.tables import OutboxEvent

StartService = Callable[..., AbstractAsyncContextManager[Running]]

MENTOR, MENTEE, OUTSIDER = "emp-mentor", "emp-mentee", "emp-outsider"
HELD_AT = "2026-11-25T09:05:00+00:00"
FORMED_AT = datetime(2026, 11, 18, 10, tzinfo=UTC)
CATALOGUE = ["social media", "data visualisation", "hybrid working"]


@dataclass
class PlannedPair:
    svc: Running
    pair_id: str
    session_id: str
    token: Callable[..., str]

    def as_(self, who: str) -> str:
        if who == "hr_admin":
            return self.token("hr_admin")
        return self.token("participant", employee_id=who)

    async def call(self, who: str, method: str, path: str, **kwargs: Any) -> Any:
        async with self.svc.client(self.as_(who)) as client:
            return await client.request(method, path, **kwargs)

    async def log(self, who: str, body: dict[str, Any]) -> Any:
        return await self.call(who, "POST", f"/api/v1/sessions/{self.session_id}/log", json=body)

    async def session(self, who: str) -> dict[str, Any]:
        response = await self.call(who, "GET", f"/api/v1/sessions/{self.session_id}")
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    async def count(self, query: Any) -> int:
        async with self.svc.app.state.sessionmaker() as db:
            return int((await db.exec(query)).one())


@asynccontextmanager
async def planned_pair(
    start_service: StartService, stream: Stream, token: Callable[..., str], **settings: Any
) -> AsyncIterator[PlannedPair]:
    pair_id, programme_id = str(uuid.uuid4()), str(uuid.uuid4())
    async with start_service("scheduling", **settings) as svc:
        # A one-week weekly programme: its plan holds a single session.
        await stream.publish(ProgrammeUpdated(
            programme=ProgrammeSnapshot(programme_id=programme_id, name="One week", status="open",
                                        session_cadence="weekly", duration_weeks=1,
                                        topics=CATALOGUE),
            occurred_at=FORMED_AT))
        await stream.publish(PairFormed(
            pair_id=pair_id, programme_id=programme_id,
            mentor_participant_id="part-1", mentee_participant_id="part-2",
            mentor_employee_id=MENTOR, mentee_employee_id=MENTEE, score=0.7,
            occurred_at=FORMED_AT))

        async def first_session() -> str | None:
            async with svc.client(token("hr_admin")) as client:
                response = await client.get(f"/api/v1/pairs/{pair_id}/sessions")
            body = response.json() if response.status_code == 200 else []
            return body[0]["id"] if body else None

        session_id = await wait_until(first_session)
        yield PlannedPair(svc, pair_id, session_id, token)


@pytest.fixture
def pair(
    start_service: StartService, stream: Stream, token: Callable[..., str]
) -> AbstractAsyncContextManager[PlannedPair]:
    return planned_pair(start_service, stream, token)


LOG = {"held_at": HELD_AT, "duration_minutes": 50,
       "recap": "Went through LinkedIn posting etiquette.",
       "private_note": "I talked too fast; slow down next time."}


async def test_a_member_logs_the_session_and_session_logged_is_emitted(
    pair: AbstractAsyncContextManager[PlannedPair], stream: Stream,
) -> None:
    async with pair as p:
        response = await p.log(MENTEE, LOG)
        assert response.status_code == 200, response.text
        logged = response.json()
        assert logged["status"] == "held"
        assert datetime.fromisoformat(logged["held_at"]) == datetime.fromisoformat(HELD_AT)
        assert logged["duration_minutes"] == 50

        events = await stream.events("mentoring.session.logged")
        assert len(events) == 1
        event = events[0]
        assert event.type == "session.logged.v1"
        assert event.data["session_id"] == p.session_id
        assert event.data["pair_id"] == p.pair_id
        assert event.data["logged_by_employee_id"] == MENTEE
        assert event.data["duration_minutes"] == 50
        # Neither the shared recap nor the private note leaves the service.
        raw = event.model_dump_json()
        assert LOG["recap"] not in raw and LOG["private_note"] not in raw


async def test_the_private_note_is_readable_by_its_author_only(
    pair: AbstractAsyncContextManager[PlannedPair],
) -> None:
    async with pair as p:
        assert (await p.log(MENTOR, LOG)).status_code == 200

        author = await p.session(MENTOR)
        assert author["my_private_note"] == LOG["private_note"]
        assert author["recap"] == LOG["recap"]

        partner = await p.session(MENTEE)
        assert partner["my_private_note"] is None
        assert partner["recap"] == LOG["recap"]  # the recap is the pair's

        admin = await p.session("hr_admin")
        assert admin["my_private_note"] is None
        assert admin["recap"] is None
        assert admin["status"] == "held"

        # Lists show the same: nobody else gets the note by another route.
        for who, path in [(MENTEE, f"/api/v1/pairs/{p.pair_id}/sessions"),
                          (MENTEE, "/api/v1/sessions"),
                          ("hr_admin", f"/api/v1/sessions?employee_id={MENTOR}"),
                          ("hr_admin", f"/api/v1/pairs/{p.pair_id}/sessions")]:
            listed = (await p.call(who, "GET", path)).json()
            assert [s["my_private_note"] for s in listed] == [None], (who, path)
            assert LOG["private_note"] not in str(listed)
        mine = (await p.call(MENTOR, "GET", "/api/v1/sessions")).json()
        assert [s["my_private_note"] for s in mine] == [LOG["private_note"]]


async def test_logging_ones_own_part_twice_is_a_conflict(
    pair: AbstractAsyncContextManager[PlannedPair],
) -> None:
    async with pair as p:
        assert (await p.log(MENTOR, LOG)).status_code == 200
        again = await p.log(MENTOR, {**LOG, "recap": "Something else"})
        assert again.status_code == 409
        assert again.headers["content-type"].startswith("application/problem+json")
        assert (await p.session(MENTOR))["recap"] == LOG["recap"]


async def test_someone_outside_the_pair_can_neither_read_nor_log(
    pair: AbstractAsyncContextManager[PlannedPair],
) -> None:
    async with pair as p:
        logged = await p.log(OUTSIDER, LOG)
        assert logged.status_code == 403
        assert logged.headers["content-type"].startswith("application/problem+json")
        # An admin is not a member either: logging is the pair's own act.
        assert (await p.log("hr_admin", LOG)).status_code == 403
        for path in [f"/api/v1/sessions/{p.session_id}", f"/api/v1/pairs/{p.pair_id}/sessions",
                     f"/api/v1/sessions?employee_id={MENTOR}"]:
            assert (await p.call(OUTSIDER, "GET", path)).status_code == 403, path
        assert (await p.session(MENTOR))["status"] == "planned"


async def test_my_sessions_lists_only_the_callers_pairs(
    pair: AbstractAsyncContextManager[PlannedPair],
) -> None:
    async with pair as p:
        mine = (await p.call(MENTOR, "GET", "/api/v1/sessions")).json()
        assert [s["id"] for s in mine] == [p.session_id]
        assert (await p.call(OUTSIDER, "GET", "/api/v1/sessions")).json() == []
        by_admin = (await p.call("hr_admin", "GET", f"/api/v1/sessions?employee_id={MENTEE}"))
        assert [s["id"] for s in by_admin.json()] == [p.session_id]


async def test_a_token_without_the_participant_role_reads_no_recap_or_note(
    pair: AbstractAsyncContextManager[PlannedPair],
) -> None:
    async with pair as p:
        assert (await p.log(MENTOR, LOG)).status_code == 200
        # An HRIS job's or an admin's token naming a member does not make it the member.
        for roles, status in [(["hris"], 403), (["hr_admin"], 200), (["programme_manager"], 200)]:
            async with p.svc.client(signed_token(roles=roles, employee_id=MENTOR)) as client:
                for path in [f"/api/v1/sessions/{p.session_id}",
                             f"/api/v1/pairs/{p.pair_id}/sessions",
                             f"/api/v1/sessions?employee_id={MENTOR}"]:
                    response = await client.get(path)
                    assert response.status_code == status, (roles, path, response.text)
                    assert LOG["recap"] not in response.text, (roles, path)
                    assert LOG["private_note"] not in response.text, (roles, path)
                logged = await client.post(f"/api/v1/sessions/{p.session_id}/log", json=LOG)
                assert logged.status_code == 403
        # No roles, or roles of the wrong shape, is no token at all.
        for claims in [{"roles": [], "employee_id": MENTOR}, {"roles": 5},
                       {"roles": None, "employee_id": MENTOR},
                       {"roles": {"participant": True}, "employee_id": MENTOR}]:
            async with p.svc.client(signed_token(**claims)) as client:
                response = await client.get(f"/api/v1/sessions/{p.session_id}")
            assert response.status_code == 401, (claims, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**LOG, "duration_minutes": -5}, "duration_minutes"),
        ({k: v for k, v in LOG.items() if k != "held_at"}, "held_at"),
        ({**LOG, "held_at": "2026-11-25T09:05:00"}, "held_at"),  # no offset: ambiguous
        # Both overflow when converted to UTC; neither is a year anyone meets in.
        ({**LOG, "held_at": "9999-12-31T23:59:59-14:00"}, "held_at"),
        ({**LOG, "held_at": "0001-01-01T00:00:00+14:00"}, "held_at"),
        ({**LOG, "held_at": "2201-01-01T00:00:00+00:00"}, "held_at"),
        ({**LOG, "held_at": "1899-12-31T23:59:59+00:00"}, "held_at"),
        ({**LOG, "recap": "x" * 20_001}, "recap"),
        ({**LOG, "recap": "fine\u0000then a NUL"}, "recap"),
        ({**LOG, "private_note": "a bell \u0007"}, "private_note"),
    ],
)
async def test_bad_input_is_rejected_naming_the_field_and_writes_nothing(
    pair: AbstractAsyncContextManager[PlannedPair], body: dict[str, Any], field: str,
) -> None:
    async with pair as p:
        response = await p.log(MENTOR, body)
        assert response.status_code == 422
        assert response.headers["content-type"].startswith("application/problem+json")
        problem = response.json()
        assert problem["field"] == field
        assert field in problem["detail"]

        assert (await p.session(MENTOR))["status"] == "planned"
        assert await p.count(select(func.count()).select_from(PrivateNote)) == 0
        assert await p.count(select(func.count()).select_from(OutboxEvent)
                             .where(OutboxEvent.subject == "mentoring.session.logged")) == 0
        assert await p.count(select(func.count()).select_from(MentoringSession)
                             .where(MentoringSession.recap != None)) == 0  # noqa: E711


async def test_an_unknown_session_is_not_found(
    pair: AbstractAsyncContextManager[PlannedPair],
) -> None:
    async with pair as p:
        response = await p.call(MENTOR, "GET", f"/api/v1/sessions/{uuid.uuid4()}")
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_held_at_is_kept_in_utc(pair: AbstractAsyncContextManager[PlannedPair]) -> None:
    async with pair as p:
        response = await p.log(MENTOR, {**LOG, "held_at": "2026-11-25T23:30:00-14:00"})
        assert response.status_code == 200, response.text
        assert response.json()["held_at"] == "2026-11-26T13:30:00Z"


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v1/sessions/" + "s" * 65, "session_id"),
        ("/api/v1/pairs/-p/sessions", "pair_id"),
        ("/api/v1/sessions?employee_id=a%20b", "employee_id"),
        ("/api/v1/sessions?employee_id=" + "e" * 65, "employee_id"),
    ],
)
async def test_ids_in_paths_and_queries_are_capped(
    pair: AbstractAsyncContextManager[PlannedPair], path: str, field: str,
) -> None:
    async with pair as p:
        response = await p.call("hr_admin", "GET", path)
        assert response.status_code == 422, response.text
        assert response.json()["field"] == field
