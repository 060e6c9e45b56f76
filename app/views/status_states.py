"""Node states over time as stacked areas: how many nodes were in each scheduler state
(allocated, idle, down, ...) and each health state at every report time.

A report holds until the next one (the last until the plot's end), so the areas are steps
and a single report is a band, not a line; the time axis spans the store's window whatever
the reports cover."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import panel as pn
from bokeh.models import ColumnDataSource, Range1d
from bokeh.plotting import figure

from app.stores.status import ClusterStatusStore
from cc_backend.repository.nodes import StatesOverTime

__all__ = ["STATE_COLORS", "NodeStatePlots", "held", "stacked_counts", "states_figure"]

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


def held(
    times: np.ndarray, counts: dict[str, np.ndarray], until: int
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Step outlines of :func:`stacked_counts`: each report's counts from its time to the
    next report's, the last to ``until`` (or its own time, if later); every time twice."""
    if times.size == 0:
        return times, counts
    ends = np.append(times[1:], max(until, int(times[-1])))
    return np.column_stack([times, ends]).ravel(), {s: np.repeat(v, 2) for s, v in counts.items()}


def states_figure(
    series: Sequence[StatesOverTime],
    *,
    title: str,
    name: str,
    window: tuple[int, int] | None = None,
) -> figure:
    """A stacked area plot of ``series`` over time (an empty plot without reports), each
    report held until the next; ``window`` (Unix seconds, start and end) is the time axis
    and the end of the last report (default: the reports' own span)."""
    times, counts = held(*stacked_counts(series), window[1] if window else 0)
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
    if window is not None:
        start, end = (datetime.fromtimestamp(t, UTC) for t in window)
        plot.x_range = Range1d(start=start, end=end)
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
        store = self.store
        hours = store.states_hours
        window = (store.updated - 3600 * hours, store.updated) if store.updated else None
        self.scheduler.object = states_figure(
            store.node_states,
            title=f"Node states, last {hours} h",
            name="node-states",
            window=window,
        )
        self.health.object = states_figure(
            store.health_states,
            title=f"Node health, last {hours} h",
            name="node-health",
            window=window,
        )

    def __panel__(self) -> pn.Row:
        return self._layout
