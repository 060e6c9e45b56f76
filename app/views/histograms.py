"""Histograms of job statistics as HoloViews bar charts: jobs by duration, by number of
nodes, and by footprint value of a metric.

The figure functions build HoloViews elements from the client's histogram points (no
I/O); :class:`JobSizeHistograms` and :class:`FootprintHistograms` draw them for a
:class:`~app.stores.user.UserStore`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import holoviews as hv
import holoviews.plotting.bokeh  # registers the Bokeh backend (plot options)
import panel as pn

from app.stores.user import UserStore
from cc_backend.stats.statistics_results import MetricHistoPoints
from cc_backend.stats.stats_results import HistoPoint

__all__ = [
    "BAR_COLOR",
    "FootprintHistograms",
    "JobSizeHistograms",
    "duration_histogram",
    "duration_label",
    "metric_histogram",
    "size_histogram",
]

#: The bars' colour (readable on light and dark backgrounds).
BAR_COLOR = "#0a84c1"
_HEIGHT = 260
_JOBS = "Number of jobs"


def _whole_numbers(plot: Any, _element: Any) -> None:
    """Ticks of the count axis one job apart at least (no "0.5 jobs")."""
    for axis in plot.state.yaxis:
        axis.ticker.min_interval = 1


def _style(element: Any, title: str) -> Any:
    return element.opts(
        title=title,
        color=BAR_COLOR,
        line_color=None,
        height=_HEIGHT,
        responsive=True,
        tools=["hover"],
        default_tools=["save", "reset"],
        toolbar="above",
        hooks=[_whole_numbers],
    )


def duration_label(seconds: int) -> str:
    """A bin edge as cc-backend labels durations: ``45m``, ``2h``, ``1h30m``."""
    hours, minutes = divmod(seconds // 60, 60)
    if not hours:
        return f"{minutes}m"
    return f"{hours}h{minutes}m" if minutes else f"{hours}h"


def duration_histogram(points: Sequence[HistoPoint]) -> hv.Bars:
    """Jobs per duration bin; each bar is labelled with its bin's upper end."""
    data = [(duration_label(p.value), p.count) for p in points]
    bars = hv.Bars(data, kdims=["Duration (bin maximum)"], vdims=[_JOBS])
    return _style(bars, "Duration distribution").opts(xrotation=45 if len(data) > 24 else 0)


def size_histogram(points: Sequence[HistoPoint], unit: str = "Nodes") -> hv.Bars:
    """Jobs per number of nodes (or hardware threads, accelerators)."""
    bars = hv.Bars([(str(p.value), p.count) for p in points], kdims=[unit], vdims=[_JOBS])
    return _style(bars, f"Number of {unit.lower()} distribution")


def metric_histogram(histogram: MetricHistoPoints) -> hv.Bars:
    """Jobs per bin of one footprint metric; bars are labelled with the bin's maximum
    (cc-backend's labels) and the axis with the metric's unit."""
    unit = f" [{histogram.unit}]" if histogram.unit.strip() else ""
    data = [(str(p.max), p.count) for p in histogram.data]
    bars = hv.Bars(data, kdims=[f"{histogram.metric} bin maximum{unit}"], vdims=[_JOBS])
    stat = f" ({histogram.stat})" if histogram.stat else ""
    return _style(bars, f"{histogram.metric}{stat} footprints")


class JobSizeHistograms(pn.viewable.Viewer):
    """The user view's duration and number-of-nodes histograms, side by side."""

    def __init__(self, store: UserStore, **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        self._row = pn.Row(sizing_mode="stretch_width", name="size-histograms")
        store.param.watch(self._update, ["histograms"])
        self._update()

    def _update(self, *_events: Any) -> None:
        found = self.store.histograms
        if found is None:
            self._row.objects = []
            return
        self._row.objects = [
            pn.pane.HoloViews(duration_histogram(found.duration), sizing_mode="stretch_width"),
            pn.pane.HoloViews(size_histogram(found.num_nodes), sizing_mode="stretch_width"),
        ]

    def __panel__(self) -> pn.Row:
        return self._row


class FootprintHistograms(pn.viewable.Viewer):
    """The user view's histograms of footprint metrics, three to a row (a note when
    none is selected)."""

    def __init__(self, store: UserStore, **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        self._grid = pn.GridBox(ncols=3, sizing_mode="stretch_width", name="metric-histograms")
        self._empty = pn.pane.Alert(
            "No footprint histograms selected.", alert_type="light", visible=False
        )
        self._layout = pn.Column(self._empty, self._grid, sizing_mode="stretch_width")
        store.param.watch(self._update, ["histograms"])
        self._update()

    def _update(self, *_events: Any) -> None:
        found = self.store.histograms
        metrics = found.metrics if found is not None else ()
        self._grid.objects = [
            pn.pane.HoloViews(metric_histogram(h), sizing_mode="stretch_width") for h in metrics
        ]
        self._empty.visible = found is not None and not metrics

    def __panel__(self) -> pn.Column:
        return self._layout
