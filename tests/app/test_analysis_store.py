"""The analysis page's store against a real site (in-process client): statistics over every
matching job of the page's cluster, what it derives from the per-job averages, and how
changes and failures show. The roofline heatmap of archived time steps is specified in
test_analysis_roofline.py."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from app.filters import JobQuery
from app.stores.analysis import (
    CATEGORIES,
    HISTOGRAM_METRICS_KEY,
    SCATTER_METRICS_KEY,
    AnalysisStore,
    roofline_grid,
    scatter_of,
    weighted_histogram,
)
from cc_backend.client import HttpClient, LocalClient
from cc_backend.domain.job import Job
from cc_backend.domain.user import User
from cc_backend.server import Backends
from tests.conftest import Api

NOW = int(time.time())


def footprint(flops: float, bandwidth: float, load: float) -> dict[str, float]:
    return {"flops_any_avg": flops, "mem_bw_avg": bandwidth, "cpu_load_avg": load}


@pytest.fixture
def jobs(backends: Backends, make_job: Callable[..., Job]) -> dict[str, int]:
    """On fritz: alice three finished jobs (one on four nodes) and one running, carol one
    finished job in project-c; on alex: bob one finished job (never part of fritz's
    analysis). sue is support."""
    backends.users.add(User.build("sue", ["support"]))
    backends.users.add(User.build("carol", ["user"], name="Carol"))

    def add(**fields: Any) -> int:
        return backends.jobs.add(make_job(**fields))

    done = {"jobState": "completed"}
    hosts = [{"hostname": f"f02{i:02d}"} for i in range(4)]
    return {
        "a1": add(startTime=NOW - 9000, duration=3600, footprint=footprint(100, 50, 10), **done),
        "a2": add(
            startTime=NOW - 8000,
            duration=7200,
            numNodes=4,
            resources=hosts,
            footprint=footprint(400, 20, 60),
            **done,
        ),
        "a3": add(startTime=NOW - 7000, duration=120, footprint=footprint(10, 5, 1), **done),
        "running": add(startTime=NOW - 600),
        "c1": add(
            user="carol",
            project="project-c",
            startTime=NOW - 6000,
            duration=1800,
            footprint=footprint(200, 100, 30),
            **done,
        ),
        "bob": add(
            user="bob",
            project="project-b",
            cluster="alex",
            subCluster="a40",
            resources=[{"hostname": "a0101"}],
            startTime=NOW - 3000,
            duration=2400,
            footprint=footprint(900, 90, 5),
            **done,
        ),
    }


def _store(backends: Backends, **params: Any) -> AnalysisStore:
    client = LocalClient(backends, backends.users.get("sue"))
    return AnalysisStore(client, cluster="fritz", **params)


async def test_the_analysis_covers_every_job_of_the_cluster(
    backends: Backends, jobs: dict[str, int]
) -> None:
    store = _store(backends)
    await store.load()

    assert store.error == ""
    assert store.loaded
    assert store.summary is not None
    assert store.summary.total_jobs == 5  # not bob's job on alex
    assert store.summary.short_jobs == 2  # a3 (2 minutes) and the running job
    assert store.summary.total_node_hours == (3600 + 4 * 7200 + 120 + 1800 + 600) // 3600
    assert store.histograms is not None
    assert {(p.value, p.count) for p in store.histograms.num_nodes} == {(1, 4), (4, 1)}
    assert sum(p.count for p in store.histograms.duration) == 5


async def test_the_top_lists_rank_by_the_chosen_category(
    backends: Backends, jobs: dict[str, int]
) -> None:
    store = _store(backends)
    await store.load()

    assert store.category == "nodeHours"
    assert [r.id for r in store.top_users] == ["alice", "carol"]
    assert [r.id for r in store.top_projects] == ["project-a", "project-c"]
    assert store.top_users[1].name == "Carol"

    await store.update(category="jobs")

    assert [CATEGORIES["jobs"].value(r) for r in store.top_users] == [4, 1]


async def test_metric_histograms_weigh_each_job_by_its_node_hours(
    backends: Backends, jobs: dict[str, int]
) -> None:
    store = _store(backends)
    await store.load()

    assert store.histogram_metrics == ["flops_any", "mem_bw", "mem_used"]  # cc-backend's default
    by_metric = {h.metric: h for h in store.metric_histograms}
    flops = by_metric["flops_any"]
    assert flops.total_jobs == 4  # the running job has no averages
    assert flops.edges[0] == 10
    assert flops.edges[-1] == 400
    assert math.isclose(float(flops.node_hours.sum()), (3600 + 4 * 7200 + 120 + 1800) / 3600)
    assert math.isclose(float(flops.node_hours[-1]), 8.0)  # the four-node job, two hours
    assert by_metric["mem_used"].total_jobs == 0  # a footprint of the maximum, no averages


async def test_scatter_plots_use_every_job_with_averages(
    backends: Backends, jobs: dict[str, int]
) -> None:
    store = _store(backends)
    await store.load()

    pairs = [(s.x_metric, s.y_metric) for s in store.scatters]
    assert pairs == [("flops_any", "mem_bw"), ("flops_any", "cpu_load"), ("cpu_load", "mem_bw")]
    first = store.scatters[0]
    assert not first.binned
    assert sorted(zip(first.x.tolist(), first.y.tolist(), strict=True)) == [
        (10, 5),
        (100, 50),
        (200, 100),
        (400, 20),
    ]


async def test_the_roofline_heatmap_counts_time_steps_not_job_averages(
    backends: Backends, jobs: dict[str, int]
) -> None:
    store = _store(backends)
    await store.load()

    assert store.heatmap is not None
    assert store.heatmap.grid == roofline_grid(backends.clusters.get("fritz"))
    assert store.heatmap.tiles.shape == (50, 50)
    # the jobs have footprint averages but no archived time steps: none is drawn
    assert store.heatmap.time_steps == 0
    assert store.scatters[0].jobs == 4


async def test_filters_narrow_every_part_and_the_cluster_stays_the_pages(
    backends: Backends, jobs: dict[str, int]
) -> None:
    store = _store(backends)
    await store.load()

    await store.update(query=JobQuery(users=("carol",), user_match="eq", cluster="alex"))

    assert store.query.cluster == "fritz"
    assert store.summary is not None
    assert store.summary.total_jobs == 1
    assert [r.id for r in store.top_users] == ["carol"]
    assert [h.total_jobs for h in store.metric_histograms][:2] == [1, 1]


async def test_the_users_saved_metrics_are_drawn_and_changes_load_their_averages(
    backends: Backends, jobs: dict[str, int]
) -> None:
    backends.user_config.set("sue", HISTOGRAM_METRICS_KEY, ["cpu_load", "no_such_metric"])
    backends.user_config.set("sue", SCATTER_METRICS_KEY, [["mem_bw", "cpu_load"]])
    store = _store(backends)
    await store.load()

    assert store.histogram_metrics == ["cpu_load"]
    assert store.scatter_pairs == [("mem_bw", "cpu_load")]

    await store.update(
        histogram_metrics=["mem_bw", "nope"], scatter_pairs=[("cpu_load", "flops_any")]
    )

    assert [h.metric for h in store.metric_histograms] == ["mem_bw"]
    assert [(s.x_metric, s.y_metric) for s in store.scatters] == [("cpu_load", "flops_any")]

    await store.update(histogram_metrics=[], scatter_pairs=[])

    assert store.error == ""
    assert store.metric_histograms == []
    assert store.scatters == []
    assert store.heatmap is not None  # the roofline heatmap needs no chosen metric


async def test_an_unknown_cluster_or_category_is_a_message(
    backends: Backends, jobs: dict[str, int]
) -> None:
    store = AnalysisStore(
        LocalClient(backends, backends.users.get("sue")), cluster="no-such-cluster"
    )
    await store.load()

    assert "no-such-cluster" in store.error
    assert store.summary is None

    store = _store(backends)
    await store.load()
    await store.update(category="biggest")

    assert "biggest" in store.error
    assert store.category == "nodeHours"


async def test_a_site_that_cannot_be_reached_is_the_stores_error() -> None:
    store = AnalysisStore(HttpClient("http://127.0.0.1:9", "token"), cluster="fritz")
    await store.load()

    assert store.error
    assert store.summary is None
    assert store.heatmap is None


# -- what the store derives --------------------------------------------------------------------


def test_a_weighted_histogram_spans_the_values_and_leaves_gaps_out() -> None:
    values = np.array([1.0, np.nan, 3.0, 5.0])
    hours = np.array([2.0, 100.0, 1.0, 4.0])

    found = weighted_histogram("m", "GB", values, hours, bins=2)

    assert found.edges.tolist() == [1.0, 3.0, 5.0]
    assert found.node_hours.tolist() == [2.0, 5.0]
    assert found.jobs.tolist() == [1, 2]
    assert weighted_histogram("m", "", np.array([np.nan]), np.array([1.0])).total_jobs == 0
    assert weighted_histogram("m", "", np.array([2.0, 2.0]), np.ones(2)).jobs.tolist() == [2]


def test_a_scatter_of_more_jobs_than_a_browser_draws_is_binned() -> None:
    x = np.arange(100, dtype=np.float64)
    y = x * 2
    hours = np.ones(100)

    few = scatter_of(("a", ""), ("b", ""), x, y, hours, max_points=100)
    many = scatter_of(("a", ""), ("b", ""), x, y, hours, max_points=99, bins=10)

    assert not few.binned
    assert few.jobs == 100
    assert many.binned
    assert many.jobs == 100
    assert many.counts is not None
    assert int(many.counts.sum()) == 100
    assert many.counts.shape == (10, 10)
    assert many.x.size == 0


async def test_the_roofline_grid_reaches_the_clusters_highest_simd_peak(
    backends: Backends,
) -> None:
    cluster = backends.clusters.get("fritz")
    grid = roofline_grid(cluster)
    peaks = [s.flop_rate_simd.value for s in cluster.sub_clusters]

    assert (grid.rows, grid.cols, grid.min_x, grid.max_x, grid.min_y) == (50, 50, 0.01, 1000, 1)
    assert grid.max_y == max(peaks)


async def test_over_http_the_store_draws_the_same_analysis(
    backends: Backends, jobs: dict[str, int], api: Api, token_for: Callable[..., str]
) -> None:
    local = _store(backends)
    remote = AnalysisStore(HttpClient(api.base, token_for("root")), cluster="fritz")
    await local.load()
    await remote.load()

    assert remote.error == ""
    assert remote.summary is not None
    assert local.summary is not None
    assert remote.summary.total_node_hours == local.summary.total_node_hours
    assert [r.id for r in remote.top_users] == [r.id for r in local.top_users]
    assert remote.heatmap is not None
    assert local.heatmap is not None
    assert np.array_equal(remote.heatmap.tiles, local.heatmap.tiles)
    assert [h.total_jobs for h in remote.metric_histograms] == [
        h.total_jobs for h in local.metric_histograms
    ]
