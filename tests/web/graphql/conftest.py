"""A served site with jobs, tags, users and node states, and a GraphQL client for it; the
site of cc-backend's reference database (``reference_gql``, ``reference_db``).

The people of the site, one per role (tokens carry roles and projects as claims):

==========  =========================  ===========================================
name        roles                      sees
==========  =========================  ===========================================
alice       user                       her own jobs
manny       manager of project-b       his own jobs and those of project-b
sue         support                    every job, node data
root        admin                      everything
==========  =========================  ===========================================
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import tornado.web
from dotenv import dotenv_values
from tornado.httpclient import AsyncHTTPClient, HTTPResponse

from cc_backend.archive import open_archive
from cc_backend.auth.keys import load_private_key
from cc_backend.auth.tokens import issue_token
from cc_backend.config import load_config, load_secrets
from cc_backend.domain.cluster import Cluster
from cc_backend.domain.errors import NotFound
from cc_backend.domain.job import Job
from cc_backend.domain.tag import Tag
from cc_backend.domain.user import User
from cc_backend.repository.nodes import HealthState, NodeStateRow, SchedulerState
from cc_backend.server import Backends, build_backends, make_api_app
from tests.web.browser import PASSWORDS, serving

#: The people of the site by role (``None``: no credentials at all).
PEOPLE: dict[str, User | None] = {
    "anonymous": None,
    "user": User.build("alice", ["user"], name="Alice Archer", email="alice@example.org"),
    "manager": User.build("manny", ["manager"], ["project-b"], name="Manny M", email="m@x.org"),
    "support": User.build("sue", ["support"], name="Sue S", email="sue@example.org"),
    "admin": User.build("root", ["admin"], name="Root", email="root@example.org"),
}
ROLES = tuple(PEOPLE)


@dataclass
class Seeded:
    """Database ids of the seeded jobs, tags and nodes, by short name."""

    jobs: dict[str, int]
    tags: dict[str, int]
    nodes: dict[str, int]


@dataclass
class Reply:
    """An HTTP answer of ``/query``: status and decoded JSON body."""

    status: int
    body: dict[str, Any]

    @property
    def data(self) -> Any:
        return self.body.get("data")

    @property
    def errors(self) -> list[dict[str, Any]]:
        return list(self.body.get("errors") or [])

    @property
    def codes(self) -> list[str]:
        return [e.get("extensions", {}).get("code") for e in self.errors]

    def ok(self) -> Any:
        """The data of a reply that must have no errors."""
        assert self.status == 200, self.body
        assert not self.errors, self.body
        return self.data


@dataclass
class GraphQL:
    """Posts GraphQL requests to the served site as one of :data:`PEOPLE`."""

    base: str
    sign: Callable[[User], str]
    backends: Backends
    client: AsyncHTTPClient

    async def raw(
        self, body: bytes, *, headers: dict[str, str] | None = None, method: str = "POST"
    ) -> HTTPResponse:
        """Send ``body`` to ``/query`` as is (no credentials unless in ``headers``)."""
        return await self.client.fetch(
            self.base + "/query",
            method=method,
            body=body if method != "GET" else None,
            headers=headers or {},
            raise_error=False,
            allow_nonstandard_methods=True,
        )

    async def __call__(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        role: str = "admin",
        user: User | None = None,
    ) -> Reply:
        """Run ``query`` as the person of ``role`` (or as ``user``) with an API token."""
        caller = user if user is not None else PEOPLE[role]
        headers = {"Content-Type": "application/json"}
        if caller is not None:
            headers["X-Auth-Token"] = self.sign(caller)
        payload: dict[str, Any] = {"query": query}
        if variables is not None:
            payload["variables"] = variables
        response = await self.raw(json.dumps(payload).encode(), headers=headers)
        return Reply(response.code, json.loads(response.body))


@pytest.fixture
def sign(api_site: Path) -> Callable[[User], str]:
    """``sign(user)``: an API token for ``user`` (roles and projects as claims)."""
    key = load_private_key(str(dotenv_values(api_site / ".env")["JWT_PRIVATE_KEY"]))
    return lambda user: issue_token(user, key)


def _job(n: int, **fields: Any) -> Job:
    base: dict[str, Any] = {
        "jobId": 5000 + n,
        "user": "alice",
        "project": "project-a",
        "cluster": "fritz",
        "subCluster": "main",
        "partition": "singlenode",
        "numNodes": 1,
        "numHwthreads": 72,
        "jobState": "completed",
        "startTime": 1_700_000_000 + 3600 * n,
        "duration": 1800,
        "walltime": 86_400,
        "monitoringStatus": 3,
        "resources": [{"hostname": f"f{101 + n:04d}"}],
        "metaData": {"jobName": f"job-{n}"},
    }
    base.update(fields)
    return Job.model_validate(base)


#: The seeded jobs by short name.
JOBS: dict[str, Job] = {
    "alice_running": _job(
        1,
        jobState="running",
        duration=0,
        monitoringStatus=1,
        footprint={"cpu_load_avg": 50.5, "mem_used_max": 120.0},
        energyFootprint={"cpu_power": 10.0, "acc_power": 2.0, "other": 1.0},
        energy=13.0,
    ),
    "alice_done": _job(2, numNodes=2, resources=[{"hostname": "f0101"}, {"hostname": "f0102"}]),
    "alice_shared": _job(
        3,
        shared="multi_user",
        duration=7200,
        resources=[{"hostname": "f0301"}],
        startTime=1_700_100_000,
    ),
    "bob_shared": _job(
        4,
        user="bob",
        project="project-b",
        shared="multi_user",
        duration=3600,
        resources=[{"hostname": "f0301"}],
        startTime=1_700_101_000,
    ),
    "bob_alex": _job(
        5,
        user="bob",
        project="project-b",
        cluster="alex",
        subCluster="a40",
        partition="a40",
        numAcc=4,
        resources=[{"hostname": "a0101", "accelerators": ["0", "1", "2", "3"]}],
        jobState="failed",
    ),
    "carol_done": _job(6, user="carol", project="project-c", partition="work"),
    "manny_own": _job(7, user="manny", project="project-x", jobState="timeout"),
}


def _seed(backends: Backends) -> Seeded:
    for person in PEOPLE.values():
        if person is None:
            continue
        try:
            backends.users.get(person.username)
        except NotFound:
            backends.users.add(person)
        backends.users.update(person.username, name=person.name, email=person.email)
    jobs = {name: backends.jobs.add(job) for name, job in JOBS.items()}
    root = PEOPLE["admin"]
    alice = PEOPLE["user"]
    assert root is not None
    assert alice is not None
    created = {
        "global": backends.tags.create(Tag(type="app", name="python", scope="global"), root),
        "admin": backends.tags.create(Tag(type="review", name="slow", scope="admin"), root),
        "alice": backends.tags.create(Tag(type="mine", name="keep", scope="alice"), alice),
    }
    tags = {name: int(tag.id or 0) for name, tag in created.items()}
    backends.tags.attach(jobs["alice_running"], tags["global"], root)
    backends.tags.attach(jobs["alice_running"], tags["admin"], root)
    backends.tags.attach(jobs["alice_running"], tags["alice"], alice)
    backends.tags.attach(jobs["bob_alex"], tags["global"], root)
    rows = [
        ("f0101", 100, SchedulerState.IDLE, HealthState.FULL),
        ("f0102", 100, SchedulerState.ALLOCATED, HealthState.FULL),
        ("f0201", 100, SchedulerState.DOWN, HealthState.FAILED),
        ("f0101", 200, SchedulerState.ALLOCATED, HealthState.FULL),
        ("f0102", 200, SchedulerState.ALLOCATED, HealthState.PARTIAL),
        ("f0201", 200, SchedulerState.DOWN, HealthState.FAILED),
    ]
    for stamp in (100, 200):
        backends.nodes.add_states(
            "fritz",
            [
                NodeStateRow(
                    host, "main", ts, state, health, cpus_allocated=ts // 10, jobs_running=1
                )
                for host, ts, state, health in rows
                if ts == stamp
            ],
        )
    backends.nodes.add_states("alex", [NodeStateRow("a0101", "a40", 150, SchedulerState.MIXED)])
    nodes = {n.hostname: n.id for n in backends.nodes.list_nodes()}
    return Seeded(jobs=jobs, tags=tags, nodes=nodes)


def graphql_app(backends: Backends, **settings: Any) -> tornado.web.Application:
    """The API application with the GraphQL routes mounted, as the server serves them."""
    return make_api_app(backends, **settings)


@pytest.fixture
async def site_url(backends: Backends, api_site: Path) -> AsyncIterator[str]:
    """The base URL of the site served with the GraphQL routes, with its SESSION_KEY as
    cookie secret; root, alice and bob have the passwords of :data:`PASSWORDS`."""
    for name, password in PASSWORDS.items():
        backends.users.set_password(name, password)
    key = str(dotenv_values(api_site / ".env")["SESSION_KEY"])
    async with serving(graphql_app(backends, cookie_secret=key)) as base:
        yield base


@pytest.fixture
def seeded(backends: Backends) -> Seeded:
    """The seeded jobs (:data:`JOBS`), tags, users and node states of the site."""
    return _seed(backends)


@pytest.fixture
def gql(site_url: str, backends: Backends, sign: Callable[[User], str]) -> GraphQL:
    """A GraphQL client of the served site (see :class:`GraphQL`)."""
    return GraphQL(site_url, sign, backends, AsyncHTTPClient())


@pytest.fixture
async def reference_gql(site: Path, reference_dir: Path) -> AsyncIterator[GraphQL]:
    """The site with the reference database and clusters, served; requests as ``demo``.

    The cluster files are in the site's archive before the backends open, as on a site that
    starts with them (the built-in metric store serves the clusters it knows at start).
    """
    shutil.copyfile(reference_dir / "db" / "job.db", site / "var" / "job.db")
    config, secrets = load_config(site / "config.json"), load_secrets(site / "config.json")
    archive = open_archive(config.archive, secrets)
    try:
        for name in ("alex", "fritz"):
            path = reference_dir / "job-archive" / name / "cluster.json"
            archive.store_cluster(Cluster.from_json(path.read_bytes()))
    finally:
        archive.close()
    backends = build_backends(config, secrets)
    key = load_private_key(str(dotenv_values(site / ".env")["JWT_PRIVATE_KEY"]))
    try:
        async with serving(graphql_app(backends)) as base:
            yield GraphQL(base, lambda user: issue_token(user, key), backends, AsyncHTTPClient())
    finally:
        backends.close()


@pytest.fixture
def reference_db(reference_dir: Path) -> sqlite3.Connection:
    """The reference database, read-only."""
    uri = f"file:{reference_dir / 'db' / 'job.db'}?mode=ro"
    return sqlite3.connect(uri, uri=True)


#: The admin of the reference database (its only user, roles admin and api).
DEMO = User.build("demo", ["admin", "api"])
