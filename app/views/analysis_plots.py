"""The analysis page's plots: job distributions, the roofline heatmap, metric histograms
weighted by node hours and scatter plots of metric pairs.

The figure functions draw the store's results (no I/O): :func:`heatmap_figure` (Bokeh, log
axes, the subclusters' roofs of :mod:`app.views.roofline`), :func:`weighted_histogram_plot`
and :func:`scatter_plot` (HoloViews; a scatter plot of more jobs than a browser draws
comes binned, and is drawn as a 2D histogram). The viewers redraw when the store changes.
"""

from __future__ import annotations

from typing import Any

import holoviews as hv
import holoviews.plotting.bokeh  # registers the Bokeh backend (plot options)
import numpy as np
import panel as pn
from bokeh.models import ColumnDataSource, LogColorMapper, Range1d
from bokeh.models.annotations import ColorBar
from bokeh.palettes import Viridis256
from bokeh.plotting import figure

from app.stores.analysis import AnalysisStore, RooflineHeatmap, Scatter, WeightedHistogram
from app.views.histograms import BAR_COLOR, duration_histogram, size_histogram
from app.views.roofline import ceilings_of
from cc_backend.domain.cluster import Cluster

__all__ = [
    "JobDistributions",
    "MetricPlots",
    "RooflineHeatmapView",
    "heatmap_caption",
    "heatmap_figure",
    "scatter_plot",
    "weighted_histogram_plot",
]

_HEIGHT = 300
_ROOF_COLORS = ("#d62728", "#ff7f0e", "#2ca02c", "#9467bd")


def _axis(metric: str, unit: str) -> str:
    return f"{metric} [{unit}]" if unit else metric


def heatmap_figure(heatmap: RooflineHeatmap, cluster: Cluster | None) -> figure:
    """The heatmap's tiles as coloured rectangles on log-log axes (colour: node time steps
    per tile, log scale) under the roofs of ``cluster``'s subclusters."""
    grid = heatmap.grid
    x_edges = np.logspace(np.log10(grid.min_x), np.log10(grid.max_x), grid.cols + 1)
    y_edges = np.logspace(np.log10(grid.min_y), np.log10(grid.max_y), grid.rows + 1)
    rows, cols = np.nonzero(heatmap.tiles)
    counts = heatmap.tiles[rows, cols]
    plot = figure(
        title=f"Roofline heatmap ({heatmap.time_steps:,} time steps)",
        name="roofline-heatmap",
        height=_HEIGHT + 60,
        sizing_mode="stretch_width",
        x_axis_type="log",
        y_axis_type="log",
        x_range=Range1d(start=grid.min_x, end=grid.max_x),
        y_range=Range1d(start=grid.min_y, end=grid.max_y),
        x_axis_label="Arithmetic intensity [Flop/B]",
        y_axis_label="Performance [GFlop/s]",
        tools="pan,wheel_zoom,box_zoom,reset,save,hover",
        tooltips=[("time steps", "@count{0,0}")],
        toolbar_location="above",
    )
    mapper = LogColorMapper(
        palette=Viridis256, low=1.0, high=max(float(counts.max()) if counts.size else 1.0, 2.0)
    )
    source = ColumnDataSource(
        {
            "left": x_edges[cols],
            "right": x_edges[cols + 1],
            "bottom": y_edges[rows],
            "top": y_edges[rows + 1],
            "count": counts,
        }
    )
    plot.quad(
        left="left", right="right", bottom="bottom", top="top", source=source,
        fill_color={"field": "count", "transform": mapper}, line_color=None,
    )  # fmt: skip
    plot.add_layout(ColorBar(color_mapper=mapper, title="Time steps", width=8), "right")
    for i, sub in enumerate(cluster.sub_clusters if cluster is not None else []):
        ceilings = ceilings_of(sub)
        if ceilings.bandwidth <= 0:
            continue
        x = np.array([grid.min_x, ceilings.ridge, grid.max_x])
        plot.line(
            x, ceilings.bound(x), line_width=2, color=_ROOF_COLORS[i % len(_ROOF_COLORS)],
            legend_label=f"{sub.name} roof",
        )  # fmt: skip
    if plot.legend:
        plot.legend.location = "bottom_right"
        plot.legend.background_fill_alpha = 0.6
    return plot


def weighted_histogram_plot(histogram: WeightedHistogram) -> hv.Histogram:
    """Node hours per bin of a metric's job averages."""
    label = _axis(histogram.metric, histogram.unit)
    element = hv.Histogram(
        (histogram.edges, histogram.node_hours), kdims=[f"{label} (job average)"],
        vdims=["Node hours"],
    )  # fmt: skip
    return element.opts(
        title=f"{histogram.metric}: node hours by job average ({histogram.total_jobs:,} jobs)",
        color=BAR_COLOR,
        line_color=None,
        height=_HEIGHT,
        responsive=True,
        tools=["hover"],
        default_tools=["save", "reset", "pan", "wheel_zoom"],
        toolbar="above",
    )


def scatter_plot(scatter: Scatter) -> hv.Element:
    """One point per job (size: node hours), or for a binned scatter a 2D histogram of
    jobs per cell (log colour scale, empty cells blank)."""
    x_label, y_label = (
        _axis(scatter.x_metric, scatter.x_unit),
        _axis(scatter.y_metric, scatter.y_unit),
    )
    title = f"{scatter.x_metric} / {scatter.y_metric} ({scatter.jobs:,} jobs)"
    style: dict[str, Any] = {
        "title": title,
        "height": _HEIGHT,
        "responsive": True,
        "tools": ["hover"],
        "default_tools": ["save", "reset", "pan", "wheel_zoom", "box_zoom"],
        "toolbar": "above",
    }
    if scatter.binned:
        assert scatter.counts is not None
        counts = np.where(scatter.counts > 0, scatter.counts, np.nan).T
        mesh = hv.QuadMesh(
            (scatter.x_edges, scatter.y_edges, counts), kdims=[x_label, y_label], vdims=["Jobs"]
        )
        return mesh.opts(cmap="viridis", cnorm="log", colorbar=True, **style)
    sizes = 4 + 12 * np.sqrt(
        scatter.node_hours / max(float(scatter.node_hours.max(initial=0)), 1e-9)
    )
    points = hv.Scatter(
        (scatter.x, scatter.y, scatter.node_hours, sizes),
        kdims=[x_label],
        vdims=[y_label, "Node hours", "size"],
    )
    return points.opts(color=BAR_COLOR, alpha=0.4, size="size", line_color=None, **style)


class JobDistributions(pn.viewable.Viewer):
    """Jobs by duration and by number of nodes."""

    def __init__(self, store: AnalysisStore, **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        self._row = pn.Row(sizing_mode="stretch_width", name="distributions")
        store.param.watch(self._update, ["histograms"])
        self._update()

    def _update(self, *_events: Any) -> None:
        found = self.store.histograms
        self._row.objects = (
            []
            if found is None
            else [
                pn.pane.HoloViews(duration_histogram(found.duration), sizing_mode="stretch_width"),
                pn.pane.HoloViews(size_histogram(found.num_nodes), sizing_mode="stretch_width"),
            ]
        )

    def __panel__(self) -> pn.Row:
        return self._row


def heatmap_caption(heatmap: RooflineHeatmap) -> str:
    """What the heatmap counts, said under it (and that it is empty, when it is)."""
    caption = (
        "**Roofline heatmap**: every node time step of every matching job "
        "(flops_any against flops_any / mem_bw): finished jobs as counted when they were "
        "archived, running jobs from the metric store (as far back as it keeps data). Jobs "
        "not yet in the statistics index are not included."
    )
    if heatmap.time_steps == 0:
        caption += " No time step of the matching jobs is counted yet."
    return caption


class RooflineHeatmapView(pn.viewable.Viewer):
    """The roofline heatmap of the matching jobs."""

    def __init__(self, store: AnalysisStore, **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        self._column = pn.Column(sizing_mode="stretch_width", name="roofline")
        store.param.watch(self._update, ["heatmap"])
        self._update()

    def _update(self, *_events: Any) -> None:
        found = self.store.heatmap
        self._column.objects = (
            []
            if found is None
            else [
                pn.pane.Markdown(heatmap_caption(found)),
                pn.pane.Bokeh(
                    heatmap_figure(found, self.store.site_cluster), sizing_mode="stretch_width"
                ),
            ]
        )

    def __panel__(self) -> pn.Column:
        return self._column


class MetricPlots(pn.viewable.Viewer):
    """The metric histograms and the scatter plots, three to a row, each under a note
    of what it shows."""

    def __init__(self, store: AnalysisStore, **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        self._histograms = pn.GridBox(
            ncols=3, sizing_mode="stretch_width", name="metric-histograms"
        )
        self._scatters = pn.GridBox(ncols=3, sizing_mode="stretch_width", name="scatter-plots")
        self._layout = pn.Column(
            pn.pane.Markdown(
                "**Metric histograms**: the averages of all matching jobs; each job counts "
                "with its node hours."
            ),
            self._histograms,
            pn.pane.Markdown(
                "**Scatter plots**: one point per job (size: node hours); with more jobs "
                "than a browser draws, jobs per cell of a grid."
            ),
            self._scatters,
            sizing_mode="stretch_width",
        )
        store.param.watch(self._update, ["metric_histograms", "scatters"])
        self._update()

    def _update(self, *_events: Any) -> None:
        store = self.store
        self._histograms.objects = [
            pn.pane.HoloViews(weighted_histogram_plot(h), sizing_mode="stretch_width")
            for h in store.metric_histograms
        ]
        self._scatters.objects = [
            pn.pane.HoloViews(scatter_plot(s), sizing_mode="stretch_width") for s in store.scatters
        ]

    def __panel__(self) -> pn.Column:
        return self._layout
