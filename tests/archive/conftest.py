"""Fixtures of the archive tests: every backend over a fresh location, a real S3 server
(moto's, over HTTP on 127.0.0.1), builders of jobs with metric data, and direct access to
what a backend stored, to break it on purpose."""

from __future__ import annotations

import contextlib
import gzip
import itertools
import socket
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from cc_backend.archive import JobArchive, JobRef
from cc_backend.archive.fsspec_backend import FsspecArchive
from cc_backend.archive.layout import DATA_FILE, DATA_FILE_GZ, META_FILE, VERSION_FILE
from cc_backend.archive.registry import backend_class
from cc_backend.archive.sqlite_backend import SqliteArchive
from cc_backend.domain.cluster import Cluster, MetricScope
from cc_backend.domain.job import Job
from cc_backend.domain.jobdata import JobData, JobMetric, Series

BACKENDS = ["memory", "file", "sqlite", "s3"]
S3_KEYS = {"access_key": "testing", "secret_key": "testing", "region": "us-east-1"}

#: ``fresh(kind, init=True)``: an archive of ``kind`` over a new, empty location.
Fresh = Callable[..., JobArchive]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def unused_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on."""
    return free_port()


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """URL of a moto S3 server, running for the whole session."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(scope="session")
def s3_client(s3_endpoint: str) -> Any:
    """A boto3 client of the test server (to create buckets)."""
    return boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id=S3_KEYS["access_key"],
        aws_secret_access_key=S3_KEYS["secret_key"],
        region_name=S3_KEYS["region"],
    )


@pytest.fixture
def s3_bucket(s3_client: Any) -> Callable[[], str]:
    """``s3_bucket()``: the name of a new, empty bucket on the test server."""

    def create() -> str:
        name = f"test-{uuid.uuid4().hex[:16]}"
        s3_client.create_bucket(Bucket=name)
        return name

    return create


def s3_options(endpoint: str) -> dict[str, Any]:
    """Options of an S3 location on the test server."""
    return {"endpoint": endpoint, "use_path_style": True, **S3_KEYS}


@pytest.fixture
def fresh(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Fresh]:
    """``fresh(kind, init=True)``: an archive of ``kind`` over a new location; closed (and
    memory locations emptied) after the test."""
    made: list[JobArchive] = []
    counter = itertools.count(1)

    def build(kind: str, *, init: bool = True) -> JobArchive:
        n = next(counter)
        options: dict[str, Any] = {}
        if kind == "memory":
            location = f"memory://archive-test-{uuid.uuid4().hex}"
        elif kind == "file":
            location = str(tmp_path / f"archive-{n}")
        elif kind == "sqlite":
            location = str(tmp_path / f"archive-{n}.db")
        else:
            endpoint = request.getfixturevalue("s3_endpoint")
            bucket = request.getfixturevalue("s3_bucket")()
            location, options = f"s3://{bucket}/jobs", s3_options(endpoint)
        archive = backend_class(kind).from_location(location, **options)
        made.append(archive)
        if init:
            archive.init()
        return archive

    yield build
    for archive in made:
        archive.close()
        if archive.kind == "memory" and isinstance(archive, FsspecArchive):
            with contextlib.suppress(FileNotFoundError):
                archive.store.fs.rm(archive.store.root, recursive=True)


@pytest.fixture(params=BACKENDS)
def archive(request: pytest.FixtureRequest, fresh: Fresh) -> JobArchive:
    """An initialised, empty archive of each backend kind."""
    return fresh(request.param)


@pytest.fixture
def make_cluster() -> Callable[[str], Cluster]:
    """``make_cluster(name)``: a small valid cluster description."""
    return cluster_description


def cluster_description(name: str) -> Cluster:
    """A small valid cluster description called ``name``."""
    value = {"unit": {"base": "F/s", "prefix": "G"}, "value": 100}
    return Cluster.from_json(
        {
            "name": name,
            "metricConfig": [
                {
                    "name": metric,
                    "unit": {"base": "B/s", "prefix": "G"},
                    "scope": "node",
                    "aggregation": "sum",
                    "timestep": 60,
                    "peak": 100,
                    "normal": 50,
                    "caution": 20,
                    "alert": 10,
                }
                for metric in ("mem_bw", "flops_any")
            ],
            "subClusters": [
                {
                    "name": "main",
                    "nodes": "f[0001-0999]",
                    "processorType": "test CPU",
                    "socketsPerNode": 1,
                    "coresPerSocket": 2,
                    "threadsPerCore": 1,
                    "flopRateScalar": value,
                    "flopRateSimd": value,
                    "memoryBandwidth": value,
                    "topology": {"node": [0, 1], "socket": [[0, 1]], "memoryDomain": [[0, 1]]},
                }
            ],
        }
    )


def make_data(job: Job, samples: int = 10) -> JobData:
    """Metric data of ``job``: mem_bw per node and flops_any per core, with a gap (NaN)."""

    def series(host: str, scope_id: str | None, offset: float) -> Series:
        values: list[float | None] = [offset + i / 7 for i in range(samples)]
        values[samples // 2] = None
        return Series.model_validate({"hostname": host, "id": scope_id, "data": values})

    unit = {"base": "B/s", "prefix": "G"}
    node = JobMetric.model_validate(
        {"unit": unit, "timestep": 60, "series": [series(h, None, 1.0) for h in job.hostnames]}
    )
    cores = JobMetric.model_validate(
        {
            "unit": {"base": "F/s", "prefix": "G"},
            "timestep": 60,
            "series": [series(h, str(c), 2.0 + c) for h in job.hostnames for c in (0, 1)],
        }
    )
    return JobData({"mem_bw": {MetricScope.NODE: node}, "flops_any": {MetricScope.CORE: cores}})


@pytest.fixture
def archived_job(make_job: Callable[..., Job]) -> Callable[..., tuple[Job, JobData]]:
    """``archived_job(samples=10, **job_fields)``: a completed job with its metric data
    (10 samples encode below the compression threshold, 200 above it)."""

    def build(samples: int = 10, **fields: Any) -> tuple[Job, JobData]:
        job = make_job(jobState="completed", duration=3600, **fields)
        return job, make_data(job, samples)

    return build


class Raw:
    """What a backend stored, read and written behind the archive's back."""

    def __init__(self, archive: JobArchive) -> None:
        self.archive = archive

    def _sql(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        assert isinstance(self.archive, SqliteArchive)
        with sqlite3.connect(self.archive.path) as db:
            return db.execute(sql, params).fetchall()

    def location_of(self, ref: JobRef) -> str:
        """The location an ArchiveEntry of ``ref`` names."""
        if isinstance(self.archive, SqliteArchive):
            return f"{self.archive.location}#{ref}"
        return f"{self.archive.location}/{ref.directory}"

    def put(self, ref: JobRef, document: str, payload: bytes | None) -> None:
        """Replace a stored document: ``meta``, ``data`` (plain) or ``data.gz`` (gzipped);
        ``None`` removes the metric data."""
        if isinstance(self.archive, SqliteArchive):
            key = (ref.cluster, ref.job_id, ref.start_time)
            where = "WHERE cluster = ? AND job_id = ? AND start_time = ?"
            if document == "meta":
                self._sql(f"UPDATE jobs SET meta_json = ? {where}", (payload, *key))
            else:
                flag = document == "data.gz"
                self._sql(
                    f"UPDATE jobs SET data_json = ?, data_compressed = ? {where}",
                    (payload, flag, *key),
                )
            return
        assert isinstance(self.archive, FsspecArchive)
        store, folder = self.archive.store, ref.directory
        if document == "meta":
            assert payload is not None
            store.write(f"{folder}/{META_FILE}", payload)
            return
        store.remove([f"{folder}/{DATA_FILE}", f"{folder}/{DATA_FILE_GZ}"])
        if payload is not None:
            store.write(f"{folder}/{DATA_FILE_GZ if document == 'data.gz' else DATA_FILE}", payload)

    def put_file(self, rel: str, payload: bytes) -> None:
        """Write any file below the root of an fsspec archive."""
        assert isinstance(self.archive, FsspecArchive)
        self.archive.store.write(rel, payload)

    def data_form(self, ref: JobRef) -> str | None:
        """How the job's metric data is stored: 'gzip', 'plain' or None (absent)."""
        if isinstance(self.archive, SqliteArchive):
            rows = self._sql(
                "SELECT data_json, data_compressed FROM jobs"
                " WHERE cluster = ? AND job_id = ? AND start_time = ?",
                (ref.cluster, ref.job_id, ref.start_time),
            )
            if not rows or rows[0][0] is None:
                return None
            assert (rows[0][0][:2] == b"\x1f\x8b") == bool(rows[0][1])
            return "gzip" if rows[0][1] else "plain"
        assert isinstance(self.archive, FsspecArchive)
        files = self.archive.store.files(ref.directory)
        names = {rel.rsplit("/", 1)[-1] for rel in files}
        assert not {DATA_FILE, DATA_FILE_GZ} <= names, "both data.json and data.json.gz"
        if DATA_FILE_GZ in names:
            assert gzip.decompress(self.archive.store.read(f"{ref.directory}/{DATA_FILE_GZ}"))
            return "gzip"
        return "plain" if DATA_FILE in names else None

    def set_version(self, text: str) -> None:
        """Overwrite the stored layout version."""
        if isinstance(self.archive, SqliteArchive):
            self._sql("UPDATE metadata SET value = ? WHERE key = 'version'", (text,))
        else:
            self.put_file(VERSION_FILE, text.encode())

    def version(self) -> str:
        """The stored layout version."""
        if isinstance(self.archive, SqliteArchive):
            return str(self._sql("SELECT value FROM metadata WHERE key = 'version'")[0][0])
        assert isinstance(self.archive, FsspecArchive)
        return self.archive.store.read(VERSION_FILE).decode()

    def add_foreign_content(self) -> None:
        """Make the (uninitialised) location hold something that is not a job archive."""
        if isinstance(self.archive, SqliteArchive):
            self._sql("CREATE TABLE job (id INTEGER PRIMARY KEY)")
        else:
            self.put_file("notes.txt", b"not an archive")


@pytest.fixture
def raw() -> Callable[[JobArchive], Raw]:
    """``raw(archive)``: a :class:`Raw` view of what ``archive`` stored."""
    return Raw
