"""The analysis page's numbers: the summary table and the top users and projects.

:func:`summary_rows` and :func:`top_frame` turn the store's statistics into rows (no I/O);
:class:`AnalysisSummary` draws the summary, :class:`TopLists` the category selector and,
for users and projects, a pie chart and a table whose names link to the user's view and
to the job list filtered by the project (with the page's filters).
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

import numpy as np
import pandas as pd  # type: ignore[import-untyped]
import panel as pn
from bokeh.models import ColumnDataSource, Range1d
from bokeh.models.annotations import Legend, LegendItem
from bokeh.models.renderers import GlyphRenderer
from bokeh.palettes import Category10_10
from bokeh.plotting import figure

from app.filters import JobQuery
from app.stores.analysis import CATEGORIES, AnalysisStore, Category
from app.views.home import TABLE_STYLE
from app.views.job_list import run_soon
from app.views.job_list_summary import describe_query
from app.views.statistics import JOB_LIST
from app.views.users import user_view_href
from cc_backend.stats.statistics_results import JobsStatistics
from cc_backend.stats.stats_results import GroupBy

__all__ = [
    "AnalysisSummary",
    "FilterDescription",
    "TopLists",
    "pie_figure",
    "project_href",
    "summary_rows",
    "top_frame",
]


def summary_rows(totals: JobsStatistics) -> list[tuple[str, str]]:
    """Label and value of each summary line (hours as whole hours)."""
    return [
        ("Total jobs", f"{totals.total_jobs:,}"),
        ("Short jobs", f"{totals.short_jobs:,}"),
        ("Total walltime", f"{totals.total_walltime:,} h"),
        ("Total node hours", f"{totals.total_node_hours:,} h"),
        ("Total core hours", f"{totals.total_core_hours:,} h"),
        ("Total accelerator hours", f"{totals.total_acc_hours:,} h"),
    ]


class FilterDescription(pn.viewable.Viewer):
    """The filters in words (the job list's wording) and what the URL said that could not
    be used."""

    def __init__(self, store: AnalysisStore, problems: Sequence[str] = (), **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        items = "".join(f"<li>{html.escape(p)}</li>" for p in problems)
        self._problems = pn.pane.Alert(
            f"Some parts of the link were left out:<ul>{items}</ul>",
            alert_type="warning",
            visible=bool(problems),
            sizing_mode="stretch_width",
            name="query-problems",
        )
        self._text = pn.pane.HTML("", name="filter-text", margin=(8, 10))
        self._layout = pn.Column(self._problems, self._text, sizing_mode="stretch_width")
        store.param.watch(self._update, ["query"])
        self._update()

    def _update(self, *_events: Any) -> None:
        words = describe_query(self.store.query)
        self._text.object = html.escape("; ".join(words) if words else "no filters")

    def __panel__(self) -> pn.Column:
        return self._layout


class AnalysisSummary(pn.viewable.Viewer):
    """The summary of the matching jobs as a table."""

    def __init__(self, store: AnalysisStore, **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        self._pane = pn.pane.HTML(
            "", stylesheets=[TABLE_STYLE], sizing_mode="stretch_width", name="summary"
        )
        store.param.watch(self._update, ["summary"])
        self._update()

    def _update(self, *_events: Any) -> None:
        totals = self.store.summary
        if totals is None:
            self._pane.object = ""
            return
        rows = "".join(
            f'<tr><th scope="row">{html.escape(label)}</th><td class="number">{value}</td></tr>'
            for label, value in summary_rows(totals)
        )
        self._pane.object = f'<table class="cc-table summary">{rows}</table>'

    def __panel__(self) -> pn.pane.HTML:
        return self._pane


def project_href(project: str, query: JobQuery) -> str:
    """The job list of ``project`` with the filters of ``query``."""
    pairs = query.replace(project=project, project_match="eq").to_pairs()
    return JOB_LIST + "?" + urlencode(pairs)


def _user_href(user: str, query: JobQuery) -> str:
    suffix = f"?{urlencode({'cluster': query.cluster})}" if query.cluster else ""
    return user_view_href(user) + suffix


def top_frame(
    rows: Sequence[JobsStatistics], group_by: GroupBy, category: Category, query: JobQuery
) -> pd.DataFrame:
    """The top list as a table: rank, the name as a link (a user to their view, a project
    to its jobs with ``query``'s filters) and the category's value."""
    first = "User" if group_by is GroupBy.USER else "Project"
    records = []
    for rank, r in enumerate(rows, 1):
        href = _user_href(r.id, query) if group_by is GroupBy.USER else project_href(r.id, query)
        shown = r.id if not r.name else f"{r.id} ({r.name})"
        link = f'<a href="{html.escape(href)}">{html.escape(shown)}</a>'
        records.append({"#": rank, first: link, category.label: category.value(r)})
    return pd.DataFrame.from_records(records, columns=["#", first, category.label])


def pie_figure(rows: Sequence[JobsStatistics], category: Category, name: str) -> figure:
    """A pie chart of the rows' values of ``category`` (labels: the group names)."""
    values = np.array([max(category.value(r), 0) for r in rows], dtype=np.float64)
    total = float(values.sum())
    fractions = values / total if total > 0 else np.zeros_like(values)
    ends = np.cumsum(fractions) * 2 * math.pi
    starts = np.concatenate([[0.0], ends[:-1]]) if len(ends) else ends
    source = ColumnDataSource(
        {
            "name": [r.id for r in rows],
            "value": values,
            "share": [f"{f:.1%}" for f in fractions],
            "start": starts,
            "end": ends,
            "color": [Category10_10[i % 10] for i in range(len(rows))],
        }
    )
    plot = figure(
        name=name,
        frame_width=240,
        frame_height=240,
        toolbar_location=None,
        tools="hover",
        tooltips=f"@name: @value{{0,0}} {category.label} (@share)",
        x_range=Range1d(start=-1.05, end=1.05),
        y_range=Range1d(start=-1.05, end=1.05),
        outline_line_color=None,
    )
    wedges: GlyphRenderer[Any] = plot.wedge(
        x=0, y=0, radius=1.0, start_angle="start", end_angle="end",
        line_color="white", fill_color="color", source=source,
    )  # fmt: skip
    legend = Legend(
        items=[LegendItem(label=r.id, renderers=[wedges], index=i) for i, r in enumerate(rows)],
        label_text_font_size="8pt",
        border_line_color=None,
    )
    plot.add_layout(legend, "right")
    plot.axis.visible = False
    plot.grid.visible = False
    return plot


class _GroupView:
    """The pie chart and the table of one top list (made at once, so that the page
    loads the table's JavaScript with its first render)."""

    def __init__(self, group_by: GroupBy) -> None:
        self.group_by = group_by
        self.kind = "users" if group_by is GroupBy.USER else "projects"
        self.first = "User" if group_by is GroupBy.USER else "Project"
        self.title = pn.pane.Markdown("", margin=(0, 10))
        self.pie = pn.pane.Bokeh(None, visible=False)
        self.table = pn.widgets.Tabulator(
            pd.DataFrame(columns=["#", self.first, "Value"]),
            disabled=True,
            show_index=False,
            selectable=False,
            layout="fit_data_stretch",
            sizing_mode="stretch_width",
            formatters={self.first: {"type": "html"}},
            visible=False,
        )
        self.column = pn.Column(
            self.title, self.pie, self.table, sizing_mode="stretch_width", name=f"top-{self.kind}"
        )

    def show(self, rows: list[JobsStatistics], category: Category, query: JobQuery) -> None:
        title = f"Top {self.kind} by {category.label.lower()}"
        self.title.object = f"**{title}**" + ("" if rows else ": no jobs.")
        self.pie.visible = self.table.visible = bool(rows)
        if rows:
            self.pie.object = pie_figure(rows, category, f"top-{self.kind}-pie")
            self.table.value = top_frame(rows, self.group_by, category, query)


class TopLists(pn.viewable.Viewer):
    """The category selector and the top users and projects as pie charts and tables."""

    def __init__(self, store: AnalysisStore, **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        self.category = pn.widgets.Select(
            label="Top users and projects by",
            options={c.label: c.key for c in CATEGORIES.values()},
            value=store.category,
            width=240,
        )
        self.category.param.watch(self._choose, "value")
        self.users, self.projects = _GroupView(GroupBy.USER), _GroupView(GroupBy.PROJECT)
        self._layout = pn.Column(
            self.category,
            pn.Row(self.users.column, self.projects.column, sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )
        store.param.watch(self._update, ["top_users", "top_projects"])
        store.param.watch(self._follow, "category")
        self._update()

    def _choose(self, event: Any) -> None:
        if event.new == self.store.category:
            return

        async def work() -> None:
            await self.store.update(category=event.new)

        run_soon(work)

    def _follow(self, *_events: Any) -> None:
        self.category.value = self.store.category

    def _update(self, *_events: Any) -> None:
        store = self.store
        category = CATEGORIES[store.category]
        self.users.show(store.top_users, category, store.query)
        self.projects.show(store.top_projects, category, store.query)

    def __panel__(self) -> pn.Column:
        return self._layout
