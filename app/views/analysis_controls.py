"""Which metrics the analysis page plots: the histogram metrics and the scatter pairs.

Scatter pairs are written ``x/y`` in the selector; a new pair is added from two metric
selectors. Changes go to the store, which loads the footprints they need.
"""

from __future__ import annotations

from typing import Any

import panel as pn

from app.stores.analysis import AnalysisStore
from app.views.job_list import run_soon

__all__ = ["MetricSelection", "pair_label", "read_pair"]


def pair_label(pair: tuple[str, str]) -> str:
    """A scatter pair as the selector shows it: ``x/y``."""
    return f"{pair[0]}/{pair[1]}"


def read_pair(text: str) -> tuple[str, str] | None:
    """The pair of a label (``x/y``), None for anything else."""
    x, sep, y = text.partition("/")
    return (x, y) if sep and x and y and "/" not in y else None


class MetricSelection(pn.viewable.Viewer):
    """Selectors of the histogram metrics and the scatter pairs."""

    def __init__(self, store: AnalysisStore, **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        w = pn.widgets
        self.histograms = w.MultiChoice(label="Metric histograms", options=[], width=380)
        self.pairs = w.MultiChoice(label="Scatter plots (x/y)", options=[], width=380)
        self.new_x = w.Select(label="New scatter plot: x", options=[], width=170)
        self.new_y = w.Select(label="y", options=[], width=170)
        self.add = w.Button(label="Add", color="light", margin=(24, 5, 5, 5), width=70)
        self.histograms.param.watch(self._histograms_chosen, "value")
        self.pairs.param.watch(self._pairs_chosen, "value")
        self.add.on_click(self._add_pair)
        self._layout = pn.Card(
            pn.Row(self.histograms, self.pairs),
            pn.Row(self.new_x, self.new_y, self.add),
            title="Metrics",
            collapsed=True,
            sizing_mode="stretch_width",
            name="metric-selection",
        )
        store.param.watch(self._follow, ["clusters", "histogram_metrics", "scatter_pairs"])
        self._follow()

    def _follow(self, *_events: Any) -> None:
        store = self.store
        metrics = store.available_metrics()
        labels = [pair_label(p) for p in store.scatter_pairs]
        self.histograms.options = metrics
        self.histograms.value = list(store.histogram_metrics)
        self.pairs.options = labels
        self.pairs.value = labels
        self.new_x.options = metrics
        self.new_y.options = metrics

    def _histograms_chosen(self, event: Any) -> None:
        chosen = list(event.new)
        if chosen == self.store.histogram_metrics:
            return

        async def work() -> None:
            await self.store.update(histogram_metrics=chosen)

        run_soon(work)

    def _pairs_chosen(self, event: Any) -> None:
        pairs = [p for p in (read_pair(t) for t in event.new) if p is not None]
        if pairs == self.store.scatter_pairs:
            return

        async def work() -> None:
            await self.store.update(scatter_pairs=pairs)

        run_soon(work)

    async def _add_pair(self, _event: Any = None) -> None:
        x, y = self.new_x.value, self.new_y.value
        if not x or not y:
            return
        pairs = list(self.store.scatter_pairs)
        if (x, y) not in pairs:
            await self.store.update(scatter_pairs=[*pairs, (x, y)])

    def __panel__(self) -> pn.Card:
        return self._layout
