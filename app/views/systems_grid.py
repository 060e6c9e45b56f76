"""The systems overview's grid: one small plot of the chosen metric per node of the page,
each titled with a link to the node's view and its subcluster.

All plots of a page go to the browser as one Bokeh layout with shared tick rules (see
:mod:`app.views.node_plot_figure`), in rows of :data:`PLOTS_PER_ROW`; the grid is paged by
the store (:data:`~app.stores.systems.OVERVIEW_PAGE_SIZE` nodes), so a cluster of
thousands of nodes costs the browser no more than one page.
"""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import quote

import panel as pn
from bokeh.models import Column, Row
from bokeh.models.ui import UIElement
from bokeh.models.widgets import Div

from app.stores.systems import SystemsStore
from app.views.node_plot_figure import NodeAxes, node_figure
from cc_backend.domain.cluster import Cluster, MetricConfig, MetricScope
from cc_backend.domain.errors import NotFound
from cc_backend.services.node_overview import NodeMetrics

__all__ = [
    "CELL_WIDTH",
    "PLOTS_PER_ROW",
    "TIME_HINT",
    "NodeGrid",
    "metric_config",
    "metric_heading",
    "node_link",
    "node_title",
]

#: Plots per row of the grid and the width of each, for a page about 1,400 pixels wide.
PLOTS_PER_ROW = 4
CELL_WIDTH = 330
_CELL_HEIGHT = 130
#: Below a heading of node plots: how to read them.
TIME_HINT = "<small>(times in UTC; drag across a plot to zoom in, double-click to zoom out)</small>"


def node_link(cluster: str, host: str) -> str:
    """The path of ``host``'s node view."""
    return f"/monitoring/node/{quote(cluster, safe='')}/{quote(host, safe='')}"


def node_title(cluster: str, node: NodeMetrics) -> str:
    """A node's title: a link to its view, and its subcluster (HTML)."""
    return (
        f'<a href="{escape(node_link(cluster, node.host))}"><b>{escape(node.host)}</b></a>'
        f" <small>({escape(node.subcluster)})</small>"
    )


def metric_config(cluster: Cluster | None, subcluster: str, name: str) -> MetricConfig | None:
    """``name``'s configuration for ``subcluster`` (None where it has no such metric)."""
    if cluster is None:
        return None
    try:
        return cluster.metric_config(subcluster, name)
    except NotFound:
        return None


def metric_heading(cluster: Cluster | None, name: str) -> str:
    """A metric's name with its unit (HTML)."""
    unit = ""
    if cluster is not None:
        try:
            config = cluster.metric(name)
            unit = f"{config.unit.prefix or ''}{config.unit.base}"
        except NotFound:
            pass
    return f"<b>{escape(name)}</b>{f' [{escape(unit)}]' if unit else ''}"


def _message(text: str) -> Div:
    return Div(text=f"<small><i>{escape(text)}</i></small>", width=CELL_WIDTH - 20,
               height=_CELL_HEIGHT - 20)  # fmt: skip


class NodeGrid(pn.viewable.Viewer):
    """The plots of the store's page of nodes (see the module docstring)."""

    def __init__(self, store: SystemsStore, **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        self.grid = pn.pane.Bokeh(None, sizing_mode="stretch_width", name="node-grid")
        self.empty = pn.pane.Alert("No nodes match the filters.", alert_type="info", visible=False)
        self.heading = pn.pane.HTML("", margin=(0, 10), name="node-grid-metric")
        self.cells: list[UIElement] = []
        self._layout = pn.Column(self.heading, self.empty, self.grid,
                                 sizing_mode="stretch_width", name="node-overview")  # fmt: skip
        store.param.watch(self._redraw, ["revision"])
        self._redraw()

    def _cell(self, node: NodeMetrics, metric: str, axes: NodeAxes) -> UIElement:
        store = self.store
        start, stop = store.window
        title = Div(text=node_title(store.cluster_name, node), width=CELL_WIDTH - 20)
        config = metric_config(store.cluster, node.subcluster, metric)
        found = node.data.root.get(metric, {}).get(MetricScope.NODE)
        if config is None:
            body: UIElement = _message(f"{metric} is not measured on {node.subcluster}")
        elif found is None or not found.series:
            body = _message("No data")
        else:
            body = node_figure(metric, found, start=start, stop=stop, config=config, axes=axes,
                               height=_CELL_HEIGHT, width=CELL_WIDTH)  # fmt: skip
        return Column(children=[title, body], name=f"node-{node.host}")

    def _redraw(self, *_events: Any) -> None:
        store = self.store
        shown = store.shown_metrics()
        self.empty.visible = store.revision > 0 and not store.nodes and not store.error
        self.heading.object = (
            f"{metric_heading(store.cluster, shown[0])} {TIME_HINT}" if shown else ""
        )
        if not shown or not store.nodes:
            self.cells = []
            self.grid.object = None
            return
        axes = NodeAxes()
        self.cells = [self._cell(node, shown[0], axes) for node in store.nodes]
        rows = [
            Row(children=self.cells[i : i + PLOTS_PER_ROW])
            for i in range(0, len(self.cells), PLOTS_PER_ROW)
        ]
        with pn.io.hold(freeze=True):  # one document change: the browser lays out once
            self.grid.object = Column(children=list(rows), name="node-grid")

    def __panel__(self) -> pn.Column:
        return self._layout
