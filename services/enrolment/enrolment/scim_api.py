"""SCIM 2.0 routes at /scim/v2 (hris role only); every answer is application/scim+json."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import ValidationError
from scim2_models import Context, ListResponse, ResponseParameters, SearchRequest

from enrolment import scim
from enrolment.models import Employee
from upward_common.auth import Hris
from upward_common.conditional import not_modified
from upward_common.db import SessionDep
from upward_common.problems import Problem, field_of, message_of

log = logging.getLogger(__name__)


class ScimJSONResponse(Response):
    media_type = scim.SCIM_JSON

    def render(self, content: Any) -> bytes:
        return json.dumps(content, separators=(",", ":")).encode()


class ScimRoute(APIRoute):
    """Renders every failure of a SCIM route as a SCIM error, not as problem+json."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except scim.ScimError as exc:
                return _error(exc)
            except Problem as exc:
                scim_type = None if exc.status in (401, 403, 404) else "invalidValue"
                return _error(scim.ScimError(exc.status, exc.detail, scim_type, exc.headers))
            except RequestValidationError as exc:
                first = exc.errors()[0] if exc.errors() else {"msg": "Invalid request"}
                detail = f"{field_of(first)}: {message_of(first)}"
                return _error(scim.ScimError(400, detail, "invalidValue"))
            except Exception:
                log.exception("SCIM request failed", extra={"path": request.url.path})
                return _error(scim.ScimError(500, "An unexpected error occurred; "
                                                  "it has been logged"))

        return route


def _error(exc: scim.ScimError) -> Response:
    return ScimJSONResponse(exc.body(), status_code=exc.status, headers=exc.headers or None)


router = APIRouter(prefix="/scim/v2", route_class=ScimRoute, tags=["scim"],
                   default_response_class=ScimJSONResponse)


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/scim/v2"


async def _json(request: Request) -> Any:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > scim.BODY_MAX:
        raise scim.ScimError(413, f"The body is larger than {scim.BODY_MAX} bytes")
    body = await request.body()
    if len(body) > scim.BODY_MAX:
        raise scim.ScimError(413, f"The body is larger than {scim.BODY_MAX} bytes")
    try:
        return json.loads(body or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise scim.ScimError(400, f"The body is not valid JSON: {exc}", "invalidSyntax") from exc
    except RecursionError as exc:
        raise scim.ScimError(400, "The body nests too deep to be read as JSON",
                             "invalidSyntax") from exc


def _query(request: Request, name: str) -> str | None:
    """A query parameter, at most `FILTER_MAX` characters of one line."""
    value = request.query_params.get(name)
    if value is not None and (len(value) > scim.FILTER_MAX
                              or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value)):
        raise scim.ScimError(400, f"{name} must be one line of at most {scim.FILTER_MAX} "
                                  "characters",
                             "invalidFilter" if name == "filter" else "invalidValue")
    return value


def _parameters(attributes: str | None, excluded: str | None) -> Any:
    try:
        return ResponseParameters[scim.UserResource].model_validate(
            {"attributes": attributes, "excludedAttributes": excluded})
    except ValidationError as exc:
        raise scim.ScimError.from_validation(exc) from exc


def _user_response(employee: Employee, request: Request, *, status: int = 200,
                   context: Context = Context.RESOURCE_QUERY_RESPONSE,
                   parameters: Any = None) -> Response:
    resource = scim.to_resource(employee, _base(request))
    body = resource.model_dump(scim_ctx=context, response_parameters=parameters)
    headers = {"ETag": scim.etag(employee)}
    if status == 201:
        headers["Location"] = body["meta"]["location"] if "meta" in body else \
            f"{_base(request)}/Users/{employee.id}"
    return ScimJSONResponse(body, status_code=status, headers=headers)


@router.get("/ServiceProviderConfig")
async def service_provider_config(request: Request, user: Hris) -> Response:
    """What this SCIM server supports (RFC 7643 §5)."""
    return ScimJSONResponse(scim.service_provider_config(_base(request)))


def _list(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
            "totalResults": len(resources), "startIndex": 1, "itemsPerPage": len(resources),
            "Resources": resources}


@router.get("/ResourceTypes")
async def resource_types(request: Request, user: Hris) -> Response:
    """The resource types served: User."""
    return ScimJSONResponse(_list(scim.resource_types(_base(request))))


@router.get("/ResourceTypes/{name}")
async def resource_type(name: str, request: Request, user: Hris) -> Response:
    """One resource type."""
    for item in scim.resource_types(_base(request)):
        if item["id"] == name:
            return ScimJSONResponse(item)
    raise scim.ScimError(404, f"Resource type {name} not found")


@router.get("/Schemas")
async def schemas(request: Request, user: Hris) -> Response:
    """The User schema, the enterprise extension and the Upward extension."""
    return ScimJSONResponse(_list(scim.schemas(_base(request))))


@router.get("/Schemas/{schema_id}")
async def schema(schema_id: str, request: Request, user: Hris) -> Response:
    """One schema by URN."""
    for item in scim.schemas(_base(request)):
        if item["id"] == schema_id:
            return ScimJSONResponse(item)
    raise scim.ScimError(404, f"Schema {schema_id} not found")


async def _search(request: Request, session: SessionDep, *, filter_text: str | None,
                  start_index: int, count: int | None, parameters: Any) -> Response:
    total, page = await scim.list_users(session, filter_text=filter_text,
                                        start_index=start_index, count=count)
    base = _base(request)
    response = ListResponse[scim.UserResource](
        total_results=total, start_index=max(start_index, 1), items_per_page=len(page),
        resources=[scim.to_resource(e, base) for e in page])
    return ScimJSONResponse(response.model_dump(scim_ctx=Context.SEARCH_RESPONSE,
                                                response_parameters=parameters))


def _int(value: str | None, name: str, default: int | None) -> int | None:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise scim.ScimError(400, f"{name} must be an integer", "invalidValue") from exc


@router.get("/Users")
async def list_users(request: Request, session: SessionDep, user: Hris) -> Response:
    """Users matching `filter`, paged by `startIndex`/`count`, shaped by `attributes`."""
    return await _search(
        request, session, filter_text=_query(request, "filter"),
        start_index=_int(_query(request, "startIndex"), "startIndex", 1) or 1,
        count=_int(_query(request, "count"), "count", None),
        parameters=_parameters(_query(request, "attributes"),
                               _query(request, "excludedAttributes")))


@router.post("/Users/.search")
async def search_users(request: Request, session: SessionDep, user: Hris) -> Response:
    """The same query as GET /Users, sent as a SearchRequest body."""
    payload = await _json(request)
    if isinstance(payload, dict) and isinstance(payload.get("filter"), str):
        scim.check_filter_text(payload["filter"])  # before the model parses it
    try:
        body = SearchRequest[scim.UserResource].model_validate(
            payload, scim_ctx=Context.SEARCH_REQUEST)
    except ValidationError as exc:
        raise scim.ScimError.from_validation(exc) from exc
    return await _search(request, session, filter_text=str(body.filter) if body.filter else None,
                         start_index=body.start_index or 1, count=body.count,
                         parameters=body)


@router.post("/.search")
async def search_everything(request: Request, user: Hris) -> Response:
    """Searching every resource type at once is not offered; use /Users/.search."""
    raise scim.ScimError(501, "Search across resource types is not supported; "
                              "use /Users/.search")


@router.post("/Users")
async def create_user(request: Request, session: SessionDep, user: Hris) -> Response:
    """Provision a user (employee)."""
    employee = await scim.create_user(session, payload=await _json(request))
    await session.commit()
    return _user_response(employee, request, status=201,
                          context=Context.RESOURCE_CREATION_RESPONSE)


@router.get("/Users/{user_id}")
async def get_user(user_id: str, request: Request, session: SessionDep, user: Hris) -> Response:
    """One user; `If-None-Match` with the current ETag answers 304."""
    employee = await scim.get_user(session, user_id=user_id)
    if not_modified(request.headers.get("if-none-match"), scim.etag(employee)):
        return Response(status_code=304, headers={"ETag": scim.etag(employee)})
    return _user_response(employee, request, parameters=_parameters(
        _query(request, "attributes"), _query(request, "excludedAttributes")))


@router.put("/Users/{user_id}")
async def replace_user(user_id: str, request: Request, session: SessionDep, user: Hris) -> Response:
    """Replace a user; `If-Match` guards against lost updates."""
    employee = await scim.replace_user(session, user_id=user_id, payload=await _json(request),
                                       if_match=request.headers.get("if-match"),
                                       base_url=_base(request))
    await session.commit()
    return _user_response(employee, request, context=Context.RESOURCE_REPLACEMENT_RESPONSE)


@router.patch("/Users/{user_id}")
async def patch_user(user_id: str, request: Request, session: SessionDep, user: Hris) -> Response:
    """Patch a user (add / replace / remove, e.g. `active: false` to deactivate)."""
    employee = await scim.patch_user(session, user_id=user_id, payload=await _json(request),
                                     if_match=request.headers.get("if-match"),
                                     base_url=_base(request))
    await session.commit()
    return _user_response(employee, request, context=Context.RESOURCE_PATCH_RESPONSE)


@router.delete("/Users/{user_id}", status_code=204)
async def delete_user(user_id: str, request: Request, session: SessionDep, user: Hris) -> Response:
    """Deprovision a user: hidden from SCIM, kept inactive as a leaver."""
    await scim.delete_user(session, user_id=user_id, if_match=request.headers.get("if-match"))
    await session.commit()
    return Response(status_code=204)


# What each endpoint allows, so a wrong method is a 405 rather than a 404.
_ALLOWED = (
    (re.compile(r"^(ServiceProviderConfig|ResourceTypes(/[^/]+)?|Schemas(/[^/]+)?)$"), "GET"),
    (re.compile(r"^Users$"), "GET, POST"),
    (re.compile(r"^(Users/)?\.search$"), "POST"),
    (re.compile(r"^Users/[^/]+$"), "GET, PUT, PATCH, DELETE"),
)


@router.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                  include_in_schema=False)
async def unknown(path: str, request: Request, user: Hris) -> Response:
    """Anything else under /scim/v2: 405 on a known endpoint, else a SCIM 404."""
    for pattern, allowed in _ALLOWED:
        if pattern.match(path):
            raise scim.ScimError(405, f"{request.method} is not allowed on /{path}",
                                 headers={"Allow": allowed})
    raise scim.ScimError(404, f"/scim/v2/{path} is not a SCIM endpoint")
