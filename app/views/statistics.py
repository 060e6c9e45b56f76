"""Totals of job statistics and the filters of the statistics pages.

:func:`summary_html` is the user view's table of numbers; :class:`StatisticsFilters`
are the cluster and start-time selectors shared by the user view and the users and
projects lists (they write the store's ``cluster`` and ``start_time``);
:func:`reload_on_change` reloads a store when its filters change and keeps the page's
URL in step, so the view stays a link.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any, Protocol
from urllib.parse import urlencode

import panel as pn
import param

from app.stores.user import TIME_RANGES
from app.views.home import TABLE_STYLE
from cc_backend.domain.cluster import Cluster
from cc_backend.domain.user import User
from cc_backend.stats.statistics_results import JobsStatistics

__all__ = [
    "JOB_LIST",
    "StatisticsFilters",
    "UserSummary",
    "job_list_link",
    "reload_on_change",
    "summary_html",
]

#: cc-backend's job list, which takes its filters from the URL query.
JOB_LIST = "/monitoring/jobs/"


class _FilterStore(Protocol):
    cluster: str
    start_time: str
    clusters: list[Cluster]
    param: Any

    def query(self) -> dict[str, str]: ...

    async def load(self) -> None: ...


def job_list_link(text: str, query: dict[str, str]) -> str:
    """An ``<a>`` to the job list with the filters of ``query`` (``text`` escaped)."""
    href = JOB_LIST + ("?" + urlencode(query) if query else "")
    return f'<a href="{html.escape(href)}">{html.escape(text)}</a>'


def _row(label: str, value: str) -> str:
    return f'<tr><th scope="row">{html.escape(label)}</th><td class="number">{value}</td></tr>'


def summary_html(
    username: str, person: User | None, totals: JobsStatistics | None, query: dict[str, str]
) -> str:
    """The user's name, email and totals (the job counts link to the job list with the
    same filters as ``query`` for this user); a note while there are no totals yet."""
    rows = [_row("Username", html.escape(username))]
    if person is not None and person.name:
        rows.append(_row("Name", html.escape(person.name)))
    if person is not None and person.email:
        rows.append(_row("Email", html.escape(person.email)))
    if totals is None:
        return f'<table class="cc-table summary">{"".join(rows)}</table>'
    mine = {"user": username, "userMatch": "eq", **query}
    running = {**mine, "state": "running"}
    rows += [
        _row("Total jobs", job_list_link(str(totals.total_jobs), mine)),
        _row("Running jobs", job_list_link(str(totals.running_jobs), running)),
        _row("Short jobs", str(totals.short_jobs)),
        _row("Total walltime", f"{totals.total_walltime} h"),
        _row("Total node hours", f"{totals.total_node_hours} h"),
        _row("Total core hours", f"{totals.total_core_hours} h"),
        _row("Total accelerator hours", f"{totals.total_acc_hours} h"),
    ]
    return f'<table class="cc-table summary">{"".join(rows)}</table>'


class UserSummary(pn.viewable.Viewer):
    """:func:`summary_html` of a :class:`~app.stores.user.UserStore`."""

    def __init__(self, store: Any, **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        self._pane = pn.pane.HTML(
            "", stylesheets=[TABLE_STYLE], sizing_mode="stretch_width", name="summary"
        )
        store.param.watch(self._update, ["person", "totals"])
        self._update()

    def _update(self, *_events: Any) -> None:
        store = self.store
        self._pane.object = summary_html(store.username, store.person, store.totals, store.query())

    def __panel__(self) -> pn.pane.HTML:
        return self._pane


def _cluster_options(clusters: Sequence[Cluster]) -> dict[str, str]:
    return {"All clusters": "", **{c.name: c.name for c in clusters}}


class StatisticsFilters(pn.viewable.Viewer):
    """Selectors of the store's cluster (filled once the clusters are loaded) and
    start-time range; choosing writes the store's params."""

    def __init__(self, store: _FilterStore, **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        options = _cluster_options(store.clusters)
        if store.cluster and store.cluster not in options.values():
            options[store.cluster] = store.cluster
        self.cluster = pn.widgets.Select(
            label="Cluster", options=options, value=store.cluster, width=180
        )
        self.start_time = pn.widgets.Select(
            label="Start time", options=TIME_RANGES, value=store.start_time, width=180
        )
        self.cluster.param.watch(lambda e: setattr(store, "cluster", e.new), "value")
        self.start_time.param.watch(lambda e: setattr(store, "start_time", e.new), "value")
        store.param.watch(self._clusters_loaded, ["clusters"])
        self._layout = pn.Row(self.cluster, self.start_time, name="filters")

    def _clusters_loaded(self, *_events: Any) -> None:
        options = _cluster_options(self.store.clusters)
        if self.store.cluster and self.store.cluster not in options.values():
            options[self.store.cluster] = self.store.cluster
        self.cluster.options = options

    def __panel__(self) -> pn.Row:
        return self._layout


def reload_on_change(store: _FilterStore, names: Sequence[str], *, sync_url: bool = True) -> None:
    """Reload ``store`` whenever one of its params ``names`` changes; with ``sync_url``
    the browser's URL query is set to ``store.query()`` (no page reload) when served."""

    def changed(*_events: param.parameterized.Event) -> None:
        location = pn.state.location
        if sync_url and location is not None:
            query = store.query()
            location.search = "?" + urlencode(query) if query else ""
        pn.state.execute(store.load)

    store.param.watch(changed, list(names))
