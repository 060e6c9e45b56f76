"""The choice of a time window, shared by the systems views and the node view: the last
30 minutes to 24 hours, or fixed bounds (times in UTC, as the plots' axes show them)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import panel as pn

from app.stores.systems import TimeWindow

__all__ = ["CUSTOM", "RANGE_LABELS", "TimeRangeControl"]

#: The choice of fixed bounds.
CUSTOM = "custom"
#: The choices as the control lists them.
RANGE_LABELS: dict[str, str] = {
    "Last 30 minutes": "30m",
    "Last hour": "1h",
    "Last 4 hours": "4h",
    "Last 12 hours": "12h",
    "Last 24 hours": "24h",
    "Custom (UTC)": CUSTOM,
}
_FORMAT = "%Y-%m-%d %H:%M"


def _utc(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)


def _seconds(value: date) -> int:
    """Unix seconds of a time the control shows (in UTC; a date: its midnight)."""
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    return int(value.replace(tzinfo=UTC).timestamp())


class TimeRangeControl(pn.viewable.Viewer):
    """A named window or fixed bounds; ``apply(window)`` is called with the choice
    (for fixed bounds once "Apply" is pressed)."""

    def __init__(
        self, window: TimeWindow, apply: Callable[[TimeWindow], None], **params: Any
    ) -> None:
        super().__init__(**params)
        self._apply = apply
        start, stop = window.bounds()
        self.choice = pn.widgets.Select(
            label="Time range", options=RANGE_LABELS, value=window.range or CUSTOM, width=160
        )
        self.start = pn.widgets.DatetimeInput(label="From", value=_utc(start), format=_FORMAT,
                                              width=150)  # fmt: skip
        self.stop = pn.widgets.DatetimeInput(label="To", value=_utc(stop), format=_FORMAT,
                                             width=150)  # fmt: skip
        self.confirm = pn.widgets.Button(label="Apply", width=80, margin=(24, 5, 5, 5))
        self.custom = pn.Row(self.start, self.stop, self.confirm, visible=window.is_custom)
        self.choice.param.watch(self._chosen, "value")
        self.confirm.on_click(self._confirmed)
        self._layout = pn.Row(self.choice, self.custom, name="time-range")

    def _chosen(self, event: Any) -> None:
        if event.new == CUSTOM:
            self.custom.visible = True
            return
        self.custom.visible = False
        self._apply(TimeWindow(str(event.new)))

    def _confirmed(self, _event: Any = None) -> None:
        if self.start.value is None or self.stop.value is None:
            return
        self._apply(TimeWindow.fixed(_seconds(self.start.value), _seconds(self.stop.value)))

    def __panel__(self) -> pn.Row:
        return self._layout
