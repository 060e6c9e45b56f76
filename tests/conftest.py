"""Fixtures shared by the whole test suite."""

from __future__ import annotations

import itertools
import json
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import fsspec
import pytest
from dotenv import dotenv_values
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from tornado.httpclient import AsyncHTTPClient, HTTPResponse
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port

from cc_backend.archive import JobArchive, open_archive_url
from cc_backend.auth.keys import load_private_key
from cc_backend.auth.tokens import issue_token
from cc_backend.config import load_config, load_secrets
from cc_backend.demo import demo_clusters
from cc_backend.domain.job import Job
from cc_backend.domain.user import User
from cc_backend.server import Backends, build_backends, make_api_app

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _reference_dir() -> Path:
    configured = os.environ.get("CC_REFERENCE_DIR")
    if configured:
        return Path(configured)
    return PROJECT_ROOT.parent / "shared" / "reference"


REFERENCE_DIR = _reference_dir()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``reference`` are skipped, with the reason, when the data is absent."""
    if (REFERENCE_DIR / "README.md").is_file():
        return
    skip = pytest.mark.skip(reason=f"cc-backend reference data not found at {REFERENCE_DIR}")
    for item in items:
        if "reference" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """The folder of real cc-backend files (read-only: never write into it)."""
    return REFERENCE_DIR


@pytest.fixture
def make_job() -> Callable[..., Job]:
    """``make_job(**overrides) -> Job``: a valid running single-node job on cluster fritz."""
    counter = itertools.count(1)

    def build(**overrides: Any) -> Job:
        n = next(counter)
        fields: dict[str, Any] = {
            "jobId": 100_000 + n,
            "user": "alice",
            "project": "project-a",
            "cluster": "fritz",
            "subCluster": "main",
            "partition": "singlenode",
            "numNodes": 1,
            "numHwthreads": 72,
            "jobState": "running",
            "startTime": 1_700_000_000 + 60 * n,
            "submitTime": 1_700_000_000 + 60 * n - 30,
            "walltime": 86_400,
            "resources": [{"hostname": f"f{101 + n:04d}"}],
            "metaData": {"jobName": f"job-{n}"},
        }
        fields.update(overrides)
        return Job.model_validate(fields)

    return build


@pytest.fixture(scope="session")
def schema_validator(reference_dir: Path) -> Callable[[str], Draft202012Validator]:
    """``schema_validator(name)``: a validator for one of cc-backend's job-archive schemas.

    The schemas ``$ref`` each other by ``$id``; they name their dialect with an http:// URI
    that ``referencing`` does not recognise, hence the explicit draft.
    """
    folder = reference_dir / "schemas"
    documents = [json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))]
    registry: Registry[Any] = Registry().with_resources(
        (doc["$id"], DRAFT202012.create_resource(doc)) for doc in documents
    )

    def build(name: str) -> Draft202012Validator:
        return Draft202012Validator(json.loads((folder / name).read_text()), registry=registry)

    return build


#: Secrets a developer's environment might hold; tests of sites must not see them.
SITE_SECRET_ENV = ("JWT_PUBLIC_KEY", "JWT_PRIVATE_KEY", "SESSION_KEY")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A freshly initialised site (``cc-backend init``), also the current directory."""
    from cc_backend.cli import main

    for name in SITE_SECRET_ENV:
        monkeypatch.delenv(name, raising=False)
    directory = tmp_path / "site"
    assert main(["init", str(directory)]) == 0
    monkeypatch.chdir(directory)
    return directory


@pytest.fixture(params=["memory", "file", "sqlite"])
def empty_archive(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[JobArchive]:
    """A new, empty job archive of each local kind."""
    name = f"test-{uuid.uuid4().hex}"
    location = {
        "memory": f"memory://{name}",
        "file": str(tmp_path / "archive"),
        "sqlite": str(tmp_path / "archive.db"),
    }[str(request.param)]
    archive = open_archive_url(location)
    yield archive
    archive.close()
    if request.param == "memory":
        fsspec.filesystem("memory").rm(f"/{name}", recursive=True)


# -- a site with backends (demo clusters, users with roles) -----------------------------


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


@pytest.fixture
def backends(api_site: Path, site_config: dict[str, dict[str, Any]]) -> Iterator[Backends]:
    """The site's backends, built with ``site_config`` applied."""
    _configure(api_site, site_config)
    config = load_config(api_site / "config.json")
    built = build_backends(config, load_secrets(api_site / "config.json"))
    yield built
    built.close()


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
