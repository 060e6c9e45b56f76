"""The users and projects with the most nodes in the running jobs of a cluster, as tables
linking to their running jobs (the internal status page only: the public dashboard shows
no names)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, urlencode

import pandas as pd  # type: ignore[import-untyped]
import panel as pn

from app.stores.status import ClusterStatusStore
from cc_backend.stats.statistics_results import JobsStatistics
from cc_backend.stats.stats_results import GroupBy

__all__ = ["TopLists", "top_frame"]

COLUMNS = ("Nodes", "Jobs", "Cores", "Accelerators")


def _link(group: GroupBy, name: str, cluster: str) -> str:
    if group is GroupBy.USER:
        query = urlencode({"cluster": cluster, "state": "running"})
        return f"/monitoring/user/{quote(name, safe='')}?{query}"
    query = urlencode({"cluster": cluster, "state": "running", "project": name})
    return f"/monitoring/jobs/?{query}"


def top_frame(rows: Sequence[JobsStatistics], group: GroupBy, cluster: str) -> pd.DataFrame:
    """One row per user or project: its name, nodes, jobs, cores and accelerators in use,
    and (hidden) the link to its running jobs."""
    first = "User" if group is GroupBy.USER else "Project"
    return pd.DataFrame(
        [
            {
                first: r.id,
                "Nodes": r.total_nodes,
                "Jobs": r.total_jobs,
                "Cores": r.total_cores,
                "Accelerators": r.total_accs,
                "url": _link(group, r.id, cluster),
            }
            for r in rows
        ],
        columns=[first, *COLUMNS, "url"],
    )


def _table(group: GroupBy) -> pn.widgets.Tabulator:
    first = "User" if group is GroupBy.USER else "Project"
    return pn.widgets.Tabulator(
        top_frame([], group, ""),
        disabled=True,
        show_index=False,
        selectable=False,
        layout="fit_columns",
        sizing_mode="stretch_width",
        hidden_columns=["url"],
        formatters={first: {"type": "link", "urlField": "url"}},
        text_align=dict.fromkeys(COLUMNS, "right"),
        css_classes=[f"top-{first.lower()}s"],
    )


class TopLists(pn.viewable.Viewer):
    """The top users and top projects of the store's cluster, side by side."""

    def __init__(self, store: ClusterStatusStore, **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        self.users = _table(GroupBy.USER)
        self.projects = _table(GroupBy.PROJECT)
        self._layout = pn.Row(
            pn.Column(pn.pane.Markdown("### Top users (by nodes)"), self.users),
            pn.Column(pn.pane.Markdown("### Top projects (by nodes)"), self.projects),
            sizing_mode="stretch_width",
            name="top-lists",
        )
        store.param.watch(self._update, ["revision"])
        self._update()

    def _update(self, *_events: Any) -> None:
        cluster = self.store.cluster
        self.users.value = top_frame(self.store.top_users, GroupBy.USER, cluster)
        self.projects.value = top_frame(self.store.top_projects, GroupBy.PROJECT, cluster)

    def __panel__(self) -> pn.Row:
        return self._layout
