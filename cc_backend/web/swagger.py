"""Developer routes: the OpenAPI document and Swagger UI, served from local files (no CDN).

Swagger UI's assets come from the ``swagger-ui-bundle`` package (the ``dev`` extra); without
it the UI answers with a hint and the document is still served.
"""

from __future__ import annotations

import importlib
from typing import Any

import orjson
import tornado.web

from cc_backend.web.openapi import openapi_document

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>cc-backend REST API</title>
<link rel="stylesheet" href="/swagger/assets/swagger-ui.css"></head>
<body><div id="ui"></div>
<script src="/swagger/assets/swagger-ui-bundle.js"></script>
<script src="/swagger/assets/swagger-ui-standalone-preset.js"></script>
<script src="/swagger/ui.js"></script>
</body></html>
"""

_INIT = """window.onload = function () {
  window.ui = SwaggerUIBundle({url: "/swagger/openapi.json", dom_id: "#ui",
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "StandaloneLayout"});
};
"""


class OpenApiHandler(tornado.web.RequestHandler):
    """``GET /swagger/openapi.json``."""

    def get(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.write(orjson.dumps(openapi_document()))


class SwaggerPageHandler(tornado.web.RequestHandler):
    """``GET /swagger/``: the UI page (or a hint when the assets are not installed)."""

    def get(self) -> None:
        if swagger_assets() is None:
            self.set_status(503)
            self.write("Swagger UI needs the swagger-ui-bundle package (extra 'dev').")
            return
        self.write(_PAGE)


class SwaggerInitHandler(tornado.web.RequestHandler):
    """``GET /swagger/ui.js``: starts the UI on our document."""

    def get(self) -> None:
        self.set_header("Content-Type", "application/javascript")
        self.write(_INIT)


def swagger_assets() -> str | None:
    """The folder of Swagger UI's files, or None when the package is missing."""
    try:
        bundle = importlib.import_module("swagger_ui_bundle")
    except ImportError:
        return None
    path: str = bundle.swagger_ui_path
    return path


def swagger_routes() -> list[tuple[str, type[tornado.web.RequestHandler], dict[str, Any]]]:
    """The developer routes below ``/swagger/``."""
    routes: list[tuple[str, type[tornado.web.RequestHandler], dict[str, Any]]] = [
        ("/swagger/", SwaggerPageHandler, {}),
        ("/swagger/ui.js", SwaggerInitHandler, {}),
        ("/swagger/openapi.json", OpenApiHandler, {}),
    ]
    assets = swagger_assets()
    if assets is not None:
        routes.append((r"/swagger/assets/(.*)", tornado.web.StaticFileHandler, {"path": assets}))
    return routes
