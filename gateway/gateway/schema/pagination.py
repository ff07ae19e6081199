"""How the schema pages a list that can grow: Relay cursor connections.

Every list that grows with the data (programmes, a programme's participants, pairs and
invitations, a pair's sessions, match runs) answers a `Connection`: `edges { cursor node }`,
`nodes`, `pageInfo` and `totalCount`, read with `first` (`DEFAULT_FIRST` unless asked,
`MAX_FIRST` at most) and `after` (an edge's cursor, or `pageInfo.endCursor`). The item
types name their connections (`PairConnection`, `PairEdge`), so one generic type serves
every domain.

A cursor names the item it follows (its kind and id, base64url-encoded so clients treat
it as opaque), never a position: an item added or removed before it neither skips nor
repeats what comes after. The gateway pages what a service answers, in the service's
order (see gateway/README.md#pagination for which service lists are bounded and why).

A match run's own lists (its pairs, unmatched mentees and formed pair ids) are another
concept: the pages of one result, read by `offset` and `limit` and bounded by matching
(`OFFSET_PAGE`), not a list of things that grows with the data.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

import strawberry

from gateway.clients import ProblemError, gateway_problem

# The bounds are matching's (`GET /runs/{id}`); the gateway passes offset and limit on.
OFFSET_PAGE = "limit entries from offset, 1,000 unless asked, 10,000 at most."

DEFAULT_FIRST = 50
# A page at most this long keeps two nested connections at their caps (500 x 500) inside
# no more than a few times the answer's budget of list items (`GATEWAY_MAX_RESULT_ITEMS`,
# 100,000), which stops such a request while it runs; one page alone always fits.
MAX_FIRST = 500

Node = TypeVar("Node")
Item = TypeVar("Item")


@strawberry.type(description="Where a page sits in its list.")
class PageInfo:
    has_next_page: bool = strawberry.field(
        description="Whether items follow this page: read on with `after: endCursor`.")
    has_previous_page: bool = strawberry.field(
        description="Whether items come before this page (it started after a cursor).")
    start_cursor: str | None = strawberry.field(
        description="The cursor of the page's first item; null for an empty page.")
    end_cursor: str | None = strawberry.field(
        description="The cursor of the page's last item; null for an empty page.")


@strawberry.type(description="One item of a page, with its cursor.")
class Edge(Generic[Node]):
    cursor: str = strawberry.field(
        description="Opaque; pass it as `after` to read the items that follow this one.")
    node: Node = strawberry.field(description="The item.")


@strawberry.type(description=f"A page of a list, in the list's order: `first` items "
                             f"({DEFAULT_FIRST} unless asked, {MAX_FIRST} at most) after "
                             "the cursor `after`.")
class Connection(Generic[Node]):
    edges: list[Edge[Node]] = strawberry.field(description="The page's items with cursors.")
    nodes: list[Node] = strawberry.field(description="The page's items, as in edges.")
    page_info: PageInfo = strawberry.field(description="Where the page sits in its list.")
    total_count: int = strawberry.field(
        description="How many items the whole list holds, every page together.")


First = Annotated[int, strawberry.argument(
    description=f"How many items, from 1 to {MAX_FIRST}.")]
After = Annotated[str | None, strawberry.argument(
    description="Start after the item of this cursor (an edge's cursor or "
                "pageInfo.endCursor); null: from the start.")]


def by_id(item: Any) -> str:
    """A service item's id: what its cursor names."""
    return str(item.id)


def cursor(kind: str, id: str) -> str:
    """The opaque cursor of item `id` of a list of `kind`s."""
    return base64.urlsafe_b64encode(f"{kind}:{id}".encode()).decode().rstrip("=")


def _bad_after(detail: str) -> ProblemError:
    return gateway_problem(422, f"Invalid after: {detail}", kind="validation-error",
                           field="after")


@dataclass(frozen=True)
class Window:
    """A validated `first` and `after` for a list of `kind`s (the item type's name)."""

    kind: str
    first: int
    after_id: str | None

    @classmethod
    def of(cls, kind: str, *, first: int, after: str | None) -> Window:
        """Check `first` and `after` before any call: a 422 naming the argument otherwise."""
        if not 1 <= first <= MAX_FIRST:
            raise gateway_problem(422, f"Invalid first: must be from 1 to {MAX_FIRST}",
                                  kind="validation-error", field="first")
        if after is None:
            return cls(kind, first, None)
        if len(after) > 200:
            raise _bad_after("not a cursor of this list")
        try:
            text = base64.urlsafe_b64decode(after + "=" * (-len(after) % 4)).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise _bad_after("not a cursor of this list") from None
        named, _, id = text.partition(":")
        if named != kind or not id or cursor(kind, id) != after:
            raise _bad_after(f"not a cursor of a list of {kind}s")
        return cls(kind, first, id)

    def page(self, items: Sequence[Item], *, id: Callable[[Item], str],
             node: Callable[[Item], Node]) -> Connection[Node]:
        """The page of `items` (the whole list, in its order) this window asks for."""
        start = 0
        if self.after_id is not None:
            at = next((n for n, item in enumerate(items) if id(item) == self.after_id), None)
            if at is None:
                raise _bad_after(f"the {self.kind} it names is no longer in this list; "
                                 "start again without after")
            start = at + 1
        chosen = items[start:start + self.first]
        edges = [Edge(cursor=cursor(self.kind, id(item)), node=node(item)) for item in chosen]
        return Connection(
            edges=edges, nodes=[edge.node for edge in edges],
            page_info=PageInfo(
                has_next_page=start + len(chosen) < len(items), has_previous_page=start > 0,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None),
            total_count=len(items),
        )

    def served(self, items: Sequence[Item], *, total: int, has_more: bool,
               id: Callable[[Item], str], node: Callable[[Item], Node]) -> Connection[Node]:
        """A page the service cut itself (read on after the id `after_id` names, at most
        `first` items), with the service's total: for lists too long to fetch whole, such
        as an employee search."""
        edges = [Edge(cursor=cursor(self.kind, id(item)), node=node(item)) for item in items]
        return Connection(
            edges=edges, nodes=[edge.node for edge in edges],
            page_info=PageInfo(
                has_next_page=has_more, has_previous_page=self.after_id is not None,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None),
            total_count=total,
        )
