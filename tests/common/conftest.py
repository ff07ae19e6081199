"""A minimal service built on the kernel alone, to test the kernel's mechanisms.

It borrows enrolment's migrations (which include the kernel tables) and
records a `programme` row per applied event: a visible effect that would
show up twice if an event were ever applied twice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pytest
from fastapi import APIRouter
from sqlmodel import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from enrolment.config import EnrolmentSettings
from enrolment.main import SERVICE as ENROLMENT
from enrolment.models import Programme
from tests.support.stack import Running, serve, wait_until
from upward_common.consumer import Handler
from upward_common.events import EventData, PairEnded, utcnow
from upward_common.logs import event_id as current_event
from upward_common.service import ServiceDefinition


def recording_handler(failures: dict[str, int] | None = None) -> Handler:
    """Applies an event by writing a row; fails the first N times per event id if asked."""
    failures = failures if failures is not None else {}

    async def handle(session: AsyncSession, data: Any) -> None:
        event_id = current_event.get()  # the kernel names the event being applied
        session.add(Programme(name=f"applied {event_id}", created_at=utcnow()))
        await session.flush()
        if failures.get(event_id, 0) > 0:
            failures[event_id] -= 1
            raise RuntimeError("simulated handler failure")

    return handle


async def applied_count(running: Running, event_id: str) -> int:
    async with running.app.state.sessionmaker() as session:
        count = await session.scalar(
            select(func.count()).select_from(Programme).where(
                Programme.name == f"applied {event_id}")
        )
        return int(count or 0)


@pytest.fixture
def start_kernel_service(
    settings_for: Callable[..., Any],
) -> Callable[..., AbstractAsyncContextManager[Running]]:
    @asynccontextmanager
    async def start(handler: Handler, model: type[EventData] = PairEnded,
                    routers: Sequence[APIRouter] = (), **overrides: Any) -> AsyncIterator[Running]:
        definition = ServiceDefinition(
            name="kerneltest", title="kernel test", description="",
            settings_cls=EnrolmentSettings, migrations_dir=ENROLMENT.migrations_dir,
            routers=routers, handlers={model: handler},
        )
        settings = settings_for(EnrolmentSettings, "kerneltest", **overrides)
        async with serve("kerneltest", definition.create_app(settings)) as running:
            await wait_until(lambda: running.app.state.bus.is_connected)
            yield running

    return start
