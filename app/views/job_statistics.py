"""The statistics table: average, minimum and maximum of every series of the shown
metrics at one scope: a row per metric and host (and socket/core/... id below node
scope), sortable by any column, with filters for the metric and the host in its header.

One row per series rather than a column per metric and statistic: a handful of columns
keep the table cheap to build on the server and to draw in a browser, and sorting by a
statistic after filtering for a metric ranks the hosts for that metric.
"""

from __future__ import annotations

from typing import Any

import pandas as pd  # type: ignore[import-untyped]
import panel as pn

from app.stores.job import JobStore
from app.views.messages import say
from cc_backend.domain.cluster import MetricScope
from cc_backend.domain.jobdata import SeriesStatistics

__all__ = ["COLUMNS", "PAGE_SIZE", "STATS", "StatisticsTable", "statistics_frame"]

#: Rows of the table shown at once (a browser lays out only these).
PAGE_SIZE = 20
#: Tabulator's format of the statistics: two decimals, thousands separated.
_NUMBER = {"type": "money", "decimal": ".", "thousand": ",", "symbol": "", "precision": 2}
#: The statistics of each series, in column order.
STATS = ("avg", "min", "max")
#: The table's columns.
COLUMNS = ("metric", "unit", "host", "id", *STATS)


def statistics_frame(
    table: dict[str, list[SeriesStatistics]], units: dict[str, str] | None = None
) -> pd.DataFrame:
    """One row per metric and series (:data:`COLUMNS`), by metric, host and scope id."""
    rows = [
        (metric, (units or {}).get(metric, ""), e.hostname, e.id or "", e.avg, e.min, e.max)
        for metric in sorted(table)
        for e in sorted(table[metric], key=lambda e: (e.hostname, _numeric_id(e.id or "")))
    ]
    return pd.DataFrame(rows, columns=list(COLUMNS))


def _numeric_id(value: str) -> tuple[int, str]:
    return (int(value), "") if value.isdigit() else (1 << 30, value)


class StatisticsTable(pn.viewable.Viewer):
    """A scope selector and the sortable table of the store's per-series statistics."""

    def __init__(self, store: JobStore, **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        self.scope = pn.widgets.Select(label="Scope", options=[MetricScope.NODE.value], width=160)
        self.table = pn.widgets.Tabulator(
            pd.DataFrame(columns=list(COLUMNS)), show_index=False, disabled=True,
            layout="fit_data_table", pagination="local", page_size=PAGE_SIZE,
            sizing_mode="stretch_width", formatters=dict.fromkeys(STATS, _NUMBER),
            text_align=dict.fromkeys(STATS, "right"),
            header_filters={
                "metric": {"type": "list", "valuesLookup": True, "clearable": True},
                "host": {"type": "input", "func": "like", "placeholder": "host"},
            },
            css_classes=["statistics-table"],
            # As at node scope (the first shown): a change of the hidden columns makes the
            # browser's table redraw at once, which fails while it is still being built.
            hidden_columns=["id"],
        )  # fmt: skip
        self._quiet = False
        self.empty = pn.pane.Markdown("Loading the statistics…")
        self._layout = pn.Column(self.scope, self.empty, self.table, sizing_mode="stretch_width")
        store.param.watch(self._update, ["scoped_stats", "stats_loaded"])
        store.param.watch(self._scopes, ["loaded", "selected"])
        self.scope.param.watch(self._scope_changed, "value")
        self._scopes()
        self._update()

    def _scopes(self, *_events: Any) -> None:
        self.scope.options = [s.value for s in self.store.table_scopes()] or [
            MetricScope.NODE.value
        ]

    def _update(self, *_events: Any) -> None:
        store = self.store
        if not store.stats_loaded:
            return
        units = {
            name: f"{c.unit.prefix or ''}{c.unit.base or ''}"
            for name, c in store.metric_configs.items()
        }
        frame = statistics_frame(store.scoped_stats, units)
        hidden = ["id"] if store.stats_scope is MetricScope.NODE else []
        with pn.io.hold():
            self.table.param.update(value=frame, hidden_columns=hidden)
        say(self.empty, "" if len(frame) else f"No statistics at {store.stats_scope} scope.")

    async def show_scope(self, scope: MetricScope) -> None:
        """Show the statistics at ``scope``."""
        if self.scope.value != scope.value:
            self._quiet = True
            try:
                self.scope.value = scope.value
            finally:
                self._quiet = False
        await self.store.load_statistics(scope)

    def _scope_changed(self, event: Any) -> None:
        if self._quiet or event.new is None:
            return

        async def show() -> None:
            await self.show_scope(MetricScope(event.new))

        pn.state.execute(show)

    def __panel__(self) -> pn.Column:
        return self._layout
