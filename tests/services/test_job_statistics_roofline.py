"""The roofline heatmap of time steps: every node time step of every matching archived job,
from the counts the statistics index keeps per job, against cc-backend's binning of the raw
time steps (computed here in plain Python)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cc_backend.archive import JobArchive, open_archive_url
from cc_backend.demo import demo_clusters
from cc_backend.domain.errors import InvalidInput
from cc_backend.domain.filters import JobFilter
from cc_backend.domain.job import Job, MonitoringStatus
from cc_backend.domain.jobdata import JobData
from cc_backend.domain.user import User
from cc_backend.repository.database import Database
from cc_backend.repository.jobs import JobRepository
from cc_backend.services.clusters import ClusterCatalog
from cc_backend.services.job_statistics import JobStatistics
from cc_backend.stats import ArchiveIndex, open_archive_index
from cc_backend.stats.statistics_results import RooflineGrid
from tests.stats.test_index_roofline import make_format_1
from tests.stats.test_roofline_cells import cc_backend_tiles

NOW = 1_700_100_000
#: cc-backend's x axis and a y axis aligned with the fine grid: binned exactly.
GRID = RooflineGrid(rows=50, cols=50, min_x=0.01, min_y=1.0, max_x=1000.0, max_y=1e4)
ALICE = User.build("alice", ["user"])

Points = list[tuple[float, float]]


def node_metric(series: dict[str, list[float]], base: str) -> dict[str, Any]:
    return {
        "node": {
            "unit": {"base": base, "prefix": "G"},
            "timestep": 60,
            "series": [{"hostname": h, "data": d} for h, d in series.items()],
        }
    }


def job_data(flops: dict[str, list[float]], bandwidth: dict[str, list[float]] | None) -> JobData:
    doc = {"flops_any": node_metric(flops, "F/s")}
    if bandwidth is not None:
        doc["mem_bw"] = node_metric(bandwidth, "B/s")
    return JobData.from_json(doc)


def points_of(flops: dict[str, list[float]], bandwidth: dict[str, list[float]]) -> Points:
    return [(f, b) for h in flops for f, b in zip(flops[h], bandwidth[h], strict=False)]


@dataclass
class Site:
    db: Database
    archive: JobArchive
    index: ArchiveIndex
    make_job: Callable[..., Job]
    ids: dict[str, int] = field(default_factory=dict)
    points: dict[str, Points] = field(default_factory=dict)

    def archived(
        self,
        name: str,
        flops: dict[str, list[float]],
        bandwidth: dict[str, list[float]] | None,
        **fields: Any,
    ) -> Job:
        """Store a finished job in the database and, with its metric data, in the archive."""
        hosts = [{"hostname": h} for h in flops]
        job = self.make_job(
            jobState="completed",
            duration=3600,
            numNodes=len(hosts),
            resources=hosts,
            monitoringStatus=int(MonitoringStatus.ARCHIVING_SUCCESSFUL),
            **fields,
        )
        self.ids[name] = db_id = JobRepository(self.db).add(job)
        meta = job.model_copy(update={"id": db_id})
        self.archive.import_job(meta, job_data(flops, bandwidth))
        self.points[name] = [] if bandwidth is None else points_of(flops, bandwidth)
        return meta

    def expected(self, *names: str) -> list[list[float]]:
        return cc_backend_tiles([p for n in names for p in self.points[n]], GRID)


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[JobArchive]:
    archive = open_archive_url(str(tmp_path / "archive"))
    archive.init()
    for cluster in demo_clusters():
        archive.store_cluster(cluster)
    yield archive
    archive.close()


@pytest.fixture
def site(
    job_db: Database, archive: JobArchive, tmp_path: Path, make_job: Callable[..., Job]
) -> Site:
    """alice: a one-node and a two-node job, and one without mem_bw; bob: one job; alice
    also one running job and one with monitoring disabled. The index is built from the
    archive."""
    built = Site(job_db, archive, open_archive_index(archive, str(tmp_path / "index")), make_job)
    built.archived("a1", {"f0101": [150.0, 150.0, 40.0, 2.5]}, {"f0101": [30.0, 30.0, 80.0, 0.7]})
    built.archived(
        "a2",
        {"f0102": [900.0, 610.0, 88.0], "f0103": [333.0, 12.0]},
        {"f0102": [45.0, 3.3, 9.0], "f0103": [71.0, 0.05]},
    )
    built.archived("a_no_bw", {"f0104": [100.0, 200.0]}, None)
    built.archived("b1", {"f0105": [1200.0, 47.0]}, {"f0105": [110.0, 2.0]}, user="bob")
    repo = JobRepository(job_db)
    built.ids["running"] = repo.add(make_job())
    built.ids["disabled"] = repo.add(
        make_job(jobState="completed", duration=60, monitoringStatus=0)
    )
    built.index.build(archive.iter_jobs())
    return built


@pytest.fixture
def service(site: Site) -> Iterator[JobStatistics]:
    statistics = JobStatistics(
        site.db, ClusterCatalog(site.archive), site.index, clock=lambda: NOW, threads=1
    )
    yield statistics
    statistics.close()


def user_is(name: str) -> JobFilter:
    return JobFilter.model_validate({"user": {"eq": name}})


def test_every_time_step_of_every_matching_job_is_counted(
    site: Site, service: JobStatistics
) -> None:
    found = service.roofline_time_steps(GRID, actor=None)
    assert found.tiles == site.expected("a1", "a2", "b1")
    assert found.time_steps == 11
    assert found.jobs == 4  # a_no_bw is counted, with no time step
    assert found.uncounted == 1  # the running job: its time series are not loaded
    assert service.roofline_heatmap(GRID, actor=None) == found.tiles


def test_the_time_steps_of_two_jobs_add_up(site: Site, service: JobStatistics) -> None:
    one = np.array(service.roofline_heatmap(GRID, [user_is("bob")], actor=None))
    alice = np.array(service.roofline_heatmap(GRID, [user_is("alice")], actor=None))
    both = np.array(service.roofline_heatmap(GRID, actor=None))
    assert np.array_equal(one + alice, both)
    assert (one.sum(), alice.sum()) == (2, 9)


def test_filters_and_visibility_apply(site: Site, service: JobStatistics) -> None:
    assert service.roofline_heatmap(GRID, [user_is("bob")], actor=None) == site.expected("b1")
    seen = service.roofline_time_steps(GRID, actor=ALICE)
    assert seen.tiles == site.expected("a1", "a2")
    assert (seen.jobs, seen.uncounted) == (3, 1)
    two_nodes = JobFilter.model_validate({"numNodes": {"from": 2, "to": 2}})
    assert service.roofline_heatmap(GRID, [two_nodes], actor=ALICE) == site.expected("a2")


def test_a_job_without_flops_or_bandwidth_contributes_nothing(
    site: Site, service: JobStatistics
) -> None:
    job_id = JobRepository(site.db).get(site.ids["a_no_bw"]).job_id
    only = JobFilter.model_validate({"jobId": {"eq": str(job_id)}})
    found = service.roofline_time_steps(GRID, [only], actor=None)
    assert found.time_steps == 0
    assert (found.jobs, found.uncounted) == (1, 0)


def test_a_job_archived_after_the_build_counts_once_its_row_is_written(
    site: Site, service: JobStatistics
) -> None:
    before = service.roofline_time_steps(GRID, actor=None)
    meta = site.archived("late", {"f0106": [500.0, 500.0]}, {"f0106": [20.0, 20.0]})
    pending = service.roofline_time_steps(GRID, actor=None)
    assert pending.tiles == before.tiles
    assert pending.uncounted == before.uncounted + 1
    site.index.upsert([meta])  # what archiving does: the counts come from the archive
    after = service.roofline_time_steps(GRID, actor=None)
    assert after.tiles == site.expected("a1", "a2", "b1", "late")
    assert (after.jobs, after.uncounted) == (before.jobs + 1, before.uncounted)


def test_without_an_index_no_job_has_counted_time_steps(site: Site) -> None:
    statistics = JobStatistics(site.db, ClusterCatalog(site.archive), None, clock=lambda: NOW)
    try:
        found = statistics.roofline_time_steps(GRID, actor=None)
    finally:
        statistics.close()
    assert found.time_steps == 0
    assert (found.jobs, found.uncounted) == (0, 5)


@pytest.mark.parametrize(
    "grid",
    [
        RooflineGrid(0, 5, 0.01, 1.0, 100.0, 1000.0),
        RooflineGrid(5, 5, 0.0, 1.0, 100.0, 1000.0),
        RooflineGrid(5, 5, 10.0, 1.0, 1.0, 1000.0),
    ],
)
def test_a_bad_grid_is_invalid_input(service: JobStatistics, grid: RooflineGrid) -> None:
    with pytest.raises(InvalidInput):
        service.roofline_time_steps(grid, actor=None)


def test_an_index_of_format_1_answers_with_its_jobs_uncounted(site: Site) -> None:
    make_format_1(site.index)
    statistics = JobStatistics(
        site.db, ClusterCatalog(site.archive), site.index, clock=lambda: NOW, threads=1
    )
    try:
        found = statistics.roofline_time_steps(GRID, actor=None)
        totals = statistics.totals(actor=None)
    finally:
        statistics.close()
    assert found.time_steps == 0
    assert (found.jobs, found.uncounted) == (0, 5)
    assert totals.total_jobs == 6
