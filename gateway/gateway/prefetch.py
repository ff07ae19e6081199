"""Loading what a page's items link to in one step per link, before the items resolve.

A field such as `Pair.mentor` resolves through a DataLoader, which already makes one call
per batch of keys. Resolved one item at a time, though, every item of a list awaits its own
future: for a page of 100 pairs with both people, their employees and the next session,
that is 500 awaitables, each a coroutine, a Strawberry wrapper and a task of graphql-core's
(most of the gateway's CPU under load). So a list's resolver first `prefetch`es: from the
query's own selection it finds which links of the page's items are asked for
(`Pair.mentor`, then that participant's `employee`, then that employee's `manager`, ...),
loads each link's keys for the whole page at once (the same DataLoaders, so the same calls
and the same per-key errors), then the items resolve, and each link field answers
synchronously through `loaded` from what its loader holds.

`LINKS` names, per GraphQL type, each field that reads one DataLoader. A field asked for
under `@skip`/`@include` is prefetched only when the directive lets it through; a field
the query does not ask for is never loaded. A key the prefetch did not load (a link not
listed here, a list nested in an item) still loads on its own, as before.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from http import HTTPStatus
from typing import Any, TypeVar, cast

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLIncludeDirective,
    GraphQLSkipDirective,
    InlineFragmentNode,
    SelectionNode,
    SelectionSetNode,
)
from graphql.execution.values import VariableValues, get_directive_values
from strawberry.dataloader import DataLoader

from gateway.clients import ProblemError
from gateway.context import GatewayContext, Info

K = TypeVar("K")
V = TypeVar("V")
R = TypeVar("R")


def loaded(loader: DataLoader[K, V], key: K, shape: Callable[[V], R]) -> R:
    """`shape` of `key`'s value: at once when `loader` holds it already (a prefetch loaded
    it), else an awaitable of it, which GraphQL awaits.

    Typed as the value because that is what the field answers either way; GraphQL tells the
    two apart at run time. A key whose load failed raises its error, as awaiting it would.
    """
    future = loader.cache_map.get(key)
    if future is not None and future.done() and not future.cancelled():
        error = future.exception()
        if error is not None:
            raise error
        return shape(future.result())

    async def later() -> R:
        return shape(await loader.load(key))

    return cast(R, later())


def loaded_unless_refused(loader: DataLoader[K, V], key: K, shape: Callable[[V], R]
                          ) -> R | None:
    """`loaded`, but None where the service refuses the caller `key` (403): for a field
    that is null while the caller may not see its value, not an error."""
    try:
        value = loaded(loader, key, shape)
    except ProblemError as exc:
        if _refused(exc):
            return None
        raise
    if not inspect.isawaitable(value):
        return value

    async def later(pending: Awaitable[R]) -> R | None:
        try:
            return await pending
        except ProblemError as exc:
            if _refused(exc):
                return None
            raise

    return cast(R, later(value))


def _refused(error: ProblemError) -> bool:
    return error.status == HTTPStatus.FORBIDDEN


# --- what the query asks for ---------------------------------------------------------------


@dataclass(frozen=True)
class Selection:
    """The selection sets a query gives one kind of item, merged across fragments and
    aliases: what of it the query asks for."""

    sets: tuple[SelectionSetNode, ...]
    fragments: dict[str, FragmentDefinitionNode]
    variables: VariableValues

    @classmethod
    def of(cls, info: Info) -> Selection:
        """What the query asks of the value of the field `info` resolves."""
        raw = info._raw_info
        variables: Any = raw.variable_values
        if not isinstance(variables, VariableValues):
            # Strawberry's executor passes the coerced values as a plain dict.
            variables = VariableValues({}, dict(variables or {}))
        return cls(tuple(node.selection_set for node in raw.field_nodes
                         if node.selection_set is not None),
                   raw.fragments, variables)

    def _fields(self) -> Iterator[FieldNode]:
        pending: list[SelectionNode] = [s for sel in self.sets for s in sel.selections]
        seen: set[str] = set()
        while pending:
            node = pending.pop()
            if not self._included(node):
                continue
            if isinstance(node, FieldNode):
                yield node
            elif isinstance(node, InlineFragmentNode):
                pending.extend(node.selection_set.selections)
            elif isinstance(node, FragmentSpreadNode) and node.name.value not in seen:
                seen.add(node.name.value)
                fragment = self.fragments.get(node.name.value)
                if fragment is not None:
                    pending.extend(fragment.selection_set.selections)

    def _included(self, node: SelectionNode) -> bool:
        if not node.directives:
            return True
        skip = get_directive_values(GraphQLSkipDirective, node, self.variables)
        if skip is not None and skip.get("if") is True:
            return False
        include = get_directive_values(GraphQLIncludeDirective, node, self.variables)
        return not (include is not None and include.get("if") is False)

    def fields(self) -> dict[str, Selection]:
        """Each field asked for (its schema name), with what is asked of its value."""
        found: dict[str, list[SelectionSetNode]] = {}
        for node in self._fields():
            sets = found.setdefault(node.name.value, [])
            if node.selection_set is not None:
                sets.append(node.selection_set)
        return {name: Selection(tuple(sets), self.fragments, self.variables)
                for name, sets in found.items()}

    def child(self, name: str) -> Selection:
        """What is asked of field `name`'s value (nothing when it is not asked for)."""
        return self.fields().get(name, Selection((), self.fragments, self.variables))

    def nodes(self) -> Selection:
        """What a connection's selection asks of its items: `nodes` and `edges { node }`."""
        edges = self.child("edges").child("node")
        return Selection(self.child("nodes").sets + edges.sets, self.fragments,
                         self.variables)


# --- what links to what ----------------------------------------------------------------


def _attribute(name: str) -> Callable[[Any, GatewayContext], Iterable[str]]:
    def keys(item: Any, context: GatewayContext) -> Iterable[str]:
        value = getattr(item, name)
        return () if value is None else (str(value),)

    return keys


def _partner(item: Any, context: GatewayContext) -> Iterable[str]:
    me = context.principal.employee_id
    if me == item.mentor_employee_id:
        return (str(item.mentee_participant_id),)
    if me == item.mentee_employee_id:
        return (str(item.mentor_participant_id),)
    return ()


def _formed(item: Any, context: GatewayContext) -> Iterable[str]:
    # A pair that never formed has no sessions and scheduling never heard of it.
    return () if item.formed_at is None else (str(item.id),)


def _one(value: Any) -> Sequence[Any]:
    return (value,)


def _each(value: Any) -> Sequence[Any]:
    return cast(Sequence[Any], value)


@dataclass(frozen=True)
class Link:
    """A field that reads `loader` (a `Loaders` attribute) at the keys `keys` gives for its
    item; what it loads is of GraphQL type `type`, one value (`items=_one`) or a list."""

    loader: str
    keys: Callable[[Any, GatewayContext], Iterable[str]]
    type: str
    items: Callable[[Any], Sequence[Any]] = _one
    # False for a connection: its own resolver prefetches its page's links.
    descend: bool = True
    # A sibling field whose loader serves this one too: when the query asks for both, this
    # one reads that loader (`nextSession` picks from `sessions`), so one call loads both.
    shares: str | None = None


_PARTICIPANT = "Participant"
_CARD = "ParticipantCard"
LINKS: dict[str, dict[str, Link]] = {
    "Pair": {
        "mentor": Link("participant", _attribute("mentor_participant_id"), _PARTICIPANT),
        "mentee": Link("participant", _attribute("mentee_participant_id"), _PARTICIPANT),
        "mentorCard": Link("participant_card", _attribute("mentor_participant_id"), _CARD),
        "menteeCard": Link("participant_card", _attribute("mentee_participant_id"), _CARD),
        "partner": Link("participant_card", _partner, _CARD),
        "nextSession": Link("pair_next_session", _formed, "Session", _each,
                            shares="sessions"),
        "sessions": Link("pair_sessions", _formed, "Session", _each, descend=False),
        "programme": Link("programme", _attribute("programme_id"), "Programme"),
    },
    "Participant": {
        "employee": Link("employee", _attribute("employee_id"), "Employee"),
        "programme": Link("programme", _attribute("programme_id"), "Programme"),
    },
    "Employee": {
        "manager": Link("employee", _attribute("manager_id"), "Employee"),
    },
    "Invitation": {
        "programme": Link("programme", _attribute("programme_id"), "Programme"),
        "employee": Link("employee", _attribute("employee_id"), "Employee"),
        "participant": Link("participant", _attribute("participant_id"), _PARTICIPANT),
    },
    "Suggestion": {
        "mentor": Link("participant", _attribute("mentor_participant_id"), _PARTICIPANT),
        "mentorCard": Link("participant_card", _attribute("mentor_participant_id"), _CARD),
    },
    "Session": {
        "pair": Link("pair", _attribute("pair_id"), "Pair"),
    },
}


async def prefetch(info: Info, kind: str, items: Sequence[Any], selection: Selection) -> None:
    """Load every link `selection` asks of `items` (of GraphQL type `kind`), a whole
    level at a time, then what the selection asks of the values loaded, and so on.

    Errors stay in the loaders, each on its key, for the fields that asked for it.
    """
    links = LINKS.get(kind)
    if not links or not items:
        return
    context = info.context
    # Per loader: the keys wanted, and each link's sub-selection with its keys.
    wanted: dict[str, dict[str, None]] = {}
    follow: list[tuple[Link, list[str], Selection]] = []
    fields = selection.fields()
    for name, asked in fields.items():
        link = links.get(name)
        if link is None:
            continue
        if link.shares is not None and link.shares in fields:
            link = replace(link, loader=links[link.shares].loader)
        keys = [key for item in items for key in link.keys(item, context)]
        wanted.setdefault(link.loader, {}).update(dict.fromkeys(keys))
        if asked.sets and link.descend:
            follow.append((link, keys, asked))
    if not wanted:
        return
    loaders = context.loaders
    answers: dict[str, dict[str, Any]] = {}

    async def load(name: str, keys: list[str]) -> None:
        loader: DataLoader[str, Any] = getattr(loaders, name)
        # One batch answers them all at once: awaited in turn, only the first waits. (A
        # gather would add a callback to each, and the loop would run each callback.)
        futures = [loader.load(key) for key in keys]
        got: dict[str, Any] = {}
        for key, future in zip(keys, futures, strict=True):
            try:
                got[key] = await future
            except Exception as error:  # noqa: BLE001 - kept on its key, as the loader does
                got[key] = error
        answers[name] = got

    await asyncio.gather(*(load(name, list(keys)) for name, keys in wanted.items()))
    deeper = []
    for link, keys, asked in follow:
        values = [item for key in dict.fromkeys(keys)
                  if not isinstance(value := answers[link.loader][key], BaseException)
                  for item in link.items(value)]
        deeper.append(prefetch(info, link.type, values, asked))
    if deeper:
        await asyncio.gather(*deeper)


async def prefetch_page(info: Info, kind: str, items: Sequence[Any]) -> None:
    """`prefetch` for a connection's page: `items` are its nodes, of GraphQL type `kind`."""
    await prefetch(info, kind, items, Selection.of(info).nodes())
