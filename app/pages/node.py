"""``/monitoring/node/{cluster}/{hostname}``: one node for support and admins — every metric
over a chosen window with the jobs that ran on it drawn as spans, its history of
scheduler states, and those jobs as a table linked to their views.

The window is in the URL query (``range=1h``, or ``from``/``to`` as cc-backend's links
name it) and follows the choice. An unknown cluster, or a host no subcluster of it names,
gets the 404 content once the store has looked.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import panel as pn

from app.context import PageContext
from app.stores.node import DEFAULT_NODE_RANGE, NodeStore
from app.stores.systems import TimeWindow, parse_window
from app.url_sync import mirror_in_url
from app.views.job_list import run_soon
from app.views.messages import StoreStatus, not_found
from app.views.node_jobs import NodeJobsTable, NodeSummary
from app.views.node_metrics import NodeMetricGrid
from app.views.node_states import StateHistory
from app.views.systems_time import TimeRangeControl

__all__ = ["NodePage", "node_page", "window_search"]


def window_search(window: TimeWindow) -> str:
    """The URL query of a node view's window (``?...``; empty for the default one)."""
    if window.is_custom:
        pairs = window.to_pairs()
    else:
        pairs = [] if window.range == DEFAULT_NODE_RANGE else [("range", window.range)]
    return "?" + urlencode(pairs) if pairs else ""


def _card(title: str, content: Any) -> pn.Card:
    return pn.Card(content, title=title, collapsible=False, sizing_mode="stretch_width",
                   margin=(5, 5))  # fmt: skip


class NodePage(pn.viewable.Viewer):
    """The node view of ``store``'s node (see the module docstring)."""

    def __init__(self, store: NodeStore, problems: list[str], **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        self.time = TimeRangeControl(store.window_choice, self._window)
        self.refresh = pn.widgets.Button(label="Refresh", color="primary", width=90,
                                         margin=(24, 5, 5, 5))  # fmt: skip
        self.refresh.on_click(lambda _event: run_soon(store.refresh))
        notes = pn.pane.Alert("; ".join(problems), alert_type="warning",
                              visible=bool(problems), sizing_mode="stretch_width")  # fmt: skip
        self._layout = pn.Column(
            pn.pane.Markdown(f"## Node {store.host} ({store.cluster_name})", margin=(0, 10)),
            notes,
            NodeSummary(store),
            pn.Row(self.time, self.refresh),
            StoreStatus(store),
            _card("Scheduler state", StateHistory(store)),
            _card("Metrics", NodeMetricGrid(store)),
            _card("Jobs in the window", NodeJobsTable(store)),
            sizing_mode="stretch_width",
            name="node",
        )
        store.param.watch(self._missing, ["missing"])

    def _window(self, window: TimeWindow) -> None:
        async def work() -> None:
            await self.store.set_window(window)

        run_soon(work)

    def _missing(self, *_events: Any) -> None:
        if self.store.missing:
            self._layout.objects = [
                not_found(
                    f"There is no node {self.store.host!r} in cluster {self.store.cluster_name!r}."
                )
            ]

    def __panel__(self) -> pn.Column:
        return self._layout


def node_page(context: PageContext) -> NodePage:
    """The page of node ``{hostname}`` of cluster ``{cluster}``; its data loads once the
    browser is connected."""
    problems: list[str] = []
    window = parse_window(context.query, problems, default=DEFAULT_NODE_RANGE)
    store = NodeStore(
        context.client,
        cluster_name=context.path_params.get("cluster", ""),
        host=context.path_params.get("hostname", ""),
        window_choice=window,
    )
    page = NodePage(store, problems)
    if pn.state.curdoc is not None:
        mirror_in_url(store, ["window_choice"], lambda: window_search(store.window_choice))
        pn.state.onload(store.load)
    return page
