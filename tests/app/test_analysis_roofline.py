"""The analysis page's roofline heatmap of time steps: what the store draws is the service's
answer for the page's cluster and filters, over the in-process client and over HTTP
(GraphQL's ``rooflineHeatmap``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from app.filters import JobQuery
from app.stores.analysis import AnalysisStore, roofline_grid
from app.views.analysis_plots import RooflineHeatmapView, heatmap_caption
from cc_backend.client import HttpClient, LocalClient
from cc_backend.domain.job import Job, MonitoringStatus
from cc_backend.domain.jobdata import JobData
from cc_backend.domain.user import User
from cc_backend.server import Backends
from tests.conftest import Api
from tests.metric_lines import node_metric


@pytest.fixture
def archived(backends: Backends, make_job: Callable[..., Job]) -> dict[str, Job]:
    """On fritz: alice's and carol's archived jobs with time steps and a running job of
    alice; on alex: bob's archived job. The statistics index is built. sue is support."""
    backends.users.add(User.build("sue", ["support"]))
    found = {}
    for name, user, cluster, flops, bandwidth in (
        ("alice", "alice", "fritz", [150.0, 150.0, 40.0], [30.0, 30.0, 80.0]),
        ("carol", "carol", "fritz", [900.0, 47.0], [45.0, 2.0]),
        ("bob", "bob", "alex", [800.0], [100.0]),
    ):
        extra: dict[str, Any] = {}
        if cluster == "alex":
            extra = {"cluster": "alex", "subCluster": "a40", "resources": [{"hostname": "a0101"}]}
        job = make_job(
            user=user,
            jobState="completed",
            duration=3600,
            monitoringStatus=int(MonitoringStatus.ARCHIVING_SUCCESSFUL),
            footprint={"flops_any_avg": flops[0], "mem_bw_avg": bandwidth[0]},
            **extra,
        )
        meta = job.model_copy(update={"id": backends.jobs.add(job)})
        host = job.resources[0].hostname
        data = JobData.from_json(
            {
                "flops_any": node_metric(flops, "F/s", host),
                "mem_bw": node_metric(bandwidth, "B/s", host),
            }
        )
        backends.archive.import_job(meta, data)
        found[name] = meta
    backends.jobs.add(make_job())
    index = backends.statistics_index.index()
    assert index is not None
    index.build(backends.archive.iter_jobs())
    return found


def _expected(backends: Backends, store: AnalysisStore) -> np.ndarray:
    cluster = backends.clusters.get("fritz")
    tiles = backends.job_statistics.roofline_heatmap(
        roofline_grid(cluster), store.filters(), actor=None
    )
    return np.asarray(tiles, dtype=np.float64)


async def test_the_heatmap_counts_every_time_step_of_the_clusters_jobs(
    backends: Backends, archived: dict[str, Job]
) -> None:
    store = AnalysisStore(LocalClient(backends, backends.users.get("sue")), cluster="fritz")
    await store.load()

    assert store.error == ""
    assert store.heatmap is not None
    assert store.heatmap.grid == roofline_grid(backends.clusters.get("fritz"))
    assert store.heatmap.time_steps == 5  # alice's three and carol's two, not bob's on alex
    assert np.array_equal(store.heatmap.tiles, _expected(backends, store))
    assert [s.jobs for s in store.scatters][:1] == [2]  # the averages still load once

    await store.update(query=JobQuery(users=("carol",), user_match="eq"))
    assert store.heatmap.time_steps == 2
    assert np.array_equal(store.heatmap.tiles, _expected(backends, store))


async def test_over_http_the_heatmap_is_the_same(
    backends: Backends, archived: dict[str, Job], api: Api, token_for: Callable[..., str]
) -> None:
    local = AnalysisStore(LocalClient(backends, backends.users.get("sue")), cluster="fritz")
    remote = AnalysisStore(HttpClient(api.base, token_for("root")), cluster="fritz")
    await local.load()
    await remote.load()

    assert remote.error == ""
    assert remote.heatmap is not None
    assert local.heatmap is not None
    assert remote.heatmap.time_steps == 5
    assert np.array_equal(remote.heatmap.tiles, local.heatmap.tiles)


async def test_the_caption_says_what_is_counted_and_what_is_left_out(
    backends: Backends, archived: dict[str, Job]
) -> None:
    store = AnalysisStore(LocalClient(backends, backends.users.get("sue")), cluster="fritz")
    await store.load()
    assert store.heatmap is not None

    caption = heatmap_caption(store.heatmap)
    assert "every node time step" in caption
    assert "running jobs from the metric store" in caption
    assert "No time step" not in caption
    view = RooflineHeatmapView(store)
    text = view.__panel__().objects[0].object
    assert text == caption
