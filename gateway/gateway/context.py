"""The typed per-request GraphQL context: the caller, their service clients, their DataLoaders."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import strawberry
from fastapi import Request, WebSocket
from starlette.requests import HTTPConnection
from strawberry.dataloader import DataLoader
from strawberry.fastapi import BaseContext

from gateway.clients import (
    AnalyticsClient,
    BatchPublic,
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
    ParticipantCardPublic,
    ParticipantPublic,
    PoolStatsPublic,
    ProblemError,
    ProgrammeHealthPublic,
    ProgrammePublic,
    ProgrammeSummaryPublic,
    RetryPolicy,
    SchedulingClient,
    SessionPublic,
    gateway_problem,
    identifier,
    missing_error,
)
from gateway.config import GatewaySettings
from upward_common.auth import Principal, current_principal
from upward_common.batch import MAX_BATCH_IDS
from upward_common.logs import current_correlation_id
from upward_common.problems import Problem

T = TypeVar("T")
K = TypeVar("K")
Item = TypeVar("Item")
# `pairs(programmeId, participantId, status)`: the filters of one list of pairs.
PairFilter = tuple[str | None, str | None, str | None]


class Batches:
    """The DataLoader batches of one request in flight, so they can be cancelled with it.

    A DataLoader runs each batch in a task of its own, outside the execution that asked
    for it; cancelling the execution alone would leave those calls running.
    """

    def __init__(self) -> None:
        self._running: set[asyncio.Task[object]] = set()

    def per_key(
        self, fetch: Callable[[K], Awaitable[T]],
    ) -> Callable[[list[K]], Awaitable[Sequence[T | BaseException]]]:
        """A batch function calling `fetch` once per distinct key, concurrently.

        The services expose one resource per URL, so a batch is a burst of parallel
        calls (each waits for a slot under the request's cap); the DataLoader still
        guarantees one call per key per request, and an error on one key fails only
        the fields that asked for that key.
        """

        async def load(keys: list[K]) -> Sequence[T | BaseException]:
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

    def batched(
        self, fetch: Callable[[list[str]], Awaitable[BatchPublic[Any]]], *,
        key: Callable[[Any], str], value: Callable[[Any], T] = lambda item: item,
        service: str,
    ) -> Callable[[list[str]], Awaitable[Sequence[T | BaseException]]]:
        """A batch function making one batch read per MAX_BATCH_IDS distinct keys.

        Each key is answered on its own: an item found (`value(item)`, filed under
        `key(item)`), the error its single route would have raised when the service lists it
        as missing, or the call's error when that chunk's call failed. A key that is no
        `Identifier` fails alone, before any call.
        """

        async def fetch_all(keys: list[str]) -> Sequence[T | BaseException]:
            results: dict[str, T | BaseException] = {}
            valid: list[str] = []
            for wanted in keys:
                try:
                    valid.append(identifier(wanted, field="id"))
                except ProblemError as exc:
                    results[wanted] = exc
            chunks = [valid[at:at + MAX_BATCH_IDS] for at in range(0, len(valid), MAX_BATCH_IDS)]
            answers = await asyncio.gather(*(fetch(chunk) for chunk in chunks),
                                           return_exceptions=True)
            for chunk, answer in zip(chunks, answers, strict=True):
                if isinstance(answer, BaseException):
                    results.update(dict.fromkeys(chunk, answer))
                    continue
                for item in answer.items:
                    results[key(item)] = value(item)
                for miss in answer.missing:
                    results[miss.id] = missing_error(service, miss.id, miss.status, miss.detail)
            return [results[wanted] if wanted in results else missing_error(
                        service, wanted, 502, f"The {service} service left {wanted} unanswered")
                    for wanted in keys]

        return self._tracked(fetch_all)

    def grouped(
        self, fetch: Callable[[list[str]], Awaitable[list[Item]]], *,
        key: Callable[[Item], str],
    ) -> Callable[[list[str]], Awaitable[Sequence[list[Item] | BaseException]]]:
        """A batch function for one-to-many keys (a programme's pairs): one call per
        MAX_BATCH_IDS keys, its answer grouped by `key`; a key with nothing gets []."""

        async def fetch_all(keys: list[str]) -> Sequence[list[Item] | BaseException]:
            chunks = [keys[at:at + MAX_BATCH_IDS] for at in range(0, len(keys), MAX_BATCH_IDS)]
            answers = await asyncio.gather(*(fetch(chunk) for chunk in chunks),
                                           return_exceptions=True)
            results: dict[str, list[Item] | BaseException] = {}
            for chunk, answer in zip(chunks, answers, strict=True):
                if isinstance(answer, BaseException):
                    results.update(dict.fromkeys(chunk, answer))
                    continue
                groups: dict[str, list[Item]] = {wanted: [] for wanted in chunk}
                for item in answer:
                    groups.setdefault(key(item), []).append(item)
                results.update(groups)
            return [results[wanted] for wanted in keys]

        return self._tracked(fetch_all)

    def _tracked(self, load: Callable[[list[str]], Awaitable[Sequence[T]]],
                 ) -> Callable[[list[str]], Awaitable[Sequence[T]]]:
        async def run(keys: list[str]) -> Sequence[T]:
            task = asyncio.current_task()
            if task is not None:
                self._running.add(task)
            try:
                return await load(keys)
            finally:
                if task is not None:
                    self._running.discard(task)

        return run

    def cancel(self) -> None:
        for task in self._running:
            task.cancel()


@dataclass(frozen=True)
class Loaders:
    """Every DataLoader of one request; made per request so nothing is cached across callers."""

    employee: DataLoader[str, EmployeePublic]
    programme: DataLoader[str, ProgrammePublic]
    participant: DataLoader[str, ParticipantPublic]
    participant_card: DataLoader[str, ParticipantCardPublic]
    programme_participants: DataLoader[str, list[ParticipantPublic]]
    programme_summary: DataLoader[str, ProgrammeSummaryPublic]
    programme_health: DataLoader[str, ProgrammeHealthPublic]
    programme_pairs: DataLoader[str, list[PairPublic]]
    # The `pairs` root field's list: asked twice in one query (two aliases), one call.
    pair_list: DataLoader[PairFilter, list[PairPublic]]
    pair: DataLoader[str, PairPublic]
    pair_sessions: DataLoader[str, list[SessionPublic]]
    # A pair's next planned session alone (a list of at most one): what `nextSession`
    # reads when the query does not ask for the pair's sessions anyway.
    pair_next_session: DataLoader[str, list[SessionPublic]]
    programme_invitations: DataLoader[str, list[InvitationPublic]]
    matching_config: DataLoader[str, MatchingConfigPublic]
    pool_stats: DataLoader[str, PoolStatsPublic]
    programme_runs: DataLoader[str, list[MatchRunPublic]]

    @classmethod
    def create(cls, batches: Batches, enrolment: EnrolmentClient, matching: MatchingClient,
               scheduling: SchedulingClient, analytics: AnalyticsClient) -> Loaders:
        async def programme_pairs(programme_ids: list[str]) -> list[PairPublic]:
            return await matching.pairs(programme_id=programme_ids)

        async def pair_list(filters: PairFilter) -> list[PairPublic]:
            programme_id, participant_id, status = filters
            return await matching.pairs(programme_id=programme_id,
                                        participant_id=participant_id, status=status)

        def by_id(item: Any) -> str:
            return str(item.id)

        per_key = batches.per_key

        return cls(
            employee=DataLoader(batches.batched(enrolment.employees, key=by_id,
                                                service="enrolment")),
            programme=DataLoader(batches.batched(enrolment.programmes_by_id, key=by_id,
                                                 service="enrolment")),
            participant=DataLoader(batches.batched(enrolment.participants_by_id, key=by_id,
                                                   service="enrolment")),
            participant_card=DataLoader(batches.batched(
                enrolment.participant_cards, key=lambda c: str(c.participant_id),
                service="enrolment")),
            programme_participants=DataLoader(per_key(enrolment.participants)),
            programme_summary=DataLoader(batches.batched(
                analytics.programme_summaries, key=lambda s: str(s.programme_id),
                service="analytics")),
            programme_health=DataLoader(batches.batched(
                analytics.programme_health, key=lambda h: str(h.programme_id),
                service="analytics")),
            programme_pairs=DataLoader(batches.grouped(
                programme_pairs, key=lambda p: p.programme_id)),
            pair_list=DataLoader(per_key(pair_list)),
            pair=DataLoader(batches.batched(matching.pairs_by_id, key=by_id,
                                            service="matching")),
            pair_sessions=DataLoader(batches.batched(
                scheduling.sessions_of_pairs, key=lambda group: str(group.pair_id),
                value=lambda group: list(group.sessions), service="scheduling")),
            pair_next_session=DataLoader(batches.batched(
                scheduling.next_sessions_of_pairs, key=lambda group: str(group.pair_id),
                value=lambda group: list(group.sessions), service="scheduling")),
            programme_invitations=DataLoader(per_key(enrolment.programme_invitations)),
            matching_config=DataLoader(per_key(matching.matching_config)),
            pool_stats=DataLoader(per_key(matching.pool_stats)),
            programme_runs=DataLoader(per_key(matching.runs)),
        )


class GatewayContext(BaseContext):
    """What every resolver of one request sees: who calls, and the clients acting for them."""

    def __init__(self, *, principal: Principal, downstreams: Downstreams,
                 correlation_id: str, max_concurrent_calls: int,
                 retry: RetryPolicy | None = None) -> None:
        super().__init__()
        self.downstreams = downstreams
        self.correlation_id = correlation_id
        self.max_concurrent_calls = max_concurrent_calls
        self.retry = retry
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

        retry = self.retry
        self.enrolment = EnrolmentClient(downstreams.enrolment, caller, slots("enrolment"),
                                         retry)
        self.matching = MatchingClient(downstreams.matching, caller, slots("matching"), retry)
        self.scheduling = SchedulingClient(downstreams.scheduling, caller, slots("scheduling"),
                                           retry)
        self.analytics = AnalyticsClient(downstreams.analytics, caller, slots("analytics"),
                                         retry)
        self.batches = Batches()
        self.loaders = Loaders.create(self.batches, self.enrolment, self.matching,
                                      self.scheduling, self.analytics)

    def cancel(self) -> None:
        """Stop the calls this request still has in flight (the execution is cancelled apart)."""
        self.batches.cancel()

    def own_employee_id(self) -> str | None:
        """The employee whose own things a `my...` field lists: the participant's; None for
        an admin, whose token names no one (nothing of their own); an HRIS job is refused."""
        principal = self.principal
        if principal.employee_id is None and not principal.is_admin:
            raise gateway_problem(403, "This needs one of the roles: hr_admin, "
                                  "participant, programme_manager", kind="forbidden")
        return principal.employee_id


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
    retry = RetryPolicy(attempts=settings.downstream_read_attempts,
                        backoff_seconds=settings.downstream_retry_backoff_seconds)
    if isinstance(connection, WebSocket):
        return GatewayContext(
            principal=_ANONYMOUS, downstreams=downstreams,
            correlation_id=current_correlation_id(),
            max_concurrent_calls=settings.max_concurrent_calls_per_request, retry=retry,
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
        max_concurrent_calls=settings.max_concurrent_calls_per_request, retry=retry,
    )
