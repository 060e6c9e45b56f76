"""The job list's table: one row per job with its facts, footprint bars and sparklines.

:func:`job_rows` turns the store's page into the table's rows (HTML cells for the job,
footprint and plots; plain values otherwise), :class:`JobTable` draws them with
Tabulator and turns a click on a column header into the store's sorting (the server
sorts; the table never sorts one page on its own). Its checkboxes tick jobs for a
comparison (the store's ``selected``, kept over pages). Nothing here fetches.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

import pandas as pd  # type: ignore[import-untyped]
import panel as pn

from app.filters import ListOptions, SortKey
from app.stores.jobs import JobListStore, Sparkline
from app.views.footprint import FOOTPRINT_STYLE, footprint_bars, footprint_html, job_thresholds
from app.views.job_list_plots import SPARKLINE_STYLE, sparkline_svg
from cc_backend.domain.cluster import Cluster
from cc_backend.domain.errors import NotFound
from cc_backend.domain.job import Job

__all__ = [
    "COLUMNS",
    "JOB_LIST",
    "JOB_PAGE",
    "JobTable",
    "duration_text",
    "job_info_html",
    "job_rows",
    "metric_column",
    "run_soon",
]

JOB_LIST = "/monitoring/jobs/"
JOB_PAGE = "/monitoring/job/"
USER_PAGE = "/monitoring/user/"

#: The fixed columns: name -> (title, the job field the server sorts by, or None).
COLUMNS: dict[str, tuple[str, str | None]] = {
    "job": ("Job", "jobId"),
    "user": ("User", "user"),
    "project": ("Project", "project"),
    "start": ("Start (UTC)", "startTime"),
    "duration": ("Duration", "duration"),
    "resources": ("Resources", "numNodes"),
    "energy": ("Energy", "energy"),
    "footprint": ("Footprint", None),
}
_HTML_COLUMNS = ("job", "user", "project", "resources", "footprint")
#: Column widths in pixels (a plotted metric's: :data:`METRIC_WIDTH`).
WIDTHS = {
    "job": 190,
    "user": 110,
    "project": 110,
    "start": 150,
    "duration": 122,
    "resources": 135,
    "energy": 100,
    "footprint": 260,
}
METRIC_WIDTH = 180

#: Styles of the table's cells (the table is its own shadow DOM).
TABLE_STYLE = (
    FOOTPRINT_STYLE
    + SPARKLINE_STYLE
    + """
.cc-job { display: flex; flex-direction: column; gap: .15rem; min-width: 11rem;
  white-space: normal; }
.cc-job a.job-link { font-weight: 600; }
.cc-job .muted { opacity: .75; font-size: .8rem; }
.cc-resources { white-space: nowrap; font-size: .85rem; }
.cc-job .state { display: inline-block; padding: 0 .35rem; border-radius: .6rem;
  font-size: .72rem; color: #fff; background: #6c757d; margin-left: .35rem; }
.cc-job .state-running { background: #0d6efd; }
.cc-job .state-completed { background: #198754; }
.cc-job .state-failed, .cc-job .state-out_of_memory, .cc-job .state-node_fail,
.cc-job .state-boot_fail { background: #dc3545; }
.cc-job .state-timeout, .cc-job .state-cancelled, .cc-job .state-preempted
{ background: #fd7e14; }
.cc-job .tag { display: inline-block; margin: .1rem .2rem 0 0; padding: 0 .35rem;
  border-radius: .25rem; font-size: .72rem; background: rgba(13, 110, 253, .15); }
.tabulator-cell a { color: var(--design-primary-color, #0072b5); text-decoration: none; }
.tabulator-cell a:hover { text-decoration: underline; }
.tabulator .tabulator-row .tabulator-cell { white-space: normal; }
"""
)


def run_soon(work: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run ``work`` on the session's event loop (widget watchers are synchronous, so that
    a value set to follow the store starts no work at all)."""
    pn.state.execute(work)


def metric_column(metric: str) -> str:
    """The table column of a plotted metric."""
    return f"metric:{metric}"


def duration_text(seconds: int) -> str:
    """A run time as ``[Nd ]HH:MM:SS``."""
    days, rest = divmod(max(seconds, 0), 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{days}d {clock}" if days else clock


def _start_text(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%d %H:%M")


def job_info_html(job: Job) -> str:
    """The job cell: id (linking to the job), state, name, cluster, array id and tags."""
    name = (job.meta_data or {}).get("jobName", "")
    where = job.cluster + (f"/{job.sub_cluster}" if job.sub_cluster else "")
    if job.partition:
        where += f" [{job.partition}]"
    parts = [
        f'<div><a class="job-link" href="{JOB_PAGE}{job.id}">{job.job_id}</a>'
        f'<span class="state state-{job.job_state.value}">{job.job_state.value}</span></div>'
    ]
    if name:
        parts.append(f'<div class="job-name">{html.escape(name)}</div>')
    parts.append(f'<div class="muted">{html.escape(where)}</div>')
    if job.array_job_id:
        link = JOB_LIST + "?" + urlencode({"arrayJobId": job.array_job_id})
        parts.append(f'<div class="muted"><a href="{link}">array {job.array_job_id}</a></div>')
    if job.tags:
        chips = "".join(
            f'<span class="tag" title="scope {html.escape(t.scope)}">'
            f"{html.escape(t.type)}: {html.escape(t.name)}</span>"
            for t in job.tags
        )
        parts.append(f"<div>{chips}</div>")
    return '<div class="cc-job">' + "".join(parts) + "</div>"


def _resources_html(job: Job) -> str:
    def count(n: int, what: str) -> str:
        return f"{n:,} {what}{'' if n == 1 else 's'}"

    lines = [f"<b>{count(job.num_nodes, 'node')}</b>"]
    if job.num_hwthreads:
        lines.append(count(job.num_hwthreads, "HW thread"))
    if job.num_acc:
        lines.append(count(job.num_acc, "accelerator"))
    return '<div class="cc-resources">' + "<br>".join(lines) + "</div>"


def _user_html(job: Job, link_users: bool) -> str:
    if not link_users:
        return html.escape(job.user)
    return f'<a href="{USER_PAGE}{quote(job.user, safe="")}">{html.escape(job.user)}</a>'


def _project_html(job: Job) -> str:
    link = JOB_LIST + "?" + urlencode({"project": job.project})
    return f'<a href="{html.escape(link)}">{html.escape(job.project)}</a>'


def sparkline_cell(
    job: Job, metric: str, line: Sparkline | str | None, cluster: Cluster | None
) -> str:
    """The sparkline of ``metric`` for ``job``, coloured by the metric's thresholds on
    the job's subcluster when the cluster knows them."""
    thresholds, lower = None, False
    if cluster is not None:
        try:
            subcluster = job.sub_cluster or cluster.subcluster_of(job.resources[0].hostname).name
            config = cluster.metric_config(subcluster, metric)
        except NotFound:
            config = None
        if config is not None:
            thresholds, lower = job_thresholds(job, cluster, config), bool(config.lower_is_better)
    return sparkline_svg(line, metric, thresholds, lower)


def job_rows(
    jobs: list[Job],
    clusters: dict[str, Cluster],
    metrics: list[str],
    sparklines: dict[int, dict[str, Sparkline | str]],
    link_users: bool = False,
) -> pd.DataFrame:
    """The table's rows for ``jobs``: the columns of :data:`COLUMNS`, then one per plotted
    metric (:func:`metric_column`); sparklines not loaded yet say so."""
    records = []
    for job in jobs:
        cluster = clusters.get(job.cluster)
        lines = sparklines.get(job.id or -1, {})
        record: dict[str, Any] = {
            "job": job_info_html(job),
            "user": _user_html(job, link_users),
            "project": _project_html(job),
            "start": _start_text(job.start_time),
            "duration": duration_text(job.duration),
            "resources": _resources_html(job),
            "energy": f"{job.energy:,.2f} kWh",
            "footprint": footprint_html(footprint_bars(job, cluster)),
        }
        for metric in metrics:
            record[metric_column(metric)] = sparkline_cell(job, metric, lines.get(metric), cluster)
        records.append(record)
    columns = [*COLUMNS, *(metric_column(m) for m in metrics)]
    return pd.DataFrame.from_records(records, columns=columns)


def sort_of_header(field: str, descending: bool) -> SortKey | None:
    """The store's sorting for a click on column ``field`` (None: not sortable)."""
    column = COLUMNS.get(field)
    if column is None or column[1] is None:
        return None
    return SortKey(column[1], footprint=False, descending=descending)


def header_of_sort(sort: SortKey) -> list[dict[str, str]]:
    """The table's header sorters showing ``sort`` (none for a footprint sort)."""
    if sort.footprint:
        return []
    for name, (_title, field) in COLUMNS.items():
        if field == sort.field:
            return [{"field": name, "dir": "desc" if sort.descending else "asc"}]
    return []


class JobTable(pn.viewable.Viewer):
    """The page of jobs as a table; hidden while there is none."""

    def __init__(self, store: JobListStore, link_users: bool = False, **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        self.link_users = link_users
        self._rows: dict[int, int] = {}
        #: The sparklines each row shows (the store's object, to notice new ones).
        self._drawn: dict[int, dict[str, Sparkline | str] | None] = {}
        self._table = pn.widgets.Tabulator(
            job_rows([], {}, [], {}),
            show_index=False,
            disabled=True,
            selectable="checkbox",
            pagination=None,
            layout="fit_data_table",
            sizing_mode="stretch_width",
            configuration={"sortMode": "remote", "columnDefaults": {"vertAlign": "middle"}},
            stylesheets=[TABLE_STYLE],
            css_classes=["cc-job-table"],
            visible=False,
        )
        self._table.param.watch(self._header_clicked, "sorters")
        self._table.param.watch(self._ticked, "selection")
        self._showing_selection = False
        store.param.watch(self._redraw, ["jobs", "metrics", "clusters", "loaded"])
        store.param.watch(self._patch_sparklines, "sparklines")
        store.param.watch(self._show_selection, "selected")
        self._redraw()

    @property
    def table(self) -> pn.widgets.Tabulator:
        return self._table

    def _configure(self) -> dict[str, Any]:
        metrics = list(self.store.metrics)
        titles = {name: title for name, (title, _field) in COLUMNS.items()}
        titles.update({metric_column(m): m for m in metrics})
        sortable = {name: field is not None for name, (_title, field) in COLUMNS.items()}
        sortable.update(dict.fromkeys((metric_column(m) for m in metrics), False))
        html_columns = [*_HTML_COLUMNS, *(metric_column(m) for m in metrics)]
        return {
            "titles": titles,
            "sortable": sortable,
            "formatters": {c: {"type": "html"} for c in html_columns},
            "sorters": header_of_sort(self.store.options.sort),
            "widths": {**WIDTHS, **dict.fromkeys(html_columns[len(_HTML_COLUMNS) :], METRIC_WIDTH)},
        }

    def _redraw(self, *_events: Any) -> None:
        store = self.store
        rows = job_rows(
            store.jobs, store.clusters, list(store.metrics), store.sparklines, self.link_users
        )
        self._rows = {job.id: i for i, job in enumerate(store.jobs) if job.id is not None}
        self._drawn = {job_id: store.sparklines.get(job_id) for job_id in self._rows}
        changed = {
            name: value
            for name, value in self._configure().items()
            if getattr(self._table, name) != value
        }
        self._showing_selection = True  # the new rows' ticks are the store's, not a change
        try:
            self._table.param.update(value=rows, visible=bool(store.jobs), **changed)
            self._table.selection = self._selected_rows()  # after the rows it points into
        finally:
            self._showing_selection = False

    def _selected_rows(self) -> list[int]:
        chosen = set(self.store.selected)
        return sorted(row for job_id, row in self._rows.items() if job_id in chosen)

    def _show_selection(self, *_events: Any) -> None:
        rows = self._selected_rows()
        if sorted(self._table.selection) == rows:
            return
        self._showing_selection = True
        try:
            self._table.selection = rows
        finally:
            self._showing_selection = False

    def tick(self, rows: list[int]) -> None:
        """Tick exactly the table rows ``rows`` of the page (what the checkboxes do)."""
        shown = [job.id for job in self.store.jobs if job.id is not None]
        wanted = set(rows)
        ticked = [job_id for job_id, row in self._rows.items() if row in wanted]
        self.store.select(shown, ticked)

    def _ticked(self, event: Any) -> None:
        if not self._showing_selection:
            self.tick(list(event.new))

    def _patch_sparklines(self, *_events: Any) -> None:
        store = self.store
        if len(self._table.value) != len(store.jobs):
            self._redraw()
            return
        patch: dict[str, list[tuple[int, str]]] = {}
        columns = set(self._table.value.columns)
        for job in store.jobs:
            row = self._rows.get(job.id or -1)
            lines = store.sparklines.get(job.id or -1)
            if row is None or job.id is None or lines is self._drawn.get(job.id):
                continue
            self._drawn[job.id] = lines
            cluster = store.clusters.get(job.cluster)
            for metric in store.metrics:
                column = metric_column(metric)
                if column in columns:
                    cell = sparkline_cell(job, metric, (lines or {}).get(metric), cluster)
                    patch.setdefault(column, []).append((row, cell))
        if patch:
            self._table.patch(patch, as_index=False)

    async def sort_by_header(self, field: str, descending: bool) -> None:
        """Sort the list by table column ``field`` (what a click on its header asks for);
        a column the server cannot sort by is ignored."""
        sort = sort_of_header(field, descending)
        options = self.store.options
        if sort is None or sort == options.sort:
            return
        await self.store.update(
            options=ListOptions(sort, options.page, options.items_per_page, options.hide_short)
        )

    def _header_clicked(self, event: Any) -> None:
        if not event.new:
            return
        field, descending = str(event.new[0].get("field")), event.new[0].get("dir") == "desc"
        sort = sort_of_header(field, descending)
        if sort is not None and sort != self.store.options.sort:

            async def work() -> None:
                await self.sort_by_header(field, descending)

            run_soon(work)

    def __panel__(self) -> pn.widgets.Tabulator:
        return self._table
