"""Archiving stopped jobs: from the built-in metric store into the archive and the database.

The site's real backends are used: the job database, the file archive and the built-in
metric store, fed with line protocol as node agents send it.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from cc_backend.config import load_config, load_secrets
from cc_backend.domain.cluster import MetricScope
from cc_backend.domain.errors import BackendUnavailable
from cc_backend.domain.job import Job, JobState, MonitoringStatus
from cc_backend.domain.user import User
from cc_backend.metricdata.ccms import CCMetricStoreData, HttpQueryTransport
from cc_backend.metricstore.models import ApiQueryRequest, ApiQueryResponse
from cc_backend.server import Backends, build_backends
from cc_backend.services.archiving import Archiver, RetryPolicy, archive_scopes
from cc_backend.services.requests import StopJobRequest
from tests.metric_lines import TIMESTEP, node_samples, to_payload

ADAPTER = User.build("adapter", ["api"])
HOST = "f0101"
#: Values pushed for every time step: node-scope metrics, and per hardware thread.
CPU_LOAD = 2.0
FLOPS_PER_THREAD = 1.5


def _now() -> int:
    return int(time.time()) // 60 * 60


def _constant(metric: str, _host: str, _position: int, _step: int) -> float:
    return CPU_LOAD if metric == "cpu_load" else FLOPS_PER_THREAD


def push_job_metrics(backends: Backends, host: str, start: int, stop: int) -> int:
    """Line protocol for ``host`` from ``start`` to ``stop`` (60 s steps): cpu_load per node
    and flops_any per hardware thread, constant; returns the number of lines stored."""
    fritz = backends.clusters.get("fritz")
    steps = (stop - start) // TIMESTEP + 1
    samples = node_samples(fritz, host, ["cpu_load", "flops_any"], start, steps, value=_constant)
    assert backends.metric_store is not None
    result = backends.metric_store.ingest(to_payload(samples))
    assert result.rejected == 0, result.errors[:3]
    return result.written


def start_and_stop(
    backends: Backends, make_job: Callable[..., Job], job_id: int, *, minutes: int = 30
) -> Job:
    """A one-node job on f0101 that ran the last ``minutes`` minutes, stopped (and queued)."""
    stop = _now()
    start = stop - 60 * minutes
    job = make_job(jobId=job_id, startTime=start, resources=[{"hostname": HOST}])
    backends.lifecycle.start_job(job, ADAPTER)
    request = StopJobRequest(job_id=job_id, cluster="fritz", stop_time=stop)
    return backends.lifecycle.stop_job(request, ADAPTER)


@pytest.fixture
def stopped_job(backends: Backends, make_job: Callable[..., Job]) -> Job:
    job = start_and_stop(backends, make_job, 4711)
    push_job_metrics(backends, HOST, job.start_time, job.start_time + job.duration)
    return job


def test_a_small_job_is_archived_at_node_and_core_scope(make_job: Callable[..., Job]) -> None:
    job = make_job(numNodes=8, resources=[{"hostname": f"f01{n:02d}"} for n in range(1, 9)])
    assert archive_scopes(job) == [MetricScope.NODE, MetricScope.CORE]
    big = job.model_copy(update={"num_nodes": 9, "num_acc": 4})
    assert archive_scopes(big) == [MetricScope.NODE, MetricScope.ACCELERATOR]


def test_a_stopped_job_is_archived_with_statistics_and_footprint(
    backends: Backends, stopped_job: Job
) -> None:
    assert [j.id for j in backends.archiving.drain()] == [stopped_job.id]

    outcome = backends.archiving.archive_job(stopped_job)

    assert outcome.status is MonitoringStatus.ARCHIVING_SUCCESSFUL
    stored = backends.jobs.get(stopped_job.id or 0)
    assert stored.monitoring_status is MonitoringStatus.ARCHIVING_SUCCESSFUL
    meta = backends.archive.load_meta(stored)
    assert meta.job_state is JobState.COMPLETED
    assert meta.statistics is not None
    assert meta.statistics["cpu_load"].avg == pytest.approx(CPU_LOAD)
    # flops_any is summed over the node's 72 hardware threads.
    assert meta.statistics["flops_any"].avg == pytest.approx(72 * FLOPS_PER_THREAD)
    data = backends.archive.load_data(stored)
    assert set(data["flops_any"]) == {MetricScope.NODE, MetricScope.CORE}
    cores = data["flops_any"][MetricScope.CORE]
    assert [s.id for s in cores.series] == [str(c) for c in range(72)]
    assert stored.footprint is not None
    assert stored.footprint.get("flops_any_avg") == pytest.approx(72 * FLOPS_PER_THREAD)
    assert stored.footprint == meta.footprint


def test_the_archived_job_is_read_back_from_the_archive(
    backends: Backends, stopped_job: Job
) -> None:
    live = backends.job_metric_data.load(stopped_job, ["cpu_load"])
    backends.archiving.archive_job(stopped_job)
    archived_job = backends.jobs.get(stopped_job.id or 0)
    assert backends.metric_store is not None
    backends.metric_store.free(_now() + 3600)  # the store forgets; the archive remembers

    archived = backends.job_metric_data.load(archived_job, ["cpu_load"])

    assert archived == live
    assert backends.job_metric_data.archive_cache.misses == 1
    backends.job_metric_data.load(archived_job, ["cpu_load"])
    assert backends.job_metric_data.archive_cache.hits == 1
    backends.job_metric_data.archive_cache.clear()
    assert backends.job_metric_data.load(archived_job, ["cpu_load"]) == live
    assert backends.job_metric_data.archive_cache.misses == 2


def _dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_dead_metric_store_is_retried_then_the_job_is_marked_failed(
    backends: Backends, stopped_job: Job, caplog: pytest.LogCaptureFixture
) -> None:
    dead = CCMetricStoreData(
        backends.clusters.get, HttpQueryTransport(f"http://127.0.0.1:{_dead_port()}", "t")
    )
    pauses: list[float] = []
    archiver = Archiver(
        backends.jobs,
        backends.tags,
        backends.archive,
        backends.clusters,
        lambda _cluster: dead,
        retry=RetryPolicy(attempts=3, first_delay=1.0, max_delay=60.0),
        sleep=pauses.append,
    )

    with caplog.at_level(logging.WARNING):
        outcome = archiver.archive_job(stopped_job)

    assert outcome.status is MonitoringStatus.ARCHIVING_FAILED
    assert outcome.attempts == 3
    assert pauses == [1.0, 2.0]
    assert "metric data unavailable" in (outcome.reason or "")
    stored = backends.jobs.get(stopped_job.id or 0)
    assert stored.monitoring_status is MonitoringStatus.ARCHIVING_FAILED
    assert not backends.archive.exists(stored)
    assert f"archiving job {stopped_job.id}" in caplog.text
    assert "failed after 3 attempt(s)" in caplog.text


class FlakyStore:
    """The built-in store's query API, unreachable for its first ``failures`` calls."""

    def __init__(self, backends: Backends, failures: int) -> None:
        assert backends.metric_store is not None
        self.query = backends.metric_store.query
        self.failures = failures
        self.calls = 0

    def __call__(self, request: ApiQueryRequest) -> ApiQueryResponse:
        self.calls += 1
        if self.calls <= self.failures:
            raise BackendUnavailable("connection refused")
        return self.query(request)


def test_a_transient_failure_is_retried_and_the_job_archived(
    backends: Backends, stopped_job: Job
) -> None:
    flaky = FlakyStore(backends, failures=2)
    source = CCMetricStoreData(backends.clusters.get, flaky)
    pauses: list[float] = []
    archiver = Archiver(
        backends.jobs,
        backends.tags,
        backends.archive,
        backends.clusters,
        lambda _cluster: source,
        sleep=pauses.append,
    )

    outcome = archiver.archive_job(stopped_job)

    assert (outcome.status, outcome.attempts, pauses) == (
        MonitoringStatus.ARCHIVING_SUCCESSFUL,
        3,
        [1.0, 2.0],
    )
    assert backends.archive.exists(stopped_job)


def test_a_job_of_an_unknown_cluster_fails_without_retries(
    backends: Backends, make_job: Callable[..., Job]
) -> None:
    db_id = backends.jobs.add(make_job(cluster="nowhere", jobState="completed", duration=60))
    job = backends.jobs.get(db_id)
    pauses: list[float] = []
    archiver = Archiver(
        backends.jobs,
        backends.tags,
        backends.archive,
        backends.clusters,
        backends.metric_data,
        sleep=pauses.append,
    )

    outcome = archiver.archive_job(job)

    assert outcome.status is MonitoringStatus.ARCHIVING_FAILED
    assert pauses == []
    assert "nowhere" in (outcome.reason or "")


def test_the_workers_archive_what_is_queued_and_stop_drains_the_queue(
    backends: Backends, make_job: Callable[..., Job]
) -> None:
    jobs = [start_and_stop(backends, make_job, 100 + n, minutes=10 + n) for n in range(5)]
    push_job_metrics(backends, HOST, min(j.start_time for j in jobs), _now())

    backends.archiving.start(recover=False)
    left = backends.archiving.stop(timeout=60)

    assert left == 0
    assert backends.archiving.archived == 5
    for job in jobs:
        stored = backends.jobs.get(job.id or 0)
        assert stored.monitoring_status is MonitoringStatus.ARCHIVING_SUCCESSFUL
        assert backends.archive.exists(stored)


def test_a_job_stopped_before_a_crash_is_archived_after_the_restart(
    api_site: Path, backends: Backends, stopped_job: Job
) -> None:
    assert backends.metric_store is not None
    backends.metric_store.checkpoint()
    # The process dies: the queue (held in memory) is lost, the database row is not.
    backends.close()
    config = load_config(api_site / "config.json")
    restarted = build_backends(config, load_secrets(api_site / "config.json"))
    try:
        queued = restarted.archiving.start()
        assert queued == 1
        assert restarted.archiving.wait_idle(timeout=60)
        stored = restarted.jobs.get(stopped_job.id or 0)
        assert stored.monitoring_status is MonitoringStatus.ARCHIVING_SUCCESSFUL
        meta = restarted.archive.load_meta(stored)
        assert meta.statistics is not None
        assert meta.statistics["cpu_load"].avg == pytest.approx(CPU_LOAD)
    finally:
        restarted.archiving.stop(timeout=5)
        restarted.close()


def test_a_full_queue_leaves_the_job_for_the_next_recovery(
    backends: Backends, stopped_job: Job, caplog: pytest.LogCaptureFixture
) -> None:
    tiny = Archiver(
        backends.jobs,
        backends.tags,
        backends.archive,
        backends.clusters,
        backends.metric_data,
        queue_size=1,
    )
    tiny.enqueue(stopped_job)
    with caplog.at_level(logging.WARNING):
        tiny.enqueue(stopped_job)

    assert len(tiny) == 1
    assert "archiving queue full" in caplog.text
    assert [j.id for j in tiny.drain()] == [stopped_job.id]
    assert tiny.recover() == 1
