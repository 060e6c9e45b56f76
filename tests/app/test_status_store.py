"""The status dashboards' store and pages as objects, on a real site: running jobs on two
subclusters of fritz, node state reports, and node metrics in the built-in metric store."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from app.context import PageContext
from app.pages import PAGES
from app.routing import find_page
from app.site import build_content
from app.stores.status import ClusterStatusStore, status_metrics
from app.views.status_info import ClusterInfo
from cc_backend.client import LocalClient
from cc_backend.domain.filters import JobFilter
from cc_backend.domain.job import Job
from cc_backend.domain.user import User
from cc_backend.repository.nodes import HealthState, NodeStateRow, SchedulerState
from cc_backend.server import Backends
from cc_backend.stats.statistics_results import JobsStatistics
from cc_backend.stats.stats_results import GroupBy
from tests.metric_lines import node_samples, recent_start, to_payload

NOW = int(time.time())
STEPS = 4
#: Hosts with running jobs: alice on two main nodes, bob on one spr node.
ALICE_HOSTS, BOB_HOSTS = ("f0101", "f0102"), ("f2101",)


def _flat(value: float) -> Callable[[str, str, int, int], float]:
    return lambda metric, host, position, step: value


@pytest.fixture
def site(backends: Backends, make_job: Callable[..., Job]) -> Backends:
    """The site described in the module docstring; sue has the role support."""
    backends.users.add(User.build("sue", ["support"]))
    adapter = User.build("adapter", ["api"])
    for user, project, sub, hosts in (
        ("alice", "project-a", "main", ALICE_HOSTS),
        ("bob", "project-b", "spr", BOB_HOSTS),
    ):
        job = make_job(
            user=user,
            project=project,
            subCluster=sub,
            startTime=NOW - 3600,
            numNodes=len(hosts),
            numHwthreads=72 * len(hosts),
            resources=[{"hostname": h} for h in hosts],
        )
        backends.lifecycle.start_job(job, adapter)
    fritz = backends.clusters.get("fritz")
    start = recent_start(STEPS, now=NOW)
    # per native series 1.0: a node's flops_any/mem_bw are its number of series
    samples = [
        s
        for host in (*ALICE_HOSTS, *BOB_HOSTS)
        for s in node_samples(fritz, host, ["flops_any", "mem_bw", "cpu_power"], start, STEPS,
                              value=_flat(1.0))
    ]  # fmt: skip
    assert backends.metric_store is not None
    assert backends.metric_store.ingest(to_payload(samples)).rejected == 0
    for stamp, down in ((NOW - 600, "f0103"), (NOW - 300, "f0104")):
        rows = [NodeStateRow(h, "main", stamp, SchedulerState.ALLOCATED) for h in ALICE_HOSTS] + [
            NodeStateRow(down, "main", stamp, SchedulerState.DOWN, HealthState.FAILED)
        ]
        backends.nodes.add_states("fritz", rows)
    return backends


def _store(backends: Backends, username: str = "sue", **params: Any) -> ClusterStatusStore:
    client = LocalClient(backends, backends.users.get(username))
    return ClusterStatusStore(client, cluster="fritz", clock=lambda: NOW, **params)


def _node_values(backends: Backends, host: str, metric: str) -> float:
    """What a node's series of ``metric`` holds at every step (series of 1.0 summed)."""
    fritz = backends.clusters.get("fritz")
    return float(len(node_samples(fritz, host, [metric], 0, 1)))


async def test_the_store_sums_up_each_subcluster_and_the_cluster(site: Backends) -> None:
    store = _store(site)

    await store.load()

    assert store.error == ""
    main, spr, whole = store.subclusters
    fritz = site.clusters.get("fritz")
    sub = fritz.sub_clusters[0]
    assert (main.name, spr.name, whole.name) == ("main", "spr", "")
    assert (main.running_jobs, main.active_users, main.nodes_allocated) == (1, 1, 2)
    assert (spr.running_jobs, spr.active_users, spr.nodes_allocated) == (1, 1, 1)
    assert main.nodes_total == 192
    assert main.cores_total == sub.sockets_per_node * sub.cores_per_socket * 192
    assert main.cores_allocated == 144
    assert main.processor_types == ("Intel Xeon Platinum 8360Y",)
    assert main.flops == pytest.approx(sum(_node_values(site, h, "flops_any") for h in ALICE_HOSTS))
    assert spr.mem_bw == pytest.approx(_node_values(site, "f2101", "mem_bw"))
    assert main.flops_peak == pytest.approx(sub.flop_rate_simd.value * 192)
    assert (whole.running_jobs, whole.active_users, whole.nodes_allocated) == (2, 2, 3)
    assert whole.flops == pytest.approx(main.flops + spr.flops)
    assert whole.processor_types == ("Intel Xeon Platinum 8360Y", "Intel Xeon Platinum 8470")


async def test_the_store_loads_states_rooflines_metrics_and_top_lists(site: Backends) -> None:
    store = _store(site)

    await store.load()

    states = {s.state: s.counts for s in store.node_states}
    assert states == {"allocated": [2, 2], "down": [1, 1]}
    assert {s.state: s.counts for s in store.health_states} == {"full": [2, 2], "failed": [1, 1]}
    rooflines = {r.subcluster: len(r.points) for r in store.rooflines}
    assert rooflines == {"main": len(ALICE_HOSTS) * STEPS, "spr": len(BOB_HOSTS) * STEPS}
    assert store.cluster_metrics is not None
    wanted = status_metrics(site.clusters.get("fritz"))
    assert wanted == ["cpu_power", "mem_power", "flops_any", "mem_bw"]
    assert [m.name for m in store.cluster_metrics.metrics] == ["cpu_power", "flops_any", "mem_bw"]
    assert [(r.id, r.total_nodes) for r in store.top_users] == [("alice", 2), ("bob", 1)]
    assert [r.id for r in store.top_projects] == ["project-a", "project-b"]
    assert store.updated == NOW
    assert store.revision == 1


class RecordingClient(LocalClient):
    """A client of the site that notes every grouping of statistics it is asked for."""

    groupings: list[GroupBy | None]

    async def jobs_statistics(
        self, filters: Sequence[JobFilter] = (), **options: Any
    ) -> list[JobsStatistics]:
        self.groupings.append(options.get("group_by"))
        return await super().jobs_statistics(filters, **options)


async def test_a_public_store_never_asks_for_user_or_project_names(site: Backends) -> None:
    client = RecordingClient(site, site.users.get("sue"))
    client.groupings = []
    store = ClusterStatusStore(client, cluster="fritz", public=True, clock=lambda: NOW)

    await store.load()

    assert sorted(str(g) for g in client.groupings) == ["None", "SUBCLUSTER"]
    assert (store.top_users, store.top_projects) == ([], [])
    assert store.subclusters[-1].active_users == 2
    html = ClusterInfo(store).pane.object
    for name in ("alice", "bob", "project-a", "project-b", "Alice", "Bob"):
        assert name not in html


async def test_refresh_reads_the_site_again(site: Backends) -> None:
    store = _store(site)
    await store.load()
    later = [NodeStateRow("f0105", "main", NOW - 60, SchedulerState.IDLE)]
    site.nodes.add_states("fritz", later)

    await store.load()  # within cache_seconds: the answers of the first load
    assert "idle" not in {s.state for s in store.node_states}
    await store.refresh()

    assert "idle" in {s.state for s in store.node_states}


async def test_an_unknown_cluster_is_the_stores_error(site: Backends) -> None:
    store = _store(site)
    store.cluster = "nosuch"

    await store.load()

    assert "nosuch" in store.error
    assert store.subclusters == []


async def test_a_plain_user_gets_an_error_not_a_traceback(site: Backends) -> None:
    store = _store(site, "bob")

    await store.load()

    assert "support" in store.error
    assert store.node_states == []
    assert store.cluster_metrics is None


def _open(backends: Backends, username: str, path: str) -> Any:
    found = find_page(PAGES, path)
    assert found is not None, path
    user = backends.users.get(username)
    context = PageContext(user, LocalClient(backends, user), path, found[1], {})
    return build_content(found[0], context)


@pytest.mark.parametrize("path", ["/monitoring/status/fritz", "/monitoring/dashboard/fritz"])
def test_the_pages_are_for_support_and_admins(site: Backends, path: str) -> None:
    assert _open(site, "bob", path).name == "forbidden"
    assert _open(site, "alice", path).name == "forbidden"
    expected = path.split("/")[2]
    assert _open(site, "sue", path).name == expected
    assert _open(site, "root", path).name == expected


def test_the_public_dashboard_has_no_top_lists(site: Backends) -> None:
    status = _open(site, "sue", "/monitoring/status/fritz")
    dashboard = _open(site, "sue", "/monitoring/dashboard/fritz")

    assert status.select(lambda o: getattr(o, "name", "") == "top-lists")
    assert not dashboard.select(lambda o: getattr(o, "name", "") == "top-lists")
