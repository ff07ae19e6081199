"""GraphQL over HTTP, as the GraphQL-over-HTTP specification (stage 2 draft) has it.

https://graphql.github.io/graphql-over-http/draft/ — what this module decides, where
Strawberry's own router does otherwise:

- Media types. An answer is `application/graphql-response+json` when the client's `Accept`
  prefers it, lists only a wildcard (`*/*`, `application/*`) or is absent (the rule since
  the spec's 2025-01-01 watershed), and `application/json` when the client asks for that
  rather; an `Accept` naming neither is `406`. Both are UTF-8; a `charset` other than
  UTF-8 makes a range unacceptable.
- Status codes. With `application/graphql-response+json` a request error (the document
  does not parse or validate, a limit refuses it, its operation or variables cannot be
  used, a persisted query refused) has no `data` entry and the status in the error's
  `extensions.status` (`400` mostly, `413` for a query too large, `403` off the
  allow-list); an operation that ran is `200`, partial or not. With `application/json`
  every well-formed request is `200` (the legacy rule), its errors in the body.
- Requests. A POST body is `application/json` in UTF-8, else `415`; it is one JSON object
  with `query` a string, `operationName` a string, `variables` and `extensions` objects
  (each may be null or absent), else `400` naming the parameter. GET carries the same in
  the URL and runs queries only: a mutation over GET is `405` with `Allow: POST`. Other
  methods are `405` with `Allow: GET, POST`.
- Batching (a JSON array of operations) is not accepted: `400`. The limits, the deadline,
  the call caps and the status code are each a request's, and a batch would either share
  them among its operations or multiply them; HTTP/2 sends concurrent requests on one
  connection without it.

Refusals before the request is read as GraphQL (`405` for a method, `406`, `415`, and the
context's `401` and `413`) are problem+json, as everywhere on the platform; the others are
GraphQL responses whose error carries the problem in `extensions`, so a GraphQL client
shows them as it shows any error.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from cross_web import AsyncHTTPRequestAdapter, HTTPException
from fastapi import Request, Response
from graphql import GraphQLError
from starlette.websockets import WebSocket
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.base import BaseRequestProtocol
from strawberry.http.parse_content_type import parse_content_type
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UNSET

from gateway.context import GatewayContext
from gateway.limits import BoundedGraphQLRouter
from gateway.persisted import RETRY_CODES, PersistedQueries, PersistedQueryError
from upward_common.problems import PROBLEM_BASE, Problem, problem_response

log = logging.getLogger(__name__)

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
# Where the negotiated media type and the answer's status wait for the response.
_MEDIA = "graphql_media_type"
_STATUS = "graphql_status"
_HEADERS = "graphql_headers"
# An answer a client retries on must not be kept by a cache between it and the gateway.
_NO_STORE = {"Cache-Control": "private, no-cache, must-revalidate"}


# --- content negotiation -------------------------------------------------------------------


def _ranges(accept: str) -> list[tuple[str, float]]:
    """The media ranges of an `Accept` header with their quality, in the order given."""
    ranges: list[tuple[str, float]] = []
    for part in accept.split(","):
        media, *params = (piece.strip() for piece in part.split(";"))
        if not media:
            continue
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            name, value = name.strip().lower(), value.strip().strip('"').lower()
            if name == "q":
                try:
                    quality = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    quality = 0.0
            elif name == "charset" and value != "utf-8":
                quality = 0.0  # the gateway writes UTF-8 only
        ranges.append((media.lower(), quality))
    return ranges


def negotiate(accept: str | None) -> str | None:
    """The media type to answer in for this `Accept` header, or None if neither will do.

    Each type takes the quality of the most specific range that matches it (`*/*`,
    `application/*`, then the type itself), so `*/*, application/json;q=0` excludes
    `application/json`. The higher quality wins; at equal quality the type listed first,
    and `application/graphql-response+json` when only a wildcard names both.
    """
    if accept is None or not accept.strip():
        return GRAPHQL_RESPONSE
    ranges = _ranges(accept)

    def score(media: str) -> tuple[float, int]:
        best: tuple[int, float, int] | None = None
        for position, (range_, quality) in enumerate(ranges):
            specificity = {media: 3, "application/*": 2, "*/*": 1}.get(range_, 0)
            if specificity and (best is None or specificity > best[0]):
                best = (specificity, quality, position)
        if best is None:
            return 0.0, 0
        return best[1], -best[2]

    preferred = max((GRAPHQL_RESPONSE, JSON), key=score)  # max keeps the first of a tie
    return preferred if score(preferred)[0] > 0 else None


# --- refusals --------------------------------------------------------------------------------


class RequestRefused(Exception):
    """A request the gateway does not run, answered as a GraphQL error with this status."""

    def __init__(self, status: int, message: str, *, kind: str, field: str | None,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})
        self.extensions = {
            "status": status, "type": PROBLEM_BASE + kind, "title": HTTPStatus(status).phrase,
            "field": field, "errors": [{"field": field, "message": message}] if field else [],
            "service": "gateway",
        }


def _bad(message: str, field: str | None) -> RequestRefused:
    return RequestRefused(400, message, kind="invalid-request", field=field)


def _is_request_error(result: ExecutionResult) -> bool:
    """Whether the operation never ran: GraphQL's request errors, not field errors.

    Parsing, validation and the limits give a `PreExecutionError`; a variable that cannot
    be coerced, the operation's deadline, and a persisted query refused give errors with
    no path and no data.
    """
    if isinstance(result, PreExecutionError):
        return True
    return result.data is None and bool(result.errors) and all(
        error.path is None for error in result.errors or [])


def _status_of(result: ExecutionResult) -> int:
    for error in result.errors or []:
        status = (error.extensions or {}).get("status")
        if isinstance(status, int) and 400 <= status <= 599:
            return status
    return 400


def _code_of(result: ExecutionResult) -> str | None:
    for error in result.errors or []:
        code = (error.extensions or {}).get("code")
        if isinstance(code, str):
            return code
    return None


def _request_error(message: str, extensions: dict[str, Any]) -> PreExecutionError:
    return PreExecutionError(data=None, errors=[GraphQLError(message, extensions=extensions)])


async def _other_method(request: Request) -> Response:
    """Any method but GET and POST: 405, naming those two."""
    return problem_response(Problem(
        405, "GraphQL is sent with POST, or GET for a query", kind="method-not-allowed",
        headers={"Allow": "GET, POST"}), request)


# --- the router --------------------------------------------------------------------------------


class HTTPGraphQLRouter(BoundedGraphQLRouter):
    """/graphql as the GraphQL-over-HTTP specification has it, with persisted queries."""

    def __init__(self, *args: Any, path: str, persisted: PersistedQueries,
                 **kwargs: Any) -> None:
        super().__init__(*args, path=path, **kwargs)
        self.persisted = persisted
        # Starlette would answer another method with the `Allow` of the first route on
        # the path (GET's alone).
        self.add_api_route(path, _other_method, methods=["PUT", "PATCH", "DELETE", "OPTIONS"],
                           include_in_schema=False)

    def should_render_graphql_ide(self, request: BaseRequestProtocol) -> bool:
        # As `gateway.context.is_ide_page`; without the IDE a GET without a query is a
        # request without a query (400), not Strawberry's 404.
        return (self.graphql_ide is not None and super().should_render_graphql_ide(request)
                and request.query_params.get("extensions") is None)

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        if isinstance(request, WebSocket) or self.should_render_graphql_ide(
                self.request_adapter_class(request)):
            return await super().run(request, context, root_value)
        if request.method not in ("GET", "POST"):
            return await _other_method(request)
        media = negotiate(request.headers.get("accept"))
        if media is None:
            return problem_response(Problem(
                406, f"Answers are {GRAPHQL_RESPONSE} or {JSON}; the Accept header names "
                     "neither", kind="not-acceptable", field="Accept"), request)
        if request.method == "POST":
            content_type, params = parse_content_type(request.headers.get("content-type", ""))
            if content_type != JSON or params.get("charset", "utf-8").lower() != "utf-8":
                return problem_response(Problem(
                    415, "A GraphQL request body is application/json in UTF-8",
                    kind="unsupported-media-type", field="Content-Type"), request)
        setattr(request.state, _MEDIA, media)
        try:
            response = await super().run(request, context, root_value)
        except RequestRefused as refused:
            log.info("query refused", extra={"reason": refused.message})
            body = {"errors": [{"message": refused.message, "extensions": refused.extensions}]}
            response = Response(self.encode_json(body), status_code=refused.status,
                                headers=refused.headers)
        except HTTPException as error:
            # Strawberry's own refusals that the checks above do not meet first.
            return problem_response(Problem(error.status_code, error.reason), request)
        response.headers["content-type"] = f"{media}; charset=utf-8"
        status = getattr(request.state, _STATUS, None)
        if status is not None:
            response.status_code = status
        response.headers.update(getattr(request.state, _HEADERS, {}))
        return response

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter,
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        if request.method == "GET":
            params: Any = dict(request.query_params)
            for name in ("variables", "extensions"):
                if params.get(name):
                    params[name] = self._json(params[name], name)
            if params.get("operationName") == "":
                params["operationName"] = None
        else:
            params = self._json(await request.get_body(), "body")
            if isinstance(params, list):
                raise _bad("Batched requests (a JSON array of operations) are not accepted: "
                           "send each operation in a request of its own", "body")
            if not isinstance(params, dict):
                raise _bad("The body must be a JSON object with a query", "body")
        for name, kind in (("query", str), ("operationName", str),
                           ("variables", dict), ("extensions", dict)):
            value = params.get(name)
            if value is not None and not isinstance(value, kind):
                what = "a string" if kind is str else "an object"
                raise _bad(f"{name} must be {what} (or null)", name)
        return GraphQLRequestData(
            query=params.get("query") or None, variables=params.get("variables"),
            operation_name=params.get("operationName"), extensions=params.get("extensions"))

    def _json(self, data: str | bytes, field: str) -> Any:
        try:
            return json.loads(data)
        except ValueError:
            where = "The body" if field == "body" else field
            raise _bad(f"{where} is not valid JSON (UTF-8)", field) from None

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: GatewayContext,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        try:
            query, register = self.persisted.resolve(request_data.query,
                                                     request_data.extensions)
        except PersistedQueryError as error:
            if error.code in RETRY_CODES:
                setattr(request.state, _HEADERS, _NO_STORE)
            else:
                log.info("query refused", extra={"reason": error.message})
            return _request_error(error.message, error.extensions)
        if query is None:
            raise _bad("The request has no query (and no persisted query hash)", "query")
        request_data.query = query
        try:
            result = await super().execute_single(request, request_adapter, sub_response,
                                                  context, root_value, request_data)
        except HTTPException as error:
            cause = error.__cause__
            if isinstance(cause, InvalidOperationTypeError) and request.method == "GET" \
                    and cause.operation_type is OperationType.MUTATION:
                raise RequestRefused(405, "Mutations are sent with POST; GET runs queries only",
                                     kind="method-not-allowed", field=None,
                                     headers={"Allow": "POST"}) from None
            if isinstance(cause, CannotGetOperationTypeError):
                return _request_error(error.reason, {
                    "status": 400, "type": PROBLEM_BASE + "invalid-request",
                    "title": "Bad Request", "field": "operationName",
                    "errors": [{"field": "operationName", "message": error.reason}],
                    "service": "gateway"})
            raise
        if register is not None and not _is_request_error(result):
            self.persisted.register(register, query)
        return result

    async def process_result(self, request: Request,
                             result: ExecutionResult) -> GraphQLHTTPResponse:
        body = await super().process_result(request, result)
        media = getattr(request.state, _MEDIA, JSON)
        if media != GRAPHQL_RESPONSE or not _is_request_error(result):
            return body
        if _code_of(result) in RETRY_CODES:
            # An APQ client's cue to send the text: `data: null` keeps it a 200.
            setattr(request.state, _STATUS, 200)
            return body
        setattr(request.state, _STATUS, _status_of(result))
        body.pop("data", None)
        return body
