"""The job view's grid of metric plots, with the choice of metrics above it.

One :class:`~app.views.job_metric_plot.MetricPlot` per shown metric, in the order of the
selection, ``plots_per_row`` to a row (the user's setting). The grid is drawn again when
the store loads new grid data (its ``revision``); a plot's own scope changes and zooms
redraw only that plot.

The grid is one Bokeh ``Column`` of rows that stays in the page; a redraw builds the new
cells and replaces the column's children in one document change (under the document's
lock, on the next tick in a session). Replacing the column itself would make Panel walk
the new model graph several times over. A new grid is scheduled after the changes other
views make for the same load (the roofline): every later change of a model-valued property
makes Bokeh walk all models of the page, which costs ten times more with the plots in it.

Only the first :data:`FIRST_ROWS` rows are drawn with the page; the others are drawn when
the browser scrolls near them or has nothing else to do
(:class:`~app.views.pending_rows.PendingRows`), and stay drawn for later redraws. A
browser spends most of a job view's first render building and laying out plots, and the
first screen of the page shows the job's facts, footprint, roofline and the first row of
plots.
"""

from __future__ import annotations

from typing import Any

import panel as pn
from bokeh.models import Column, Row
from bokeh.models.ui import UIElement

from app.stores.job import JobStore
from app.views.job_metric_plot import PLOT_HEIGHT, MetricPlot
from app.views.job_plot_figure import SharedAxes
from app.views.pending_rows import PendingRows

__all__ = ["CELL_WIDTHS", "FIRST_ROWS", "ROW_HEIGHT", "MetricGrid"]

#: Pixel width of a plot by plots per row, for a page about 1,400 pixels wide. Plots of a
#: fixed size spare a browser the work of fitting each of them to the page's width.
CELL_WIDTHS = {1: 1300, 2: 650, 3: 430, 4: 322, 5: 256, 6: 212}
#: Rows of plots drawn with the page, before the browser asks for more.
FIRST_ROWS = 1
#: Height of a row of cells in a browser, pixels: the plot and, measured, its selector
#: with title, margins and border.
ROW_HEIGHT = PLOT_HEIGHT + 64


class MetricGrid(pn.viewable.Viewer):
    """The metric plots of the store's job and the metric selection."""

    def __init__(self, store: JobStore, **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        #: The plots drawn, by metric, in the order of the selection.
        self.plots: dict[str, MetricPlot] = {}
        self._axes = SharedAxes()
        self._rows: list[UIElement] = []  # built, in order; shown on the next tick
        self.choice = pn.widgets.MultiChoice(
            label="Metrics", options=[], value=[], sizing_mode="stretch_width", solid=False
        )
        self.apply = pn.widgets.Button(label="Show metrics", color="primary", width=140)
        self.apply.on_click(self._apply)
        #: All plots as one Bokeh layout (rows of cells), drawn by the browser at once.
        self.rows = Column(children=[], name="metric-grid")
        self.grid = pn.pane.Bokeh(self.rows, sizing_mode="stretch_width", name="metric-grid")
        self.pending = PendingRows(row_height=ROW_HEIGHT, visible=False)
        self.pending.param.watch(self._requested, ["requested"])
        self.spinner = pn.indicators.LoadingSpinner(value=True, size=30, visible=True)
        hint = pn.pane.HTML(
            "<small>Time since the job's start (h:mm). Drag across a plot to zoom in, "
            "double-click to zoom out; background: normal, caution and alert ranges.</small>",
            sizing_mode="stretch_width",
            margin=(0, 10),
        )
        self._layout = pn.Column(
            pn.Row(self.choice, self.apply, sizing_mode="stretch_width"),
            hint,
            self.spinner,
            self.grid,
            self.pending,
            sizing_mode="stretch_width",
            name="metrics",
        )
        # Precedence 1: after the other views watching ``revision`` (module docstring).
        store.param.watch(self._redraw, ["revision"], precedence=1)
        store.param.watch(self._loaded, ["loaded"])
        self._redraw()

    def _loaded(self, *_events: Any) -> None:
        self.spinner.visible = not self.store.loaded

    @property
    def row_count(self) -> int:
        """Rows of the whole grid, drawn or not."""
        return -(-len(self.store.selected) // self.store.plots_per_row)

    def _redraw(self, *_events: Any) -> None:
        store = self.store
        if store.job is None:
            return
        self._axes, self.plots, self._rows = SharedAxes(), {}, []
        self._add_rows(max(FIRST_ROWS, self.pending.requested))
        self.choice.param.update(options=sorted(store.metric_configs), value=list(store.selected))
        self.spinner.visible = False

    def show_rows(self, wanted: int) -> None:
        """Draw the rows up to ``wanted`` (counted from the first) not drawn yet."""
        if self.store.job is not None and len(self._rows) < min(wanted, self.row_count):
            self._add_rows(wanted)

    def _add_rows(self, wanted: int) -> None:
        """Build the plots of the rows after the drawn ones, up to ``wanted``, and show
        all rows built so far in one document change."""
        store, per_row = self.store, self.store.plots_per_row
        width = CELL_WIDTHS[per_row]
        end = min(wanted, self.row_count)
        for first in range(len(self._rows) * per_row, end * per_row, per_row):
            plots = [
                MetricPlot(store, name, self._axes, width)
                for name in store.selected[first : first + per_row]
            ]
            self.plots.update((plot.metric, plot) for plot in plots)
            self._rows.append(Row(children=[plot.cell for plot in plots]))
        rows, pending = list(self._rows), self.row_count - len(self._rows)

        # The new rows in one change: a browser lays the grid out once for them (adding
        # plots one by one makes it lay out the ones it has again, which costs more).
        def show() -> None:
            self.rows.children = rows
            self.pending.wait_for(len(rows), pending)

        MetricPlot.locked(show)

    def _requested(self, event: Any) -> None:
        self.show_rows(event.new)

    async def show_metrics(self, names: list[str]) -> None:
        """Show ``names`` (fetching what is not loaded yet) and keep them as the user's
        choice for the cluster."""
        self.spinner.visible = True
        try:
            await self.store.select_metrics(names, remember=True)
        finally:
            self.spinner.visible = False

    async def _apply(self, _event: Any) -> None:
        await self.show_metrics(list(self.choice.value))

    def __panel__(self) -> pn.Column:
        return self._layout
