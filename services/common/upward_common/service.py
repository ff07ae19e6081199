"""The app factory every service is built with: one shape, one lifecycle."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from prometheus_client import CollectorRegistry
from sqlalchemy import text

from upward_common.auth import TokenVerifier, document_roles
from upward_common.bus import Bus
from upward_common.consumer import EventConsumer, Handlers
from upward_common.db import (
    WalCheckpointer,
    create_engine,
    is_sqlite,
    make_sessionmaker,
    upgrade,
    upgrade_async,
)
from upward_common.heap import frozen_heap
from upward_common.logs import configure_logging
from upward_common.observability import (
    CorrelationMiddleware,
    Readiness,
    health_router,
    install_request_metrics,
)
from upward_common.outbox import SOURCE_KEY, WAKE_KEY, OutboxRelay
from upward_common.problems import install_problem_handlers
from upward_common.settings import ServiceSettings

log = logging.getLogger(__name__)

# A service's own long-lived state (caches, warmed-up solvers): entered once the
# kernel's parts run, left before they stop. It keeps what it builds on `app.state`.
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


@dataclass(frozen=True)
class ServiceDefinition:
    """What makes a service itself; everything else comes from the kernel."""

    name: str
    title: str
    description: str
    settings_cls: type[ServiceSettings]
    migrations_dir: Path
    routers: Sequence[APIRouter]
    handlers: Handlers = field(default_factory=dict)
    lifespan: Lifespan | None = None
    version: str = "0.1.0"

    @property
    def source(self) -> str:
        return f"/upward/{self.name}"

    def migrate(self, settings: ServiceSettings | None = None) -> None:
        """Apply this service's migrations to its database."""
        settings = settings or self.settings_cls()
        upgrade(self.migrations_dir, settings.database_url)

    def create_app(self, settings: ServiceSettings | None = None) -> FastAPI:
        settings = settings or self.settings_cls()
        definition = self

        @asynccontextmanager
        async def lifespan(app: FastAPI) -> AsyncIterator[None]:
            configure_logging(definition.name, settings.log_level)
            if settings.migrate_on_start:
                await upgrade_async(definition.migrations_dir, settings.database_url)
            sqlite = is_sqlite(settings.database_url)
            engine = create_engine(settings.database_url, background_checkpoints=sqlite)
            checkpointer = (WalCheckpointer(engine,
                                            interval_seconds=settings.sqlite_checkpoint_seconds)
                            if sqlite else None)
            bus = Bus(settings.nats_url, name=definition.name,
                      reconnect_wait=settings.nats_reconnect_wait_seconds,
                      replicas=settings.stream_replicas)
            wake: list[OutboxRelay] = []
            sessionmaker = make_sessionmaker(engine, **{WAKE_KEY: lambda: wake[0].wake(),
                                                  SOURCE_KEY: definition.source})
            relay = OutboxRelay(
                sessionmaker=sessionmaker, bus=bus, batch_size=settings.outbox_batch_size,
                poll_seconds=settings.outbox_poll_seconds, registry=registry,
                is_postgres=not sqlite,
                retention=timedelta(hours=settings.outbox_retention_hours),
            )
            wake.append(relay)
            consumer = EventConsumer(
                service=definition.name, bus=bus, sessionmaker=sessionmaker,
                handlers=definition.handlers, batch_size=settings.consumer_batch_size,
                max_deliver=settings.consumer_max_deliver,
                backoff_seconds=settings.consumer_backoff_seconds,
                ack_wait_seconds=settings.consumer_ack_wait_seconds, registry=registry,
                read_ahead=settings.consumer_read_ahead,
            )
            app.state.engine = engine
            app.state.checkpointer = checkpointer
            app.state.sessionmaker = sessionmaker
            app.state.bus = bus
            app.state.relay = relay
            app.state.consumer = consumer
            # The service's own state is up before the first event or request reaches it.
            own = definition.lifespan(app) if definition.lifespan is not None else nullcontext()
            try:
                async with own:
                    if checkpointer is not None:
                        checkpointer.start()
                    bus.start()
                    relay.start()
                    consumer.start()
                    log.info("started", extra={"port": settings.port})
                    try:
                        with frozen_heap():
                            yield
                    finally:
                        await consumer.stop()
                        await relay.stop()
                        await bus.close()
                        if checkpointer is not None:
                            await checkpointer.stop()
            finally:
                await engine.dispose()
                log.info("stopped")

        # Swagger UI shows each operation's `x-roles` (showExtensions) beside the
        # bearer scheme its Authorize button fills in.
        app = FastAPI(title=definition.title, description=definition.description,
                      version=definition.version, lifespan=lifespan,
                      swagger_ui_parameters={"showExtensions": True},
                      generate_unique_id_function=operation_id)
        registry = CollectorRegistry()
        app.state.settings = settings
        app.state.verifier = TokenVerifier(settings)
        app.state.source = definition.source

        async def readiness() -> Readiness:
            state = Readiness(checks={"database": True, "nats": app.state.bus.is_connected,
                                      "outbox": True})
            try:
                async with app.state.engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
            except Exception:  # noqa: BLE001 - any failure means not ready
                state.checks["database"] = False
                state.reasons["database"] = "the database does not answer"
            if not state.checks["nats"]:
                state.reasons["nats"] = "not connected to NATS"
            try:
                backlog = await app.state.relay.measure()
            except Exception:  # noqa: BLE001 - an outbox that cannot be read is not ready
                state.checks["outbox"] = False
                state.reasons["outbox"] = "the outbox cannot be read"
                return state
            state.details["outbox"] = {
                "pending": backlog.pending,
                "oldest_pending_age_seconds": round(backlog.oldest_age_seconds, 3),
                "dead_letters": backlog.dead_letters,
            }
            if backlog.oldest_age_seconds > settings.outbox_max_age_seconds:
                state.checks["outbox"] = False
                state.reasons["outbox"] = (
                    f"the first unsent event has waited {backlog.oldest_age_seconds:.0f} s, "
                    f"longer than outbox_max_age_seconds ({settings.outbox_max_age_seconds:g} s)"
                )
            return state

        install_problem_handlers(app)
        install_request_metrics(app, registry)
        app.add_middleware(CorrelationMiddleware)
        app.include_router(health_router(registry, readiness))
        for router in definition.routers:
            document_roles(router)
            for route in router.routes:
                if isinstance(route, APIRoute) and not route.tags and not router.tags:
                    route.tags = [resource_tag(route.path)]
            app.include_router(router)
        return app


def operation_id(route: APIRoute) -> str:
    """The route function's own name (`list_pairs`): stable across path changes, snake_case,
    and what a generated client calls the operation. Unique per service (checked in tests)."""
    return route.name


def resource_tag(path: str) -> str:
    """The tag a route is grouped under: the resource its path starts with
    (`/api/v1/programmes/{id}/pool` -> `programmes`), `scim`, or `health`."""
    parts = [part for part in path.split("/") if part]
    if parts[:2] == ["api", "v1"] and len(parts) > 2:
        return parts[2]
    if parts[:1] == ["scim"]:
        return "scim"
    return "health"
