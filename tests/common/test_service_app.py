"""What every service gets from the kernel: health, readiness, metrics, problems, auth."""

from __future__ import annotations

from typing import Any

from tests.common.conftest import recording_handler
from tests.support.nats import NatsServer
from tests.support.stack import wait_until


async def test_health_readiness_and_metrics_answer_without_a_token(
    start_kernel_service: Any,
) -> None:
    async with start_kernel_service(recording_handler()) as running, running.client() as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        ready = await client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"] == {"database": True, "nats": True}
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
