"""The systems view's rules: which nodes a node list shows, what each node reports, its
history of scheduler states and the jobs that ran on it in a time window.

Rules kept here once, for the GraphQL API and the in-process client alike:

- **State filters** (:data:`STATE_FILTERS`, cc-backend's names): ``all``, one scheduler
  state (the node's latest report must be in it), or ``notindb``: the nodes that the
  cluster's configuration names but the scheduler never reported (no row in the node
  table) — :func:`hosts_in_state`.
- **Node lists** (:meth:`NodeOverview.node_list`): the configured hosts of a cluster (or
  one subcluster), sorted by name, whose name contains a filter text and whose state
  matches, one page of them with their series in a time window.
- **History** (:func:`history_from_counts`): a node's scheduler state at each report,
  from the per-state report times that ``nodeStatesTimed`` gives for one host.
- **Jobs on a node** (:func:`jobs_on_node`): the jobs that ran on a host at any time of a
  window (started before its end, ended after its start or still running), found with
  plain job-list queries, so that both clients find the same jobs.

Node data is for support and admins only (:func:`require_node_data_role`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cc_backend.domain.cluster import Cluster, MetricScope
from cc_backend.domain.errors import InvalidInput
from cc_backend.domain.filters import (
    JobFilter,
    OrderBy,
    PageRequest,
    SortDirection,
    StringInput,
    TimeRange,
)
from cc_backend.domain.job import Job, JobState
from cc_backend.domain.jobdata import JobData
from cc_backend.domain.user import User
from cc_backend.metricdata.base import MetricDataRepository
from cc_backend.repository.nodes import (
    HealthState,
    NodeFilter,
    NodeRepository,
    NodeStatus,
    SchedulerState,
    StatesOverTime,
)
from cc_backend.services.cluster_status import require_node_data_role

__all__ = [
    "ALL_STATES",
    "NODE_JOBS_LIMIT",
    "NOT_IN_DB",
    "STATE_FILTERS",
    "NodeMetrics",
    "NodeMetricsPage",
    "NodeOverview",
    "NodeReport",
    "StateChange",
    "check_state_filter",
    "configured_hosts",
    "history_filters",
    "history_from_counts",
    "hosts_in_state",
    "jobs_on_node",
    "report_of",
]

#: The state filter that keeps every node.
ALL_STATES = "all"
#: The state filter of nodes in the cluster's configuration that the scheduler never
#: reported (cc-backend's name: not in the database's node table).
NOT_IN_DB = "notindb"
#: Every state filter, in the order cc-backend's systems view offers them.
STATE_FILTERS: tuple[str, ...] = (
    ALL_STATES,
    SchedulerState.ALLOCATED.value,
    SchedulerState.IDLE.value,
    SchedulerState.RESERVED.value,
    SchedulerState.MIXED.value,
    SchedulerState.DOWN.value,
    SchedulerState.UNKNOWN.value,
    NOT_IN_DB,
)
#: Jobs :func:`jobs_on_node` lists at most per query (a node rarely runs more in a window).
NODE_JOBS_LIMIT = 500


def check_state_filter(value: str) -> str:
    """``value`` as a state filter (any case; empty: ``all``); :class:`InvalidInput` for
    a name that is none of :data:`STATE_FILTERS`."""
    wanted = value.strip().lower() or ALL_STATES
    if wanted not in STATE_FILTERS:
        raise InvalidInput(
            f"unknown node state filter {value!r} (known: {', '.join(STATE_FILTERS)})"
        )
    return wanted


def configured_hosts(cluster: Cluster, subcluster: str = "") -> list[str]:
    """The hosts that ``cluster``'s configuration names (those of ``subcluster`` only, if
    given), sorted, each once; :class:`NotFound` for an unknown subcluster. A subcluster
    given as ``*`` (every host) names none."""
    chosen = [cluster.subcluster(subcluster)] if subcluster else cluster.sub_clusters
    return sorted({host for sc in chosen if not sc.hosts.is_wildcard for host in sc.hosts})


def hosts_in_state(
    cluster: Cluster,
    states: Mapping[str, SchedulerState],
    state_filter: str,
    subcluster: str = "",
) -> set[str] | None:
    """The hosts a node list with ``state_filter`` may show, given each reported host's
    latest scheduler state (``states``): ``None`` for ``all`` (no restriction), the
    configured hosts without a report for ``notindb``, else the hosts whose latest report
    is that state. :class:`InvalidInput` for an unknown filter."""
    wanted = check_state_filter(state_filter)
    if wanted == ALL_STATES:
        return None
    if wanted == NOT_IN_DB:
        return set(configured_hosts(cluster, subcluster)) - set(states)
    return {host for host, state in states.items() if state.value == wanted}


@dataclass(frozen=True)
class NodeMetrics:
    """One node of a node list: its latest scheduler state (empty when the scheduler
    never reported it), its subcluster and its series (metric -> scope -> series)."""

    host: str
    state: str
    subcluster: str
    data: JobData = field(default_factory=lambda: JobData({}))


@dataclass(frozen=True)
class NodeMetricsPage:
    """One page of a node list, with the number of matching nodes on all pages."""

    items: list[NodeMetrics]
    total: int
    has_next_page: bool


@dataclass(frozen=True)
class NodeReport:
    """A node's latest report from the scheduler: states and what its jobs hold."""

    hostname: str
    cluster: str
    subcluster: str
    node_state: SchedulerState
    health_state: HealthState
    cpus_allocated: int = 0
    memory_allocated: int = 0
    gpus_allocated: int = 0
    jobs_running: int = 0


def report_of(status: NodeStatus) -> NodeReport:
    """The :class:`NodeReport` of a node table row with its latest state."""
    return NodeReport(
        hostname=status.hostname,
        cluster=status.cluster,
        subcluster=status.subcluster,
        node_state=status.node_state,
        health_state=status.health_state,
        cpus_allocated=status.cpus_allocated,
        memory_allocated=status.memory_allocated,
        gpus_allocated=status.gpus_allocated,
        jobs_running=status.jobs_running,
    )


@dataclass(frozen=True)
class StateChange:
    """A node's scheduler state as reported at ``time`` (Unix seconds)."""

    time: int
    state: str


def history_filters(cluster: str, host: str, since: int | None = None) -> list[NodeFilter]:
    """The node filters of one host's reports after ``since`` (``None``: all)."""
    wanted: dict[str, object] = {"cluster": {"eq": cluster}, "hostname": {"eq": host}}
    if since is not None:
        wanted["timeStart"] = since
    return [NodeFilter.model_validate(wanted)]


def history_from_counts(counts: Sequence[StatesOverTime]) -> list[StateChange]:
    """One host's reports, oldest first, from the report times of each state (what
    ``nodeStatesTimed`` counts for a filter of that host alone)."""
    changes = [StateChange(t, entry.state) for entry in counts for t in entry.times]
    return sorted(changes, key=lambda c: (c.time, c.state))


def _unix_time(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


#: ``ask(filters, order, page)``: the jobs of one page of a job list the caller may see.
AskJobs = Callable[[Sequence[JobFilter], OrderBy, PageRequest], Awaitable[Sequence[Job]]]


async def jobs_on_node(
    ask: AskJobs,
    cluster: str,
    host: str,
    start: int,
    stop: int,
    *,
    now: int,
    limit: int = NODE_JOBS_LIMIT,
) -> list[Job]:
    """The jobs (that ``ask`` lets the caller see) that ran on ``host`` of ``cluster`` at
    some time from ``start`` to ``stop`` (Unix seconds), by start time.

    Three job-list queries: the longest job on the host that started before ``stop``
    bounds how early an overlapping finished job can have started; the jobs started from
    then until ``stop`` that ended after ``start``; and every job still running (whose
    duration is not final; ``now`` is its end). At most ``limit`` jobs per query.
    :class:`InvalidInput` for a window that ends before it starts.
    """
    if stop < start:
        raise InvalidInput("the end of the time window must not be before its start")
    on_host = [
        JobFilter(cluster=StringInput(eq=cluster)),
        JobFilter(node=StringInput(eq=host)),
    ]
    before_end = JobFilter(start_time=TimeRange(to=_unix_time(stop)))
    longest = await ask(
        [*on_host, before_end],
        OrderBy(field="duration", order=SortDirection.DESC),
        PageRequest(items_per_page=1),
    )
    reach = max((j.duration for j in longest), default=0)
    window = JobFilter(start_time=TimeRange(from_=_unix_time(start - reach), to=_unix_time(stop)))
    by_start = OrderBy(field="startTime", order=SortDirection.ASC)
    page = PageRequest(items_per_page=limit)
    finished = await ask([*on_host, window], by_start, page)
    running = await ask([*on_host, before_end, JobFilter(state=[JobState.RUNNING])], by_start, page)
    found: dict[int, Job] = {}
    for job in [*finished, *running]:
        end = now if job.job_state is JobState.RUNNING else job.start_time + job.duration
        if job.id is not None and job.start_time <= stop and end >= start:
            found[job.id] = job
    return sorted(found.values(), key=lambda j: (j.start_time, j.id or 0))


class NodeOverview:
    """Node lists and node reports of a site, for support and admins.

    ``clusters`` finds a cluster by name (:class:`NotFound` otherwise), ``nodes`` holds
    the scheduler's reports, ``metric_data`` gives a cluster's metric data backend.
    """

    def __init__(
        self,
        clusters: Callable[[str], Cluster],
        nodes: NodeRepository,
        metric_data: Callable[[str], MetricDataRepository],
    ) -> None:
        self._clusters = clusters
        self._nodes = nodes
        self._metric_data = metric_data

    def node_list(
        self,
        cluster: str,
        *,
        actor: User,
        start: int,
        stop: int,
        subcluster: str = "",
        state: str = ALL_STATES,
        host_filter: str = "",
        metrics: Sequence[str] | None = None,
        scopes: Sequence[MetricScope] = (MetricScope.NODE,),
        page: int = 1,
        items_per_page: int = 10,
        resolution: int = 0,
    ) -> NodeMetricsPage:
        """One page of the configured hosts of ``cluster`` (of ``subcluster``, if given)
        whose name contains ``host_filter`` and whose state matches ``state`` (see
        :func:`hosts_in_state`), sorted by name, each with its latest state and its series
        of ``metrics`` (``None``: all) at ``scopes`` from ``start`` to ``stop``
        (``resolution``: seconds per point, 0 native); ``items_per_page`` 0 or less puts
        every node on one page.

        :class:`NotFound` for an unknown cluster or subcluster, :class:`InvalidInput` for
        an unknown state filter, a window ending before it starts or a page below 1.
        """
        require_node_data_role(actor, "node metric data")
        if stop < start:
            raise InvalidInput("the end of the time window must not be before its start")
        if page < 1:
            raise InvalidInput(f"page must be at least 1, not {page}")
        found = self._clusters(cluster)
        if subcluster:
            found.subcluster(subcluster)
        states = {s.hostname: s.node_state for s in self._nodes.latest_states(cluster)}
        only = hosts_in_state(found, states, state, subcluster)
        result = self._metric_data(cluster).load_node_list(
            cluster,
            subcluster=subcluster or None,
            host_filter=host_filter or None,
            metrics=metrics,
            scopes=list(scopes),
            resolution=resolution,
            start=start,
            stop=stop,
            page=page,
            items_per_page=max(items_per_page, 0),
            only_hosts=only,
        )
        items = [
            NodeMetrics(
                host,
                states[host].value if host in states else "",
                found.subcluster_of(host).name,
                data,
            )
            for host, data in result.nodes.items()
        ]
        return NodeMetricsPage(items, result.total, result.has_next_page)

    def reports(
        self, cluster: str, *, actor: User, hosts: Collection[str] | None = None
    ) -> list[NodeReport]:
        """The latest report of each node of ``cluster`` (of ``hosts`` only, if given)
        that the scheduler ever reported, by host name."""
        require_node_data_role(actor)
        wanted: dict[str, object] = {"cluster": {"eq": cluster}}
        if hosts is not None:
            if not hosts:
                return []
            wanted["hostname"] = {"in": sorted(hosts)}
        found = self._nodes.latest_matching([NodeFilter.model_validate(wanted)])
        return [report_of(status) for status in found]

    def state_history(
        self, cluster: str, host: str, *, actor: User, since: int | None = None
    ) -> list[StateChange]:
        """Every scheduler state report of ``host`` after ``since``, oldest first."""
        require_node_data_role(actor)
        counts = self._nodes.state_counts_over_time(
            history_filters(cluster, host, since), "node_state"
        )
        return history_from_counts(counts)
