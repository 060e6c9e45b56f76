"""Messages inside a page: loading and error state of a store, 403 and 404 content."""

from __future__ import annotations

from typing import Any

import panel as pn

from app.stores.base import Store

__all__ = ["StoreStatus", "forbidden", "not_found", "say"]


def say(pane: pn.pane.Markdown, text: str) -> None:
    """Show ``text`` in ``pane``; hide the pane for an empty text.

    A message that goes away is hidden with its old text rather than emptied: a pane's new
    text resends its style sheets, which are Bokeh models, so Bokeh walks every model of
    the page again (~50 ms in a job view with its metric plots).
    """
    if text:
        pane.object = text
    pane.visible = bool(text)


def forbidden(text: str = "Your roles do not allow you to open this page.") -> pn.Column:
    """The content of a page the user may not see (403)."""
    return pn.Column(
        pn.pane.Markdown("## 403 Forbidden"),
        pn.pane.Alert(text, alert_type="danger"),
        name="forbidden",
        sizing_mode="stretch_width",
    )


def not_found(text: str) -> pn.Column:
    """The content of a page whose object does not exist or is hidden (404)."""
    return pn.Column(
        pn.pane.Markdown("## Not found"),
        pn.pane.Alert(text, alert_type="warning"),
        name="not-found",
        sizing_mode="stretch_width",
    )


class StoreStatus(pn.viewable.Viewer):
    """A store's error message as an alert, and a spinner while it loads."""

    def __init__(self, store: Store, **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        self._alert = pn.pane.Alert(
            "", alert_type="danger", visible=False, sizing_mode="stretch_width"
        )
        self._spinner = pn.indicators.LoadingSpinner(value=True, size=24, visible=False)
        self._layout = pn.Row(self._spinner, self._alert, sizing_mode="stretch_width")
        store.param.watch(self._update, ["error", "loading"])
        self._update()

    def _update(self, *_events: Any) -> None:
        self._alert.object = self.store.error
        self._alert.visible = bool(self.store.error)
        self._spinner.visible = self.store.loading

    def __panel__(self) -> pn.Row:
        return self._layout
