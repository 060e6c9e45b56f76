"""A real site served by the API-only Tornado app on a free loopback port."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from dotenv import dotenv_values
from tornado.httpclient import AsyncHTTPClient, HTTPResponse
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port

from cc_backend.server import Backends, make_api_app
from tests.web.browser import PASSWORDS, Site, serving


@dataclass
class Api:
    """An HTTP client bound to the test server, sending the adapter's token by default."""

    base: str
    token: str
    backends: Backends
    client: AsyncHTTPClient = field(default_factory=AsyncHTTPClient)

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> HTTPResponse:
        """Send a request; ``body`` is JSON-encoded, ``raw`` is sent as is; ``token=""``
        sends none. Never raises for an HTTP error status."""
        sent = {"X-AUTH-TOKEN": self.token if token is None else token, **(headers or {})}
        if not sent["X-AUTH-TOKEN"]:
            del sent["X-AUTH-TOKEN"]
        payload = raw if raw is not None else (None if body is None else json.dumps(body))
        if payload is None and method in ("POST", "PUT", "PATCH"):
            payload = b""
        return await self.client.fetch(
            self.base + path,
            method=method,
            body=payload,
            headers=sent,
            raise_error=False,
            allow_nonstandard_methods=True,
        )

    @staticmethod
    def body(response: HTTPResponse) -> Any:
        """The JSON body of ``response``."""
        return json.loads(response.body)

    def job_count(self) -> int:
        """Number of jobs in the database (all users)."""
        return self.backends.jobs.count(actor=None)


@pytest.fixture
async def api(backends: Backends, token_for: Callable[..., str]) -> AsyncIterator[Api]:
    """The API of the site on a free 127.0.0.1 port, with the adapter's token."""
    sock, port = bind_unused_port()
    server = HTTPServer(make_api_app(backends))
    server.add_sockets([sock])
    yield Api(f"http://127.0.0.1:{port}", token_for("adapter"), backends)
    server.stop()
    await server.close_all_connections()


def _job_payload(job_id: int = 1000, **overrides: Any) -> dict[str, Any]:
    """A start_job body for a one-node job on cluster fritz (as the adapter sends it)."""
    payload: dict[str, Any] = {
        "jobId": job_id,
        "user": "alice",
        "project": "project-a",
        "cluster": "fritz",
        "subCluster": "main",
        "partition": "work",
        "arrayJobId": 0,
        "numNodes": 1,
        "numHwthreads": 72,
        "numAcc": 0,
        "shared": "none",
        "monitoringStatus": 1,
        "smt": 1,
        "jobState": "running",
        "startTime": 1_700_000_000,
        "submitTime": 1_699_999_000,
        "walltime": 3600,
        "resources": [{"hostname": "f0101"}],
        "metaData": {"jobName": "test", "jobScript": "#!/bin/sh"},
    }
    payload.update(overrides)
    return payload


@pytest.fixture
def job_payload() -> Callable[..., dict[str, Any]]:
    """``job_payload(job_id=1000, **overrides)``: a start_job body for cluster fritz."""
    return _job_payload


@pytest.fixture
async def web_site(backends: Backends, api_site: Path) -> AsyncIterator[Site]:
    """The site served with its SESSION_KEY as cookie secret; root, alice and bob have
    the passwords of :data:`PASSWORDS`."""
    for name, password in PASSWORDS.items():
        backends.users.set_password(name, password)
    key = str(dotenv_values(api_site / ".env")["SESSION_KEY"])
    async with serving(make_api_app(backends, cookie_secret=key)) as base:
        yield Site(base, backends, key)
