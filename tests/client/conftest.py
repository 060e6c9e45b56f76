"""A site with archived demo jobs (with metric data), alice's running job and a tag, and a
factory of clients acting as one of its users, in process or over the served API."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from cc_backend.client import Client, HttpClient, LocalClient
from cc_backend.demo import generate_demo_archive
from cc_backend.domain.job import Job
from cc_backend.domain.tag import Tag
from cc_backend.server import Backends
from cc_backend.services.importer import import_archive
from tests.conftest import Api

#: Demo jobs written to the archive (all finished, with metric data).
DEMO_JOBS = 8


@dataclass(frozen=True)
class Seeded:
    """Database ids of the jobs the tests look at."""

    alice_running: int
    archived: int
    tag_id: int


@pytest.fixture
def seeded(backends: Backends, make_job: Callable[..., Job]) -> Seeded:
    generate_demo_archive(backends.archive, jobs=DEMO_JOBS, seed=11, with_data=True)
    report = import_archive(backends.archive, backends.jobs, backends.tags, workers=1)
    assert report.ok, report
    backends.clusters.refresh()
    alice = backends.jobs.add(make_job(user="alice"))
    archived = next(j.id for j in backends.jobs.query([], actor=None).items if j.id != alice)
    assert archived is not None
    root = backends.users.get("root")
    tag = backends.tags.create(Tag(type="app", name="python", scope="global"), root)
    assert tag.id is not None
    backends.tags.attach(alice, tag.id, root)
    return Seeded(alice, archived, tag.id)


ClientFor = Callable[[str], Client]


@pytest.fixture(params=["local", "http"])
def client_for(
    request: pytest.FixtureRequest, backends: Backends, api: Api, token_for: Callable[..., str]
) -> ClientFor:
    """``client_for(username)``: a client acting as that user of :data:`tests.conftest.USERS`,
    in process (``local``) or over the served API with the user's token (``http``)."""
    if request.param == "local":
        return lambda name: LocalClient(backends, backends.users.get(name))
    return lambda name: HttpClient(api.base, token_for(name))


@pytest.fixture
def api_client(api: Api, token_for: Callable[..., str]) -> HttpClient:
    """An HTTP client with root's token (admin and api)."""
    return HttpClient(api.base, token_for("root"))
