"""Cluster-wide views of node metric data: what the status dashboards show of a cluster.

Two rules live here, for the GraphQL API and the in-process client alike:

- :func:`combine_node_data`: the series of all nodes of a cluster combined into one per
  metric (GraphQL ``clusterMetrics``): summed for metrics whose aggregation is ``sum``
  (power, flop rates, bandwidths), averaged for ``avg`` ones; a time step no node has a
  value for stays NaN;
- :func:`node_averages`: each node's average of a metric over a time window (the
  current load of a node, as the dashboards' totals and rooflines use it).

:class:`ClusterStatusReader` reads node data through the site's metric data backends and
applies them; node and cluster data are for support and admins only.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cc_backend.domain.cluster import Aggregation, Cluster, MetricScope
from cc_backend.domain.errors import InvalidInput, NotFound, PermissionDenied
from cc_backend.domain.units import Unit
from cc_backend.domain.user import Role, User
from cc_backend.metricdata.base import MetricDataRepository, NodeData
from cc_backend.repository.nodes import StateColumn

__all__ = [
    "NODE_DATA_ROLES",
    "STATE_KINDS",
    "ClusterMetric",
    "ClusterMetrics",
    "ClusterStatusReader",
    "as_json",
    "combine_node_data",
    "node_averages",
    "require_node_data_role",
    "state_column",
    "unit_text",
]

#: Roles that may read node and cluster data (cc-backend's rule for the node queries).
NODE_DATA_ROLES = (Role.SUPPORT, Role.ADMIN)

_Floats = NDArray[np.float64]


#: Which state a count of node states is over: ``kind`` -> the column counted.
STATE_KINDS: dict[str, StateColumn] = {"node": "node_state", "health": "health_state"}


def state_column(kind: str) -> StateColumn:
    """The state column that ``kind`` (``node`` or ``health``) counts; :class:`InvalidInput`
    for another kind."""
    column = STATE_KINDS.get(kind)
    if column is None:
        raise InvalidInput(f"unknown node state type {kind!r} (known: node, health)")
    return column


def require_node_data_role(user: User, what: str = "node data") -> None:
    """Raise :class:`PermissionDenied` unless ``user`` is support or admin."""
    if not user.has_any_role(NODE_DATA_ROLES):
        raise PermissionDenied(f"{what} is for support and admins only")


@dataclass(frozen=True)
class ClusterMetric:
    """One metric of a whole cluster: a value per time step (NaN: no node had one)."""

    name: str
    unit: Unit
    timestep: int
    data: _Floats


@dataclass(frozen=True)
class ClusterMetrics:
    """The combined metrics of a cluster and how many nodes had any data."""

    node_count: int
    metrics: list[ClusterMetric] = field(default_factory=list)

    def get(self, name: str) -> ClusterMetric | None:
        """The metric called ``name``, or ``None``."""
        return next((m for m in self.metrics if m.name == name), None)


def _node_series(data: NodeData, name: str) -> list[_Floats]:
    return [
        np.asarray(s.data, dtype=np.float64)
        for host_data in data.values()
        if name in host_data
        for metric in host_data[name].values()
        for s in metric.series
    ]


def combine_node_data(
    cluster: Cluster, data: NodeData, metrics: Sequence[str] | None = None
) -> ClusterMetrics:
    """The node series of ``data`` (host -> node-scope data) combined per metric by the
    metric's aggregation (see the module docstring). ``metrics`` orders and limits the
    result (``None``: every metric in ``data``, by name); a metric without any series,
    or unknown to ``cluster``, is left out. Series of unequal length are NaN-padded."""
    names = metrics or sorted({n for host_data in data.values() for n in host_data.metrics()})
    combined: list[ClusterMetric] = []
    for name in names:
        series = _node_series(data, name)
        if not series:
            continue
        try:
            config = cluster.metric(name)
        except NotFound:
            continue
        length = max(len(s) for s in series)
        stacked = np.full((len(series), length), math.nan)
        for row, values in enumerate(series):
            stacked[row, : len(values)] = values
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN steps stay NaN
            if config.aggregation is Aggregation.AVG:
                values = np.nanmean(stacked, axis=0)
            else:
                empty = np.isnan(stacked).all(axis=0)
                values = np.where(empty, math.nan, np.nansum(stacked, axis=0))
        combined.append(ClusterMetric(name, config.unit, config.timestep, values))
    hosts_with_data = sum(1 for host_data in data.values() if len(host_data))
    return ClusterMetrics(hosts_with_data, combined)


def node_averages(data: NodeData, name: str) -> dict[str, float]:
    """Per host of ``data``: the average of its node series of metric ``name`` (NaN
    samples ignored); hosts without a finite value are left out."""
    found: dict[str, float] = {}
    for host, host_data in data.items():
        if name not in host_data:
            continue
        values = [
            np.asarray(s.data, dtype=np.float64)
            for metric in host_data[name].values()
            for s in metric.series
        ]
        if not values:
            continue
        joined = np.concatenate(values)
        finite = joined[np.isfinite(joined)]
        if finite.size:
            found[host] = float(finite.mean())
    return found


class ClusterStatusReader:
    """Node and cluster metric data of a site, for support and admins.

    ``clusters`` finds a cluster by name (:class:`NotFound` otherwise), ``metric_data``
    the metric data backend of a cluster.
    """

    def __init__(
        self,
        clusters: Callable[[str], Cluster],
        metric_data: Callable[[str], MetricDataRepository],
    ) -> None:
        self._clusters = clusters
        self._metric_data = metric_data

    def node_data(
        self,
        cluster: str,
        metrics: Sequence[str] | None,
        *,
        start: int,
        stop: int,
        hosts: Sequence[str] | None = None,
        actor: User,
    ) -> NodeData:
        """Node-scope series of ``metrics`` (``None``: all) of ``hosts`` (``None``: every
        host with data) of ``cluster`` from ``start`` to ``stop`` (Unix seconds)."""
        require_node_data_role(actor, "node metric data")
        _check_window(start, stop)
        self._clusters(cluster)
        return self._metric_data(cluster).load_node_data(
            cluster, metrics, hosts, [MetricScope.NODE], start=start, stop=stop
        )

    def cluster_metrics(
        self,
        cluster: str,
        metrics: Sequence[str] | None,
        *,
        start: int,
        stop: int,
        actor: User,
    ) -> ClusterMetrics:
        """The metrics of every node of ``cluster`` combined (:func:`combine_node_data`)."""
        require_node_data_role(actor, "cluster metric data")
        _check_window(start, stop)
        found = self._clusters(cluster)
        data = self._metric_data(cluster).load_node_data(
            cluster, metrics, None, [MetricScope.NODE], start=start, stop=stop
        )
        return combine_node_data(found, data, metrics)


def _check_window(start: int, stop: int) -> None:
    if stop < start:
        raise InvalidInput("the end of the time window must not be before its start")


def unit_text(unit: Unit | None) -> str:
    """``unit`` as people write it (``GF/s``, ``W``; empty for none)."""
    if unit is None:
        return ""
    return f"{unit.prefix or ''}{unit.base}"


def as_json(metrics: ClusterMetrics) -> dict[str, Any]:
    """``metrics`` in GraphQL's ``ClusterMetrics`` shape (NaN stays a float)."""
    return {
        "nodeCount": metrics.node_count,
        "metrics": [
            {
                "name": m.name,
                "unit": m.unit.model_dump(exclude_none=True),
                "timestep": m.timestep,
                "data": [float(v) for v in m.data.tolist()],
            }
            for m in metrics.metrics
        ],
    }
