"""The node view's plots: every metric of the node's subcluster, by name, over the chosen
window, with the jobs that ran on the node drawn as shaded spans (their ids on hover).

All plots go to the browser as one Bokeh layout with shared tick rules
(:mod:`app.views.node_plot_figure`), :data:`PLOTS_PER_ROW` to a row.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from html import escape
from typing import Any

import panel as pn
from bokeh.models import Column, Row
from bokeh.models.ui import UIElement
from bokeh.models.widgets import Div

from app.stores.node import NodeStore
from app.views.node_plot_figure import JobSpan, NodeAxes, node_figure
from app.views.systems_grid import TIME_HINT
from cc_backend.domain.cluster import MetricConfig, MetricScope
from cc_backend.domain.job import Job, JobState

__all__ = ["CELL_WIDTH", "PLOTS_PER_ROW", "NodeMetricGrid", "job_spans"]

PLOTS_PER_ROW = 3
CELL_WIDTH = 440
_HEIGHT = 200


def job_spans(jobs: Sequence[Job], now: int | None = None) -> list[JobSpan]:
    """The spans of ``jobs``: from start to end (a running job: to ``now``), labelled with
    the scheduler's job id and the user."""
    current = int(time.time()) if now is None else now
    return [
        JobSpan(
            db_id=job.id or 0,
            label=f"{job.job_id} ({job.user})",
            start=job.start_time,
            stop=current if job.job_state is JobState.RUNNING else job.start_time + job.duration,
        )
        for job in jobs
    ]


def _title(config: MetricConfig) -> Div:
    unit = f"{config.unit.prefix or ''}{config.unit.base}"
    text = f"<b>{escape(config.name)}</b>{f' [{escape(unit)}]' if unit else ''}"
    return Div(text=text, width=CELL_WIDTH - 20)


class NodeMetricGrid(pn.viewable.Viewer):
    """The plots of every metric of the store's node (see the module docstring)."""

    def __init__(self, store: NodeStore, **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        self.grid = pn.pane.Bokeh(None, sizing_mode="stretch_width", name="node-metric-grid")
        self.cells: dict[str, UIElement] = {}
        hint = pn.pane.HTML(f"Shaded: the jobs that ran on the node. {TIME_HINT}", margin=(0, 10))
        self._layout = pn.Column(hint, self.grid, sizing_mode="stretch_width",
                                 name="node-metrics")  # fmt: skip
        store.param.watch(self._redraw, ["revision"])
        self._redraw()

    def _cell(self, config: MetricConfig, spans: list[JobSpan], axes: NodeAxes) -> UIElement:
        store = self.store
        start, stop = store.window
        found = store.data.root.get(config.name, {}).get(MetricScope.NODE)
        if found is None or not found.series:
            body: UIElement = Div(text="<small><i>No data</i></small>", width=CELL_WIDTH - 20)
        else:
            body = node_figure(
                config.name, found, start=start, stop=stop, config=config, spans=spans,
                axes=axes, height=_HEIGHT, width=CELL_WIDTH,
            )  # fmt: skip
        return Column(children=[_title(config), body], name=f"cell-{config.name}")

    def _redraw(self, *_events: Any) -> None:
        store = self.store
        configs = [store.metric_configs[n] for n in sorted(store.metric_configs)]
        if not configs or not store.revision:
            return
        spans, axes = job_spans(store.jobs), NodeAxes()
        self.cells = {c.name: self._cell(c, spans, axes) for c in configs}
        cells = list(self.cells.values())
        rows = [
            Row(children=cells[i : i + PLOTS_PER_ROW]) for i in range(0, len(cells), PLOTS_PER_ROW)
        ]
        with pn.io.hold(freeze=True):
            self.grid.object = Column(children=list(rows), name="node-metric-grid")

    def __panel__(self) -> pn.Column:
        return self._layout
