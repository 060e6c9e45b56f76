"""The OpenAPI document describes exactly the routes the server answers, and is valid."""

from __future__ import annotations

import json

import tornado.web
from openapi_spec_validator import validate
from tornado.httpclient import AsyncHTTPClient
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from cc_backend.server import Backends, make_api_app
from cc_backend.web.openapi import OPERATIONS, openapi_document, path_template
from cc_backend.web.rest.base import NotFoundHandler
from cc_backend.web.routes import api_routes

METHODS = ("get", "post", "put", "patch", "delete")


def served_operations() -> set[tuple[str, str]]:
    """(path template, method) of every method a REST handler implements."""
    served = set()
    for pattern, handler, _ in api_routes():
        if handler is NotFoundHandler:
            continue
        for method in METHODS:
            implemented = getattr(handler, method) is not getattr(
                tornado.web.RequestHandler, method
            )
            if implemented:
                served.add((path_template(pattern), method))
    return served


def test_every_served_route_is_documented_and_nothing_else() -> None:
    documented = {(path, method) for path, ops in OPERATIONS.items() for method in ops}
    assert documented == served_operations()


def test_the_document_is_valid_openapi() -> None:
    validate(openapi_document())  # type: ignore[arg-type]


def test_bodies_use_the_handlers_models() -> None:
    document = openapi_document()
    stop = document["paths"]["/api/jobs/stop_job/"]["post"]["requestBody"]
    assert stop["content"]["application/json"]["schema"]["$ref"].endswith("/StopJobRequest")
    schema = document["components"]["schemas"]["StopJobRequest"]
    assert {"jobId", "cluster", "startTime", "jobState", "stopTime"} <= set(schema["properties"])


async def test_dev_mode_serves_swagger_ui_from_local_files(backends: Backends) -> None:
    server = HTTPServer(make_api_app(backends, dev=True))
    [sock] = bind_sockets(0, "127.0.0.1")
    server.add_sockets([sock])
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    client = AsyncHTTPClient()
    try:
        page = await client.fetch(f"{base}/swagger/")
        document = await client.fetch(f"{base}/swagger/openapi.json")
        script = await client.fetch(f"{base}/swagger/assets/swagger-ui-bundle.js")
    finally:
        server.stop()
    html = page.body.decode()
    assert "/swagger/assets/swagger-ui-bundle.js" in html
    assert "://" not in html  # no CDN: every asset comes from this server
    assert json.loads(document.body)["openapi"].startswith("3.")
    assert len(script.body) > 100_000


async def test_without_dev_mode_there_is_no_swagger(backends: Backends) -> None:
    server = HTTPServer(make_api_app(backends))
    [sock] = bind_sockets(0, "127.0.0.1")
    server.add_sockets([sock])
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/swagger/"
    try:
        response = await AsyncHTTPClient().fetch(url, raise_error=False)
    finally:
        server.stop()
    assert response.code == 404
