"""The statistics queries over the seeded jobs, checked against sums computed here; the
job comparison's statistics of a running job against the samples of the metric store."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from cc_backend.domain.job import Job, JobState
from cc_backend.server import Backends
from tests.metric_lines import combine, node_samples, pick, recent_start, to_payload
from tests.web.graphql.conftest import PEOPLE, GraphQL, Seeded

STATISTICS = """
query ($filter: [JobFilter!], $groupBy: Aggregate, $sortBy: SortByAggregate) {
  jobsStatistics(filter: $filter, groupBy: $groupBy, sortBy: $sortBy, numDurationBins: "1h") {
    id totalJobs totalUsers runningJobs totalNodes totalCores totalAccs
    totalWalltime totalNodeHours totalCoreHours
    histDuration { value count } histNumNodes { value count }
  }
}
"""


def _all_jobs(backends: Backends) -> list[Job]:
    return backends.jobs.query(actor=None).items


def _visible(backends: Backends, role: str) -> list[Job]:
    person = PEOPLE[role]
    assert person is not None
    return backends.jobs.query(actor=person).items


def _hours(jobs: list[Job], weight: str) -> int:
    return sum(j.duration * getattr(j, weight) for j in jobs) // 3600


@pytest.mark.parametrize("role", ["admin", "user", "manager"])
async def test_totals_are_those_of_the_visible_jobs(
    gql: GraphQL, seeded: Seeded, backends: Backends, role: str
) -> None:
    jobs = _visible(backends, role)
    [row] = (await gql(STATISTICS, role=role)).ok()["jobsStatistics"]

    assert row["totalJobs"] == len(jobs)
    assert row["totalUsers"] == len({j.user for j in jobs})
    assert row["runningJobs"] == sum(j.job_state is JobState.RUNNING for j in jobs)
    assert row["totalNodes"] == sum(j.num_nodes for j in jobs)
    assert row["totalCores"] == sum(j.num_hwthreads for j in jobs)
    finished = [j for j in jobs if j.job_state is not JobState.RUNNING]
    assert row["totalNodeHours"] >= _hours(finished, "num_nodes")


async def test_histograms_of_all_jobs(gql: GraphQL, seeded: Seeded, backends: Backends) -> None:
    jobs = _all_jobs(backends)
    [row] = (await gql(STATISTICS)).ok()["jobsStatistics"]

    nodes = Counter(j.num_nodes for j in jobs)
    assert {p["value"]: p["count"] for p in row["histNumNodes"]} == dict(nodes)
    durations = row["histDuration"]
    assert [p["value"] for p in durations[:3]] == [3600, 7200, 10800]
    finished = [j for j in jobs if j.job_state is not JobState.RUNNING]
    in_first_hour = sum(1 for j in finished if j.duration < 3600)
    assert durations[0]["count"] >= in_first_hour


async def test_grouped_by_user_sorted_by_jobs(
    gql: GraphQL, seeded: Seeded, backends: Backends
) -> None:
    variables: dict[str, Any] = {"groupBy": "USER", "sortBy": "TOTALJOBS"}
    rows = (await gql(STATISTICS, variables)).ok()["jobsStatistics"]

    per_user = Counter(j.user for j in _all_jobs(backends))
    assert {r["id"]: r["totalJobs"] for r in rows} == dict(per_user)
    assert [r["totalJobs"] for r in rows] == sorted(per_user.values(), reverse=True)
    assert all(r["histDuration"] == [] for r in rows)


async def test_a_filter_narrows_the_totals(
    gql: GraphQL, seeded: Seeded, backends: Backends
) -> None:
    variables = {"filter": [{"cluster": {"eq": "fritz"}}, {"state": ["completed"]}]}
    [row] = (await gql(STATISTICS, variables)).ok()["jobsStatistics"]

    expected = [
        j for j in _all_jobs(backends) if j.cluster == "fritz" and j.job_state is JobState.COMPLETED
    ]
    assert row["totalJobs"] == len(expected)
    assert row["totalWalltime"] == sum(j.duration for j in expected) // 3600


async def test_footprints_list_every_job_with_its_weights(
    gql: GraphQL, seeded: Seeded, backends: Backends
) -> None:
    query = """
    { jobsFootprints(metrics: ["cpu_load"]) {
        timeWeights { nodeHours coreHours }
        metrics { metric data }
    } }
    """
    found = (await gql(query)).ok()["jobsFootprints"]

    [metric] = found["metrics"]
    assert metric["metric"] == "cpu_load"
    assert len(metric["data"]) == len(found["timeWeights"]["nodeHours"])


async def test_a_bad_histogram_bin_name_is_bad_input(gql: GraphQL, seeded: Seeded) -> None:
    query = '{ jobsStatistics(numDurationBins: "7d") { histDuration { value } } }'
    assert (await gql(query)).codes == ["BAD_USER_INPUT"]


METRIC_STATS = """
query ($filter: [JobFilter!], $metrics: [String!]) {
  jobsMetricStats(filter: $filter, metrics: $metrics) {
    id jobId startTime duration cluster subCluster numNodes numHWThreads numAccelerators
    stats { name data { avg min max } }
  }
}
"""


def _ramp_of_bandwidth(metric: str, host: str, position: int, step: int) -> float:
    """2 GB/s per socket plus the step, for every metric asked."""
    del metric, host, position
    return 2.0 + step


@pytest.mark.parametrize(("role", "sees"), [("admin", True), ("user", True), ("manager", False)])
async def test_job_metric_stats_give_running_jobs_the_statistics_of_the_metric_store(
    gql: GraphQL,
    seeded: Seeded,
    backends: Backends,
    make_job: Callable[..., Job],
    role: str,
    sees: bool,
) -> None:
    steps, host = 6, "f0150"
    start = recent_start(steps + 1)
    fritz = backends.clusters.get("fritz")
    samples = node_samples(fritz, host, ["mem_bw"], start, steps, value=_ramp_of_bandwidth)
    assert backends.metric_store is not None
    assert backends.metric_store.ingest(to_payload(samples)).rejected == 0
    job = make_job(user="alice", startTime=start, resources=[{"hostname": host}])
    running = backends.jobs.add(job)
    node = combine(pick(samples, metric="mem_bw"), "sum")
    only = [{"jobId": {"eq": str(job.job_id)}}]

    answer = (await gql(METRIC_STATS, {"filter": only, "metrics": ["mem_bw"]}, role=role)).ok()
    everything = (await gql(METRIC_STATS, {"metrics": ["mem_bw"]}, role=role)).ok()

    found = answer["jobsMetricStats"]
    if not sees:
        assert found == []
        return
    assert [row["id"] for row in found] == [running]
    mean = round(sum(node) / len(node), 2)
    wanted = {"avg": mean, "min": min(node), "max": max(node)}
    assert found[0]["stats"] == [{"name": "mem_bw", "data": wanted}]
    service = backends.job_metric_stats.job_metric_stats(actor=PEOPLE[role], metrics=["mem_bw"])
    rows = everything["jobsMetricStats"]
    assert [row["id"] for row in rows] == [j.id for j in service]
    assert [len(row["stats"]) for row in rows] == [len(j.stats) for j in service]


async def test_job_metric_stats_of_a_bad_metric_name_are_bad_input(
    gql: GraphQL, seeded: Seeded
) -> None:
    wanted = {"metrics": ["no such metric!"]}
    assert (await gql(METRIC_STATS, wanted)).codes == ["BAD_USER_INPUT"]
