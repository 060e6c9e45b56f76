"""The systems views as objects: the node plot's figure, the overview's grid, the node
list's rows, the controls and the pages (who may open them, the URL they write)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from bokeh.models import ColumnDataSource, GlyphRenderer, Plot
from bokeh.models.widgets import Div

from app.context import PageContext
from app.pages import PAGES
from app.pages.systems import SystemsPage, location_search
from app.routing import find_page
from app.site import build_content
from app.stores.systems import SystemsQuery, SystemsStore, TimeWindow
from app.views.node_plot_figure import JobSpan, node_figure, sample_times, span_columns
from app.views.systems_controls import SystemsControls, SystemsPager, view_links
from app.views.systems_grid import NodeGrid, node_title
from app.views.systems_list import NodeList, job_links, node_info
from cc_backend.client import LocalClient
from cc_backend.domain.job import Job
from cc_backend.domain.jobdata import JobMetric
from cc_backend.repository.nodes import HealthState, SchedulerState
from cc_backend.server import Backends
from cc_backend.services.node_overview import NodeMetrics, NodeReport
from tests.app.test_systems_store import seed_nodes


@pytest.fixture
def seeded(backends: Backends) -> int:
    return seed_nodes(backends)


async def until(condition: Callable[[], bool], attempts: int = 500) -> None:
    """Let the event loop run the widgets' callbacks until ``condition`` holds."""
    for _ in range(attempts):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition never held")


def _store(backends: Backends, **params: Any) -> SystemsStore:
    return SystemsStore(LocalClient(backends, backends.users.get("root")), cluster_name="fritz",
                        **params)  # fmt: skip


def _renderer(plot: Plot, name: str) -> GlyphRenderer:
    return next(r for r in plot.renderers if getattr(r, "name", None) == name)


def _metric(*series: list[float], timestep: int = 60) -> JobMetric:
    return JobMetric.model_validate({
        "unit": {"base": "B", "prefix": "G"},
        "timestep": timestep,
        "series": [
            {"hostname": "f0101", "id": str(i) if len(series) > 1 else None,
             "statistics": {"avg": 1, "min": 0, "max": 2}, "data": values}
            for i, values in enumerate(series)
        ],
    })  # fmt: skip


# -- the figure ---------------------------------------------------------------------------


def test_samples_start_at_the_first_whole_step_of_the_window() -> None:
    assert list(sample_times(60, 3, 1_000_030)) == [1_000_080_000.0, 1_000_140_000.0,
                                                    1_000_200_000.0]  # fmt: skip
    assert list(sample_times(60, 2, 1_000_020)) == [1_000_020_000.0, 1_000_080_000.0]


def test_job_spans_are_clipped_to_the_window_and_alternate_in_colour() -> None:
    spans = [JobSpan(1, "11 (alice)", 0, 500), JobSpan(2, "12 (bob)", 400, 2000),
             JobSpan(3, "13 (carl)", 3000, 4000)]  # fmt: skip
    columns = span_columns(spans, 100, 1000)
    assert columns["x0"] == [100_000.0, 400_000.0]
    assert columns["x1"] == [500_000.0, 1_000_000.0]
    assert columns["label"] == ["11 (alice)", "12 (bob)"]
    assert columns["colour"][0] != columns["colour"][1]


def test_a_node_figure_draws_the_series_over_the_window_with_bands(
    backends: Backends,
) -> None:
    config = backends.clusters.get("fritz").metric_config("main", "mem_used")
    plot = node_figure("mem_used", _metric([1.0, np.nan, 3.0]), start=600, stop=900,
                       config=config, spans=[JobSpan(7, "7 (alice)", 0, 700)])  # fmt: skip

    assert (plot.x_range.start, plot.x_range.end) == (600_000.0, 900_000.0)
    line = next(r for r in plot.renderers if r.glyph.__class__.__name__ == "Line")
    source = line.data_source
    assert isinstance(source, ColumnDataSource)
    assert list(source.data["x"]) == [600_000.0, 660_000.0, 720_000.0]
    assert np.isnan(source.data["y"][1])
    bands = _renderer(plot, "bands").data_source.data
    assert sorted(bands["band"]) == ["alert", "caution", "normal"]
    assert _renderer(plot, "jobs").data_source.data["label"] == ["7 (alice)"]


def test_several_series_of_a_node_are_drawn_as_several_lines() -> None:
    plot = node_figure("cpu_user", _metric([1.0, 2.0], [3.0, 4.0]), start=0, stop=120)
    lines = next(r for r in plot.renderers if r.glyph.__class__.__name__ == "MultiLine")
    assert lines.data_source.data["label"] == ["0", "1"]


# -- the overview's grid and the node list's rows -----------------------------------------


async def test_the_grid_shows_one_linked_plot_per_node_of_the_page(
    backends: Backends, seeded: int
) -> None:
    store = _store(backends, query=SystemsQuery(host_filter="f010", metrics=("mem_used",)))
    grid = NodeGrid(store)

    await store.load()

    assert len(grid.cells) == 9
    first, fourth = grid.cells[0], grid.cells[3]
    title = first.children[0]
    assert isinstance(title, Div)
    assert '<a href="/monitoring/node/fritz/f0101"><b>f0101</b></a>' in title.text
    assert isinstance(first.children[1], Plot)
    assert isinstance(fourth.children[1], Div)
    assert "No data" in fourth.children[1].text
    assert "mem_used</b> [GB]" in grid.heading.object
    assert len(grid.grid.object.children) == 3  # rows of four


async def test_an_empty_page_says_so(backends: Backends, seeded: int) -> None:
    store = _store(backends, query=SystemsQuery(host_filter="nothing-like-this"))
    grid = NodeGrid(store)
    await store.load()
    assert grid.empty.visible
    assert grid.grid.object is None


def test_a_nodes_info_names_its_states_allocations_and_running_jobs(
    make_job: Callable[..., Job],
) -> None:
    node = NodeMetrics("f0101", "allocated", "main")
    report = NodeReport("f0101", "fritz", "main", SchedulerState.ALLOCATED, HealthState.PARTIAL,
                        cpus_allocated=72, memory_allocated=8192, gpus_allocated=0,
                        jobs_running=1)  # fmt: skip
    job = make_job(id=42, jobId=4711, user="alice")

    text = node_info("fritz", node, report, [job])

    assert "State: <b>allocated</b>" in text
    assert "Health: <b>partial</b>" in text
    assert "72 cpus · 8,192 MB memory · 0 gpus" in text
    assert '<a href="/monitoring/job/42">4711</a> (alice)' in text
    assert "/monitoring/jobs/?cluster=fritz&amp;state=running&amp;node=f0101" in text
    assert "not in database" in node_info("fritz", NodeMetrics("f0109", "", "main"), None, [])
    assert job_links("fritz", "f0109", []) == "No running jobs"


def test_titles_escape_what_they_show() -> None:
    text = node_title("fritz", NodeMetrics("<b>x", "", "main"))
    assert "<b>x" not in text
    assert "/monitoring/node/fritz/%3Cb%3Ex" in text


async def test_the_node_list_draws_a_row_per_node_with_info_and_plots(
    backends: Backends, seeded: int, make_job: Callable[..., Job]
) -> None:
    running = backends.jobs.add(make_job(resources=[{"hostname": "f0101"}]))
    query = SystemsQuery(host_filter="f010", metrics=("mem_used", "cpu_load"))
    store = _store(backends, list_view=True, query=query)
    listed = NodeList(store)

    await store.load()

    assert len(listed.row_models) == 9
    info, *plots = listed.row_models[0].children
    assert f'href="/monitoring/job/{running}"' in info.text
    assert [p.name for p in plots] == ["node-metric-mem_used", "node-metric-cpu_load"]
    assert "not in database" in listed.row_models[5].children[0].text


# -- the controls -------------------------------------------------------------------------


async def test_the_controls_follow_the_store_and_change_it(backends: Backends, seeded: int) -> None:
    store = _store(backends, query=SystemsQuery(state="down"))
    controls = SystemsControls(store)
    pager = SystemsPager(store)
    await store.load()
    assert controls.state.value == "down"
    assert controls.subcluster.options == ["All subclusters", "main", "spr"]
    assert pager.where.object == "Nodes 1 to 1 of 1"

    controls.state.value = "notindb"
    await until(lambda: store.query.state == "notindb" and not store.loading)
    assert pager.where.object == "Nodes 1 to 48 of 221"
    assert not pager.next.disabled

    controls.hosts.value = "f02"
    await until(lambda: store.query.host_filter == "f02" and not store.loading)
    assert store.nodes[0].host == "f0201"

    controls.time.choice.value = "1h"
    await until(lambda: store.query.window == TimeWindow("1h") and not store.loading)
    assert store.window[1] - store.window[0] == 3600

    controls.metrics.value = "mem_used"
    await until(lambda: store.query.metrics == ("mem_used",) and not store.loading)


async def test_a_custom_window_applies_on_confirmation(backends: Backends, seeded: int) -> None:
    store = _store(backends)
    controls = SystemsControls(store)
    await store.load()

    controls.time.choice.value = "custom"
    assert controls.time.custom.visible
    assert store.query.window.range == "4h"
    controls.time.confirm.clicks += 1
    await until(lambda: store.query.window.is_custom and not store.loading)
    start, stop = store.query.window.bounds()
    assert 4 * 3600 - 60 <= stop - start <= 4 * 3600


def test_the_views_link_to_each_other() -> None:
    overview, listed = _bare("fritz", list_view=False), _bare("fritz", list_view=True)
    assert '<a href="/monitoring/systems/list/fritz">Node list</a>' in view_links(overview)
    assert '<a href="/monitoring/systems/fritz">Overview</a>' in view_links(listed)


def _bare(cluster: str, list_view: bool) -> SystemsStore:
    return SystemsStore(None, cluster_name=cluster, list_view=list_view)  # type: ignore[arg-type]


# -- the pages ----------------------------------------------------------------------------


def _context(backends: Backends, username: str, path: str, **query: str) -> PageContext:
    found = find_page(PAGES, path)
    assert found is not None, path
    user = backends.users.get(username)
    args = {key: [value] for key, value in query.items()}
    return PageContext(user, LocalClient(backends, user), path, found[1], args)


def _open(backends: Backends, username: str, path: str, **query: str) -> Any:
    found = find_page(PAGES, path)
    assert found is not None
    return build_content(found[0], _context(backends, username, path, **query))


@pytest.mark.parametrize(
    "path",
    ["/monitoring/systems/fritz", "/monitoring/systems/list/fritz",
     "/monitoring/systems/list/fritz/spr", "/monitoring/node/fritz/f0101"],
)  # fmt: skip
def test_node_pages_are_for_support_and_admins(backends: Backends, path: str) -> None:
    assert _open(backends, "alice", path).name == "forbidden"
    assert _open(backends, "bob", path).name == "forbidden"
    assert _open(backends, "root", path).name != "forbidden"


def test_the_list_route_with_a_subcluster_presets_the_filter(backends: Backends) -> None:
    page = _open(backends, "root", "/monitoring/systems/list/fritz/spr", state="idle")
    assert isinstance(page, SystemsPage)
    assert page.store.list_view
    assert (page.store.query.subcluster, page.store.query.state) == ("spr", "idle")
    assert location_search(page.store) == "?state=idle&subCluster=spr"


async def test_an_unknown_cluster_gets_the_404_content(backends: Backends) -> None:
    page = _open(backends, "root", "/monitoring/systems/atlantis")
    await page.store.load()
    assert [o.name for o in page.__panel__().objects] == ["not-found"]


def test_the_header_links_to_the_nodes_of_each_cluster(backends: Backends) -> None:
    from app.navigation import navigation_for

    links = navigation_for(backends.users.get("root"), PAGES, ["alex", "fritz"])
    nodes = next(link for link in links if link.label == "Nodes")
    assert [c.href for c in nodes.children] == [
        "/monitoring/systems/alex",
        "/monitoring/systems/fritz",
    ]
