"""GraphiQL works without internet: its page loads everything from the gateway itself."""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from urllib.parse import urljoin, urlsplit

from gateway.graphiql import asset_folder
from tests.gateway.conftest import Stack

HTML = {"Accept": "text/html"}


def references(page: str) -> list[str]:
    """Every address the page makes the browser load: scripts, styles, images, frames."""
    return re.findall(r'<(?:script|link|img|iframe)\b[^>]*?\b(?:src|href)="([^"]*)"', page)


async def test_the_page_names_no_other_host_and_every_asset_is_served(stack: Stack) -> None:
    async with stack.client() as client:
        page = await client.get("/graphql", headers=HTML)
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        loaded = references(page.text)
        assets = {ref: await client.get(urljoin(str(page.url), ref)) for ref in loaded}

    assert "://" not in page.text and "//" not in "".join(loaded)  # no host, no CDN
    kinds = {urlsplit(ref).path.rsplit(".", 1)[-1] for ref in loaded}
    assert kinds == {"js", "css"}
    for ref, answer in assets.items():
        path = urlsplit(ref).path
        assert answer.status_code == 200, ref
        expected = "text/css" if path.endswith(".css") else "text/javascript"
        assert answer.headers["content-type"].split(";")[0] == expected, ref
        assert answer.content == (asset_folder() / path.rsplit("/", 1)[-1]).read_bytes()


async def test_the_page_has_a_header_editor_ready_for_a_bearer_token(stack: Stack) -> None:
    async with stack.client() as client:
        page = (await client.get("/graphql", headers=HTML)).text

    assert "isHeadersEditorEnabled: true" in page
    assert 'defaultEditorToolsVisibility: "headers"' in page
    assert 'Authorization: "Bearer "' in page
    # The page posts to where it was loaded from, with those headers.
    assert "createFetcher({ url: window.location.pathname })" in page


async def test_only_the_named_assets_are_served(stack: Stack) -> None:
    async with stack.client() as client:
        unnamed = await client.get("/graphql/assets/fetch.umd.js")
        missing = await client.get("/graphql/assets/nothing.js")
        climbing = await client.get("/graphql/assets/..%2F..%2Fconfig.py")

    assert unnamed.status_code == missing.status_code == climbing.status_code == 404


async def test_without_the_ide_there_are_no_assets(
    start_stack: Callable[..., AbstractAsyncContextManager[Stack]],
) -> None:
    async with start_stack(settings={"graphql_ide": False}) as stack, \
            stack.client() as client:
        asset = await client.get("/graphql/assets/graphiql.min.js")

    assert asset.status_code == 404
