"""Roofline time steps of a job, counted on a fixed fine log-log grid, and how the counts of
many jobs make up a heatmap of any requested grid.

A roofline heatmap (GraphQL's ``rooflineHeatmap``) counts every time step of every node of
every matching job at its arithmetic intensity (``flops_any / mem_bw``, flop per byte, x)
and flop rate (``flops_any`` in GFlop/s, y), both on log scales. Loading the time series of
thousands of jobs per request is out of the question, so each job's time steps are counted
once, when the job is archived or the index is built, on the fixed grid :data:`FINE`; a
heatmap is then the sum of the fine counts of the matching jobs, each fine cell put into the
requested tile that holds its centre (:func:`tiles_from_cells`).

The fine grid: x from 10^-4 to 10^4 flop/byte and y from 10^-3 to 10^7 GFlop/s, both in
steps of 1/50 decade (400 x 500 cells). Values are taken at the ``G`` prefix (a metric
stored with another prefix is converted), so the flop rate is in GFlop/s and the intensity
in flop per byte whatever the archive's prefixes.

Accuracy: a requested grid whose bounds lie on fine cell edges (``log10`` of each bound a
multiple of 0.02 within the fine range) and whose tile edges do too (e.g. cc-backend's
x axis, 0.01 to 1000 in 50 tiles of 0.1 decade; a y axis of 1 to 10^k GFlop/s in 50 rows
when ``k`` is a multiple of 1) is answered exactly: every time step lands in the tile
cc-backend's rule would put it in (up to points exactly on a tile edge, where floating
point decides either way). For other grids, such as cc-backend's y axis up to a cluster's
peak flop rate, a tile edge may cut a fine cell: the whole cell then counts in the tile
holding its centre, so a time step within 0.01 decade (2.3 %) of a tile edge may be counted
in the neighbouring tile; totals are unchanged. Time steps outside the fine range are not
counted in any heatmap (requested tiles beyond it stay empty).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cc_backend.domain.cluster import MetricScope
from cc_backend.domain.jobdata import JobData, JobMetric
from cc_backend.domain.units import prefix_factor
from cc_backend.stats.statistics_results import RooflineGrid

__all__ = [
    "FINE",
    "ROOFLINE_METRICS",
    "FineGrid",
    "JobCells",
    "job_cells",
    "point_cells",
    "tiles_from_cells",
]

#: The metrics of the roofline: flop rate and memory bandwidth, at node scope.
ROOFLINE_METRICS = ("flops_any", "mem_bw")

Cells = npt.NDArray[np.int32]
Counts = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class FineGrid:
    """A log-log grid: ``cols`` cells from ``10**lo_x`` on x and ``rows`` from ``10**lo_y``
    on y, each ``1 / per_decade`` decades wide. Cell ``row * cols + col``."""

    lo_x: int
    lo_y: int
    cols: int
    rows: int
    per_decade: int

    @property
    def cells(self) -> int:
        return self.cols * self.rows


#: The grid every job's time steps are counted on (see the module docstring).
FINE = FineGrid(lo_x=-4, lo_y=-3, cols=400, rows=500, per_decade=50)


@dataclass(frozen=True, slots=True)
class JobCells:
    """One job's time steps per fine cell: sorted distinct ``cells`` and their ``counts``
    (both empty when the job has no usable time step)."""

    cells: Cells
    counts: Counts

    @classmethod
    def empty(cls) -> JobCells:
        return cls(np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int64))

    @property
    def steps(self) -> int:
        """How many time steps were counted."""
        return int(self.counts.sum())


def _node_metric(data: JobData, metric: str) -> JobMetric | None:
    scopes = data.root.get(metric)
    if scopes is None:
        return None
    return scopes.get(MetricScope.NODE)


def _giga(metric: JobMetric) -> float:
    return prefix_factor(metric.unit.prefix, "G")


def point_cells(flops: npt.NDArray[np.float64], bandwidth: npt.NDArray[np.float64]) -> JobCells:
    """Fine cells of the points (``flops`` in GFlop/s, ``bandwidth`` in GB/s, aligned);
    points without a finite, positive intensity and flop rate, or outside the fine grid,
    are left out."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        x = np.log10(flops / bandwidth)
        y = np.log10(flops)
    col = np.floor((x - FINE.lo_x) * FINE.per_decade)
    row = np.floor((y - FINE.lo_y) * FINE.per_decade)
    keep = np.isfinite(col) & np.isfinite(row)
    keep &= (col >= 0) & (col < FINE.cols) & (row >= 0) & (row < FINE.rows)
    if not keep.any():
        return JobCells.empty()
    flat = row[keep].astype(np.int64) * FINE.cols + col[keep].astype(np.int64)
    cells, counts = np.unique(flat, return_counts=True)
    return JobCells(cells.astype(np.int32), counts.astype(np.int64))


def job_cells(data: JobData) -> JobCells:
    """The job's node-level time steps per fine cell.

    Each node's ``flops_any`` series is paired with its ``mem_bw`` series of the same host
    (the shorter one decides how many time steps there are); a time step counts when both
    values are known and intensity and flop rate are positive. A job without both metrics
    at node scope has no cells.
    """
    flops_metric, bw_metric = (_node_metric(data, m) for m in ROOFLINE_METRICS)
    if flops_metric is None or bw_metric is None:
        return JobCells.empty()
    by_host = {s.hostname: s.data for s in bw_metric.series}
    f_scale, b_scale = _giga(flops_metric), _giga(bw_metric)
    flops_parts: list[npt.NDArray[np.float64]] = []
    bw_parts: list[npt.NDArray[np.float64]] = []
    for series in flops_metric.series:
        bandwidth = by_host.get(series.hostname)
        if bandwidth is None:
            continue
        n = min(len(series.data), len(bandwidth))
        flops_parts.append(np.asarray(series.data[:n], dtype=np.float64) * f_scale)
        bw_parts.append(np.asarray(bandwidth[:n], dtype=np.float64) * b_scale)
    if not flops_parts:
        return JobCells.empty()
    return point_cells(np.concatenate(flops_parts), np.concatenate(bw_parts))


def tiles_from_cells(
    cells: npt.ArrayLike, counts: npt.ArrayLike, grid: RooflineGrid
) -> list[list[float]]:
    """``grid.rows`` lists of ``grid.cols`` counts (row 0: the lowest flop rates) from time
    steps per fine cell: each fine cell counts in the tile holding its centre, binned as
    cc-backend bins a point (x from ``min_x`` included to ``max_x`` excluded, y from
    ``min_y`` to ``max_y``, ``max_y`` itself off the grid)."""
    flat = np.asarray(cells, dtype=np.int64)
    weights = np.asarray(counts, dtype=np.float64)
    tiles = np.zeros((grid.rows, grid.cols), dtype=np.float64)
    if flat.size:
        x = FINE.lo_x + ((flat % FINE.cols) + 0.5) / FINE.per_decade
        y = FINE.lo_y + ((flat // FINE.cols) + 0.5) / FINE.per_decade
        lo_x, lo_y = math.log10(grid.min_x), math.log10(grid.min_y)
        hi_x, hi_y = math.log10(grid.max_x), math.log10(grid.max_y)
        inside = (x >= lo_x) & (x < hi_x) & (y >= lo_y) & (y <= hi_y)
        col = np.floor((x - lo_x) / (hi_x - lo_x) * grid.cols)
        row = np.floor((y - lo_y) / (hi_y - lo_y) * grid.rows)
        inside &= (col >= 0) & (col < grid.cols) & (row >= 0) & (row < grid.rows)
        np.add.at(
            tiles,
            (row[inside].astype(np.int64), col[inside].astype(np.int64)),
            weights[inside],
        )
    return [[float(v) for v in line] for line in tiles]
