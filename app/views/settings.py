"""The settings page's views: plot options, metrics per cluster, API tokens, and for
admins users, roles, projects and the site notice.

Every form writes through its store (:class:`~app.stores.settings.SettingsStore`,
:class:`~app.stores.settings.AdminStore`), which asks the site; outcomes show as the
store's ``message`` (:class:`Outcome`) and failures as its ``error``.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Coroutine
from typing import Any

import pandas as pd  # type: ignore[import-untyped]
import panel as pn

from app.stores.settings import (
    COLOR_BACKGROUND,
    COLOR_SCHEME,
    COLOR_SCHEMES,
    HISTOGRAM_METRICS,
    JOB_LIST_METRICS,
    JOB_VIEW_PLOT_METRICS,
    LINE_WIDTH,
    PLOTS_PER_ROW,
    USE_PAGING,
    AdminStore,
    SettingsStore,
    scoped_key,
)
from app.stores.user import footprint_metrics
from cc_backend.services.user_admin import NewUser, UserChange

__all__ = [
    "PAGING_MODES",
    "MetricSettings",
    "Outcome",
    "PlotSettings",
    "TokenPanel",
    "UserAdministration",
    "color_swatches",
    "scheme_name",
    "users_frame",
]

#: How the job list shows more jobs: setting value of ``jobList_usePaging`` by label.
PAGING_MODES = {"Pages": True, "Continuous scroll": False}
#: The colour scheme choice for a stored list that is none of the named ones.
CUSTOM = "Custom"
#: Actions of the user edit form -> the :class:`UserChange` field they fill.
USER_CHANGES = {
    "Add role": "add_role",
    "Remove role": "remove_role",
    "Add project": "add_project",
    "Remove project": "remove_project",
}


def _run(action: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run a form's action on the server's event loop (a button's click handler)."""
    pn.state.execute(action)


def scheme_name(colors: Any) -> str:
    """The name of the named scheme ``colors`` is, else :data:`CUSTOM`."""
    for name, scheme in COLOR_SCHEMES.items():
        if list(colors or []) == scheme:
            return name
    return CUSTOM


def color_swatches(colors: list[str]) -> str:
    """The colours of a scheme as a row of small squares."""
    return "".join(
        f'<span title="{html.escape(c)}" style="display:inline-block;width:1.4rem;'
        f'height:1.4rem;margin-right:.2rem;border-radius:.2rem;background:{html.escape(c)}">'
        "</span>"
        for c in colors
    )


class Outcome(pn.viewable.Viewer):
    """A store's ``message`` as a success alert (hidden while empty)."""

    def __init__(self, store: Any, **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        self._alert = pn.pane.Alert("", alert_type="success", visible=False, name="outcome")
        store.param.watch(self._update, ["message"])
        self._update()

    def _update(self, *_events: Any) -> None:
        self._alert.object = html.escape(self.store.message)
        self._alert.visible = bool(self.store.message)

    def __panel__(self) -> pn.pane.Alert:
        return self._alert


class PlotSettings(pn.viewable.Viewer):
    """Plots per row, line width, colour scheme, threshold backgrounds and the job
    list's paging mode; "Save" stores the values that changed."""

    def __init__(self, store: SettingsStore, **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        self.plots_per_row = pn.widgets.IntInput(label="Plots per row", start=1, end=10, width=150)
        self.line_width = pn.widgets.IntInput(label="Line width", start=1, end=10, width=150)
        self.scheme = pn.widgets.Select(
            label="Colour scheme", options=[*COLOR_SCHEMES, CUSTOM], width=180
        )
        self.swatches = pn.pane.HTML("", name="swatches")
        self.background = pn.widgets.Checkbox(label="Colour plot backgrounds by thresholds")
        self.paging = pn.widgets.RadioButtonGroup(
            label="Job list", options=PAGING_MODES, color="primary", variant="outline"
        )
        self.save_button = pn.widgets.Button(label="Save plot options", color="primary")
        self.save_button.on_click(lambda _event: _run(self.save))
        self.scheme.param.watch(self._show_scheme, "value")
        store.param.watch(self._update, ["config"])
        self._layout = pn.Column(
            pn.pane.Markdown("### Plot options"),
            pn.Row(self.plots_per_row, self.line_width, self.scheme),
            self.swatches,
            self.background,
            pn.pane.Markdown("Job list: pages or continuous scroll"),
            self.paging,
            self.save_button,
            name="plot-settings",
        )
        self._update()

    def _update(self, *_events: Any) -> None:
        value = self.store.value
        self.plots_per_row.value = int(value(PLOTS_PER_ROW))
        self.line_width.value = int(value(LINE_WIDTH))
        self.scheme.value = scheme_name(value(COLOR_SCHEME))
        self.background.value = bool(value(COLOR_BACKGROUND))
        self.paging.value = bool(value(USE_PAGING))
        self._show_scheme()

    def _show_scheme(self, *_events: Any) -> None:
        colors = COLOR_SCHEMES.get(self.scheme.value) or list(self.store.value(COLOR_SCHEME))
        self.swatches.object = color_swatches(colors)

    def chosen(self) -> dict[str, Any]:
        """The settings as the form shows them (a custom scheme stays as stored)."""
        scheme = COLOR_SCHEMES.get(self.scheme.value) or self.store.value(COLOR_SCHEME)
        return {
            PLOTS_PER_ROW: self.plots_per_row.value,
            LINE_WIDTH: self.line_width.value,
            COLOR_SCHEME: scheme,
            COLOR_BACKGROUND: self.background.value,
            USE_PAGING: self.paging.value,
        }

    async def save(self) -> None:
        """Store every setting whose value differs from the effective one."""
        changed = {k: v for k, v in self.chosen().items() if v != self.store.value(k)}
        for key, value in changed.items():
            if not await self.store.save(key, value):
                return
        self.store.message = "Plot options saved." if changed else "Nothing changed."

    def __panel__(self) -> pn.Column:
        return self._layout


class MetricSettings(pn.viewable.Viewer):
    """Per cluster: the metrics plotted in the job list and the job view, and the
    footprint metrics histogrammed in the user view."""

    def __init__(self, store: SettingsStore, **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        self.cluster = pn.widgets.Select(label="Cluster", options=[], width=180)
        self.job_list = pn.widgets.MultiChoice(label="Job list metrics", options=[])
        self.job_view = pn.widgets.MultiChoice(
            label="Job view metrics", options=[], placeholder="All of the cluster's metrics"
        )
        self.histograms = pn.widgets.MultiChoice(label="User view histograms", options=[])
        self.save_button = pn.widgets.Button(label="Save metrics", color="primary")
        self.save_button.on_click(lambda _event: _run(self.save))
        self.cluster.param.watch(self._update, "value")
        store.param.watch(self._clusters, ["clusters"])
        self._layout = pn.Column(
            pn.pane.Markdown("### Metrics per cluster"),
            self.cluster,
            self.job_list,
            self.job_view,
            self.histograms,
            self.save_button,
            sizing_mode="stretch_width",
            name="metric-settings",
        )
        self._clusters()

    def _clusters(self, *_events: Any) -> None:
        names = [c.name for c in self.store.clusters]
        self.cluster.options = names
        if names and self.cluster.value not in names:
            self.cluster.value = names[0]
        self._update()

    def _update(self, *_events: Any) -> None:
        name = self.cluster.value or ""
        cluster = next((c for c in self.store.clusters if c.name == name), None)
        metrics = sorted({m.name for m in cluster.metrics}) if cluster is not None else []
        footprints = footprint_metrics(self.store.clusters, name) if cluster is not None else []
        for widget, key, options in (
            (self.job_list, JOB_LIST_METRICS, metrics),
            (self.job_view, JOB_VIEW_PLOT_METRICS, metrics),
            (self.histograms, HISTOGRAM_METRICS, footprints),
        ):
            widget.options = options
            current = self.store.value(key, name) or []
            widget.value = [m for m in current if m in options]

    async def save(self) -> None:
        """Store the three selections for the chosen cluster."""
        name = self.cluster.value
        if not name:
            return
        for widget, key in (
            (self.job_list, JOB_LIST_METRICS),
            (self.job_view, JOB_VIEW_PLOT_METRICS),
            (self.histograms, HISTOGRAM_METRICS),
        ):
            if not await self.store.save(scoped_key(key, name), list(widget.value)):
                return
        self.store.message = f"Metrics for {name} saved."

    def __panel__(self) -> pn.Column:
        return self._layout


class TokenPanel(pn.viewable.Viewer):
    """For users with the ``api`` role: generate an API token, shown once."""

    def __init__(self, store: SettingsStore, **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        self.button = pn.widgets.Button(label="Generate API token", color="primary")
        self.button.on_click(lambda _event: _run(store.generate_token))
        self.token = pn.widgets.TextAreaInput(
            label="Your new API token (shown only once)",
            value="",
            disabled=True,
            visible=False,
            rows=3,
            sizing_mode="stretch_width",
        )
        store.param.watch(self._update, ["token"])
        self._layout = pn.Column(
            pn.pane.Markdown(
                "### API token\nA token lets scripts and notebooks use the API as you, with "
                "your roles. It is shown once: copy it now."
            ),
            self.button,
            self.token,
            sizing_mode="stretch_width",
            visible=store.may_generate_token,
            name="token",
        )

    def _update(self, *_events: Any) -> None:
        self.token.value = self.store.token
        self.token.visible = bool(self.store.token)

    def __panel__(self) -> pn.Column:
        return self._layout


def users_frame(store: AdminStore) -> pd.DataFrame:
    """The users as the admin table shows them."""
    return pd.DataFrame.from_records(
        [
            {
                "Username": u.username,
                "Name": u.name,
                "Email": u.email,
                "Roles": ", ".join(sorted(r.value for r in u.roles)),
                "Projects": ", ".join(u.projects),
            }
            for u in store.users
        ],
        columns=["Username", "Name", "Email", "Roles", "Projects"],
    )


class UserAdministration(pn.viewable.Viewer):
    """For admins: the users, forms to create, change and delete users, and the site
    notice."""

    def __init__(self, store: AdminStore, **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        self.table = pn.widgets.Tabulator(
            users_frame(store),
            disabled=True,
            show_index=False,
            selectable=False,
            pagination="local",
            page_size=20,
            layout="fit_data_stretch",
            sizing_mode="stretch_width",
        )
        self.new = {
            "username": pn.widgets.TextInput(label="Username", width=180),
            "password": pn.widgets.PasswordInput(label="Password", width=180),
            "name": pn.widgets.TextInput(label="Full name", width=180),
            "email": pn.widgets.TextInput(label="Email", width=220),
            "role": pn.widgets.Select(label="Role", options=store.roles, value="user", width=140),
            "project": pn.widgets.TextInput(
                label="Project (managers)", placeholder="managers only", width=180
            ),
        }
        create = pn.widgets.Button(label="Create user", color="primary")
        create.on_click(lambda _event: _run(self.create_user))
        self.edit_user = pn.widgets.Select(label="User", options=[], width=180)
        self.edit_action = pn.widgets.Select(label="Change", options=list(USER_CHANGES), width=160)
        self.edit_value = pn.widgets.TextInput(label="Role or project", width=180)
        edit = pn.widgets.Button(label="Apply change", color="primary")
        edit.on_click(lambda _event: _run(self.change_user))
        self.delete_user = pn.widgets.Select(label="User", options=[], width=180)
        self.delete_confirm = pn.widgets.Checkbox(label="Delete this user and their settings")
        delete = pn.widgets.Button(label="Delete user", color="danger")
        delete.on_click(lambda _event: _run(self.delete))
        self.notice = pn.widgets.TextAreaInput(
            label="Notice on the start page (empty: none)", rows=3, sizing_mode="stretch_width"
        )
        save_notice = pn.widgets.Button(label="Save notice", color="primary")
        save_notice.on_click(lambda _event: _run(self.save_notice))
        store.param.watch(self._update, ["users", "notice"])
        self._layout = pn.Column(
            pn.pane.Markdown("### Users"),
            self.table,
            pn.pane.Markdown("#### Create a user"),
            pn.FlexBox(*self.new.values(), create, align_items="flex-end"),
            pn.pane.Markdown("#### Roles and projects"),
            pn.Row(self.edit_user, self.edit_action, self.edit_value, edit),
            pn.pane.Markdown("#### Delete a user"),
            pn.Row(self.delete_user, pn.Column(self.delete_confirm, delete)),
            pn.pane.Markdown("### Notice"),
            self.notice,
            save_notice,
            sizing_mode="stretch_width",
            name="user-administration",
        )
        self._update()

    def _update(self, *_events: Any) -> None:
        self.table.value = users_frame(self.store)
        names = [u.username for u in self.store.users]
        self.edit_user.options = names
        self.delete_user.options = [n for n in names if n != self.store.user.username]
        self.notice.value = self.store.notice

    async def create_user(self) -> None:
        """Create the user the form describes; the form is cleared on success."""
        form = NewUser(**{key: str(widget.value or "") for key, widget in self.new.items()})
        if await self.store.create_user(form):
            for key, widget in self.new.items():
                if key != "role":
                    widget.value = ""

    async def change_user(self) -> None:
        """Apply the chosen change to the chosen user."""
        field = USER_CHANGES[self.edit_action.value]
        change = UserChange(**{field: (self.edit_value.value or "").strip()})
        if await self.store.change_user(self.edit_user.value or "", change):
            self.edit_value.value = ""

    async def delete(self) -> None:
        """Delete the chosen user once the deletion is confirmed."""
        if not self.delete_confirm.value:
            self.store.message, self.store.error = "", "Tick the box to confirm the deletion."
            return
        if await self.store.delete_user(self.delete_user.value or ""):
            self.delete_confirm.value = False

    async def save_notice(self) -> None:
        """Replace the site notice with the text field's content."""
        await self.store.save_notice(self.notice.value or "")

    def __panel__(self) -> pn.Column:
        return self._layout
