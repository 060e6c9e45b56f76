"""One cell of the job view's metric grid: a scope selector titled with the metric's name
and unit (the scopes valid for the metric), and its plot (:mod:`app.views.job_plot_figure`).

A cell is made of Bokeh's own models (a ``Column`` of a ``Select``, a message and the
plot), not of Panel components: the grid puts all cells into one Bokeh layout, which a
browser lays out in a fraction of the time that separate Panel components take.

Choosing another scope fetches it; a scope the job has no data at falls back to node
scope with a message. A zoom on the time axis asks the store for finer data
(:meth:`JobStore.zoom`); the new samples replace the old ones in the same plot, so the
zoom stays where it is. Bokeh models are only changed under the session's document lock
(:meth:`locked`): from the asynchronous loads they are changed on the next tick.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import panel as pn
from bokeh.events import Event, RangesUpdate
from bokeh.models import Column, ColumnDataSource, Plot
from bokeh.models.ui import UIElement
from bokeh.models.widgets import Div, Select

from app.stores.job import JobStore
from app.views.job_plot_figure import (
    SharedAxes,
    band_data,
    line_data,
    metric_figure,
    scope_thresholds,
)
from cc_backend.domain.cluster import MetricScope
from cc_backend.domain.jobdata import JobMetric

__all__ = ["PLOT_HEIGHT", "MetricPlot"]

#: Height of a plot in pixels (its selector comes on top).
PLOT_HEIGHT = 220
_MESSAGE_STYLE: dict[str, str | None] = {
    "color": "#856404",
    "background": "rgba(255, 193, 7, .2)",
    "padding": "4px 8px",
}


class MetricPlot:
    """One metric of the store's job: ``cell`` (a Bokeh ``Column``) holds ``select``,
    ``message`` (only while there is one) and ``plot`` (when there is data)."""

    def __init__(
        self,
        store: JobStore,
        metric: str,
        axes: SharedAxes | None = None,
        width: int | None = None,
    ) -> None:
        """``axes``: tick rules shared with the page's other plots; ``width``: the cell's
        fixed width in pixels (None: as wide as its container)."""
        self.store = store
        self.metric = metric
        self.axes = axes or SharedAxes()
        self.width = width
        config = store.metric_configs.get(metric)
        unit = config.unit if config is not None else None
        self.unit = f"{unit.prefix or ''}{unit.base or ''}" if unit is not None else ""
        scopes: list[str | None] = [s.value for s in store.scopes_of(metric)]
        size: dict[str, Any] = {"width": width} if width else {"sizing_mode": "stretch_width"}
        self.select = Select(
            title=self._title(None),
            options=scopes,
            value=MetricScope.NODE.value if MetricScope.NODE.value in scopes else scopes[0],
            disabled=len(scopes) < 2,
            margin=(4, 8, 2, 8),
            **({"width": width - 16} if width else {"sizing_mode": "stretch_width"}),
        )
        self.message = Div(text="", visible=False, styles=_MESSAGE_STYLE, margin=(2, 8))
        self.plot: Plot | None = None
        self.source: ColumnDataSource | None = None
        self.cell = Column(
            children=[self.select],
            css_classes=["cc-metric-plot"],
            name=f"cell-{metric}",
            styles={"border": "1px solid rgba(128,128,128,.3)", "border-radius": ".4rem"},
            margin=4,
            **size,
        )
        self.select.on_change("value", self._on_select)
        self.draw()

    @property
    def scope(self) -> MetricScope:
        """The scope shown."""
        return MetricScope(self.select.value)

    @property
    def shown(self) -> JobMetric | None:
        """The data drawn now: the metric at the selected scope, if loaded."""
        found: JobMetric | None = self.store.data.get(self.metric, {}).get(self.scope)
        return found

    def _title(self, metric: JobMetric | None) -> str:
        text = self.metric + (f" [{self.unit}]" if self.unit else "")
        if metric is not None and metric.statistics_series is not None:
            text += f": min, median and max of {len(metric.series)} series"
        return text

    def _say(self, text: str) -> None:
        """Show ``text`` between the selector and the plot (empty: no message; the cell
        then holds no message at all, which spares a browser one element per plot)."""
        self.message.text = text
        self.message.visible = bool(text)
        shown: list[UIElement] = [self.select]
        if text:
            shown.append(self.message)
        if self.plot is not None:
            shown.append(self.plot)
        if self.cell.children != shown:
            self.cell.children = shown

    def draw(self) -> None:
        """Draw the selected scope anew (a message instead when it has no data)."""
        job, cluster, sub = self.store.job, self.store.cluster, self.store.subcluster
        metric, config = self.shown, self.store.metric_configs.get(self.metric)
        if job is None or metric is None or not metric.series:
            self.plot = self.source = None
            self._say(f"No data for {self.metric} at {self.scope} scope.")
            return
        limits = (
            scope_thresholds(job, cluster, sub, config, self.scope)
            if config is not None and cluster is not None and sub is not None
            else None
        )
        self.plot, self.source = metric_figure(
            self.metric,
            metric,
            self.scope,
            duration=self.store.running_duration(),
            limits=limits,
            lower_is_better=bool(config and config.lower_is_better),
            axes=self.axes,
            width=self.width - 4 if self.width else None,
            height=PLOT_HEIGHT,
        )
        self.plot.on_event(RangesUpdate, self._on_ranges)
        self.select.title = self._title(metric)
        self._say("")

    def update_samples(self) -> None:
        """Put newly loaded samples of the shown scope into the plot (zoom kept)."""
        metric = self.shown
        if metric is None or self.source is None:
            self.draw()
            return
        band = band_data(metric)
        if band is not None and "median" in self.source.data:
            self.source.data = band
        elif band is None and "xs" in self.source.data:
            self.source.data = line_data(metric, self.scope)
        else:
            self.draw()

    async def zoomed(self, start: float, end: float) -> None:
        """The time axis now shows ``start``..``end`` (seconds since the job's start):
        load finer data if the site's policy asks for it."""
        job = self.store.job
        if job is None:
            return
        begin = job.start_time
        if await self.store.zoom(self.metric, self.scope, begin + start, begin + end):
            self.locked(self.update_samples)

    async def select_scope(self, scope: MetricScope) -> None:
        """Show ``scope`` (fetching it first if needed); node scope with a message if the
        job has no data at ``scope``."""
        self.locked(lambda: self._set_scope(scope))
        if self.store.data.get(self.metric, {}).get(scope) is not None:
            self.locked(self.draw)
            return
        found = await self.store.load_scope(self.metric, scope)

        def show() -> None:
            if found is None:
                options: list[str | None] = [s.value for s in self.store.scopes_of(self.metric)]
                self.select.options = options
                self._set_scope(MetricScope.NODE)
                self.draw()
                self._say(f"{self.metric} has no data at {scope} scope for this job.")
            else:
                self.draw()

        self.locked(show)

    def _set_scope(self, scope: MetricScope) -> None:
        """Change the selector without treating it as the user's choice."""
        self._quiet = True
        try:
            self.select.value = scope.value
        finally:
            self._quiet = False

    @staticmethod
    def locked(change: Callable[[], None]) -> None:
        """Run ``change`` (of Bokeh models) under the document's lock: on the next tick
        in a session, now outside one."""
        pn.state.execute(change, schedule=True)

    # -- browser events ------------------------------------------------------------------

    _quiet = False

    def _on_select(self, _attr: str, _old: Any, new: Any) -> None:
        if self._quiet or not new:
            return

        async def select() -> None:
            await self.select_scope(MetricScope(new))

        pn.state.execute(select)

    def _on_ranges(self, event: Event) -> None:
        x0, x1 = getattr(event, "x0", None), getattr(event, "x1", None)
        if x0 is None or x1 is None:
            return
        start, end = float(x0), float(x1)

        async def zoom() -> None:
            await self.zoomed(start, end)

        pn.state.execute(zoom)
