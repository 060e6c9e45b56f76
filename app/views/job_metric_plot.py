"""One cell of the job view's metric grid: the metric's name, a scope selector (the
scopes valid for the metric) and its plot (:mod:`app.views.job_plot_figure`).

A zoom on the time axis asks the store for finer data (:meth:`JobStore.zoom`); the new
samples replace the old ones in the same plot, so the zoom stays where it is. Another
scope is fetched when it is chosen; a scope the job has no data at falls back to node
scope with a message.
"""

from __future__ import annotations

from typing import Any

import panel as pn
from bokeh.events import Event, RangesUpdate
from bokeh.models import ColumnDataSource

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

__all__ = ["MetricPlot"]

_PLOT_HEIGHT = 220


class MetricPlot(pn.viewable.Viewer):
    """One metric of the store's job: its scope selector and its plot."""

    def __init__(
        self,
        store: JobStore,
        metric: str,
        axes: SharedAxes | None = None,
        width: int | None = None,
        **params: Any,
    ) -> None:
        """``axes``: tick rules shared with the page's other plots; ``width``: the cell's
        fixed width (None: the container's)."""
        super().__init__(**params)
        self.store = store
        self.metric = metric
        self.axes = axes or SharedAxes()
        #: Fixed pixel width of the cell (None: as wide as the container).
        self.width = width
        size: dict[str, Any] = {"width": width} if width else {"sizing_mode": "stretch_width"}
        config = store.metric_configs.get(metric)
        scopes = store.scopes_of(metric)
        unit = config.unit if config is not None else None
        self.unit = f"{unit.prefix or ''}{unit.base or ''}" if unit is not None else ""
        # The selector's label is the plot's title: fewer components to lay out.
        self.scope = pn.widgets.Select(
            label=self._title(None),
            options={s.value: s for s in scopes},
            value=MetricScope.NODE if MetricScope.NODE in scopes else scopes[0],
            disabled=len(scopes) < 2,
            margin=(4, 8, 0, 8),
            **({"width": width - 16} if width else {"sizing_mode": "stretch_width"}),
        )
        self.source: ColumnDataSource | None = None
        self._quiet = False
        self.message = pn.pane.Alert("", alert_type="warning", visible=False, margin=(4, 8))
        self.pane = pn.pane.Bokeh(None, **size, min_height=_PLOT_HEIGHT)
        self._layout = pn.Column(
            self.scope,
            self.pane,
            **size,
            css_classes=["cc-metric-plot"],
            name=f"plot-{metric}",
            styles={"border": "1px solid rgba(128,128,128,.3)", "border-radius": ".4rem"},
        )
        self.scope.param.watch(self._scope_changed, "value")
        self.draw()

    def _title(self, metric: JobMetric | None) -> str:
        text = self.metric + (f" [{self.unit}]" if self.unit else "")
        if metric is not None and metric.statistics_series is not None:
            text += f": min, median and max of {len(metric.series)} series"
        return text

    def _say(self, text: str) -> None:
        """Show ``text`` above the plot (empty: no message)."""
        self.message.object = text
        self.message.visible = bool(text)
        present = self.message in self._layout.objects
        if text and not present:
            self._layout.insert(1, self.message)
        elif not text and present:
            self._layout.remove(self.message)

    @property
    def shown(self) -> JobMetric | None:
        """The data drawn now: the metric at the selected scope, if loaded."""
        found: JobMetric | None = self.store.data.get(self.metric, {}).get(self.scope.value)
        return found

    def draw(self) -> None:
        """Draw the selected scope anew (a message instead when it has no data)."""
        job, cluster, sub = self.store.job, self.store.cluster, self.store.subcluster
        metric, config = self.shown, self.store.metric_configs.get(self.metric)
        if job is None or metric is None or not metric.series:
            self._say(f"No data for {self.metric} at {self.scope.value} scope.")
            self.pane.object = None
            self.source = None
            return
        limits = (
            scope_thresholds(job, cluster, sub, config, self.scope.value)
            if config is not None and cluster is not None and sub is not None
            else None
        )
        plot, self.source = metric_figure(
            self.metric,
            metric,
            self.scope.value,
            duration=self.store.running_duration(),
            limits=limits,
            lower_is_better=bool(config and config.lower_is_better),
            axes=self.axes,
            width=self.width - 4 if self.width else None,
            height=_PLOT_HEIGHT,
        )
        plot.on_event(RangesUpdate, self._on_ranges)
        self.scope.label = self._title(metric)
        self._say("")
        self.pane.object = plot

    def update_samples(self) -> None:
        """Put newly loaded samples of the shown scope into the plot (zoom kept)."""
        metric, job = self.shown, self.store.job
        if metric is None or job is None or self.source is None:
            self.draw()
            return
        band = band_data(metric)
        if band is not None and "median" in self.source.data:
            self.source.data = band
        elif band is None and "xs" in self.source.data:
            self.source.data = line_data(metric, self.scope.value)
        else:
            self.draw()

    async def zoomed(self, start: float, end: float) -> None:
        """The time axis now shows ``start``..``end`` (seconds since the job's start):
        load finer data if the site's policy asks for it."""
        job = self.store.job
        if job is None:
            return
        begin = job.start_time
        if await self.store.zoom(self.metric, self.scope.value, begin + start, begin + end):
            self.update_samples()

    def _on_ranges(self, event: Event) -> None:
        x0, x1 = getattr(event, "x0", None), getattr(event, "x1", None)
        if x0 is None or x1 is None:
            return
        start, end = float(x0), float(x1)

        async def zoom() -> None:
            await self.zoomed(start, end)

        pn.state.execute(zoom)

    async def select_scope(self, scope: MetricScope) -> None:
        """Show ``scope`` (fetching it first if needed); node scope with a message if the
        job has no data at ``scope``."""
        self._set_scope(scope)
        if self.store.data.get(self.metric, {}).get(scope) is None:
            found = await self.store.load_scope(self.metric, scope)
            if found is None:
                self._set_scope(
                    MetricScope.NODE, {s.value: s for s in self.store.scopes_of(self.metric)}
                )
                self.draw()
                self._say(f"{self.metric} has no data at {scope} scope for this job.")
                return
        self.draw()

    def _set_scope(self, scope: MetricScope, options: dict[str, MetricScope] | None = None) -> None:
        """Change the selector without treating it as the user's choice."""
        self._quiet = True
        try:
            if options is not None:
                self.scope.options = options
            self.scope.value = scope
        finally:
            self._quiet = False

    def _scope_changed(self, event: Any) -> None:
        if event.new is None or self._quiet:
            return

        async def select() -> None:
            await self.select_scope(event.new)

        pn.state.execute(select)

    def __panel__(self) -> pn.Column:
        return self._layout
