"""GraphQL subscriptions over `graphql-transport-ws` on /graphql: who may connect, for how long.

The token comes in the `connection_init` payload (`{"Authorization": "Bearer <jwt>"}`,
or `{"token": "<jwt>"}`), since a browser cannot set headers on a websocket; it is
verified exactly as an HTTP request's. A bad token closes the socket with 4403, as the
protocol says. A good one holds until its `exp`: then the socket is closed with 4403
and "The token has expired", every subscription on it ends, and a client reconnects
with a fresh token (graphql-ws retries a 4403 with its `connectionParams` again).
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import suppress
from typing import Any, cast

import jwt
from cross_web import HTTPException
from fastapi import WebSocket
from graphql import GraphQLError, OperationDefinitionNode, OperationType, parse
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLRequestData
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import SubscribeMessage
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET, UnsetType

from gateway.clients import ProblemError, gateway_problem
from gateway.context import GatewayContext
from gateway.graphiql import GatewayGraphQLRouter
from upward_common.auth import Role, TokenVerifier
from upward_common.problems import Problem

log = logging.getLogger(__name__)

# graphql-transport-ws close codes (the protocol's own) and RFC 6455's "try again later".
FORBIDDEN = 4403
TRY_AGAIN_LATER = 1013


def token_of(params: dict[str, object] | None) -> str | None:
    """The bearer token of a `connection_init` payload, in either documented form."""
    if not params:
        return None
    header = params.get("Authorization", params.get("authorization"))
    if isinstance(header, str):
        scheme, _, token = header.partition(" ")
        return token.strip() or None if scheme.lower() == "bearer" else None
    bare = params.get("token")
    return bare if isinstance(bare, str) and bare else None


class CappedTransportWSHandler(BaseGraphQLTransportWSHandler[GatewayContext, None]):
    """Refuses an operation past the connection's cap with an error naming the cap."""

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        view = self.view
        assert isinstance(view, LiveGraphQLRouter)
        cap = view.subscriptions_per_connection
        if self.connection_acknowledged and message["id"] not in self.operations and len(
                self.operations) >= cap:
            problem = gateway_problem(
                429, f"A connection runs at most {cap} subscriptions at once "
                     "(GATEWAY_MAX_SUBSCRIPTIONS_PER_CONNECTION); complete one first",
                kind="too-many-subscriptions")
            error = GraphQLError(problem.message, extensions=problem.extensions)
            await self.send_message({"id": message["id"], "type": "error",
                                     "payload": [error.formatted]})
            return
        await super().handle_subscribe(message)


class LiveGraphQLRouter(GatewayGraphQLRouter):
    """/graphql with subscriptions: the token checked at `connection_init`, its expiry
    enforced, and connections per process capped."""

    graphql_transport_ws_handler_class = CappedTransportWSHandler

    def __init__(self, *args: Any, verifier: TokenVerifier, max_connections: int,
                 max_subscriptions_per_connection: int, max_tokens: int,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_tokens = max_tokens
        self.verifier = verifier
        self.max_connections = max_connections
        self.connections = 0
        # Enforced by the handler, with an error that names it, instead of Strawberry's own.
        self.subscriptions_per_connection = max_subscriptions_per_connection
        self.max_subscriptions_per_connection = None

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        if not isinstance(request, WebSocket):
            return await super().run(request, context, root_value)
        if self.connections >= self.max_connections:
            log.warning("websocket refused: connection cap reached",
                        extra={"cap": self.max_connections})
            await request.accept(subprotocol=_offered(request))
            await request.close(code=TRY_AGAIN_LATER, reason=(
                f"The gateway has its {self.max_connections} connections open; try again later"))
            return None
        self.connections += 1
        try:
            return await super().run(request, context, root_value)
        finally:
            self.connections -= 1
            if isinstance(context, GatewayContext):
                _stop_expiry(context)

    async def execute_single(self, request: Any, request_adapter: Any, sub_response: Any,
                             context: GatewayContext, root_value: None,
                             request_data: GraphQLRequestData) -> ExecutionResult:
        # Over HTTP a subscription would be run as a query, and fail as a bug would.
        query = request_data.query or ""
        if "subscription" in query and _is_subscription(
                query, request_data.operation_name, self.max_tokens):
            raise HTTPException(400, "Subscriptions are served over a websocket on /graphql "
                                     "(graphql-transport-ws), not over HTTP")
        return await super().execute_single(request, request_adapter, sub_response, context,
                                            root_value, request_data)

    async def on_ws_connect(self, context: GatewayContext) -> UnsetType | dict[str, object] | None:
        """Verify the `connection_init` token (4403 if bad) and schedule its expiry."""
        token = token_of(context.connection_params)
        if token is None:
            log.info("websocket refused: no token in connection_init")
            raise ConnectionRejectionError
        try:
            principal = await self.verifier.verify(token)
            # Verified just above; read again only for `exp`, which the principal leaves out.
            expires_at = float(jwt.decode(token, options={"verify_signature": False})["exp"])
        except (Problem, jwt.PyJWTError, KeyError, TypeError, ValueError) as exc:
            # Every refusal is the same 4403; the reason goes to the log.
            log.info("websocket refused: bad token", extra={"error": str(exc)})
            raise ConnectionRejectionError from exc
        context.act_as(principal, expires_at=expires_at)
        websocket = context.request
        assert isinstance(websocket, WebSocket)
        context.expiry = asyncio.create_task(_close_at_expiry(websocket, expires_at),
                                             name="gateway-token-expiry")
        return cast("UnsetType", UNSET)


def _is_subscription(query: str, operation_name: str | None, max_tokens: int) -> bool:
    try:
        document = parse(query, max_tokens=max_tokens)
    except GraphQLError:
        return False  # the view answers the syntax error itself
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [op for op in operations if operation_name is None or (
        op.name is not None and op.name.value == operation_name)]
    return len(chosen) == 1 and chosen[0].operation == OperationType.SUBSCRIPTION


def _offered(request: WebSocket) -> str | None:
    offered = request.scope.get("subprotocols") or []
    return "graphql-transport-ws" if "graphql-transport-ws" in offered else None


async def _close_at_expiry(websocket: WebSocket, expires_at: float) -> None:
    await asyncio.sleep(max(0.0, expires_at - time.time()))
    log.info("websocket closed: its token expired")
    with suppress(Exception):  # the client may have gone meanwhile
        await websocket.close(code=FORBIDDEN, reason="The token has expired")


def _stop_expiry(context: GatewayContext) -> None:
    if context.expiry is not None:
        context.expiry.cancel()
        context.expiry = None


def refuse_unless_allowed(context: GatewayContext, *, admins_only: bool = False) -> None:
    """The subscribe-time check: hris sees no live events, participants only their own."""
    principal = context.principal
    if context.expires_at is not None and context.expires_at <= time.time():
        raise gateway_problem(401, "The token has expired; connect again with a fresh one",
                              kind="unauthorised")
    if principal.has(Role.HR_ADMIN, Role.PROGRAMME_MANAGER):
        return
    if not admins_only and principal.has(Role.PARTICIPANT) and principal.employee_id:
        return
    wanted = "hr_admin or programme_manager" if admins_only else (
        "hr_admin, programme_manager or participant (with an employee_id)")
    raise _forbidden(f"This subscription needs the role {wanted}")


def _forbidden(detail: str) -> ProblemError:
    return gateway_problem(403, detail, kind="forbidden")
