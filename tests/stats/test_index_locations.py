"""The index at non-local fsspec locations: an in-memory filesystem and S3 (a moto server)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cc_backend.domain.filters import JobFilter
from cc_backend.domain.job import Job
from cc_backend.stats import ArchiveIndex, ArchiveStats
from tests.server_processes import free_port

Built = tuple[ArchiveIndex, ArchiveStats]


def rounded(value: Any) -> Any:
    """``value`` with dataclasses as tuples and floats rounded (sums depend on row order)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return rounded(dataclasses.astuple(value))
    if isinstance(value, (list, tuple)):
        return tuple(rounded(v) for v in value)
    return round(value, 6) if isinstance(value, float) else value


def exercise(index: ArchiveIndex, jobs: list[Job]) -> Any:
    """Build, update, query and compact ``index``; returns what the statistics said."""
    index.build(jobs[:300])
    index.upsert(jobs[300:400])
    index.remove(jobs[:20])
    stats = ArchiveStats(index)
    try:
        filters = [JobFilter.model_validate({"cluster": {"neq": "woody"}})]
        seen: list[Any] = [stats.totals(filters), stats.grouped("USER", filters)]
        index.compact()
        seen += [stats.totals(filters), stats.metric_histogram("flops_any", filters)]
    finally:
        stats.close()
    return rounded(seen)


def test_memory_filesystem_location(jobs: list[Job], new_index: Callable[..., Built]) -> None:
    index = ArchiveIndex(f"memory://stats-{uuid.uuid4().hex}/index")
    assert index.location.startswith("memory://")
    local, _ = new_index()
    seen = exercise(index, jobs)
    assert seen[0][1] > 0  # jobs
    assert seen == exercise(local, jobs)
    files = index.fs.ls(index.path, detail=False)
    assert any(str(f).endswith("manifest.json") for f in files)


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server on 127.0.0.1 (in this process) with a bucket ``stats``."""
    moto_server = pytest.importorskip("moto.server")
    s3fs = pytest.importorskip("s3fs")
    port = free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        fs = s3fs.S3FileSystem(key="test", secret="test", endpoint_url=endpoint)
        fs.mkdir("stats")
        yield endpoint
    finally:
        server.stop()


def test_s3_location(s3_endpoint: str, jobs: list[Job], new_index: Callable[..., Built]) -> None:
    index = ArchiveIndex(
        "s3://stats/archive-index",
        key="test",
        secret="test",
        endpoint_url=s3_endpoint,
        skip_instance_cache=True,
    )
    assert index.location == "s3://stats/archive-index"
    local, _ = new_index()
    seen = exercise(index, jobs)
    assert seen == exercise(local, jobs)
    names = [str(f).rsplit("/", 1)[-1] for f in index.fs.ls(index.path, detail=False)]
    assert "manifest.json" in names
