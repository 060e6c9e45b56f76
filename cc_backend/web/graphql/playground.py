"""``GET /playground`` (with ``--dev``): GraphiQL for the API at ``/query``, no CDN.

GraphiQL, React and ReactDOM are served from this machine, out of the PyPI package
``graphene-django-graphiql-static`` (its ``static`` folder: GraphiQL 2 with React 17 as UMD
bundles; the package's Django parts are not used). Without that package the page answers
503 with a hint. The page sends its queries with the browser's session cookie; an API token
can be set in GraphiQL's header editor (``X-Auth-Token``).
"""

from __future__ import annotations

from importlib import resources
from importlib.util import find_spec
from typing import Any

import tornado.web

__all__ = ["ASSETS_PACKAGE", "playground_assets", "playground_routes"]

#: The PyPI package whose static files are served (import name).
ASSETS_PACKAGE = "graphene_django_graphiql_static"

#: The files the page loads, in order.
_SCRIPTS = ("react.production.min.js", "react-dom.production.min.js", "graphiql.min.js")
_STYLES = ("graphiql.min.css",)

_PAGE = (
    '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
    "<title>cc-backend GraphQL</title>"
    + "".join(f'<link rel="stylesheet" href="/playground/assets/{name}">' for name in _STYLES)
    + '<link rel="stylesheet" href="/playground/page.css">'
    + '</head><body><div id="graphiql">Loading GraphiQL...</div>'
    + "".join(f'<script src="/playground/assets/{name}"></script>' for name in _SCRIPTS)
    + '<script src="/playground/page.js"></script></body></html>\n'
)

_CSS = "html, body, #graphiql { height: 100%; margin: 0; width: 100%; overflow: hidden; }\n"

_SCRIPT = """(function () {
  var fetcher = GraphiQL.createFetcher({ url: "/query" });
  ReactDOM.render(
    React.createElement(GraphiQL, { fetcher: fetcher, defaultEditorToolsVisibility: true }),
    document.getElementById("graphiql")
  );
})();
"""

#: The page may load its own files only; GraphiQL needs inline styles and data: fonts.
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "font-src 'self' data:; img-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


def playground_assets() -> str | None:
    """The folder of GraphiQL's files, or None when the package is not installed."""
    if find_spec(ASSETS_PACKAGE) is None:
        return None
    folder = resources.files(ASSETS_PACKAGE).joinpath("static", ASSETS_PACKAGE)
    return str(folder) if folder.is_dir() else None


class _PlaygroundHandler(tornado.web.RequestHandler):
    content_type = "text/plain; charset=UTF-8"
    body = ""

    def set_default_headers(self) -> None:
        self.set_header("Content-Security-Policy", _CSP)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "no-referrer")

    def get(self) -> None:
        self.set_header("Content-Type", self.content_type)
        self.write(self.body)


class PlaygroundPageHandler(_PlaygroundHandler):
    """``GET /playground``: the page (or a hint when the assets are not installed)."""

    content_type = "text/html; charset=UTF-8"
    body = _PAGE

    def get(self) -> None:
        if playground_assets() is None:
            self.set_status(503)
            self.set_header("Content-Type", "text/plain; charset=UTF-8")
            self.write(f"GraphiQL needs the Python package {ASSETS_PACKAGE.replace('_', '-')}.")
            return
        super().get()


class PlaygroundScriptHandler(_PlaygroundHandler):
    """``GET /playground/page.js``: starts GraphiQL on ``/query``."""

    content_type = "application/javascript; charset=UTF-8"
    body = _SCRIPT


class PlaygroundStyleHandler(_PlaygroundHandler):
    """``GET /playground/page.css``: lets GraphiQL fill the window."""

    content_type = "text/css; charset=UTF-8"
    body = _CSS


def playground_routes() -> list[tuple[str, type[tornado.web.RequestHandler], dict[str, Any]]]:
    """The developer routes below ``/playground`` (served with ``--dev`` only)."""
    routes: list[tuple[str, type[tornado.web.RequestHandler], dict[str, Any]]] = [
        ("/playground", PlaygroundPageHandler, {}),
        ("/playground/page.js", PlaygroundScriptHandler, {}),
        ("/playground/page.css", PlaygroundStyleHandler, {}),
    ]
    assets = playground_assets()
    if assets is not None:
        routes.append((r"/playground/assets/(.*)", tornado.web.StaticFileHandler, {"path": assets}))
    return routes
