"""The systems views' controls: time window, host name filter, scheduler state filter,
subcluster, metric choice and refresh above the nodes, and the pager below them.

Every control changes the store's query (which the page mirrors in the URL) and loads the
first page of nodes again; the refresh button loads the same view from the site anew.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import panel as pn

from app.stores.systems import SystemsStore, TimeWindow
from app.views.job_list import run_soon
from app.views.systems_time import TimeRangeControl
from cc_backend.services.node_overview import NOT_IN_DB, STATE_FILTERS

__all__ = ["STATE_LABELS", "SystemsControls", "SystemsPager", "view_links"]

#: The state filters as the control lists them.
STATE_LABELS: dict[str, str] = {
    ("Not in database" if s == NOT_IN_DB else s.capitalize()): s for s in STATE_FILTERS
}
_ALL_SUBCLUSTERS = "All subclusters"


def view_links(store: SystemsStore) -> str:
    """Links between the overview and the node list of the store's cluster (HTML)."""
    cluster = quote(store.cluster_name, safe="")
    overview = f'<a href="/monitoring/systems/{cluster}">Overview</a>'
    listed = f'<a href="/monitoring/systems/list/{cluster}">Node list</a>'
    return f"{'<b>Overview</b>' if not store.list_view else overview} · " + (
        "<b>Node list</b>" if store.list_view else listed
    )


class SystemsControls(pn.viewable.Viewer):
    """The filters of a systems view (see the module docstring)."""

    def __init__(self, store: SystemsStore, **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        query = store.query
        self.time = TimeRangeControl(query.window, self._window)
        self.hosts = pn.widgets.TextInput(
            label="Node(s)", placeholder="Filter host names ...", value=query.host_filter,
            width=180,
        )  # fmt: skip
        self.state = pn.widgets.Select(
            label="State", options=STATE_LABELS, value=query.state, width=150
        )
        self.subcluster = pn.widgets.Select(
            label="Subcluster", options=[_ALL_SUBCLUSTERS], value=_ALL_SUBCLUSTERS, width=150
        )
        if store.list_view:
            self.metrics: pn.widgets.MultiChoice | pn.widgets.Select = pn.widgets.MultiChoice(
                label="Metrics", options=[], value=[], width=320, solid=False
            )
            self.apply = pn.widgets.Button(label="Show metrics", width=120, margin=(24, 5, 5, 5))
            self.apply.on_click(self._metrics_chosen)
            metric_row: list[Any] = [self.metrics, self.apply]
        else:
            self.metrics = pn.widgets.Select(label="Metric", options=[], width=180)
            self.metrics.param.watch(self._metric_chosen, "value")
            metric_row = [self.metrics]
        self.refresh = pn.widgets.Button(
            label="Refresh", color="primary", width=90, margin=(24, 5, 5, 5)
        )
        self.links = pn.pane.HTML(view_links(store), margin=(30, 10, 5, 10))
        self.hosts.param.watch(self._hosts_changed, "value")
        self.state.param.watch(self._state_changed, "value")
        self.subcluster.param.watch(self._subcluster_changed, "value")
        self.refresh.on_click(self._refresh)
        self._following = False
        self._layout = pn.FlexBox(
            self.time, self.hosts, self.state, self.subcluster, *metric_row, self.refresh,
            self.links, name="systems-controls", sizing_mode="stretch_width",
        )  # fmt: skip
        store.param.watch(self._follow, ["cluster", "query", "settings"])
        self._follow()

    def _follow(self, *_events: Any) -> None:
        """Show the store's state without acting on it."""
        store, query = self.store, self.store.query
        self._following = True
        try:
            # Until the cluster is known, the query's subcluster is the one choice.
            names = store.subclusters or ([query.subcluster] if query.subcluster else [])
            self.subcluster.param.update(
                options=[_ALL_SUBCLUSTERS, *names], value=query.subcluster or _ALL_SUBCLUSTERS
            )
            self.hosts.value = query.host_filter
            self.state.value = query.state
            shown = store.shown_metrics()
            self.metrics.options = store.metric_names
            self.metrics.value = shown if store.list_view else (shown[0] if shown else None)
        finally:
            self._following = False

    def _change(self, **changes: Any) -> None:
        if self._following:
            return

        async def work() -> None:
            await self.store.update(**changes)

        run_soon(work)

    def _window(self, window: TimeWindow) -> None:
        self._change(window=window)

    def _hosts_changed(self, event: Any) -> None:
        self._change(host_filter=str(event.new).strip())

    def _state_changed(self, event: Any) -> None:
        self._change(state=str(event.new))

    def _subcluster_changed(self, event: Any) -> None:
        chosen = "" if event.new in (None, _ALL_SUBCLUSTERS) else str(event.new)
        self._change(subcluster=chosen)

    def _metric_chosen(self, event: Any) -> None:
        if self._following or not event.new:
            return
        names = [str(event.new)]

        async def work() -> None:
            await self.store.choose_metrics(names)

        run_soon(work)

    def _metrics_chosen(self, _event: Any = None) -> None:
        names = [str(n) for n in self.metrics.value]

        async def work() -> None:
            await self.store.choose_metrics(names)

        run_soon(work)

    def _refresh(self, _event: Any = None) -> None:
        run_soon(self.store.refresh)

    def __panel__(self) -> pn.FlexBox:
        return self._layout


class SystemsPager(pn.viewable.Viewer):
    """Previous/next page of nodes, and which nodes are shown."""

    def __init__(self, store: SystemsStore, **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        self.previous = pn.widgets.Button(label="Previous", width=110, disabled=True)
        self.next = pn.widgets.Button(label="Next", width=110, disabled=True)
        self.where = pn.pane.HTML("", margin=(8, 10), name="node-page-position")
        self.previous.on_click(self._previous)
        self.next.on_click(self._next)
        self._layout = pn.Row(self.previous, self.where, self.next, name="node-pager")
        store.param.watch(self._update, ["revision", "loading"])
        self._update()

    def _update(self, *_events: Any) -> None:
        store = self.store
        page = store.query.page
        self.previous.disabled = page <= 1 or store.loading
        self.next.disabled = not store.has_next_page or store.loading
        first = (page - 1) * store.page_size + 1
        last = first + len(store.nodes) - 1
        self.where.object = (
            f"Nodes {first:,} to {last:,} of {store.total:,}" if store.nodes else "No nodes"
        )

    def _previous(self, _event: Any = None) -> None:
        page = self.store.query.page - 1

        async def work() -> None:
            await self.store.go_to_page(page)

        run_soon(work)

    def _next(self, _event: Any = None) -> None:
        page = self.store.query.page + 1

        async def work() -> None:
            await self.store.go_to_page(page)

        run_soon(work)

    def __panel__(self) -> pn.Row:
        return self._layout
