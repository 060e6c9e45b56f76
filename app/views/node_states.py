"""The node view's history of scheduler states: a band over the window, coloured by the
state the node was in (as last reported), with the state on hover and a legend.

:func:`state_segments` turns the reports into intervals: each report's state holds until
the next report; the state at the window's start is that of the last report before it;
time before the first known report is left blank.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

import panel as pn
from bokeh.models import ColumnDataSource, HoverTool, LinearAxis, Plot, Quad, Range1d

from app.stores.node import NodeStore
from app.views.node_plot_figure import NodeAxes
from cc_backend.services.node_overview import StateChange

__all__ = ["STATE_COLOURS", "StateHistory", "StateSegment", "state_segments"]

#: A colour per scheduler state (light enough for both themes).
STATE_COLOURS: dict[str, str] = {
    "allocated": "#0d6efd",
    "mixed": "#6f42c1",
    "idle": "#20c997",
    "reserved": "#ffc107",
    "down": "#dc3545",
    "unknown": "#6c757d",
}
_OTHER = "#adb5bd"


@dataclass(frozen=True)
class StateSegment:
    """The node was in ``state`` from ``start`` to ``stop`` (Unix seconds)."""

    start: int
    stop: int
    state: str


def state_segments(history: Sequence[StateChange], start: int, stop: int) -> list[StateSegment]:
    """The intervals of the window ``start``..``stop`` in which the node was in one state
    (see the module docstring); neighbouring reports of one state are merged."""
    ordered = sorted(history, key=lambda c: c.time)
    segments: list[StateSegment] = []
    for index, change in enumerate(ordered):
        end = ordered[index + 1].time if index + 1 < len(ordered) else stop
        low, high = max(change.time, start), min(end, stop)
        if high <= low:
            continue
        if segments and segments[-1].state == change.state and segments[-1].stop == low:
            segments[-1] = StateSegment(segments[-1].start, high, change.state)
        else:
            segments.append(StateSegment(low, high, change.state))
    return segments


class StateHistory(pn.viewable.Viewer):
    """The history band of the store's node (see the module docstring)."""

    def __init__(self, store: NodeStore, **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        self.segments: list[StateSegment] = []
        self.plot = pn.pane.Bokeh(None, sizing_mode="stretch_width", name="state-history")
        self.legend = pn.pane.HTML("", margin=(0, 10), name="state-legend")
        self._layout = pn.Column(self.legend, self.plot, sizing_mode="stretch_width",
                                 name="node-states")  # fmt: skip
        store.param.watch(self._redraw, ["revision"])
        self._redraw()

    def _redraw(self, *_events: Any) -> None:
        store = self.store
        if not store.revision:
            return
        start, stop = store.window
        self.segments = state_segments(store.history, start, stop)
        if not self.segments:
            self.legend.object = "<i>The scheduler reported no state of this node.</i>"
            self.plot.object = None
            return
        seen = dict.fromkeys(s.state for s in self.segments)
        self.legend.object = " ".join(
            f'<span style="color:{STATE_COLOURS.get(s, _OTHER)}">■</span> {escape(s)}' for s in seen
        )
        self.plot.object = self._figure(start, stop)

    def _figure(self, start: int, stop: int) -> Plot:
        axes = NodeAxes()
        low, high = start * 1000.0, max(stop, start + 1) * 1000.0
        plot = Plot(title=None, height=70, sizing_mode="stretch_width", toolbar_location=None,
                    x_range=Range1d(start=low, end=high), y_range=Range1d(start=0, end=1),
                    min_border_left=45, outline_line_alpha=0.3)  # fmt: skip
        time_axis: dict[str, Any] = {"ticker": axes.time_ticker, "formatter": axes.time_formatter}
        plot.add_layout(LinearAxis(**time_axis), "below")
        source = ColumnDataSource({
            "left": [s.start * 1000.0 for s in self.segments],
            "right": [s.stop * 1000.0 for s in self.segments],
            "state": [s.state for s in self.segments],
            "colour": [STATE_COLOURS.get(s.state, _OTHER) for s in self.segments],
        })  # fmt: skip
        quads = plot.add_glyph(source, Quad(left="left", right="right", bottom=0, top=1,
                                            fill_color="colour", line_alpha=0))  # fmt: skip
        plot.add_tools(HoverTool(renderers=[quads], tooltips=[("state", "@state")]))
        return plot

    def __panel__(self) -> pn.Column:
        return self._layout
