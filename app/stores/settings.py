"""The settings page's data: the user's interface settings, their API token, and for
admins the users and the site notice.

Interface settings are stored per user under cc-backend's keys (its web frontend's names
since 1.5, e.g. ``plotConfiguration_lineWidth``); metric selections may be per cluster and
subcluster (``metricConfig_jobListMetrics:fritz:spr``). :func:`setting` is the one place
that resolves a key: the most specific stored value (:func:`stored_setting`), else
cc-backend's default (:data:`UI_DEFAULTS`). Other pages read their settings through them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import param

from app.stores.base import Store
from cc_backend.client import Client, NotSupported
from cc_backend.domain.cluster import Cluster
from cc_backend.domain.errors import CCError
from cc_backend.domain.user import Role, User
from cc_backend.services.user_admin import ASSIGNABLE_ROLES, NewUser, UserChange

__all__ = [
    "COLOR_BACKGROUND",
    "COLOR_SCHEME",
    "COLOR_SCHEMES",
    "HISTOGRAM_METRICS",
    "JOB_LIST_METRICS",
    "JOB_VIEW_PLOT_METRICS",
    "LINE_WIDTH",
    "PLOTS_PER_ROW",
    "UI_DEFAULTS",
    "USE_PAGING",
    "AdminStore",
    "SettingsStore",
    "scoped_key",
    "setting",
    "stored_setting",
]

T = TypeVar("T")

#: Plots next to each other in the job view and node views.
PLOTS_PER_ROW = "plotConfiguration_plotsPerRow"
#: Line width of metric plots, in pixels.
LINE_WIDTH = "plotConfiguration_lineWidth"
#: The colours of a plot's series, in order.
COLOR_SCHEME = "plotConfiguration_colorScheme"
#: Whether plot backgrounds show the metric's thresholds.
COLOR_BACKGROUND = "plotConfiguration_colorBackground"
#: Job list in pages (true) or continuous scroll (false).
USE_PAGING = "jobList_usePaging"
#: Metrics plotted per row of the job list (per cluster: ``...:<cluster>``).
JOB_LIST_METRICS = "metricConfig_jobListMetrics"
#: Metrics plotted in the job view (per cluster: ``...:<cluster>``). Unlike cc-backend,
#: which shows four metrics, the job view shows all of the subcluster's until one is chosen.
JOB_VIEW_PLOT_METRICS = "metricConfig_jobViewPlotMetrics"
#: Footprint metrics histogrammed in the user view (per cluster: ``...:<cluster>``).
HISTOGRAM_METRICS = "userView_histogramMetrics"

#: Named colour schemes offered by the settings page.
COLOR_SCHEMES: dict[str, list[str]] = {
    "Default": ["#00bfff", "#0000ff", "#ff00ff", "#ff0000", "#ff8000", "#ffff00", "#80ff00"],
    "Colorblind": ["#0072B2", "#E69F00", "#F0E442", "#009E73", "#56B4E9", "#D55E00", "#CC79A7"],
    "Category": ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"],
    "Viridis": ["#440154", "#443982", "#30678D", "#208F8C", "#35B778", "#8DD644", "#FDE724"],
}

#: cc-backend's defaults of the settings a user has not stored.
UI_DEFAULTS: dict[str, Any] = {
    USE_PAGING: False,
    "jobList_showFootprint": False,
    "jobView_showPolarPlot": True,
    "jobView_showFootprint": False,
    "jobView_showRoofline": True,
    "jobView_showStatTable": True,
    JOB_LIST_METRICS: ["cpu_load", "flops_any", "mem_bw", "mem_used"],
    "metricConfig_jobViewTableMetrics": ["flops_any", "mem_bw", "mem_used"],
    COLOR_BACKGROUND: True,
    PLOTS_PER_ROW: 3,
    LINE_WIDTH: 3,
    COLOR_SCHEME: COLOR_SCHEMES["Default"],
    HISTOGRAM_METRICS: [],
}


def scoped_key(key: str, cluster: str = "", subcluster: str = "") -> str:
    """``key`` for one cluster (``key:cluster``) or subcluster (``key:cluster:sub``);
    ``key`` itself without a cluster."""
    if not cluster:
        return key
    return f"{key}:{cluster}:{subcluster}" if subcluster else f"{key}:{cluster}"


def stored_setting(
    config: Mapping[str, Any], key: str, cluster: str = "", subcluster: str = ""
) -> Any:
    """The value of setting ``key`` the user stored in ``config``: for the subcluster, else
    the cluster, else for all clusters; ``None`` if they stored none (or stored null)."""
    for scoped in (scoped_key(key, cluster, subcluster), scoped_key(key, cluster), key):
        value = config.get(scoped)
        if value is not None:
            return value
    return None


def setting(config: Mapping[str, Any], key: str, cluster: str = "", subcluster: str = "") -> Any:
    """The value of setting ``key`` for the user of ``config``: the one they stored
    (:func:`stored_setting`), else cc-backend's default (``None`` for a key without one)."""
    value = stored_setting(config, key, cluster, subcluster)
    return UI_DEFAULTS.get(key) if value is None else value


class SettingsStore(Store):
    """A user's interface settings (``config``: what they stored), the site's clusters
    (to choose metrics from) and the API token they generated, shown once."""

    config = param.Dict(default={}, doc="The user's stored settings, key -> JSON value.")
    clusters = param.List(default=[], item_type=Cluster, doc="The site's clusters.")
    message = param.String(default="", doc="What the last action did.")
    token = param.String(default="", doc="The API token just generated (empty: none).")
    loaded = param.Boolean(default=False, doc="The first load has finished.")

    def __init__(self, client: Client, user: User, **params: Any) -> None:
        super().__init__(client, **params)
        self.user = user

    @property
    def may_generate_token(self) -> bool:
        """API tokens are for users with the ``api`` role."""
        return self.user.has_role(Role.API)

    def value(self, key: str, cluster: str = "") -> Any:
        """The effective value of ``key`` (see :func:`setting`)."""
        return setting(self.config, key, cluster)

    async def load(self) -> None:
        """Fetch the stored settings (none over a client that cannot read them) and the
        clusters."""
        try:
            try:
                self.config = await self.client.user_config()
            except NotSupported:
                self.config = {}
            except CCError as exc:
                self.error = exc.message
            clusters = await self.fetch("clusters", self.client.clusters)
            if clusters is not None:
                self.clusters = clusters
        finally:
            self.loaded = True

    async def save(self, key: str, value: Any) -> bool:
        """Store setting ``key``; ``message`` or ``error`` says how it went."""
        done, _ = await _act(self, lambda: self.client.set_user_config(key, value))
        if done:
            self.config = {**self.config, key: value}
            self.message = f"Saved {key}."
            return True
        return False

    async def generate_token(self) -> None:
        """A new API token for the user (only with the ``api`` role), kept in ``token``
        for this page only: it is shown once and stored nowhere."""
        self.token = ""
        if not self.may_generate_token:
            self.error = "Only users with the api role may generate API tokens."
            return
        _, token = await _act(self, self.client.api_token)
        if token:
            self.token = token
            self.message = "A new API token: copy it now, it is shown only once."


class AdminStore(Store):
    """Users, roles and projects, and the site notice: for admins (the site refuses
    anybody else). Every action reloads the users and sets ``message`` or ``error``."""

    users = param.List(default=[], item_type=User, doc="Every user, by name.")
    notice = param.String(default="", doc="The current site notice.")
    message = param.String(default="", doc="What the last action did.")
    roles = param.List(default=[r.value for r in ASSIGNABLE_ROLES], doc="Roles an admin gives.")

    def __init__(self, client: Client, user: User, **params: Any) -> None:
        super().__init__(client, **params)
        self.user = user

    async def load(self) -> None:
        """Fetch the users and the notice."""
        if not self.user.has_role(Role.ADMIN):
            self.error = "Only admins manage users."
            return
        users = await self.fetch("users", self.client.users)
        if users is not None:
            self.users = sorted(users, key=lambda u: u.username)
        try:
            self.notice = await self.client.notice()
        except NotSupported:
            self.notice = ""

    async def _after(self, message: str) -> None:
        self.forget()
        await self.load()
        self.message = message

    async def create_user(self, form: NewUser) -> bool:
        """Create the user ``form`` describes."""
        done, created = await _act(self, lambda: self.client.create_user(form))
        if not done or created is None:
            return False
        await self._after(f"User {created.username} created.")
        return True

    async def change_user(self, username: str, change: UserChange) -> bool:
        """Add or remove a role or project of ``username``."""
        done, result = await _act(self, lambda: self.client.change_user(username, change))
        if not done:
            return False
        await self._after(f"{username}: {result}.")
        return True

    async def delete_user(self, username: str) -> bool:
        """Delete ``username`` (never the admin themself: that is refused here)."""
        if username == self.user.username:
            self.message, self.error = "", "You cannot delete your own account here."
            return False
        done, _ = await _act(self, lambda: self.client.delete_user(username))
        if not done:
            return False
        await self._after(f"User {username} deleted.")
        return True

    async def save_notice(self, text: str) -> bool:
        """Replace the site notice (empty text removes it)."""
        done, result = await _act(self, lambda: self.client.set_notice(text))
        if not done:
            return False
        self.notice = text
        self.message = str(result)
        return True


async def _act(store: Store, action: Callable[[], Awaitable[T]]) -> tuple[bool, T | None]:
    """Run ``action`` for ``store`` (clearing its last message and error): ``(True,
    result)``, or ``(False, None)`` with the domain error in ``store.error``."""
    store.error = ""
    if hasattr(store, "message"):
        store.message = ""
    store.loading = True
    try:
        return True, await action()
    except CCError as exc:
        store.error = exc.message
        return False, None
    finally:
        store.loading = False
