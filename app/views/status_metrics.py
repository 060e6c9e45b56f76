"""Cluster-wide metrics over time: the sums over all nodes of power, flop rate and memory
bandwidth (or averages, for metrics aggregated by average), one small plot each."""

from __future__ import annotations

from typing import Any

import numpy as np
import panel as pn
from bokeh.plotting import figure

from app.stores.status import ClusterStatusStore
from cc_backend.services.cluster_status import ClusterMetric, ClusterMetrics, unit_text

__all__ = ["ClusterMetricPlots", "metric_figure"]


def metric_figure(metric: ClusterMetric, stop: int) -> figure:
    """``metric`` over time; its last sample is at ``stop`` (Unix seconds) or before."""
    count = metric.data.size
    first = stop - (count - 1) * metric.timestep if count else stop
    times = (first + metric.timestep * np.arange(count)).astype("datetime64[s]")
    unit = unit_text(metric.unit)
    plot = figure(
        title=f"{metric.name} [{unit}]" if unit else metric.name,
        name=f"cluster-metric-{metric.name}",
        height=220,
        min_width=320,
        sizing_mode="stretch_width",
        x_axis_type="datetime",
        tools="pan,wheel_zoom,box_zoom,reset,save",
        toolbar_location="above",
    )
    plot.line(times, metric.data, line_width=2, color="#0d6efd")
    return plot


class ClusterMetricPlots(pn.viewable.Viewer):
    """A plot per cluster-wide metric of the store, redrawn after every load."""

    def __init__(self, store: ClusterStatusStore, **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        self.message = pn.pane.Markdown("", visible=False)
        self.grid = pn.FlexBox(sizing_mode="stretch_width")
        self._layout = pn.Column(
            self.message, self.grid, sizing_mode="stretch_width", name="cluster-metrics"
        )
        store.param.watch(self._update, ["revision"])
        self._update()

    def _update(self, *_events: Any) -> None:
        found: ClusterMetrics | None = self.store.cluster_metrics
        metrics = found.metrics if found is not None else []
        if self.store.revision and not metrics:
            self.message.object = (
                f"No metric data of the cluster in the last {self.store.metrics_hours} h."
            )
        self.message.visible = bool(self.store.revision and not metrics)
        self.grid.objects = [
            pn.pane.Bokeh(
                metric_figure(m, self.store.updated),
                sizing_mode="stretch_width",
                styles={"flex": "1 1 320px"},
            )
            for m in metrics
        ]

    def __panel__(self) -> pn.Column:
        return self._layout
