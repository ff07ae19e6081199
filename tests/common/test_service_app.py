"""What every service gets from the kernel: health, readiness, metrics, problems, auth."""

from __future__ import annotations

import gc
import re
from datetime import timedelta
from typing import Any

from sqlalchemy import update

from tests.common.conftest import recording_handler
from tests.support.nats import NatsServer
from tests.support.stack import Running, wait_until
from upward_common.events import PairEnded, utcnow
from upward_common.heap import THRESHOLDS
from upward_common.outbox import emit
from upward_common.tables import OutboxEvent


async def test_health_readiness_and_metrics_answer_without_a_token(
    start_kernel_service: Any,
) -> None:
    async with start_kernel_service(recording_handler()) as running, running.client() as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        ready = await client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"] == {"database": True, "nats": True, "outbox": True}
        assert ready.json()["outbox"] == {"pending": 0, "oldest_pending_age_seconds": 0,
                                          "dead_letters": 0}
        assert "reasons" not in ready.json()
        metrics = await client.get("/metrics")
        assert metrics.status_code == 200
        assert "http_requests_total" in metrics.text
        assert (await client.get("/openapi.json")).status_code == 200


async def test_readiness_reports_503_while_nats_is_down(
    start_kernel_service: Any, nats_server: NatsServer
) -> None:
    async with start_kernel_service(recording_handler()) as running, running.client() as client:
        nats_server.stop()
        ready = await wait_until(lambda: _status(client, 503))
        assert ready
        body = (await client.get("/readyz")).json()
        assert body["checks"]["nats"] is False
        assert body["reasons"] == {"nats": "not connected to NATS"}
        assert (await client.get("/healthz")).status_code == 200
        nats_server.start()
        await wait_until(lambda: _status(client, 200))


async def _status(client: Any, expected: int) -> bool:
    return bool((await client.get("/readyz")).status_code == expected)


async def test_the_correlation_id_is_echoed_or_minted(start_kernel_service: Any) -> None:
    async with start_kernel_service(recording_handler()) as running, running.client() as client:
        echoed = await client.get("/healthz", headers={"X-Correlation-ID": "abc-123"})
        assert echoed.headers["x-correlation-id"] == "abc-123"
        minted = await client.get("/healthz")
        assert len(minted.headers["x-correlation-id"]) == 32


async def emit_events(running: Running, count: int, *, age: timedelta = timedelta(0)) -> None:
    async with running.app.state.sessionmaker() as session:
        for _ in range(count):
            emit(session, PairEnded(pair_id="p-1", programme_id="prog-1", reason="admin",
                                    occurred_at=utcnow()))
        await session.flush()
        if age:
            await session.exec(update(OutboxEvent)
                               .values(created_at=utcnow() - age))
        await session.commit()


async def test_readiness_is_503_while_the_first_unsent_event_is_older_than_the_limit(
    start_kernel_service: Any,
) -> None:
    """A relay that stopped sending takes the service out of rotation, and says why."""
    async with start_kernel_service(recording_handler(), outbox_max_age_seconds=60) as running, \
            running.client() as client:
        await running.app.state.relay.stop()  # the relay is stuck: nothing else is wrong
        await emit_events(running, 2, age=timedelta(seconds=90))
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        body = ready.json()
        assert body["checks"] == {"database": True, "nats": True, "outbox": False}
        assert "outbox_max_age_seconds (60 s)" in body["reasons"]["outbox"]
        assert body["outbox"]["pending"] == 2
        assert body["outbox"]["oldest_pending_age_seconds"] >= 90

        async with running.app.state.sessionmaker() as session:
            await session.exec(update(OutboxEvent)
                               .values(created_at=utcnow() - timedelta(seconds=30)))
            await session.commit()
        fresh = await client.get("/readyz")
        assert fresh.status_code == 200, fresh.text
        assert fresh.json()["outbox"]["pending"] == 2


def gauge(metrics: str, name: str) -> float:
    found = re.search(rf"^{name} (\S+)$", metrics, re.MULTILINE)
    assert found, f"{name} not in the metrics"
    return float(found.group(1))


async def test_the_metrics_show_the_unsent_count_and_the_age_of_the_oldest(
    start_kernel_service: Any, nats_server: NatsServer
) -> None:
    async with start_kernel_service(recording_handler()) as running, running.client() as client:
        nats_server.stop()
        await emit_events(running, 3, age=timedelta(seconds=42))

        async def metrics() -> str:
            return str((await client.get("/metrics")).text)

        # The relay measures the backlog on its own, without any readiness probe.
        await wait_until(lambda: _gauge_is(metrics, "outbox_pending", 3))
        text = await metrics()
        assert gauge(text, "outbox_oldest_pending_age_seconds") >= 42
        assert gauge(text, "outbox_dead_letters") == 0
        nats_server.start()
        await wait_until(lambda: _gauge_is(metrics, "outbox_pending", 0))
        assert gauge(await metrics(), "outbox_oldest_pending_age_seconds") == 0


async def _gauge_is(metrics: Any, name: str, expected: float) -> bool:
    return gauge(await metrics(), name) == expected


async def test_a_running_service_keeps_its_start_up_heap_out_of_collections(
    start_kernel_service: Any,
) -> None:
    before = gc.get_threshold()
    async with start_kernel_service(recording_handler()):
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == THRESHOLDS
    # Stopped, it thaws the heap, so what it leaves behind can be collected.
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before
