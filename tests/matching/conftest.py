"""Matching fixtures: the real service, and a feed of enrolment's events over real NATS."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import nats
import pytest

from tests.support.stack import Running, wait_until
from tests.support.stream import Stream
from upward_common.events import (
    STREAM,
    AvailabilityWindow,
    EmployeeSnapshot,
    EventData,
    ParticipantEnrolled,
    ParticipantState,
    ProgrammeSnapshot,
    ProgrammeUpdated,
    TopicSkill,
)

ENROLMENT = "/upward/enrolment"
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    """A fixed event time, `minutes` after a reference instant (order is what tests vary)."""
    return T0 + timedelta(minutes=minutes)


def employee(employee_id: str | None = None, **values: Any) -> EmployeeSnapshot:
    employee_id = employee_id or str(uuid.uuid4())
    base: dict[str, Any] = {
        "employee_id": employee_id, "external_id": f"X-{employee_id}",
        "email": f"{employee_id}@example.com", "given_name": "Alex", "family_name": "Doe",
        "job_level": 5, "department": "Engineering", "time_zone": "Europe/London",
    }
    base.update(values)
    return EmployeeSnapshot(**base)


def participant(programme_id: str, role: str, person: EmployeeSnapshot,
                participant_id: str | None = None, **values: Any) -> ParticipantState:
    base: dict[str, Any] = {
        "participant_id": participant_id or str(uuid.uuid4()), "programme_id": programme_id,
        "role": role, "employee": person, "time_zone": person.time_zone,
        "languages": ["English"], "meeting_formats": ["virtual"],
        "availability": [AvailabilityWindow(weekday=d, start="09:00", end="12:00")
                         for d in range(5)],
    }
    base.update(values)
    return ParticipantState(**base)


def skills(*names: str, level: int = 4) -> list[TopicSkill]:
    return [TopicSkill(topic=name, level=level) for name in names]


def wishes(*names: str) -> list[TopicSkill]:
    """Topics to learn, ranked in the order given (1 = first)."""
    return [TopicSkill(topic=name, level=rank) for rank, name in enumerate(names, start=1)]


class Feed:
    """Publishes enrolment-shaped CloudEvents to the test's JetStream."""

    def __init__(self, stream: Stream) -> None:
        self.stream = stream

    async def publish(self, data: EventData, *, event_id: str | None = None) -> str:
        return (await self.stream.publish(data, source=ENROLMENT, event_id=event_id)).id

    async def programme(self, programme_id: str, minutes: int = 0, **values: Any) -> None:
        base: dict[str, Any] = {"programme_id": programme_id, "name": "Reverse mentoring",
                                "status": "open", "min_level_gap": 2}
        base.update(values)
        await self.publish(ProgrammeUpdated(programme=ProgrammeSnapshot(**base),
                                            occurred_at=at(minutes)))

    async def enrol(self, state: ParticipantState, minutes: int = 1) -> ParticipantState:
        await self.publish(ParticipantEnrolled(participant=state, occurred_at=at(minutes)))
        return state


@pytest.fixture
async def matching(
    start_service: Callable[..., AbstractAsyncContextManager[Running]],
) -> AsyncIterator[Running]:
    async with start_service("matching") as running:
        yield running


@pytest.fixture
async def feed(stream: Stream, matching: Running) -> AsyncIterator[Feed]:
    # The service made the stream at start; the feed publishes into it.
    yield Feed(stream)


@pytest.fixture
async def admin(matching: Running, token: Callable[..., str]) -> AsyncIterator[httpx.AsyncClient]:
    async with matching.client(token("hr_admin")) as client:
        yield client


async def pool(client: httpx.AsyncClient, programme_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/programmes/{programme_id}/pool")
    return response.json() if response.status_code == 200 else {}


async def wait_pool(client: httpx.AsyncClient, programme_id: str, **expected: int) -> None:
    async def matches() -> bool:
        stats = await pool(client, programme_id)
        return bool(stats) and all(stats.get(k) == v for k, v in expected.items())

    await wait_until(matches)


async def published(nats_url: str, subject: str) -> list[dict[str, Any]]:
    """Every CloudEvent on `subject` in the stream so far (oldest first)."""
    connection = await nats.connect(nats_url)
    try:
        js = connection.jetstream()
        info = await js.stream_info(STREAM, subjects_filter=subject)
        expected = (info.state.subjects or {}).get(subject, 0)
        if not expected:
            return []
        sub = await js.pull_subscribe(subject, durable=None)
        out: list[dict[str, Any]] = []
        while len(out) < expected:
            for message in await sub.fetch(expected - len(out), timeout=5):
                out.append(json.loads(message.data))
                await message.ack()
        await sub.unsubscribe()
        return out
    finally:
        await connection.close()


async def wait_published(nats_url: str, subject: str, count: int) -> list[dict[str, Any]]:
    async def enough() -> list[dict[str, Any]] | None:
        events = await published(nats_url, subject)
        return events if len(events) >= count else None

    result: list[dict[str, Any]] = await wait_until(enough)
    await asyncio.sleep(0)
    return result
