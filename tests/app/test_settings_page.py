"""The settings page as objects: the user's plot and metric settings under cc-backend's
keys, API tokens for users with the ``api`` role, and the admins' user management and
notice, against a real site (in-process client)."""

from __future__ import annotations

from typing import Any

import pytest

from app.context import PageContext
from app.pages.settings import settings_page
from app.stores.settings import (
    COLOR_SCHEMES,
    UI_DEFAULTS,
    AdminStore,
    SettingsStore,
    scoped_key,
    setting,
)
from app.views.settings import (
    MetricSettings,
    Outcome,
    PlotSettings,
    TokenPanel,
    UserAdministration,
    scheme_name,
)
from cc_backend.client import LocalClient
from cc_backend.server import Backends


def _stores(backends: Backends, username: str) -> tuple[SettingsStore, AdminStore]:
    user = backends.users.get(username)
    client = LocalClient(backends, user)
    return SettingsStore(client, user), AdminStore(client, user)


# -- resolving settings --------------------------------------------------------------------


def test_a_setting_is_the_most_specific_stored_value_else_the_default() -> None:
    key = "metricConfig_jobListMetrics"
    config = {key: ["a"], f"{key}:fritz": ["b"], f"{key}:fritz:spr": ["c"]}

    assert setting(config, key, "fritz", "spr") == ["c"]
    assert setting(config, key, "fritz", "main") == ["b"]
    assert setting(config, key, "alex") == ["a"]
    assert setting({}, key, "alex") == UI_DEFAULTS[key]
    assert setting({}, "unknown_key") is None
    assert scoped_key(key) == key
    assert scoped_key(key, "", "spr") == key  # a subcluster needs its cluster
    assert scoped_key(key, "fritz", "spr") == f"{key}:fritz:spr"


def test_cc_backends_keys_and_defaults() -> None:
    assert UI_DEFAULTS["plotConfiguration_plotsPerRow"] == 3
    assert UI_DEFAULTS["plotConfiguration_lineWidth"] == 3
    assert UI_DEFAULTS["jobList_usePaging"] is False
    assert UI_DEFAULTS["plotConfiguration_colorScheme"] == COLOR_SCHEMES["Default"]
    assert scheme_name(COLOR_SCHEMES["Viridis"]) == "Viridis"
    assert scheme_name(["#000"]) == "Custom"


# -- the user's settings -------------------------------------------------------------------


async def test_plot_options_save_the_changed_settings_only(backends: Backends) -> None:
    store, _ = _stores(backends, "alice")
    form = PlotSettings(store)
    outcome = Outcome(store)
    await store.load()
    assert form.plots_per_row.value == 3
    assert form.paging.value is False

    form.plots_per_row.value = 2
    form.scheme.value = "Colorblind"
    form.paging.value = True
    await form.save()

    assert backends.user_config.get_all("alice") == {
        "plotConfiguration_plotsPerRow": 2,
        "plotConfiguration_colorScheme": COLOR_SCHEMES["Colorblind"],
        "jobList_usePaging": True,
    }
    assert store.message == "Plot options saved."
    assert outcome.__panel__().visible
    assert "#E69F00" in form.swatches.object
    await form.save()
    assert store.message == "Nothing changed."


async def test_stored_settings_fill_the_form(backends: Backends) -> None:
    backends.user_config.set("alice", "plotConfiguration_lineWidth", 5)
    backends.user_config.set("alice", "plotConfiguration_colorScheme", ["#123456"])
    store, _ = _stores(backends, "alice")
    form = PlotSettings(store)

    await store.load()

    assert form.line_width.value == 5
    assert form.scheme.value == "Custom"
    form.plots_per_row.value = 4
    await form.save()
    assert backends.user_config.get("alice", "plotConfiguration_colorScheme") == ["#123456"]


async def test_metrics_are_chosen_and_saved_per_cluster(backends: Backends) -> None:
    backends.user_config.set("alice", "metricConfig_jobListMetrics:alex", ["mem_bw"])
    store, _ = _stores(backends, "alice")
    form = MetricSettings(store)
    await store.load()

    assert form.cluster.options == ["alex", "fritz"]
    assert form.cluster.value == "alex"
    assert form.job_list.value == ["mem_bw"]
    assert "acc_utilization" in form.histograms.options
    assert "nv_temp" not in form.histograms.options  # no footprint metric

    form.cluster.value = "fritz"
    assert form.job_list.value == UI_DEFAULTS["metricConfig_jobListMetrics"]
    form.job_list.value = ["ipc", "clock"]
    form.histograms.value = ["flops_any"]
    await form.save()

    stored = backends.user_config.get_all("alice")
    assert stored["metricConfig_jobListMetrics:fritz"] == ["ipc", "clock"]
    assert stored["userView_histogramMetrics:fritz"] == ["flops_any"]
    assert stored["metricConfig_jobListMetrics:alex"] == ["mem_bw"]
    assert store.message == "Metrics for fritz saved."


async def test_a_refused_setting_is_an_error_and_nothing_is_stored(backends: Backends) -> None:
    store, _ = _stores(backends, "alice")
    await store.load()

    assert not await store.save("x" * 300, 1)

    assert "1 to 255 characters" in store.error
    assert backends.user_config.get_all("alice") == {}


async def test_api_users_generate_a_token_shown_once(backends: Backends) -> None:
    store, _ = _stores(backends, "alice")
    panel = TokenPanel(store)
    assert panel.__panel__().visible
    assert not panel.token.visible

    await store.generate_token()

    assert backends.authenticator.user_from_token(store.token).username == "alice"
    assert panel.token.visible
    assert panel.token.value == store.token
    assert "shown only once" in store.message
    assert store.token not in str(backends.user_config.get_all("alice"))


async def test_users_without_the_api_role_get_no_token(backends: Backends) -> None:
    store, _ = _stores(backends, "bob")
    panel = TokenPanel(store)
    assert not panel.__panel__().visible

    await store.generate_token()

    assert store.token == ""
    assert store.error == "Only users with the api role may generate API tokens."


# -- administration ------------------------------------------------------------------------


async def test_admins_create_change_and_delete_users(backends: Backends) -> None:
    _, admin = _stores(backends, "root")
    form = UserAdministration(admin)
    await admin.load()
    assert list(form.table.value["Username"]) == ["adapter", "alice", "bob", "root"]
    assert "root" not in form.delete_user.options

    values = {"username": "mia", "password": "Mia-Secret-1", "name": "Mia", "project": "p1"}
    for key, value in values.items():
        form.new[key].value = value
    form.new["role"].value = "manager"
    await form.create_user()

    assert admin.message == "User mia created."
    assert form.new["username"].value == ""
    mia = backends.users.get("mia")
    assert (mia.name, mia.projects, [r.value for r in mia.roles]) == ("Mia", ("p1",), ["manager"])
    assert "mia" in list(form.table.value["Username"])

    form.edit_user.value = "mia"
    form.edit_action.value = "Add role"
    form.edit_value.value = "support"
    await form.change_user()
    assert admin.message == "mia: Add Role Success."
    assert "support" in {r.value for r in backends.users.get("mia").roles}

    form.delete_user.value = "mia"
    await form.delete()
    assert admin.error == "Tick the box to confirm the deletion."
    form.delete_confirm.value = True
    await form.delete()
    assert admin.message == "User mia deleted."
    assert "mia" not in [u.username for u in backends.users.list()]


async def test_a_refused_user_form_shows_the_reason_and_creates_nothing(
    backends: Backends,
) -> None:
    _, admin = _stores(backends, "root")
    form = UserAdministration(admin)
    await admin.load()
    form.new["username"].value = "nopass"

    await form.create_user()

    assert "blank password" in admin.error
    assert admin.message == ""
    assert form.new["username"].value == "nopass"  # kept for a correction
    assert "nopass" not in [u.username for u in backends.users.list()]
    assert not await admin.delete_user("root")
    assert admin.error == "You cannot delete your own account here."


async def test_admins_edit_the_notice(backends: Backends) -> None:
    _, admin = _stores(backends, "root")
    form = UserAdministration(admin)
    await admin.load()
    assert form.notice.value == ""

    form.notice.value = "Maintenance on <Friday>"
    await form.save_notice()

    assert admin.message == "Update Notice Content Success"
    notice = backends.config.base_dir / "var" / "notice.txt"
    assert notice.read_text() == "Maintenance on <Friday>"


async def test_non_admins_are_refused_by_the_site_too(backends: Backends) -> None:
    _, admin = _stores(backends, "alice")
    await admin.load()
    assert admin.error == "Only admins manage users."
    assert admin.users == []
    assert not await admin.save_notice("hacked")
    assert "only admins" in admin.error
    assert not (backends.config.base_dir / "var" / "notice.txt").exists()


def _tab_names(page: Any) -> list[str]:
    return list(page[1]._names)


def test_the_administration_tab_is_for_admins_only(backends: Backends) -> None:
    def page_of(username: str) -> Any:
        user = backends.users.get(username)
        return settings_page(PageContext(user, LocalClient(backends, user), "/config"))

    assert _tab_names(page_of("root")) == ["My settings", "Administration"]
    assert _tab_names(page_of("alice")) == ["My settings"]


@pytest.mark.parametrize("username", ["alice", "bob"])
def test_everybody_has_settings(backends: Backends, username: str) -> None:
    user = backends.users.get(username)
    page = settings_page(PageContext(user, LocalClient(backends, user), "/config"))
    assert page.name == "settings"
