"""``/``: the start page — the site notice and the clusters with their job counts."""

from __future__ import annotations

import panel as pn

from app.context import PageContext
from app.stores.home import HomeStore
from app.views.home import ClusterCountsTable, NoticeBanner
from app.views.messages import StoreStatus

__all__ = ["home_page"]


def home_page(context: PageContext) -> pn.Column:
    """The page; its data loads once the browser is connected."""
    store = HomeStore(context.client)
    if pn.state.curdoc is not None:
        pn.state.onload(store.load)
    return pn.Column(
        NoticeBanner(store),
        pn.pane.Markdown("## Clusters"),
        StoreStatus(store),
        ClusterCountsTable(store),
        sizing_mode="stretch_width",
        name="home",
    )
