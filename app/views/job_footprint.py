"""The job's footprint: bars against the thresholds, and a polar plot of the statistics.

The bars are the job list's (:mod:`app.views.footprint`). A finished job has its
footprint in the database; a running one gets it from its statistics so far (each
footprint metric's configured statistic). The polar plot has one axis per footprint
metric of the subcluster and draws the job's maximum, average and minimum on each,
normalised to the metric's peak as it applies to the job (1.0 = peak). The polar plot is
built when its tab is shown (and again on new data while it is): a hidden tab costs the
page's first render nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import panel as pn
from bokeh.models import ColumnDataSource, Range1d
from bokeh.plotting import figure

from app.stores.job import JobStore
from app.views.footprint import FootprintView, job_thresholds
from cc_backend.domain.cluster import Cluster
from cc_backend.domain.job import Job
from cc_backend.domain.jobdata import MetricStatistics

__all__ = ["JobFootprint", "PolarAxis", "footprint_of", "polar_axes", "polar_figure"]

#: The statistics drawn on the polar plot, outermost first, with their colours.
POLAR_TRACES = (("max", "#dc3545"), ("avg", "#0d6efd"), ("min", "#20c997"))
#: Normalised values are drawn up to this radius (values far above the peak are cut).
MAX_RADIUS = 1.2


def footprint_of(job: Job, cluster: Cluster, statistics: dict[str, MetricStatistics]) -> Job:
    """``job`` with a footprint: its own, or one from ``statistics`` for the footprint
    metrics of its subcluster (a running job has none stored yet)."""
    if job.footprint:
        return job
    sub = job.sub_cluster or cluster.subcluster_of(job.resources[0].hostname).name
    values: dict[str, float] = {}
    for key in cluster.footprint_metrics(sub):
        metric, _, stat = key.rpartition("_")
        stats = statistics.get(metric)
        if stats is not None and not math.isnan(getattr(stats, stat)):
            values[key] = float(getattr(stats, stat))
    return job.model_copy(update={"footprint": values or None})


@dataclass(frozen=True)
class PolarAxis:
    """One metric of the polar plot: its statistics divided by its peak."""

    metric: str
    peak: float
    values: dict[str, float]


def polar_axes(
    job: Job, cluster: Cluster, statistics: dict[str, MetricStatistics]
) -> list[PolarAxis]:
    """An axis per footprint metric of the job's subcluster that has statistics."""
    sub = job.sub_cluster or cluster.subcluster_of(job.resources[0].hostname).name
    resolved = cluster.resolved_subcluster(sub)
    configs = {m.name: m for m in resolved.metrics or []}
    axes = []
    for name in resolved.footprint or []:
        config, stats = configs.get(name), statistics.get(name)
        if config is None or stats is None:
            continue
        peak = job_thresholds(job, cluster, config).peak
        if peak <= 0:
            continue
        values = {
            which: min(max(float(getattr(stats, which)) / peak, 0.0), MAX_RADIUS)
            for which, _ in POLAR_TRACES
            if not math.isnan(getattr(stats, which))
        }
        axes.append(PolarAxis(name, peak, values))
    return axes


def polar_figure(axes: list[PolarAxis], height: int = 330) -> figure:
    """A radar plot of ``axes`` (rings at a quarter, half, three quarters and the peak)."""
    plot = figure(
        height=height,
        sizing_mode="stretch_width",
        match_aspect=True,
        x_range=Range1d(start=-1.6, end=1.6),
        y_range=Range1d(start=-1.45, end=1.45),
        tools="save",
        toolbar_location=None,
        name="polar",
    )
    plot.axis.visible = False
    plot.grid.visible = False
    plot.outline_line_color = None
    count = len(axes)
    if count == 0:
        plot.text([0], [0], ["No footprint statistics"], text_align="center")
        return plot
    angles = np.pi / 2 - 2 * np.pi * np.arange(count) / count
    ring = np.linspace(0, 2 * np.pi, 73)
    for radius in (0.25, 0.5, 0.75, 1.0):
        plot.line(radius * np.cos(ring), radius * np.sin(ring), color="grey", alpha=0.35)
    plot.segment(np.zeros(count), np.zeros(count), np.cos(angles), np.sin(angles),
                 color="grey", alpha=0.35)  # fmt: skip
    labels = ColumnDataSource(
        {"x": 1.22 * np.cos(angles), "y": 1.22 * np.sin(angles), "text": [a.metric for a in axes]}
    )
    plot.text("x", "y", "text", source=labels, text_align="center", text_baseline="middle",
              text_font_size="9pt")  # fmt: skip
    for which, colour in POLAR_TRACES:
        radii = np.array([a.values.get(which, 0.0) for a in axes])
        plot.patch(
            np.append(radii * np.cos(angles), radii[0] * np.cos(angles[0])),
            np.append(radii * np.sin(angles), radii[0] * np.sin(angles[0])),
            fill_color=colour, fill_alpha=0.12, line_color=colour, line_width=2,
            legend_label=which,
        )  # fmt: skip
    plot.legend.location = "top_left"
    plot.legend.background_fill_alpha = 0.4
    plot.legend.label_text_font_size = "8pt"
    return plot


class JobFootprint(pn.viewable.Viewer):
    """Tabs: the footprint bars and the polar plot of the store's job."""

    def __init__(self, store: JobStore, **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        self.bars = FootprintView()
        self.polar = pn.pane.Bokeh(None, sizing_mode="stretch_width", min_height=330)
        self.tabs = pn.Tabs(
            ("Footprint", pn.Column(self.bars, sizing_mode="stretch_width", name="job-footprint")),
            ("Polar", self.polar),
            sizing_mode="stretch_width",
            dynamic=True,  # only the shown tab is drawn in the browser
        )
        store.param.watch(self._update, ["job", "cluster", "statistics"])
        self.tabs.param.watch(self._draw_polar, ["active"])
        self._update()

    def _update(self, *_events: Any) -> None:
        job, cluster = self.store.job, self.store.cluster
        if job is None or cluster is None:
            self.bars.show(None, None)
            return
        self.bars.show(footprint_of(job, cluster, self.store.statistics), cluster)
        self._drawn = False
        self._draw_polar()

    _drawn = False

    def _draw_polar(self, *_events: Any) -> None:
        """Draw the polar plot if its tab is shown and it is not drawn for this data."""
        job, cluster = self.store.job, self.store.cluster
        if self._drawn or self.tabs.active != 1 or job is None or cluster is None:
            return
        self.polar.object = polar_figure(polar_axes(job, cluster, self.store.statistics))
        self._drawn = True

    def __panel__(self) -> pn.Tabs:
        return self.tabs
