"""``/monitoring/jobs/``: the job list, with filters, sorting, paging, footprints,
sparklines of chosen metrics, CSV export and the comparison of ticked (or all matching)
jobs (``view=compare``; see :mod:`app.stores.job_compare` for why it is a view of the
list and not a page of its own).

The URL query holds the filters in cc-backend's form (see :mod:`app.filters`), so links
from the home page, the search box and cc-backend itself open the same list, and every
change of filters, sorting or page rewrites the address bar: the view is a link. What a
user sees is decided by the services (a user: their jobs; a manager: also their
projects'; support and admins: all).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import panel as pn

from app.context import PageContext
from app.filters import merge_problems, parse_job_query, parse_list_options, query_pairs
from app.routing import MANAGER_ROLES
from app.stores.job_compare import (
    COMPARE_PARAMETER,
    COMPARE_VALUE,
    JobCompareStore,
    compare_requested,
)
from app.stores.jobs import JobListStore
from app.url_sync import mirror_in_url
from app.views.job_compare import JobComparison
from app.views.job_compare_controls import CompareButtons
from app.views.job_list import JobTable, run_soon
from app.views.job_list_controls import JobListControls, Pager
from app.views.job_list_export import ExportButton
from app.views.job_list_filters import FilterForm
from app.views.job_list_summary import JobListSummary
from app.views.messages import StoreStatus

__all__ = [
    "compare_when_shown",
    "job_list_store",
    "jobs_page",
    "location_search",
    "plot_when_listed",
]


def job_list_store(context: PageContext) -> tuple[JobListStore, tuple[str, ...]]:
    """The store for the page's URL query, and what in the query could not be used."""
    parsed = parse_job_query(context.query)
    problems: list[str] = []
    options = parse_list_options(context.query, problems)
    store = JobListStore(
        context.client,
        query=parsed.query,
        options=options,
        selected=list(parsed.query.db_ids),
        compare=compare_requested(context.query),
    )
    return store, merge_problems(parsed.problems, problems)


def location_search(store: JobListStore) -> str:
    """The URL query of the store's current view (``?...``, empty for none)."""
    pairs = query_pairs(store.query, store.options)
    if store.compare:
        pairs.append((COMPARE_PARAMETER, COMPARE_VALUE))
    return "?" + urlencode(pairs) if pairs else ""


def compare_when_shown(store: JobListStore, comparison: JobCompareStore) -> None:
    """Keep ``comparison`` on the list's filters and metrics, loading it while the
    comparison is shown (once the list knows the site's clusters and the metrics)."""

    def follow(*_events: Any) -> None:
        comparison.clusters = store.clusters
        if not (store.compare and store.loaded):
            return

        async def work() -> None:
            await comparison.update(store.filters(), list(store.metrics))

        run_soon(work)

    store.param.watch(follow, ["compare", "loaded", "query", "options", "metrics", "settings"])
    follow()


def plot_when_listed(store: JobListStore) -> None:
    """Load the sparklines whenever the page of jobs or the plotted metrics change, as a
    step of its own (the jobs reach the browser first)."""

    def plot(*_events: Any) -> None:
        run_soon(store.load_sparklines)

    store.param.watch(plot, ["jobs", "metrics"])


def jobs_page(context: PageContext) -> pn.Column:
    """The page; the jobs load once the browser is connected."""
    store, problems = job_list_store(context)
    comparison = JobCompareStore(context.client)
    staff = context.user.has_any_role(MANAGER_ROLES)
    if pn.state.curdoc is not None:
        mirror_in_url(store, ["query", "options", "compare"], lambda: location_search(store))
        plot_when_listed(store)
        compare_when_shown(store, comparison)
        pn.state.onload(store.load)
    listing = pn.Column(
        JobTable(store, link_users=staff), Pager(store), sizing_mode="stretch_width"
    )
    comparing = pn.Column(
        StoreStatus(comparison), JobComparison(comparison), sizing_mode="stretch_width"
    )

    def show(*_events: Any) -> None:
        listing.visible, comparing.visible = not store.compare, store.compare

    store.param.watch(show, "compare")
    show()
    return pn.Column(
        pn.pane.Markdown("## Jobs", margin=(0, 10)),
        FilterForm(store, may_filter_users=staff),
        JobListControls(store),
        pn.Row(
            JobListSummary(store, problems),
            ExportButton(store),
            CompareButtons(store),
            sizing_mode="stretch_width",
        ),
        StoreStatus(store),
        listing,
        comparing,
        sizing_mode="stretch_width",
        name="jobs",
    )
