"""The node list: one row per node of the page with what the scheduler reports of it
(scheduler and health state, allocated cpus, memory and gpus, its running jobs with links
to them) and small plots of the chosen metrics.

Like the overview's grid, the page's rows go to the browser as one Bokeh layout.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any
from urllib.parse import urlencode

import panel as pn
from bokeh.models import Column, Row
from bokeh.models.ui import UIElement
from bokeh.models.widgets import Div

from app.stores.systems import SystemsStore
from app.views.node_plot_figure import NodeAxes, node_figure
from app.views.systems_grid import TIME_HINT, metric_config, metric_heading, node_title
from cc_backend.domain.cluster import MetricScope
from cc_backend.domain.job import Job
from cc_backend.services.node_overview import NodeMetrics, NodeReport

__all__ = ["INFO_WIDTH", "PLOT_WIDTH", "NodeList", "job_links", "node_info"]

INFO_WIDTH = 300
PLOT_WIDTH = 330
_ROW_HEIGHT = 140
#: Running jobs named per node at most (the rest are behind the job list link).
_JOBS_NAMED = 6


def job_links(cluster: str, host: str, jobs: Sequence[Job]) -> str:
    """Links to the running ``jobs`` of a node and to the job list of them (HTML)."""
    if not jobs:
        return "No running jobs"
    named = ", ".join(
        f'<a href="/monitoring/job/{j.id}">{j.job_id}</a> ({escape(j.user)})'
        for j in jobs[:_JOBS_NAMED]
    )
    query = urlencode({"cluster": cluster, "state": "running", "node": host})
    more = f' <a href="/monitoring/jobs/?{escape(query)}">all in the job list</a>'
    return f"Running jobs ({len(jobs)}): {named}{more}"


def node_info(
    cluster: str, node: NodeMetrics, report: NodeReport | None, jobs: Sequence[Job]
) -> str:
    """What the list shows of a node beside its plots (HTML)."""
    lines = [node_title(cluster, node)]
    if report is None:
        lines.append("State: <b>not in database</b> (never reported by the scheduler)")
    else:
        lines.append(
            f"State: <b>{escape(report.node_state.value)}</b> · "
            f"Health: <b>{escape(report.health_state.value)}</b>"
        )
        lines.append(
            f"Allocated: {report.cpus_allocated} cpus · {report.memory_allocated:,} MB memory"
            f" · {report.gpus_allocated} gpus"
        )
    lines.append(job_links(cluster, node.host, jobs))
    return "<br>".join(lines)


class NodeList(pn.viewable.Viewer):
    """The rows of the store's page of nodes (see the module docstring)."""

    def __init__(self, store: SystemsStore, **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        self.heading = pn.pane.HTML("", margin=(0, 10), name="node-list-metrics")
        self.rows = pn.pane.Bokeh(None, sizing_mode="stretch_width", name="node-rows")
        self.empty = pn.pane.Alert("No nodes match the filters.", alert_type="info", visible=False)
        self.row_models: list[UIElement] = []
        self._layout = pn.Column(self.heading, self.empty, self.rows,
                                 sizing_mode="stretch_width", name="node-list")  # fmt: skip
        store.param.watch(self._redraw, ["revision"])
        self._redraw()

    def _row(self, node: NodeMetrics, metrics: list[str], axes: NodeAxes) -> UIElement:
        store = self.store
        start, stop = store.window
        info = node_info(store.cluster_name, node, store.reports.get(node.host),
                         store.running.get(node.host, []))  # fmt: skip
        cells: list[UIElement] = [Div(text=info, width=INFO_WIDTH, name=f"info-{node.host}")]
        for metric in metrics:
            config = metric_config(store.cluster, node.subcluster, metric)
            found = node.data.root.get(metric, {}).get(MetricScope.NODE)
            if config is None or found is None or not found.series:
                text = "not measured here" if config is None else "no data"
                cells.append(Div(text=f"<small><i>{escape(metric)}: {text}</i></small>",
                                 width=PLOT_WIDTH))  # fmt: skip
                continue
            cells.append(node_figure(metric, found, start=start, stop=stop, config=config,
                                     axes=axes, height=_ROW_HEIGHT, width=PLOT_WIDTH))  # fmt: skip
        return Row(children=cells, name=f"row-{node.host}")

    def _redraw(self, *_events: Any) -> None:
        store = self.store
        metrics = store.shown_metrics()
        headings = " · ".join(metric_heading(store.cluster, m) for m in metrics)
        self.heading.object = f"{headings} {TIME_HINT}" if metrics else ""
        self.empty.visible = store.revision > 0 and not store.nodes and not store.error
        if not store.nodes:
            self.row_models = []
            self.rows.object = None
            return
        axes = NodeAxes()
        self.row_models = [self._row(node, metrics, axes) for node in store.nodes]
        with pn.io.hold(freeze=True):
            self.rows.object = Column(children=list(self.row_models), name="node-rows")

    def __panel__(self) -> pn.Column:
        return self._layout
