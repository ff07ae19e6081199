"""Persisted queries: Apollo's automatic persisted queries, and an allow-list for production.

Automatic persisted queries (APQ): a client sends `extensions.persistedQuery` =
`{"version": 1, "sha256Hash": "<hex>"}` without the query; if the gateway does not know the
hash it answers `PersistedQueryNotFound` (code `PERSISTED_QUERY_NOT_FOUND`) and the client
sends the query again with its hash, which the gateway checks and keeps. Apollo Client,
Apollo Kotlin and iOS, urql and Relay's APQ links all speak this protocol. The texts are
kept in a per-process least-recently-used store of `apq_cache_size` entries, each at most
`max_query_bytes`; only a token-bearing caller gets this far, and only a query that parsed
and validated is kept.

Allow-list: with `persisted_queries_file`, the gateway runs only the queries listed there
(a JSON object of SHA-256 hex digest -> query text, checked when the gateway starts),
whether the client sends the hash alone or the text; any other query is refused with
`PERSISTED_QUERY_NOT_IN_LIST`, and nothing is registered.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gateway.config import GatewaySettings
from upward_common.problems import PROBLEM_BASE

HASH = re.compile(r"[0-9a-f]{64}")
EXTENSION = "extensions.persistedQuery"

# The two answers an APQ client retries on (sending the text) rather than failing; Apollo's
# clients stop using persisted queries for good after a 400 or 500, so these are sent with
# `200` and `"data": null`, as Apollo Server does.
RETRY_CODES = frozenset({"PERSISTED_QUERY_NOT_FOUND", "PERSISTED_QUERY_NOT_SUPPORTED"})


def sha256(query: str) -> str:
    """The hex SHA-256 of the query's UTF-8 text, as the clients compute it."""
    return hashlib.sha256(query.encode()).hexdigest()


class PersistedQueryError(Exception):
    """A persisted query the gateway cannot run; `extensions` carry the code the clients read."""

    def __init__(self, status: int, message: str, *, code: str, kind: str,
                 field: str | None, detail: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        description = detail or message
        self.extensions: dict[str, Any] = {
            "code": code, "status": status, "type": PROBLEM_BASE + kind,
            "title": _TITLES[status], "field": field,
            "errors": [{"field": field, "message": description}] if field else [],
            "service": "gateway",
        }
        if detail:
            self.extensions["detail"] = detail


_TITLES = {400: "Bad Request", 403: "Forbidden", 404: "Not Found"}


def _not_found() -> PersistedQueryError:
    return PersistedQueryError(
        404, "PersistedQueryNotFound", code="PERSISTED_QUERY_NOT_FOUND",
        kind="persisted-query-not-found", field=f"{EXTENSION}.sha256Hash",
        detail="No query is known by this hash here; send it again with the query text")


def load_allow_list(path: Path) -> dict[str, str]:
    """The allow-list file as hash -> query, refusing a file that is not what it says."""
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(f"GATEWAY_PERSISTED_QUERIES_FILE {path}: cannot be read as JSON: "
                         f"{error}") from error
    if not isinstance(entries, dict):
        raise ValueError(f"GATEWAY_PERSISTED_QUERIES_FILE {path}: must be a JSON object of "
                         "SHA-256 hex digest -> query text")
    for digest, query in entries.items():
        if not isinstance(query, str) or not HASH.fullmatch(digest) or sha256(query) != digest:
            raise ValueError(f"GATEWAY_PERSISTED_QUERIES_FILE {path}: {digest!r} is not the "
                             "lower-case SHA-256 of its query text")
    return dict(entries)


class PersistedQueries:
    """Turns a request's query and `extensions.persistedQuery` into the text to run."""

    def __init__(self, *, apq: bool, cache_size: int,
                 allowed: Mapping[str, str] | None = None) -> None:
        self.apq = apq and allowed is None
        self.cache_size = cache_size
        self.allowed = allowed
        self._texts: OrderedDict[str, str] = OrderedDict()

    @classmethod
    def from_settings(cls, settings: GatewaySettings) -> PersistedQueries:
        path = settings.persisted_queries_file
        return cls(apq=settings.apq, cache_size=settings.apq_cache_size,
                   allowed=load_allow_list(path) if path is not None else None)

    def resolve(self, query: str | None,
                extensions: Mapping[str, Any] | None) -> tuple[str | None, str | None]:
        """The query to run, and the hash to `register` once it has run (or None).

        The query is None only when the request names none at all (neither text nor
        hash), which the caller reports as a malformed request.
        """
        persisted = (extensions or {}).get("persistedQuery")
        if persisted is None:
            if query is not None and self.allowed is not None and sha256(query) not in self.allowed:
                raise _not_in_list()
            return query, None
        digest = _digest(persisted)
        if not self.apq and self.allowed is None:
            raise PersistedQueryError(
                400, "PersistedQueryNotSupported", code="PERSISTED_QUERY_NOT_SUPPORTED",
                kind="persisted-query-not-supported", field=EXTENSION,
                detail="Persisted queries are turned off on this gateway; send the query text")
        if query is not None:
            if sha256(query) != digest:
                raise PersistedQueryError(
                    400, "The query's SHA-256 is not extensions.persistedQuery.sha256Hash",
                    code="PERSISTED_QUERY_HASH_MISMATCH", kind="persisted-query-mismatch",
                    field=f"{EXTENSION}.sha256Hash")
            if self.allowed is not None:
                if digest not in self.allowed:
                    raise _not_in_list()
                return query, None
            return query, digest
        known = self.allowed.get(digest) if self.allowed is not None else self._get(digest)
        if known is None:
            raise _not_found()
        return known, None

    def register(self, digest: str, query: str) -> None:
        """Keep a query that ran under its hash, the least recently used one making room."""
        if not self.apq:
            return
        self._texts[digest] = query
        self._texts.move_to_end(digest)
        while len(self._texts) > self.cache_size:
            self._texts.popitem(last=False)

    def _get(self, digest: str) -> str | None:
        query = self._texts.get(digest)
        if query is not None:
            self._texts.move_to_end(digest)
        return query

    def __len__(self) -> int:
        return len(self._texts)


def _digest(persisted: object) -> str:
    if not isinstance(persisted, dict):
        raise PersistedQueryError(400, "extensions.persistedQuery must be an object",
                                  code="BAD_REQUEST", kind="invalid-request", field=EXTENSION)
    if persisted.get("version") != 1:
        raise PersistedQueryError(400, "Unsupported persisted query version; only 1 is known",
                                  code="BAD_REQUEST", kind="invalid-request",
                                  field=f"{EXTENSION}.version")
    digest = persisted.get("sha256Hash")
    if not isinstance(digest, str) or not HASH.fullmatch(digest):
        raise PersistedQueryError(
            400, "extensions.persistedQuery.sha256Hash must be 64 lower-case hex digits",
            code="BAD_REQUEST", kind="invalid-request", field=f"{EXTENSION}.sha256Hash")
    return digest


def _not_in_list() -> PersistedQueryError:
    return PersistedQueryError(
        403, "This gateway runs only the queries on its allow-list, and this one is not on it",
        code="PERSISTED_QUERY_NOT_IN_LIST", kind="persisted-query-not-in-list", field="query")
