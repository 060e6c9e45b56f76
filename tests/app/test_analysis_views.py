"""The analysis page's views as objects: the numbers and links they show and the contents
of their figures, drawn from a store loaded from a real site."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import holoviews as hv
import numpy as np
import pytest
from bokeh.models import GlyphRenderer, Line, Quad, Wedge

from app.filters import JobQuery
from app.stores.analysis import CATEGORIES, AnalysisStore, RooflineHeatmap, scatter_of
from app.views.analysis_controls import MetricSelection, pair_label, read_pair
from app.views.analysis_plots import (
    JobDistributions,
    MetricPlots,
    RooflineHeatmapView,
    heatmap_figure,
    scatter_plot,
    weighted_histogram_plot,
)
from app.views.analysis_top import (
    AnalysisSummary,
    FilterDescription,
    TopLists,
    pie_figure,
    project_href,
    summary_rows,
    top_frame,
)
from app.views.job_list_filters import FilterForm
from cc_backend.client import LocalClient
from cc_backend.domain.job import Job
from cc_backend.domain.user import User
from cc_backend.server import Backends
from cc_backend.stats.statistics_results import JobsStatistics, RooflineGrid
from cc_backend.stats.stats_results import GroupBy

NOW = int(time.time())


@pytest.fixture
async def store(backends: Backends, make_job: Callable[..., Job]) -> AnalysisStore:
    """fritz's analysis for sue (support) over three finished jobs of alice and carol."""
    backends.users.add(User.build("sue", ["support"]))
    backends.users.add(User.build("carol", ["user"], name="Carol <C>"))

    def add(**fields: Any) -> None:
        footprint = {"flops_any_avg": 100.0, "mem_bw_avg": 10.0, "cpu_load_avg": 20.0}
        backends.jobs.add(
            make_job(jobState="completed", footprint=footprint, startTime=NOW - 9000, **fields)
        )

    add(duration=3600)
    add(duration=7200)
    add(user="carol", project="project-c", duration=1800)
    loaded = AnalysisStore(LocalClient(backends, backends.users.get("sue")), cluster="fritz")
    await loaded.load()
    assert loaded.error == ""
    return loaded


def _stats(name: str, jobs: int, node_hours: int) -> JobsStatistics:
    return replace(JobsStatistics.empty(), id=name, total_jobs=jobs, node_seconds=node_hours * 3600)


def _glyphs(plot: Any, kind: type) -> list[GlyphRenderer]:
    return [r for r in plot.renderers if isinstance(r, GlyphRenderer) and isinstance(r.glyph, kind)]


# -- numbers and links ----------------------------------------------------------------------------


async def test_the_summary_shows_the_totals_in_whole_hours(store: AnalysisStore) -> None:
    assert store.summary is not None
    rows = dict(summary_rows(store.summary))

    assert rows["Total jobs"] == "3"
    assert rows["Total node hours"] == "3 h"  # 1 h + 2 h + 0.5 h, cut off
    html = AnalysisSummary(store).__panel__().object
    assert "Total accelerator hours" in html
    assert '<td class="number">3</td>' in html


async def test_the_filter_line_says_which_filters_apply(store: AnalysisStore) -> None:
    view = FilterDescription(store, problems=("numNodes: 'x' is not a range",))

    assert "cluster fritz" in view._text.object
    assert view._problems.visible
    assert "numNodes" in view._problems.object


def test_top_lists_link_users_to_their_view_and_projects_to_their_jobs() -> None:
    query = JobQuery(cluster="fritz", states=())
    rows = [_stats("a&b", 3, 10), _stats("p 1", 1, 2)]
    category = CATEGORIES["nodeHours"]

    users = top_frame(rows[:1], GroupBy.USER, category, query)
    projects = top_frame(rows[1:], GroupBy.PROJECT, category, query)

    assert users.columns.tolist() == ["#", "User", "Node hours"]
    assert users.iloc[0]["User"] == '<a href="/monitoring/user/a%26b?cluster=fritz">a&amp;b</a>'
    assert users.iloc[0]["Node hours"] == 10
    link = urlsplit(project_href("p 1", query))
    assert link.path == "/monitoring/jobs/"
    assert parse_qs(link.query) == {"project": ["p 1"], "cluster": ["fritz"]}
    assert "p 1</a>" in projects.iloc[0]["Project"]


def test_the_pie_has_one_wedge_per_group_sized_by_its_share() -> None:
    rows = [_stats("a", 3, 30), _stats("b", 1, 10)]

    plot = pie_figure(rows, CATEGORIES["nodeHours"], "top-users-pie")

    [wedges] = _glyphs(plot, Wedge)
    data = wedges.data_source.data
    assert list(data["name"]) == ["a", "b"]
    assert list(data["share"]) == ["75.0%", "25.0%"]
    assert np.isclose(data["end"][-1], 2 * np.pi)


async def test_top_lists_draw_pies_and_tables_for_users_and_projects(
    store: AnalysisStore,
) -> None:
    view = TopLists(store)

    users, projects = view.users, view.projects
    assert users.pie.visible
    assert users.table.visible
    assert users.table.value["User"].str.contains("carol").any()
    assert "Carol &lt;C&gt;" in users.table.value["User"].iloc[1]
    assert projects.table.value["Project"].str.contains("project-c").any()
    assert "Top projects by node hours" in projects.title.object
    assert view.category.value == "nodeHours"


async def test_an_empty_top_list_says_so(backends: Backends) -> None:
    backends.users.add(User.build("sue", ["support"]))
    store = AnalysisStore(LocalClient(backends, backends.users.get("sue")), cluster="fritz")
    await store.load()

    view = TopLists(store)

    assert view.users.title.object.endswith("no jobs.")
    assert not view.users.table.visible


# -- figures ----------------------------------------------------------------------------------


async def test_distributions_show_durations_and_node_counts(store: AnalysisStore) -> None:
    panes = JobDistributions(store).__panel__().objects

    duration, nodes = (p.object for p in panes)
    assert sum(duration.dframe()["Number of jobs"]) == 3
    assert nodes.dframe()["Number of jobs"].tolist() == [3]


def test_the_heatmap_draws_one_tile_per_occupied_cell_under_the_roofs(
    backends: Backends,
) -> None:
    grid = RooflineGrid(2, 2, 0.01, 1.0, 1000.0, 100.0)
    tiles = np.array([[0.0, 3.0], [1.0, 0.0]])
    cluster = backends.clusters.get("fritz")

    plot = heatmap_figure(RooflineHeatmap(grid, tiles), cluster)

    [quads] = _glyphs(plot, Quad)
    data = quads.data_source.data
    assert sorted(data["count"].tolist()) == [1.0, 3.0]
    assert np.allclose(sorted(data["left"].tolist()), [0.01, 10**0.5])
    assert len(_glyphs(plot, Line)) == len(cluster.sub_clusters)
    assert "4 time steps" in plot.title.text


async def test_the_roofline_view_draws_the_stores_heatmap(store: AnalysisStore) -> None:
    view = RooflineHeatmapView(store)
    caption, pane = view.__panel__().objects

    assert "every node time step" in caption.object
    assert "No time step" in caption.object  # the jobs here have no archived time steps
    [quads] = _glyphs(pane.object, Quad)
    assert quads.data_source.data["count"].size == 0

    assert store.heatmap is not None
    tiles = np.zeros_like(store.heatmap.tiles)
    tiles[3, 4] = 7.0
    store.heatmap = RooflineHeatmap(store.heatmap.grid, tiles)

    caption, pane = view.__panel__().objects
    assert "No time step" not in caption.object
    [quads] = _glyphs(pane.object, Quad)
    assert quads.data_source.data["count"].tolist() == [7.0]
    assert "7 time steps" in pane.object.title.text


async def test_metric_histograms_plot_node_hours_per_bin(store: AnalysisStore) -> None:
    [flops, *_] = store.metric_histograms

    element = weighted_histogram_plot(flops)

    assert isinstance(element, hv.Histogram)
    assert element.dimension_values("Node hours").sum() == pytest.approx(3.5)
    assert len(MetricPlots(store)._histograms.objects) == len(store.metric_histograms)


def test_a_scatter_is_points_for_few_jobs_and_a_2d_histogram_for_many() -> None:
    x = np.linspace(1, 100, 50)
    few = scatter_plot(scatter_of(("a", "GF/s"), ("b", ""), x, x, np.ones(50)))
    many = scatter_plot(
        scatter_of(("a", "GF/s"), ("b", ""), x, x, np.ones(50), max_points=10, bins=5)
    )

    assert isinstance(few, hv.Scatter)
    assert few.dimension_values(0).size == 50
    assert few.kdims[0].name == "a [GF/s]"
    assert isinstance(many, hv.QuadMesh)
    assert np.nansum(many.dimension_values("Jobs")) == 50


async def test_the_metric_selection_shows_the_stores_choice(store: AnalysisStore) -> None:
    view = MetricSelection(store)

    assert view.histograms.value == store.histogram_metrics
    assert view.pairs.value == [pair_label(p) for p in store.scatter_pairs]
    assert "flops_any" in view.new_x.options
    assert read_pair("a/b") == ("a", "b")
    assert read_pair("a") is None
    assert read_pair("a/b/c") is None


async def test_the_job_lists_filter_form_filters_the_analysis(store: AnalysisStore) -> None:
    form = FilterForm(store)  # type: ignore[arg-type]

    assert list(form.cluster.options.values()) == ["", "fritz"]
    assert "flops_any_avg" in form.stats  # the footprint ranges of the cluster
    form.users.value = "carol"
    await form._apply()

    assert store.query.users == ("carol",)
    assert store.query.cluster == "fritz"
    assert store.summary is not None
    assert store.summary.total_jobs == 1
    assert [r.id for r in store.top_users] == ["carol"]
