"""``/playground``: GraphiQL served from local files only, for ``--dev``."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
import tornado.web
from tornado.httpclient import AsyncHTTPClient, HTTPResponse

from cc_backend.web.graphql import playground
from cc_backend.web.graphql.playground import playground_assets, playground_routes
from cc_backend.web.routes import graphql_routes
from tests.web.browser import serving


@pytest.fixture
async def base() -> AsyncIterator[str]:
    async with serving(tornado.web.Application(playground_routes())) as url:
        yield url


async def _get(url: str) -> HTTPResponse:
    return await AsyncHTTPClient().fetch(url, raise_error=False)


async def test_the_page_loads_graphiql_from_this_server_only(base: str) -> None:
    assert playground_assets() is not None, "the dev extra's GraphiQL package is not installed"
    page = await _get(base + "/playground")
    html = page.body.decode()
    assert page.code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert not re.search(r"(src|href)=\"(https?:)?//", html)
    for path in re.findall(r'(?:src|href)="(/playground/[^"]+)"', html):
        asset = await _get(base + path)
        assert asset.code == 200, path
        assert asset.body, path
    script = (await _get(base + "/playground/page.js")).body.decode()
    assert 'url: "/query"' in script


async def test_without_the_assets_package_the_page_says_what_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(playground, "find_spec", lambda _name: None)
    assert playground_assets() is None
    async with serving(tornado.web.Application(playground_routes())) as url:
        page = await _get(url + "/playground")
    assert page.code == 503
    assert b"graphene-django-graphiql-static" in page.body


def test_the_playground_is_mounted_only_for_development() -> None:
    assert [rule[0] for rule in graphql_routes()] == ["/query"]
    assert "/playground" in [rule[0] for rule in graphql_routes(dev=True)]
