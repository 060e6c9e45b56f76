"""The job list's controls: sorting (any column or footprint value), paging, the page
size, the short-job switch and the choice of plotted metrics (saved per cluster; they
are the compared metrics too, and sorting is off while jobs are compared).

Each control calls the store; the controls follow the store when it changes otherwise
(a click on a column header, a new filter). Nothing here fetches on its own.
"""

from __future__ import annotations

from typing import Any

import panel as pn

from app.filters import ITEMS_PER_PAGE, ListOptions, SortKey
from app.stores.jobs import JobListStore
from app.views.job_list import run_soon

__all__ = ["COLUMN_SORTS", "JobListControls", "Pager", "sort_choices"]

#: Columns the list can be sorted by: label -> job field.
COLUMN_SORTS: dict[str, str] = {
    "Start time": "startTime",
    "Duration": "duration",
    "Job id": "jobId",
    "User": "user",
    "Project": "project",
    "Cluster": "cluster",
    "Nodes": "numNodes",
    "HW threads": "numHWThreads",
    "Accelerators": "numAcc",
    "Energy": "energy",
    "State": "jobState",
    "Wall time": "walltime",
}


def sort_choices(store: JobListStore) -> dict[str, str]:
    """Sort choices: label -> :meth:`SortKey.text` value (columns, then footprint values)."""
    choices = dict(COLUMN_SORTS)
    for field in store.footprint_fields():
        choices[f"Footprint: {field.label}"] = SortKey(field.key, footprint=True).text()
    current = store.options.sort.text()
    if current not in choices.values():
        choices[current] = current
    return choices


def _sort_from_text(text: str, descending: bool) -> SortKey:
    if text.startswith("footprint:"):
        return SortKey(text.removeprefix("footprint:"), True, descending)
    return SortKey(text, False, descending)


class Pager(pn.viewable.Viewer):
    """Previous/next page, where the list is, and the page size."""

    def __init__(self, store: JobListStore, **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        self.previous = pn.widgets.Button(label="Previous", width=110, disabled=True)
        self.next = pn.widgets.Button(label="Next", width=110, disabled=True)
        self.where = pn.pane.HTML("", margin=(8, 10), name="page-position")
        self.size = pn.widgets.Select(
            options={f"{n} per page": n for n in ITEMS_PER_PAGE},
            value=store.options.items_per_page,
            width=130,
        )
        self.previous.on_click(self._previous)
        self.next.on_click(self._next)
        self.size.param.watch(self._resize, "value")
        self._layout = pn.Row(self.previous, self.where, self.next, self.size, name="pager")
        store.param.watch(self._update, ["jobs", "count", "has_next_page", "options"])
        self._update()

    def _update(self, *_events: Any) -> None:
        store = self.store
        options = store.options
        self.previous.disabled = options.page <= 1 or store.loading
        self.next.disabled = not store.has_next_page
        first = (options.page - 1) * options.items_per_page + 1
        last = first + len(store.jobs) - 1
        total = f" of {store.count:,}" if store.count is not None else ""
        self.where.object = (
            f"Jobs {first:,} to {last:,}{total} (page {options.page})" if store.jobs else ""
        )
        self.size.value = options.items_per_page
        self._layout.visible = bool(store.jobs) or options.page > 1

    async def _previous(self, _event: Any = None) -> None:
        await self.store.go_to_page(self.store.options.page - 1)

    async def _next(self, _event: Any = None) -> None:
        if self.store.has_next_page:
            await self.store.go_to_page(self.store.options.page + 1)

    def _resize(self, event: Any) -> None:
        options = self.store.options
        if event.new == options.items_per_page:
            return
        resized = ListOptions(options.sort, 1, int(event.new), options.hide_short)

        async def work() -> None:
            await self.store.update(options=resized)

        run_soon(work)

    def __panel__(self) -> pn.Row:
        return self._layout


class JobListControls(pn.viewable.Viewer):
    """Sorting, the short-job switch and the plotted metrics."""

    def __init__(self, store: JobListStore, **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        self.sort = pn.widgets.Select(label="Sort by", options=sort_choices(store), width=220)
        self.direction = pn.widgets.RadioButtonGroup(
            label="Order", options=["Descending", "Ascending"], color="light", width=200
        )
        self.hide_short = pn.widgets.Checkbox(label="Hide short running jobs", margin=(28, 10))
        self.metrics = pn.widgets.MultiChoice(
            label="Plotted metrics", options=[], value=[], width=360, max_items=8
        )
        self.save = pn.widgets.Button(
            label="Show and save", color="primary", margin=(24, 10), disabled=True
        )
        self.sort.param.watch(self._sorted, "value")
        self.direction.param.watch(self._sorted, "value")
        self.hide_short.param.watch(self._hide, "value")
        self.metrics.param.watch(self._metrics_changed, "value")
        self.save.on_click(self._save)
        self._following = False
        self._layout = pn.Row(
            self.sort, self.direction, self.hide_short, self.metrics, self.save, name="controls"
        )
        store.param.watch(
            self._follow, ["options", "clusters", "metrics", "settings", "query", "compare"]
        )
        self._follow()

    def _follow(self, *_events: Any) -> None:
        store = self.store
        sort = store.options.sort
        self._following = True  # the widgets show the store: no change to hand back
        try:
            self.sort.options = sort_choices(store)
            self.sort.value = sort.text()
            self.direction.value = "Descending" if sort.descending else "Ascending"
            self.sort.disabled = self.direction.disabled = store.compare  # as cc-backend's
            minutes = store.short_seconds // 60
            self.hide_short.label = f"Hide jobs started less than {minutes} min ago"
            self.hide_short.value = store.hiding_short
            self.metrics.options = store.available_metrics()
            self.metrics.value = [m for m in store.metrics if m in self.metrics.options]
            self.save.disabled = True
        finally:
            self._following = False

    def _sorted(self, _event: Any) -> None:
        if self._following:
            return
        sort = _sort_from_text(str(self.sort.value), self.direction.value == "Descending")
        options = self.store.options
        if sort == options.sort:
            return
        self._apply(ListOptions(sort, 1, options.items_per_page, options.hide_short))

    def _hide(self, event: Any) -> None:
        options = self.store.options
        if self._following or bool(event.new) == self.store.hiding_short:
            return
        self._apply(ListOptions(options.sort, 1, options.items_per_page, bool(event.new)))

    def _apply(self, options: ListOptions) -> None:
        async def work() -> None:
            await self.store.update(options=options)

        run_soon(work)

    def _metrics_changed(self, event: Any) -> None:
        if self._following:
            return
        self.save.disabled = list(event.new) == list(self.store.metrics)

    async def _save(self, _event: Any = None) -> None:
        await self.store.set_metrics(list(self.metrics.value), save=True)

    def __panel__(self) -> pn.Row:
        return self._layout
