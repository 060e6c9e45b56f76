"""A real site served by the API-only Tornado app on a free loopback port."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from dotenv import dotenv_values
from tornado.httpclient import AsyncHTTPClient, HTTPResponse
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port

from cc_backend.auth.keys import load_private_key
from cc_backend.auth.tokens import issue_token
from cc_backend.config import load_config, load_secrets
from cc_backend.demo import demo_clusters
from cc_backend.domain.user import User
from cc_backend.server import Backends, build_backends, make_api_app
from tests.web.browser import PASSWORDS, Site, serving

#: Users of the test site: name -> roles.
USERS: dict[str, list[str]] = {
    "adapter": ["api"],
    "root": ["admin", "api"],
    "alice": ["user", "api"],
    "bob": ["user"],
}


def _prepare_site(site: Path) -> None:
    config = load_config(site / "config.json")
    secrets = load_secrets(site / "config.json")
    backends = build_backends(config, secrets)
    try:
        for cluster in demo_clusters():
            backends.archive.store_cluster(cluster)
        for name, roles in USERS.items():
            backends.users.add(User.build(name, roles))
    finally:
        backends.close()


@pytest.fixture
def api_site(site: Path) -> Path:
    """A site with the demo clusters in its archive and the users of :data:`USERS`."""
    _prepare_site(site)
    return site


@pytest.fixture
def site_config() -> dict[str, dict[str, Any]]:
    """Sections merged into the site's config.json before its backends are built;
    override by parametrizing ``site_config``."""
    return {}


def _configure(site: Path, sections: dict[str, dict[str, Any]]) -> None:
    path = site / "config.json"
    data = json.loads(path.read_text())
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    path.write_text(json.dumps(data))


@pytest.fixture
def token_for(api_site: Path) -> Callable[..., str]:
    """``token_for(name, roles=None, max_age=None, now=None)``: a token signed with the
    site's key; ``roles`` defaults to the user's roles in :data:`USERS`."""
    key = load_private_key(str(dotenv_values(api_site / ".env")["JWT_PRIVATE_KEY"]))

    def make(
        name: str,
        roles: list[str] | None = None,
        max_age: timedelta | None = None,
        now: float | None = None,
    ) -> str:
        user = User.build(name, roles if roles is not None else USERS.get(name, []))
        return issue_token(user, key, max_age=max_age, now=now)

    return make


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
def backends(api_site: Path, site_config: dict[str, dict[str, Any]]) -> Iterator[Backends]:
    """The site's backends, built with ``site_config`` applied."""
    _configure(api_site, site_config)
    config = load_config(api_site / "config.json")
    built = build_backends(config, load_secrets(api_site / "config.json"))
    yield built
    built.close()


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
