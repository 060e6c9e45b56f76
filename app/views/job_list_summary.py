"""The job list's summary line: how many jobs match which filters, what in the link could
not be used, and the empty state.

:func:`describe_query` says a query's restrictions in words; :class:`JobListSummary` is
the line above the table. Nothing here fetches.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import panel as pn

from app.filters import QUICK_RANGES, JobQuery, Span, StartWindow
from app.stores.jobs import JobListStore

__all__ = ["JobListSummary", "describe_query"]


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def describe_query(query: JobQuery) -> list[str]:
    """Each restriction of ``query`` in words, for the list's summary line."""
    words: list[str] = []
    add = words.append
    if query.cluster:
        add(f"cluster {query.cluster}" + (f" ({query.partition})" if query.partition else ""))
    elif query.partition:
        add(f"partition {query.partition}")
    if query.states:
        add("state " + ", ".join(s.value for s in query.states))
    if query.shared:
        add(f"shared: {query.shared}")
    if query.schedule:
        add(f"{query.schedule} jobs")
    if query.start is not None:
        add(_describe_start(query.start))
    if query.duration is not None:
        add(f"duration {_describe_span(query.duration, 's')}")
    if query.users:
        add(_describe_text("user", query.users, query.user_operator))
    if query.project:
        add(_describe_text("project", [query.project], query.project_match))
    if query.job_ids:
        add(_describe_text("job id", query.job_ids, query.job_id_operator))
    if query.db_ids:
        add("database id " + ", ".join(str(i) for i in query.db_ids))
    if query.array_job_id is not None:
        add(f"array job {query.array_job_id}")
    if query.job_name:
        add(f"job name contains {query.job_name}")
    if query.tags:
        add("tag " + ", ".join(f"#{t}" for t in query.tags))
    if query.node:
        add(_describe_text("node", [query.node], query.node_match))
    for label, span, unit in (
        ("nodes", query.num_nodes, ""),
        ("hardware threads", query.num_hwthreads, ""),
        ("accelerators", query.num_accelerators, ""),
        ("energy", query.energy, " kWh"),
    ):
        if span is not None:
            add(f"{label} {_describe_span(span, unit)}")
    words += [f"{s.field} {_describe_span(s.span, '')}" for s in query.stats]
    return words


def _describe_text(label: str, values: Sequence[str], match: str) -> str:
    verbs = {
        "eq": "",
        "neq": "not ",
        "contains": "contains ",
        "startsWith": "starts with ",
        "endsWith": "ends with ",
        "in": "",
    }
    return f"{label} {verbs.get(match, '')}{', '.join(values)}"


def _describe_span(span: Span, unit: str) -> str:
    if span.open_top:
        return f"at least {_number(span.low)}{unit}"
    return f"{_number(span.low)} to {_number(span.high)}{unit}"


def _describe_start(start: StartWindow) -> str:
    if start.range:
        return "started " + QUICK_RANGES.get(start.range, start.range).lower()
    first = datetime.fromtimestamp(start.start or 0, tz=UTC).strftime("%Y-%m-%d %H:%M")
    last = datetime.fromtimestamp(start.stop or 0, tz=UTC).strftime("%Y-%m-%d %H:%M")
    return f"started {first} to {last} UTC"


class JobListSummary(pn.viewable.Viewer):
    """How many jobs match which filters, problems with the URL, and the empty state."""

    def __init__(self, store: JobListStore, problems: tuple[str, ...] = (), **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        self._count = pn.pane.HTML("Loading jobs…", name="job-count", margin=(8, 10))
        self._problems = pn.pane.Alert(
            _problems_text(problems),
            alert_type="warning",
            visible=bool(problems),
            sizing_mode="stretch_width",
            name="query-problems",
        )
        self._empty = pn.pane.Alert(
            "", alert_type="info", visible=False, sizing_mode="stretch_width", name="no-jobs"
        )
        self._layout = pn.Column(
            self._problems, self._count, self._empty, sizing_mode="stretch_width"
        )
        store.param.watch(self._update, ["jobs", "count", "loaded", "query", "options", "error"])
        self._update()

    def _update(self, *_events: Any) -> None:
        store = self.store
        filtered = describe_query(store.query)
        short = f"started at least {store.short_seconds // 60} min ago"
        words = [*filtered, short] if store.hiding_short else filtered
        filters = "; ".join(words) if words else "no filters"
        if not store.loaded:
            self._count.object = "Loading jobs…"
        elif store.count is not None:
            shown = f"{store.count:,} job{'s' if store.count != 1 else ''}"
            self._count.object = f"<b>{shown}</b>: {html.escape(filters)}"
        else:
            self._count.object = html.escape(filters)
        empty = store.loaded and not store.jobs and not store.error
        self._empty.visible = empty
        if empty:
            if filtered:
                text = "No jobs match these filters. Widen or reset the filters to see more."
            elif store.hiding_short:
                text = f"There are no jobs you may see that {short}; newer ones are hidden."
            else:
                text = "There are no jobs you may see yet."
            self._empty.object = text

    def __panel__(self) -> pn.Column:
        return self._layout


def _problems_text(problems: tuple[str, ...]) -> str:
    if not problems:
        return ""
    items = "".join(f"<li>{html.escape(p)}</li>" for p in problems)
    return f"Some parts of the link were left out:<ul>{items}</ul>"
