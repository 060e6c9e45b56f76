"""``/monitoring/systems/{cluster}`` (the overview: one metric of every node as a grid of
small plots) and ``/monitoring/systems/list/{cluster}[/{subcluster}]`` (the node list:
per node its reports, running jobs and plots of a few metrics), for support and admins.

Both are paged, filtered by time window, host name, scheduler state and subcluster, and
mirror their view in the URL query (:mod:`app.stores.systems`); the nodes load once the
browser is connected. An unknown cluster gets the 404 content.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import panel as pn

from app.context import PageContext
from app.stores.systems import SystemsStore, parse_systems_query
from app.url_sync import mirror_in_url
from app.views.messages import StoreStatus, not_found
from app.views.systems_controls import SystemsControls, SystemsPager
from app.views.systems_grid import NodeGrid
from app.views.systems_list import NodeList

__all__ = ["SystemsPage", "location_search", "systems_list_page", "systems_page"]


def location_search(store: SystemsStore) -> str:
    """The URL query of the store's current view (``?...``, empty for none)."""
    pairs = store.query.to_pairs()
    return "?" + urlencode(pairs) if pairs else ""


class SystemsPage(pn.viewable.Viewer):
    """The overview or the node list of ``store``'s cluster."""

    def __init__(self, store: SystemsStore, problems: list[str], **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        kind = "Node list" if store.list_view else "Node overview"
        notes = pn.pane.Alert(
            "; ".join(problems), alert_type="warning", visible=bool(problems),
            sizing_mode="stretch_width",
        )  # fmt: skip
        self.nodes: NodeList | NodeGrid = NodeList(store) if store.list_view else NodeGrid(store)
        self._layout = pn.Column(
            pn.pane.Markdown(f"## {kind} of {store.cluster_name}", margin=(0, 10)),
            notes,
            SystemsControls(store),
            StoreStatus(store),
            self.nodes,
            SystemsPager(store),
            sizing_mode="stretch_width",
            name="systems",
        )
        store.param.watch(self._missing, ["missing"])

    def _missing(self, *_events: Any) -> None:
        if self.store.missing:
            self._layout.objects = [not_found(f"There is no cluster {self.store.cluster_name!r}.")]

    def __panel__(self) -> pn.Column:
        return self._layout


def _page(context: PageContext, *, list_view: bool) -> SystemsPage:
    cluster = context.path_params.get("cluster", "")
    query, problems = parse_systems_query(context.query, context.path_params.get("subcluster", ""))
    store = SystemsStore(context.client, cluster_name=cluster, list_view=list_view, query=query)
    page = SystemsPage(store, problems)
    if pn.state.curdoc is not None:
        mirror_in_url(store, ["query"], lambda: location_search(store))
        pn.state.onload(store.load)
    return page


def systems_page(context: PageContext) -> SystemsPage:
    """The node overview of the cluster ``{cluster}``."""
    return _page(context, list_view=False)


def systems_list_page(context: PageContext) -> SystemsPage:
    """The node list of the cluster ``{cluster}`` (of ``{subcluster}``, if given)."""
    return _page(context, list_view=True)
