"""GraphiQL served whole by the gateway: its page and its assets, no CDN, no internet.

The assets are the built GraphiQL and React that the `graphene-django-graphiql-static`
package ships as plain files (the package's Django code is never imported). Strawberry's
own page loads them from a CDN, so a gateway offline, or behind a strict egress policy,
would show an empty page.
"""

from __future__ import annotations

import functools
import html
from importlib import metadata, resources
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from gateway.transport import HTTPGraphQLRouter
from upward_common.problems import Problem

PACKAGE = "graphene_django_graphiql_static"
DISTRIBUTION = "graphene-django-graphiql-static"
ASSETS_PATH = "/graphql/assets"

# Each file the page loads, and the type it is served as; nothing else in the folder is.
ASSETS = {
    "graphiql.min.css": "text/css; charset=utf-8",
    "react.production.min.js": "text/javascript; charset=utf-8",
    "react-dom.production.min.js": "text/javascript; charset=utf-8",
    "graphiql.min.js": "text/javascript; charset=utf-8",
}


def asset_folder() -> Path:
    """Where the installed package keeps the built files."""
    return Path(str(resources.files(PACKAGE) / "static" / PACKAGE))


@functools.cache
def page() -> str:
    """The GraphiQL page: its styles and scripts from `ASSETS_PATH`, nothing from elsewhere."""
    # The version in each URL makes a browser fetch the files again after an upgrade,
    # and lets them be cached for good in between.
    version = html.escape(metadata.version(DISTRIBUTION))
    # Relative to the page at .../graphql, so they resolve under any path prefix too.
    base = ASSETS_PATH.lstrip("/")
    styles = "".join(f'  <link rel="stylesheet" href="{base}/{name}?v={version}">\n'
                     for name in ASSETS if name.endswith(".css"))
    scripts = "".join(f'  <script src="{base}/{name}?v={version}"></script>\n'
                      for name in ASSETS if name.endswith(".js"))
    return f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Upward GraphiQL</title>
  <style>html, body, #graphiql {{ height: 100%; margin: 0; }}</style>
{styles}{scripts}</head>
<body>
  <div id="graphiql">Loading GraphiQL...</div>
  <script>
    // Every request the page sends carries the headers from the Headers tab, opened
    // first: paste a token after "Bearer ". They are kept only as long as the tab.
    const fetcher = GraphiQL.createFetcher({{ url: window.location.pathname }});
    ReactDOM.render(
      React.createElement(GraphiQL, {{
        fetcher,
        isHeadersEditorEnabled: true,
        shouldPersistHeaders: false,
        defaultEditorToolsVisibility: "headers",
        defaultHeaders: JSON.stringify({{ Authorization: "Bearer " }}, null, 2),
      }}),
      document.getElementById("graphiql"),
    );
  </script>
</body>
</html>
"""


def assets_router() -> APIRouter:
    """`GET /graphql/assets/<file>`: the files the page names, 404 for any other."""
    router = APIRouter(tags=["graphql"])
    folder = asset_folder()

    @router.get(ASSETS_PATH + "/{name}", include_in_schema=False)
    async def graphiql_asset(name: str) -> FileResponse:
        """One of GraphiQL's files, as the installed package ships it."""
        media_type = ASSETS.get(name)
        if media_type is None:
            raise Problem(404, f"No GraphiQL asset {name!r}", kind="not-found", field="name")
        return FileResponse(folder / name, media_type=media_type,
                            headers={"Cache-Control": "public, max-age=31536000, immutable"})

    return router


class GatewayGraphQLRouter(HTTPGraphQLRouter):
    """/graphql with its limits, over HTTP as the GraphQL-over-HTTP specification has it,
    and a GraphiQL page that loads the gateway's own assets.

    Without introspection (`GATEWAY_INTROSPECTION=false`, the production default) the page
    still loads and runs what is typed into it, but cannot fetch the schema: no explorer,
    no documentation, no completion.
    """

    @property
    def graphql_ide_html(self) -> str:
        return page()
