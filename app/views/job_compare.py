"""The job comparison: the jobs' resources, per compared metric a plot with one range bar
per job (minimum to maximum, the average as a dot), and a table of every job's values,
each job linking to its page (``/monitoring/job/<id>``).

:func:`compare_figure` and :func:`compare_rows` turn a
:class:`~app.stores.job_compare.JobCompareStore`'s jobs into a Bokeh figure and the
table's rows; :class:`JobComparison` draws them for the store. All plots share one job
axis (panning or zooming one moves all), the jobs in the store's order (oldest first);
hovering a bar names the job, its user and its values, a click on it opens the job.
Nothing here fetches.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pandas as pd  # type: ignore[import-untyped]
import panel as pn
from bokeh.models import (
    ColumnDataSource,
    DataRange1d,
    FactorRange,
    HoverTool,
    OpenURL,
    TapTool,
)
from bokeh.models.renderers import DataRenderer
from bokeh.plotting import figure

from app.stores.job_compare import COMPARE_LIMIT, ComparedJob, JobCompareStore
from app.views.job_list import JOB_PAGE, duration_text

__all__ = [
    "BAR_COLOUR",
    "STAT_COLUMNS",
    "JobComparison",
    "compare_figure",
    "compare_rows",
    "job_labels",
    "metric_columns",
    "resources_figure",
]

#: The range bars' and average dots' colours (readable in both themes).
BAR_COLOUR = "#0a84c1"
AVG_COLOUR = "#f58518"
#: The statistics compared per metric, as the table's column suffixes.
STAT_COLUMNS = ("min", "avg", "max")
#: Job labels are drawn on the axis up to this many jobs.
_MAX_LABELLED = 60
_PLOT_HEIGHT = 250

TABLE_STYLE = """
.tabulator-cell a { color: var(--design-primary-color, #0072b5); text-decoration: none;
  font-weight: 600; }
.tabulator-cell a:hover { text-decoration: underline; }
.cc-state { display: inline-block; margin-left: .35rem; padding: 0 .35rem;
  border-radius: .6rem; font-size: .72rem; color: #fff; background: #6c757d; }
"""


def job_labels(jobs: Sequence[ComparedJob]) -> list[str]:
    """One axis label per job: its job id, with the cluster where two jobs share an id,
    and the database id where that is not enough."""
    counts: dict[str, int] = {}
    for job in jobs:
        counts[job.job_id] = counts.get(job.job_id, 0) + 1
    labels = [
        job.job_id if counts[job.job_id] == 1 else f"{job.job_id} ({job.stats.cluster})"
        for job in jobs
    ]
    if len(set(labels)) < len(labels):
        labels = [f"{label} #{job.id}" for label, job in zip(labels, jobs, strict=True)]
    return labels


def _value(stat: float | None) -> float:
    return math.nan if stat is None or not math.isfinite(stat) else round(float(stat), 2)


def metric_columns(metric: str) -> list[str]:
    """The table columns of ``metric``: ``<metric>:min``, ``:avg``, ``:max``."""
    return [f"{metric}:{stat}" for stat in STAT_COLUMNS]


def compare_figure(
    metric: str,
    unit: str,
    jobs: Sequence[ComparedJob],
    x_range: FactorRange | None = None,
) -> Any:
    """The plot of ``metric`` over ``jobs``: a bar from minimum to maximum and a dot at
    the average per job with statistics of it (the others keep their place on the job
    axis, empty). ``x_range`` is the job axis, to share it between plots."""
    labels = job_labels(jobs)
    x_range = x_range if x_range is not None else FactorRange(factors=labels)
    rows: dict[str, list[Any]] = {
        key: [] for key in ("x", "id", "job_id", "user", "cluster", "min", "avg", "max", "state")
    }
    for label, job in zip(labels, jobs, strict=True):
        stats = job.metric(metric)
        if stats is None:
            continue
        rows["x"].append(label)
        rows["id"].append(job.id)
        rows["job_id"].append(job.job_id)
        rows["user"].append(job.user)
        rows["cluster"].append(f"{job.stats.cluster}/{job.stats.sub_cluster}")
        rows["state"].append(job.state.value if job.state is not None else "")
        for stat in STAT_COLUMNS:
            rows[stat].append(_value(getattr(stats, stat)))
    source = ColumnDataSource(rows, name=f"compare-{metric}")
    axis = f"{metric} [{unit}]" if unit else metric
    plot = figure(
        name=f"compare-{metric}",
        title=f"{metric}: minimum, average and maximum per job",
        x_range=x_range,
        y_range=DataRange1d(start=0),
        height=_PLOT_HEIGHT,
        sizing_mode="stretch_width",
        tools="xpan,xwheel_zoom,reset,save",
        toolbar_location="above",
        y_axis_label=axis,
        x_axis_label="Job",
    )
    bars = plot.vbar(
        x="x", bottom="min", top="max", width=min(0.6, 0.15 * len(labels)), source=source,
        fill_color=BAR_COLOUR, fill_alpha=0.35, line_color=BAR_COLOUR,
    )  # fmt: skip
    dots = plot.scatter(x="x", y="avg", size=8, source=source, color=AVG_COLOUR)
    value = "{0,0.[00]}" + (f" {unit}" if unit else "")
    plot.add_tools(
        HoverTool(
            renderers=[bars, dots],
            tooltips=[
                ("job", "@job_id (@state)"),
                ("user", "@user"),
                ("cluster", "@cluster"),
                ("max", f"@max{value}"),
                ("avg", f"@avg{value}"),
                ("min", f"@min{value}"),
            ],
        ),
        TapTool(renderers=[bars, dots], callback=OpenURL(url=JOB_PAGE + "@id")),
    )
    plot.xgrid.grid_line_color = None
    plot.xaxis.major_label_orientation = math.pi / 2 if len(labels) > 12 else 0
    if len(labels) > _MAX_LABELLED:
        plot.xaxis.major_label_text_font_size = "0pt"
    return plot


#: The resources compared per job: data column -> (label, marker, colour).
RESOURCES = {
    "nodes": ("nodes", "circle", "#0a84c1"),
    "hwthreads": ("HW threads", "square", "#54a24b"),
    "accelerators": ("accelerators", "triangle", "#e45756"),
}


def resources_figure(jobs: Sequence[ComparedJob], x_range: FactorRange | None = None) -> Any:
    """The resources of ``jobs`` side by side (cc-backend's first comparison plot):
    nodes, hardware threads and accelerators per job, on a logarithmic axis (counts
    from one node to thousands of threads); none (zero) is left out."""
    labels = job_labels(jobs)
    x_range = x_range if x_range is not None else FactorRange(factors=labels)
    plot = figure(
        name="compare-resources",
        title="Resources per job",
        x_range=x_range,
        y_axis_type="log",
        height=_PLOT_HEIGHT,
        sizing_mode="stretch_width",
        tools="xpan,xwheel_zoom,reset,save",
        toolbar_location="above",
        y_axis_label="count",
        x_axis_label="Job",
    )
    counts = {
        "nodes": [j.stats.num_nodes for j in jobs],
        "hwthreads": [j.stats.num_hwthreads for j in jobs],
        "accelerators": [j.stats.num_accelerators for j in jobs],
    }
    shown: list[DataRenderer] = []
    for column, (label, marker, colour) in RESOURCES.items():
        present = [i for i, count in enumerate(counts[column]) if count > 0]
        if not present:
            continue
        source = ColumnDataSource(
            {
                "x": [labels[i] for i in present],
                "id": [jobs[i].id for i in present],
                "job_id": [jobs[i].job_id for i in present],
                "user": [jobs[i].user for i in present],
                "count": [counts[column][i] for i in present],
                "what": [label] * len(present),
            },
            name=f"resources-{column}",
        )
        shown.append(
            plot.scatter(
                x="x", y="count", source=source, marker=marker, size=9, color=colour,
                legend_label=label,
            )
        )  # fmt: skip
    if shown:
        plot.add_tools(
            HoverTool(
                renderers=shown,
                tooltips=[("job", "@job_id"), ("user", "@user"), ("@what", "@count{0,0}")],
            ),
            TapTool(renderers=shown, callback=OpenURL(url=JOB_PAGE + "@id")),
        )
        plot.legend.location = "top_left"
        plot.legend.orientation = "horizontal"
    plot.xgrid.grid_line_color = None
    plot.xaxis.major_label_orientation = math.pi / 2 if len(labels) > 12 else 0
    if len(labels) > _MAX_LABELLED:
        plot.xaxis.major_label_text_font_size = "0pt"
    return plot


def _job_cell(job: ComparedJob) -> str:
    state = f'<span class="cc-state">{html.escape(job.state.value)}</span>' if job.state else ""
    link = f'<a href="{JOB_PAGE}{job.id}">{html.escape(job.job_id)}</a>'
    return link + state


#: The fixed columns and their titles.
_FIXED_TITLES = {
    "job": "Job",
    "user": "User",
    "project": "Project",
    "cluster": "Cluster",
    "start": "Start (UTC)",
    "duration": "Duration",
    "nodes": "Nodes",
    "hwthreads": "HW threads",
    "accelerators": "Accelerators",
}


def compare_rows(jobs: Sequence[ComparedJob], metrics: Sequence[str]) -> pd.DataFrame:
    """The table's rows: the job (a link to its page), user, project, cluster, start,
    duration, resources, then :func:`metric_columns` of each metric (NaN: no value)."""
    records = []
    for job in jobs:
        stats = job.stats
        record: dict[str, Any] = {
            "job": _job_cell(job),
            "user": job.user,
            "project": job.project,
            "cluster": f"{stats.cluster} ({stats.sub_cluster})",
            "start": datetime.fromtimestamp(stats.start_time, tz=UTC).strftime("%Y-%m-%d %H:%M"),
            "duration": duration_text(stats.duration),
            "nodes": stats.num_nodes,
            "hwthreads": stats.num_hwthreads,
            "accelerators": stats.num_accelerators,
        }
        for metric in metrics:
            values = job.metric(metric)
            for column, stat in zip(metric_columns(metric), STAT_COLUMNS, strict=True):
                record[column] = _value(getattr(values, stat) if values is not None else None)
        records.append(record)
    columns = [*_FIXED_TITLES, *(c for m in metrics for c in metric_columns(m))]
    return pd.DataFrame.from_records(records, columns=columns)


def _summary(store: JobCompareStore) -> tuple[str, str]:
    """The text above the comparison and its alert type ('' for none)."""
    if store.too_many:
        return (
            f"{store.count:,} jobs match these filters: a comparison takes fewer than "
            f"{COMPARE_LIMIT:,}. Tick jobs in the list, or narrow the filters.",
            "warning",
        )
    jobs = store.jobs
    if not jobs:
        return ("No jobs to compare." if store.loaded and not store.error else "", "")
    without = sum(1 for j in jobs if not j.stats.stats)
    text = f"Comparing {len(jobs):,} job{'s' if len(jobs) != 1 else ''}"
    if not store.metrics:
        text += ": choose metrics under “Plotted metrics” to compare their values"
    text += "."
    if without:
        text += (
            f" {without:,} of them {'has' if without == 1 else 'have'} no statistics yet "
            "(not yet archived, or running without metric data)."
        )
    return text, ""


class JobComparison(pn.viewable.Viewer):
    """The store's comparison: a ``summary`` line (or a warning, the ``notice``), the
    plots and the table."""

    def __init__(self, store: JobCompareStore, **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        self.notice = pn.pane.Alert("", alert_type="info", visible=False, margin=(5, 10))
        self.summary = pn.pane.HTML("", margin=(5, 10), name="compare-summary")
        self._plots = pn.Column(sizing_mode="stretch_width", name="compare-plots")
        self._table = pn.widgets.Tabulator(
            compare_rows([], []),
            show_index=False,
            disabled=True,
            selectable=False,
            pagination=None,
            layout="fit_data_table",
            sizing_mode="stretch_width",
            max_height=600,
            formatters={"job": {"type": "html"}},
            stylesheets=[TABLE_STYLE],
            css_classes=["cc-compare-table"],
            visible=False,
        )
        self._layout = pn.Column(
            self.notice,
            self.summary,
            self._plots,
            self._table,
            sizing_mode="stretch_width",
            name="job-comparison",
        )
        store.param.watch(self._redraw, ["jobs", "count", "loaded", "error", "clusters"])
        self._redraw()

    @property
    def table(self) -> pn.widgets.Tabulator:
        return self._table

    @property
    def plots(self) -> list[Any]:
        """The Bokeh figures: the resources, then one per compared metric with values."""
        return [pane.object for pane in self._plots.objects]

    def _redraw(self, *_events: Any) -> None:
        store = self.store
        text, alert = _summary(store)
        self.notice.param.update(
            object=text if alert else "", alert_type=alert or "info", visible=bool(alert)
        )
        self.summary.object = "" if alert else html.escape(text)
        jobs = list(store.jobs)
        metrics = [m for m in store.metrics if any(j.metric(m) for j in jobs)]
        shared = FactorRange(factors=job_labels(jobs))
        figures = [compare_figure(m, store.unit_of(m), jobs, shared) for m in metrics]
        if jobs:
            figures.insert(0, resources_figure(jobs, shared))
        self._plots.objects = [pn.pane.Bokeh(f, sizing_mode="stretch_width") for f in figures]
        self._draw_table(jobs, list(store.metrics))

    def _draw_table(self, jobs: list[ComparedJob], metrics: list[str]) -> None:
        titles: dict[str, str] = dict(_FIXED_TITLES)
        groups: dict[str, list[str]] = {}
        for metric in metrics:
            unit = self.store.unit_of(metric)
            columns = metric_columns(metric)
            groups[f"{metric} [{unit}]" if unit else metric] = columns
            titles.update(zip(columns, ("Min", "Avg", "Max"), strict=True))
        self._table.param.update(
            value=compare_rows(jobs, metrics),
            titles=titles,
            groups=groups,
            visible=bool(jobs),
        )

    def __panel__(self) -> pn.Column:
        return self._layout
