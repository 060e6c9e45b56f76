"""``/monitoring/analysis/{cluster}``: statistics over every matching job of one cluster,
for support staff and admins.

The filters are the job list's (its form, its URL query); the page adds ``category`` (what
the top lists rank by), ``metric`` (a histogram metric, repeated) and ``scatter`` (a
scatter pair ``x/y``, repeated). Without the last two, the user's saved choice (else
cc-backend's default) is drawn. Every change rewrites the address bar.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

import panel as pn

from app.context import PageContext
from app.filters import merge_problems, parse_job_query
from app.stores.analysis import CATEGORIES, DEFAULT_CATEGORY, AnalysisStore
from app.url_sync import mirror_in_url
from app.views.analysis_controls import MetricSelection, pair_label, read_pair
from app.views.analysis_plots import JobDistributions, MetricPlots, RooflineHeatmapView
from app.views.analysis_top import AnalysisSummary, FilterDescription, TopLists
from app.views.job_list_filters import FilterForm
from app.views.messages import StoreStatus

__all__ = ["analysis_page", "analysis_store", "location_search"]


def _values(query: Mapping[str, Sequence[str]], key: str) -> list[str]:
    return [v.strip() for v in query.get(key, ()) if v.strip()]


def analysis_store(context: PageContext) -> tuple[AnalysisStore, tuple[str, ...]]:
    """The store for the page's cluster and URL query, and what in the query could not
    be used."""
    parsed = parse_job_query(context.query)
    problems: list[str] = []
    params: dict[str, Any] = {}
    category = (_values(context.query, "category") or [DEFAULT_CATEGORY])[0]
    if category not in CATEGORIES:
        problems.append(f"category: {category!r} is not one of {', '.join(CATEGORIES)}")
        category = DEFAULT_CATEGORY
    metrics = _values(context.query, "metric")
    if metrics:
        params["histogram_metrics"] = metrics
    pairs = []
    for text in _values(context.query, "scatter"):
        pair = read_pair(text)
        if pair is None:
            problems.append(f"scatter: {text!r} is not two metrics as x/y")
        else:
            pairs.append(pair)
    if pairs:
        params["scatter_pairs"] = pairs
    store = AnalysisStore(
        context.client,
        cluster=context.path_params["cluster"],
        query=parsed.query,
        category=category,
        **params,
    )
    return store, merge_problems(parsed.problems, problems)


def location_search(store: AnalysisStore) -> str:
    """The URL query of the store's current view (``?...``, empty for none)."""
    pairs = [(k, v) for k, v in store.query.to_pairs() if k != "cluster"]
    if store.category != DEFAULT_CATEGORY:
        pairs.append(("category", store.category))
    pairs += [("metric", m) for m in store.histogram_metrics]
    pairs += [("scatter", pair_label(p)) for p in store.scatter_pairs]
    return "?" + urlencode(pairs) if pairs else ""


def analysis_page(context: PageContext) -> pn.Column:
    """The page; the statistics load once the browser is connected."""
    store, problems = analysis_store(context)
    if pn.state.curdoc is not None:
        mirror_in_url(
            store,
            ["query", "category", "histogram_metrics", "scatter_pairs"],
            lambda: location_search(store),
        )
        pn.state.onload(store.load)
    cluster = store.cluster
    return pn.Column(
        pn.pane.Markdown(f"## Analysis of {cluster}", margin=(0, 10)),
        FilterForm(store, may_filter_users=True),
        FilterDescription(store, problems),
        MetricSelection(store),
        StoreStatus(store),
        pn.Row(
            pn.Column(AnalysisSummary(store), width=380),
            pn.Column(TopLists(store), sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        ),
        JobDistributions(store),
        RooflineHeatmapView(store),
        MetricPlots(store),
        sizing_mode="stretch_width",
        name="analysis",
    )
