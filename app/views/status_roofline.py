"""The status dashboards' rooflines: per subcluster, every node's ``flops_any`` over its
arithmetic intensity in the last minutes, under the subcluster's ceilings (the plot of
:mod:`app.views.roofline`)."""

from __future__ import annotations

from typing import Any

import panel as pn

from app.stores.status import ClusterStatusStore
from app.views.roofline import roofline_figure

__all__ = ["StatusRooflines"]


class StatusRooflines(pn.viewable.Viewer):
    """One roofline per subcluster of the store's cluster, redrawn after every load."""

    def __init__(self, store: ClusterStatusStore, **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        self._layout = pn.FlexBox(sizing_mode="stretch_width", name="status-rooflines")
        store.param.watch(self._update, ["revision"])
        self._update()

    def _update(self, *_events: Any) -> None:
        minutes = self.store.load_minutes
        panes = [
            pn.pane.Bokeh(
                roofline_figure(
                    r.ceilings,
                    r.points,
                    title=f"Roofline {r.subcluster}: nodes, last {minutes} min",
                    height=320,
                    name=f"roofline-{r.subcluster}",
                ),
                min_width=420,
                sizing_mode="stretch_width",
                styles={"flex": "1 1 420px"},
            )
            for r in self.store.rooflines
        ]
        self._layout.objects = panes

    def __panel__(self) -> pn.FlexBox:
        return self._layout
