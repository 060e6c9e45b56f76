"""The job comparison's statistics over finished and running jobs: running jobs' statistics
come from the site's built-in metric store, fed with line protocol as node agents send it,
and are checked against the archiver's rule applied here to the samples pushed."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from cc_backend.domain.errors import InvalidInput
from cc_backend.domain.filters import JobFilter
from cc_backend.domain.job import Job, MonitoringStatus
from cc_backend.domain.user import User
from cc_backend.metricdata.base import MetricDataRepository
from cc_backend.metricdata.ccms import CCMetricStoreData, HttpQueryTransport
from cc_backend.server import Backends
from cc_backend.services.job_metric_stats import JobMetricStats
from cc_backend.stats.statistics_results import JobStats
from tests.metric_lines import recent_start
from tests.services.running_lab import METRICS, STEPS, RunningJobsLab

ALICE = User.build("alice", ["user"])
LOG = "cc_backend.services.job_metric_stats"

Stats = dict[str, tuple[float, float, float]]


def sample_value(metric: str, host: str, position: int, step: int) -> float:
    """Per hardware thread 0.25 GFlop/s times (step + 1), per socket 2 GB/s (+1 per host
    number) plus the step: node sums that are exact in binary."""
    del position
    if metric == "flops_any":
        return 0.25 * (step + 1)
    return 2.0 + int(host[1:]) % 7 + step


class Lab(RunningJobsLab):
    """The running-jobs lab, with each pushed host's node series of each metric."""

    def sample(self, metric: str, host: str, position: int, step: int) -> float:
        return sample_value(metric, host, position, step)

    def expected(self, after: int, *hosts: str) -> Stats:
        """The archiver's statistics of a job on ``hosts`` from ``after`` steps on: the
        sum of the node averages over the node count, the extremes of the nodes."""
        result: Stats = {}
        for metric in METRICS:
            series = [self.node_series(h, metric)[after:] for h in hosts]
            avg = round(sum(sum(s) / len(s) for s in series) / len(hosts), 2)
            result[metric] = (avg, min(map(min, series)), max(map(max, series)))
        return result

    def service(
        self, metric_data: Callable[[str], MetricDataRepository] | None = None
    ) -> JobMetricStats:
        backends = self.backends
        return JobMetricStats(
            backends.job_statistics,
            backends.jobs,
            metric_data or backends.metric_data,
            archive=backends.archive,
            clock=lambda: self.now,
        )


def stats_by_job(found: list[JobStats]) -> dict[int, Stats]:
    return {j.id: {s.name: (s.data.avg, s.data.min, s.data.max) for s in j.stats} for j in found}


def user_is(name: str) -> JobFilter:
    return JobFilter.model_validate({"user": {"eq": name}})


@pytest.fixture
def lab(backends: Backends, make_job: Callable[..., Job]) -> Lab:
    return Lab(backends, make_job, recent_start(STEPS + 1))


def test_a_running_job_gets_the_statistics_of_its_samples(lab: Lab) -> None:
    job = lab.running("f0101", after=3)  # the node's first three samples are not the job's

    found = lab.service().job_metric_stats(actor=None, metrics=METRICS)

    assert stats_by_job(found) == {job: lab.expected(3, "f0101")}
    [row] = found
    assert [s.name for s in row.stats] == METRICS  # in the order asked for
    index_only = lab.backends.job_statistics.job_metric_stats(actor=None, metrics=METRICS)
    assert stats_by_job(index_only) == {job: {}}
    assert [dataclass_fields(j) for j in index_only] == [dataclass_fields(j) for j in found]


def dataclass_fields(job: JobStats) -> tuple[object, ...]:
    """Everything of a row but its statistics."""
    return (job.id, job.job_id, job.start_time, job.cluster, job.num_nodes, job.num_hwthreads)


def test_a_job_on_several_nodes_combines_them_as_the_archiver_does(lab: Lab) -> None:
    job = lab.running("f0102", "f0105", after=1)

    found = lab.service().job_metric_stats(actor=None, metrics=METRICS)

    assert stats_by_job(found)[job] == lab.expected(1, "f0102", "f0105")


def test_without_metrics_named_every_metric_with_samples_is_given(lab: Lab) -> None:
    job = lab.running("f0101")

    found = lab.service().job_metric_stats(actor=None)

    assert stats_by_job(found) == {job: lab.expected(0, "f0101")}  # nothing for metrics unfed


def test_finished_jobs_keep_the_statistics_of_the_index(lab: Lab) -> None:
    finished = lab.finished("f0120", [150.0, 40.0], [30.0, 80.0])
    running = lab.running("f0101")

    found = lab.service().job_metric_stats(actor=None, metrics=METRICS)

    index_only = lab.backends.job_statistics.job_metric_stats(actor=None, metrics=METRICS)
    assert stats_by_job(found)[finished] == stats_by_job(index_only)[finished]
    assert stats_by_job(found)[finished] == {
        "flops_any": (95.0, 40.0, 150.0),
        "mem_bw": (55.0, 30.0, 80.0),
    }
    assert stats_by_job(found)[running] == lab.expected(0, "f0101")
    assert [j.id for j in found] == [finished, running]  # by start time, as before


def test_archived_jobs_the_index_lacks_get_the_statistics_of_their_meta_data(
    lab: Lab,
) -> None:
    indexed = lab.finished("f0120", [150.0, 40.0], [30.0, 80.0])
    unindexed = lab.finished("f0121", [10.0, 30.0], [4.0, 8.0], indexed=False)
    lab.finished("f0122", [1.0, 1.0], [1.0, 1.0], indexed=False, user="bob")  # filtered out
    service = lab.service()

    found = stats_by_job(service.job_metric_stats([user_is("alice")], actor=None))

    assert found[unindexed] == {"flops_any": (20.0, 10.0, 30.0), "mem_bw": (6.0, 4.0, 8.0)}
    assert found[indexed] == {"flops_any": (95.0, 40.0, 150.0), "mem_bw": (55.0, 30.0, 80.0)}
    only_bandwidth = service.job_metric_stats([user_is("alice")], actor=None, metrics=["mem_bw"])
    assert stats_by_job(only_bandwidth)[unindexed] == {"mem_bw": (6.0, 4.0, 8.0)}
    assert len(found) == 2


def test_finished_jobs_without_archived_meta_data_keep_no_statistics(lab: Lab) -> None:
    def finished(host: str, status: MonitoringStatus) -> int:
        job = lab.make_job(
            jobState="completed",
            startTime=lab.start - 9000,
            resources=[{"hostname": host}],
            monitoringStatus=int(status),
        )
        return lab.backends.jobs.add(job)

    unmonitored = finished("f0121", MonitoringStatus.DISABLED)
    lost = finished("f0123", MonitoringStatus.ARCHIVING_SUCCESSFUL)  # not in the archive

    found = stats_by_job(lab.service().job_metric_stats(actor=None, metrics=METRICS))

    assert found == {unmonitored: {}, lost: {}}


def test_at_most_so_many_meta_data_files_are_read_per_request(
    lab: Lab, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    older = lab.finished("f0120", [1.0], [2.0], indexed=False)
    newer = lab.finished("f0121", [3.0], [4.0], indexed=False)
    monkeypatch.setattr("cc_backend.services.job_metric_stats.MAX_META_READS", 1)

    with caplog.at_level(logging.INFO, logger=LOG):
        found = stats_by_job(lab.service().job_metric_stats(actor=None, metrics=METRICS))

    assert found == {older: {}, newer: {"flops_any": (3.0, 3.0, 3.0), "mem_bw": (4.0, 4.0, 4.0)}}
    assert "2 finished job(s) without statistics in the index" in caplog.text


def test_filters_and_visibility_apply_to_running_jobs(lab: Lab) -> None:
    mine = lab.running("f0101")
    bobs = lab.running("f0102", user="bob", project="project-b")
    unmonitored = lab.running("f0103", monitoringStatus=int(MonitoringStatus.DISABLED))
    service = lab.service()

    as_alice = stats_by_job(service.job_metric_stats(actor=ALICE, metrics=METRICS))
    assert as_alice == {mine: lab.expected(0, "f0101"), unmonitored: {}}
    only_bob = service.job_metric_stats([user_is("bob")], actor=None, metrics=METRICS)
    assert stats_by_job(only_bob) == {bobs: lab.expected(0, "f0102")}
    assert service.job_metric_stats([user_is("bob")], actor=ALICE, metrics=METRICS) == []
    elsewhere = JobFilter.model_validate({"cluster": {"eq": "alex"}})
    assert service.job_metric_stats([elsewhere], actor=None, metrics=METRICS) == []


def test_a_metric_store_that_is_down_leaves_its_running_jobs_without_statistics(
    lab: Lab, dead_store: str, caplog: pytest.LogCaptureFixture
) -> None:
    finished = lab.finished("f0120", [150.0, 40.0], [30.0, 80.0])
    first = lab.running("f0101")
    second = lab.running("f0102", after=5)
    on_alex = lab.running("a0101", cluster="alex")
    dead = CCMetricStoreData(lab.backends.clusters.get, HttpQueryTransport(dead_store, timeout=5.0))
    alive = lab.backends.metric_data
    service = lab.service(lambda cluster: dead if cluster == "fritz" else alive(cluster))

    with caplog.at_level(logging.INFO, logger=LOG):
        found = stats_by_job(service.job_metric_stats(actor=None, metrics=METRICS))
        again = stats_by_job(service.job_metric_stats(actor=None, metrics=METRICS))

    assert (found[first], found[second]) == ({}, {})
    assert found[on_alex] == lab.expected(0, "a0101")
    assert found[finished]
    assert again == found
    warnings = [r for r in caplog.records if r.name == LOG]
    assert len(warnings) == 1  # logged once, not per request or per job
    assert warnings[0].levelno == logging.WARNING
    assert "2 running job(s) of cluster fritz without statistics" in warnings[0].getMessage()


def test_a_bad_metric_name_is_rejected_before_any_store_is_asked(
    lab: Lab, dead_store: str, caplog: pytest.LogCaptureFixture
) -> None:
    lab.running("f0101")
    dead = CCMetricStoreData(lab.backends.clusters.get, HttpQueryTransport(dead_store, timeout=5.0))
    service = lab.service(lambda _cluster: dead)

    with caplog.at_level(logging.INFO, logger=LOG), pytest.raises(InvalidInput):
        service.job_metric_stats(actor=None, metrics=["no such metric!"])

    assert not [r for r in caplog.records if r.name == LOG]


def test_the_sites_service_gives_running_jobs_their_statistics(lab: Lab) -> None:
    job = lab.running("f0101")

    found = lab.backends.job_metric_stats.job_metric_stats(actor=None, metrics=METRICS)

    assert stats_by_job(found) == {job: lab.expected(0, "f0101")}
