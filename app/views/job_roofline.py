"""The job's roofline: its ``flops_any`` and ``mem_bw`` time steps under its subcluster's
ceilings (see :mod:`app.views.roofline`), drawn once the grid data is loaded.

In a session the figure is built on the next tick of the event loop, before the metric
grid's new plots go into the page (see :mod:`app.views.job_metric_grid`); outside a
session it is drawn at once. It is drawn again only when its data changed (a new load of
the grid that brings other metrics or scopes keeps it). The figure goes into a Bokeh
``Column`` that stays in the page (``box``), one document change, rather than replacing
the pane's object, which makes Panel walk the whole page again.
"""

from __future__ import annotations

from typing import Any

import panel as pn
from bokeh.models import Column
from bokeh.plotting import figure

from app.stores.job import JobStore
from app.views.messages import say
from app.views.roofline import ceilings_of, job_points, roofline_figure
from cc_backend.domain.cluster import MetricScope

__all__ = ["JobRoofline"]


class JobRoofline(pn.viewable.Viewer):
    """A roofline plot of the store's job (a message when the metrics are missing)."""

    def __init__(self, store: JobStore, **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        #: The shown figure (None before the data is loaded), the only child of ``box``.
        self.figure: figure | None = None
        #: What the shown figure was drawn from (subcluster, flops and bandwidth series).
        self._drawn: tuple[object, object, object] | None = None
        self.box = Column(children=[], sizing_mode="stretch_width", name="roofline-box")
        self.pane = pn.pane.Bokeh(self.box, sizing_mode="stretch_width", min_height=360)
        self.message = pn.pane.Markdown("Loading the roofline…")
        self._layout = pn.Column(self.message, self.pane, sizing_mode="stretch_width",
                                 name="roofline")  # fmt: skip
        store.param.watch(self._scheduled, ["revision"])
        self._update()

    def _scheduled(self, *_events: Any) -> None:
        pn.state.execute(self._update, schedule=True)  # at once outside a session

    def _update(self) -> None:
        sub = self.store.subcluster
        if sub is None:
            return
        flops = self.store.data.get("flops_any", {}).get(MetricScope.NODE)
        mem_bw = self.store.data.get("mem_bw", {}).get(MetricScope.NODE)
        if self._drawn is not None and all(
            a is b for a, b in zip(self._drawn, (sub, flops, mem_bw), strict=True)
        ):
            return
        self._drawn = (sub, flops, mem_bw)
        points = job_points(flops, mem_bw)
        if flops is None or mem_bw is None:
            say(self.message, "No roofline: the job has no `flops_any` or `mem_bw` data.")
        elif not len(points):
            say(self.message, "No roofline: no time step with flops and memory bandwidth.")
        else:
            say(self.message, "")
        self.figure = roofline_figure(ceilings_of(sub), points, title=f"Roofline ({sub.name})")
        self.box.children = [self.figure]

    def __panel__(self) -> pn.Column:
        return self._layout
