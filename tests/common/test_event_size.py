"""No event exceeds the documented size: an oversized change is refused before it is written."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel
from sqlmodel import select

from enrolment.models import Programme
from tests.common.conftest import recording_handler
from tests.support.stack import Running
from upward_common.db import SessionDep
from upward_common.events import MAX_EVENT_BYTES, PairEnded, utcnow
from upward_common.outbox import emit
from upward_common.problems import PROBLEM_JSON
from upward_common.tables import OutboxEvent


class Ending(BaseModel):
    # Uncapped on purpose: the route stands for any change whose event could grow.
    reason: str


router = APIRouter()


@router.post("/test/pair-endings", status_code=201)
async def end_pair(body: Ending, session: SessionDep) -> dict[str, str]:
    """Write a change and its event in one transaction, as every service route does."""
    session.add(Programme(name="the change", created_at=utcnow()))
    await session.flush()
    emit(session, PairEnded(pair_id="p-1", programme_id="prog-1", reason=body.reason,
                            occurred_at=utcnow()))
    await session.commit()
    return {"status": "ended"}


async def written(running: Running) -> tuple[int, int]:
    """(rows of the change, outbox rows) in the service's database."""
    async with running.app.state.sessionmaker() as session:
        changes = (await session.exec(
            select(Programme).where(Programme.name == "the change"))).all()
        events = (await session.exec(select(OutboxEvent))).all()
        return len(changes), len(events)


async def test_a_change_whose_event_is_too_large_is_a_413_and_writes_nothing(
    start_kernel_service: Any,
) -> None:
    async with start_kernel_service(recording_handler(), routers=[router]) as running, \
            running.client() as client:
        response = await client.post("/test/pair-endings",
                                     json={"reason": "x" * (MAX_EVENT_BYTES + 1)})
        assert response.status_code == 413, response.text
        assert response.headers["content-type"] == PROBLEM_JSON
        problem = response.json()
        assert problem["type"].endswith("/event-too-large")
        assert problem["field"] == "body"
        assert problem["limit_bytes"] == MAX_EVENT_BYTES == 256 * 1024
        assert problem["size_bytes"] > MAX_EVENT_BYTES
        assert problem["event_type"] == "pair.ended.v1"
        assert await written(running) == (0, 0)

        ok = await client.post("/test/pair-endings", json={"reason": "x" * 1000})
        assert ok.status_code == 201, ok.text
        assert await written(running) == (1, 1)


async def test_the_size_is_counted_in_bytes_of_utf8_not_in_characters(
    start_kernel_service: Any,
) -> None:
    # 70,000 characters either way: 140,000 bytes fit, 280,000 bytes do not.
    count = 70_000
    async with start_kernel_service(recording_handler(), routers=[router]) as running, \
            running.client() as client:
        refused = await client.post("/test/pair-endings", json={"reason": "\U0001f600" * count})
        assert refused.status_code == 413, refused.text
        assert await written(running) == (0, 0)
        accepted = await client.post("/test/pair-endings", json={"reason": "\u00e9" * count})
        assert accepted.status_code == 201, accepted.text
        assert await written(running) == (1, 1)

