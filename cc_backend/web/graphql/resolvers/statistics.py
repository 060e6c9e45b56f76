"""The statistics queries: ``jobsStatistics``, ``jobsMetricStats``, ``jobsFootprints`` and
``rooflineHeatmap``, translated onto :class:`~cc_backend.services.job_statistics.JobStatistics`
(the job table and the archive's statistics index, over all matching jobs) and, for the
heatmap and the job statistics, :class:`~cc_backend.services.roofline_heatmap.RooflineHeatmaps`
and :class:`~cc_backend.services.job_metric_stats.JobMetricStats`.

``jobsStatistics`` without ``groupBy`` answers one row of totals, with the histograms the
query selects (``histDuration`` with ``numDurationBins``, default ``1h`` as cc-backend's
resolver; ``histNumNodes``/``Cores``/``Accs``; ``histMetrics`` of ``metrics`` with
``numMetricBins``); with ``groupBy`` one row per group (sorted, paged) without histograms.
``rooflineHeatmap`` counts every node time step of the matching jobs: archived ones from
the statistics index's per-job counts, running ones from one metric data request per
cluster (jobs not yet indexed are left out; see
:mod:`cc_backend.services.roofline_heatmap`); ``jobsMetricStats`` takes running jobs'
statistics the same way (:mod:`cc_backend.services.job_metric_stats`). Every answer
respects the caller's visibility.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from ariadne import QueryType

from cc_backend.domain.filters import JobFilter, PageRequest
from cc_backend.stats.statistics_results import JobsStatistics, RooflineGrid
from cc_backend.web.graphql.context import Info, context_of
from cc_backend.web.graphql.resolvers.common import selects, validated, validated_list

if TYPE_CHECKING:
    from cc_backend.stats.statistics_parts import FloatArray

__all__ = ["STATISTICS_FIELDS", "query"]

query = QueryType()

#: The query fields this module answers.
STATISTICS_FIELDS = ("jobsStatistics", "jobsMetricStats", "jobsFootprints", "rooflineHeatmap")

#: cc-backend's resolver default for ``numDurationBins``.
DEFAULT_DURATION_BINS = "1h"


def _floats(values: FloatArray) -> list[float]:
    """Per-job values for ``[NullableFloat!]!`` (NaN stays NaN: the scalar writes null)."""
    return [float(v) for v in np.asarray(values, dtype=np.float64).tolist()]


def _row(stats: JobsStatistics, histograms: dict[str, Any] | None = None) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": stats.id,
        "name": stats.name,
        "totalUsers": stats.total_users,
        "totalJobs": stats.total_jobs,
        "runningJobs": stats.running_jobs,
        "shortJobs": stats.short_jobs,
        "totalWalltime": stats.total_walltime,
        "totalNodes": stats.total_nodes,
        "totalNodeHours": stats.total_node_hours,
        "totalCores": stats.total_cores,
        "totalCoreHours": stats.total_core_hours,
        "totalAccs": stats.total_accs,
        "totalAccHours": stats.total_acc_hours,
        "histDuration": [],
        "histNumNodes": [],
        "histNumCores": [],
        "histNumAccs": [],
        "histMetrics": [],
    }
    row.update(histograms or {})
    return row


def _points(points: Any) -> list[dict[str, int]]:
    return [{"value": p.value, "count": p.count} for p in points]


@query.field("jobsStatistics")
async def resolve_jobs_statistics(
    _: Any,
    info: Info,
    *,
    filter: list[dict[str, Any]] | None = None,
    metrics: list[str] | None = None,
    page: dict[str, Any] | None = None,
    sortBy: str | None = None,  # noqa: N803 - GraphQL argument name
    groupBy: str | None = None,  # noqa: N803
    numDurationBins: str | None = None,  # noqa: N803
    numMetricBins: int | None = None,  # noqa: N803
) -> list[dict[str, Any]]:
    context = context_of(info)
    service = context.backends.job_statistics
    user = context.user
    filters = validated_list(JobFilter, filter, "filter")
    paging = validated(PageRequest, page, "page") if page is not None else None
    wanted = {
        name: selects(info, name)
        for name in ("histDuration", "histNumNodes", "histNumCores", "histNumAccs", "histMetrics")
    }

    def load() -> list[dict[str, Any]]:
        if groupBy is not None:
            rows = service.grouped(groupBy, filters, actor=user, sort_by=sortBy, page=paging)
            return [_row(r) for r in rows]
        histograms: dict[str, Any] = {}
        if wanted["histDuration"]:
            histograms["histDuration"] = _points(
                service.duration_histogram(
                    filters,
                    actor=user,
                    num_duration_bins=numDurationBins or DEFAULT_DURATION_BINS,
                )
            )
        for field, column in (
            ("histNumNodes", "num_nodes"),
            ("histNumCores", "num_hwthreads"),
            ("histNumAccs", "num_acc"),
        ):
            if wanted[field]:
                histograms[field] = _points(
                    service.value_histogram(column, filters, actor=user)  # type: ignore[arg-type]
                )
        if wanted["histMetrics"] and metrics:
            histograms["histMetrics"] = [
                {
                    "metric": h.metric,
                    "unit": h.unit,
                    "stat": h.stat,
                    "data": [
                        {"bin": p.bin, "count": p.count, "min": p.min, "max": p.max} for p in h.data
                    ],
                }
                for h in service.metric_histograms(
                    metrics, filters, actor=user, num_metric_bins=numMetricBins
                )
            ]
        return [_row(service.totals(filters, actor=user), histograms)]

    return await context.run(load)


@query.field("jobsMetricStats")
async def resolve_jobs_metric_stats(
    _: Any,
    info: Info,
    *,
    filter: list[dict[str, Any]] | None = None,
    metrics: list[str] | None = None,
) -> list[dict[str, Any]]:
    context = context_of(info)
    filters = validated_list(JobFilter, filter, "filter")

    def load() -> list[dict[str, Any]]:
        found = context.backends.job_metric_stats.job_metric_stats(
            filters, actor=context.user, metrics=metrics
        )
        return [
            {
                "id": j.id,
                "jobId": j.job_id,
                "startTime": j.start_time,
                "duration": j.duration,
                "cluster": j.cluster,
                "subCluster": j.sub_cluster,
                "numNodes": j.num_nodes,
                "numHWThreads": j.num_hwthreads,
                "numAccelerators": j.num_accelerators,
                "stats": [
                    {
                        "name": s.name,
                        "data": {"avg": s.data.avg, "min": s.data.min, "max": s.data.max},
                    }
                    for s in j.stats
                ],
            }
            for j in found
        ]

    return await context.run(load)


@query.field("jobsFootprints")
async def resolve_jobs_footprints(
    _: Any,
    info: Info,
    *,
    metrics: list[str],
    filter: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    context = context_of(info)
    filters = validated_list(JobFilter, filter, "filter")

    def load() -> dict[str, Any]:
        found = context.backends.job_statistics.footprints(metrics, filters, actor=context.user)
        weights = found.time_weights
        return {
            "timeWeights": {
                "nodeHours": _floats(weights.node_hours),
                "accHours": _floats(weights.acc_hours),
                "coreHours": _floats(weights.core_hours),
            },
            "metrics": [{"metric": m.metric, "data": _floats(m.data)} for m in found.metrics],
        }

    return await context.run(load)


@query.field("rooflineHeatmap")
async def resolve_roofline_heatmap(
    _: Any,
    info: Info,
    *,
    filter: list[dict[str, Any]],
    rows: int,
    cols: int,
    minX: float,  # noqa: N803
    minY: float,  # noqa: N803
    maxX: float,  # noqa: N803
    maxY: float,  # noqa: N803
) -> list[list[float]]:
    context = context_of(info)
    filters = validated_list(JobFilter, filter, "filter")
    grid = RooflineGrid(rows, cols, minX, minY, maxX, maxY)

    def load() -> list[list[float]]:
        tiles = context.backends.roofline_heatmaps.roofline_heatmap(
            grid, filters, actor=context.user
        )
        return [[0.0 if math.isnan(v) else float(v) for v in row] for row in tiles]

    return await context.run(load)
