"""The roofline heatmap over finished and running jobs: running jobs' time steps come from
the site's built-in metric store, fed with line protocol as node agents send it, and are
checked against cc-backend's binning of the node values computed here from the samples."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from cc_backend.domain.errors import InvalidInput
from cc_backend.domain.filters import JobFilter
from cc_backend.domain.job import Job, MonitoringStatus
from cc_backend.domain.user import User
from cc_backend.metricdata.base import MetricDataRepository
from cc_backend.metricdata.ccms import CCMetricStoreData, HttpQueryTransport
from cc_backend.metricdata.registry import MetricDataSources
from cc_backend.server import Backends
from cc_backend.services.roofline_heatmap import RooflineHeatmaps
from cc_backend.stats.statistics_results import RooflineGrid
from tests.metric_lines import (
    TIMESTEP,
    recent_start,
)
from tests.services.running_lab import STEPS, RunningJobsLab
from tests.stats.test_roofline_cells import cc_backend_tiles

#: cc-backend's x axis and a y axis aligned with the fine grid: binned exactly.
GRID = RooflineGrid(rows=50, cols=50, min_x=0.01, min_y=1.0, max_x=1000.0, max_y=1e4)
ALICE = User.build("alice", ["user"])
LOG = "cc_backend.services.roofline_heatmap"

Points = list[tuple[float, float]]


def sample_value(metric: str, host: str, position: int, step: int) -> float:
    """Per hardware thread 0.5 GFlop/s times (step + 1), per socket 2 GB/s (+1 per host
    number), so that every time step of every host lies elsewhere in the plane."""
    del position
    if metric == "flops_any":
        return 0.5 * (step + 1)
    return 2.0 + int(host[1:]) % 7


@dataclass
class Lab(RunningJobsLab):
    """The running-jobs lab, with the node time steps of each host (pushed or archived)."""

    archived: dict[str, Points] = field(default_factory=dict)

    @property
    def points(self) -> dict[str, Points]:
        """(flops, bandwidth) per time step of every host pushed or archived."""
        pushed = {host: node_points(self, host) for host in self.samples}
        return {**pushed, **self.archived}

    def sample(self, metric: str, host: str, position: int, step: int) -> float:
        return sample_value(metric, host, position, step)

    def finished(self, host: str, flops: list[float], bandwidth: list[float], **fields: Any) -> int:
        self.archived[host] = list(zip(flops, bandwidth, strict=True))
        return super().finished(host, flops, bandwidth, **fields)

    def service(
        self,
        metric_data: Callable[[str], MetricDataRepository] | None = None,
        lookback: float | None = None,
    ) -> RooflineHeatmaps:
        backends = self.backends
        return RooflineHeatmaps(
            backends.job_statistics,
            backends.jobs,
            metric_data or backends.metric_data,
            lookback=lookback,
            clock=lambda: self.now,
        )


def node_points(lab: RunningJobsLab, host: str) -> Points:
    """(flops, bandwidth) per time step of ``host``: the store sums both over the node."""
    flops, bandwidth = lab.node_series(host, "flops_any"), lab.node_series(host, "mem_bw")
    return list(zip(flops, bandwidth, strict=True))


def expected(*parts: Points) -> list[list[float]]:
    return cc_backend_tiles([p for part in parts for p in part], GRID)


def user_is(name: str) -> JobFilter:
    return JobFilter.model_validate({"user": {"eq": name}})


@pytest.fixture
def lab(backends: Backends, make_job: Callable[..., Job]) -> Lab:
    return Lab(backends, make_job, recent_start(STEPS + 1))


def test_a_running_job_adds_exactly_its_time_steps(lab: Lab) -> None:
    lab.running("f0101", after=3)  # the node's first three samples are not the job's
    service = lab.service()

    found = service.roofline_time_steps(GRID, actor=None)

    assert found.tiles == expected(lab.points["f0101"][3:])
    assert found.time_steps == STEPS - 3
    assert (found.jobs, found.uncounted) == (1, 0)
    index_only = lab.backends.job_statistics.roofline_time_steps(GRID, actor=None)
    assert (index_only.time_steps, index_only.jobs, index_only.uncounted) == (0, 0, 1)
    assert service.roofline_heatmap(GRID, actor=None) == found.tiles


def test_a_node_shared_by_two_running_jobs_counts_for_each(lab: Lab) -> None:
    first = lab.running("f0101", shared="multi_user")
    second = lab.running("f0101", after=4, shared="multi_user", user="bob")
    service = lab.service()

    found = service.roofline_time_steps(GRID, actor=None)

    samples = lab.points["f0101"]
    assert found.tiles == expected(samples, samples[4:])
    assert (found.jobs, found.uncounted) == (2, 0)
    jobs = service.running_jobs(actor=None, now=lab.now)
    counts = service.count_running(jobs, now=lab.now)
    assert {i: c.steps for i, c in counts.per_job.items()} == {first: STEPS, second: STEPS - 4}


def test_jobs_on_several_hosts_take_each_hosts_samples_from_their_start(lab: Lab) -> None:
    lab.running("f0101")
    lab.running("f0102", after=2)
    lab.running("f0103", after=9)

    found = lab.service().roofline_time_steps(GRID, actor=None)

    points = lab.points
    assert found.tiles == expected(points["f0101"], points["f0102"][2:], points["f0103"][9:])
    assert found.time_steps == STEPS + STEPS - 2 + 1


def test_finished_and_running_jobs_add_up(lab: Lab) -> None:
    lab.finished("f0120", [150.0, 150.0, 40.0], [30.0, 30.0, 80.0], user="bob")
    lab.running("f0101", after=1)
    service = lab.service()

    found = service.roofline_time_steps(GRID, actor=None)
    finished = lab.backends.job_statistics.roofline_time_steps(GRID, actor=None)
    running = service.roofline_time_steps(GRID, [user_is("alice")], actor=None)

    assert found.tiles == expected(lab.points["f0120"], lab.points["f0101"][1:])
    assert np.array_equal(np.array(found.tiles), np.array(finished.tiles) + np.array(running.tiles))
    assert (found.time_steps, found.jobs, found.uncounted) == (3 + STEPS - 1, 2, 0)
    assert (finished.jobs, finished.uncounted) == (1, 1)


def test_filters_and_visibility_apply_to_running_jobs(lab: Lab) -> None:
    lab.running("f0101")
    lab.running("f0102", user="bob", project="project-b")
    lab.running("f0103", monitoringStatus=int(MonitoringStatus.DISABLED))
    service = lab.service()
    points = lab.points

    mine = service.roofline_time_steps(GRID, actor=ALICE)
    assert mine.tiles == expected(points["f0101"])
    assert (mine.jobs, mine.uncounted) == (1, 0)  # a job without monitoring is in neither
    bobs = service.roofline_time_steps(GRID, [user_is("bob")], actor=None)
    assert bobs.tiles == expected(points["f0102"])
    assert service.roofline_time_steps(GRID, [user_is("bob")], actor=ALICE).time_steps == 0
    finished_only = JobFilter.model_validate({"state": ["completed"]})
    assert service.roofline_time_steps(GRID, [finished_only], actor=None).jobs == 0
    elsewhere = JobFilter.model_validate({"cluster": {"eq": "alex"}})
    assert service.roofline_time_steps(GRID, [elsewhere], actor=None).jobs == 0


def test_samples_before_the_full_hour_before_the_lookback_are_not_asked_for(
    backends: Backends, make_job: Callable[..., Job]
) -> None:
    hour = (int(time.time()) // 3600 - 1) * 3600
    # 50 samples from half an hour before that full hour: "now" is 20 minutes after it.
    lab = Lab(backends, make_job, start=hour - 1800, steps=50)
    lab.running("f0101")

    found = lab.service(lookback=10 * TIMESTEP).roofline_time_steps(GRID, actor=None)

    assert found.tiles == expected(lab.points["f0101"][30:])
    assert (found.time_steps, found.jobs, found.uncounted) == (20, 1, 0)


def dead_http_store(lab: Lab, url: str) -> Callable[[str], MetricDataRepository]:
    dead = CCMetricStoreData(lab.backends.clusters.get, HttpQueryTransport(url, timeout=5.0))
    return lambda cluster: dead if cluster == "fritz" else lab.backends.metric_data(cluster)


def store_not_running(lab: Lab, _url: str) -> Callable[[str], MetricDataRepository]:
    stopped = MetricDataSources(lab.backends.config, lab.backends.clusters.get, None)

    def source(cluster: str) -> MetricDataRepository:
        return stopped(cluster) if cluster == "fritz" else lab.backends.metric_data(cluster)

    return source


@pytest.mark.parametrize("broken", [dead_http_store, store_not_running])
def test_a_metric_store_that_is_down_leaves_its_running_jobs_out(
    lab: Lab,
    dead_store: str,
    broken: Callable[[Lab, str], Callable[[str], MetricDataRepository]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    lab.finished("f0120", [150.0, 40.0], [30.0, 80.0])
    lab.running("f0101")
    lab.running("f0102", after=5)
    lab.running("a0101", cluster="alex")
    service = lab.service(broken(lab, dead_store))

    with caplog.at_level(logging.INFO, logger=LOG):
        found = service.roofline_time_steps(GRID, actor=None)
        again = service.roofline_time_steps(GRID, actor=None)

    assert found.tiles == expected(lab.points["f0120"], lab.points["a0101"])
    assert (found.jobs, found.uncounted) == (2, 2)  # fritz's running jobs are not counted
    assert again == found
    warnings = [r for r in caplog.records if r.name == LOG]
    assert len(warnings) == 1  # logged once, not per request or per job
    assert warnings[0].levelno == logging.WARNING
    assert "2 running job(s) of cluster fritz not counted" in warnings[0].getMessage()


def test_a_bad_grid_is_rejected_before_any_store_is_asked(
    lab: Lab, dead_store: str, caplog: pytest.LogCaptureFixture
) -> None:
    lab.running("f0101")
    service = lab.service(dead_http_store(lab, dead_store))

    with caplog.at_level(logging.INFO, logger=LOG), pytest.raises(InvalidInput):
        service.roofline_time_steps(RooflineGrid(0, 5, 0.01, 1.0, 100.0, 1000.0), actor=None)

    assert not [r for r in caplog.records if r.name == LOG]


def test_the_sites_service_counts_running_jobs(lab: Lab) -> None:
    lab.running("f0101")

    found = lab.backends.roofline_heatmaps.roofline_time_steps(GRID, actor=None)

    assert found.tiles == expected(lab.points["f0101"])
    assert (found.jobs, found.uncounted) == (1, 0)
