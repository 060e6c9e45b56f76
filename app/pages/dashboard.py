"""``/monitoring/dashboard/{cluster}``: the public dashboard of a cluster, for a wall
screen. It shows what the status page shows of the machine (cluster info, node states and
health, rooflines, cluster-wide power and summed metrics) and nothing about people: its
store never asks for user or project names. It reloads itself every minute.

As in cc-backend, opening it needs a login with the role support or admin (the node data it
shows is theirs to see).
"""

from __future__ import annotations

import panel as pn

from app.context import PageContext
from app.pages.status import serve_store, status_store
from app.views.messages import StoreStatus
from app.views.status_info import ClusterInfo
from app.views.status_metrics import ClusterMetricPlots
from app.views.status_refresh import RefreshControls
from app.views.status_roofline import StatusRooflines
from app.views.status_states import NodeStatePlots

__all__ = ["dashboard_page"]


def dashboard_page(context: PageContext) -> pn.Column:
    """The page; the data loads once the browser is connected."""
    store = status_store(context, public=True)
    serve_store(store)
    return pn.Column(
        pn.Row(
            pn.pane.Markdown(f"## Cluster {store.cluster}", margin=(0, 10)),
            pn.HSpacer(),
            RefreshControls(store),
            sizing_mode="stretch_width",
        ),
        StoreStatus(store),
        ClusterInfo(store),
        NodeStatePlots(store),
        StatusRooflines(store),
        ClusterMetricPlots(store),
        sizing_mode="stretch_width",
        name="dashboard",
    )
