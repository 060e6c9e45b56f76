"""``/monitoring/user/{name}``: one user's totals, histograms and newest jobs.

Open to the user themself, support and admins, and managers for users whose jobs they
see (:func:`~app.stores.user.user_view_access`); anybody else gets the 403 content. The
cluster and start-time filters come from the URL (``?cluster=...&startTime=last7d``,
cc-backend's job list parameters) and are written back to it when changed.
"""

from __future__ import annotations

import panel as pn
import param

from app.context import PageContext
from app.stores.user import (
    DURATION_BIN_CHOICES,
    METRIC_BIN_CHOICES,
    TIME_RANGES,
    Access,
    UserStore,
    user_view_access,
)
from app.views.histograms import FootprintHistograms, JobSizeHistograms
from app.views.messages import StoreStatus, forbidden
from app.views.statistics import StatisticsFilters, UserSummary, reload_on_change
from app.views.users import NewestJobs
from cc_backend.domain.errors import PermissionDenied

__all__ = ["user_page", "user_store", "user_view"]

#: The store params that select what is shown; changing one reloads the view.
FILTERS = ("cluster", "start_time", "duration_bins", "metric_bins", "histogram_metrics")


def user_store(context: PageContext) -> UserStore:
    """The view's store for the URL's user and filters; :class:`PermissionDenied` for a
    viewer the rule refuses outright."""
    username = context.path_params["name"]
    access = user_view_access(context.user, username)
    if access is Access.DENIED:
        raise PermissionDenied(f"you may not see the jobs of user {username!r}")
    start = context.arg("startTime")
    return UserStore(
        context.client,
        username=username,
        cluster=context.arg("cluster"),
        start_time=start if start in TIME_RANGES.values() else "",
        check_access=access is Access.IF_JOBS_VISIBLE,
    )


def _histogram_options(store: UserStore) -> pn.Row:
    metrics = pn.widgets.MultiChoice(label="Footprint histograms", options=[], width=420)
    durations = pn.widgets.Select(
        label="Duration bins",
        options=list(DURATION_BIN_CHOICES),
        value=store.duration_bins,
        width=120,
    )
    bins = pn.widgets.Select(
        label="Metric bins", options=list(METRIC_BIN_CHOICES), value=store.metric_bins, width=120
    )

    def loaded(*_events: object) -> None:
        metrics.options = store.metric_choices
        metrics.value = list(store.shown_metrics)

    store.param.watch(loaded, ["metric_choices", "shown_metrics"])

    def chosen(event: param.parameterized.Event) -> None:
        if list(event.new) != store.shown_metrics:
            store.histogram_metrics = list(event.new)

    metrics.param.watch(chosen, "value")
    durations.param.watch(lambda e: setattr(store, "duration_bins", e.new), "value")
    bins.param.watch(lambda e: setattr(store, "metric_bins", e.new), "value")
    return pn.Row(metrics, durations, bins, name="histogram-options")


def user_page(context: PageContext) -> pn.Column:
    """The page; its data loads once the browser is connected."""
    return user_view(user_store(context))


def user_view(store: UserStore) -> pn.Column:
    """The view of ``store``'s user, replaced by the 403 content if the store finds the
    viewer may not see them; changing a filter reloads the store."""
    content = pn.Column(
        pn.FlexBox(StatisticsFilters(store), _histogram_options(store)),
        StoreStatus(store),
        pn.Row(
            pn.Column(UserSummary(store), width=380),
            JobSizeHistograms(store),
            sizing_mode="stretch_width",
        ),
        FootprintHistograms(store),
        pn.pane.Markdown("### Newest jobs"),
        NewestJobs(store),
        sizing_mode="stretch_width",
        name="user-view",
    )
    page = pn.Column(
        pn.pane.Markdown(f"## User {store.username}"),
        content,
        sizing_mode="stretch_width",
        name="user",
    )

    def refused(*_events: object) -> None:
        if store.forbidden:
            page.objects = [forbidden(f"You may not see the jobs of user {store.username}.")]

    store.param.watch(refused, ["forbidden"])
    reload_on_change(store, FILTERS)
    if pn.state.curdoc is not None:
        pn.state.onload(store.load)
    return page
