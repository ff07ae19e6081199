"""What every answer to a fuzzed request must hold, and the counts a fuzzing run prints.

An answer must never be a 5xx, never show a traceback, SQL or a library's validation
dump, and a 4xx must be an RFC 9457 problem+json (SCIM routes: a SCIM error).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

PROBLEM_JSON = "application/problem+json"
SCIM_JSON = "application/scim+json"

# Text that only leaks out of a server: stack traces, drivers, ORM and validation dumps.
LEAKS = [
    ("traceback", re.compile(r"Traceback")),
    ("sqlalchemy", re.compile(r"sqlalchemy", re.I)),
    ("psycopg", re.compile(r"psycopg", re.I)),
    ("sqlite", re.compile(r"sqlite3?\.|OperationalError|IntegrityError")),
    ("sql text", re.compile(r"\b(SELECT\s.+\sFROM|INSERT INTO|UPDATE\s+\w+\s+SET|DELETE FROM)\b")),
    ("pydantic", re.compile(r"pydantic", re.I)),
    ("pydantic message", re.compile(r"Input should be")),
]

# Documented 5xx answers: cross-type SCIM search is not implemented (enrolment README).
DOCUMENTED_5XX = {("POST", "/scim/v2/.search"): 501}

# Findings today's code makes, with what fixes them: counted and printed apart, and they do
# not fail a run; remove an entry once its fix has landed, so that its return fails CI.
# Each: where, problem, request (patterns), and the reason.
ANY = re.compile(r"")
KNOWN: list[tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str], str]] = []


def known_reason(where: str, problem: str, request: str = "") -> str | None:
    for place, pattern, sent, reason in KNOWN:
        if place.search(where) and pattern.search(problem) and sent.search(request):
            return reason
    return None


@dataclass
class Finding:
    where: str  # "service METHOD /path" or "graphql Query.field"
    role: str
    problem: str
    request: str
    response: str

    def line(self) -> str:
        return _printable(f"{self.where} as {self.role}: {self.problem}\n"
                          f"    request:  {self.request[:400]}\n"
                          f"    response: {self.response[:400]}")


def _printable(text: str) -> str:
    """Control characters (fuzzers love NUL) as escapes, so the summary stays text."""
    return re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", lambda m: f"\\x{ord(m.group()):02x}", text)


@dataclass
class Stats:
    operations: set[str] = field(default_factory=set)
    requests: int = 0
    failures: list[Finding] = field(default_factory=list)
    # reason -> how many answers, and the first of them
    known: dict[str, tuple[int, Finding]] = field(default_factory=dict)

    def note_known(self, reason: str, finding: Finding) -> None:
        count, first = self.known.get(reason, (0, finding))
        self.known[reason] = (count + 1, first)

    def summary(self) -> str:
        lines = [f"fuzzing: {len(self.operations)} operations, {self.requests} requests, "
                 f"{len(self.failures)} failures, "
                 f"{sum(n for n, _ in self.known.values())} known findings"]
        lines += [finding.line() for finding in self.failures]
        for reason, (count, first) in self.known.items():
            lines.append(f"known ({count} answers): {reason}\n  first: {first.line()}")
        return "\n".join(lines)


STATS = Stats()


def leaks(text: str) -> list[str]:
    return [name for name, pattern in LEAKS if pattern.search(text)]


def _media(headers: Any) -> str:
    value = headers.get("content-type") or headers.get("Content-Type") or ""
    if isinstance(value, list):  # schemathesis keeps every value of a header
        value = value[0] if value else ""
    return str(value).split(";")[0].strip().lower()


def rest_problems(method: str, path: str, status: int, headers: Any, text: str) -> list[str]:
    """What is wrong with one answer of a service (empty: nothing)."""
    found: list[str] = []
    if status >= 500 and DOCUMENTED_5XX.get((method, path)) != status:
        found.append(f"{status} server error")
    found += [f"leaks {name}" for name in leaks(text)]
    if 400 <= status < 500:
        media = _media(headers)
        wanted = {PROBLEM_JSON, SCIM_JSON} if path.startswith("/scim/") else {PROBLEM_JSON}
        if media not in wanted:
            found.append(f"{status} answered as {media or 'no content type'}, not problem+json")
        elif media == PROBLEM_JSON:
            try:
                body = json.loads(text)
            except ValueError:
                found.append(f"{status} problem+json that is not JSON")
            else:
                if not isinstance(body, dict) or body.get("status") != status or \
                        not body.get("title") or not body.get("type"):
                    found.append(f"{status} problem+json without type, title and status")
    return found


GRAPHQL_RESPONSE = "application/graphql-response+json"


def graphql_problems(status: int, headers: Any, text: str) -> list[str]:
    """What is wrong with one answer of the gateway's /graphql."""
    found = [f"leaks {name}" for name in leaks(text)]
    if status >= 500:
        return [f"{status} server error", *found]
    if status != 200:
        if 400 <= status < 500 and _media(headers) == GRAPHQL_RESPONSE:
            # A request error (GraphQL over HTTP): the errors, and no data.
            try:
                body = json.loads(text)
            except ValueError:
                return [*found, f"{status} {GRAPHQL_RESPONSE} that is not JSON"]
            if not isinstance(body, dict) or "data" in body or not body.get("errors"):
                found.append(f"{status} {GRAPHQL_RESPONSE} with data or without errors")
        elif 400 <= status < 500 and _media(headers) != PROBLEM_JSON:
            found.append(f"{status} answered as {_media(headers)}, not problem+json")
        return found
    try:
        body = json.loads(text)
    except ValueError:
        return [*found, "an answer that is not JSON"]
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("status")
        if isinstance(code, int) and code >= 500:
            found.append(f"error {code} at {error.get('path')}: {error.get('message')}")
    return found
