"""The Bokeh figure of one job metric: a line per series, or a min/median/max band.

A metric with a statistics series (a job on many nodes) is drawn as the band between the
minimum and the maximum across its series with the median as a line (and the mean, when
the data has one, dashed); otherwise every series is a line, all of them one
``MultiLine`` glyph labelled by host and scope id. The background shows the metric's
threshold bands (alert, caution, normal) scaled to the shown scope
(:func:`scope_thresholds`). The time axis shows the time since the job's start
(``h:mm``), as cc-backend's plots do.

Dragging across a plot zooms into its time axis, a double click zooms out again.

A page draws many of these plots, and a browser spends most of its time on what each
plot puts into the page, so each is built from Bokeh's low-level models with as few of
them as possible: no title (the page shows the metric's name and unit above the plot),
no legend, no axis labels or grid lines (the threshold bands give the scale), no toolbar,
and the stateless models shared by all plots of the page (:class:`SharedAxes`: tick rules
and labels, the scale, the label policy, the selection policy, the data filter, the
zoom box's handles and the double-click callback; Bokeh models may be referenced by many
plots of one document). The renderers of
one data source share one view of it. The plot, its ranges and sizes are not sent back
from the browser (``syncable=False``): zooms reach the server as events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from bokeh.core.property.validation import validate
from bokeh.events import DoubleTap
from bokeh.model import Model
from bokeh.models import (
    AdaptiveTicker,
    AllIndices,
    AllLabels,
    BasicTicker,
    BasicTickFormatter,
    BoxZoomTool,
    CDSView,
    ColumnDataSource,
    CustomJS,
    CustomJSTickFormatter,
    DataRange1d,
    HoverTool,
    HStrip,
    Line,
    LinearAxis,
    LinearScale,
    MultiLine,
    Plot,
    Range1d,
    Selection,
    UnionRenderers,
    VArea,
)
from bokeh.models.annotations import BoxAnnotation, BoxInteractionHandles
from bokeh.palettes import Category10_10, Turbo256
from numpy.typing import NDArray

from app.views.footprint import Thresholds, job_thresholds
from cc_backend.domain.cluster import Aggregation, Cluster, MetricConfig, MetricScope, SubCluster
from cc_backend.domain.job import Job
from cc_backend.domain.jobdata import JobMetric

__all__ = [
    "BAND_COLOURS",
    "SharedAxes",
    "band_columns",
    "band_data",
    "elapsed",
    "line_data",
    "metric_figure",
    "scope_thresholds",
    "threshold_bands",
]

#: Background colours of the threshold bands (light enough for both themes).
BAND_COLOURS = {"alert": "#dc3545", "caution": "#ffc107", "normal": "#20c997"}
_BAND_ALPHA = 0.09
_LINE_COLOUR = "#1f77b4"
_Floats = NDArray[np.float64]

#: Tick labels of seconds since the start as ``h:mm`` (BokehJS evaluates this).
_HOURS_MINUTES = """
const total = Math.round(tick);
const sign = total < 0 ? "-" : "";
const hours = Math.floor(Math.abs(total) / 3600);
const minutes = Math.floor((Math.abs(total) % 3600) / 60);
return sign + hours + ":" + String(minutes).padStart(2, "0");
"""


#: Double click: the plot that was clicked shows its whole time axis again (its bounds).
_ZOOM_OUT = """
const range = cb_obj.origin.x_range;
range.setv({start: range.bounds[0], end: range.bounds[1]});
"""


def _default_handles() -> BoxInteractionHandles:
    handles = BoxAnnotation().handles  # Bokeh's default handles of a box
    assert isinstance(handles, BoxInteractionHandles)
    return handles


def _time_ticker() -> AdaptiveTicker:
    # Steps of 1, 2, 3, 6, 12, 15 and 30 minutes or hours.
    return AdaptiveTicker(base=60, mantissas=[1, 2, 3, 6, 12, 15, 30], min_interval=60)


@dataclass(frozen=True)
class SharedAxes:
    """Tick rules and labels that all metric plots of a page share, and the stateless
    models their axes, sources and renderers refer to (one each per page instead of one
    each per plot: fewer models to build, send and draw)."""

    time_ticker: AdaptiveTicker = field(default_factory=_time_ticker)
    time_formatter: CustomJSTickFormatter = field(
        default_factory=lambda: CustomJSTickFormatter(code=_HOURS_MINUTES)
    )
    value_ticker: BasicTicker = field(default_factory=BasicTicker)
    value_formatter: BasicTickFormatter = field(default_factory=BasicTickFormatter)
    label_policy: AllLabels = field(default_factory=AllLabels)
    selection_policy: UnionRenderers = field(default_factory=UnionRenderers)
    #: The (always empty) selection of every source: the plots have no selection tools.
    selection: Selection = field(default_factory=Selection)
    all_rows: AllIndices = field(default_factory=AllIndices)
    zoom_out: CustomJS = field(default_factory=lambda: CustomJS(code=_ZOOM_OUT))
    #: The linear scale of both axes of every plot (BokehJS derives each plot's own).
    scale: LinearScale = field(default_factory=LinearScale)
    #: The resize handles of every zoom box (Bokeh's defaults; never shown: a zoom box
    #: cannot be edited), one set instead of one per plot.
    zoom_handles: BoxInteractionHandles = field(default_factory=_default_handles)

    def source(self, columns: dict[str, Any]) -> ColumnDataSource:
        """A data source of ``columns`` with the shared selection policy and selection."""
        return ColumnDataSource(
            columns, selection_policy=self.selection_policy, selected=self.selection
        )

    def view(self) -> CDSView:
        """A view of all rows of one data source (shared by that source's renderers)."""
        return CDSView(filter=self.all_rows)


def elapsed(timestep: int, length: int) -> _Floats:
    """Seconds since the start of ``length`` samples ``timestep`` seconds apart."""
    return np.arange(length, dtype=np.float64) * timestep


def band_data(metric: JobMetric) -> dict[str, _Floats] | None:
    """Columns ``x``, ``min``, ``median``, ``max`` (and ``mean``) of ``metric``'s
    statistics series; None without one."""
    stats = metric.statistics_series
    if stats is None or stats.min is None or stats.max is None:
        return None
    lines = {k: getattr(stats, k) for k in ("min", "median", "max", "mean")}
    length = max(v.size for v in lines.values() if v is not None)
    columns: dict[str, _Floats] = {"x": elapsed(metric.timestep, length)}
    for key, values in lines.items():
        if values is not None:
            padded = np.full(length, np.nan)
            padded[: values.size] = values
            columns[key] = padded
    return columns


def _label(hostname: str, scope_id: str | None, scope: MetricScope) -> str:
    if scope_id is None or scope is MetricScope.NODE:
        return hostname
    return f"{hostname} {scope}{scope_id}"


def _spread(palette: tuple[str, ...], count: int) -> list[str]:
    picks = np.linspace(0, len(palette) - 1, count).round().astype(int)
    return [palette[i] for i in picks]


def line_data(metric: JobMetric, scope: MetricScope) -> dict[str, list[Any]]:
    """Columns for one ``MultiLine``: ``xs``, ``ys``, ``label`` and ``colour`` per series."""
    series = metric.series
    x = elapsed(metric.timestep, max((s.data.size for s in series), default=0))
    palette = Category10_10 if len(series) <= 10 else _spread(Turbo256, len(series))
    return {
        "xs": [x[: s.data.size] for s in series],
        "ys": [s.data for s in series],
        "label": [_label(s.hostname, s.id, scope) for s in series],
        "colour": [palette[i % len(palette)] for i in range(len(series))],
    }


def _units_per_node(subcluster: SubCluster, scope: MetricScope) -> int:
    topology = subcluster.topology
    counts = {
        MetricScope.SOCKET: len(topology.socket),
        MetricScope.MEMORY_DOMAIN: len(topology.memory_domain),
        MetricScope.CORE: len(topology.core or topology.node),
        MetricScope.HWTHREAD: len(topology.node),
        MetricScope.ACCELERATOR: len(topology.accelerators or []),
    }
    return max(counts.get(scope, 1), 1)


def scope_thresholds(
    job: Job, cluster: Cluster, subcluster: SubCluster, config: MetricConfig, scope: MetricScope
) -> Thresholds:
    """``config``'s thresholds as they apply to one series at ``scope``.

    At node scope those of the job (:func:`~app.views.footprint.job_thresholds`: scaled
    to a shared job's share of the node). Below it, a summed metric's node thresholds are
    divided by the number of such units in a node; an averaged metric keeps them.
    """
    if scope is MetricScope.NODE:
        return job_thresholds(job, cluster, config)
    if config.aggregation is not Aggregation.SUM:
        return Thresholds(config.peak, config.normal, config.caution, config.alert)
    units = _units_per_node(subcluster, scope)
    return Thresholds(
        config.peak / units, config.normal / units, config.caution / units, config.alert / units
    )


@dataclass(frozen=True)
class Band:
    """A background band of a plot: ``bottom`` to ``top`` (None: unbounded)."""

    name: str
    bottom: float | None
    top: float | None


def threshold_bands(limits: Thresholds, lower_is_better: bool) -> list[Band]:
    """Where values are alarming, doubtful or normal, from the bottom up."""
    if lower_is_better:
        return [
            Band("normal", 0.0, limits.caution),
            Band("caution", limits.caution, limits.alert),
            Band("alert", limits.alert, None),
        ]
    return [
        Band("alert", 0.0, limits.alert),
        Band("caution", limits.alert, limits.caution),
        Band("normal", limits.caution, None),
    ]


#: The top of the uppermost band: far above any data (the bands do not widen the axis).
_SKY = 1e30


def band_columns(limits: Thresholds, lower_is_better: bool) -> dict[str, list[Any]]:
    """Columns of the background strips: ``y0``, ``y1``, ``colour`` and ``band`` name."""
    bands = threshold_bands(limits, lower_is_better)
    return {
        "y0": [b.bottom if b.bottom is not None else -_SKY for b in bands],
        "y1": [b.top if b.top is not None else _SKY for b in bands],
        "colour": [BAND_COLOURS[b.name] for b in bands],
        "band": [b.name for b in bands],
    }


def metric_figure(
    name: str,
    metric: JobMetric,
    scope: MetricScope,
    *,
    duration: int,
    limits: Thresholds | None = None,
    lower_is_better: bool = False,
    axes: SharedAxes | None = None,
    height: int = 220,
    width: int | None = None,
) -> tuple[Plot, ColumnDataSource]:
    """The plot of ``metric`` at ``scope`` over ``duration`` seconds, and the data source
    of its samples (band columns with a statistics series, else ``MultiLine`` columns).
    ``width`` fixes the plot's size in pixels (None: as wide as its container).

    Bokeh does not validate the properties set here (a fifth of the build time of a page
    of plots); the tests validate every property of the models this builds."""
    with validate(False):
        axes = axes or SharedAxes()
        end = float(max(duration, metric.timestep))
        plot = Plot(
            title=None,
            name=f"metric-{name}",
            height=height,
            **({"width": width} if width else {"sizing_mode": "stretch_width"}),
            x_range=Range1d(start=0.0, end=end, bounds=(0.0, end), syncable=False),
            y_range=(y_range := DataRange1d(start=0, renderers=[], syncable=False)),
            x_scale=axes.scale,
            y_scale=axes.scale,
            toolbar_location=None,
            min_border_left=50,
            outline_line_alpha=0.3,
            syncable=False,  # the browser's sizes and ranges are not sent back (zooms are events)
        )
        # Typed as dicts: Bokeh's stubs accept only the default ticker and formatter types.
        time_axis: dict[str, Any] = {"ticker": axes.time_ticker, "formatter": axes.time_formatter}
        value_axis: dict[str, Any] = {
            "ticker": axes.value_ticker,
            "formatter": axes.value_formatter,
        }
        labels = axes.label_policy
        plot.add_layout(LinearAxis(**time_axis, major_label_policy=labels), "below")
        plot.add_layout(LinearAxis(**value_axis, major_label_policy=labels), "left")
        zoom = BoxZoomTool(dimensions="width")
        zoom.overlay.handles = axes.zoom_handles
        plot.add_tools(zoom)
        plot.toolbar.active_drag = zoom
        plot.js_on_event(DoubleTap, axes.zoom_out)
        if limits is not None:
            strips = axes.source(band_columns(limits, lower_is_better))
            plot.add_glyph(strips, HStrip(y0="y0", y1="y1", fill_color="colour",
                                          fill_alpha=_BAND_ALPHA, line_alpha=0),
                           level="underlay", name="bands", view=axes.view())  # fmt: skip
        columns = band_data(metric)
        if columns is not None:
            source, view = axes.source(columns), axes.view()
            shown: list[Model] = [
                plot.add_glyph(source, VArea(x="x", y1="min", y2="max", fill_color=_LINE_COLOUR,
                                             fill_alpha=0.25), view=view),
                plot.add_glyph(source, Line(x="x", y="median", line_color=_LINE_COLOUR,
                                            line_width=1.5), view=view),
            ]  # fmt: skip
            if "mean" in columns:
                shown.append(
                    plot.add_glyph(source, Line(x="x", y="mean", line_color="#ff7f0e",
                                                line_dash="dashed"), view=view)
                )  # fmt: skip
        else:
            source = axes.source(line_data(metric, scope))
            lines = plot.add_glyph(
                source,
                MultiLine(xs="xs", ys="ys", line_color="colour", line_width=1.2),
                view=axes.view(),
            )
            plot.add_tools(
                HoverTool(
                    renderers=[lines], tooltips=[("series", "@label"), ("value", "$y{0.[00]}")]
                )
            )
            shown = [lines]
        y_range.renderers = shown  # the bands do not stretch the axis
        return plot, source
