"""How errors leave the schema: which reach the client as they are, which are logged, and
how a refused mutation says why in its payload.

Every error carries a `code` from `ErrorCode`, in a mutation's `errors` (a `UserError`)
and in a GraphQL error's `extensions` alike, so a client branches on one enum whichever
way the error reaches it. A downstream `4xx` on a mutation is the caller's to fix: it
becomes user errors in the payload and the rest of the request stands. A `5xx` or an
outage is not theirs: it stays a GraphQL error on that field (every payload is nullable).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from enum import Enum
from functools import cache
from typing import Any, TypeVar

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors
from strawberry.types import ExecutionContext
from strawberry.types.nodes import SelectedField

from gateway.clients import ProblemError, bad_gateway, to_camel
from gateway.context import Info
from upward_common.auth import Role
from upward_common.problems import PROBLEM_BASE

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")
E = TypeVar("E", bound=Enum)


@strawberry.enum(description="Why something was refused or failed; the same codes in a "
                             "mutation's `errors` and in a GraphQL error's `extensions.code`.")
class ErrorCode(Enum):
    INVALID = strawberry.enum_value(
        "INVALID", description="A value is not valid (`field` says which); fix it and retry.")
    NOT_FOUND = strawberry.enum_value(
        "NOT_FOUND", description="What an id names does not exist, or not for this caller.")
    FORBIDDEN = strawberry.enum_value(
        "FORBIDDEN", description="The caller's roles do not allow it.")
    UNAUTHENTICATED = strawberry.enum_value(
        "UNAUTHENTICATED", description="The bearer token is missing, invalid or expired.")
    CONFLICT = strawberry.enum_value(
        "CONFLICT", description="The current state does not allow it (a programme's status, "
                                "a pair already formed); read it again before retrying.")
    TOO_LARGE = strawberry.enum_value(
        "TOO_LARGE", description="The request or a value in it is over its documented size.")
    RATE_LIMITED = strawberry.enum_value(
        "RATE_LIMITED", description="Too many requests; retry later.")
    QUERY_INVALID = strawberry.enum_value(
        "QUERY_INVALID", description="The GraphQL document does not parse or validate "
                                     "against this schema, or is over a query limit.")
    UNAVAILABLE = strawberry.enum_value(
        "UNAVAILABLE", description="A service could not be reached; the rest of the answer "
                                   "stands, retry the field later.")
    TIMEOUT = strawberry.enum_value(
        "TIMEOUT", description="A service, or the whole request, did not answer in time.")
    BAD_GATEWAY = strawberry.enum_value(
        "BAD_GATEWAY", description="A service answered something the gateway cannot read.")
    INTERNAL = strawberry.enum_value(
        "INTERNAL", description="A fault on Upward's side; it has been logged.")


_BY_STATUS = {
    400: ErrorCode.INVALID, 401: ErrorCode.UNAUTHENTICATED, 403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND, 409: ErrorCode.CONFLICT, 412: ErrorCode.CONFLICT,
    413: ErrorCode.TOO_LARGE, 422: ErrorCode.INVALID, 429: ErrorCode.RATE_LIMITED,
    500: ErrorCode.INTERNAL, 502: ErrorCode.BAD_GATEWAY, 503: ErrorCode.UNAVAILABLE,
    504: ErrorCode.TIMEOUT,
}
# The gateway's own refusals of a query as written, whatever their status.
_QUERY_REFUSALS = {PROBLEM_BASE + kind for kind in
                   ("query-too-large", "query-too-complex", "answer-too-large")}


def error_code(problem: ProblemError) -> ErrorCode:
    """The code of a problem: by its type for the query limits, else by its status."""
    if problem.extensions.get("type") in _QUERY_REFUSALS:
        return ErrorCode.QUERY_INVALID
    found = _BY_STATUS.get(problem.status)
    if found is not None:
        return found
    return ErrorCode.INTERNAL if problem.status >= 500 else ErrorCode.INVALID


_SNAKE_NAME = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
# Words that are values, not names: a token's roles are spelt as its `roles` claim.
_KEPT = frozenset(role.value for role in Role)


def camel_message(message: str) -> str:
    """A service's message with its snake_case names as the schema spells them
    (`Invalid value for mentor_max_level` -> `Invalid value for mentorMaxLevel`);
    role names stay as the token's `roles` claim spells them (`hr_admin`)."""
    return _SNAKE_NAME.sub(
        lambda m: m.group(0) if m.group(0) in _KEPT else to_camel(m.group(0)), message)


# --- mutations: user errors in the payload -------------------------------------------


@strawberry.type(description="Why a mutation did not do what was asked: one entry per "
                               "reason, the result null. The caller's to fix.")
class UserError:
    field: str | None = strawberry.field(description=(
        "The input at fault as the mutation's arguments spell it (`input.sessionMinutes`, "
        "`records.2.jobLevel`, `programmeId`); null when no one input is."))
    code: ErrorCode = strawberry.field(description="What kind of refusal it is.")
    message: str = strawberry.field(description="What is wrong, for a person to read.")


USER_ERRORS = "Why the mutation was refused; empty when it was done."


# The clients' names for ids (camelCased) where the schema's argument has another.
_ARGUMENT_NAMES = {"runId": "matchRunId"}


def _input_path(field: str | None, *, written: set[str], body: str | None) -> str | None:
    """`field` as the service named it (camelCased) -> the path in the mutation's arguments.

    A service names fields of its request body; the body is built from one argument
    (`body`: `input`, `records`) or from the arguments themselves (`body` None). The ids
    in the URL are arguments too and keep their names.
    """
    if not field or field == "body":
        return None
    head, _, rest = field.partition(".")
    if head in _ARGUMENT_NAMES:  # an id the client calls by another name than the schema
        head = _ARGUMENT_NAMES[head]
        field = ".".join(filter(None, (head, rest)))
    if body is None or head in written or head == body:
        return field
    return f"{body}.{field}"


def user_errors(info: Info, problem: ProblemError, *, body: str | None) -> list[UserError]:
    """A `4xx` problem as the payload's errors: one per field the service named."""
    code = error_code(problem)
    written = {name for selected in info.selected_fields[:1]
               if isinstance(selected, SelectedField) for name in selected.arguments}
    entries = [e for e in problem.extensions.get("errors") or [] if isinstance(e, dict)]
    if not entries:
        entries = [{"field": problem.extensions.get("field"), "message": problem.message}]
    return [
        UserError(field=_input_path(entry.get("field"), written=written, body=body), code=code,
                  message=camel_message(str(entry.get("message") or problem.message)))
        for entry in entries
    ]


async def attempt(info: Info, call: Callable[[], Awaitable[T]], shape: Callable[[T], R], *,
                  body: str | None = None) -> tuple[R | None, list[UserError]]:
    """Run a mutation's call: its result shaped for the schema, or its `4xx` as user errors.

    `body` names the argument the service's request body comes from, so a field the
    service names becomes `input.sessionMinutes`. A `5xx` or an outage is raised on: it
    is an error on the mutation's field, not the caller's to fix.
    """
    try:
        return shape(await call()), []
    except ProblemError as problem:
        if problem.status >= 500:
            raise
        return None, user_errors(info, problem, body=body)


# --- closed sets in the services' answers --------------------------------------------


def member(kind: type[E], value: str, *, service: str) -> E:
    """`value` as a member of the enum `kind`; a value outside it breaks the contract (502).

    Looked up in the enum's members by value: calling the enum goes through its metaclass
    and `__new__`, which a long list of pairs (each with its score factors) felt.
    """
    found: E | None = _members(kind).get(value)
    if found is None:
        log.warning("unexpected answer", extra={"service": service, "enum": kind.__name__,
                                                "value": value[:64]})
        raise bad_gateway(service)
    return found


@cache
def _members(kind: type[E]) -> dict[str, E]:
    return {item.value: item for item in kind}


def maybe(kind: type[E], value: str | None, *, service: str) -> E | None:
    """`member`, or None for an absent value."""
    return None if value is None else member(kind, value, service=service)


# --- what reaches the client, what is logged -------------------------------------------


class MaskUnexpectedErrors(MaskErrors):
    """Problems and GraphQL's own errors reach the client; a bug's message could leak
    internals, so it is masked (with the code INTERNAL)."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=self._is_unexpected,
                         error_message="An unexpected error occurred; it has been logged")

    @staticmethod
    def _is_unexpected(error: GraphQLError) -> bool:
        original = error.original_error
        return original is not None and not isinstance(original, ProblemError | GraphQLError)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        masked.extensions = {"status": 500, "type": PROBLEM_BASE + "internal",
                             "title": "Internal Server Error", "field": None, "errors": [],
                             "code": ErrorCode.INTERNAL.value}
        return masked



def _add_code(error: GraphQLError) -> None:
    """The error's `code`, and its messages in the schema's camelCase names."""
    original = error.original_error
    extensions: dict[str, Any] = dict(error.extensions or {})
    if isinstance(original, ProblemError):
        extensions.setdefault("code", error_code(original).value)
        error.message = camel_message(error.message)
        extensions["errors"] = [
            {**e, "message": camel_message(str(e.get("message", "")))} if isinstance(e, dict)
            else e for e in extensions.get("errors") or []]
    elif original is None:
        # GraphQL's own refusal of the document: syntax, validation, depth or aliases.
        extensions.setdefault("code", ErrorCode.QUERY_INVALID.value)
    error.extensions = extensions


class GatewaySchema(strawberry.Schema):
    """Logs what is the gateway's or a service's fault, not every refused request."""

    def process_errors(self, errors: list[GraphQLError],
                       execution_context: ExecutionContext | None = None) -> None:
        for error in errors:
            # Every error passes here, a query refused while it is parsed included (it never
            # reaches the extensions' end of operation), so each gets its code here.
            _add_code(error)
            original = error.original_error
            if isinstance(original, ProblemError):
                if original.status >= 500:
                    log.warning("downstream failure", extra={"problem": original.extensions,
                                                             "path": error.path})
            elif original is None and error.path is None:
                # GraphQL's own refusal before anything ran (syntax, validation, limits).
                log.info("query refused", extra={"reason": error.message})
            else:
                super().process_errors([error], execution_context)
