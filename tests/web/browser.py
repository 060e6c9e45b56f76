"""A browser-like test client for session routes, and the served site it talks to."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlencode

import tornado.web
from tornado.httpclient import AsyncHTTPClient, HTTPResponse
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port

from cc_backend.domain.errors import NotFound
from cc_backend.domain.user import User
from cc_backend.server import Backends

#: Passwords of the test site's users that may log in (``adapter`` has none).
PASSWORDS = {"root": "root-Secret-1", "alice": "alice-Secret-1", "bob": "bob-Secret-1"}


@contextlib.asynccontextmanager
async def serving(app: tornado.web.Application) -> AsyncIterator[str]:
    """Serve ``app`` on a free loopback port; yields its base URL."""
    sock, port = bind_unused_port()
    server = HTTPServer(app)
    server.add_sockets([sock])
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
        await server.close_all_connections()


def multipart(fields: dict[str, str]) -> tuple[bytes, str]:
    """``fields`` as a ``multipart/form-data`` body and its content type."""
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields.items()
    ]
    body = "".join(parts) + f"--{boundary}--\r\n"
    return body.encode(), f"multipart/form-data; boundary={boundary}"


@dataclass
class Browser:
    """An HTTP client that keeps the cookies the server sets, never follows redirects and
    never raises for an error status."""

    base: str
    cookies: dict[str, str] = field(default_factory=dict)
    client: AsyncHTTPClient = field(default_factory=AsyncHTTPClient)

    async def call(
        self,
        method: str,
        path: str,
        form: dict[str, str] | None = None,
        *,
        as_multipart: bool = False,
        headers: dict[str, str] | None = None,
    ) -> HTTPResponse:
        """Send ``form`` URL-encoded (or as multipart) with the stored cookies."""
        sent = dict(headers or {})
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body: bytes | None = None
        if form is not None and as_multipart:
            body, sent["Content-Type"] = multipart(form)
        elif form is not None:
            body = urlencode(form).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        elif method in ("POST", "PUT", "PATCH"):
            body = b""
        response = await self.client.fetch(
            self.base + path,
            method=method,
            body=body,
            headers=sent,
            follow_redirects=False,
            raise_error=False,
            allow_nonstandard_methods=True,
        )
        for header in response.headers.get_list("Set-Cookie"):
            for name, morsel in SimpleCookie(header).items():
                if morsel.value:
                    self.cookies[name] = morsel.value
                else:
                    self.cookies.pop(name, None)
        return response

    async def login(self, username: str, password: str | None = None, **extra: str) -> HTTPResponse:
        """``POST /login`` with the user's password from :data:`PASSWORDS` by default."""
        secret = PASSWORDS[username] if password is None else password
        form = {"username": username, "password": secret, **extra}
        return await self.call("POST", "/login", form)


@dataclass
class Site:
    """The served test site."""

    base: str
    backends: Backends
    session_key: str

    def browser(self) -> Browser:
        """A new browser without cookies."""
        return Browser(self.base)

    async def logged_in(self, username: str) -> Browser:
        """A new browser with a session of ``username``."""
        browser = self.browser()
        response = await browser.login(username)
        assert response.code == 302, response.body
        return browser

    def user(self, username: str) -> User | None:
        """``username`` as stored now, or ``None``."""
        try:
            return self.backends.users.get(username)
        except NotFound:
            return None


def text(response: HTTPResponse) -> str:
    return response.body.decode() if response.body else ""


def error_of(response: HTTPResponse) -> dict[str, Any]:
    """cc-backend's JSON error body of ``response``."""
    assert response.headers["Content-Type"].startswith("application/json")
    body: dict[str, Any] = json.loads(response.body)
    assert set(body) == {"status", "error"}
    return body
