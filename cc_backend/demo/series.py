"""Metric time series of one demo job, as an archive's ``data.json`` holds them.

Every metric of the job's subcluster gets node-scope series (one per node, ``duration //
timestep`` samples). Small CPU jobs (up to ``fine_max_nodes`` nodes) also get core-scope
series of the :data:`FINE_METRICS` measured per hardware thread or core and socket-scope
series of those measured per socket; GPU jobs get accelerator-scope series instead. Node
values are the sum or average (the metric's aggregation) of the finer ones, as the
monitoring aggregates them. Samples are rounded to two decimals, carry some noise and, in
some jobs, a few gaps (NaN). Metrics with more than :data:`STATS_SERIES_ABOVE` series also
get statistics series: per time step minimum, maximum, mean, median and percentiles.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cc_backend.demo.layout import Layout, plan_metric
from cc_backend.demo.metrics import PERCENT_METRICS, Inputs, metric_value
from cc_backend.demo.profiles import Behaviour, Levels, Signals, job_signals
from cc_backend.domain.cluster import Aggregation, MetricConfig, MetricScope
from cc_backend.domain.jobdata import (
    JobData,
    JobMetric,
    MetricStatistics,
    Series,
    StatsSeries,
    trusted_model,
)

__all__ = [
    "FINE_METRICS",
    "PERCENTILES",
    "STATS_SERIES_ABOVE",
    "inputs",
    "job_data",
    "statistics_series",
]

FloatArray = npt.NDArray[np.float64]

#: Metrics with more series than this get ``statisticsSeries`` (as cc-backend does).
STATS_SERIES_ABOVE = 15
#: The percentiles stored in ``statisticsSeries``.
PERCENTILES = (10, 25, 75, 90)
#: Metrics stored at core or socket scope (besides node scope) for small jobs; the others
#: only at node scope. Core-scope series are what makes an archive large: each core metric
#: adds 72 to 128 series per node, as many samples as all node-scope series together.
#: GPU metrics are always stored per GPU as well.
FINE_METRICS = frozenset({"flops_any", "mem_bw"})
#: Share of jobs whose series have gaps, and the share of samples missing in them.
_GAPPY_JOBS = 0.3
_GAP_RATE = 0.004
#: Spread of the multiplicative noise on every sample.
_NOISE = 0.04


#: Average, minimum and maximum of each row of a sample matrix.
_Stats = tuple[FloatArray, FloatArray, FloatArray]


def _stats(matrix: FloatArray) -> _Stats:
    """Average, minimum and maximum of each row, ignoring NaN (rows are never all NaN)."""
    if not np.isnan(matrix).any():
        return matrix.mean(axis=1), matrix.min(axis=1), matrix.max(axis=1)
    missing = np.isnan(matrix)
    count = (~missing).sum(axis=1)
    avg = np.where(missing, 0.0, matrix).sum(axis=1) / count
    return avg, np.nanmin(matrix, axis=1), np.nanmax(matrix, axis=1)


def _quantiles(matrix: FloatArray, qs: tuple[int, ...]) -> FloatArray:
    """Linear-interpolated percentiles ``qs`` of each column, ignoring NaN (NaN for columns
    without samples); numpy's ``nanpercentile`` does this column by column, slowly."""
    ordered = np.sort(matrix, axis=0)  # NaN sort last
    count = (~np.isnan(matrix)).sum(axis=0)
    columns = np.arange(matrix.shape[1])
    result = np.empty((len(qs), matrix.shape[1]))
    for row, q in enumerate(qs):
        position = np.maximum(count - 1, 0) * (q / 100.0)
        low = np.floor(position).astype(np.int64)
        high = np.minimum(low + 1, np.maximum(count - 1, 0))
        below, above = ordered[low, columns], ordered[high, columns]
        result[row] = below + (above - below) * (position - low)
    result[:, count == 0] = np.nan
    return result


def statistics_series(matrix: FloatArray) -> StatsSeries:
    """Per-time-step statistics across the rows of ``matrix`` (NaN where fewer than three
    rows have a sample)."""
    sparse = (~np.isnan(matrix)).sum(axis=0) < 3
    quantiles = _quantiles(matrix, (50, *PERCENTILES))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # columns without any sample
        low, high, mean = np.nanmin(matrix, 0), np.nanmax(matrix, 0), np.nanmean(matrix, 0)
    rows = [np.where(sparse, np.nan, np.round(r, 2)) for r in (mean, quantiles[0], low, high)]
    return StatsSeries.model_construct(
        mean=rows[0],
        median=rows[1],
        min=rows[2],
        max=rows[3],
        percentiles={
            p: np.where(sparse, np.nan, np.round(q, 2))
            for p, q in zip(PERCENTILES, quantiles[1:], strict=True)
        },
    )


def _job_metric(
    metric: MetricConfig, block: _Block, matrix: FloatArray, stats: _Stats
) -> JobMetric:
    avg, low, high = (column[block.rows].tolist() for column in stats)
    series = [
        Series.trusted(
            host, ident, trusted_model(MetricStatistics, {"avg": a, "min": lo, "max": hi}), row
        )
        for host, ident, row, a, lo, hi in zip(
            block.hosts, block.ids, matrix[block.rows], avg, low, high, strict=True
        )
    ]
    many = len(series) > STATS_SERIES_ABOVE and matrix.shape[1] >= 3
    extra = statistics_series(matrix[block.rows]) if many else None
    return JobMetric.model_construct(
        unit=metric.unit, timestep=metric.timestep, series=series, statistics_series=extra
    )


@dataclass(frozen=True, slots=True)
class _Block:
    """Rows of a job's sample matrix that form one metric at one scope."""

    metric: int
    scope: MetricScope
    hosts: list[str]
    ids: list[str | None]
    rows: slice
    #: Whether the rows carry noise already (finer rows and the node rows summed from them).
    noisy: bool


def job_data(
    duration: int,
    metrics: list[MetricConfig],
    layout: Layout,
    job_levels: tuple[Levels, Behaviour],
    rng: np.random.Generator,
    *,
    fine_max_nodes: int = 2,
) -> JobData:
    """Metric data of a job of ``duration`` seconds on ``layout``, from its levels (one
    job's row) and its behaviour.

    The samples of all metrics and scopes are finished together (noise, clipping,
    rounding, gaps, statistics) in one matrix, as numpy is fast on few large arrays.
    """
    levels, behaviour = job_levels
    nodes, gpus = len(layout.hostnames), len(layout.gpus[0])
    points = max(1, duration // metrics[0].timestep)
    signals = job_signals(rng, levels, behaviour, points, (nodes, max(gpus, 1)))
    fine = nodes <= fine_max_nodes and gpus == 0
    rows = _Rows(layout.hostnames)
    for index, metric in enumerate(metrics):
        if metric.scope is MetricScope.ACCELERATOR and gpus == 0:
            continue
        plan = plan_metric(metric, layout, fine and metric.name in FINE_METRICS)
        units = len(plan.ids[0]) if plan.ids else 1
        values = np.broadcast_to(
            metric_value(metric, inputs(signals, levels, plan.scale, gpus), plan.share),
            (nodes, units, points),
        )
        noisy = units > 1 or plan.scope is not None
        if noisy:  # noise on the finer units, which the node values then sum up
            values = values * rng.lognormal(0.0, _NOISE, values.shape)
            if metric.name in PERCENT_METRICS:
                values = np.minimum(values, 100.0)
            if plan.scope is not None:
                ids: list[str | None] = [i for node_ids in plan.ids for i in node_ids]
                rows.add(index, plan.scope, values.reshape(nodes * units, points), ids, True)
            reduce = np.mean if metric.aggregation is Aggregation.AVG else np.sum
            values = reduce(values, axis=1, keepdims=True)
        rows.add(index, MetricScope.NODE, values.reshape(nodes, points), [None] * nodes, noisy)
    matrix, stats = _finish(rng, metrics, rows.blocks, np.concatenate(rows.parts))
    result: dict[str, dict[MetricScope, JobMetric]] = {}
    for block in sorted(rows.blocks, key=lambda b: (b.metric, b.scope is not MetricScope.NODE)):
        metric = metrics[block.metric]
        result.setdefault(metric.name, {})[block.scope] = _job_metric(metric, block, matrix, stats)
    return JobData.model_construct(root=result)


class _Rows:
    """The rows of a job's sample matrix, collected metric by metric."""

    def __init__(self, hostnames: list[str]) -> None:
        self.hostnames = hostnames
        self.blocks: list[_Block] = []
        self.parts: list[FloatArray] = []

    def add(
        self,
        metric: int,
        scope: MetricScope,
        values: FloatArray,
        ids: list[str | None],
        noisy: bool,
    ) -> None:
        """Append one metric at one scope: rows node by node, as in ``values``."""
        start = self.blocks[-1].rows.stop if self.blocks else 0
        per_node = len(values) // len(self.hostnames)
        hosts = [h for h in self.hostnames for _ in range(per_node)]
        rows = slice(start, start + len(values))
        self.blocks.append(_Block(metric, scope, hosts, ids, rows, noisy))
        self.parts.append(values)


def inputs(signals: Signals, levels: Levels, scale: FloatArray, gpus: int) -> Inputs:
    """The formula inputs of a job's units: signals scaled by the units' busy share."""
    return Inputs(
        busy=signals.busy * scale,
        flops=signals.flops * scale,
        bandwidth=signals.bandwidth * scale,
        memory=signals.memory,
        net=signals.net,
        read=signals.read,
        write=signals.write,
        gpu=signals.gpu[:, :gpus],
        gpu_mem=signals.gpu_mem[:, :gpus],
        ipc=float(levels.ipc),
        vector=float(levels.vector),
        double=float(levels.double),
    )


def _finish(
    rng: np.random.Generator, metrics: list[MetricConfig], blocks: list[_Block], raw: FloatArray
) -> tuple[FloatArray, _Stats]:
    """The samples with noise where missing, clipped to their range, rounded to two
    decimals, with gaps in some jobs; and each row's statistics."""
    quiet = np.zeros(len(raw), dtype=bool)
    top = np.full((len(raw), 1), np.inf)
    for block in blocks:
        quiet[block.rows] = not block.noisy
        if metrics[block.metric].name in PERCENT_METRICS:
            top[block.rows] = 100.0
    raw[quiet] *= rng.lognormal(0.0, _NOISE, (int(quiet.sum()), raw.shape[1]))
    matrix: FloatArray = np.clip(raw, 0.0, top).round(2)
    if rng.random() < _GAPPY_JOBS and matrix.shape[1] >= 10:
        matrix[rng.random(matrix.shape) < _GAP_RATE] = np.nan
    return matrix, _stats(matrix)
