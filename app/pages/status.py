"""``/monitoring/status/{cluster}``: the status dashboard of a cluster for support and
admins: what runs now (jobs, users, allocated nodes, cores and accelerators, flop rate and
memory bandwidth against the peak), node states and health over the last day, rooflines of
the nodes, cluster-wide power and other summed metrics, and the users and projects with the
most nodes. It reloads itself every minute while the switch is on (``?refresh=off`` turns
it off; the address follows the switch).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import panel as pn

from app.context import PageContext
from app.stores.status import ClusterStatusStore
from app.url_sync import mirror_in_url
from app.views.messages import StoreStatus
from app.views.status_info import ClusterInfo
from app.views.status_metrics import ClusterMetricPlots
from app.views.status_refresh import RefreshControls, start_auto_refresh
from app.views.status_roofline import StatusRooflines
from app.views.status_states import NodeStatePlots
from app.views.status_top import TopLists

__all__ = ["status_page", "status_store"]


def status_store(context: PageContext, *, public: bool = False) -> ClusterStatusStore:
    """The store of the page's cluster; ``?refresh=off`` starts without auto refresh."""
    return ClusterStatusStore(
        context.client,
        cluster=context.path_params["cluster"],
        public=public,
        auto_refresh=context.arg("refresh").lower() != "off",
    )


def serve_store(store: ClusterStatusStore) -> None:
    """In a browser session: load once the page is shown, reload on the store's switch,
    and keep ``?refresh=off`` in the address while the switch is off."""
    if pn.state.curdoc is None:
        return
    pn.state.onload(store.load)
    start_auto_refresh(store)
    mirror_in_url(store, ["auto_refresh"], lambda: "" if store.auto_refresh else "?refresh=off")


def _section(title: str, *objects: Any) -> pn.Column:
    return pn.Column(
        pn.pane.Markdown(f"### {title}", margin=(10, 10, 0, 10)),
        *objects,
        sizing_mode="stretch_width",
    )


def status_page(context: PageContext) -> pn.Column:
    """The page; the data loads once the browser is connected."""
    store = status_store(context)
    serve_store(store)
    cluster = store.cluster
    return pn.Column(
        pn.Row(
            pn.pane.Markdown(f"## Status of cluster {cluster}", margin=(0, 10)),
            pn.pane.HTML(
                f'<a href="/monitoring/dashboard/{quote(cluster, safe="")}" '
                'class="public-dashboard">Public dashboard</a>',
                margin=(12, 10),
            ),
            pn.HSpacer(),
            RefreshControls(store),
            sizing_mode="stretch_width",
        ),
        StoreStatus(store),
        ClusterInfo(store),
        _section("Node states", NodeStatePlots(store)),
        _section("Rooflines", StatusRooflines(store)),
        _section(f"Cluster metrics, last {store.metrics_hours} h", ClusterMetricPlots(store)),
        _section("Running jobs by user and project", TopLists(store)),
        sizing_mode="stretch_width",
        name="status",
    )
