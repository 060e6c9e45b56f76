"""The job list's compare button and its "clear selection" button, as cc-backend's job
list has them.

The compare button reads "Compare N jobs" with jobs ticked, "Compare jobs" without (all
jobs matching the filters), "Compare disabled" when no job is ticked and too many jobs
match (:data:`~app.stores.job_compare.COMPARE_LIMIT`), and "Back to the list" while the
comparison is shown. Nothing here fetches: the buttons call the job list's store.
"""

from __future__ import annotations

from typing import Any

import panel as pn

from app.stores.job_compare import COMPARE_LIMIT
from app.stores.jobs import JobListStore
from app.views.job_list import run_soon

__all__ = ["CompareButtons", "compare_label"]


def compare_label(store: JobListStore) -> str:
    """The compare button's text for the store's state."""
    if store.compare:
        return "Back to the list"
    if store.selected:
        count = len(store.selected)
        return f"Compare {count} job{'s' if count != 1 else ''}"
    return "Compare jobs" if store.may_compare else "Compare disabled"


class CompareButtons(pn.viewable.Viewer):
    """The compare (or back) button and the button that clears the ticked jobs."""

    def __init__(self, store: JobListStore, **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        self.compare = pn.widgets.Button(label="Compare jobs", color="primary", width=170)
        self.clear = pn.widgets.Button(label="Clear selection", color="warning", width=140)
        self.compare.on_click(self._compare)
        self.clear.on_click(self._clear)
        self._layout = pn.Row(self.compare, self.clear, name="compare-buttons", margin=(0, 5))
        store.param.watch(self._follow, ["selected", "compare", "count", "loaded"])
        self._follow()

    def _follow(self, *_events: Any) -> None:
        store = self.store
        self.compare.param.update(
            label=compare_label(store),
            disabled=not (store.compare or store.may_compare),
            description=(
                None
                if store.compare or store.may_compare
                else f"Tick jobs, or narrow the filters to fewer than {COMPARE_LIMIT:,} jobs"
            ),
        )
        self.clear.visible = bool(store.selected) and not store.compare

    def press(self) -> None:
        """What a click on the compare button does: show the comparison, or the list
        again."""
        if self.store.compare:
            self.store.compare = False
        elif self.store.may_compare:
            run_soon(self.store.compare_jobs)

    def _compare(self, _event: Any = None) -> None:
        self.press()

    def _clear(self, _event: Any = None) -> None:
        run_soon(self.store.clear_selection)

    def __panel__(self) -> pn.Row:
        return self._layout
