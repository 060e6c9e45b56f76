"""Node states over time as stacked areas: how many nodes were in each scheduler state
(allocated, idle, down, ...) and each health state at every report time."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import panel as pn
from bokeh.models import ColumnDataSource
from bokeh.plotting import figure

from app.stores.status import ClusterStatusStore
from cc_backend.repository.nodes import StatesOverTime

__all__ = ["STATE_COLORS", "NodeStatePlots", "stacked_counts", "states_figure"]

#: A colour per state name (states not listed get grey).
STATE_COLORS = {
    "allocated": "#0d6efd",
    "mixed": "#6f42c1",
    "reserved": "#fd7e14",
    "idle": "#20c997",
    "down": "#dc3545",
    "unknown": "#adb5bd",
    "full": "#198754",
    "partial": "#ffc107",
    "failed": "#dc3545",
}


def stacked_counts(series: Sequence[StatesOverTime]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The report times of all ``series`` (sorted, each once) and per state its count at
    each of them (0 where the state was not reported)."""
    times = np.array(sorted({t for s in series for t in s.times}), dtype=np.int64)
    position = {int(t): i for i, t in enumerate(times)}
    counts: dict[str, np.ndarray] = {}
    for entry in series:
        values = np.zeros(times.size, dtype=np.int64)
        for t, c in zip(entry.times, entry.counts, strict=True):
            values[position[t]] += c
        counts[entry.state] = values
    return times, counts


def states_figure(series: Sequence[StatesOverTime], *, title: str, name: str) -> figure:
    """A stacked area plot of ``series`` over time (an empty plot without reports)."""
    times, counts = stacked_counts(series)
    states = sorted(counts)
    source = ColumnDataSource(
        {"time": times.astype("datetime64[s]"), **{s: counts[s] for s in states}}
    )
    plot = figure(
        title=title,
        name=name,
        height=260,
        sizing_mode="stretch_width",
        x_axis_type="datetime",
        y_axis_label="Nodes",
        tools="pan,wheel_zoom,box_zoom,reset,save",
        toolbar_location="above",
    )
    if states:
        plot.varea_stack(
            states,
            x="time",
            source=source,
            color=[STATE_COLORS.get(s, "#6c757d") for s in states],
            legend_label=states,
            alpha=0.85,
        )
        plot.legend.location = "top_left"
        plot.legend.background_fill_alpha = 0.6
    return plot


class NodeStatePlots(pn.viewable.Viewer):
    """Scheduler states and health states of the store's cluster, side by side."""

    def __init__(self, store: ClusterStatusStore, **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        self.scheduler = pn.pane.Bokeh(None, sizing_mode="stretch_width", min_height=260)
        self.health = pn.pane.Bokeh(None, sizing_mode="stretch_width", min_height=260)
        self._layout = pn.Row(
            self.scheduler, self.health, sizing_mode="stretch_width", name="node-states"
        )
        store.param.watch(self._update, ["revision"])
        self._update()

    def _update(self, *_events: Any) -> None:
        hours = self.store.states_hours
        self.scheduler.object = states_figure(
            self.store.node_states,
            title=f"Node states, last {hours} h",
            name="node-states",
        )
        self.health.object = states_figure(
            self.store.health_states,
            title=f"Node health, last {hours} h",
            name="node-health",
        )

    def __panel__(self) -> pn.Row:
        return self._layout
