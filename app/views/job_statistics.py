"""The statistics table: average, minimum and maximum of every series of the shown
metrics at one scope (a row per host, or per host and socket/core/... below node scope),
sortable by any column."""

from __future__ import annotations

from typing import Any

import pandas as pd  # type: ignore[import-untyped]
import panel as pn

from app.stores.job import JobStore
from cc_backend.domain.cluster import MetricScope
from cc_backend.domain.jobdata import SeriesStatistics

__all__ = ["STATS", "StatisticsTable", "statistics_frame"]

#: Rows of the table shown at once (a browser lays out only these).
PAGE_SIZE = 20
#: The statistics of each metric, in column order.
STATS = ("avg", "min", "max")


def statistics_frame(
    table: dict[str, list[SeriesStatistics]], units: dict[str, str] | None = None
) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """One row per series (``host``, ``id``) and a column ``<metric> <stat>`` per metric
    and statistic; and the column groups (``<metric> [<unit>]`` -> its columns)."""
    rows: dict[tuple[str, str], dict[str, float]] = {}
    groups: dict[str, list[str]] = {}
    for metric in sorted(table):
        columns = [f"{metric} {s}" for s in STATS]
        unit = (units or {}).get(metric, "")
        groups[f"{metric} [{unit}]" if unit else metric] = columns
        for entry in table[metric]:
            row = rows.setdefault((entry.hostname, entry.id or ""), {})
            for column, stat in zip(columns, STATS, strict=True):
                row[column] = getattr(entry, stat)
    index = sorted(rows, key=lambda key: (key[0], _numeric_id(key[1])))
    frame = pd.DataFrame(
        [{"host": host, "id": scope_id, **rows[(host, scope_id)]} for host, scope_id in index],
        columns=["host", "id", *(c for cols in groups.values() for c in cols)],
    )
    return frame, groups


def _numeric_id(value: str) -> tuple[int, str]:
    return (int(value), "") if value.isdigit() else (1 << 30, value)


class StatisticsTable(pn.viewable.Viewer):
    """A scope selector and the sortable table of the store's per-series statistics."""

    def __init__(self, store: JobStore, **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        self.scope = pn.widgets.Select(label="Scope", options=[MetricScope.NODE.value], width=160)
        self.table = pn.widgets.Tabulator(
            pd.DataFrame(), show_index=False, disabled=True, layout="fit_data_table",
            pagination="local", page_size=PAGE_SIZE, sizing_mode="stretch_width",
            frozen_columns=["host", "id"],
            css_classes=["statistics-table"],
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
        frame, groups = statistics_frame(store.scoped_stats, units)
        titles = {c: c.rsplit(" ", 1)[1] for cols in groups.values() for c in cols}
        if store.stats_scope is MetricScope.NODE:
            frame = frame.drop(columns=["id"])
        with pn.io.hold():
            self.table.param.update(value=frame, groups=groups, titles=titles)
        self.empty.object = "" if len(frame) else f"No statistics at {store.stats_scope} scope."
        self.empty.visible = not len(frame)

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
