"""The home page's views: the notice banner and the table of clusters with job counts."""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import urlencode

import panel as pn

from app.stores.home import ClusterCounts, HomeStore

__all__ = ["TABLE_STYLE", "ClusterCountsTable", "NoticeBanner", "cluster_rows_html"]

JOB_LIST = "/monitoring/jobs/"

#: Styles of the tables drawn as HTML (inside their own shadow DOM).
TABLE_STYLE = """
table.cc-table { border-collapse: collapse; width: 100%; font-size: .95rem; }
table.cc-table th, table.cc-table td { text-align: left; padding: .45rem .75rem;
  border-bottom: 1px solid rgba(128, 128, 128, .35); }
table.cc-table td.number { text-align: right; font-variant-numeric: tabular-nums; }
table.cc-table th.number { text-align: right; }
table.cc-table a { color: var(--design-primary-color, #0072b5); text-decoration: none; }
table.cc-table a:hover { text-decoration: underline; }
"""


def _jobs_link(text: str, **query: str) -> str:
    return f'<a href="{html.escape(JOB_LIST + "?" + urlencode(query))}">{html.escape(text)}</a>'


def cluster_rows_html(clusters: list[ClusterCounts], loaded: bool = True) -> str:
    """The clusters table: name, running jobs, total jobs, each a link to the job list."""
    if not loaded:
        return '<p class="empty">Loading clusters…</p>'
    if not clusters:
        return '<p class="empty">No clusters yet.</p>'
    rows = "".join(
        "<tr>"
        f"<td>{_jobs_link(c.name, cluster=c.name)}</td>"
        f'<td class="number">{_jobs_link(str(c.running), cluster=c.name, state="running")}</td>'
        f'<td class="number">{_jobs_link(str(c.total), cluster=c.name)}</td>'
        "</tr>"
        for c in clusters
    )
    return (
        '<table class="cc-table clusters"><thead><tr><th>Cluster</th>'
        '<th class="number">Running jobs</th><th class="number">Total jobs</th>'
        f"</tr></thead><tbody>{rows}</tbody></table>"
    )


class NoticeBanner(pn.viewable.Viewer):
    """The site notice as an alert; hidden while there is none. The text is shown as
    written (escaped, line breaks kept)."""

    def __init__(self, store: HomeStore, **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        self._alert = pn.pane.Alert(
            "", alert_type="info", sizing_mode="stretch_width", name="notice"
        )
        store.param.watch(self._update, "notice")
        self._update()

    def _update(self, *_events: Any) -> None:
        text = self.store.notice.strip()
        self._alert.object = html.escape(text).replace("\n", "<br>")
        self._alert.visible = bool(text)

    def __panel__(self) -> pn.pane.Alert:
        return self._alert


class ClusterCountsTable(pn.viewable.Viewer):
    """Each cluster with its running and total jobs, linking to the job list."""

    def __init__(self, store: HomeStore, **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        self._table = pn.pane.HTML(
            "", stylesheets=[TABLE_STYLE], sizing_mode="stretch_width", name="clusters"
        )
        store.param.watch(self._update, ["clusters", "loaded"])
        self._update()

    def _update(self, *_events: Any) -> None:
        self._table.object = cluster_rows_html(self.store.clusters, self.store.loaded)

    def __panel__(self) -> pn.pane.HTML:
        return self._table
