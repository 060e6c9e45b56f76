"""The plot of one metric of one node over a time window, shared by the systems views and
the node view.

The time axis shows clock times. A node's series comes without the time of its first
sample: metric stores pad a node's series at the front to the start of the window (with
gaps), so the first sample is at the first whole time step of the window and the others
follow one time step apart. The background shows the metric's threshold bands (as
:mod:`app.views.job_plot_figure` draws them for jobs); jobs that ran on the node can be
drawn as shaded spans, with their ids on hover.

Like the job view's plots, each is built from Bokeh's low-level models with as little as
possible (no title, legend, toolbar or grid lines), and the tick rules are shared by all
plots of a page (:class:`NodeAxes`), because a page draws many of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from bokeh.events import DoubleTap
from bokeh.models import (
    BasicTicker,
    BasicTickFormatter,
    BoxZoomTool,
    ColumnDataSource,
    CustomJS,
    DataRange1d,
    DatetimeTicker,
    DatetimeTickFormatter,
    HoverTool,
    HStrip,
    Line,
    LinearAxis,
    MultiLine,
    Plot,
    Range1d,
    VStrip,
)
from numpy.typing import NDArray

from app.views.footprint import Thresholds
from app.views.job_plot_figure import band_columns
from cc_backend.domain.cluster import MetricConfig
from cc_backend.domain.jobdata import JobMetric

__all__ = [
    "JobSpan",
    "NodeAxes",
    "node_figure",
    "sample_times",
    "span_columns",
    "thresholds_of",
]

_LINE_COLOUR = "#1f77b4"
_SPAN_COLOURS = ("#6f42c1", "#fd7e14")
_BAND_ALPHA = 0.09
_SPAN_ALPHA = 0.13
_Floats = NDArray[np.float64]


@dataclass(frozen=True)
class NodeAxes:
    """Tick rules and labels that all node plots of a page share."""

    time_ticker: DatetimeTicker = field(default_factory=DatetimeTicker)
    time_formatter: DatetimeTickFormatter = field(
        default_factory=lambda: DatetimeTickFormatter(
            minutes="%H:%M", hourmin="%H:%M", hours="%H:%M", days="%d.%m."
        )
    )
    value_ticker: BasicTicker = field(default_factory=lambda: BasicTicker(desired_num_ticks=4))
    value_formatter: BasicTickFormatter = field(default_factory=BasicTickFormatter)


@dataclass(frozen=True)
class JobSpan:
    """A job on the node: its database id, a label (the scheduler's job id and user) and
    when it ran (Unix seconds; a running job up to now)."""

    db_id: int
    label: str
    start: int
    stop: int


def sample_times(timestep: int, length: int, start: int) -> _Floats:
    """The times (milliseconds since 1970, Bokeh's datetime unit) of ``length`` samples
    ``timestep`` seconds apart, the first at the first whole step from ``start`` on."""
    step = max(timestep, 1)
    first = -(-start // step) * step
    return (first + step * np.arange(length, dtype=np.float64)) * 1000.0


def thresholds_of(config: MetricConfig) -> Thresholds:
    """A metric's configured thresholds for a whole node."""
    return Thresholds(config.peak, config.normal, config.caution, config.alert)


def span_columns(spans: Sequence[JobSpan], start: int, stop: int) -> dict[str, list[Any]]:
    """Columns of the job spans, clipped to the window: ``x0``, ``x1`` (milliseconds),
    ``label`` and ``colour`` (alternating, so that neighbours stay apart)."""
    shown = [s for s in spans if s.stop >= start and s.start <= stop]
    return {
        "x0": [max(s.start, start) * 1000.0 for s in shown],
        "x1": [min(s.stop, stop) * 1000.0 for s in shown],
        "label": [s.label for s in shown],
        "colour": [_SPAN_COLOURS[i % len(_SPAN_COLOURS)] for i in range(len(shown))],
    }


def node_figure(
    name: str,
    metric: JobMetric,
    *,
    start: int,
    stop: int,
    config: MetricConfig | None = None,
    spans: Sequence[JobSpan] = (),
    axes: NodeAxes | None = None,
    height: int = 150,
    width: int | None = None,
) -> Plot:
    """The plot of ``metric`` (its node-scope series; several are drawn as several lines)
    from ``start`` to ``stop`` (Unix seconds), with the threshold bands of ``config`` and
    the job ``spans``. ``width`` fixes the size in pixels (None: as wide as the container).
    Dragging across the plot zooms into its time axis; a double click zooms out again."""
    axes = axes or NodeAxes()
    low, high = start * 1000.0, max(stop, start + 1) * 1000.0
    plot = Plot(
        title=None,
        name=f"node-metric-{name}",
        height=height,
        **({"width": width} if width else {"sizing_mode": "stretch_width"}),
        x_range=Range1d(start=low, end=high, bounds=(low, high)),
        y_range=(y_range := DataRange1d(start=0, renderers=[])),
        toolbar_location=None,
        min_border_left=45,
        outline_line_alpha=0.3,
    )
    # Typed as dicts: Bokeh's stubs accept only the default ticker and formatter types.
    time_axis: dict[str, Any] = {"ticker": axes.time_ticker, "formatter": axes.time_formatter}
    value_axis: dict[str, Any] = {"ticker": axes.value_ticker, "formatter": axes.value_formatter}
    plot.add_layout(LinearAxis(**time_axis), "below")
    plot.add_layout(LinearAxis(**value_axis), "left")
    zoom = BoxZoomTool(dimensions="width")
    plot.add_tools(zoom)
    plot.toolbar.active_drag = zoom
    plot.js_on_event(DoubleTap, CustomJS(args={"x": plot.x_range, "low": low, "high": high},
                                         code="x.setv({start: low, end: high})"))  # fmt: skip
    if config is not None:
        strips = ColumnDataSource(band_columns(thresholds_of(config), bool(config.lower_is_better)))
        plot.add_glyph(strips, HStrip(y0="y0", y1="y1", fill_color="colour",
                                      fill_alpha=_BAND_ALPHA, line_alpha=0),
                       level="underlay", name="bands")  # fmt: skip
    if spans:
        jobs = ColumnDataSource(span_columns(spans, start, stop))
        shaded = plot.add_glyph(jobs, VStrip(x0="x0", x1="x1", fill_color="colour",
                                             fill_alpha=_SPAN_ALPHA, line_alpha=0),
                                level="underlay", name="jobs")  # fmt: skip
        plot.add_tools(HoverTool(renderers=[shaded], tooltips=[("job", "@label")]))
    series = metric.series
    if len(series) == 1:
        values = np.asarray(series[0].data, dtype=np.float64)
        source = ColumnDataSource({"x": sample_times(metric.timestep, values.size, start),
                                   "y": values})  # fmt: skip
        glyph: Line | MultiLine = Line(x="x", y="y", line_color=_LINE_COLOUR, line_width=1.5)
    else:
        source = ColumnDataSource({
            "xs": [sample_times(metric.timestep, len(s.data), start) for s in series],
            "ys": [np.asarray(s.data, dtype=np.float64) for s in series],
            "label": [s.id or s.hostname for s in series],
        })  # fmt: skip
        glyph = MultiLine(xs="xs", ys="ys", line_color=_LINE_COLOUR)
    line = plot.add_glyph(source, glyph)
    plot.add_tools(HoverTool(renderers=[line], tooltips=[("value", "$y{0.[00]}")],
                             mode="vline"))  # fmt: skip
    y_range.renderers = [line]  # bands and spans do not stretch the axis
    return plot
