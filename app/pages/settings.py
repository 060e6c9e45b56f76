"""``/config``: the user's settings (plot options, metrics per cluster, API token) and,
for admins, users, roles, projects and the site notice (cc-backend's settings page)."""

from __future__ import annotations

import panel as pn

from app.context import PageContext
from app.stores.settings import AdminStore, SettingsStore
from app.views.messages import StoreStatus
from app.views.settings import (
    MetricSettings,
    Outcome,
    PlotSettings,
    TokenPanel,
    UserAdministration,
)
from cc_backend.domain.user import Role

__all__ = ["settings_page"]


def settings_page(context: PageContext) -> pn.Column:
    """The page; the admin part only for admins (the site checks every change again)."""
    store = SettingsStore(context.client, context.user)
    mine = pn.Column(
        StoreStatus(store),
        Outcome(store),
        pn.Row(PlotSettings(store), MetricSettings(store), sizing_mode="stretch_width"),
        TokenPanel(store),
        sizing_mode="stretch_width",
        name="user-settings",
    )
    tabs = pn.Tabs(("My settings", mine), sizing_mode="stretch_width", dynamic=False)
    loads = [store.load]
    if context.user.has_role(Role.ADMIN):
        admin = AdminStore(context.client, context.user)
        tabs.append(
            (
                "Administration",
                pn.Column(
                    StoreStatus(admin),
                    Outcome(admin),
                    UserAdministration(admin),
                    sizing_mode="stretch_width",
                ),
            )
        )
        loads.append(admin.load)
    if pn.state.curdoc is not None:
        for load in loads:
            pn.state.onload(load)
    return pn.Column(
        pn.pane.Markdown("## Settings"), tabs, sizing_mode="stretch_width", name="settings"
    )
