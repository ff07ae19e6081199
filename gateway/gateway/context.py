"""The typed per-request GraphQL context: the caller, their service clients, their DataLoaders."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import strawberry
from fastapi import Request
from strawberry.dataloader import DataLoader
from strawberry.fastapi import BaseContext

from gateway.clients import (
    AnalyticsClient,
    Caller,
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
from upward_common.auth import Principal, current_principal
from upward_common.logs import current_correlation_id

T = TypeVar("T")


def per_key(
    fetch: Callable[[str], Awaitable[T]],
) -> Callable[[list[str]], Awaitable[Sequence[T | BaseException]]]:
    """A batch function calling `fetch` once per distinct key, concurrently.

    The services expose one resource per URL, so a batch is a burst of parallel
    calls; the DataLoader still guarantees one call per key per request, and an
    error on one key fails only the fields that asked for that key.
    """

    async def load(keys: list[str]) -> Sequence[T | BaseException]:
        return await asyncio.gather(*(fetch(key) for key in keys), return_exceptions=True)

    return load


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
    def create(cls, enrolment: EnrolmentClient, matching: MatchingClient,
               scheduling: SchedulingClient, analytics: AnalyticsClient) -> Loaders:
        async def programme_pairs(programme_id: str) -> list[PairPublic]:
            return await matching.pairs(programme_id=programme_id)

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
                 correlation_id: str) -> None:
        super().__init__()
        self.principal = principal
        caller = Caller(token=principal.token, correlation_id=correlation_id)
        self.enrolment = EnrolmentClient(downstreams.enrolment, caller)
        self.matching = MatchingClient(downstreams.matching, caller)
        self.scheduling = SchedulingClient(downstreams.scheduling, caller)
        self.analytics = AnalyticsClient(downstreams.analytics, caller)
        self.loaders = Loaders.create(self.enrolment, self.matching, self.scheduling,
                                      self.analytics)


Info = strawberry.Info[GatewayContext, None]

# The GraphiQL page is static HTML and executes nothing; a browser cannot attach
# a bearer token to a page load, so only this page is served without one.
_ANONYMOUS = Principal(sub="anonymous", roles=frozenset())


def _is_ide_page(request: Request) -> bool:
    # Mirrors Strawberry's own test for serving the IDE instead of running a query.
    return (
        request.method == "GET"
        and request.query_params.get("query") is None
        and any(kind in request.headers.get("accept", "") for kind in ("text/html", "*/*"))
    )


async def get_context(request: Request) -> GatewayContext:
    """Verify the bearer token before anything executes: no token, no GraphQL (401)."""
    downstreams: Downstreams = request.app.state.downstreams
    if request.app.state.settings.graphql_ide and _is_ide_page(request):
        principal = _ANONYMOUS
    else:
        principal = await current_principal(request)
    return GatewayContext(principal=principal, downstreams=downstreams,
                          correlation_id=current_correlation_id())
