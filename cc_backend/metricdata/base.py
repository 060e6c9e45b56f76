"""The contract of a metric data backend: where the time series of running jobs come from.

Each cluster names one backend in ``clusters[].metricDataRepository.kind``; a cluster
without one uses the built-in metric store. A backend answers in the domain's shapes
(:class:`~cc_backend.domain.jobdata.JobData` and friends), whatever its wire format.

Errors: a backend that cannot be reached, or answers with something that is not an answer,
raises :class:`~cc_backend.domain.errors.BackendUnavailable` (callers such as the archiver
retry those). A metric, host or scope without data is simply absent from the result; a
request that names an unknown metric raises :class:`~cc_backend.domain.errors.InvalidInput`.
"""

from __future__ import annotations

import abc
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from cc_backend.domain.cluster import Cluster, MetricScope
from cc_backend.domain.job import Job
from cc_backend.domain.jobdata import JobData, MetricStatistics, ScopedStatistics

__all__ = ["HostPage", "MetricDataRepository", "NodeData", "NodeListPage", "all_hosts", "host_page"]

#: Node data of a cluster: host name -> that host's metric data (metric -> scope -> series).
NodeData = dict[str, JobData]


@dataclass(frozen=True)
class NodeListPage:
    """One page of a cluster's node list with the metric data of each node."""

    #: Host name -> its metric data (metric -> scope -> series), for the hosts of the page.
    nodes: dict[str, JobData] = field(default_factory=dict)
    #: Number of hosts matching the filter, on all pages.
    total: int = 0
    has_next_page: bool = False


@dataclass(frozen=True)
class HostPage:
    """The hosts of one page of a cluster's node list (before any data is loaded)."""

    #: The host names of the page, sorted.
    hosts: list[str]
    #: Number of hosts matching the filter, on all pages.
    total: int
    has_next_page: bool


def all_hosts(cluster: Cluster) -> list[str]:
    """Every host of ``cluster``, sorted by name."""
    return sorted({host for sc in cluster.sub_clusters for host in sc.hosts})


def host_page(
    cluster: Cluster,
    *,
    subcluster: str | None,
    host_filter: str | None,
    only_hosts: Collection[str] | None,
    page: int,
    items_per_page: int,
) -> HostPage:
    """The hosts on page ``page`` of ``cluster``'s node list, with the rule of
    :meth:`MetricDataRepository.load_node_list` (every backend pages the same way)."""
    hosts = sorted(
        host
        for sc in cluster.sub_clusters
        if subcluster in (None, sc.name)
        for host in sc.hosts
        if (not host_filter or host_filter in host) and (only_hosts is None or host in only_hosts)
    )
    first = max(page - 1, 0) * items_per_page
    selected = hosts[first : first + items_per_page] if items_per_page > 0 else hosts
    has_next = items_per_page > 0 and first + items_per_page < len(hosts)
    return HostPage(selected, len(hosts), has_next)


class MetricDataRepository(abc.ABC):
    """Loads metric data of jobs and nodes from one metric data backend."""

    #: The ``metricDataRepository.kind`` that selects this backend.
    kind: ClassVar[str]

    @abc.abstractmethod
    def load_data(
        self,
        job: Job,
        metrics: Sequence[str] | None,
        scopes: Sequence[MetricScope],
        resolution: int = 0,
    ) -> JobData:
        """The series of ``job`` from its start until its stop (or now, while it runs).

        ``metrics`` ``None`` means every metric of the job's subcluster; each metric is
        delivered at each of ``scopes`` that is not finer than its native scope (see
        :mod:`cc_backend.metricdata.scopes`). ``resolution`` is the wanted time step in
        seconds; 0 asks for the native time step.
        """

    @abc.abstractmethod
    def load_stats(
        self, job: Job, metrics: Sequence[str]
    ) -> dict[str, dict[str, MetricStatistics]]:
        """Node-scope statistics of ``job``: metric -> host -> avg/min/max over the job."""

    @abc.abstractmethod
    def load_scoped_stats(
        self, job: Job, metrics: Sequence[str] | None, scopes: Sequence[MetricScope]
    ) -> ScopedStatistics:
        """Per-series statistics of ``job`` at ``scopes`` (no samples are transferred)."""

    @abc.abstractmethod
    def load_node_data(
        self,
        cluster: str,
        metrics: Sequence[str] | None,
        hosts: Sequence[str] | None,
        scopes: Sequence[MetricScope],
        *,
        start: int,
        stop: int,
    ) -> NodeData:
        """Series of ``hosts`` (``None``: every host the backend knows of the cluster) from
        ``start`` to ``stop`` (Unix seconds), independent of jobs."""

    @abc.abstractmethod
    def load_node_list(
        self,
        cluster: str,
        *,
        subcluster: str | None,
        host_filter: str | None,
        metrics: Sequence[str] | None,
        scopes: Sequence[MetricScope],
        resolution: int,
        start: int,
        stop: int,
        page: int,
        items_per_page: int,
        only_hosts: Collection[str] | None = None,
    ) -> NodeListPage:
        """One page (``page`` counts from 1; ``items_per_page`` 0: all) of the cluster's
        hosts, sorted by name, whose name contains ``host_filter`` (and that are among
        ``only_hosts`` when given), each with its series from ``start`` to ``stop``."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections; the default has none."""
