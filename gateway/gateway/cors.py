"""CORS on /graphql: pages from the listed origins may call it; for anyone else nothing changes."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

# What a browser app needs to send a query or a mutation with its bearer token.
ALLOWED_METHODS = ("GET", "POST", "OPTIONS")
ALLOWED_HEADERS = ("authorization", "content-type")


class GraphQLCORSMiddleware(CORSMiddleware):
    """Starlette's CORS for `path` and below, answering only the listed origins.

    A preflight from any other origin is not answered here: it reaches the app as if
    CORS were off (405, no `Access-Control-*` header), and the browser refuses the call.
    SCIM, the HRIS import and the health routes are for machines, not pages: never CORS.
    """

    def __init__(self, app: ASGIApp, *, origins: Sequence[str], path: str) -> None:
        super().__init__(app, allow_origins=origins, allow_methods=ALLOWED_METHODS,
                         allow_headers=ALLOWED_HEADERS)
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self._covers(scope["path"]) \
                and not self._foreign_preflight(scope):
            await super().__call__(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    def _covers(self, path: str) -> bool:
        return path == self.path or path.startswith(self.path + "/")

    def _foreign_preflight(self, scope: Scope) -> bool:
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        return (scope["method"] == "OPTIONS" and origin is not None
                and "access-control-request-method" in headers
                and not self.is_allowed_origin(origin))
