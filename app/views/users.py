"""The users and projects lists' table, and the user view's list of newest jobs.

:func:`group_frame` turns grouped totals into the table's rows: each user links to their
user view, each project and each job count to the job list with the same filters.
:class:`GroupTable` shows it in a Tabulator (sortable by every column, filtered by name
through the store); :class:`NewestJobs` lists a user's newest jobs with links.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

import pandas as pd  # type: ignore[import-untyped]
import panel as pn

from app.stores.user import UserStore
from app.stores.users import GroupListStore
from app.views.home import TABLE_STYLE
from app.views.statistics import JOB_LIST, job_list_link
from cc_backend.domain.job import Job
from cc_backend.stats.statistics_results import JobsStatistics
from cc_backend.stats.stats_results import GroupBy

__all__ = [
    "GroupTable",
    "NewestJobs",
    "format_duration",
    "group_frame",
    "newest_jobs_html",
    "user_view_href",
]

#: Columns with numbers (right-aligned), in order.
NUMBER_COLUMNS = (
    "Jobs",
    "Running",
    "Walltime [h]",
    "Node hours",
    "Core hours",
    "Accelerator hours",
)
#: Columns of totals in hours, shown as whole numbers with thousands separated.
HOURS_COLUMNS = ("Walltime [h]", "Node hours", "Core hours", "Accelerator hours")
#: Tabulator's format of :data:`HOURS_COLUMNS`.
_WHOLE_NUMBER = {"type": "money", "decimal": ".", "thousand": ",", "symbol": "", "precision": 0}
#: Row data the links are made of (not shown).
LINK_COLUMNS = ("row_url", "jobs_url")


def user_view_href(username: str) -> str:
    """The path of ``username``'s user view."""
    return "/monitoring/user/" + quote(username, safe="")


def _jobs_href(group_by: GroupBy, group: str, query: dict[str, str]) -> str:
    own = {"user": group, "userMatch": "eq"} if group_by is GroupBy.USER else {"project": group}
    return JOB_LIST + "?" + urlencode({**own, **query})


def group_frame(
    rows: Sequence[JobsStatistics], group_by: GroupBy, query: dict[str, str]
) -> pd.DataFrame:
    """One row per user (with their name) or project (with its number of users): the
    totals, and the links: a user to their view, a project to its jobs (``row_url``),
    the job count to the job list filtered like ``query`` (``jobs_url``)."""
    first = "User" if group_by is GroupBy.USER else "Project"
    records = []
    for r in rows:
        jobs_url = _jobs_href(group_by, r.id, query)
        record: dict[str, Any] = {first: r.id}
        if group_by is GroupBy.USER:
            record["Name"] = r.name
        else:
            record["Users"] = r.total_users
        record.update(
            {
                "Jobs": r.total_jobs,
                "Running": r.running_jobs,
                "Walltime [h]": r.total_walltime,
                "Node hours": r.total_node_hours,
                "Core hours": r.total_core_hours,
                "Accelerator hours": r.total_acc_hours,
                "row_url": user_view_href(r.id) if group_by is GroupBy.USER else jobs_url,
                "jobs_url": jobs_url,
            }
        )
        records.append(record)
    second = "Name" if group_by is GroupBy.USER else "Users"
    columns = [first, second, *NUMBER_COLUMNS, *LINK_COLUMNS]
    return pd.DataFrame.from_records(records, columns=columns)


class GroupTable(pn.viewable.Viewer):
    """The users or projects table of a :class:`GroupListStore`, with a name filter."""

    def __init__(self, store: GroupListStore, **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        first = "User" if store.group_by is GroupBy.USER else "Project"
        self.search = pn.widgets.TextInput(
            label=f"Filter by {store.kind} or name"
            if store.group_by is GroupBy.USER
            else "Filter by project",
            value=store.name_filter,
            placeholder=f"part of a {store.kind} name",
            width=280,
        )
        self.search.param.watch(lambda e: setattr(store, "name_filter", e.new), "value_input")
        link = {"type": "link", "urlField": "row_url"}
        self.table = pn.widgets.Tabulator(
            group_frame([], store.group_by, {}),
            disabled=True,
            show_index=False,
            selectable=False,
            pagination="local",
            page_size=50,
            layout="fit_columns",
            sizing_mode="stretch_width",
            hidden_columns=list(LINK_COLUMNS),
            formatters={
                first: link,
                "Jobs": {"type": "link", "urlField": "jobs_url"},
                **dict.fromkeys(HOURS_COLUMNS, _WHOLE_NUMBER),
            },
            text_align=dict.fromkeys(("Users", *NUMBER_COLUMNS), "right"),
            sorters=[{"field": "Jobs", "dir": "desc"}],
        )
        self._empty = pn.pane.Alert(
            f"No {store.kind}s with jobs match the filters.", alert_type="light", visible=False
        )
        self._layout = pn.Column(self.search, self._empty, self.table, sizing_mode="stretch_width")
        store.param.watch(self._update, ["rows", "name_filter", "loaded"])
        self._update()

    def _update(self, *_events: Any) -> None:
        store = self.store
        self.table.value = group_frame(store.visible_rows(), store.group_by, store.query())
        self._empty.visible = store.loaded and not store.visible_rows()

    def __panel__(self) -> pn.Column:
        return self._layout


def format_duration(seconds: int) -> str:
    """A job's duration as ``2h 05m`` (``45m`` under an hour, ``3d 4h`` from a day)."""
    minutes, hours, days = seconds // 60 % 60, seconds // 3600 % 24, seconds // 86400
    if days:
        return f"{days}d {hours}h"
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m"


def _job_row(job: Job) -> str:
    start = datetime.fromtimestamp(job.start_time, UTC).strftime("%Y-%m-%d %H:%M")
    href = f"/monitoring/job/{job.id}"
    return (
        f'<tr><td><a href="{html.escape(href)}">{html.escape(str(job.job_id))}</a></td>'
        f"<td>{html.escape(job.cluster)}</td><td>{html.escape(job.project)}</td>"
        f"<td>{start}</td>"
        f'<td class="number">{format_duration(job.duration)}</td>'
        f'<td class="number">{job.num_nodes}</td>'
        f"<td>{html.escape(job.job_state.value)}</td></tr>"
    )


def newest_jobs_html(
    username: str, jobs: Sequence[Job], total: int | None, query: dict[str, str]
) -> str:
    """The newest ``jobs`` of a user (each linking to its job view) and a link to all
    ``total`` of them in the job list."""
    mine = {"user": username, "userMatch": "eq", **query}
    count = "all jobs" if total is None else f"all {total} jobs"
    more = f'<p class="more">{job_list_link(f"Show {count} in the job list", mine)}</p>'
    if not jobs:
        return '<p class="empty">No jobs match the filters.</p>' + more
    rows = "".join(_job_row(job) for job in jobs)
    return (
        '<table class="cc-table jobs"><thead><tr><th>Job</th><th>Cluster</th>'
        '<th>Project</th><th>Start (UTC)</th><th class="number">Duration</th>'
        '<th class="number">Nodes</th><th>State</th></tr></thead>'
        f"<tbody>{rows}</tbody></table>{more}"
    )


class NewestJobs(pn.viewable.Viewer):
    """:func:`newest_jobs_html` of a :class:`~app.stores.user.UserStore`."""

    def __init__(self, store: UserStore, **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        self._pane = pn.pane.HTML(
            "", stylesheets=[TABLE_STYLE], sizing_mode="stretch_width", name="newest-jobs"
        )
        store.param.watch(self._update, ["jobs", "totals", "loaded"])
        self._update()

    def _update(self, *_events: Any) -> None:
        store = self.store
        if not store.loaded:
            self._pane.object = '<p class="empty">Loading jobs…</p>'
            return
        total = store.totals.total_jobs if store.totals is not None else None
        self._pane.object = newest_jobs_html(store.username, store.jobs, total, store.query())

    def __panel__(self) -> pn.pane.HTML:
        return self._pane
