"""GraphQL subscriptions over graphql-transport-ws, fed by a real nats-server, with real JWTs.

The gateway runs in this test's event loop, so its tasks, subscribers and NATS
subscriptions can be counted before and after clients come and go.
"""

from __future__ import annotations

import asyncio
import gc
import json
import time
import tracemalloc
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pytest
from nats.aio.client import Client
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from gateway.feed import SUBJECTS, EventFeed
from gateway.websocket import LiveGraphQLRouter
from tests.gateway.conftest import Stack
from tests.support.nats import NatsServer, free_port
from tests.support.stack import wait_until
from tests.support.stream import Stream
from upward_common.bus import ensure_streams
from upward_common.events import (
    EventData,
    MatchRunFinished,
    PairFormed,
    SessionScheduled,
    utcnow,
)

StartStack = Callable[..., AbstractAsyncContextManager[Stack]]

PAIR_FORMED = "subscription { pairFormed { pairId mentorEmployeeId menteeEmployeeId score } }"
SESSION_SCHEDULED = "subscription { sessionScheduled { sessionId pairId startsAt } }"
RUN_FINISHED = "subscription { matchRunFinished { matchRunId status matched formedPairs } }"


def pair_formed(pair_id: str, mentor: str, mentee: str, programme: str = "prog1") -> PairFormed:
    return PairFormed(pair_id=pair_id, programme_id=programme, mentor_participant_id=f"p-{mentor}",
                      mentee_participant_id=f"p-{mentee}", mentor_employee_id=mentor,
                      mentee_employee_id=mentee, score=71.5, occurred_at=utcnow())


def session_scheduled(pair_id: str, session_id: str | None = None) -> SessionScheduled:
    return SessionScheduled(session_id=session_id or f"session-{pair_id}", pair_id=pair_id,
                            programme_id="prog1", starts_at=utcnow(), duration_minutes=45,
                            occurred_at=utcnow())


def run_finished() -> MatchRunFinished:
    return MatchRunFinished(run_id="run-1", programme_id="prog1", objective="max_score",
                            dry_run=True, status="draft", matched=3, unmatched=1, optimal=True,
                            formed_pairs=0, occurred_at=utcnow())


class Live:
    """The gateway with its feed live on this test's NATS, and a way to publish to it."""

    def __init__(self, stack: Stack, stream: Stream) -> None:
        self.stack = stack
        self.stream = stream
        self.url = stack.gateway.url.replace("http://", "ws://") + "/graphql"

    @property
    def feed(self) -> EventFeed:
        feed: EventFeed = self.stack.gateway.app.state.feed
        return feed

    @property
    def router(self) -> LiveGraphQLRouter:
        router: LiveGraphQLRouter = self.stack.gateway.app.state.graphql
        return router

    async def publish(self, *events: EventData) -> None:
        for event in events:
            await self.stream.publish(event)

    async def socket(self, token: str | None, *, form: str = "header") -> ClientConnection:
        """A connection acknowledged with `token` (`form`: "header" or "token")."""
        ws = await self.open(token, form=form)
        ack = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert ack["type"] == "connection_ack", ack
        return ws

    async def open(self, token: str | None, *, form: str = "header") -> ClientConnection:
        ws = await connect(self.url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
        payload: dict[str, str] = {}
        if token is not None:
            payload = {"Authorization": f"Bearer {token}"} if form == "header" else {
                "token": token}
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        return ws


async def subscribe(ws: ClientConnection, query: str, op: str = "1",
                    variables: dict[str, Any] | None = None) -> None:
    await ws.send(json.dumps({"id": op, "type": "subscribe",
                              "payload": {"query": query, "variables": variables or {}}}))


async def receive(ws: ClientConnection, within: float = 5.0) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), within))
    return message


async def quiet(ws: ClientConnection, seconds: float = 0.5) -> None:
    """Nothing more arrives within `seconds`."""
    with pytest.raises(TimeoutError):
        extra = await asyncio.wait_for(ws.recv(), seconds)
        pytest.fail(f"unexpected message {extra}")


async def closed_with(ws: ClientConnection, within: float = 5.0) -> tuple[int, str]:
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(ws.recv(), within)
    frame = closed.value.rcvd
    assert frame is not None, "closed without a close frame"
    return frame.code, frame.reason


@pytest.fixture
async def start_live(start_stack: StartStack, nats_server: NatsServer, stream: Stream,
                     ) -> Callable[..., AbstractAsyncContextManager[Live]]:
    await ensure_streams(stream.js, 1)

    @asynccontextmanager
    async def start(**settings: Any) -> AsyncIterator[Live]:
        async with start_stack(settings={"nats_url": nats_server.url,
                                         "nats_reconnect_wait_seconds": 0.2,
                                         **settings}) as stack:
            live = Live(stack, stream)
            await wait_until(lambda: live.feed.is_live)
            yield live

    return start


@pytest.fixture
async def live(start_live: Callable[..., AbstractAsyncContextManager[Live]],
               ) -> AsyncIterator[Live]:
    async with start_live() as running:
        yield running


async def test_each_subscriber_gets_its_own_pairs_and_sessions_and_no_one_elses(
    live: Live, token: Callable[..., str],
) -> None:
    admin = await live.socket(token("hr_admin"))
    ana = await live.socket(token("participant", employee_id="ana"), form="token")
    ben = await live.socket(token("participant", employee_id="ben"))
    for ws in (admin, ana, ben):
        await subscribe(ws, PAIR_FORMED, "pairs")
        await subscribe(ws, SESSION_SCHEDULED, "sessions")
    await wait_until(lambda: len(live.feed.subscribers) == 6)

    # Ben's first, so Ana would see his before hers if filtering let them through.
    await live.publish(pair_formed("pair-ben", "ben", "carla"),
                       pair_formed("pair-ana", "dan", "ana"),
                       session_scheduled("pair-ben"), session_scheduled("pair-ana"),
                       # A pair matching already had when Ana subscribed (its fake gives
                       # every caller every pair): hers by what matching answered.
                       session_scheduled("pair1"))

    async def payloads(ws: ClientConnection, count: int) -> dict[str, list[dict[str, Any]]]:
        seen: dict[str, list[dict[str, Any]]] = {"pairs": [], "sessions": []}
        for _ in range(count):
            message = await receive(ws)
            assert message["type"] == "next" and "errors" not in message["payload"], message
            seen[message["id"]].append(next(iter(message["payload"]["data"].values())))
        return seen

    mine = await payloads(ana, 3)
    assert [p["pairId"] for p in mine["pairs"]] == ["pair-ana"]
    assert mine["pairs"][0] == {"pairId": "pair-ana", "mentorEmployeeId": "dan",
                                "menteeEmployeeId": "ana", "score": 71.5}
    assert [s["pairId"] for s in mine["sessions"]] == ["pair-ana", "pair1"]
    await quiet(ana)

    everything = await payloads(admin, 5)
    assert [p["pairId"] for p in everything["pairs"]] == ["pair-ben", "pair-ana"]
    assert [s["pairId"] for s in everything["sessions"]] == ["pair-ben", "pair-ana", "pair1"]

    # Ben's turn to be second: a new pair of Ana's first, then his.
    await live.publish(session_scheduled("pair-ana", "session-2"), session_scheduled(
        "pair-ben", "session-3"))
    his = await payloads(ben, 4)
    assert [p["pairId"] for p in his["pairs"]] == ["pair-ben"]
    assert [s["sessionId"] for s in his["sessions"]] == ["session-pair-ben", "session-pair1",
                                                         "session-3"]
    for ws in (admin, ana, ben):
        await ws.close()


async def test_a_connection_without_a_good_token_is_closed_with_4403(
    live: Live, token: Callable[..., str],
) -> None:
    from tests.support.tokens import signed_token

    expired = signed_token(roles=["hr_admin"], exp=int(time.time()) - 10)
    for bad in (None, "not-a-jwt", expired, signed_token(roles=["nobody"]),
                token("hr_admin") + "x"):
        ws = await live.open(bad)
        assert await closed_with(ws) == (4403, "Forbidden"), bad
    # Subscribing before connection_init is refused by the protocol itself.
    ws = await connect(live.url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
    await subscribe(ws, PAIR_FORMED)
    assert (await closed_with(ws))[0] == 4401
    assert live.feed.subscribers == set()


async def test_hris_sees_nothing_and_only_admins_see_match_runs(
    live: Live, token: Callable[..., str],
) -> None:
    hris = await live.socket(token("hris"))
    await subscribe(hris, PAIR_FORMED)
    refused = await receive(hris)
    [error] = refused["payload"]["errors"]
    assert refused["payload"]["data"] is None
    assert error["extensions"]["status"] == 403 and "hr_admin" in error["message"]
    assert (await receive(hris))["type"] == "complete"

    participant = await live.socket(token("participant", employee_id="ana"))
    await subscribe(participant, RUN_FINISHED)
    assert (await receive(participant))["payload"]["errors"][0]["extensions"]["status"] == 403

    manager = await live.socket(token("programme_manager"))
    await subscribe(manager, RUN_FINISHED)
    await wait_until(lambda: len(live.feed.subscribers) == 1)
    await live.publish(run_finished())
    finished = await receive(manager)
    assert finished["payload"]["data"]["matchRunFinished"] == {
        "matchRunId": "run-1", "status": "DRAFT", "matched": 3, "formedPairs": 0}
    for ws in (hris, participant, manager):
        await ws.close()


async def test_the_token_expiry_ends_the_connection_and_its_subscriptions(
    live: Live, token: Callable[..., str],
) -> None:
    from tests.support.tokens import signed_token

    expires = int(time.time()) + 3
    ws = await live.socket(signed_token(roles=["hr_admin"], exp=expires))
    await subscribe(ws, PAIR_FORMED)
    await wait_until(lambda: len(live.feed.subscribers) == 1)
    assert await closed_with(ws, within=10) == (4403, "The token has expired")
    # Closed at the expiry itself (judged against the token's exp, not against when this
    # test got its subscription going, which a loaded machine delays).
    assert time.time() < expires + 2
    await wait_until(lambda: not live.feed.subscribers and live.router.connections == 0)


async def test_subscriptions_per_connection_and_connections_are_capped(
    start_live: Callable[..., AbstractAsyncContextManager[Live]], token: Callable[..., str],
) -> None:
    async with start_live(max_subscriptions_per_connection=2,
                          max_websocket_connections=1) as live:
        ws = await live.socket(token("hr_admin"))
        await subscribe(ws, PAIR_FORMED, "a")
        await subscribe(ws, SESSION_SCHEDULED, "b")
        await subscribe(ws, RUN_FINISHED, "c")
        refused = await receive(ws)
        assert refused["id"] == "c" and refused["type"] == "error"
        assert refused["payload"][0]["message"] == (
            "A connection runs at most 2 subscriptions at once "
            "(GATEWAY_MAX_SUBSCRIPTIONS_PER_CONNECTION); complete one first")
        await ws.send(json.dumps({"id": "a", "type": "complete"}))
        await subscribe(ws, RUN_FINISHED, "c")
        await wait_until(lambda: len(live.feed.subscribers) == 2)

        second = await connect(live.url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
        code, reason = await closed_with(second)
        assert code == 1013 and "1 connections open" in reason
        await ws.close()
        await wait_until(lambda: live.router.connections == 0)
        await (await live.socket(token("hr_admin"))).close()


async def test_a_subscriber_that_falls_behind_is_dropped_and_the_others_go_on(
    start_live: Callable[..., AbstractAsyncContextManager[Live]], token: Callable[..., str],
) -> None:
    async with start_live(subscription_queue_size=2) as live:
        ws = await live.socket(token("hr_admin"))
        await subscribe(ws, PAIR_FORMED)
        await wait_until(lambda: len(live.feed.subscribers) == 1)
        async with live.feed.subscribe(lambda event: True) as stuck:
            # It reads nothing while four events arrive: two fit, the third ends it.
            await live.publish(*(pair_formed(f"pair-{i}", "a", "b") for i in range(4)))
            seen = [await receive(ws) for _ in range(4)]
            assert [m["payload"]["data"]["pairFormed"]["pairId"] for m in seen] == [
                f"pair-{i}" for i in range(4)]
            assert stuck not in live.feed.subscribers
            with pytest.raises(Exception, match="fell 2 events behind") as ended:
                await stuck.next()
            assert getattr(ended.value, "extensions", {})["status"] == 503
        await ws.close()


async def test_without_nats_queries_work_and_subscriptions_say_why_not(
    start_stack: StartStack, token: Callable[..., str],
) -> None:
    nowhere = f"nats://127.0.0.1:{free_port()}"
    async with start_stack(settings={"nats_url": nowhere}) as stack:
        answer = await stack.graphql("{ programmes { nodes { id } } }", token=token("hr_admin"))
        assert answer.status_code == 200 and "errors" not in answer.json()
        live = Live(stack, Stream(Client(), Client().jetstream()))
        ws = await live.socket(token("hr_admin"))
        await subscribe(ws, PAIR_FORMED)
        [error] = (await receive(ws))["payload"]["errors"]
        assert error["extensions"]["status"] == 503
        assert error["message"].startswith("Live events are unavailable")
        await ws.close()


async def test_a_thousand_subscriptions_dropped_abruptly_leave_nothing_behind(
    live: Live, token: Callable[..., str],
) -> None:
    """1,000 subscriptions over 50 connections, then every socket cut without `complete`
    or a close frame: no subscriber, task, NATS subscription or memory is left."""
    connections, per_connection = 50, 20
    admin, participant = token("hr_admin"), token("participant", employee_id="ana")
    assert live.feed.bus.nc is not None
    nats_subscriptions = len(live.feed.bus.nc._subs)
    assert nats_subscriptions == len(SUBJECTS)

    async def one_round() -> None:
        # One connection in ten is a participant's: their subscriptions ask matching too.
        sockets = await asyncio.gather(*(
            live.socket(participant if i % 10 == 0 else admin) for i in range(connections)))
        for ws in sockets:
            for op in range(per_connection):
                await subscribe(ws, PAIR_FORMED if op % 2 else SESSION_SCHEDULED, str(op))
        await wait_until(lambda: len(live.feed.subscribers) == connections * per_connection,
                         timeout=30)
        assert live.router.connections == connections
        # Every subscriber is fed: one event reaches each admin's pairFormed subscriptions.
        await live.publish(pair_formed(f"pair-{uuid.uuid4()}", "x", "y"))
        assert (await receive(sockets[1]))["type"] == "next"
        for ws in sockets:
            ws.transport.abort()  # no complete, no close frame: the socket just goes
        await wait_until(lambda: not live.feed.subscribers and live.router.connections == 0,
                         timeout=20)

    async with asyncio.timeout(70):
        await one_round()  # warm up: caches, imports and pools the first round fills
        await asyncio.sleep(0.2)
        gc.collect()
        tasks = len(asyncio.all_tasks())
        tracemalloc.start()
        try:
            before = tracemalloc.take_snapshot()
            await one_round()
            await wait_until(lambda: len(asyncio.all_tasks()) <= tasks, timeout=10)
            # A round peaks near 30 MB (the clients' side included); what stays is about
            # 0.2 MB. On a loaded machine the aborted sockets' buffers can take a moment
            # to be released, so memory is read again for a while: a leak never drops.
            for _ in range(10):
                gc.collect()
                after = tracemalloc.take_snapshot()
                grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
                if grown < 1_000_000:
                    break
                await asyncio.sleep(1)
        finally:
            tracemalloc.stop()
    assert grown < 1_000_000, f"{grown} bytes left after the subscriptions went"
    assert len(live.feed.bus.nc._subs) == nats_subscriptions
    assert len(asyncio.all_tasks()) <= tasks


async def test_a_subscription_sent_over_http_is_refused_with_where_to_send_it(
    stack: Stack, token: Callable[..., str],
) -> None:
    answer = await stack.graphql(PAIR_FORMED, token=token("hr_admin"))
    assert answer.status_code == 400
    assert "over a websocket on /graphql (graphql-transport-ws)" in answer.text
    # A query naming a field "subscription" is still a query.
    query = await stack.graphql("query subscription { programmes { nodes { id } } }",
                                token=token("hr_admin"))
    assert query.status_code == 200 and "errors" not in query.json()
