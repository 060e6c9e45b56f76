"""The data of a cluster's status dashboards (``/monitoring/status/{cluster}`` and the public
``/monitoring/dashboard/{cluster}``), loaded in one go and refreshed on demand.

:class:`ClusterStatusStore` asks the client, all at once:

- the cluster (subclusters, processor types, peaks);
- totals of the running jobs per subcluster and over the cluster (jobs, users, cores,
  accelerators) and the nodes they occupy;
- the ``flops_any`` and ``mem_bw`` of every node of a running job over the last minutes
  (totals against the peak, and a roofline per subcluster);
- how many nodes were in each scheduler and health state over the last hours;
- the cluster-wide sums of power, flop rate and memory bandwidth over the last hours;
- unless the store is ``public``: the users and projects with the most nodes in use.

A public store never asks for user or project names, so a wall screen cannot show any.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import param

from app.stores.base import Store
from app.views.roofline import Ceilings, RooflinePoints, ceilings_of, job_points
from cc_backend.client import Client
from cc_backend.domain.cluster import Cluster, MetricValue, SubCluster
from cc_backend.domain.errors import InvalidInput, NotFound
from cc_backend.domain.filters import JobFilter, PageRequest, StringInput
from cc_backend.domain.job import JobState
from cc_backend.domain.jobdata import JobData, JobMetric, Series
from cc_backend.domain.units import Unit, prefix_factor
from cc_backend.services.cluster_status import ClusterMetrics, node_averages
from cc_backend.stats.statistics_results import JobsStatistics
from cc_backend.stats.stats_results import GroupBy, SortBy

__all__ = [
    "LOAD_METRICS",
    "ClusterStatusStore",
    "StatusRoofline",
    "SubclusterStatus",
    "running_filters",
    "status_metrics",
    "subcluster_rows",
]

#: The metrics of the current load (totals and rooflines).
LOAD_METRICS = ("flops_any", "mem_bw")
#: How many users and projects the top lists show.
TOP_COUNT = 10
#: Every item on one page.
ALL = PageRequest.model_validate({"itemsPerPage": -1, "page": 1})


def running_filters(cluster: str) -> list[JobFilter]:
    """The filters of the running jobs of ``cluster``."""
    return [JobFilter(state=[JobState.RUNNING]), JobFilter(cluster=StringInput(eq=cluster))]


def status_metrics(cluster: Cluster) -> list[str]:
    """The metrics summed over the cluster in the dashboards: every power metric first,
    then the flop rate and memory bandwidth, as far as the cluster has them."""
    names = [m.name for m in cluster.metrics]
    power = [n for n in names if "power" in n]
    return power + [n for n in LOAD_METRICS if n in names]


@dataclass(frozen=True)
class SubclusterStatus:
    """What a subcluster (or, named ``""``, the whole cluster) is doing now.

    Flop rates are GFlop/s and bandwidths GB/s; ``*_peak`` is the subcluster's peak per
    node times its nodes.
    """

    name: str
    processor_types: tuple[str, ...]
    running_jobs: int = 0
    active_users: int = 0
    nodes_allocated: int = 0
    nodes_total: int = 0
    cores_allocated: int = 0
    cores_total: int = 0
    accs_allocated: int = 0
    accs_total: int = 0
    flops: float = 0.0
    flops_peak: float = 0.0
    mem_bw: float = 0.0
    mem_bw_peak: float = 0.0


@dataclass(frozen=True)
class StatusRoofline:
    """One subcluster's roofline: its ceilings and one point per node and time step."""

    subcluster: str
    ceilings: Ceilings
    points: RooflinePoints = field(default_factory=RooflinePoints.empty)


def _giga(value: MetricValue) -> float:
    return value.value * prefix_factor(value.unit.prefix, "G")


def _node_count(sub: SubCluster) -> int:
    try:
        return sub.number_of_nodes
    except InvalidInput:  # a wildcard node list has no count
        return 0


def _hosts_by_subcluster(cluster: Cluster, hosts: Sequence[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for host in hosts:
        try:
            name = cluster.subcluster_of(host).name
        except NotFound:
            continue
        found.setdefault(name, []).append(host)
    return found


def _in_giga(averages: dict[str, float], unit: Unit | None) -> dict[str, float]:
    factor = prefix_factor(unit.prefix if unit else None, "G")
    return {h: v * factor for h, v in averages.items()}


def _unit_of(data: dict[str, JobData], metric: str) -> Unit | None:
    for host_data in data.values():
        if metric in host_data:
            for found in host_data[metric].values():
                return found.unit
    return None


def subcluster_rows(
    cluster: Cluster,
    by_subcluster: Sequence[JobsStatistics],
    allocated: dict[str, int],
    node_data: dict[str, JobData],
    totals: JobsStatistics | None = None,
) -> list[SubclusterStatus]:
    """One :class:`SubclusterStatus` per subcluster of ``cluster``, then one for the whole
    cluster (named ``""``; its users are ``totals``' when given, as a user running on two
    subclusters counts once)."""
    stats = {row.id: row for row in by_subcluster}
    flops = _in_giga(node_averages(node_data, "flops_any"), _unit_of(node_data, "flops_any"))
    bandwidth = _in_giga(node_averages(node_data, "mem_bw"), _unit_of(node_data, "mem_bw"))
    hosts = _hosts_by_subcluster(cluster, sorted(set(flops) | set(bandwidth)))
    rows: list[SubclusterStatus] = []
    for sub in cluster.sub_clusters:
        row = stats.get(sub.name, JobsStatistics.empty())
        nodes = _node_count(sub)
        mine = hosts.get(sub.name, [])
        rows.append(
            SubclusterStatus(
                name=sub.name,
                processor_types=(sub.processor_type,),
                running_jobs=row.total_jobs,
                active_users=row.total_users,
                nodes_allocated=allocated.get(sub.name, 0),
                nodes_total=nodes,
                cores_allocated=row.total_cores,
                cores_total=sub.sockets_per_node * sub.cores_per_socket * nodes,
                accs_allocated=row.total_accs,
                accs_total=len(sub.topology.accelerators or []) * nodes,
                flops=sum(flops.get(h, 0.0) for h in mine),
                flops_peak=_giga(sub.flop_rate_simd) * nodes,
                mem_bw=sum(bandwidth.get(h, 0.0) for h in mine),
                mem_bw_peak=_giga(sub.memory_bandwidth) * nodes,
            )
        )
    processors = tuple(dict.fromkeys(p for r in rows for p in r.processor_types))
    whole = SubclusterStatus(
        name="",
        processor_types=processors,
        running_jobs=sum(r.running_jobs for r in rows),
        active_users=totals.total_users if totals else sum(r.active_users for r in rows),
        **{
            name: sum(getattr(r, name) for r in rows)
            for name in (
                "nodes_allocated", "nodes_total", "cores_allocated", "cores_total",
                "accs_allocated", "accs_total", "flops", "flops_peak", "mem_bw", "mem_bw_peak",
            )
        },
    )  # fmt: skip
    return [*rows, whole]


def _joined(data: dict[str, JobData], hosts: Sequence[str], metric: str) -> JobMetric | None:
    """The node series of ``metric`` of ``hosts`` as one metric (as a job's would be)."""
    series: list[Series] = []
    unit: Unit | None = None
    timestep = 0
    for host in hosts:
        host_data = data.get(host)
        if host_data is None or metric not in host_data:
            continue
        for found in host_data[metric].values():
            unit, timestep = found.unit, found.timestep
            series.extend(found.series)
    if unit is None or not series:
        return None
    return JobMetric(unit=unit, timestep=timestep, series=series)


def rooflines(cluster: Cluster, node_data: dict[str, JobData]) -> list[StatusRoofline]:
    """A roofline per subcluster of ``cluster`` from its nodes' ``flops_any`` and
    ``mem_bw`` series (a point per node and time step, coloured by time)."""
    hosts = _hosts_by_subcluster(cluster, sorted(node_data))
    found = []
    for sub in cluster.sub_clusters:
        mine = hosts.get(sub.name, [])
        points = job_points(
            _joined(node_data, mine, "flops_any"), _joined(node_data, mine, "mem_bw")
        )
        found.append(StatusRoofline(sub.name, ceilings_of(sub), points))
    return found


class ClusterStatusStore(Store):
    """The status of one cluster now (see the module docstring)."""

    cluster = param.String(default="", doc="The cluster shown.")
    public = param.Boolean(default=False, doc="Never ask for user or project names.")
    load_minutes = param.Integer(default=5, bounds=(1, None), doc="Window of the current load.")
    states_hours = param.Integer(default=24, bounds=(1, None), doc="Window of node states.")
    metrics_hours = param.Integer(default=8, bounds=(1, None), doc="Window of cluster metrics.")
    auto_refresh = param.Boolean(default=True, doc="Reload every refresh_seconds.")
    refresh_seconds = param.Integer(default=60, bounds=(5, None), doc="Time between reloads.")

    info = param.Parameter(default=None, doc="The Cluster, once loaded.")
    subclusters = param.List(default=[], doc="SubclusterStatus rows, the cluster's last.")
    node_states = param.List(default=[], doc="StatesOverTime of scheduler states.")
    health_states = param.List(default=[], doc="StatesOverTime of health states.")
    rooflines = param.List(default=[], doc="StatusRoofline per subcluster.")
    cluster_metrics = param.Parameter(default=None, doc="ClusterMetrics of the window.")
    top_users = param.List(default=[], doc="JobsStatistics of the users with most nodes.")
    top_projects = param.List(default=[], doc="JobsStatistics of the projects with most nodes.")
    updated = param.Integer(default=0, doc="When the data was loaded (Unix seconds).")
    revision = param.Integer(default=0, doc="Counts completed loads (views watch it).")

    def __init__(
        self, client: Client, *, clock: Callable[[], float] = time.time, **params: Any
    ) -> None:
        params.setdefault("cache_seconds", 20.0)
        super().__init__(client, **params)
        self.clock = clock

    async def refresh(self) -> None:
        """Load everything again from the site (nothing from the cache)."""
        self.forget()
        await self.load()

    async def load(self) -> None:
        """Fetch everything the dashboards show, all at once; a failed part leaves
        ``error`` set and its result empty, the other parts still load."""
        self.error = ""
        now = int(self.clock())
        parts = _Parts(self, now)
        await parts.done()
        found = parts.clusters.result()
        cluster = next((c for c in found or [] if c.name == self.cluster), None)
        if found is not None and cluster is None:
            self.error = f"no cluster {self.cluster!r} on this site"
        self._show(cluster, parts)
        self.updated = now
        self.revision += 1

    def _show(self, cluster: Cluster | None, parts: _Parts) -> None:
        node_data = parts.load.result() or {}
        totals = parts.totals.result() or []
        self.info = cluster
        if cluster is not None:
            self.subclusters = subcluster_rows(
                cluster,
                parts.by_subcluster.result() or [],
                parts.allocated.result() or {},
                node_data,
                totals[0] if totals else None,
            )
            self.rooflines = rooflines(cluster, node_data)
        else:
            self.subclusters, self.rooflines = [], []
        self.node_states = parts.states.result() or []
        self.health_states = parts.health.result() or []
        self.cluster_metrics = parts.metrics.result()
        self.top_users = [] if self.public else parts.users.result() or []
        self.top_projects = [] if self.public else parts.projects.result() or []


class _Parts:
    """The fetches of one load of a :class:`ClusterStatusStore`, started together (each
    through the store's :meth:`~app.stores.base.Store.fetch`)."""

    def __init__(self, store: ClusterStatusStore, now: int) -> None:
        self.store, self.now = store, now
        name, client, public = store.cluster, store.client, store.public
        self.running = running_filters(name)
        since = now - 3600 * store.states_hours
        task = asyncio.ensure_future
        self.clusters = task(store.fetch(("clusters",), client.clusters))
        self.by_subcluster = task(
            store.fetch(
                ("by-subcluster", name),
                lambda: client.jobs_statistics(self.running, group_by=GroupBy.SUBCLUSTER),
            )
        )
        self.totals = task(
            store.fetch(("totals", name), lambda: client.jobs_statistics(self.running))
        )
        self.allocated = task(
            store.fetch(("allocated", name), lambda: client.allocated_nodes(name))
        )
        self.load = task(store.fetch(("load", name, now), self._running_load))
        self.states = task(
            store.fetch(
                ("states", name, now), lambda: client.node_states_timed(name, "node", since)
            )
        )
        self.health = task(
            store.fetch(
                ("health", name, now), lambda: client.node_states_timed(name, "health", since)
            )
        )
        self.users = task(store.fetch(("users", name, public), lambda: self._top(GroupBy.USER)))
        self.projects = task(
            store.fetch(("projects", name, public), lambda: self._top(GroupBy.PROJECT))
        )
        self.metrics = task(self._cluster_metrics())

    async def done(self) -> None:
        """Wait for every fetch."""
        await asyncio.gather(
            self.clusters, self.by_subcluster, self.totals, self.allocated, self.load,
            self.states, self.health, self.users, self.projects, self.metrics,
        )  # fmt: skip

    async def _top(self, group: GroupBy) -> list[JobsStatistics]:
        if self.store.public:
            return []
        top = PageRequest.model_validate({"itemsPerPage": TOP_COUNT, "page": 1})
        return await self.store.client.jobs_statistics(
            self.running, group_by=group, sort_by=SortBy.TOTALNODES, page=top
        )

    async def _running_load(self) -> dict[str, JobData]:
        """``flops_any`` and ``mem_bw`` of the nodes of the running jobs."""
        store, client = self.store, self.store.client
        listed = await client.jobs(self.running, page=ALL)
        hosts = sorted({r.hostname for j in listed.items for r in j.resources})
        if not hosts:
            return {}
        start = self.now - 60 * store.load_minutes
        return await client.node_metric_data(
            store.cluster, list(LOAD_METRICS), start, self.now, hosts
        )

    async def _cluster_metrics(self) -> ClusterMetrics | None:
        """The cluster-wide sums, once the cluster says which metrics it has."""
        store, name = self.store, self.store.cluster
        found = await self.clusters
        cluster = next((c for c in found or [] if c.name == name), None)
        if cluster is None:
            return None
        wanted = status_metrics(cluster)
        start = self.now - 3600 * store.metrics_hours
        return await store.fetch(
            ("metrics", name, self.now),
            lambda: store.client.cluster_metrics(name, wanted, start, self.now),
        )
