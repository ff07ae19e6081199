"""Batch reads: many resources by id in one call, each id answered as its own route would.

A client that shows a list of 100 pairs with both people needs 200 participants; one call
per id makes the list's latency grow with its length. A batch route
(`GET /api/v1/batch/<resources>?id=a&id=b`) answers them in one call, with the same rules
as the route for one: the caller gets the resources they may see in `items`, and every
other id is listed in `missing` with the status and reason that route would have answered
(403 or 404), so nothing is silently dropped and nothing more is shown.

Batch routes live under `/api/v1/batch/` so that no id can collide with them
(`/employees/batch` would be the employee whose id is `batch`) and so that each path
answers one shape.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

from upward_common.limits import Identifier
from upward_common.problems import Problem

T = TypeVar("T")
Item = TypeVar("Item")

# The most ids one batch call takes (docs/limits.md); a client with more sends several.
# 200 ids of 64 characters fill 13.6 KB of URL, under the 16 KiB request line uvicorn
# (h11) accepts; and a page of 100 pairs names its 200 people in one call.
MAX_BATCH_IDS = 200


def ids_query(description: str) -> Any:
    """The `id` query parameter of a batch route: 1 to MAX_BATCH_IDS Identifiers, repeated."""
    return Query(alias="id", min_length=1, max_length=MAX_BATCH_IDS, description=(
        f"{description}; repeat the parameter for each id (`?id=a&id=b`), "
        f"1 to {MAX_BATCH_IDS} ids per call. Repeated ids are answered once."))


BatchIds = Annotated[list[Identifier], ids_query("The ids to read")]


class Missing(BaseModel):
    """An id the batch did not answer with a resource, and what its own route would say."""

    id: str
    status: int
    detail: str


class Batch(BaseModel, Generic[T]):
    """What a batch read answers: the resources the caller may see, and why the others are not."""

    items: list[T]
    missing: list[Missing] = []


def distinct(ids: Iterable[str]) -> list[str]:
    """The ids in the order asked, each once."""
    return list(dict.fromkeys(ids))


def collect(ids: Iterable[str], one: Callable[[str], Item]) -> tuple[list[Item], list[Missing]]:
    """`one(id)` for each distinct id: what it returns is an item, the Problem it raises a
    `Missing` entry. `one` applies the single route's checks to rows fetched beforehand."""
    items: list[Item] = []
    missing: list[Missing] = []
    for ident in distinct(ids):
        try:
            items.append(one(ident))
        except Problem as problem:
            missing.append(Missing(id=ident, status=problem.status, detail=problem.detail))
    return items, missing
