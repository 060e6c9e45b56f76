"""The metric data queries: ``jobMetrics``, ``jobStats`` and ``scopedJobStats`` of one job,
``nodeMetrics``, ``nodeMetricsList`` and ``clusterMetrics`` of nodes.

A job's data is served to callers who may see the job (``NOT_FOUND`` otherwise), node and
cluster data to support and admins (``FORBIDDEN``). Job data comes from the metric data
dispatch (running jobs from the metric store, finished ones from the archive), node data
from the cluster's metric data backend. Samples are handed to GraphQL as floats with NaN
for gaps, which the ``NullableFloat`` scalar writes as ``null``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
from ariadne import QueryType

from cc_backend.domain.cluster import MetricScope
from cc_backend.domain.errors import InvalidInput
from cc_backend.domain.jobdata import JobData, JobMetric, StatsSeries
from cc_backend.repository.nodes import SchedulerState
from cc_backend.services.cluster_status import as_json
from cc_backend.web.graphql.context import Info, context_of
from cc_backend.web.graphql.resolvers.common import parse_id

if TYPE_CHECKING:
    from cc_backend.server import Backends

__all__ = ["JOB_METRIC_FIELDS", "NODE_METRIC_FIELDS", "query"]

query = QueryType()

#: Fields reading one job's metric data.
JOB_METRIC_FIELDS = ("jobMetrics", "jobStats", "scopedJobStats")
#: Fields reading node or cluster metric data.
NODE_METRIC_FIELDS = ("nodeMetrics", "nodeMetricsList", "clusterMetrics")


# -- shapes ---------------------------------------------------------------------------------


def _floats(values: np.ndarray[Any, Any] | None) -> list[float]:
    return [] if values is None else [float(v) for v in values.tolist()]


def _stats_series(stats: StatsSeries | None) -> dict[str, Any] | None:
    if stats is None:
        return None
    length = next(
        (len(a) for a in (stats.median, stats.min, stats.max, stats.mean) if a is not None), 0
    )
    empty = np.full(length, math.nan)
    return {
        "mean": _floats(stats.mean if stats.mean is not None else empty),
        "median": _floats(stats.median if stats.median is not None else empty),
        "min": _floats(stats.min if stats.min is not None else empty),
        "max": _floats(stats.max if stats.max is not None else empty),
    }


def _statistics(avg: float, low: float, high: float) -> dict[str, float]:
    return {"avg": avg, "min": low, "max": high}


def metric_json(metric: JobMetric) -> dict[str, Any]:
    """A :class:`JobMetric` in the GraphQL ``JobMetric`` shape."""
    return {
        "unit": metric.unit.model_dump(exclude_none=True),
        "timestep": metric.timestep,
        "series": [
            {
                "hostname": s.hostname,
                "id": s.id,
                "statistics": _statistics(s.statistics.avg, s.statistics.min, s.statistics.max),
                "data": _floats(s.data),
            }
            for s in metric.series
        ],
        "statisticsSeries": _stats_series(metric.statistics_series),
    }


def _named(data: JobData) -> list[dict[str, Any]]:
    return [
        {"name": name, "scope": scope, "metric": metric_json(metric)}
        for name, by_scope in data.items()
        for scope, metric in by_scope.items()
    ]


def _scopes(scopes: Sequence[str] | None) -> list[MetricScope]:
    return [MetricScope(s) for s in scopes] if scopes else [MetricScope.NODE]


def _unix(value: datetime) -> int:
    return int(value.timestamp())


# -- jobs -----------------------------------------------------------------------------------


@query.field("jobMetrics")
async def resolve_job_metrics(
    _: Any,
    info: Info,
    *,
    id: str,
    metrics: list[str] | None = None,
    scopes: list[str] | None = None,
    resolution: int | None = None,
) -> list[dict[str, Any]]:
    context = context_of(info)
    backends = context.backends

    def load() -> JobData:
        job = backends.jobs.get(parse_id(id), actor=context.user)
        if resolution is not None and resolution < 0:
            raise InvalidInput(f"resolution must not be negative, got {resolution}")
        return backends.job_metric_data.load(job, metrics, _scopes(scopes), resolution)

    return _named(await context.run(load))


@query.field("jobStats")
async def resolve_job_stats(
    _: Any, info: Info, id: str, metrics: list[str] | None = None
) -> list[dict[str, Any]]:
    context = context_of(info)
    backends = context.backends

    def load() -> list[dict[str, Any]]:
        job = backends.jobs.get(parse_id(id), actor=context.user)
        cluster = backends.clusters.get(job.cluster)
        subcluster = job.sub_cluster or cluster.subcluster_of(job.resources[0].hostname).name
        units = {m.name: m.unit for m in cluster.metrics_for(subcluster)}
        stats = backends.job_metric_data.job_stats(job, metrics, units)
        return [
            {"name": name, "data": _statistics(s.avg, s.min, s.max)} for name, s in stats.items()
        ]

    return await context.run(load)


@query.field("scopedJobStats")
async def resolve_scoped_job_stats(
    _: Any,
    info: Info,
    *,
    id: str,
    metrics: list[str] | None = None,
    scopes: list[str] | None = None,
) -> list[dict[str, Any]]:
    context = context_of(info)
    backends = context.backends

    def load() -> list[dict[str, Any]]:
        job = backends.jobs.get(parse_id(id), actor=context.user)
        stats = backends.job_metric_data.load_scoped_stats(job, metrics, _scopes(scopes))
        return [
            {
                "name": name,
                "scope": scope,
                "stats": [
                    {
                        "hostname": s.hostname,
                        "id": s.id,
                        "data": _statistics(s.avg, s.min, s.max),
                    }
                    for s in series
                ],
            }
            for name, by_scope in stats.items()
            for scope, series in by_scope.items()
        ]

    return await context.run(load)


# -- nodes ----------------------------------------------------------------------------------


def _states(backends: Backends, cluster: str) -> dict[str, SchedulerState]:
    return {s.hostname: s.node_state for s in backends.nodes.latest_states(cluster)}


@query.field("nodeMetrics")
async def resolve_node_metrics(
    _: Any,
    info: Info,
    *,
    cluster: str,
    to: datetime,
    nodes: list[str] | None = None,
    scopes: list[str] | None = None,
    metrics: list[str] | None = None,
    **arguments: Any,
) -> list[dict[str, Any]]:
    context = context_of(info)
    context.require_staff("node metric data")
    backends = context.backends
    start, stop = _window(arguments.get("from"), to)

    def load() -> list[dict[str, Any]]:
        found = backends.clusters.get(cluster)
        data = backends.metric_data(cluster).load_node_data(
            cluster, metrics, nodes, _scopes(scopes), start=start, stop=stop
        )
        states = _states(backends, cluster)
        return [
            {
                "host": host,
                "state": states[host].value if host in states else "",
                "subCluster": found.subcluster_of(host).name,
                "metrics": _named(host_data),
            }
            for host, host_data in sorted(data.items())
        ]

    return await context.run(load)


def _window(start: datetime | None, stop: datetime | None) -> tuple[int, int]:
    if start is None or stop is None:
        raise InvalidInput("from and to are required")
    first, last = _unix(start), _unix(stop)
    if last < first:
        raise InvalidInput("to must not be before from")
    return first, last


@query.field("nodeMetricsList")
async def resolve_node_metrics_list(
    _: Any,
    info: Info,
    *,
    cluster: str,
    subCluster: str,  # noqa: N803 - GraphQL argument name
    stateFilter: str,  # noqa: N803
    nodeFilter: str,  # noqa: N803
    to: datetime,
    scopes: list[str] | None = None,
    metrics: list[str] | None = None,
    page: dict[str, Any] | None = None,
    resolution: int | None = None,
    **arguments: Any,
) -> dict[str, Any]:
    context = context_of(info)
    context.require_staff("node metric data")
    backends = context.backends
    start, stop = _window(arguments.get("from"), to)
    items_per_page = int((page or {}).get("itemsPerPage", 10))
    page_number = int((page or {}).get("page", 1))

    def load() -> dict[str, Any]:
        result = backends.node_overview.node_list(
            cluster,
            actor=context.user,
            start=start,
            stop=stop,
            subcluster=subCluster,
            state=stateFilter,
            host_filter=nodeFilter,
            metrics=metrics,
            scopes=_scopes(scopes),
            page=page_number,
            items_per_page=items_per_page,
            resolution=resolution or 0,
        )
        items = [
            {
                "host": n.host,
                "state": n.state,
                "subCluster": n.subcluster,
                "metrics": _named(n.data),
            }
            for n in result.items
        ]
        offset = max(page_number - 1, 0) * items_per_page
        return {
            "items": items,
            "offset": offset,
            "limit": items_per_page,
            "count": len(items),
            "totalNodes": result.total,
            "hasNextPage": result.has_next_page,
        }

    return await context.run(load)


@query.field("clusterMetrics")
async def resolve_cluster_metrics(
    _: Any,
    info: Info,
    *,
    cluster: str,
    to: datetime,
    metrics: list[str] | None = None,
    **arguments: Any,
) -> dict[str, Any]:
    context = context_of(info)
    context.require_staff("cluster metric data")
    backends = context.backends
    start, stop = _window(arguments.get("from"), to)
    reader = backends.cluster_status

    def load() -> dict[str, Any]:
        combined = reader.cluster_metrics(
            cluster, metrics, start=start, stop=stop, actor=context.user
        )
        return as_json(combined)

    return await context.run(load)
