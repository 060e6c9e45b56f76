"""The cache of decoded archive data: an LRU of jobs, read once however many ask at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from cc_backend.archive import JobArchive, open_archive_url
from cc_backend.demo.clusters import demo_clusters
from cc_backend.demo.large_job import node_scope_job
from cc_backend.domain.errors import InvalidInput
from cc_backend.domain.job import Job
from cc_backend.domain.jobdata import JobData
from cc_backend.metricdata.dispatch import ArchiveDataCache

START = 1_700_000_000


class CountingArchive:
    """A real file archive whose ``load_data`` counts its calls and, while ``gate`` is
    closed, waits in them (so that other callers arrive while a read is in progress)."""

    def __init__(self, archive: JobArchive) -> None:
        self.archive = archive
        self.reads = 0
        self.started = threading.Event()
        self.gate = threading.Event()
        self.gate.set()
        self.fail_with: Exception | None = None

    def load_data(self, job: Job) -> JobData:
        self.reads += 1
        self.started.set()
        assert self.gate.wait(10), "the test never opened the gate"
        if self.fail_with is not None:
            raise self.fail_with
        return self.archive.load_data(job)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.archive, name)


@pytest.fixture
def archived(tmp_path: Path) -> tuple[CountingArchive, list[Job]]:
    """A file archive holding three small jobs with node-scope data."""
    fritz = next(c for c in demo_clusters() if c.name == "fritz")
    archive = open_archive_url(str(tmp_path / "archive"))
    jobs = []
    for n in range(3):
        job, data = node_scope_job(
            fritz, job_id=100 + n, user="alice", hosts=["f0101"], start=START + n, duration=3600
        )
        archive.import_job(job, data)
        jobs.append(job)
    return CountingArchive(archive), jobs


def wait_until(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(0.001)


def cache_of(archive: CountingArchive, max_jobs: int = 64) -> ArchiveDataCache:
    return ArchiveDataCache(archive, max_jobs=max_jobs)  # type: ignore[arg-type]


def test_a_job_is_read_once_and_then_served_from_memory(
    archived: tuple[CountingArchive, list[Job]],
) -> None:
    archive, [job, *_] = archived
    cache = cache_of(archive)
    first = cache.load(job)
    assert cache.load(job) is first
    assert (archive.reads, cache.misses, cache.hits) == (1, 1, 1)


def test_the_least_recently_used_job_is_dropped_first(
    archived: tuple[CountingArchive, list[Job]],
) -> None:
    archive, [a, b, c] = archived
    cache = cache_of(archive, max_jobs=2)
    cache.load(a)
    cache.load(b)
    cache.load(a)  # b is now the least recently used
    cache.load(c)
    cache.load(a)
    assert archive.reads == 3
    cache.load(b)
    assert archive.reads == 4


def test_callers_arriving_during_a_read_wait_for_it_instead_of_reading_again(
    archived: tuple[CountingArchive, list[Job]],
) -> None:
    archive, [job, *_] = archived
    cache = cache_of(archive)
    archive.gate.clear()
    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(cache.load, job)
        assert archive.started.wait(10)
        others = [pool.submit(cache.load, job) for _ in range(3)]
        wait_until(lambda: cache.hits == 3)  # all three are waiting for the read
        archive.gate.set()
        results = [first.result(10), *(f.result(10) for f in others)]
    assert archive.reads == 1
    assert all(r is results[0] for r in results)
    assert cache.misses == 1


def test_a_failed_read_fails_its_waiters_and_is_not_remembered(
    archived: tuple[CountingArchive, list[Job]],
) -> None:
    archive, [job, *_] = archived
    cache = cache_of(archive)
    archive.gate.clear()
    archive.fail_with = InvalidInput("data.json: not a valid gzip file")
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(cache.load, job)
        assert archive.started.wait(10)
        waiter = pool.submit(cache.load, job)
        wait_until(lambda: cache.hits == 1)
        archive.gate.set()
        for future in (first, waiter):
            with pytest.raises(InvalidInput, match="not a valid gzip"):
                future.result(10)
    archive.fail_with = None
    assert cache.load(job) == archive.archive.load_data(job)  # read again, now it works
