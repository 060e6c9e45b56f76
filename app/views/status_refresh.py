"""Refreshing a status dashboard: a switch for automatic reloads, a button to reload now
and the time of the last load; :func:`start_auto_refresh` runs the reloads of one
browser session (a periodic callback that ends with the session)."""

from __future__ import annotations

import time
from typing import Any

import panel as pn
from panel.io.callbacks import PeriodicCallback

from app.stores.status import ClusterStatusStore

__all__ = ["RefreshControls", "start_auto_refresh", "updated_text"]


def updated_text(updated: int) -> str:
    """When the data was loaded, for people (UTC)."""
    if not updated:
        return "Not loaded yet"
    return "Updated " + time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(updated))


def start_auto_refresh(store: ClusterStatusStore) -> PeriodicCallback | None:
    """Reload ``store`` every ``refresh_seconds`` while ``auto_refresh`` is on, for the
    current session only; ``None`` outside a session. The callback follows the store's
    switch and stops when the session ends."""
    if pn.state.curdoc is None:
        return None

    def tick() -> None:
        pn.state.execute(store.refresh)

    callback = pn.state.add_periodic_callback(
        tick, period=store.refresh_seconds * 1000, start=store.auto_refresh
    )

    def follow(event: Any) -> None:
        if event.new and not callback.running:
            callback.start()
        elif not event.new and callback.running:
            callback.stop()

    def stop(_context: Any) -> None:
        if callback.running:
            callback.stop()

    store.param.watch(follow, "auto_refresh")
    pn.state.on_session_destroyed(stop)
    return callback


class RefreshControls(pn.viewable.Viewer):
    """The auto-refresh switch, a reload button and the time of the last load."""

    def __init__(self, store: ClusterStatusStore, **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        self.switch = pn.widgets.Switch(
            value=store.auto_refresh, width=40, css_classes=["auto-refresh"]
        )
        self.button = pn.widgets.Button(
            label="Refresh", color="primary", width=90, css_classes=["refresh-now"]
        )
        self.label = pn.pane.Markdown(updated_text(store.updated), margin=(0, 10))
        self.switch.param.watch(lambda e: setattr(store, "auto_refresh", e.new), "value")
        self.button.on_click(self._reload)
        store.param.watch(self._update, ["updated", "auto_refresh"])
        self._layout = pn.Row(
            pn.pane.Markdown(f"Auto refresh ({store.refresh_seconds} s)", margin=(0, 5)),
            self.switch,
            self.button,
            self.label,
            align="center",
            name="refresh-controls",
        )

    async def _reload(self, _event: Any) -> None:
        await self.store.refresh()

    def _update(self, *_events: Any) -> None:
        self.label.object = updated_text(self.store.updated)
        self.switch.value = self.store.auto_refresh

    def __panel__(self) -> pn.Row:
        return self._layout
