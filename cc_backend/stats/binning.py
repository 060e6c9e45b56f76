"""How metric histograms and roofline heatmaps bin, by cc-backend's rules.

:class:`MetricBinning` says which footprint value a metric histogram bins, up to which peak
and in how many bins (the bins themselves are counted by the sources, in SQL);
:func:`roofline_tiles` bins per-job flop rates and memory bandwidths into a heatmap grid.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from cc_backend.domain.cluster import Cluster, MetricConfig
from cc_backend.domain.errors import InvalidInput, NotFound
from cc_backend.domain.filters import JobFilter, check_metric_name
from cc_backend.stats.archive_stats import DEFAULT_METRIC_BINS
from cc_backend.stats.statistics_parts import FloatArray
from cc_backend.stats.statistics_results import RooflineGrid

__all__ = ["MAX_BINS", "ClusterSource", "MetricBinning", "metric_binning", "roofline_tiles"]

#: Most bins a metric histogram and most tiles a roofline heatmap side may have.
MAX_BINS = 1000


class ClusterSource(Protocol):
    """Where cluster configurations come from (:class:`~cc_backend.services.clusters.
    ClusterCatalog` is one)."""

    def names(self) -> list[str]:
        """Names of every known cluster."""
        ...

    def get(self, name: str) -> Cluster:
        """The cluster called ``name``; NotFound if there is none."""
        ...


@dataclass(frozen=True, slots=True)
class MetricBinning:
    """How a metric histogram bins, as cc-backend does: the footprint value ``key``
    (``<metric>_<stat>``) from 0 to ``peak`` in ``bins`` equal bins; a value ``v`` falls in
    bin ``int(v / peak * bins) + 1`` (truncated; ``v == peak`` in the last bin), values
    above ``peak`` are not counted. ``peak``, ``unit`` and ``stat`` are those of the
    cluster a filter names (``cluster: {eq: ...}``), else the largest peak of all clusters
    with the metric (unit and statistic of the first of them)."""

    metric: str
    key: str
    peak: float
    unit: str
    stat: str
    bins: int

    @property
    def step(self) -> int:
        """cc-backend's bin labels: bin ``i`` is labelled ``step * (i - 1)`` to
        ``step * i``."""
        return int(self.peak) // self.bins


def _metric_config(clusters: ClusterSource, cluster: str, metric: str) -> MetricConfig | None:
    """Cluster-wide configuration of ``metric`` on ``cluster`` (None: not configured)."""
    try:
        return clusters.get(cluster).metric(metric)
    except NotFound:
        return None


def metric_binning(
    clusters: ClusterSource,
    metric: str,
    filters: Sequence[JobFilter] = (),
    num_metric_bins: int | None = None,
) -> MetricBinning:
    """How the histogram of ``metric`` bins for ``filters`` (see :class:`MetricBinning`).

    InvalidInput for a metric no cluster configures, one that is not a footprint metric
    or has no positive peak, or a number of bins outside 1 to :data:`MAX_BINS`.
    """
    check_metric_name(metric)
    bins = DEFAULT_METRIC_BINS if num_metric_bins is None else num_metric_bins
    if not 1 <= bins <= MAX_BINS:
        raise InvalidInput(f"numMetricBins must be between 1 and {MAX_BINS}, not {bins}")
    peak, unit, stat, found = 0.0, "", "", False
    named = [f.cluster.eq for f in filters if f.cluster is not None and f.cluster.eq]
    config = _metric_config(clusters, named[-1], metric) if named else None
    if config is not None:
        peak, unit, stat, found = config.peak, str(config.unit), config.footprint or "", True
    if peak == 0.0:
        for name in clusters.names():
            config = _metric_config(clusters, name, metric)
            if config is not None:
                found = True
                peak = max(peak, config.peak)
                unit = unit or str(config.unit)
                stat = stat or config.footprint or ""
    if not found:
        raise InvalidInput(f"unknown metric {metric!r}: no cluster configures it")
    if not stat:
        raise InvalidInput(f"metric {metric!r} is not a footprint metric")
    if not (peak > 0 and math.isfinite(peak)):
        raise InvalidInput(f"metric {metric!r} has no positive peak to bin up to")
    return MetricBinning(metric, f"{metric}_{stat}", peak, unit, stat, bins)


def check_grid(grid: RooflineGrid) -> None:
    """InvalidInput unless ``grid`` has 1 to :data:`MAX_BINS` rows and columns and
    positive, increasing bounds."""
    if not (1 <= grid.rows <= MAX_BINS and 1 <= grid.cols <= MAX_BINS):
        raise InvalidInput(f"rows and cols must be between 1 and {MAX_BINS}")
    bounds = (grid.min_x, grid.min_y, grid.max_x, grid.max_y)
    if not all(math.isfinite(v) and v > 0 for v in bounds):
        raise InvalidInput("the heatmap bounds must be positive numbers (log scale)")
    if grid.max_x <= grid.min_x or grid.max_y <= grid.min_y:
        raise InvalidInput("the heatmap's maxX and maxY must be above minX and minY")


def roofline_tiles(
    flops: FloatArray, bandwidth: FloatArray, grid: RooflineGrid
) -> list[list[float]]:
    """``grid.rows`` lists of ``grid.cols`` counts of the points (arithmetic intensity
    ``flops / bandwidth`` on x, ``flops`` on y, both on log scales), binned as cc-backend
    does: ``x`` from ``min_x`` (included) to ``max_x`` (excluded), ``y`` from ``min_y`` to
    ``max_y`` (both included, ``max_y`` itself falls off the grid); row 0 holds the
    smallest flop rates. Points without both values are left out."""
    check_grid(grid)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.log10(flops / bandwidth)
        y = np.log10(flops)
    lo_x, lo_y = math.log10(grid.min_x), math.log10(grid.min_y)
    hi_x, hi_y = math.log10(grid.max_x), math.log10(grid.max_y)
    inside = ~(np.isnan(x) | np.isnan(y)) & (x >= lo_x) & (x < hi_x)
    inside &= (y >= lo_y) & (y <= hi_y)
    col = np.floor((x[inside] - lo_x) / (hi_x - lo_x) * grid.cols)
    row = np.floor((y[inside] - lo_y) / (hi_y - lo_y) * grid.rows)
    keep = (col >= 0) & (col < grid.cols) & (row >= 0) & (row < grid.rows)
    tiles = np.zeros((grid.rows, grid.cols), dtype=np.float64)
    np.add.at(tiles, (row[keep].astype(np.int64), col[keep].astype(np.int64)), 1.0)
    return [[float(v) for v in line] for line in tiles]
