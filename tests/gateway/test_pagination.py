"""Every list that can grow is a cursor connection: `first` and `after` walk it whole, each
item once, with its total; a bad cursor or page size is refused naming the argument."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest

from tests.gateway import fakes
from tests.gateway.conftest import Stack

PAGE = """query Page($p: ID!, $first: Int!, $after: String) {
  pairs(programmeId: $p, first: $first, after: $after) {
    totalCount
    edges { cursor node { id } }
    nodes { id }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}"""


def _programme_of(monkeypatch: pytest.MonkeyPatch, pairs: int) -> str:
    """A programme of `pairs` pairs, listed by matching in the order they were made."""
    programme = f"paged{pairs}"
    monkeypatch.setitem(fakes.PROGRAMMES, programme, {**fakes.PROGRAMMES["prog2"],
                                                      "id": programme})
    for n in range(pairs):
        pair = {**fakes._pair(0, "m1", "s1"), "id": f"{programme}-pair{n:03}",
                "programme_id": programme}
        monkeypatch.setitem(fakes.PAIRS, pair["id"], pair)
    return programme


def _data(response: Any) -> dict[str, Any]:
    body = response.json()
    assert "errors" not in body, body["errors"]
    return dict(body["data"])


def _error(response: Any) -> dict[str, Any]:
    [error] = response.json()["errors"]
    return dict(error)


async def test_first_and_after_walk_the_whole_list_each_item_once(
    stack: Stack, token: Callable[..., str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    programme = _programme_of(monkeypatch, 23)
    admin = token("hr_admin")
    seen: list[str] = []
    pages: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        page = _data(await stack.graphql(
            PAGE, {"p": programme, "first": 5, "after": after}, token=admin))["pairs"]
        pages.append(page)
        seen += [node["id"] for node in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
        assert len(pages) < 10, "the walk never ends"

    assert seen == [f"{programme}-pair{n:03}" for n in range(23)]  # in matching's order
    assert [len(page["nodes"]) for page in pages] == [5, 5, 5, 5, 3]
    assert {page["totalCount"] for page in pages} == {23}
    assert [page["pageInfo"]["hasNextPage"] for page in pages] == [True] * 4 + [False]
    assert [page["pageInfo"]["hasPreviousPage"] for page in pages] == [False] + [True] * 4
    for page in pages:
        assert [edge["node"] for edge in page["edges"]] == page["nodes"]
        assert page["pageInfo"]["startCursor"] == page["edges"][0]["cursor"]
        assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]


async def test_a_cursor_names_its_item_so_an_item_added_before_it_is_not_read_twice(
    stack: Stack, token: Callable[..., str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    programme = _programme_of(monkeypatch, 6)
    admin = token("hr_admin")
    first = _data(await stack.graphql(PAGE, {"p": programme, "first": 3},
                                      token=admin))["pairs"]
    # A pair that sorts first appears between the two reads.
    pairs = dict(fakes.PAIRS)
    early = {**fakes._pair(0, "m1", "s1"), "id": f"{programme}-early",
             "programme_id": programme}
    monkeypatch.setattr(fakes, "PAIRS", {early["id"]: early, **pairs})
    rest = _data(await stack.graphql(
        PAGE, {"p": programme, "first": 3, "after": first["pageInfo"]["endCursor"]},
        token=admin))["pairs"]

    assert [n["id"] for n in first["nodes"] + rest["nodes"]] == [
        f"{programme}-pair{n:03}" for n in range(6)]


async def test_without_first_a_page_is_50_items(
    stack: Stack, token: Callable[..., str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    programme = _programme_of(monkeypatch, 60)

    data = _data(await stack.graphql(
        "query ($p: ID!) { pairs(programmeId: $p) { totalCount nodes { id } "
        "pageInfo { hasNextPage } } }", {"p": programme}, token=token("hr_admin")))

    assert len(data["pairs"]["nodes"]) == 50
    assert data["pairs"]["totalCount"] == 60
    assert data["pairs"]["pageInfo"]["hasNextPage"] is True


async def test_an_empty_list_is_an_empty_page_without_cursors(
    stack: Stack, token: Callable[..., str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    programme = _programme_of(monkeypatch, 0)

    page = _data(await stack.graphql(PAGE, {"p": programme, "first": 5},
                                     token=token("hr_admin")))["pairs"]

    assert page == {"totalCount": 0, "edges": [], "nodes": [], "pageInfo": {
        "hasNextPage": False, "hasPreviousPage": False, "startCursor": None,
        "endCursor": None}}


@pytest.mark.parametrize("first", [0, -1, 501])
async def test_first_outside_1_to_500_is_refused_naming_first_before_any_call(
    stack: Stack, token: Callable[..., str], first: int,
) -> None:
    stack.clear()
    response = await stack.graphql(PAGE, {"p": "prog1", "first": first},
                                   token=token("hr_admin"))

    error = _error(response)
    assert error["message"] == "Invalid first: must be from 1 to 500"
    assert (error["extensions"]["status"], error["extensions"]["field"]) == (422, "first")
    assert response.json()["data"] is None  # the root list is not nullable
    assert not any(recorder.calls for recorder in stack.recorders.values())


def _encoded(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(("after", "why"), [
    ("not a cursor!", "not a cursor of this list"),
    ("x" * 201, "not a cursor of this list"),
    (_encoded("Programme:prog1"), "not a cursor of a list of Pairs"),
    (_encoded("Pair:"), "not a cursor of a list of Pairs"),
    (_encoded("Pair:pair1") + "==", "not a cursor of a list of Pairs"),
    (_encoded("Pair:pair-gone"), "the Pair it names is no longer in this list; start again "
                                 "without after"),
])
async def test_a_bad_cursor_is_refused_naming_after(
    stack: Stack, token: Callable[..., str], after: str, why: str,
) -> None:
    response = await stack.graphql(PAGE, {"p": "prog1", "first": 2, "after": after},
                                   token=token("hr_admin"))

    error = _error(response)
    assert error["message"] == f"Invalid after: {why}"
    assert (error["extensions"]["status"], error["extensions"]["field"]) == (422, "after")


async def test_a_nested_connection_is_a_nullable_field_with_its_error_beside_it(
    stack: Stack, token: Callable[..., str],
) -> None:
    response = await stack.graphql(
        '{ programme(programmeId: "prog1") { id pairs(first: 0) { totalCount } } }',
        token=token("hr_admin"))

    assert response.json()["data"] == {"programme": {"id": "prog1", "pairs": None}}
    assert _error(response)["path"] == ["programme", "pairs"]


async def test_nested_connections_page_each_parent_from_one_batched_call(
    stack: Stack, token: Callable[..., str],
) -> None:
    stack.clear()
    data = _data(await stack.graphql(
        "{ programmes(first: 2) { totalCount pageInfo { hasNextPage } nodes { id "
        "pairs(first: 2) { totalCount nodes { id sessions(first: 1) { totalCount "
        "nodes { id } } } } } } }", token=token("hr_admin")))

    programmes = data["programmes"]
    assert (programmes["totalCount"], programmes["pageInfo"]["hasNextPage"]) == (3, True)
    assert [p["id"] for p in programmes["nodes"]] == ["prog1", "prog2"]
    first = programmes["nodes"][0]["pairs"]
    assert (first["totalCount"], [p["id"] for p in first["nodes"]]) == (5, ["pair1", "pair2"])
    assert first["nodes"][0]["sessions"] == {"totalCount": 1,
                                             "nodes": [{"id": "sess-pair1"}]}
    calls = [f"{service} {call.path}" for service, recorder in stack.recorders.items()
             for call in recorder.calls]
    assert sorted(calls) == ["enrolment /api/v1/programmes", "matching /api/v1/pairs",
                             "scheduling /api/v1/batch/pair-sessions"]


@pytest.mark.parametrize(("query", "path", "first"), [
    ('{ programme(programmeId: "prog1") { participants(first: 3) { totalCount '
     "nodes { id } } } }", ("programme", "participants"), 3),
    ('{ programme(programmeId: "prog1") { matchRuns(first: 1) { totalCount '
     "nodes { id } } } }", ("programme", "matchRuns"), 1),
    ('{ matchRuns(programmeId: "prog1", first: 1) { totalCount nodes { id } } }',
     ("matchRuns",), 1),
    ('{ invitations(programmeId: "prog1", first: 1) { totalCount nodes { id } } }',
     ("invitations",), 1),
    ('{ sessions(pairId: "pair1", first: 1) { totalCount nodes { id } } }', ("sessions",), 1),
])
async def test_every_growing_list_is_a_connection(
    stack: Stack, token: Callable[..., str], query: str, path: tuple[str, ...], first: int,
) -> None:
    data: Any = _data(await stack.graphql(query, token=token("hr_admin")))
    for key in path:
        data = data[key]

    assert len(data["nodes"]) == min(first, data["totalCount"])
    assert data["totalCount"] >= 1
