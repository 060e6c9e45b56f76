"""The job view's store against a real site: a running job whose metrics were pushed into
the built-in metric store as node agents send them, and the same kind of job archived.

The builders here (:func:`run_job`, :func:`archive`) are shared with the job view's other
tests.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import pytest

from app.stores.job import JobStore, valid_scopes
from app.stores.settings import SettingsStore
from app.views.settings import MetricSettings, PlotSettings
from cc_backend.client import LocalClient
from cc_backend.domain.cluster import MetricScope
from cc_backend.domain.job import Job, JobState, MonitoringStatus
from cc_backend.domain.user import User
from cc_backend.server import Backends
from cc_backend.services.requests import StopJobRequest
from tests.metric_lines import TIMESTEP, job_samples, to_payload

ADAPTER = User.build("adapter", ["api"])
HOSTS = ["f0101", "f0102"]
#: Minutes of data every job here has.
MINUTES = 30
#: A resampling policy small enough for half-hour jobs: 5-minute points first, 1-minute
#: points once a zoom shows 20 points or fewer.
RESAMPLING = {"minimumPoints": 10, "trigger": 20, "resolutions": [300, 60]}


def sample(metric: str, _host: str, position: int, step: int) -> float:
    """The value every series holds: per hardware thread 2 GFlop/s rising slowly, per
    socket 20 GB/s, and 1 + step for everything else (plus the series' position)."""
    if metric == "flops_any":
        return 2.0 + 0.01 * step
    if metric == "mem_bw":
        return 20.0
    return float(1 + step + position)


def _now() -> int:
    return int(time.time()) // TIMESTEP * TIMESTEP


def run_job(
    backends: Backends,
    make_job: Callable[..., Job],
    *,
    job_id: int = 4711,
    user: str = "alice",
    hosts: list[str] | None = None,
    **fields: Any,
) -> Job:
    """A job of ``user`` started ``MINUTES`` ago on ``hosts`` through the job lifecycle,
    with every metric of its nodes pushed into the metric store since then."""
    hosts = hosts or HOSTS
    start = _now() - MINUTES * TIMESTEP
    job = make_job(
        jobId=job_id,
        user=user,
        startTime=start,
        numNodes=len(hosts),
        numHwthreads=72 * len(hosts),
        resources=[{"hostname": h} for h in hosts],
        **fields,
    )
    started = backends.lifecycle.start_job(job, ADAPTER)
    samples = job_samples(backends.clusters.get("fritz"), hosts, None, start, MINUTES, value=sample)
    assert backends.metric_store is not None
    result = backends.metric_store.ingest(to_payload(samples))
    assert result.rejected == 0, result.errors[:3]
    return started


def archive(backends: Backends, job: Job) -> Job:
    """``job`` stopped now and archived; as the database has it afterwards."""
    request = StopJobRequest(job_id=job.job_id, cluster=job.cluster, stop_time=_now())
    stopped = backends.lifecycle.stop_job(request, ADAPTER)
    outcome = backends.archiving.archive_job(stopped)
    assert outcome.status is MonitoringStatus.ARCHIVING_SUCCESSFUL
    return backends.jobs.get(stopped.id or 0)


def store_for(backends: Backends, username: str, job: Job) -> JobStore:
    return JobStore(LocalClient(backends, backends.users.get(username)), db_id=job.id or 0)


@pytest.fixture
def running(backends: Backends, make_job: Callable[..., Job]) -> Job:
    return run_job(backends, make_job)


@pytest.fixture
def archived(backends: Backends, make_job: Callable[..., Job]) -> Job:
    return archive(backends, run_job(backends, make_job, job_id=4712))


async def test_an_archived_job_loads_with_everything_the_page_shows_at_once(
    backends: Backends, archived: Job
) -> None:
    store = store_for(backends, "alice", archived)

    await store.load()

    assert store.error == ""
    assert store.loaded
    assert not store.hidden
    assert store.job is not None
    assert store.job.monitoring_status is MonitoringStatus.ARCHIVING_SUCCESSFUL
    assert store.cluster is not None
    assert store.cluster.name == "fritz"
    fritz = backends.clusters.get("fritz")
    assert store.selected == sorted(m.name for m in fritz.metrics_for("main"))
    assert set(store.data) == set(store.selected)
    cpu_load = store.data["cpu_load"][MetricScope.NODE]
    assert sorted(s.hostname for s in cpu_load.series) == HOSTS
    assert store.revision == 1
    assert store.statistics["mem_bw"].avg == pytest.approx(40.0)  # two sockets of 20 GB/s
    assert store.stats_loaded
    assert sorted(s.hostname for s in store.scoped_stats["cpu_load"]) == HOSTS


async def test_a_running_job_shows_the_live_samples(backends: Backends, running: Job) -> None:
    store = store_for(backends, "alice", running)

    await store.load()

    assert store.job is not None
    assert store.job.job_state is JobState.RUNNING
    node = store.data["cpu_load"][MetricScope.NODE]
    first = next(s for s in node.series if s.hostname == "f0101")
    assert first.data[:3].tolist() == [1.0, 2.0, 3.0]
    flops = store.data["flops_any"][MetricScope.NODE].series[0]
    assert flops.data[0] == pytest.approx(72 * 2.0)  # summed over the node's threads
    assert store.running_duration() >= MINUTES * TIMESTEP


async def test_someone_elses_job_is_hidden_and_nothing_else_is_fetched(
    backends: Backends, running: Job
) -> None:
    store = store_for(backends, "bob", running)

    await store.load()

    assert store.hidden
    assert store.job is None
    assert store.data == {}
    assert store.cluster is None
    assert store.error == ""


async def test_each_metric_offers_the_scopes_down_to_its_native_one(
    backends: Backends, running: Job
) -> None:
    store = store_for(backends, "alice", running)
    await store.load()

    assert store.scopes_of("cpu_load") == [MetricScope.NODE]
    assert store.scopes_of("mem_bw") == [MetricScope.NODE, MetricScope.SOCKET]
    assert store.scopes_of("flops_any") == [
        MetricScope.NODE,
        MetricScope.SOCKET,
        MetricScope.CORE,
        MetricScope.HWTHREAD,
    ]
    alex = backends.clusters.get("alex")
    gpu = alex.metric_config("a40", "acc_utilization")
    assert valid_scopes(gpu, alex.resolved_subcluster("a40")) == [
        MetricScope.NODE,
        MetricScope.ACCELERATOR,
    ]


async def test_a_finer_scope_is_loaded_when_asked_for(backends: Backends, running: Job) -> None:
    store = store_for(backends, "alice", running)
    await store.load()

    cores = await store.load_scope("flops_any", MetricScope.CORE)

    assert cores is not None
    assert len(cores.series) == 2 * 72
    assert {s.id for s in cores.series} == {str(c) for c in range(72)}
    assert cores.series[0].data[0] == pytest.approx(2.0)
    assert MetricScope.CORE in store.data["flops_any"]


async def test_a_scope_the_archive_lacks_is_reported_unavailable(
    backends: Backends, archived: Job
) -> None:
    store = store_for(backends, "alice", archived)
    await store.load()

    assert await store.load_scope("flops_any", MetricScope.HWTHREAD) is None

    assert store.unavailable == {"flops_any": [MetricScope.HWTHREAD]}
    assert MetricScope.HWTHREAD not in store.scopes_of("flops_any")
    cores = await store.load_scope("flops_any", MetricScope.CORE)
    assert cores is not None
    assert len(cores.series) == 2 * 72  # archived at core scope


@pytest.mark.parametrize("site_config", [{"main": {"resampling": RESAMPLING}}])
@pytest.mark.parametrize("kind", ["running", "archived"])
async def test_a_zoom_loads_finer_data_by_the_site_policy(
    backends: Backends, make_job: Callable[..., Job], kind: str
) -> None:
    job = run_job(backends, make_job)
    if kind == "archived":
        job = archive(backends, job)
    store = store_for(backends, "alice", job)
    await store.load()
    coarse = store.data["cpu_load"][MetricScope.NODE]
    assert coarse.timestep == 300
    assert store.resolution["cpu_load"] == 300

    # 30 points of 5 minutes in view are more than the trigger: nothing to load.
    assert not await store.zoom("cpu_load", MetricScope.NODE, job.start_time, job.start_time + 9000)
    zoomed = await store.zoom("cpu_load", MetricScope.NODE, job.start_time, job.start_time + 600)

    assert zoomed
    fine = store.data["cpu_load"][MetricScope.NODE]
    assert fine.timestep == 60
    assert len(fine.series[0].data) >= MINUTES - 1
    assert store.resolution["cpu_load"] == 60
    assert store.data["mem_bw"][MetricScope.NODE].timestep == 300  # other plots unchanged
    assert not await store.zoom("cpu_load", MetricScope.NODE, job.start_time, job.start_time + 300)


async def test_without_a_resampling_policy_a_zoom_changes_nothing(
    backends: Backends, running: Job
) -> None:
    store = store_for(backends, "alice", running)
    await store.load()
    before = store.data["cpu_load"]

    assert not await store.zoom("cpu_load", MetricScope.NODE, 0, 60)
    assert store.data["cpu_load"] is before


async def test_tags_are_added_and_removed_within_the_scope_rules(
    backends: Backends, running: Job
) -> None:
    store = store_for(backends, "alice", running)
    await store.load()

    assert await store.add_tag("note", "slow io", "alice")
    assert store.job is not None
    mine = [t for t in store.job.tags or [] if t.name == "slow io"]
    assert [t.scope for t in mine] == ["alice"]
    assert any(t.name == "slow io" for t in store.readable_tags)

    assert not await store.add_tag("app", "gromacs", "global")
    assert "may not" in store.tag_error
    assert [t.name for t in store.job.tags or []] == ["slow io"]

    assert await store.remove_tag(mine[0].id or 0)
    assert store.job.tags is None
    assert store.tag_error == ""


async def test_the_users_metric_choice_and_plots_per_row_are_used(
    backends: Backends, running: Job
) -> None:
    config = backends.user_config
    config.set("alice", "metricConfig_jobViewPlotMetrics:fritz", ["mem_bw", "cpu_load", "x"])
    config.set("alice", "plotConfiguration_plotsPerRow", 2)
    store = store_for(backends, "alice", running)

    await store.load()

    assert store.selected == ["mem_bw", "cpu_load"]
    assert set(store.data) == {"mem_bw", "cpu_load", "flops_any"}  # and the roofline's
    assert store.plots_per_row == 2

    await store.select_metrics(["ipc", "cpu_load"], remember=True)
    assert store.selected == ["ipc", "cpu_load"]
    assert "ipc" in store.data
    assert store.revision == 2
    saved = config.get_all("alice")["metricConfig_jobViewPlotMetrics:fritz"]
    assert saved == ["ipc", "cpu_load"]


async def test_what_the_settings_page_saves_reaches_the_job_view(
    backends: Backends, running: Job
) -> None:
    alice = backends.users.get("alice")
    settings = SettingsStore(LocalClient(backends, alice), alice)
    await settings.load()
    plots, metrics = PlotSettings(settings), MetricSettings(settings)
    plots.plots_per_row.value = 4
    await plots.save()
    metrics.cluster.value = "fritz"
    metrics.job_view.value = ["mem_bw", "ipc"]
    await metrics.save()

    store = store_for(backends, "alice", running)
    await store.load()

    assert store.plots_per_row == 4
    assert store.selected == ["mem_bw", "ipc"]


async def test_without_a_choice_the_job_view_shows_all_metrics_three_per_row(
    backends: Backends, running: Job
) -> None:
    store = store_for(backends, "alice", running)

    await store.load()

    assert store.selected == sorted(store.metric_configs)
    assert store.plots_per_row == 3


async def test_a_subclusters_choice_comes_before_its_clusters(
    backends: Backends, running: Job
) -> None:
    key = "metricConfig_jobViewPlotMetrics"
    backends.user_config.set("alice", f"{key}:fritz", ["mem_bw"])
    backends.user_config.set("alice", f"{key}:fritz:{running.sub_cluster}", ["ipc"])
    backends.user_config.set("alice", key, ["cpu_load"])
    store = store_for(backends, "alice", running)

    await store.load()

    assert store.selected == ["ipc"]


@pytest.mark.parametrize(
    ("stored", "used"),
    [(0, 1), (9, 6), ("3", 3), (True, 3)],
    ids=["below 1", "above 6", "text", "boolean"],
)
async def test_plots_per_row_out_of_range_or_not_a_number(
    backends: Backends, running: Job, stored: Any, used: int
) -> None:
    backends.user_config.set("alice", "plotConfiguration_plotsPerRow", stored)
    store = store_for(backends, "alice", running)

    await store.load()

    assert store.plots_per_row == used


async def test_settings_stored_by_an_older_cc_backend_are_read(
    backends: Backends, running: Job
) -> None:
    backends.user_config.set("alice", "job_view_selectedMetrics:fritz", ["mem_bw", "cpu_load"])
    backends.user_config.set("alice", "plot_view_plotsPerRow", 2)
    store = store_for(backends, "alice", running)

    await store.load()

    assert store.selected == ["mem_bw", "cpu_load"]
    assert store.plots_per_row == 2


async def test_statistics_at_another_scope(backends: Backends, running: Job) -> None:
    store = store_for(backends, "alice", running)
    await store.load()

    await store.load_statistics(MetricScope.SOCKET)

    assert store.stats_scope is MetricScope.SOCKET
    assert set(store.scoped_stats) == {
        name for name in store.selected if MetricScope.SOCKET in store.scopes_of(name)
    }
    sockets = store.scoped_stats["mem_bw"]
    assert sorted((s.hostname, s.id) for s in sockets) == [
        (h, i) for h in HOSTS for i in ("0", "1")
    ]
    assert all(s.avg == pytest.approx(20.0) for s in sockets)
    assert MetricScope.HWTHREAD in store.table_scopes()


async def test_a_running_job_is_refreshed(backends: Backends, running: Job) -> None:
    store = store_for(backends, "alice", running)
    await store.load()

    await store.refresh()

    assert store.revision == 2
    assert store.stats_loaded
    assert not math.isnan(store.statistics["cpu_load"].avg)
