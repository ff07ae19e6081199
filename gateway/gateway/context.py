"""The typed per-request GraphQL context: the caller, their service clients, their DataLoaders."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar, cast

import strawberry
from fastapi import Request, WebSocket
from starlette.requests import HTTPConnection
from strawberry.dataloader import DataLoader
from strawberry.fastapi import BaseContext

from gateway.clients import (
    AnalyticsClient,
    Caller,
    CallSlots,
    Downstreams,
    EmployeePublic,
    EnrolmentClient,
    InvitationPublic,
    MatchingClient,
    MatchingConfigPublic,
    MatchRunPublic,
    PairPublic,
    ParticipantPublic,
    PoolStatsPublic,
    ProgrammePublic,
    ProgrammeSummaryPublic,
    SchedulingClient,
    SessionPublic,
)
from gateway.config import GatewaySettings
from upward_common.auth import Principal, current_principal
from upward_common.logs import current_correlation_id
from upward_common.problems import Problem

T = TypeVar("T")


class Batches:
    """The DataLoader batches of one request in flight, so they can be cancelled with it.

    A DataLoader runs each batch in a task of its own, outside the execution that asked
    for it; cancelling the execution alone would leave those calls running.
    """

    def __init__(self) -> None:
        self._running: set[asyncio.Task[object]] = set()

    def per_key(
        self, fetch: Callable[[str], Awaitable[T]],
    ) -> Callable[[list[str]], Awaitable[Sequence[T | BaseException]]]:
        """A batch function calling `fetch` once per distinct key, concurrently.

        The services expose one resource per URL, so a batch is a burst of parallel
        calls (each waits for a slot under the request's cap); the DataLoader still
        guarantees one call per key per request, and an error on one key fails only
        the fields that asked for that key.
        """

        async def load(keys: list[str]) -> Sequence[T | BaseException]:
            task = asyncio.current_task()
            if task is not None:
                self._running.add(task)
            try:
                return await asyncio.gather(*(fetch(key) for key in keys),
                                            return_exceptions=True)
            finally:
                if task is not None:
                    self._running.discard(task)

        return load

    def cancel(self) -> None:
        for task in self._running:
            task.cancel()


@dataclass(frozen=True)
class Loaders:
    """Every DataLoader of one request; made per request so nothing is cached across callers."""

    employee: DataLoader[str, EmployeePublic]
    programme: DataLoader[str, ProgrammePublic]
    participant: DataLoader[str, ParticipantPublic]
    programme_participants: DataLoader[str, list[ParticipantPublic]]
    programme_summary: DataLoader[str, ProgrammeSummaryPublic]
    programme_pairs: DataLoader[str, list[PairPublic]]
    pair: DataLoader[str, PairPublic]
    pair_sessions: DataLoader[str, list[SessionPublic]]
    programme_invitations: DataLoader[str, list[InvitationPublic]]
    matching_config: DataLoader[str, MatchingConfigPublic]
    pool_stats: DataLoader[str, PoolStatsPublic]
    programme_runs: DataLoader[str, list[MatchRunPublic]]

    @classmethod
    def create(cls, batches: Batches, enrolment: EnrolmentClient, matching: MatchingClient,
               scheduling: SchedulingClient, analytics: AnalyticsClient) -> Loaders:
        async def programme_pairs(programme_id: str) -> list[PairPublic]:
            return await matching.pairs(programme_id=programme_id)

        per_key = batches.per_key

        return cls(
            employee=DataLoader(per_key(enrolment.employee)),
            programme=DataLoader(per_key(enrolment.programme)),
            participant=DataLoader(per_key(enrolment.participant)),
            programme_participants=DataLoader(per_key(enrolment.participants)),
            programme_summary=DataLoader(per_key(analytics.programme_summary)),
            programme_pairs=DataLoader(per_key(programme_pairs)),
            pair=DataLoader(per_key(matching.pair)),
            pair_sessions=DataLoader(per_key(scheduling.pair_sessions)),
            programme_invitations=DataLoader(per_key(enrolment.programme_invitations)),
            matching_config=DataLoader(per_key(matching.matching_config)),
            pool_stats=DataLoader(per_key(matching.pool_stats)),
            programme_runs=DataLoader(per_key(matching.runs)),
        )


class GatewayContext(BaseContext):
    """What every resolver of one request sees: who calls, and the clients acting for them."""

    def __init__(self, *, principal: Principal, downstreams: Downstreams,
                 correlation_id: str, max_concurrent_calls: int) -> None:
        super().__init__()
        self.downstreams = downstreams
        self.correlation_id = correlation_id
        self.max_concurrent_calls = max_concurrent_calls
        # A websocket's `connection_init` payload (Strawberry sets it) and what it proved.
        self.connection_params: dict[str, object] | None = None
        self.expires_at: float | None = None
        # The task that closes the websocket when its token expires.
        self.expiry: asyncio.Task[None] | None = None
        self.act_as(principal)

    def act_as(self, principal: Principal, *, expires_at: float | None = None) -> None:
        """Act for `principal` from now on: a websocket learns its caller at `connection_init`."""
        self.principal = principal
        self.expires_at = expires_at
        downstreams = self.downstreams
        caller = Caller(token=principal.token, correlation_id=self.correlation_id)
        # One cap for the whole request, shared by its calls to every service.
        request_slots = asyncio.Semaphore(self.max_concurrent_calls)

        def slots(service: str) -> CallSlots:
            return CallSlots(request=request_slots, service=downstreams.slots[service])

        self.enrolment = EnrolmentClient(downstreams.enrolment, caller, slots("enrolment"))
        self.matching = MatchingClient(downstreams.matching, caller, slots("matching"))
        self.scheduling = SchedulingClient(downstreams.scheduling, caller, slots("scheduling"))
        self.analytics = AnalyticsClient(downstreams.analytics, caller, slots("analytics"))
        self.batches = Batches()
        self.loaders = Loaders.create(self.batches, self.enrolment, self.matching,
                                      self.scheduling, self.analytics)

    def cancel(self) -> None:
        """Stop the calls this request still has in flight (the execution is cancelled apart)."""
        self.batches.cancel()


Info = strawberry.Info[GatewayContext, None]

# The GraphiQL page is static HTML and executes nothing; a browser cannot attach
# a bearer token to a page load, so only this page is served without one.
_ANONYMOUS = Principal(sub="anonymous", roles=frozenset())


def is_ide_page(request: Request) -> bool:
    """Whether a request asks for the GraphiQL page, not to run a query.

    Strawberry's own test, and a GET naming a persisted query by its hash alone (no
    `query`, but `extensions`) runs that query.
    """
    return (
        request.method == "GET"
        and request.query_params.get("query") is None
        and request.query_params.get("extensions") is None
        and any(kind in request.headers.get("accept", "") for kind in ("text/html", "*/*"))
    )


async def _read_body(request: Request, most: int) -> None:
    """Read the body, refusing it (413) as soon as it passes `most` bytes, not once held whole."""
    declared = request.headers.get("content-length", "")
    too_large = Problem(413, f"A GraphQL request body is at most {most} bytes; send bulk "
                             "imports to POST /api/v1/employees/import",
                        kind="request-too-large", field="body")
    if declared.isdigit() and int(declared) > most:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > most:
            raise too_large
        chunks.append(chunk)
    # Starlette's own cache of the body, where the GraphQL view reads it from next.
    request._body = b"".join(chunks)


async def get_context(connection: HTTPConnection) -> GatewayContext:
    """Verify the bearer token before anything executes: no token, no GraphQL (401).

    A websocket is accepted first and proves its caller in `connection_init`
    (`gateway.websocket`): a browser cannot set headers on one.
    """
    downstreams: Downstreams = connection.app.state.downstreams
    settings: GatewaySettings = connection.app.state.settings
    if isinstance(connection, WebSocket):
        return GatewayContext(
            principal=_ANONYMOUS, downstreams=downstreams,
            correlation_id=current_correlation_id(),
            max_concurrent_calls=settings.max_concurrent_calls_per_request,
        )
    request = cast(Request, connection)
    if settings.graphql_ide and is_ide_page(request):
        principal = _ANONYMOUS
    else:
        principal = await current_principal(request)
    if request.method == "POST":
        await _read_body(request, settings.max_body_bytes)
    return GatewayContext(
        principal=principal, downstreams=downstreams, correlation_id=current_correlation_id(),
        max_concurrent_calls=settings.max_concurrent_calls_per_request,
    )
