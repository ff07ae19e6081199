"""HRIS routes forwarded to enrolment as they are: SCIM 2.0 and the bulk employee import."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from urllib.parse import unquote

import httpx
from fastapi import APIRouter, Depends, Request
from starlette.requests import ClientDisconnect
from starlette.responses import StreamingResponse

from gateway.clients import Downstreams, unavailable_error
from upward_common.auth import BEARER, current_principal
from upward_common.logs import current_correlation_id
from upward_common.observability import CORRELATION_HEADER
from upward_common.problems import PROBLEM_BASE, Problem

# Every forwarded route needs a token: BEARER declares the scheme in OpenAPI (and never
# refuses by itself); `forward_to_enrolment` verifies it, after checking the path.
router = APIRouter(tags=["hris"], dependencies=[Depends(BEARER)])

# RFC 9110 §7.6.1: these describe one connection, not the message, so they stop here.
HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
    "trailer", "transfer-encoding", "upgrade",
})
SET_BY_GATEWAY = frozenset({"date", "server", CORRELATION_HEADER})
SCIM_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
SCIM_PREFIX = "/scim/v2/"
IMPORT_PATH = "/api/v1/employees/import"
log = logging.getLogger(__name__)
# An encoded slash or backslash would become a separator past this check.
_ENCODED_SEPARATOR = re.compile(r"%(2f|5c)", re.IGNORECASE)


def _target_path(request: Request) -> str:
    """The raw path to forward, refused (400) unless it stays under a forwarded route.

    Checked on the bytes the client sent: Starlette routes on the decoded path, and
    the HTTP client resolves dot segments, so `/scim/v2/../../api/v1/...` would
    otherwise reach any enrolment route with any method.
    """
    raw: bytes = request.scope.get("raw_path") or request.url.path.encode()
    path = raw.decode("latin-1")
    if "\\" in path or _ENCODED_SEPARATOR.search(path):
        raise _bad_path("A forwarded path must not hold a backslash or an encoded slash")
    if any(segment in (".", "..") for segment in unquote(path).split("/")):
        raise _bad_path("A forwarded path must not hold . or .. segments")
    if not (path.startswith(SCIM_PREFIX) or path == IMPORT_PATH):
        raise _bad_path(f"Only {SCIM_PREFIX}* and {IMPORT_PATH} are forwarded")
    return path


def _bad_path(detail: str) -> Problem:
    return Problem(400, detail, kind="bad-path", field="path")


def _request_headers(request: Request) -> list[tuple[str, str]]:
    # Host is kept so enrolment builds SCIM `meta.location` and `Location` URLs
    # that point at this public address, not at its own.
    headers = [(k, v) for k, v in request.headers.items()
               if k not in HOP_BY_HOP and k != CORRELATION_HEADER]
    headers.append((CORRELATION_HEADER, current_correlation_id()))
    client = request.client.host if request.client else None
    if client:
        forwarded_for = request.headers.get("x-forwarded-for")
        headers = [(k, v) for k, v in headers if k != "x-forwarded-for"]
        headers.append(("x-forwarded-for", f"{forwarded_for}, {client}" if forwarded_for
                        else client))
    headers.append(("x-forwarded-proto", request.url.scheme))
    return headers


async def forward_to_enrolment(request: Request) -> StreamingResponse:
    """Stream the request to enrolment and its answer back: status, headers and body."""
    target = _target_path(request)
    # Verified here too, so an unauthenticated upload is refused before it is streamed.
    await current_principal(request)
    downstreams: Downstreams = request.app.state.downstreams
    http = downstreams.uploads
    if request.url.query:
        target += "?" + request.url.query
    outgoing = http.build_request(
        request.method, target, headers=_request_headers(request), content=request.stream(),
        timeout=request.app.state.settings.forward_timeout_seconds,
    )
    try:
        answer = await http.send(outgoing, stream=True)
    except ClientDisconnect as exc:
        # The upload ended early: the request to enrolment is dropped with it, its body
        # incomplete (short of its Content-Length or its last chunk), so nothing of it
        # is imported. The client is gone; the answer is for the log and the metrics.
        log.info("client hung up mid-upload; request to enrolment abandoned",
                 extra={"path": request.url.path})
        raise Problem(400, "The client hung up before its upload ended; nothing was forwarded",
                      kind="client-disconnected", field="body") from exc
    except httpx.HTTPError as exc:
        failure = unavailable_error("enrolment", exc)
        raise Problem(failure.status, failure.message,
                      kind=failure.extensions["type"].removeprefix(PROBLEM_BASE)) from exc

    async def relay() -> AsyncIterator[bytes]:
        # Closed however the stream ends, a client hanging up included, so the
        # pooled connection to enrolment is never leaked.
        try:
            async for chunk in answer.aiter_raw():
                yield chunk
        finally:
            await answer.aclose()

    response = StreamingResponse(relay(), status_code=answer.status_code)
    # Raw pairs keep repeated headers (Set-Cookie); the gateway's own server adds
    # its Date, Server and correlation headers, so enrolment's are not doubled.
    response.raw_headers = [
        (key, value) for key, value in answer.headers.raw
        if key.decode("latin-1").lower() not in HOP_BY_HOP | SET_BY_GATEWAY
    ]
    return response


@router.api_route(SCIM_PREFIX + "{path:path}", methods=SCIM_METHODS, include_in_schema=False)
async def scim(request: Request) -> StreamingResponse:
    """SCIM 2.0 provisioning (Okta, Entra ID), answered by enrolment."""
    return await forward_to_enrolment(request)


@router.post(IMPORT_PATH)
async def import_employees(request: Request) -> StreamingResponse:
    """Bulk HRIS import (JSON array, NDJSON or CSV), answered by enrolment."""
    return await forward_to_enrolment(request)
