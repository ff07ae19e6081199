"""Correlation ids, request metrics, health and readiness, shared by every part."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from fastapi import APIRouter, FastAPI, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from upward_common.logs import correlation_id

CORRELATION_HEADER = "x-correlation-id"



@dataclass
class Readiness:
    """Each dependency's check, why a failed one failed, and figures worth showing.

    `ready` decides the answer (200 or 503) when set; unset, every check must pass.
    """

    checks: dict[str, bool]
    reasons: dict[str, str] = field(default_factory=dict)
    details: dict[str, object] = field(default_factory=dict)
    ready: bool | None = None


ReadinessCheck = Callable[[], Awaitable[dict[str, bool] | Readiness]]


class CorrelationMiddleware:
    """Adopts the caller's correlation id (or mints one) and echoes it in the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(CORRELATION_HEADER.encode())
        value = incoming.decode()[:128] if incoming else uuid.uuid4().hex
        token = correlation_id.set(value)

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"].append((CORRELATION_HEADER.encode(), value.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_header)
        finally:
            correlation_id.reset(token)


def install_request_metrics(app: FastAPI, registry: CollectorRegistry) -> None:
    """Count each HTTP request and time it, by method, route template and status.

    A plain ASGI middleware, not `@app.middleware("http")`: Starlette's BaseHTTPMiddleware
    runs every request in a task group and passes the body through a memory stream, which
    cost each service call more CPU than the counting itself. As before, a request is
    counted (and its time taken) when its response starts; one that fails before any
    response is not.
    """
    requests = Counter("http_requests_total", "HTTP requests", ["method", "route", "status"],
                       registry=registry)
    latency = Histogram("http_request_duration_seconds", "HTTP request latency",
                        ["method", "route"], registry=registry)
    app.add_middleware(RequestMetricsMiddleware, requests=requests, latency=latency)


class RequestMetricsMiddleware:
    """`install_request_metrics`' middleware: the counter and histogram it feeds are given."""

    def __init__(self, app: ASGIApp, *, requests: Counter, latency: Histogram) -> None:
        self.app = app
        self.requests = requests
        self.latency = latency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def measured(message: Message) -> None:
            if message["type"] == "http.response.start":
                route = scope.get("route")
                # The route template, not the raw path, keeps the label set bounded.
                name = getattr(route, "path", "unmatched")
                method = scope["method"]
                self.requests.labels(method, name, str(message["status"])).inc()
                self.latency.labels(method, name).observe(time.perf_counter() - started)
            await send(message)

        await self.app(scope, receive, measured)


def health_router(registry: CollectorRegistry, readiness: ReadinessCheck) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        """Alive: the process answers."""
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz(response: Response) -> dict[str, object]:
        """Ready: every dependency (database, NATS, downstream services) is reachable.

        A service is also not ready while its outbox is behind (the first unsent
        event older than `outbox_max_age_seconds`); `reasons` says what failed.
        The gateway is ready once its services were all ready together, and stays
        so; its `checks` show each service as it is now.
        """
        result = await readiness()
        state = result if isinstance(result, Readiness) else Readiness(checks=result)
        ready = all(state.checks.values()) if state.ready is None else state.ready
        if not ready:
            response.status_code = 503
        body: dict[str, object] = {"status": "ready" if ready else "unavailable",
                                   "checks": state.checks}
        if state.reasons:
            body["reasons"] = state.reasons
        body.update(state.details)
        return body

    @router.get("/metrics")
    async def metrics() -> Response:
        """Prometheus metrics in the text exposition format."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router
