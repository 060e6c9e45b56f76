"""Fixtures for the service tests: a fresh job database and synthetic job archives on disk."""

from __future__ import annotations

import contextlib
import socket
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import fsspec
import orjson
import pytest

from cc_backend.archive import JobArchive, JobRef, open_archive_url
from cc_backend.demo import demo_clusters
from cc_backend.domain.cluster import Cluster
from cc_backend.repository.database import Database, open_database

# The database fixtures of the repository tests, so that service tests run on every backend.
from tests.repository.conftest import (
    backend,  # noqa: F401
    empty_db,  # noqa: F401
    postgres_database,  # noqa: F401
    postgres_empty_template,  # noqa: F401
    postgres_server,  # noqa: F401
)

CLUSTER = "testcl"
#: Start time of the first synthetic job; job ``n`` starts ``n`` minutes later.
FIRST_START = 1_700_000_000


def _metric(name: str, base: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "unit": {"base": base},
        "scope": "node",
        "aggregation": "avg",
        "timestep": 60,
        "peak": 100,
        "normal": 50,
        "caution": 10,
        "alert": 5,
        **extra,
    }


def cluster_document() -> dict[str, Any]:
    """cluster.json of a small made-up cluster: two footprint metrics, one power metric."""
    value = {"unit": {"base": "F/s", "prefix": "G"}, "value": 100}
    return {
        "name": CLUSTER,
        "metricConfig": [
            _metric("cpu_load", "", footprint="avg"),
            _metric("mem_used", "B", footprint="max"),
            _metric("cpu_power", "W", energy="power"),
        ],
        "subClusters": [
            {
                "name": "main",
                "nodes": "n[0001-9999]",
                "processorType": "test CPU",
                "socketsPerNode": 1,
                "coresPerSocket": 2,
                "threadsPerCore": 1,
                "flopRateScalar": value,
                "flopRateSimd": value,
                "memoryBandwidth": {"unit": {"base": "B/s", "prefix": "G"}, "value": 50},
                "topology": {"node": [0, 1], "socket": [[0, 1]], "memoryDomain": [[0, 1]]},
            }
        ],
    }


def meta_document(n: int, **overrides: Any) -> dict[str, Any]:
    """meta.json of synthetic finished job ``n`` (2 nodes, 1 h, 200 W per node)."""
    doc: dict[str, Any] = {
        "jobId": 5_000 + n,
        "user": f"user{n % 7}",
        "project": f"project{n % 3}",
        "cluster": CLUSTER,
        "subCluster": "main",
        "partition": "work",
        "numNodes": 2,
        "numHwthreads": 4,
        "shared": "none",
        "jobState": "completed",
        "startTime": FIRST_START + 60 * n,
        "submitTime": FIRST_START + 60 * n - 10,
        "duration": 3600,
        "walltime": 7200,
        "resources": [
            {"hostname": f"n{2 * n % 9000 + 1:04d}"},
            {"hostname": f"n{2 * n % 9000 + 2:04d}"},
        ],
        "metaData": {"jobName": f"job {n}"},
        "statistics": {
            "cpu_load": {"unit": {"base": ""}, "avg": 1.5, "min": 0.0, "max": 2.0},
            "mem_used": {
                "unit": {"base": "B", "prefix": "G"},
                "avg": 10.0,
                "min": 1.0,
                "max": 20.0,
            },
            "cpu_power": {"unit": {"base": "W"}, "avg": 200.0, "min": 100.0, "max": 300.0},
        },
    }
    doc.update(overrides)
    return doc


def job_folder(root: Path, doc: dict[str, Any]) -> Path:
    """The folder of the job described by meta document ``doc`` below ``root``."""
    return root / JobRef(doc["cluster"], doc["jobId"], doc["startTime"]).directory


def write_archive(
    root: Path, metas: Iterable[dict[str, Any]], cluster: dict[str, Any] | None = None
) -> Path:
    """A file archive at ``root``: version.txt, one cluster.json, a meta.json per job
    (without metric data: an import reads meta data only)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "version.txt").write_text("3\n")
    cluster = cluster or cluster_document()
    (root / cluster["name"]).mkdir(exist_ok=True)
    (root / cluster["name"] / "cluster.json").write_bytes(orjson.dumps(cluster))
    for doc in metas:
        folder = job_folder(root, doc)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "meta.json").write_bytes(orjson.dumps(doc))
    return root


@pytest.fixture
def job_db(tmp_path: Path) -> Iterator[Database]:
    """A new, empty SQLite job database."""
    db = open_database(f"sqlite:///{tmp_path / 'job.db'}")
    with contextlib.closing(db):
        yield db


@pytest.fixture
def open_archive_at() -> Iterator[Callable[[Path], JobArchive]]:
    """``open_archive_at(path)``: the archive at ``path``, closed after the test."""
    opened: list[JobArchive] = []

    def build(path: Path) -> JobArchive:
        opened.append(open_archive_url(str(path)))
        return opened[-1]

    yield build
    for archive in opened:
        archive.close()


@pytest.fixture
def cluster() -> Cluster:
    """The made-up cluster of the synthetic archives (see :func:`cluster_document`)."""
    return Cluster.from_json(cluster_document())


MetaDocument = Callable[..., dict[str, Any]]
WriteArchive = Callable[..., Path]


@pytest.fixture
def meta_doc() -> MetaDocument:
    """``meta_doc(n, **overrides)``: meta.json (a dict) of synthetic job ``n``."""
    return meta_document


@pytest.fixture
def make_archive(tmp_path: Path) -> WriteArchive:
    """``make_archive(metas, cluster=None, name="archive")``: write a file archive below
    ``tmp_path`` holding the made-up cluster (or ``cluster``) and the jobs ``metas``."""

    def build(
        metas: Iterable[dict[str, Any]],
        cluster: dict[str, Any] | None = None,
        name: str = "archive",
    ) -> Path:
        return write_archive(tmp_path / name, metas, cluster)

    return build


# --- job lifecycle: databases on every backend, an archive with the demo clusters ----------


@pytest.fixture
def demo_archive() -> Iterator[JobArchive]:
    """A new in-memory job archive holding the demo clusters (fritz, alex) and no jobs."""
    name = f"lifecycle-{uuid.uuid4().hex}"
    archive = open_archive_url(f"memory://{name}")
    for demo in demo_clusters():
        archive.store_cluster(demo)
    yield archive
    archive.close()
    fsspec.filesystem("memory").rm(f"/{name}", recursive=True)


@pytest.fixture
def dead_store() -> Iterator[str]:
    """The URL of a metric store that is down: a bound port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
