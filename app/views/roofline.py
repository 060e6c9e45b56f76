"""Roofline plots: performance against arithmetic intensity, under a subcluster's ceilings.

The roofline model bounds a node's floating-point rate by its peak rate (flat ceilings:
``flopRateScalar`` and ``flopRateSimd`` of the subcluster) and by memory bandwidth times
arithmetic intensity (the slanted roof: ``memoryBandwidth``). A point is one time step of
one node: ``flops_any`` (GFlop/s) over ``flops_any / mem_bw`` (Flop per byte). Points are
coloured by the time of their step (the job's start dark, its end bright).

:func:`ceilings_of` reads a subcluster's ceilings, :func:`job_points` turns a job's
``flops_any`` and ``mem_bw`` series into points (vectorised, any number of nodes), and
:func:`roofline_figure` draws them. Nothing here fetches: the job view and the analysis
page hand in what they loaded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from bokeh.models import ColumnDataSource, LinearColorMapper, Range1d
from bokeh.models.annotations import ColorBar
from bokeh.palettes import Viridis256
from bokeh.plotting import figure
from numpy.typing import NDArray

from cc_backend.domain.cluster import MetricValue, SubCluster
from cc_backend.domain.jobdata import JobMetric
from cc_backend.domain.units import prefix_factor

__all__ = [
    "MAX_POINTS",
    "Ceilings",
    "RooflinePoints",
    "ceilings_of",
    "job_points",
    "roofline_figure",
]

#: More points than this are thinned (every n-th time step) before they are drawn.
MAX_POINTS = 20_000

_Floats = NDArray[np.float64]


def _giga(value: MetricValue) -> float:
    """``value`` in its unit with the prefix ``G`` (e.g. GFlop/s, GB/s)."""
    return value.value * prefix_factor(value.unit.prefix, "G")


@dataclass(frozen=True)
class Ceilings:
    """A subcluster's roofs per node: GFlop/s (scalar and SIMD) and GB/s."""

    scalar: float
    simd: float
    bandwidth: float

    @property
    def ridge(self) -> float:
        """The intensity (Flop/B) where the memory roof meets the SIMD ceiling."""
        return self.simd / self.bandwidth if self.bandwidth > 0 else 0.0

    def bound(self, intensity: _Floats) -> _Floats:
        """The attainable GFlop/s at each ``intensity``."""
        result: _Floats = np.minimum(self.simd, self.bandwidth * intensity)
        return result


def ceilings_of(subcluster: SubCluster) -> Ceilings:
    """The ceilings of ``subcluster`` in GFlop/s and GB/s."""
    return Ceilings(
        scalar=_giga(subcluster.flop_rate_scalar),
        simd=_giga(subcluster.flop_rate_simd),
        bandwidth=_giga(subcluster.memory_bandwidth),
    )


@dataclass(frozen=True)
class RooflinePoints:
    """Points of a roofline: intensity (Flop/B), performance (GFlop/s) and the time of
    each point as a fraction of the job's run (0 at the start, 1 at the end)."""

    intensity: _Floats
    performance: _Floats
    time: _Floats

    def __len__(self) -> int:
        return int(self.intensity.size)

    @classmethod
    def empty(cls) -> RooflinePoints:
        """No points."""
        none = np.empty(0)
        return cls(none, none, none)


def _rows_by_host(metric: JobMetric, hosts: list[str], length: int) -> _Floats:
    """The node series of ``metric`` as rows in the order of ``hosts``, NaN-padded."""
    rows = np.full((len(hosts), length), np.nan)
    position = {host: i for i, host in enumerate(hosts)}
    for series in metric.series:
        row = position.get(series.hostname)
        if row is not None:
            n = min(series.data.size, length)
            rows[row, :n] = series.data[:n]
    return rows


def job_points(
    flops: JobMetric | None, mem_bw: JobMetric | None, max_points: int = MAX_POINTS
) -> RooflinePoints:
    """One point per node and time step with finite, positive flops and bandwidth.

    ``flops`` and ``mem_bw`` are node-scope data of ``flops_any`` and ``mem_bw``, matched
    by host name; their units' prefixes are converted to G. When there are more than
    ``max_points`` points, every n-th time step is kept.
    """
    if flops is None or mem_bw is None or not flops.series or not mem_bw.series:
        return RooflinePoints.empty()
    hosts = sorted({s.hostname for s in flops.series} & {s.hostname for s in mem_bw.series})
    length = min(max(s.data.size for s in flops.series), max(s.data.size for s in mem_bw.series))
    if not hosts or length == 0:
        return RooflinePoints.empty()
    stride = max(1, -(-len(hosts) * length // max_points))
    steps = np.arange(0, length, stride)
    f = _rows_by_host(flops, hosts, length)[:, steps] * prefix_factor(flops.unit.prefix, "G")
    b = _rows_by_host(mem_bw, hosts, length)[:, steps] * prefix_factor(mem_bw.unit.prefix, "G")
    with np.errstate(divide="ignore", invalid="ignore"):
        intensity = f / b
    usable = np.isfinite(intensity) & (f > 0) & (b > 0)
    times = np.broadcast_to(steps / max(length - 1, 1), f.shape)
    return RooflinePoints(intensity[usable], f[usable], times[usable].astype(np.float64))


def _axis_limits(ceilings: Ceilings, points: RooflinePoints) -> tuple[float, float, float, float]:
    x_low, x_high = 0.01, 1000.0
    y_low, y_high = 1.0, max(ceilings.simd * 2.0, 10.0)
    if len(points):
        x_low = min(x_low, float(points.intensity.min()) / 2)
        x_high = max(x_high, float(points.intensity.max()) * 2)
        y_low = min(y_low, float(points.performance.min()) / 2)
        y_high = max(y_high, float(points.performance.max()) * 2)
    return x_low, x_high, y_low, y_high


def roofline_figure(
    ceilings: Ceilings,
    points: RooflinePoints,
    *,
    title: str = "Roofline",
    height: int = 360,
    name: str = "roofline",
) -> figure:
    """The roofline of ``points`` under ``ceilings`` (log-log axes, time colour bar)."""
    x_low, x_high, y_low, y_high = _axis_limits(ceilings, points)
    plot = figure(
        title=title,
        name=name,
        height=height,
        sizing_mode="stretch_width",
        x_axis_type="log",
        y_axis_type="log",
        x_range=Range1d(start=x_low, end=x_high),
        y_range=Range1d(start=y_low, end=y_high),
        x_axis_label="Arithmetic intensity [Flop/B]",
        y_axis_label="Performance [GFlop/s]",
        tools="pan,wheel_zoom,box_zoom,reset,save",
        toolbar_location="above",
    )
    if ceilings.bandwidth > 0:
        roof_x = np.array([x_low, ceilings.ridge, x_high])
        plot.line(
            roof_x, ceilings.bound(roof_x), line_width=2, color="#1f77b4", legend_label="Roof"
        )
        scalar_x = ceilings.scalar / ceilings.bandwidth
        plot.line(
            [scalar_x, x_high],
            [ceilings.scalar, ceilings.scalar],
            line_width=1.5,
            line_dash="dashed",
            color="#2ca02c",
            legend_label="Scalar peak",
        )
    mapper = LinearColorMapper(palette=Viridis256, low=0.0, high=1.0)
    source = ColumnDataSource({"x": points.intensity, "y": points.performance, "time": points.time})
    plot.scatter(
        "x", "y", source=source, size=4, alpha=0.7, line_color=None,
        fill_color={"field": "time", "transform": mapper},
    )  # fmt: skip
    bar = ColorBar(color_mapper=mapper, title="Time (start to end)", width=8)
    plot.add_layout(bar, "right")
    plot.legend.location = "bottom_right"
    plot.legend.background_fill_alpha = 0.6
    return plot
