"""RFC 9457 problem details: every error a client sees names what was wrong."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://upward.example/problems/"

log = logging.getLogger(__name__)


class Problem(Exception):
    """An error to report to the client as problem+json; `field` names the culprit."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str | None = None,
        kind: str | None = None,
        field: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title or HTTPStatus(status).phrase
        self.kind = kind or HTTPStatus(status).phrase.lower().replace(" ", "-")
        self.field = field
        self.errors = errors or ([{"field": field, "message": detail}] if field else [])
        self.headers = headers
        self.extensions = extensions

    def body(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": PROBLEM_BASE + self.kind,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        if self.field:
            body["field"] = self.field
        if self.errors:
            body["errors"] = self.errors
        body.update(self.extensions)
        return body


def not_found(what: str, ident: object) -> Problem:
    return Problem(404, f"{what} {ident} does not exist", kind="not-found")


def conflict(detail: str, *, field: str | None = None, **extensions: Any) -> Problem:
    return Problem(409, detail, kind="conflict", field=field, **extensions)


def invalid(field: str, detail: str) -> Problem:
    return Problem(422, detail, kind="validation-error", title="Invalid input", field=field)


def problem_response(problem: Problem, request: Request | None = None) -> JSONResponse:
    instance = request.url.path if request is not None else None
    return JSONResponse(
        problem.body(instance),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=problem.headers,
    )


def _field_of(loc: tuple[int | str, ...]) -> str:
    # Drop the "body"/"query"/"path" prefix: clients know fields, not FastAPI's tree.
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header", "cookie"}:
        parts = parts[1:]
    return ".".join(parts) or "body"


# The validation library's phrasings, in the API's own words: a message names what the
# value must be, never the library that checked it.
_REWORDED = (
    ("Value error, ", ""),
    ("Assertion failed, ", ""),
    ("Input should be ", "Must be "),
    ("Input should have ", "Must have "),
    ("Input should ", "Must "),
    ("Input is ", "The value is "),
)
_REPLACED = {
    "Field required": "Required",
    "Extra inputs are not permitted": "Not a known field",
}


def message_of(error: Mapping[str, Any]) -> str:
    """One validation error's message, as a client reads it."""
    message = str(error.get("msg") or "Invalid value")
    if message in _REPLACED:
        return _REPLACED[message]
    for prefix, instead in _REWORDED:
        if message.startswith(prefix):
            message = instead + message[len(prefix):]
            break
    return message[:1].upper() + message[1:]


def field_of(error: Mapping[str, Any]) -> str:
    """The field one validation error is about, as the client spelled the request."""
    return _field_of(tuple(error.get("loc", ())))


def validation_problem(exc: RequestValidationError) -> Problem:
    errors = [{"field": field_of(err), "message": message_of(err)} for err in exc.errors()]
    malformed = any(err.get("type") == "json_invalid" for err in exc.errors())
    fields = ", ".join(dict.fromkeys(e["field"] for e in errors))
    if malformed:
        return Problem(400, "The request body is not valid JSON", kind="malformed-body",
                       field="body", errors=errors)
    return Problem(
        422,
        f"Invalid value for {fields}",
        kind="validation-error",
        title="Invalid input",
        field=errors[0]["field"] if errors else None,
        errors=errors,
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Render every error (ours, validation, HTTP, unexpected) as problem+json."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc, request)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return problem_response(validation_problem(exc), request)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers) if exc.headers else None
        return problem_response(Problem(exc.status_code, str(exc.detail), headers=headers), request)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", extra={"path": request.url.path})
        return problem_response(
            Problem(500, "An unexpected error occurred; it has been logged", kind="internal"),
            request,
        )
