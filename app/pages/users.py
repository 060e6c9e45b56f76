"""``/monitoring/users/``: job totals per user, for managers, support and admins.

Managers see the users of their projects' jobs only (the site's visibility rule). The
cluster and start-time filters are URL parameters (the last 30 days by default).
"""

from __future__ import annotations

import panel as pn

from app.context import PageContext
from app.stores.users import GroupListStore
from app.views.messages import StoreStatus
from app.views.statistics import StatisticsFilters, reload_on_change
from app.views.users import GroupTable
from cc_backend.stats.stats_results import GroupBy

__all__ = ["group_list_page", "users_page"]


def group_list_page(context: PageContext, group_by: GroupBy) -> pn.Column:
    """The users or projects list (they differ in the grouping only)."""
    store = GroupListStore.from_query(context.client, group_by, context.query)
    title = "Users" if group_by is GroupBy.USER else "Projects"
    page = pn.Column(
        pn.pane.Markdown(f"## {title}"),
        StatisticsFilters(store),
        StoreStatus(store),
        GroupTable(store),
        sizing_mode="stretch_width",
        name=f"{store.kind}-list",
    )
    reload_on_change(store, ("cluster", "start_time"))
    if pn.state.curdoc is not None:
        pn.state.onload(store.load)
    return page


def users_page(context: PageContext) -> pn.Column:
    """Totals per user."""
    return group_list_page(context, GroupBy.USER)
