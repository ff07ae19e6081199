"""The gateway's clients against the services' OpenAPI documents, the one source of the shapes.

Every call a client in `gateway.clients` makes is recorded (each public method is run with
placeholder arguments against a recorder instead of the network); then each call's method
and path must be an operation of its service's document (generated from the app itself,
in-process), its query parameters that operation's, and every field of the models it sends
and reads (nested ones too) a property of the operation's request or answer schema. A client
that names a route, a method or a field the service does not have fails here, before any
journey test meets it at run time.
"""

from __future__ import annotations

import inspect
import re
import types
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Union, get_args, get_origin

import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from gateway import clients

API = "/api/v1"


def _apps() -> dict[str, Callable[[], FastAPI]]:
    from analytics.main import create_app as analytics
    from enrolment.main import create_app as enrolment
    from matching.main import create_app as matching
    from scheduling.main import create_app as scheduling

    return {"enrolment": enrolment, "matching": matching, "scheduling": scheduling,
            "analytics": analytics}


@pytest.fixture(scope="module")
def documents() -> dict[str, dict[str, Any]]:
    return {name: make().openapi() for name, make in _apps().items()}


# --- what the clients call ------------------------------------------------------------------


@dataclass
class Recorded:
    service: str
    client_method: str
    method: str
    template: str
    answer: Any  # the model (or list[model]) the client reads the answer as
    body: Any = None
    params: dict[str, Any] = field(default_factory=dict)


CLIENTS: list[type[clients.ServiceClient]] = [
    clients.EnrolmentClient, clients.MatchingClient, clients.SchedulingClient,
    clients.AnalyticsClient,
]


def _placeholder(annotation: Any) -> Any:
    """A value of `annotation` good enough to make the call (nothing is sent anywhere)."""
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        return _placeholder(next(a for a in get_args(annotation) if a is not type(None)))
    if origin is list:
        return [_placeholder(get_args(annotation)[0])]
    if origin is typing.Literal:
        return get_args(annotation)[0]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation.model_construct()
    return {int: 1, float: 1.0, bool: True, date: date(2024, 6, 30)}.get(annotation, "x1")


async def _record(client_cls: type[clients.ServiceClient],
                  monkeypatch: pytest.MonkeyPatch) -> list[Recorded]:
    calls: list[Recorded] = []
    current = {"name": ""}

    async def one(self: clients.ServiceClient, model: Any, method: str, template: str,
                  **kwargs: Any) -> Any:
        calls.append(Recorded(self.service, current["name"], method, template, model,
                              kwargs.get("body"), dict(kwargs.get("params") or {})))

    async def many(self: clients.ServiceClient, model: Any, template: str,
                   **kwargs: Any) -> Any:
        calls.append(Recorded(self.service, current["name"], "GET", template, list[model],
                              kwargs.get("body"), dict(kwargs.get("params") or {})))
        return []

    monkeypatch.setattr(clients.ServiceClient, "_one", one)
    monkeypatch.setattr(clients.ServiceClient, "_many", many)
    client = client_cls.__new__(client_cls)
    for name, method in inspect.getmembers(client_cls, inspect.iscoroutinefunction):
        if name.startswith("_"):
            continue
        hints = typing.get_type_hints(method, {**vars(clients), "clients": clients})
        arguments = {p: _placeholder(hints[p]) for p in inspect.signature(method).parameters
                     if p != "self"}
        current["name"] = name
        await getattr(client, name)(**arguments)
    monkeypatch.undo()
    return calls


# --- what the documents say -----------------------------------------------------------------


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def _operation(document: dict[str, Any], method: str, path: str) -> dict[str, Any] | None:
    for documented, operations in document["paths"].items():
        if _shape(documented) == _shape(path) and method.lower() in operations:
            return dict(operations[method.lower()])
    return None


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _branches(document: dict[str, Any], schema: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The schema's alternatives (anyOf/oneOf, `null` dropped), each resolved."""
    schema = _resolve(document, schema)
    alternatives = schema.get("anyOf") or schema.get("oneOf")
    if alternatives:
        for alternative in alternatives:
            yield from _branches(document, alternative)
    elif schema.get("type") != "null":
        yield schema


def _models_in(annotation: Any) -> Iterator[tuple[str, type[BaseModel]]]:
    """The models inside an annotation and how to reach them: `list[X]` -> ("items", X)."""
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        for argument in get_args(annotation):
            yield from _models_in(argument)
    elif origin is list:
        for how, model in _models_in(get_args(annotation)[0]):
            yield "items" + ("." + how if how else ""), model
    elif origin is dict:
        for how, model in _models_in(get_args(annotation)[1]):
            yield "values" + ("." + how if how else ""), model
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield "", annotation


def _follow(document: dict[str, Any], schema: dict[str, Any], how: str) -> list[dict[str, Any]]:
    found = list(_branches(document, schema))
    for step in [s for s in how.split(".") if s]:
        key = "items" if step == "items" else "additionalProperties"
        found = [branch for schema in found if isinstance(schema.get(key), dict)
                 for branch in _branches(document, schema[key])]
    return found


def missing_fields(document: dict[str, Any], schema: dict[str, Any], annotation: Any,
                   where: str) -> list[str]:
    """Fields of the models in `annotation` that `schema` has no property for, recursively."""
    problems: list[str] = []
    for how, model in _models_in(annotation):
        targets = _follow(document, schema, how)
        if not targets:
            problems.append(f"{where}: the document has no object for {model.__name__}")
            continue
        properties: dict[str, Any] = {}
        for target in targets:
            properties.update(target.get("properties") or {})
        for name, info in model.model_fields.items():
            key = info.alias or name
            if key not in properties:
                problems.append(f"{where}: {model.__name__}.{name} is not in the document")
                continue
            problems += missing_fields(document, properties[key], info.annotation,
                                       f"{where}.{key}")
    return problems


# Where a service's document declares a free-form object, so the fields cannot be checked
# yet: the imports parse their bodies themselves (JSON, NDJSON or CSV) and declare
# `array of object`; survey versions store the answers as given and declare `answers` as
# an object. Each is the service's to document; an entry here must say why.
FREE_FORM = {
    ("enrolment", "import_employees", "body"),
    ("enrolment", "import_participants", "body"),
    ("enrolment", "survey_versions", "answer.answers"),
}


def _free_form(problem: str) -> bool:
    return any(problem.startswith(f"{service} {method}: ") and f" {part}: " in problem
               for service, method, part in FREE_FORM)


def contract_problems(calls: list[Recorded], documents: dict[str, dict[str, Any]]) -> list[str]:
    problems: list[str] = []
    for call in calls:
        document = documents[call.service]
        where = f"{call.service} {call.client_method}: {call.method} {API}{call.template}"
        operation = _operation(document, call.method, API + call.template)
        if operation is None:
            problems.append(f"{where}: no such operation in the service's OpenAPI")
            continue
        known = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
        problems += [f"{where}: query parameter {name} is not in the document"
                     for name in call.params if name not in known]
        answers = operation["responses"]
        success = next((answers[s] for s in sorted(answers) if s.startswith("2")), None)
        schema = ((success or {}).get("content") or {}).get("application/json", {}).get("schema")
        if schema is None:
            problems.append(f"{where}: the document declares no JSON answer")
        else:
            problems += missing_fields(document, schema, call.answer, f"{where} answer")
        if call.body is not None:
            body = (operation.get("requestBody") or {}).get("content", {})
            body_schema = body.get("application/json", {}).get("schema")
            sent = type(call.body[0]) if isinstance(call.body, list) else type(call.body)
            if body_schema is None:
                problems.append(f"{where}: the document declares no JSON body")
            else:
                annotation = list[sent] if isinstance(call.body, list) else sent  # type: ignore[valid-type]
                problems += missing_fields(document, body_schema, annotation, f"{where} body")
    return [problem for problem in problems if not _free_form(problem)]


async def _all_calls(monkeypatch: pytest.MonkeyPatch) -> list[Recorded]:
    calls: list[Recorded] = []
    for client_cls in CLIENTS:
        calls += await _record(client_cls, monkeypatch)
    return calls


# --- the tests ------------------------------------------------------------------------------


async def test_every_client_call_is_an_operation_of_its_service_with_every_field(
    documents: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = await _all_calls(monkeypatch)

    assert len(calls) >= 40  # every public method of the four clients was run
    assert contract_problems(calls, documents) == []


async def test_every_downstream_shape_is_checked_by_some_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A model of clients.py that no call sends or reads would escape the contract."""
    calls = await _all_calls(monkeypatch)
    reached: set[type[BaseModel]] = set()

    def reach(annotation: Any) -> None:
        for _how, model in _models_in(annotation):
            if model not in reached:
                reached.add(model)
                for info in model.model_fields.values():
                    reach(info.annotation)

    for call in calls:
        reach(call.answer)
        if call.body is not None:
            reach(type(call.body[0]) if isinstance(call.body, list) else type(call.body))
    shapes = {model for model in vars(clients).values()
              if isinstance(model, type) and issubclass(model, BaseModel)
              and model.__module__ == clients.__name__ and not model.__pydantic_generic_metadata__[
                  "parameters"]}
    # Base classes only lend their fields to the models that are checked.
    unchecked = {m.__name__ for m in shapes - reached} - {"Shape", "Patch", "ProgrammeSettings"}
    assert unchecked == set()


async def test_the_contract_fails_on_a_client_that_drifted_from_the_service(
    documents: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A wrong path, a wrong method and an unknown field are each caught."""

    class DriftedPair(clients.PairPublic):
        mentor_nickname: str = ""

    async def pair(self: clients.MatchingClient, id: str) -> clients.PairPublic:
        return await self._one(DriftedPair, "GET", "/pair/{id}", id=id)

    async def end_pair(self: clients.MatchingClient, pair_id: str, reason: str,
                       note: str | None) -> clients.PairPublic:
        return await self._one(clients.PairPublic, "DELETE", "/pairs/{pair_id}/end",
                               pair_id=pair_id)

    async def accept_pair(self: clients.MatchingClient, pair_id: str) -> clients.PairPublic:
        return await self._one(DriftedPair, "POST", "/pairs/{pair_id}/accept", pair_id=pair_id)

    async def pool_stats(self: clients.MatchingClient,
                         programme_id: str) -> clients.PoolStatsPublic:
        return await self._one(clients.PoolStatsPublic, "GET", "/programmes/{programme_id}/pool",
                               programme_id=programme_id, params={"colour": "blue"})

    for name, wrong in (("pair", pair), ("end_pair", end_pair), ("accept_pair", accept_pair),
                        ("pool_stats", pool_stats)):
        monkeypatch.setattr(clients.MatchingClient, name, wrong)
    calls = await _record(clients.MatchingClient, monkeypatch)

    problems = contract_problems(calls, documents)

    assert problems == [
        "matching accept_pair: POST /api/v1/pairs/{pair_id}/accept answer: "
        "DriftedPair.mentor_nickname is not in the document",
        "matching end_pair: DELETE /api/v1/pairs/{pair_id}/end: no such operation in the "
        "service's OpenAPI",
        "matching pair: GET /api/v1/pair/{id}: no such operation in the service's OpenAPI",
        "matching pool_stats: GET /api/v1/programmes/{programme_id}/pool: query parameter "
        "colour is not in the document",
    ]
