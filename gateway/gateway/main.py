"""The gateway: Upward's one public address (GraphQL, SCIM and the HRIS import)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import Depends, FastAPI
from prometheus_client import CollectorRegistry
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from gateway import forward
from gateway.clients import Downstreams
from gateway.config import GatewaySettings
from gateway.context import get_context
from gateway.cors import GraphQLCORSMiddleware
from gateway.feed import EventFeed
from gateway.graphiql import assets_router
from gateway.persisted import PersistedQueries
from gateway.readiness import StartupGate
from gateway.schema import build_schema
from gateway.websocket import LiveGraphQLRouter
from upward_common.auth import BEARER, TokenVerifier
from upward_common.heap import frozen_heap
from upward_common.logs import configure_logging
from upward_common.observability import (
    CorrelationMiddleware,
    Readiness,
    health_router,
    install_request_metrics,
)
from upward_common.problems import install_problem_handlers

log = logging.getLogger(__name__)

NAME = "gateway"


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    """The ASGI app (`uvicorn gateway.main:create_app --factory`)."""
    settings = settings or GatewaySettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(NAME, settings.log_level)
        downstreams = Downstreams.open(settings)
        app.state.downstreams = downstreams
        # Subscriptions' events; connects in the background, so queries never wait for NATS.
        feed = EventFeed(settings)
        app.state.feed = feed
        feed.start()
        log.info("started", extra={"port": settings.port})
        try:
            with frozen_heap():
                yield
        finally:
            await feed.close()
            await downstreams.aclose()
            log.info("stopped")

    app = FastAPI(
        title="Upward gateway",
        description="GraphQL over the mentoring journey at /graphql; SCIM and the HRIS "
                    "import forwarded to enrolment.",
        version="0.1.0",
        lifespan=lifespan,
    )
    registry = CollectorRegistry()
    app.state.settings = settings
    app.state.verifier = TokenVerifier(settings)

    # One gate per process: once every service has been ready, the gateway stays ready.
    gate = StartupGate()

    async def readiness() -> Readiness:
        downstreams: Downstreams = app.state.downstreams
        return await gate.check(downstreams, settings.readiness_timeout_seconds)

    graphql = LiveGraphQLRouter(
        build_schema(settings),
        # The path is the route's own (not an include prefix) so metrics label it /graphql.
        path="/graphql",
        context_getter=get_context,
        graphql_ide="graphiql" if settings.graphql_ide else None,
        # Subscriptions over websockets, in the one protocol current clients speak.
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        connection_init_wait_timeout=timedelta(seconds=settings.connection_init_timeout_seconds),
        # Pages on the CORS origins may open a websocket too; same-origin ones always may.
        allowed_origins=settings.cors_origins,
        verifier=app.state.verifier,
        max_connections=settings.max_websocket_connections,
        max_subscriptions_per_connection=settings.max_subscriptions_per_connection,
        max_tokens=settings.max_tokens,
        timeout_seconds=settings.request_timeout_seconds,
        persisted=PersistedQueries.from_settings(settings),
    )

    # Its count of open websockets is the connection cap's (and what tests watch).
    app.state.graphql = graphql
    install_problem_handlers(app)
    if settings.cors_origins:
        # Inside the metrics and the correlation id, so preflights are counted and traced.
        app.add_middleware(GraphQLCORSMiddleware, origins=settings.cors_origins,
                           path="/graphql")
    install_request_metrics(app, registry)
    app.add_middleware(CorrelationMiddleware)
    app.include_router(health_router(registry, readiness))
    # The context verifies the token itself; BEARER only declares the scheme in OpenAPI.
    app.include_router(graphql, tags=["graphql"], dependencies=[Depends(BEARER)])
    if settings.graphql_ide:
        app.include_router(assets_router())
    app.include_router(forward.router)
    return app
